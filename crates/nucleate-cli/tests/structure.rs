//! `nucleate structure` and `nucleate rdf` end to end: outputs read back against OVITO's a-CNA
//! counts and against the library's g(r), windows, LAMMPS dumps with a type map, bad input.

mod common;
use common::{nucleate, root};

use std::path::Path;

fn csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn structure_of_the_free_nanoparticle() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("np.extxyz");
    let summary = dir.path().join("np.csv");
    let input = root().join("tests/reference/lammps/nanoparticle_free.extxyz");
    let o = nucleate(&[
        "structure",
        p(&input),
        "-o",
        p(&out),
        "--summary",
        p(&summary),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = csv(&summary);
    assert_eq!(
        rows[0].join(","),
        "frame,n_atoms,n_other,n_fcc,n_hcp,n_bcc,n_ico,ac_ratio,core_radius_a,n_grains,energy_ev,largest_grain_atoms,grain_atoms"
    );
    // OVITO 3.17 adaptive CNA on this frame: 352 other, 432 fcc
    // (crates/nucleate-order/tests/data/nanoparticle_free.ovito_cna.csv).
    assert_eq!(&rows[1][..7], &["0", "784", "352", "432", "0", "0", "0"]);
    let ac: f64 = rows[1][7].parse().unwrap();
    assert!(ac >= 0.0 && ac.is_finite());
    assert!(rows[1][8].parse::<f64>().unwrap() > 0.0);
    assert_eq!(rows[1][10], "-4193.314447856674");
    // Per-atom columns, in the same order as OVITO's reference.
    let text = std::fs::read_to_string(&out).unwrap();
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.contains("structure:I:1") && header.contains("grain:I:1"),
        "{header}"
    );
    let reference = std::fs::read_to_string(
        root().join("crates/nucleate-order/tests/data/nanoparticle_free.ovito_cna.csv"),
    )
    .unwrap();
    let props: Vec<&str> = header
        .split("Properties=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .split(':')
        .collect();
    let mut col = 0;
    let mut at = None;
    for t in props.chunks(3) {
        if t[0] == "structure" {
            at = Some(col);
        }
        col += t[2].parse::<usize>().unwrap();
    }
    let at = at.unwrap();
    for (line, want) in text.lines().skip(2).zip(reference.lines().skip(1)) {
        assert_eq!(line.split_whitespace().nth(at).unwrap(), want.trim());
    }
    // The grain sizes of the summary are the per-atom labels counted: grain 0 the largest.
    let mut g_col = 0;
    for t in props.chunks(3) {
        if t[0] == "grain" {
            break;
        }
        g_col += t[2].parse::<usize>().unwrap();
    }
    let grains: Vec<i64> = text
        .lines()
        .skip(2)
        .map(|l| l.split_whitespace().nth(g_col).unwrap().parse().unwrap())
        .collect();
    let in_grain0 = grains.iter().filter(|&&g| g == 0).count();
    let in_grains = grains.iter().filter(|&&g| g >= 0).count();
    assert!(in_grain0 > 0);
    assert_eq!(rows[1][11], in_grain0.to_string());
    assert_eq!(rows[1][12], in_grains.to_string());
    for plot in ["np.ac_ratio.svg", "np.core_radius.svg", "np.grains.svg"] {
        assert!(dir.path().join(plot).exists(), "{plot}");
    }
}

#[test]
fn too_small_free_frame_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("small.extxyz");
    let mut s = String::from(
        "14\nLattice=\"30 0 0 0 30 0 0 0 30\" Properties=species:S:1:pos:R:3 pbc=\"F F F\"\n",
    );
    for k in 0..14 {
        s.push_str(&format!(
            "Pd {} {} {}\n",
            2.7 * (k % 3) as f64,
            2.7 * (k / 3 % 3) as f64,
            2.7 * (k / 9) as f64
        ));
    }
    std::fs::write(&input, s).unwrap();
    let o = nucleate(&[
        "structure",
        p(&input),
        "-o",
        p(&dir.path().join("o.extxyz")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("small.extxyz: frame 0") && err.contains("at least 15"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn rdf_windows_partials_and_peaks() {
    let dir = tempfile::tempdir().unwrap();
    // Three copies of one frame: windows of 2 give frames 0 and 2, each equal to the frame's g.
    let one = std::fs::read_to_string(
        root().join("crates/nucleate-order/tests/data/rdf_binary_liquid.extxyz"),
    )
    .unwrap();
    let input = dir.path().join("three.extxyz");
    std::fs::write(&input, one.repeat(3)).unwrap();
    let out = dir.path().join("gr.csv");
    let o = nucleate(&[
        "rdf",
        p(&input),
        "-o",
        p(&out),
        "--r-max",
        "6.5",
        "--bins",
        "100",
        "--window",
        "2",
        "--pairs",
        "Pd-Pd,Pd-O,O-O",
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = csv(&out);
    assert_eq!(rows[0].join(","), "frame,r_a,g_Pd_Pd,g_Pd_O,g_O_O");
    assert_eq!(rows.len(), 1 + 2 * 100);
    assert_eq!(rows[1][0], "0");
    assert_eq!(rows[101][0], "2");
    // Against freud's g(r) of the same frame (single precision: 2e-5 relative).
    let freud = csv(&root().join("crates/nucleate-order/tests/data/rdf_binary_liquid.freud.csv"));
    for k in 0..100 {
        for (c, fc) in [(2, 3), (3, 4), (4, 5)] {
            let want: f64 = freud[k + 2][fc - 1].parse().unwrap();
            for row in [&rows[1 + k], &rows[101 + k]] {
                let got: f64 = row[c].parse().unwrap();
                assert!(
                    (got - want).abs() <= 2e-5 * want.max(1.0),
                    "bin {k} col {c}"
                );
            }
        }
    }
    let peaks = csv(&dir.path().join("gr.peaks.csv"));
    assert_eq!(peaks[0].join(","), "frame,pair,r_a,height");
    assert!(peaks.iter().skip(1).any(|r| r[1] == "Pd-O"));
    let meta = std::fs::read_to_string(dir.path().join("gr.meta.json")).unwrap();
    assert!(meta.contains("box density"));
}

#[test]
fn rdf_of_a_lammps_dump_with_a_type_map() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("drop.csv");
    let input = root().join("examples/pt-droplet-950K.dump.gz");
    let o = nucleate(&[
        "rdf",
        p(&input),
        "--types",
        "Pt",
        "--frames",
        "0:2",
        "--window",
        "2",
        "--r-max",
        "8",
        "--bins",
        "80",
        "-o",
        p(&out),
        "-q",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = csv(&out);
    assert_eq!(rows[0].join(","), "frame,r_a,g_Pt_Pt");
    assert_eq!(rows.len(), 81);
    // The free droplet is normalised by its own density; the first peak is the Pt-Pt bond.
    let meta = std::fs::read_to_string(dir.path().join("drop.meta.json")).unwrap();
    assert!(meta.contains("particle density"), "{meta}");
    let peaks = csv(&dir.path().join("drop.peaks.csv"));
    let first: f64 = peaks[1][2].parse().unwrap();
    assert!((2.6..2.9).contains(&first), "{first}");
    // Unknown type in --pairs: one line, exit 1.
    let o = nucleate(&[
        "rdf",
        p(&input),
        "--types",
        "Pt",
        "--pairs",
        "Pt-O",
        "-o",
        p(&out),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown species `O`") && err.contains("frame 0"),
        "{err}"
    );
}

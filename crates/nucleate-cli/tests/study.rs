//! `nucleate study` end to end: a short MD study and a study of a shipped trajectory, the
//! report checked as a person would open it (every figure it references exists, every table has
//! rows, nothing from the network), and `--resume` skipping finished stages.

mod common;
use common::{nucleate, root};

use std::path::Path;

/// Every `src="..."` of the report exists beside it, every table has body rows, and the page
/// loads nothing from elsewhere.
fn check_report(dir: &Path) {
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script"));
    let mut n_img = 0;
    for part in html.split("src=\"").skip(1) {
        let src = &part[..part.find('"').unwrap()];
        assert!(!src.starts_with('/'), "absolute link {src}");
        let svg = std::fs::read_to_string(dir.join(src))
            .unwrap_or_else(|_| panic!("missing figure {src}"));
        assert!(svg.contains("<svg"), "{src} is not an SVG");
        n_img += 1;
    }
    assert!(n_img >= 6, "only {n_img} figures");
    for table in html.split("<tbody>").skip(1) {
        let body = &table[..table.find("</tbody>").unwrap()];
        assert!(body.contains("<tr><td>"), "a table without rows");
    }
}

#[test]
fn md_study_with_resume() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("tiny.toml");
    std::fs::write(
        &study,
        r#"title = "A tiny droplet"
[simulation]
seed = 5
potential = "builtin:pt-u3"
[simulation.structure]
kind = "fcc-sphere"
radius_a = 9.0
lattice_a = 3.92
vacuum_a = 10.0
[simulation.output]
dump_every_ps = 0.2
thermo_every_ps = 0.1
checkpoint_every_ps = 1.0
[[simulation.stage]]
kind = "melt"
temperature_k = 1500
duration_ps = 0.4
[[simulation.stage]]
kind = "hold"
temperature_k = 900
duration_ps = 1.6
[analysis]
min_atoms = 13
[theory]
dg_ev_per_a3 = 0.0048
gamma_ev_per_a2 = 0.0125
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = nucleate(&[
        "study",
        study.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "traj.dump.gz",
        "thermo.csv",
        "nuclei.csv",
        "tracks.csv",
        "events.csv",
        "summary.json",
        "barriers.json",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    check_report(&out);
    // Analysis starts after the melt: the first analysed frame is at 0.4 ps (frame 2).
    let nuclei = std::fs::read_to_string(out.join("atoms.extxyz")).unwrap();
    assert!(
        nuclei.lines().nth(1).unwrap().contains("frame=2"),
        "{}",
        nuclei.lines().nth(1).unwrap()
    );
    let barriers: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("barriers.json")).unwrap()).unwrap();
    let cnt = &barriers["barriers"][0];
    assert!((cnt["r_star_a"].as_f64().unwrap() - 2.0 * 0.0125 / 0.0048).abs() < 1e-9);

    // --resume: every stage is finished, so nothing is recomputed (the trajectory is untouched).
    let before = std::fs::metadata(out.join("traj.dump.gz"))
        .unwrap()
        .modified()
        .unwrap();
    let nuclei_before = std::fs::read(out.join("nuclei.csv")).unwrap();
    let o = nucleate(&[
        "study",
        study.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--resume",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("md: finished earlier") && err.contains("analysis: finished earlier"),
        "{err}"
    );
    assert_eq!(
        std::fs::metadata(out.join("traj.dump.gz"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );
    assert_eq!(
        std::fs::read(out.join("nuclei.csv")).unwrap(),
        nuclei_before
    );
    check_report(&out);
}

#[test]
fn trajectory_study_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("traj.toml");
    let traj = root().join("examples/pt-droplet-950K.dump.gz");
    std::fs::write(
        &study,
        format!("[trajectory]\npath = \"{}\"\ntypes = [\"Pt\"]\ndt_ps = 30\n[analysis]\nframes = \"0:11:2\"\n", traj.display()),
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = nucleate(&[
        "study",
        study.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    check_report(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["frames"].as_u64(), Some(6));

    // An unknown key names the file and line; both sources at once is refused.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[trajectory]\npath = \"x.dump\"\ncolour = 3\n").unwrap();
    let o = nucleate(&["study", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("line 3"), "{err}");
    std::fs::write(
        &bad,
        "[trajectory]\npath = \"x.dump\"\n[simulation]\npotential = \"builtin:pt-u3\"\n",
    )
    .unwrap();
    let o = nucleate(&["study", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

/// A particle prepared once and held at two temperatures ([[branch]]), analysed with a-CNA,
/// crystallinity, grains and g(r) ([structure]) instead of nuclei.
#[test]
fn branches_and_structure_block() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("pd.toml");
    let text = r#"title = "Two holds of a tiny Pd particle"
[simulation]
seed = 7
potential = "builtin:sutton-chen-pd"
[simulation.structure]
kind = "fcc-sphere"
radius_a = 9.0
lattice_a = 3.89
vacuum_a = 10.0
[simulation.output]
dump_every_ps = 0.2
thermo_every_ps = 0.1
checkpoint_every_ps = 1.0
[[simulation.stage]]
kind = "melt"
temperature_k = 1800
duration_ps = 0.4
[[simulation.stage]]
kind = "ramp"
from_k = 1800
to_k = 300
rate_k_per_ps = 3750
[structure]
rdf_window = 2
[[branch]]
name = "cold"
[[branch.stage]]
kind = "hold"
temperature_k = 300
duration_ps = 0.6
[[branch]]
name = "hot"
[[branch.stage]]
kind = "hold"
temperature_k = 800
duration_ps = 0.6
"#;
    std::fs::write(&study, text).unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let mut a = vec![
            "study",
            study.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        nucleate(&a)
    };
    let o = run(&["--quiet"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("prepared.extxyz").exists());
    // No [analysis] table: no nuclei.
    assert!(!out.join("nuclei.csv").exists());
    for b in ["cold", "hot"] {
        for f in ["traj.dump.gz", "thermo.csv", "structure.csv", "gr.csv"] {
            assert!(out.join(b).join(f).exists(), "{b}/{f}");
        }
        // Frames at 0, 0.2, 0.4, 0.6 ps.
        let summary = std::fs::read_to_string(out.join(b).join("structure.csv")).unwrap();
        assert_eq!(summary.lines().count(), 1 + 4, "{summary}");
    }
    // Each branch starts where the preparation ended: same atoms at the same places (to the
    // dump's printed precision).
    let opts = nucleate_core::io::ReadOptions::default();
    let prepared = nucleate_core::io::read_frame(out.join("prepared.extxyz"), &opts).unwrap();
    for b in ["cold", "hot"] {
        let first = nucleate_core::io::read_frame(out.join(b).join("traj.dump.gz"), &opts).unwrap();
        assert_eq!(first.len(), prepared.len());
        let worst = first
            .positions
            .iter()
            .zip(&prepared.positions)
            .flat_map(|(p, q)| (0..3).map(move |d| (p[d] - q[d]).abs()))
            .fold(0.0f64, f64::max);
        assert!(worst < 1e-5, "{b}: moved {worst} A");
    }
    // The hot branch is held near 800 K, the cold one near 300 K (the last thermo row; the
    // kinetic temperature of ~250 atoms fluctuates by ~5%).
    let last_t = |b: &str| -> f64 {
        let t = std::fs::read_to_string(out.join(b).join("thermo.csv")).unwrap();
        let last = t.lines().last().unwrap().to_string();
        last.split(',').nth(2).unwrap().parse().unwrap()
    };
    let (tc, th) = (last_t("cold"), last_t("hot"));
    assert!((200.0..420.0).contains(&tc), "cold {tc} K");
    assert!((600.0..1000.0).contains(&th), "hot {th} K");
    check_report(&out);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("Structure over time") && html.contains("structure_crystalline.svg"));
    assert!(!html.contains("Largest nucleus"));

    let o = run(&["--resume"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("md:cold: finished earlier")
            && err.contains("structure:hot: finished earlier"),
        "{err}"
    );

    // A branch name that cannot be a folder, and branches without a simulation.
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, text.replace("name = \"hot\"", "name = \"../hot\"")).unwrap();
    let o = nucleate(&["study", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("../hot"), "{err}");
}

//! `nucleate nuclei` / `nucleate track` end to end on the shipped droplet trajectory.

mod common;
use common::{nucleate, root};

/// The droplet crystallises from one nucleus: the largest nucleus grows from tens of atoms to
/// most of the particle (freud's largest solid cluster reaches ~1150 of 1601 atoms), every
/// output file has its contract header, and the summary counts add up.
#[test]
fn track_droplet() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("track");
    let input = root().join("examples/pt-droplet-950K.dump.gz");
    let o = nucleate(&[
        "track",
        input.to_str().unwrap(),
        "--types",
        "Pt",
        "--dt-ps",
        "30",
        "-o",
        out.to_str().unwrap(),
        "--dg",
        "0.01",
        "--gamma",
        "0.05",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let nuclei = read("nuclei.csv");
    assert!(nuclei.starts_with(
        "frame,nucleus,n_atoms,n_eff,a_eff,sphericity,core_x,core_y,core_z,n_core,alpha_max,alpha0,lambda,beta,site"
    ));
    assert!(nuclei.lines().next().unwrap().ends_with(",dg"));
    assert!(read("tracks.csv").starts_with("track,frame,time_ps,nucleus,n_atoms,n_eff,a_eff\n"));
    assert!(read("events.csv").starts_with("frame,time_ps,kind,tracks\n"));
    let summary: serde_json::Value = serde_json::from_str(&read("summary.json")).unwrap();
    for key in [
        "tracks",
        "growing",
        "fluctuating",
        "dissolving",
        "merges",
        "divisions",
    ] {
        assert!(summary[key].is_u64(), "{key}");
    }
    let classes = [
        "growing",
        "fluctuating",
        "dissolving",
        "stable",
        "transient",
    ];
    let total: u64 = classes.iter().map(|k| summary[*k].as_u64().unwrap()).sum();
    assert_eq!(total, summary["tracks"].as_u64().unwrap());
    // Largest nucleus per frame: column 3 of the first row of each frame (nuclei are sorted).
    let mut largest = vec![0usize; 11];
    for line in nuclei.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (frame, k, n): (usize, usize, usize) = (
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
        );
        if k == 0 {
            largest[frame] = n;
        }
        // A free particle: every nucleus gets a surface or sub-surface site.
        assert!(
            f[14].starts_with("surface_") || f[14].starts_with("subsurface_"),
            "{line}"
        );
    }
    assert!(largest[0] < 150, "{largest:?}");
    assert!(largest[10] > 1000 && largest[10] < 1601, "{largest:?}");
    assert!(
        largest.windows(2).filter(|w| w[1] < w[0]).count() <= 4,
        "{largest:?}"
    );
    let atoms = read("atoms.extxyz");
    assert!(atoms
        .lines()
        .nth(1)
        .unwrap()
        .contains("order:R:1:phase:I:1:nucleus:I:1:is_core:L:1"));
}

#[test]
fn nuclei_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("n");
    let input = root().join("tests/reference/frames/fcc_perfect.extxyz");
    let o = nucleate(&[
        "nuclei",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--order",
        "sro2",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = nucleate(&[
        "nuclei",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--order",
        "column:q6",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("q6"));
    let o = nucleate(&[
        "nuclei",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--radius",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.join("nuclei.csv").exists());
    // A perfect crystal is one nucleus of every atom.
    let o = nucleate(&[
        "nuclei",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(out.join("nuclei.csv")).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].starts_with("0,0,256,256,"), "{}", rows[0]);
}

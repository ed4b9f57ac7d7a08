//! `nucleate order` end to end: the shipped droplet trajectory against freud's analysis of the
//! same LAMMPS run, outputs read back, and bad input.

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

/// The example holds frames 0, 30, ..., 300 of the droplet run. freud's largest solid cluster
/// must be reproduced exactly (the rule is discrete; single precision in freud could flip a
/// bond at the threshold, which does not happen on these frames), and the fraction of atoms
/// with alpha >= 0.3 to the 3 decimals freud's summary was written with.
#[test]
fn droplet_summary_matches_freud() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("order.extxyz");
    let summary = dir.path().join("summary.csv");
    let input = root().join("examples/pt-droplet-950K.dump.gz");
    let o = nucleate(&[
        "order",
        input.to_str().unwrap(),
        "--types",
        "Pt",
        "-o",
        out.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ours = csv(&summary);
    assert_eq!(
        ours[0].join(","),
        "frame,n_atoms,mean_alpha,frac_alpha_ge_0.3,n_solid,largest_solid_cluster,n_isolated"
    );
    let freud = csv(&root().join("tests/reference/trajectories/pt_droplet_950K.freud_summary.csv"));
    assert_eq!(ours.len(), 12);
    for (k, row) in ours[1..].iter().enumerate() {
        assert_eq!(row[0], k.to_string());
        let reference = freud.iter().find(|r| r[0] == (30 * k).to_string()).unwrap();
        assert_eq!(row[5], reference[1], "largest solid cluster, frame {k}");
        let frac: f64 = row[3].parse().unwrap();
        let frac_ref: f64 = reference[2].parse().unwrap();
        assert!(
            (frac - frac_ref).abs() <= 0.0005 + 1e-12,
            "frame {k}: {frac} vs {frac_ref}"
        );
    }
    // Every frame written, with the contract's columns.
    let text = std::fs::read_to_string(&out).unwrap();
    let comments: Vec<&str> = text.lines().filter(|l| l.contains("Properties=")).collect();
    assert_eq!(comments.len(), 11);
    assert!(comments[0].contains("q4:R:1:q6:R:1:qbar4:R:1:qbar6:R:1:alpha:R:1:solid:I:1"));
}

#[test]
fn frame_selection_and_extra_degrees() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.extxyz");
    let summary = dir.path().join("s.csv");
    let input = root().join("examples/pt-droplet-950K.dump.gz");
    let o = nucleate(&[
        "order",
        input.to_str().unwrap(),
        "--frames",
        "2:9:3",
        "--l",
        "4,6,8",
        "--nearest",
        "12",
        "-o",
        out.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let frames: Vec<String> = csv(&summary)[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(frames, ["2", "5", "8"]);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains(":q8:R:1:qbar8:R:1") && text.contains("order_neighbors=nearest:12"));
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.extxyz");
    // Truncated frame: the message names the file, and no output appears.
    let bad = dir.path().join("bad.extxyz");
    std::fs::write(
        &bad,
        "3\nLattice=\"10 0 0 0 10 0 0 0 10\" Properties=species:S:1:pos:R:3\nPt 0 0 0\nPt 1 1 1\n",
    )
    .unwrap();
    let o = nucleate(&["order", bad.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.extxyz") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!out.exists());
    // Missing file.
    let o = nucleate(&[
        "order",
        "/nonexistent/x.extxyz",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // Bad usage exits 2.
    let o = nucleate(&["order", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let good = root().join("tests/reference/frames/fcc_perfect.extxyz");
    let o = nucleate(&[
        "order",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--cutoff",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = nucleate(&[
        "order",
        good.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--frames",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(1), "a frame beyond the file");
    assert!(!out.exists());
}

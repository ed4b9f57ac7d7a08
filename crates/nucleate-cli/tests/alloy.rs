//! `nucleate order --chemical` and `nucleate nuclei --order sro` end to end on seeded FePt
//! particles with planted nuclei, and their bad-input errors.

mod common;
use common::nucleate;

use std::path::Path;

use nucleate_core::io::write_frame;
use nucleate_core::{Frame, SimBox};
use nucleate_order::alloy_sro::synthetic::{particle, ParticleSpec, PlantedNucleus};

/// A 2 nm-radius disordered FePt particle with a diffuse L1_0 nucleus (c along z, lambda 7 A)
/// centred at (5, 0, 0).
fn planted(dir: &Path) -> String {
    let spec = ParticleSpec {
        noise: 0.1,
        nuclei: vec![PlantedNucleus {
            phase: 4,
            centre: [5.0, 0.0, 0.0],
            lambda: 7.0,
            beta: 2.0,
        }],
        ..ParticleSpec::fept(20.0, 8)
    };
    let (frame, _) = particle(&spec);
    let path = dir.join("planted.extxyz");
    write_frame(&path, &frame).unwrap();
    path.to_str().unwrap().to_string()
}

fn header_columns(extxyz: &str) -> String {
    extxyz.lines().nth(1).unwrap().to_string()
}

#[test]
fn order_chemical_writes_sites_phases_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let input = planted(dir.path());
    let out = dir.path().join("sro.extxyz");
    let summary = dir.path().join("sro.json");
    let o = nucleate(&[
        "order",
        &input,
        "--chemical",
        "-o",
        out.to_str().unwrap(),
        "--summary",
        summary.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        header_columns(&text)
            .contains("lattice_i:I:1:lattice_j:I:1:lattice_k:I:1:sublattice:I:1:phase:I:1:sro:R:1"),
        "{}",
        header_columns(&text)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    // The generator's lattice constant, to the noise (0.1 A per coordinate over ~1,400 atoms).
    assert!(
        (s["lattice_a"].as_f64().unwrap() - 3.87).abs() < 0.01,
        "{}",
        s["lattice_a"]
    );
    assert_eq!(s["n_unmapped"].as_u64(), Some(0));
    assert_eq!(s["species"]["A"], "Fe");
    let n = s["n_atoms"].as_u64().unwrap();
    let per: u64 = s["atoms_per_phase"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["atoms"].as_u64().unwrap())
        .sum();
    assert_eq!(per, n);
    let rot = s["rotation"].as_array().unwrap();
    assert_eq!(rot.len(), 3);
    // Every atom row carries a phase in -1..=15 and i + j + k even.
    for line in text.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let ijk: Vec<i64> = f[4..7].iter().map(|x| x.parse().unwrap()).collect();
        assert_eq!((ijk[0] + ijk[1] + ijk[2]).rem_euclid(2), 0, "{line}");
        let phase: i64 = f[8].parse().unwrap();
        assert!((-1..=15).contains(&phase));
    }
}

#[test]
fn nuclei_sro_finds_the_planted_nucleus_with_p_value() {
    let dir = tempfile::tempdir().unwrap();
    let input = planted(dir.path());
    let out = dir.path().join("n");
    let o = nucleate(&[
        "nuclei",
        &input,
        "--order",
        "sro",
        "--null",
        "10",
        "--seed",
        "3",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let csv = std::fs::read_to_string(out.join("nuclei.csv")).unwrap();
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    assert!(csv.starts_with("frame,nucleus,n_atoms,n_eff,a_eff,sphericity,core_x,core_y,core_z,n_core,alpha_max,alpha0,lambda,beta,site"));
    assert_eq!(
        &head[head.len() - 4..],
        ["phase", "family", "c_over_a", "p_value"]
    );
    let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let best = rows
        .iter()
        .find(|r| {
            let d: f64 = ["core_x", "core_y", "core_z"]
                .iter()
                .zip([5.0, 0.0, 0.0])
                .map(|(c, x)| (r[col(c)].parse::<f64>().unwrap() - x).powi(2))
                .sum::<f64>()
                .sqrt();
            d < 2.74
        })
        .expect("a nucleus at the planted centre");
    assert_eq!(best[col("family")], "L1_0");
    let phase: usize = best[col("phase")].parse().unwrap();
    assert!(phase == 4 || phase == 5, "c along z: phase {phase}");
    // Cubic synthetic lattice: c/a = 1 to the position noise.
    let ca: f64 = best[col("c_over_a")].parse().unwrap();
    assert!((ca - 1.0).abs() < 0.03, "{ca}");
    let p: f64 = best[col("p_value")].parse().unwrap();
    assert!(p < 0.05, "{p}");
    for name in [
        "sro_summary.json",
        "atoms.extxyz",
        "plots/sro_sites.svg",
        "plots/sro_profiles.svg",
        "plots/sro_neff_vs_p.svg",
        "report.html",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sro_summary.json")).unwrap())
            .unwrap();
    assert_eq!(s["shuffles"].as_u64(), Some(10));
    assert!(s["families"]["L1_0"]["significant"].as_u64().unwrap() >= 1);
    assert!(s["c_over_a_mean"].is_f64());
    // Same seed, same answer.
    let out2 = dir.path().join("n2");
    let o = nucleate(&[
        "nuclei",
        &input,
        "--order",
        "sro",
        "--null",
        "10",
        "--seed",
        "3",
        "--threads",
        "1",
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(
        csv,
        std::fs::read_to_string(out2.join("nuclei.csv")).unwrap()
    );
    // Without shuffles the p_value column is empty.
    let o = nucleate(&[
        "nuclei",
        &input,
        "--order",
        "sro",
        "--null",
        "0",
        "-o",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let csv = std::fs::read_to_string(out2.join("nuclei.csv")).unwrap();
    assert!(csv.lines().skip(1).all(|l| l.ends_with(',')), "{csv}");
}

#[test]
fn bad_alloy_input_exits_1_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (frame, _) = particle(&ParticleSpec::fept(8.0, 1));
    let write = |name: &str, f: &Frame| {
        let p = dir.path().join(name);
        write_frame(&p, f).unwrap();
        p.to_str().unwrap().to_string()
    };
    let out = dir.path().join("o.extxyz");
    let out = out.to_str().unwrap();
    let check = |args: &[&str], needle: &str| {
        let o = nucleate(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    };
    // One species.
    let pure = Frame::new(
        frame.positions.clone(),
        &vec!["Pt"; frame.len()],
        frame.cell,
    )
    .unwrap();
    let p = write("pure.extxyz", &pure);
    check(
        &["order", &p, "--chemical", "-o", out],
        "exactly two species, found 1",
    );
    check(
        &["nuclei", &p, "--order", "sro", "-o", out],
        "pure.extxyz: frame 0",
    );
    // Not fcc: atoms spread at random.
    let mut gas = frame.clone();
    let mut x = 0.12345f64;
    for pos in gas.positions.iter_mut() {
        for c in pos.iter_mut() {
            x = (x * 997.0 + 0.31).fract();
            *c = 30.0 * x;
        }
    }
    gas.cell = SimBox::enclosing(&gas.positions, 1.0).unwrap();
    let p = write("gas.extxyz", &gas);
    check(
        &["order", &p, "--chemical", "-o", out],
        "not an fcc-like model",
    );
    // Missing species column.
    let p = dir.path().join("nospecies.extxyz");
    std::fs::write(&p, "2\nProperties=pos:R:3\n0 0 0\n1.9 1.9 0\n").unwrap();
    check(
        &["order", p.to_str().unwrap(), "--chemical", "-o", out],
        "species",
    );
    // A named species that is not there; chemical options without --order sro.
    let ok = write("ok.extxyz", &frame);
    check(
        &["order", &ok, "--chemical", "--species", "Fe,Cu", "-o", out],
        "`Cu` does not occur",
    );
    check(
        &["nuclei", &ok, "--null", "5", "-o", out],
        "need --order sro",
    );
}

/// Two models of one particle without atom ids, the second shifted by (3, -2, 1) A and its
/// planted L1_0 nucleus grown (lambda 6 -> 9 A): atoms are paired across the models after
/// alignment, and the nucleus is one track over both times, classified growing.
#[test]
fn track_models_without_ids_by_pairing() {
    let dir = tempfile::tempdir().unwrap();
    let model = |lambda: f64, shift: [f64; 3], name: &str| {
        let spec = ParticleSpec {
            noise: 0.1,
            nuclei: vec![PlantedNucleus {
                phase: 4,
                centre: [5.0, 0.0, 0.0],
                lambda,
                beta: 2.0,
            }],
            ..ParticleSpec::fept(16.0, 8)
        };
        let (mut frame, _) = particle(&spec);
        for p in frame.positions.iter_mut() {
            for d in 0..3 {
                p[d] += shift[d];
            }
        }
        frame.cell = SimBox::enclosing(&frame.positions, 5.0).unwrap();
        let path = dir.path().join(name);
        write_frame(&path, &frame).unwrap();
        path.to_str().unwrap().to_string()
    };
    let a = model(6.0, [0.0; 3], "a.extxyz");
    let b = model(9.0, [3.0, -2.0, 1.0], "b.extxyz");
    let out = dir.path().join("t");
    let o = nucleate(&[
        "track",
        &a,
        &b,
        "--order",
        "sro",
        "--null",
        "0",
        "--pair-distance",
        "1.4",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tracks = std::fs::read_to_string(out.join("tracks.csv")).unwrap();
    let nuclei = std::fs::read_to_string(out.join("nuclei.csv")).unwrap();
    // The planted nucleus in each model: the one whose core is nearest its centre.
    let head: Vec<&str> = nuclei.lines().next().unwrap().split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).unwrap();
    let nearest = |frame: &str, c: [f64; 3]| -> String {
        nuclei
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[0] == frame)
            .min_by(|x, y| {
                let d = |f: &Vec<&str>| {
                    (0..3)
                        .map(|k| {
                            (f[col(["core_x", "core_y", "core_z"][k])]
                                .parse::<f64>()
                                .unwrap()
                                - c[k])
                                .powi(2)
                        })
                        .sum::<f64>()
                };
                d(x).total_cmp(&d(y))
            })
            .unwrap()[1]
            .to_string()
    };
    let (k0, k1) = (
        nearest("0", [5.0, 0.0, 0.0]),
        nearest("1", [8.0, -2.0, 1.0]),
    );
    let track_of = |frame: &str, k: &str| -> String {
        tracks
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|f| f[1] == frame && f[3] == k)
            .unwrap()[0]
            .to_string()
    };
    let t = track_of("0", &k0);
    assert_eq!(t, track_of("1", &k1), "{tracks}");
    let classes = std::fs::read_to_string(out.join("track_classes.csv")).unwrap();
    let row = classes
        .lines()
        .find(|l| l.starts_with(&format!("{t},")))
        .unwrap();
    assert!(row.contains(",growing,"), "{row}");
}

//! g(r) against freud 3.4 `density.RDF` (tests/data/make_rdf_reference.py), the fcc shell
//! distances, the partial-sum rule and invariants.

use std::path::PathBuf;

use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_core::{Frame, SimBox};
use nucleate_order::rdf::{peaks, rdf, Normalisation, Pair, RdfParams, RdfWindow};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &str) -> Frame {
    read_frame(root().join(path), &ReadOptions::default()).unwrap()
}

/// Header and columns of a reference CSV (comment lines skipped).
fn table(path: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    let mut cols = vec![vec![]; header.len()];
    for l in lines {
        for (c, v) in cols.iter_mut().zip(l.split(',')) {
            c.push(v.parse().unwrap());
        }
    }
    (header, cols)
}

/// Worst relative difference (absolute below g = 1) of our g(r) to a reference table.
fn compare(case: &str, r_max: f64, bins: usize, reference: &str, tol: f64) -> f64 {
    {
        let frame = load(&format!("tests/data/rdf_{case}.extxyz"));
        let (header, cols) = table(&format!("tests/data/rdf_{case}.{reference}.csv"));
        let pairs: Vec<Pair> = header[1..]
            .iter()
            .map(|h| {
                let h = h.strip_prefix("g_").unwrap();
                if h == "total" {
                    Pair::Total
                } else {
                    let (a, b) = h.split_once('_').unwrap();
                    Pair::Species(a.into(), b.into())
                }
            })
            .collect();
        let ours = rdf(&frame, &pairs, &RdfParams { r_max, bins }).unwrap();
        assert_eq!(ours.r.len(), cols[0].len());
        for (k, r) in cols[0].iter().enumerate() {
            assert!((ours.r[k] - r).abs() < 1e-6, "{case}: bin centre {k}");
        }
        let mut worst = 0.0f64;
        for (p, col) in cols[1..].iter().enumerate() {
            assert!(col.iter().any(|&g| g > 0.5), "{case}: empty reference");
            for (k, &want) in col.iter().enumerate() {
                let err = (ours.g[p][k] - want).abs() / want.abs().max(1.0);
                worst = worst.max(err);
                assert!(
                    err <= tol,
                    "{case} {}: bin {k}: {} vs {reference} {want}",
                    header[p + 1],
                    ours.g[p][k]
                );
            }
        }
        eprintln!("{case}: worst relative difference to {reference} {worst:.2e}");
        worst
    }
}

const CASES: [(&str, f64, usize); 3] = [
    ("fcc_thermal", 5.8, 116),
    ("binary_liquid", 6.5, 100),
    ("fcc_triclinic", 6.0, 120),
];

#[test]
fn equals_double_precision_histogram_per_bin() {
    // Same pairs, same bins, same normalisation: only rounding differs.
    for (case, r_max, bins) in CASES {
        compare(case, r_max, bins, "f64", 1e-9);
    }
}

#[test]
fn equals_freud_per_bin() {
    // freud 3.4 computes distances, shell volumes (differences of cubes) and the normalisation
    // in single precision: measured agreement 5e-6 to 7.5e-6 relative; bound 2e-5.
    for (case, r_max, bins) in CASES {
        compare(case, r_max, bins, "freud", 2e-5);
    }
}

#[test]
fn fcc_peaks_at_the_shell_distances() {
    let pair = [Pair::Species("Pt".into(), "Pt".into())];
    let params = RdfParams {
        r_max: 7.0,
        bins: 140,
    };
    let a = 3.92;
    // Shells at a sqrt(m/2): 12, 6, 24, 12, 24, 8 neighbours.
    let shells: Vec<f64> = (1..=6).map(|m| a * (m as f64 / 2.0).sqrt()).collect();
    let counts = [12.0, 6.0, 24.0, 12.0, 24.0, 8.0];
    // Perfect crystal: each shell fills exactly one bin; the peak is that bin's centre.
    let frame = load("../../tests/reference/frames/fcc_perfect.extxyz");
    let g = rdf(&frame, &pair, &params).unwrap();
    let found = peaks(&g.r, &g.g[0], 0.05);
    assert_eq!(found.len(), shells.len(), "{found:?}");
    let dr = 0.05;
    let rho = frame.len() as f64 / frame.cell.volume();
    for ((p, want), n) in found.iter().zip(&shells).zip(counts) {
        assert!(
            (p.r_a - want).abs() <= dr / 2.0,
            "peak {} vs shell {want}",
            p.r_a
        );
        // Height: n neighbours spread over the bin's shell volume, times N/(N) at density rho.
        let k = (want / dr) as usize;
        let shell =
            4.0 / 3.0 * std::f64::consts::PI * (g.edges[k + 1].powi(3) - g.edges[k].powi(3));
        assert!(
            (p.height - n / (rho * shell)).abs() < 1e-9,
            "height at {want}"
        );
    }
    // Thermal noise (0.1 A) broadens the first shell; its maximum stays within 0.02 A.
    let frame = load("../../tests/reference/frames/fcc_noisy_s1.extxyz");
    let g = rdf(&frame, &pair, &params).unwrap();
    let found = peaks(&g.r, &g.g[0], 0.05);
    assert!((found[0].r_a - shells[0]).abs() < 0.02, "{found:?}");
    assert!(found[0].height > 3.0 * found[1].height);
}

#[test]
fn partials_sum_to_total_with_concentration_weights() {
    let frame = load("tests/data/rdf_binary_liquid.extxyz");
    let pairs = Pair::all_of(&frame);
    assert_eq!(pairs.len(), 4); // total, Pd-Pd, Pd-O, O-O
    let g = rdf(&frame, &pairs, &RdfParams::default()).unwrap();
    let n = frame.len() as f64;
    let c_pd = frame.species.iter().filter(|&&s| s == 0).count() as f64 / n;
    let c_o = 1.0 - c_pd;
    for k in 0..g.r.len() {
        let sum = c_pd * c_pd * g.g[1][k] + 2.0 * c_pd * c_o * g.g[2][k] + c_o * c_o * g.g[3][k];
        assert!(
            (sum - g.g[0][k]).abs() < 1e-12 * g.g[0][k].max(1.0),
            "bin {k}"
        );
    }
    // A-B equals B-A.
    let ba = rdf(
        &frame,
        &[Pair::Species("O".into(), "Pd".into())],
        &RdfParams::default(),
    )
    .unwrap();
    assert_eq!(ba.g[0], g.g[2]);
}

#[test]
fn replicated_box_gives_the_same_g() {
    // 19.6 A box with r_max 7 (fewer than 3 bins: general neighbour search) against its 2x2x2
    // replica (cell-list path): same g(r) exactly up to rounding.
    let frame = load("../../tests/reference/frames/fcc_noisy_s1.extxyz");
    let l = 19.6;
    let mut pos = vec![];
    for s in 0..8 {
        let o = [
            (s & 1) as f64 * l,
            ((s >> 1) & 1) as f64 * l,
            (s >> 2) as f64 * l,
        ];
        pos.extend(
            frame
                .positions
                .iter()
                .map(|p| [p[0] + o[0], p[1] + o[1], p[2] + o[2]]),
        );
    }
    let big = Frame::new(
        pos,
        &vec!["Pt"; 8 * frame.len()],
        SimBox::orthorhombic([2.0 * l; 3], [true; 3]).unwrap(),
    )
    .unwrap();
    let params = RdfParams {
        r_max: 7.0,
        bins: 70,
    };
    let pair = [Pair::Species("Pt".into(), "Pt".into())];
    let a = rdf(&frame, &pair, &params).unwrap();
    let b = rdf(&big, &pair, &params).unwrap();
    for k in 0..70 {
        assert!((a.g[0][k] - b.g[0][k]).abs() < 1e-12, "bin {k}");
    }
}

#[test]
fn free_particle_uses_its_own_density() {
    let frame = load("../../tests/reference/lammps/nanoparticle_free.extxyz");
    let params = RdfParams {
        r_max: 8.0,
        bins: 80,
    };
    let g = rdf(&frame, &[Pair::Total], &params).unwrap();
    let n = frame.len();
    let Normalisation::Particle {
        volume_a3,
        radius_a,
    } = g.normalisation
    else {
        panic!("free frame normalised by a box")
    };
    let c: Vec<f64> = (0..3)
        .map(|d| frame.positions.iter().map(|p| p[d]).sum::<f64>() / n as f64)
        .collect();
    let rg2 = frame
        .positions
        .iter()
        .map(|p| (0..3).map(|d| (p[d] - c[d]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / n as f64;
    assert!((radius_a - (5.0 / 3.0 * rg2).sqrt()).abs() < 1e-12);
    // Undo the normalisation: the number of ordered pairs below r_max, counted directly.
    let counted: f64 = (0..80)
        .map(|k| {
            let shell =
                4.0 / 3.0 * std::f64::consts::PI * (g.edges[k + 1].powi(3) - g.edges[k].powi(3));
            g.g[0][k] * shell * (n * n) as f64 / volume_a3
        })
        .sum();
    let mut direct = 0usize;
    for i in 0..n {
        for j in 0..n {
            let p = frame.positions[i];
            let q = frame.positions[j];
            let d2: f64 = (0..3).map(|d| (p[d] - q[d]).powi(2)).sum();
            if i != j && d2 < 64.0 {
                direct += 1;
            }
        }
    }
    assert!(
        (counted - direct as f64).abs() < 1e-6 * direct as f64,
        "{counted} vs {direct}"
    );
}

#[test]
fn window_mean_and_bad_input() {
    let frame = load("tests/data/rdf_binary_liquid.extxyz");
    let pairs = [Pair::Total];
    let one = rdf(&frame, &pairs, &RdfParams::default()).unwrap();
    let mut w = RdfWindow::new();
    w.add(one.clone()).unwrap();
    w.add(one.clone()).unwrap();
    let mean = w.take_mean().unwrap();
    assert_eq!(mean.n_frames, 2);
    for (a, b) in mean.g[0].iter().zip(&one.g[0]) {
        assert!((a - b).abs() < 1e-14);
    }
    assert!(w.is_empty());
    let err = rdf(
        &frame,
        &[Pair::Species("Pd".into(), "H".into())],
        &RdfParams::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("unknown species `H`") && err.contains("Pd, O"),
        "{err}"
    );
    let mut slab = frame.clone();
    slab.cell = slab.cell.with_periodic([true, true, false]);
    assert!(rdf(&slab, &pairs, &RdfParams::default()).is_err());
}

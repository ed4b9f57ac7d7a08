//! Exact properties of every potential: forces are minus the gradient of the energy (finite
//! differences), the virial is minus the strain derivative, and the perfect-lattice figures of
//! Pt_u3.eam agree with LAMMPS (reference README of the project: E = -5.769999999345773
//! eV/atom at a = 3.92 A; relaxed a0 = 3.92000005 A, cohesive energy 5.76999999934 eV).

#![allow(clippy::needless_range_loop)]

use nucleate_core::SimBox;
use nucleate_md::forces::{evaluate, EnergyRequest};
use nucleate_md::lattice::{fcc_block, fcc_sphere};
use nucleate_md::Potential;
use rand::{Rng, SeedableRng};

fn potentials() -> Vec<(&'static str, Potential)> {
    vec![
        ("pt-u3", Potential::load("builtin:pt-u3").unwrap()),
        (
            "sutton-chen-pt",
            Potential::load("builtin:sutton-chen-pt").unwrap(),
        ),
        (
            "sutton-chen-pd",
            Potential::load("builtin:sutton-chen-pd").unwrap(),
        ),
    ]
}

fn energy(p: &Potential, x: &[[f64; 3]], cell: &SimBox) -> f64 {
    evaluate(p, x, &vec![0; x.len()], cell, EnergyRequest::Total).energy
}

fn jiggle(x: &mut [[f64; 3]], amp: f64, seed: u64) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for p in x {
        for v in p.iter_mut() {
            *v += amp * (2.0 * rng.gen::<f64>() - 1.0);
        }
    }
}

/// Central differences with h = 1e-6 A: truncation ~h^2 f''' and rounding ~1e-16 E / h are
/// both below 1e-7 eV/A for these sizes; 2e-6 eV/A leaves room for the kinks of the cubic
/// tables' second derivative at grid points.
#[test]
fn forces_are_minus_the_energy_gradient() {
    for (name, pot) in potentials() {
        for periodic in [true, false] {
            let (mut x, cell) = if periodic {
                fcc_block([2, 2, 2], 3.92).unwrap()
            } else {
                fcc_sphere(5.0, 3.92, 10.0).unwrap()
            };
            jiggle(&mut x, 0.25, 3);
            let res = evaluate(&pot, &x, &vec![0; x.len()], &cell, EnergyRequest::Total);
            let h = 1e-6;
            let mut worst: f64 = 0.0;
            for i in (0..x.len()).step_by(3) {
                for d in 0..3 {
                    let mut xp = x.clone();
                    xp[i][d] += h;
                    let mut xm = x.clone();
                    xm[i][d] -= h;
                    let fd = -(energy(&pot, &xp, &cell) - energy(&pot, &xm, &cell)) / (2.0 * h);
                    worst = worst.max((fd - res.forces[i][d]).abs());
                }
            }
            eprintln!("{name} periodic={periodic}: max |F - F_fd| = {worst:.2e} eV/A");
            assert!(worst < 2e-6, "{name}: {worst}");
        }
    }
}

/// W_ab = -dE/d eps_ab under a homogeneous strain of box and positions.
#[test]
fn virial_is_minus_the_strain_derivative() {
    for (name, pot) in potentials() {
        let (mut x, cell) = fcc_block([2, 2, 2], 3.92).unwrap();
        jiggle(&mut x, 0.2, 5);
        let res = evaluate(&pot, &x, &vec![0; x.len()], &cell, EnergyRequest::Total);
        let h = 1e-6;
        for (k, (a, b)) in [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
            .into_iter()
            .enumerate()
        {
            let strained = |s: f64| {
                let mut m = [[0.0; 3]; 3];
                for d in 0..3 {
                    m[d][d] = 1.0;
                }
                // Symmetric strain for the off-diagonal components.
                if a == b {
                    m[a][a] += s;
                } else {
                    m[a][b] += 0.5 * s;
                    m[b][a] += 0.5 * s;
                }
                let ap = |v: [f64; 3]| {
                    [0, 1, 2].map(|r| m[r][0] * v[0] + m[r][1] * v[1] + m[r][2] * v[2])
                };
                let e = cell.edges().map(ap);
                let c = SimBox::new(e, [0.0; 3], [true; 3]).unwrap();
                let xs: Vec<[f64; 3]> = x.iter().map(|&p| ap(p)).collect();
                energy(&pot, &xs, &c)
            };
            let fd = -(strained(h) - strained(-h)) / (2.0 * h);
            let rel = (fd - res.virial[k]).abs() / res.virial[k].abs().max(1.0);
            assert!(rel < 1e-6, "{name} W[{k}] = {} vs {fd}", res.virial[k]);
        }
    }
}

#[test]
fn perfect_fcc_energy_matches_lammps() {
    let pot = Potential::load("builtin:pt-u3").unwrap();
    // A single cell relies on periodic images for every neighbour; 4 cells has none twice.
    for n in [1, 4] {
        let (x, cell) = fcc_block([n; 3], 3.92).unwrap();
        let e = energy(&pot, &x, &cell) / x.len() as f64;
        assert!((e - (-5.769999999345773)).abs() < 1e-11, "n = {n}: {e:.15}");
    }
}

/// Zero of the virial pressure of the perfect lattice by the secant method: the relaxed
/// lattice constant and cohesive energy.
#[test]
fn relaxed_lattice_matches_lammps() {
    let pot = Potential::load("builtin:pt-u3").unwrap();
    let at = |a: f64| {
        let (x, cell) = fcc_block([1; 3], a).unwrap();
        let r = evaluate(&pot, &x, &[0; 4], &cell, EnergyRequest::Total);
        (r.virial[0] + r.virial[1] + r.virial[2], r.energy / 4.0)
    };
    let (mut a0, mut a1) = (3.91, 3.93);
    let (mut w0, mut w1) = (at(a0).0, at(a1).0);
    for _ in 0..50 {
        if w1 == w0 {
            break;
        }
        let a2 = a1 - w1 * (a1 - a0) / (w1 - w0);
        (a0, w0) = (a1, w1);
        a1 = a2;
        w1 = at(a1).0;
        if (a1 - a0).abs() < 1e-13 {
            break;
        }
    }
    let ecoh = -at(a1).1;
    eprintln!("a0 = {a1:.10} A, E_coh = {ecoh:.12} eV");
    assert!((a1 - 3.92000005).abs() < 1e-8, "a0 = {a1}");
    assert!((ecoh - 5.76999999934).abs() < 1e-10, "E_coh = {ecoh}");
}

#[test]
fn sutton_chen_platinum_is_bound_near_its_lattice_constant() {
    // Sanity of the analytic potential: the fcc energy has its minimum within 1% of a = 3.92 A
    // and a cohesive energy of a few eV (Sutton & Chen 1990 fit 5.86 eV without truncation).
    let pot = Potential::load("builtin:sutton-chen-pt").unwrap();
    let e = |a: f64| {
        let (x, cell) = fcc_block([1; 3], a).unwrap();
        energy(&pot, &x, &cell) / 4.0
    };
    let mut best = (0.0, f64::INFINITY);
    for k in 0..=100 {
        let a = 3.8 + 0.003 * k as f64;
        if e(a) < best.1 {
            best = (a, e(a));
        }
    }
    assert!((best.0 - 3.92).abs() < 0.04, "{best:?}");
    assert!(best.1 < -4.0 && best.1 > -7.0, "{best:?}");
}

#[test]
fn sutton_chen_palladium_is_bound_near_its_lattice_constant() {
    // Sutton & Chen (1990) fitted Pd to a = 3.89 A and the cohesive energy 3.94 eV (untruncated
    // sums); the shifted-force cut at 2a moves the minimum by well under 1% and the energy by a
    // few percent.
    let pot = Potential::load("builtin:sutton-chen-pd").unwrap();
    let e = |a: f64| {
        let (x, cell) = fcc_block([2; 3], a).unwrap();
        energy(&pot, &x, &cell) / 32.0
    };
    let mut best = (0.0, f64::INFINITY);
    for k in 0..=100 {
        let a = 3.8 + 0.002 * k as f64;
        if e(a) < best.1 {
            best = (a, e(a));
        }
    }
    eprintln!(
        "Sutton-Chen Pd: a0 = {:.3} A, E = {:.4} eV/atom",
        best.0, best.1
    );
    assert!((best.0 - 3.89).abs() < 0.03, "{best:?}");
    assert!(best.1 < -3.5 && best.1 > -4.2, "{best:?}");
}

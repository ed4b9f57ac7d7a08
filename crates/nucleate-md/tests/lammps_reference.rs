//! Energies, forces and virial of Pt_u3.eam against LAMMPS (pair_style eam, 22 Jul 2025) on the
//! three reference configurations of tests/data (see the README there).
//!
//! Tolerances: the reference prints per-atom forces and energies with 8 decimals, so they can
//! agree to 5e-9 at best: forces within 1e-8 eV/A, per-atom energies within 1e-8 eV. Totals are
//! printed with full precision; LAMMPS' own sum differs from the exact sum of its terms by up to
//! 7e-11 eV, so the total is compared within 1e-11 eV/atom and the virial within 1e-10 relative.

use std::path::PathBuf;

use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_md::forces::{evaluate, EnergyRequest};
use nucleate_md::Potential;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn pt_u3() -> Potential {
    Potential::load(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("data/Pt_u3.eam")
            .to_str()
            .unwrap(),
    )
    .unwrap()
}

fn check(name: &str) {
    let frame = read_frame(data(name), &ReadOptions::default()).unwrap();
    let pot = pt_u3();
    let species = vec![0usize; frame.len()];
    let res = evaluate(
        &pot,
        &frame.positions,
        &species,
        &frame.cell,
        EnergyRequest::PerAtom,
    );
    let (f_ref, _) = frame.real_property("forces").unwrap();
    let (e_ref, _) = frame.real_property("energies").unwrap();
    let mut max_f: f64 = 0.0;
    let mut max_e: f64 = 0.0;
    for i in 0..frame.len() {
        for d in 0..3 {
            max_f = max_f.max((res.forces[i][d] - f_ref[3 * i + d]).abs());
        }
        max_e = max_e.max((res.per_atom[i] - e_ref[i]).abs());
    }
    let e_tot: f64 = frame.info_value("energy_ev").unwrap().parse().unwrap();
    let vir: Vec<f64> = frame
        .info_value("virial_ev")
        .unwrap()
        .trim_matches('"')
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let n = frame.len() as f64;
    let de = (res.energy - e_tot).abs() / n;
    let scale = vir.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let dv = (0..6).fold(0.0f64, |a, k| a.max((res.virial[k] - vir[k]).abs())) / scale;
    let sum_atoms: f64 = res.per_atom.iter().sum();
    eprintln!("{name}: max |dF| {max_f:.2e} eV/A, max |dE_i| {max_e:.2e} eV, |dE|/N {de:.2e} eV, virial rel {dv:.2e}");
    assert!(max_f < 1e-8, "{name}: forces differ by {max_f:e}");
    assert!(
        max_e < 1e-8,
        "{name}: per-atom energies differ by {max_e:e}"
    );
    assert!(de < 1e-11, "{name}: total energy differs by {de:e} eV/atom");
    assert!(dv < 1e-10, "{name}: virial differs by {dv:e} relative");
    assert!((sum_atoms - res.energy).abs() / n < 1e-12);
}

#[test]
fn fcc_perturbed_matches_lammps() {
    check("fcc_perturbed_500.extxyz");
}

#[test]
fn disordered_matches_lammps() {
    check("disordered_864.extxyz");
}

#[test]
fn free_nanoparticle_matches_lammps() {
    check("nanoparticle_free.extxyz");
}

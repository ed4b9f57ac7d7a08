//! Crystallinity of synthetic particles with known answers: a crystalline core in an amorphous
//! shell, a bicrystal, a rotated single crystal, a periodic bulk crystal.

use std::path::PathBuf;

use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_core::{Frame, NeighborList, NeighborSpec, SimBox};
use nucleate_order::cna::{adaptive_cna, CNA_NEIGHBORS};
use nucleate_order::crystallinity::{
    analyse_particle, cubic_misorientation_deg, frame_energy_ev, ParticleParams, ParticleStructure,
};
use rand::{Rng, SeedableRng};

const A: f64 = 3.92;

/// Rotation matrix about a unit axis by an angle (radians).
fn rotation(axis: [f64; 3], angle: f64) -> [[f64; 3]; 3] {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let [x, y, z] = [axis[0] / n, axis[1] / n, axis[2] / n];
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    [
        [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
    ]
}

fn apply(r: &[[f64; 3]; 3], p: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

/// fcc sites within `radius` of an atom at the origin.
fn fcc_sphere(radius: f64) -> Vec<[f64; 3]> {
    let m = (radius / A).ceil() as i32 + 1;
    let basis = [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
    ];
    let mut out = vec![];
    for i in -m..=m {
        for j in -m..=m {
            for k in -m..=m {
                for b in basis {
                    let p = [
                        (i as f64 + b[0]) * A,
                        (j as f64 + b[1]) * A,
                        (k as f64 + b[2]) * A,
                    ];
                    if p.iter().map(|x| x * x).sum::<f64>() <= radius * radius {
                        out.push(p);
                    }
                }
            }
        }
    }
    out
}

fn free_frame(pos: Vec<[f64; 3]>) -> Frame {
    let n = pos.len();
    Frame::new(
        pos,
        &vec!["Pd"; n],
        SimBox::orthorhombic([80.0; 3], [false; 3]).unwrap(),
    )
    .unwrap()
}

fn analyse(frame: &Frame) -> ParticleStructure {
    let list = NeighborList::build(frame, NeighborSpec::Nearest { k: CNA_NEIGHBORS }).unwrap();
    let types = adaptive_cna(&list).unwrap();
    analyse_particle(
        &frame.positions,
        &frame.cell,
        &list,
        &types,
        &ParticleParams::default(),
    )
    .unwrap()
}

#[test]
fn crystalline_core_in_amorphous_shell() {
    // Core r < 8 A nearly perfect (0.03 A noise), shell out to 15 A strongly disordered (0.45 A).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let pos: Vec<[f64; 3]> = fcc_sphere(15.0)
        .into_iter()
        .map(|p| {
            let r = p.iter().map(|x| x * x).sum::<f64>().sqrt();
            let s = if r < 8.0 { 0.03 } else { 0.45 };
            p.map(|x| x + s * (rng.gen::<f64>() * 2.0 - 1.0) * 3f64.sqrt())
        })
        .collect();
    let frame = free_frame(pos);
    let out = analyse(&frame);
    let n_surface = out.surface.iter().filter(|&&s| s).count();
    assert!(n_surface > 0);
    assert_eq!(out.n_crystalline + out.n_amorphous + n_surface, frame.len());
    let core = out.core_radius_a.unwrap();
    assert!(
        (6.0..=10.0).contains(&core),
        "core radius {core}, {:?}",
        out.radial
    );
    // Shells well inside are crystalline, well outside amorphous.
    assert!(out.radial[0].fraction().unwrap() > 0.9);
    assert!(out.radial[6].fraction().unwrap() < 0.2);
    assert!(out.ac_ratio() > 1.0 && out.ac_ratio().is_finite());
    // One grain: the core.
    assert_eq!(out.n_grains, 1);
}

#[test]
fn orientation_of_a_rotated_crystal_is_recovered() {
    let r = rotation([0.3, -0.5, 0.8], 0.7);
    let frame = free_frame(fcc_sphere(10.0).into_iter().map(|p| apply(&r, p)).collect());
    let out = analyse(&frame);
    assert_eq!(out.n_grains, 1);
    let mut n = 0;
    for o in out.orientation.iter().flatten() {
        // acos near 1 resolves angles only down to ~1e-6 degrees
        let m = cubic_misorientation_deg(o, &r);
        assert!(m < 1e-4, "{m}");
        n += 1;
    }
    assert!(n > 100);
    // Every crystalline atom is in the grain; surface atoms are not crystalline.
    assert!(out
        .grain
        .iter()
        .zip(&out.orientation)
        .all(|(g, o)| (*g == 0) == o.is_some()));
    // In a perfect sphere the amorphous atoms are exactly the non-surface atoms short of a
    // full shell (10 or 11 neighbours on a rough spherical surface).
    let list = NeighborList::build(&frame, NeighborSpec::Nearest { k: CNA_NEIGHBORS }).unwrap();
    let partial = (0..frame.len())
        .filter(|&i| {
            let c = list
                .distances(i)
                .iter()
                .filter(|&&d| d <= out.shell_cutoff_a)
                .count();
            c == 10 || c == 11
        })
        .count();
    assert!(partial > 0);
    assert_eq!(out.n_amorphous, partial);
}

#[test]
fn bicrystal_has_two_grains() {
    // Left half as is, right half turned by 30 degrees about x (the boundary plane's normal):
    // the grains meet along x = 0 with a 30 degree misorientation.
    let r = rotation([1.0, 0.0, 0.0], 30f64.to_radians());
    let left: Vec<[f64; 3]> = fcc_sphere(14.0)
        .into_iter()
        .filter(|p| p[0] < -0.1)
        .collect();
    let right: Vec<[f64; 3]> = fcc_sphere(14.0)
        .into_iter()
        .map(|p| apply(&r, p))
        .filter(|p| p[0] > 0.1 + 0.0)
        .filter(|p| p.iter().map(|x| x * x).sum::<f64>() <= 14.0 * 14.0)
        .collect();
    let n_left = left.len();
    let mut pos = left;
    pos.extend(right);
    let frame = free_frame(pos);
    let out = analyse(&frame);
    assert_eq!(out.n_grains, 2, "{:?}", &out.grain);
    let grain_of = |range: std::ops::Range<usize>| {
        let mut g: Vec<i64> = range
            .filter(|&i| out.grain[i] >= 0)
            .map(|i| out.grain[i])
            .collect();
        g.sort();
        g.dedup();
        g
    };
    let gl = grain_of(0..n_left);
    let gr = grain_of(n_left..frame.len());
    assert_eq!(gl.len(), 1);
    assert_eq!(gr.len(), 1);
    assert_ne!(gl, gr);
}

#[test]
fn periodic_bulk_has_no_centre_and_one_grain() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let frame = read_frame(
        root.join("../../tests/reference/frames/fcc_perfect.extxyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let out = analyse(&frame);
    assert_eq!(out.core_radius_a, None);
    assert!(out.radial.is_empty());
    assert_eq!(out.n_grains, 1);
    assert_eq!(out.n_crystalline, frame.len());
    assert_eq!(out.ac_ratio(), 0.0);
    // A liquid-like frame: no grain of 10 atoms, mostly amorphous.
    let frame = read_frame(
        root.join("../../tests/reference/lammps/disordered_864.extxyz"),
        &ReadOptions::default(),
    )
    .unwrap();
    let out = analyse(&frame);
    assert_eq!(out.n_grains, 0);
    assert!(out.ac_ratio() > 50.0);
    assert_eq!(frame_energy_ev(&frame), Some(-3559.5578873705444));
}

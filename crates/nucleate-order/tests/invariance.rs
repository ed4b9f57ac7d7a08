//! The invariance harness every per-atom compute must pass: rotation, translation, periodic
//! image shifts, permutation of atom order, and a triclinic cell against the equivalent
//! orthogonal one. Tolerance 1e-10: the operations change only rounding.

use std::path::PathBuf;

use glam::{DMat3, DVec3};
use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_core::{Frame, NeighborList, NeighborSpec, SimBox};
use nucleate_order::{BondOrder, BondOrderParams};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn load(rel: &str) -> Frame {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/reference")
        .join(rel);
    read_frame(&p, &ReadOptions::default()).unwrap()
}

fn frames() -> Vec<(&'static str, Frame)> {
    vec![
        ("fcc_noisy_s1", load("frames/fcc_noisy_s1.extxyz")),
        ("disordered_864", load("lammps/disordered_864.extxyz")),
        ("nanoparticle_free", load("lammps/nanoparticle_free.extxyz")),
        ("fcc_triclinic_s1", load("frames/fcc_triclinic_s1.extxyz")),
    ]
}

const SPECS: [NeighborSpec; 2] = [
    NeighborSpec::Cutoff { r: 3.8 },
    NeighborSpec::Nearest { k: 12 },
];

fn compute(frame: &Frame, spec: NeighborSpec) -> BondOrder {
    let list = NeighborList::build(frame, spec).unwrap();
    let params = BondOrderParams {
        ls: vec![4, 6, 8],
        ..Default::default()
    };
    BondOrder::compute(&list, &params).unwrap()
}

/// Compare per-atom results, `map[k]` being the atom of `b` that is atom `k` of `a`.
fn assert_same(a: &BondOrder, b: &BondOrder, map: &[usize], what: &str) {
    for (ka, (qa, qb)) in a.q.iter().zip(&b.q).enumerate() {
        for (k, &m) in map.iter().enumerate() {
            assert!(
                (qa[k] - qb[m]).abs() < 1e-10,
                "{what}: q{} atom {k}",
                a.ls[ka]
            );
            assert!(
                (a.qbar[ka][k] - b.qbar[ka][m]).abs() < 1e-10,
                "{what}: qbar{} atom {k}",
                a.ls[ka]
            );
        }
    }
    for (k, &m) in map.iter().enumerate() {
        assert!(
            (a.alpha[k] - b.alpha[m]).abs() < 1e-10,
            "{what}: alpha atom {k}"
        );
        assert_eq!(
            a.n_neighbors[k], b.n_neighbors[m],
            "{what}: neighbours of atom {k}"
        );
        assert_eq!(a.solid.solid[k], b.solid.solid[m], "{what}: solid atom {k}");
    }
    assert_eq!(
        a.solid.cluster_sizes, b.solid.cluster_sizes,
        "{what}: cluster sizes"
    );
}

fn identity(n: usize) -> Vec<usize> {
    (0..n).collect()
}

fn with_positions(frame: &Frame, positions: Vec<[f64; 3]>, cell: SimBox) -> Frame {
    let mut f = frame.clone();
    f.positions = positions;
    f.cell = cell;
    f
}

#[test]
fn rotation() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (name, frame) in frames() {
        let axis = DVec3::new(rng.gen(), rng.gen(), rng.gen()).normalize();
        let rot = DMat3::from_axis_angle(axis, rng.gen_range(0.1..6.0));
        let apply = |p: [f64; 3]| (rot * DVec3::from_array(p)).to_array();
        let edges = frame.cell.edges().map(apply);
        let cell = SimBox::new(edges, apply(frame.cell.origin()), frame.cell.periodic()).unwrap();
        let rotated = with_positions(
            &frame,
            frame.positions.iter().map(|&p| apply(p)).collect(),
            cell,
        );
        for spec in SPECS {
            assert_same(
                &compute(&frame, spec),
                &compute(&rotated, spec),
                &identity(frame.len()),
                name,
            );
        }
    }
}

#[test]
fn translation_and_periodic_images() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (name, frame) in frames() {
        let t = [
            rng.gen_range(-30.0..30.0),
            rng.gen_range(-30.0..30.0),
            rng.gen_range(-30.0..30.0),
        ];
        let moved: Vec<[f64; 3]> = frame
            .positions
            .iter()
            .map(|p| [p[0] + t[0], p[1] + t[1], p[2] + t[2]])
            .collect();
        let shifted = with_positions(&frame, moved, frame.cell);
        // Periodic images: atoms moved by whole cell vectors along periodic axes.
        let periodic = frame.cell.periodic();
        let imaged: Vec<[f64; 3]> = frame
            .positions
            .iter()
            .map(|&p| {
                let mut s = [0; 3];
                for d in 0..3 {
                    if periodic[d] {
                        s[d] = rng.gen_range(-2..=2);
                    }
                }
                (DVec3::from_array(p) + frame.cell.shift_vector(s)).to_array()
            })
            .collect();
        let imaged = with_positions(&frame, imaged, frame.cell);
        for spec in SPECS {
            let base = compute(&frame, spec);
            assert_same(
                &base,
                &compute(&shifted, spec),
                &identity(frame.len()),
                name,
            );
            assert_same(&base, &compute(&imaged, spec), &identity(frame.len()), name);
        }
    }
}

#[test]
fn permutation_of_atom_order() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for (name, frame) in frames() {
        let mut order: Vec<usize> = identity(frame.len());
        order.shuffle(&mut rng);
        let mut permuted = frame.clone();
        permuted.permute(&order);
        // Atom k of the original is atom inverse[k] of the permuted frame.
        let mut inverse = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            inverse[old] = new;
        }
        for spec in SPECS {
            assert_same(
                &compute(&frame, spec),
                &compute(&permuted, spec),
                &inverse,
                name,
            );
        }
    }
}

/// The same periodic crystal described by a sheared cell (a, b + a, c - 2b: a unimodular change
/// of basis, so the lattice of images is identical), atoms wrapped into the new cell.
#[test]
fn triclinic_cell_equals_orthogonal_equivalent() {
    for name in ["fcc_noisy_s1", "disordered_864"] {
        let frame = frames().into_iter().find(|(n, _)| *n == name).unwrap().1;
        let [a, b, c] = frame.cell.edges().map(DVec3::from_array);
        let sheared = [a, b + a, c - 2.0 * b].map(|v| v.to_array());
        let cell = SimBox::new(sheared, frame.cell.origin(), [true; 3]).unwrap();
        assert!(!cell.is_orthorhombic());
        let wrapped = frame.positions.iter().map(|&p| cell.wrap(p)).collect();
        let tri = with_positions(&frame, wrapped, cell);
        for spec in SPECS {
            assert_same(
                &compute(&frame, spec),
                &compute(&tri, spec),
                &identity(frame.len()),
                name,
            );
        }
    }
}

//! Adaptive CNA against OVITO 3.17's `CommonNeighborAnalysisModifier` (adaptive mode), atom for
//! atom. References: `tests/data/<frame>.ovito_cna.csv`, written by
//! `tests/data/make_cna_reference.py` from the shared reference frames and from generated frames
//! (thermal hcp and bcc, a noisy 309-atom icosahedron, a crystalline nucleus in a liquid).

use std::path::PathBuf;

use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_core::{Frame, NeighborList, NeighborSpec, SimBox};
use nucleate_order::cna::{adaptive_cna, counts, Structure, CNA_NEIGHBORS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> Frame {
    let candidates = [
        root().join("../../tests/reference/frames"),
        root().join("../../tests/reference/lammps"),
        root().join("tests/data"),
    ];
    for dir in candidates {
        let p = dir.join(format!("{name}.extxyz"));
        if p.exists() {
            return read_frame(&p, &ReadOptions::default()).unwrap();
        }
    }
    panic!("no frame {name}");
}

fn ovito(name: &str) -> Vec<u8> {
    let p = root().join(format!("tests/data/{name}.ovito_cna.csv"));
    let text = std::fs::read_to_string(&p).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("structure"));
    lines.map(|l| l.trim().parse().unwrap()).collect()
}

fn cna(frame: &Frame) -> Vec<Structure> {
    let list = NeighborList::build(frame, NeighborSpec::Nearest { k: CNA_NEIGHBORS }).unwrap();
    adaptive_cna(&list).unwrap()
}

const FRAMES: [&str; 13] = [
    "fcc_perfect",
    "hcp_perfect",
    "bcc_perfect",
    "fcc_noisy_s1",
    "fcc_triclinic_s1",
    "icosahedron_147",
    "fcc_perturbed_500",
    "disordered_864",
    "nanoparticle_free",
    "cna_hcp_thermal",
    "cna_bcc_thermal",
    "cna_icosahedron_309",
    "cna_nucleus_in_liquid",
];

#[test]
fn identical_to_ovito_atom_for_atom() {
    let mut total = 0;
    for name in FRAMES {
        let frame = load(name);
        let ours: Vec<u8> = cna(&frame).iter().map(|s| s.number()).collect();
        let theirs = ovito(name);
        assert_eq!(ours.len(), theirs.len(), "{name}");
        let differ: Vec<usize> = (0..ours.len()).filter(|&i| ours[i] != theirs[i]).collect();
        assert!(
            differ.is_empty(),
            "{name}: {} of {} atoms differ from OVITO, first {:?}",
            differ.len(),
            ours.len(),
            differ
                .iter()
                .take(5)
                .map(|&i| (i, ours[i], theirs[i]))
                .collect::<Vec<_>>()
        );
        total += ours.len();
    }
    assert!(total > 5000);
}

#[test]
fn perfect_lattices_are_pure() {
    for (name, want) in [
        ("fcc_perfect", Structure::Fcc),
        ("hcp_perfect", Structure::Hcp),
        ("bcc_perfect", Structure::Bcc),
    ] {
        let frame = load(name);
        let c = counts(&cna(&frame));
        assert_eq!(c[want.number() as usize], frame.len(), "{name}: {c:?}");
    }
}

#[test]
fn invariant_under_rotation_translation_and_permutation() {
    let frame = load("cna_nucleus_in_liquid");
    let base = cna(&frame);
    // Free copy, rotated and shifted: only atoms far from the box faces keep their neighbours,
    // so compare a periodic rotation by 90 degrees about z (a symmetry of the cubic box).
    let l = frame.cell.edges();
    let mut rotated = frame.clone();
    for p in &mut rotated.positions {
        *p = [-p[1] + 3.3, p[0] - 1.7, p[2] + 0.4];
    }
    rotated.cell = SimBox::orthorhombic([l[1][1], l[0][0], l[2][2]], [true; 3]).unwrap();
    assert_eq!(cna(&rotated), base);
    // Reversed atom order.
    let mut perm = frame.clone();
    let order: Vec<usize> = (0..frame.len()).rev().collect();
    perm.permute(&order);
    let mut back = cna(&perm);
    back.reverse();
    assert_eq!(back, base);
}

#[test]
fn lists_without_fourteen_nearest_are_refused() {
    let frame = load("fcc_perfect");
    let list = NeighborList::build(&frame, NeighborSpec::Nearest { k: 12 }).unwrap();
    assert!(adaptive_cna(&list).is_err());
    let list = NeighborList::build(&frame, NeighborSpec::Cutoff { r: 3.0 }).unwrap();
    assert!(adaptive_cna(&list).is_err());
}

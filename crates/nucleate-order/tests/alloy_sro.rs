//! Chemical short-range order against exact cases: perfect crystals of each phase, random
//! alloys, and the invariance of the lattice mapping under rotation and translation.

use nucleate_core::{Frame, SimBox};
use nucleate_order::alloy_sro::synthetic::{
    ordered_particle, particle, ParticleSpec, PlantedNucleus,
};
use nucleate_order::alloy_sro::{
    l10_c_axis, map_lattice, phase_family, phase_pattern, AlloySro, LatticeParams, SroError,
    SroParams, N_PHASES,
};

fn sro(frame: &Frame) -> AlloySro {
    AlloySro::compute(frame, None, &SroParams::default()).unwrap()
}

/// A perfect L1_0 particle: every atom mapped, S = 1 for one variant on every atom, and that
/// variant explains every atom's species with the planted c axis (lattice axes are kept
/// closest to the model axes, so an unrotated particle keeps x, y, z).
#[test]
fn perfect_l10_particle_has_s_one_everywhere() {
    let (frame, _) = ordered_particle(4, 9.0, 3.87);
    let r = sro(&frame);
    assert_eq!(r.lattice.n_unmapped, 0);
    assert!(
        (r.lattice.lattice_a - 3.87).abs() < 1e-9,
        "{}",
        r.lattice.lattice_a
    );
    let found = r.order.phase[0] as usize;
    assert_eq!(l10_c_axis(found), Some(2));
    for i in 0..frame.len() {
        assert_eq!(r.order.phase[i] as usize, found);
        assert!(
            (r.order.sro[i] - 1.0).abs() < 1e-12,
            "atom {i}: S = {}",
            r.order.sro[i]
        );
        let sub = r.lattice.sublattice[i].unwrap() as usize;
        assert_eq!(phase_pattern(found)[sub], r.is_a[i]);
    }
}

/// Every one of the sixteen phases is recognised in its own perfect crystal: the winning phase
/// has S = 1 (to rounding), is of the planted family, and reproduces every species. The A1
/// patterns need both species in the particle, so a pure core (step profile, 13 A) sits in a
/// random shell and only atoms whose whole kernel (3 sigma = 8.7 A) lies in the core count.
#[test]
fn each_phase_is_recognised_in_its_own_crystal() {
    for planted in 0..N_PHASES {
        let a1 = planted >= 14;
        let spec = ParticleSpec {
            radius: if a1 { 16.0 } else { 8.0 },
            nuclei: vec![PlantedNucleus {
                phase: planted,
                centre: [0.0; 3],
                lambda: if a1 { 13.0 } else { 1e9 },
                beta: 200.0,
            }],
            ..ParticleSpec::fept(0.0, 7)
        };
        let (frame, _) = particle(&spec);
        let r = sro(&frame);
        let mut checked = 0;
        for i in 0..frame.len() {
            let p = frame.positions[i];
            let d = p.iter().map(|x| x * x).sum::<f64>().sqrt();
            if a1 && d > 13.0 - 3.0 * 0.75 * 3.87 - 0.1 {
                continue;
            }
            let j = r.order.phase[i] as usize;
            assert_eq!(
                phase_family(j),
                phase_family(planted),
                "planted {planted}, atom {i}"
            );
            assert!(
                (r.order.sro[i] - 1.0).abs() < 1e-12,
                "planted {planted}: S = {}",
                r.order.sro[i]
            );
            let sub = r.lattice.sublattice[i].unwrap() as usize;
            assert_eq!(phase_pattern(j)[sub], r.is_a[i]);
            if planted < 6 {
                assert_eq!(l10_c_axis(j), l10_c_axis(planted));
            }
            checked += 1;
        }
        assert!(checked >= 13, "planted {planted}: {checked} atoms checked");
    }
}

/// A random 50/50 alloy: the mean of each S_j over atoms is near 0. Per-atom S of L1_0 has a
/// standard deviation of ~0.12 (about 75 effectively independent sites per kernel), kernels
/// overlap over ~27 atoms, so the mean over ~2,800 atoms has a standard error near 0.012;
/// 0.05 is four of those. The maximum over the 16 phases is biased upward: its mean is
/// reported by the benchmark, and here only bounded (0 < mean max S < 0.4).
#[test]
fn random_alloy_has_mean_s_near_zero() {
    let (frame, _) = particle(&ParticleSpec::fept(18.0, 11));
    let r = sro(&frame);
    let n = frame.len() as f64;
    for j in 0..N_PHASES {
        let mean = r.order.s.iter().map(|s| s[j]).sum::<f64>() / n;
        assert!(mean.abs() < 0.05, "phase {j}: mean S = {mean}");
    }
    let mean_max = r.order.sro.iter().sum::<f64>() / n;
    assert!(mean_max > 0.0 && mean_max < 0.4, "mean max S = {mean_max}");
}

fn rotate(p: [f64; 3], axis: [f64; 3], angle: f64, shift: [f64; 3]) -> [f64; 3] {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let k = [axis[0] / n, axis[1] / n, axis[2] / n];
    let (s, c) = angle.sin_cos();
    let kxp = [
        k[1] * p[2] - k[2] * p[1],
        k[2] * p[0] - k[0] * p[2],
        k[0] * p[1] - k[1] * p[0],
    ];
    let kp = k[0] * p[0] + k[1] * p[1] + k[2] * p[2];
    let mut q = [0.0; 3];
    for d in 0..3 {
        q[d] = p[d] * c + kxp[d] * s + k[d] * kp * (1.0 - c) + shift[d];
    }
    q
}

/// Rotating and translating a noisy particle with a planted nucleus changes nothing but the
/// labels: the same atoms are mapped, a and S agree to rounding, and the site coordinates of
/// the two fits are related by one cubic symmetry (signed permutation) plus an offset.
#[test]
fn lattice_mapping_is_invariant_to_rotation_and_translation() {
    let spec = ParticleSpec {
        noise: 0.15,
        nuclei: vec![PlantedNucleus {
            phase: 2,
            centre: [2.0, 0.0, -2.0],
            lambda: 6.0,
            beta: 2.0,
        }],
        ..ParticleSpec::fept(14.0, 3)
    };
    let (frame, _) = particle(&spec);
    let base = sro(&frame);
    for (axis, angle, shift) in [
        ([0.3, -0.5, 0.8], 1.1, [10.0, -3.0, 7.5]),
        ([1.0, 1.0, 0.0], 2.9, [0.0, 0.0, 0.0]),
        ([0.0, 0.0, 1.0], 0.0, [-41.0, 12.0, 3.3]),
    ] {
        let mut moved = frame.clone();
        for p in moved.positions.iter_mut() {
            *p = rotate(*p, axis, angle, shift);
        }
        moved.cell = SimBox::enclosing(&moved.positions, 5.0).unwrap();
        let r = sro(&moved);
        assert_eq!(r.lattice.n_unmapped, base.lattice.n_unmapped);
        assert!((r.lattice.lattice_a - base.lattice.lattice_a).abs() < 1e-9);
        // One signed permutation G and offset c with n' = G n + c, found from atom pairs.
        let mapped: Vec<usize> = (0..frame.len())
            .filter(|&i| base.lattice.is_mapped(i))
            .collect();
        let n0 = |i: usize| base.lattice.sites[i].unwrap();
        let n1 = |i: usize| r.lattice.sites[i].unwrap();
        let i0 = mapped[0];
        let mut g = [[0i32; 3]; 3];
        let mut found = false;
        'search: for perm in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            for signs in 0..8 {
                let mut m = [[0i32; 3]; 3];
                for row in 0..3 {
                    m[row][perm[row]] = if signs & (1 << row) != 0 { -1 } else { 1 };
                }
                let apply = |n: [i32; 3]| {
                    let mut o = [0; 3];
                    for row in 0..3 {
                        o[row] = (0..3).map(|c| m[row][c] * n[c]).sum();
                    }
                    o
                };
                let c: Vec<i32> = (0..3).map(|d| n1(i0)[d] - apply(n0(i0))[d]).collect();
                if mapped.iter().all(|&i| {
                    let a = apply(n0(i));
                    (0..3).all(|d| n1(i)[d] == a[d] + c[d])
                }) {
                    g = m;
                    found = true;
                    break 'search;
                }
            }
        }
        assert!(found, "no cubic symmetry relates the two site labellings");
        let _ = g;
        for i in 0..frame.len() {
            assert_eq!(r.lattice.is_mapped(i), base.lattice.is_mapped(i));
            assert!(
                (r.order.sro[i] - base.order.sro[i]).abs() < 1e-9,
                "atom {i}"
            );
            assert_eq!(
                phase_family(r.order.phase[i].max(0) as usize),
                phase_family(base.order.phase[i].max(0) as usize)
            );
        }
    }
}

/// Bad input: one species, three species, positions that are not fcc.
#[test]
fn bad_input_is_refused_with_a_reason() {
    let (mut frame, _) = ordered_particle(4, 8.0, 3.87);
    let pure: Vec<&str> = vec!["Pt"; frame.len()];
    let one = Frame::new(frame.positions.clone(), &pure, frame.cell).unwrap();
    let e = AlloySro::compute(&one, None, &SroParams::default()).unwrap_err();
    assert!(
        matches!(e, SroError::Species(_)) && e.to_string().contains("exactly two"),
        "{e}"
    );
    let cu = frame.species_index("Cu");
    frame.species[0] = cu;
    let e = AlloySro::compute(&frame, None, &SroParams::default()).unwrap_err();
    assert!(e.to_string().contains("found 3"), "{e}");
    // A random gas at the density of fcc: few atoms near any lattice site.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let l = 20.0;
    let n = (4.0 * l * l * l / 3.87f64.powi(3)) as usize;
    let pos: Vec<[f64; 3]> = (0..n)
        .map(|_| {
            [
                rng.gen::<f64>() * l,
                rng.gen::<f64>() * l,
                rng.gen::<f64>() * l,
            ]
        })
        .collect();
    let names: Vec<&str> = (0..n)
        .map(|i| if i % 2 == 0 { "Fe" } else { "Pt" })
        .collect();
    let gas = Frame::new(pos.clone(), &names, SimBox::enclosing(&pos, 1.0).unwrap()).unwrap();
    let e = AlloySro::compute(&gas, None, &SroParams::default()).unwrap_err();
    assert!(matches!(e, SroError::NotFcc(_)), "{e}");
    let e = map_lattice(
        &pos,
        &LatticeParams {
            tolerance: 0.7,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, SroError::Parameter(_)), "{e}");
}

/// Species roles: Fe is A when Fe and Pt occur, otherwise the alphabetically first name, and
/// an explicit pair wins.
#[test]
fn species_roles() {
    let (frame, _) = ordered_particle(4, 6.0, 3.87);
    let r = AlloySro::compute(&frame, None, &SroParams::default()).unwrap();
    assert_eq!(
        (r.species.a_name.as_str(), r.species.b_name.as_str()),
        ("Fe", "Pt")
    );
    let r = AlloySro::compute(&frame, Some(("Pt", "Fe")), &SroParams::default()).unwrap();
    assert_eq!(r.species.a_name, "Pt");
    let names: Vec<&str> = frame
        .species
        .iter()
        .map(|&s| if s == 0 { "Pd" } else { "Co" })
        .collect();
    let other = Frame::new(frame.positions.clone(), &names, frame.cell).unwrap();
    let r = AlloySro::compute(&other, None, &SroParams::default()).unwrap();
    assert_eq!(r.species.a_name, "Co");
    assert!(AlloySro::compute(&frame, Some(("Fe", "Cu")), &SroParams::default()).is_err());
}

//! Nuclei in the chemical order of binary fcc alloys: exact cases, planted nuclei with known
//! phase and centre, and the species-shuffle null model.

use nucleate_core::{Frame, NeighborList, NeighborSpec};
use nucleate_nuclei::null_model::{species_shuffle, NullDistribution, NullParams};
use nucleate_nuclei::{analyse, tetragonality, AnalysisParams, ClimbParams, FrameNuclei};
use nucleate_order::alloy_sro::synthetic::{
    ordered_particle, particle, ParticleSpec, PlantedNucleus,
};
use nucleate_order::alloy_sro::{
    l10_c_axis, phase_family, phase_pattern, sublattice_of, AlloySro, SroParams, N_PHASES,
};

/// Label of unmapped atoms for core climbing: a phase of their own with order 0.
const UNMAPPED: u16 = N_PHASES as u16;

fn params() -> AnalysisParams {
    AnalysisParams {
        climb: ClimbParams::tomography(),
        background: false,
        lattice_a: 3.87,
        v_atom: 3.87f64.powi(3) / 4.0,
        ..AnalysisParams::default()
    }
}

fn phases(sro: &AlloySro) -> Vec<u16> {
    sro.order
        .phase
        .iter()
        .map(|&p| if p < 0 { UNMAPPED } else { p as u16 })
        .collect()
}

fn family(p: u16) -> Option<usize> {
    (p < UNMAPPED).then(|| phase_family(p as usize).index())
}

/// SRO, nuclei and (with `shuffles` > 0) the null model, as `nucleate nuclei --order sro` runs them.
fn run(frame: &Frame, shuffles: usize, seed: u64) -> (AlloySro, FrameNuclei, NullDistribution) {
    let sro = AlloySro::compute(frame, None, &SroParams::default()).unwrap();
    let p = params();
    let res = analyse(frame, &sro.order.sro, &phases(&sro), &p).unwrap();
    let list = NeighborList::build(frame, NeighborSpec::Cutoff { r: p.climb.radius }).unwrap();
    let species: Vec<u16> = sro.is_a.iter().map(|&a| a as u16).collect();
    let eligible: Vec<bool> = (0..frame.len()).map(|i| sro.lattice.is_mapped(i)).collect();
    let null = species_shuffle(
        frame,
        &list,
        &species,
        &eligible,
        &p.climb,
        &NullParams {
            shuffles,
            seed,
            ..Default::default()
        },
        3,
        &family,
        |sp: &[u16]| {
            let is_a: Vec<bool> = sp.iter().map(|&s| s == 1).collect();
            let (s, ph) = sro.weights.best_phase(&is_a).map_err(|e| e.to_string())?;
            Ok((
                s,
                ph.iter()
                    .map(|&p| if p < 0 { UNMAPPED } else { p as u16 })
                    .collect(),
            ))
        },
    )
    .unwrap();
    (sro, res, null)
}

/// A perfect L1_0 particle: S = 1 on every atom, one nucleus of every atom with N_eff = n, and
/// its c/a is exactly 1 (the synthetic lattice is cubic); compressed along c by 4% it reads 0.96.
#[test]
fn perfect_l10_particle_is_one_nucleus() {
    let (mut frame, _) = ordered_particle(2, 9.0, 3.87);
    let (sro, res, _) = run(&frame, 0, 0);
    assert!(sro.order.sro.iter().all(|&s| (s - 1.0).abs() < 1e-12));
    assert_eq!(res.records.len(), 1, "{} nuclei", res.records.len());
    let r = &res.records[0];
    assert_eq!(r.nucleus.n_atoms(), frame.len());
    assert!((r.n_eff - frame.len() as f64).abs() < 1e-9);
    let phase = sro.order.phase[r.nucleus.peak as usize] as usize;
    let axis = l10_c_axis(phase).unwrap();
    assert_eq!(axis, 1);
    let sites = |s: &AlloySro| -> Vec<[i32; 3]> {
        r.nucleus
            .members
            .iter()
            .map(|&m| s.lattice.sites[m as usize].unwrap())
            .collect()
    };
    let ca = tetragonality::c_over_a(&r.nucleus.unwrapped, &sites(&sro), axis).unwrap();
    assert!((ca - 1.0).abs() < 1e-12, "{ca}");
    for p in frame.positions.iter_mut() {
        p[1] *= 0.96;
    }
    let sro2 = AlloySro::compute(&frame, None, &SroParams::default()).unwrap();
    let pos: Vec<[f64; 3]> = r
        .nucleus
        .members
        .iter()
        .map(|&m| frame.positions[m as usize])
        .collect();
    let ca = tetragonality::c_over_a(&pos, &sites(&sro2), axis).unwrap();
    assert!((ca - 0.96).abs() < 1e-9, "{ca}");
}

/// The phase, in the fitted lattice's labels, that corresponds to `planted` (in the
/// generator's labels): the fit may put the origin on another sublattice.
fn fitted_phase(sro: &AlloySro, true_sites: &[[i32; 3]], planted: usize) -> usize {
    (0..N_PHASES)
        .find(|&j| {
            true_sites
                .iter()
                .enumerate()
                .all(|(i, &t)| match sro.lattice.sublattice[i] {
                    Some(s) => {
                        phase_pattern(j)[s as usize]
                            == phase_pattern(planted)[sublattice_of(t) as usize]
                    }
                    None => true,
                })
        })
        .expect("some phase matches the planted pattern")
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>().sqrt()
}

/// Diffuse L1_0 and L1_2 nuclei planted in a disordered particle of 5 nm diameter (S(d) =
/// exp(-(d/lambda)^2), lambda = 8 and 7 A, tomography-like noise 0.1 A) are found with their
/// variant, the core within one nearest-neighbour distance (2.74 A) of the planted centre,
/// and p < 0.05 because their N_eff exceeds every shuffle's largest nucleus of their family.
#[test]
fn planted_nuclei_are_found_and_significant() {
    let planted = [
        PlantedNucleus {
            phase: 4,
            centre: [7.0, 1.0, 0.0],
            lambda: 8.0,
            beta: 2.0,
        },
        PlantedNucleus {
            phase: 7,
            centre: [-9.0, -3.0, 2.0],
            lambda: 7.0,
            beta: 2.0,
        },
    ];
    let spec = ParticleSpec {
        noise: 0.1,
        nuclei: planted.to_vec(),
        ..ParticleSpec::fept(25.0, 21)
    };
    let (frame, true_sites) = particle(&spec);
    let (sro, res, null) = run(&frame, 20, 5);
    assert_eq!(null.len(), 20);
    for pn in &planted {
        let want = fitted_phase(&sro, &true_sites, pn.phase);
        let rec = res
            .records
            .iter()
            .filter(|r| sro.order.phase[r.nucleus.peak as usize] as usize == want)
            .min_by(|a, b| {
                dist(a.nucleus.core_position, pn.centre)
                    .total_cmp(&dist(b.nucleus.core_position, pn.centre))
            })
            .unwrap_or_else(|| panic!("no nucleus of phase {want} (planted {})", pn.phase));
        let d = dist(rec.nucleus.core_position, pn.centre);
        assert!(
            d < 3.87 / 2f64.sqrt(),
            "planted {}: core {d:.2} A from the centre",
            pn.phase
        );
        let f = phase_family(want).index();
        let p = null.p_value(f, rec.n_eff).unwrap();
        let q95 = null.quantile(f, 0.95).unwrap();
        assert!(
            rec.n_eff > q95,
            "planted {}: N_eff {} vs null 95% {q95}",
            pn.phase,
            rec.n_eff
        );
        assert!(p < 0.05, "planted {}: p = {p}", pn.phase);
    }
    // p < 0.05 exactly when N_eff exceeds the null's 95th percentile (nearest rank).
    for r in &res.records {
        let f = phase_family(sro.order.phase[r.nucleus.peak as usize] as usize).index();
        let p = null.p_value(f, r.n_eff).unwrap();
        assert_eq!(
            p < 0.05,
            r.n_eff > null.quantile(f, 0.95).unwrap(),
            "N_eff {}",
            r.n_eff
        );
    }
}

/// Without order the observed particle is one more draw from the null, so the p-value of its
/// largest nucleus of a family is close to uniform: over 12 random particles (1.5 nm radius,
/// 19 shuffles each) the mean is near 1/2 and p <= 0.05 is rare. Rough bounds: the mean of 12
/// uniform values has a standard deviation of 0.083, so [0.2, 0.8] is 3.6 of them; P(3 or
/// more of 12 below 0.05) is 2%.
#[test]
fn random_particles_give_roughly_uniform_p_values() {
    let mut ps = Vec::new();
    for seed in 0..12 {
        let (frame, _) = particle(&ParticleSpec::fept(15.0, 100 + seed));
        let (sro, res, null) = run(&frame, 19, seed);
        let best = res
            .records
            .iter()
            .filter(|r| {
                phase_family(sro.order.phase[r.nucleus.peak as usize] as usize).index() == 0
            })
            .map(|r| r.n_eff)
            .fold(0.0, f64::max);
        // The fraction of shuffles at or above the observed largest, counting the observed
        // particle itself among N + 1 draws: uniform on {1, ..., N+1}/(N+1) under the null.
        let hits = null.largest.iter().filter(|l| l[0] >= best).count();
        ps.push((hits + 1) as f64 / (null.len() + 1) as f64);
    }
    let mean = ps.iter().sum::<f64>() / ps.len() as f64;
    let small = ps.iter().filter(|&&p| p <= 0.05).count();
    assert!((0.2..=0.8).contains(&mean), "{ps:?}");
    assert!(small <= 2, "{ps:?}");
}

/// The same seed gives the same null distribution whatever the number of threads.
#[test]
fn null_model_is_reproducible() {
    let (frame, _) = particle(&ParticleSpec::fept(12.0, 4));
    let (_, _, a) = run(&frame, 8, 77);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let (_, _, b) = pool.install(|| run(&frame, 8, 77));
    assert_eq!(a, b);
    let (_, _, c) = run(&frame, 8, 78);
    assert_ne!(a, c);
}

//! simulate -> reconstruct -> trace -> refine on a small generated FePt particle, scored
//! against the truth (kept small: 40^3 voxels, 19 projections, a 1.2 nm particle).

use nucleate_aet::compare::score_against_truth;
use nucleate_aet::model::{faceted_particle, ParticleParams};
use nucleate_aet::project::{simulate_series, Noise, SimulateParams};
use nucleate_aet::reconstruct::{reconstruct, MethodKind, ReconstructParams};
use nucleate_aet::refine::{refine, RefineParams};
use nucleate_aet::trace::{trace, TraceParams};

#[test]
fn small_particle_round_trip_finds_every_atom_and_species() {
    let (n, pixel) = (40usize, 0.35);
    let box_a = n as f64 * pixel;
    // Off-centre by fractions of a pixel so that a half-pixel shift would show.
    let truth = faceted_particle(
        &ParticleParams {
            radius_a: 6.0,
            centre_a: [box_a / 2.0 + 0.11, box_a / 2.0 - 0.17, box_a / 2.0 + 0.23],
            seed: 5,
            ..Default::default()
        },
        box_a,
    )
    .unwrap();
    let angles: Vec<f64> = (0..19).map(|i| -65.0 + i as f64 * 130.0 / 18.0).collect();
    let sim = SimulateParams {
        size: n,
        pixel_a: pixel,
        counts: vec![("Fe".into(), 129.0), ("Pt".into(), 600.0)],
        b_factors: vec![("Fe".into(), 24.0), ("Pt".into(), 28.0)],
        noise: Noise {
            poisson: true,
            read_noise: 3.0,
            seed: 2,
        },
    };
    let (imgs, geom) = simulate_series(&truth, angles, &sim).unwrap();
    let species = vec!["Fe".to_string(), "Pt".to_string()];
    // SIRT is checked on the geometry in the unit tests; here the default method.
    {
        let method = MethodKind::Genfire;
        let p = ReconstructParams {
            method,
            iterations: 30,
            ..Default::default()
        };
        let rec = reconstruct(&imgs, &geom, &p, &mut |_| {}).unwrap();
        let t = trace(&rec.volume, pixel, &TraceParams::default()).unwrap();
        let model = t.to_frame(&species, box_a).unwrap();
        let all = &score_against_truth(&truth, &model, 1.0)[0];
        // Tolerances: the missing wedge (+-65 degrees) and few projections blur atoms along
        // z by a few tenths of an A; every atom must still be found and classified.
        assert!(all.found_fraction > 0.95, "{method:?} {all:?}");
        assert!(all.false_positive_fraction < 0.05, "{method:?} {all:?}");
        assert!(all.species_accuracy > 0.95, "{method:?} {all:?}");
        assert!(all.rms_error_a < 0.5, "{method:?} {all:?}");
        if method == MethodKind::Genfire {
            let sp: Vec<usize> = (0..model.len())
                .map(|i| {
                    species
                        .iter()
                        .position(|s| s == model.species_of(i))
                        .unwrap()
                })
                .collect();
            let r = refine(
                &model.positions,
                &sp,
                2,
                &imgs,
                &geom,
                &RefineParams {
                    iterations: 3,
                    ..Default::default()
                },
                &mut |_, _| {},
            )
            .unwrap();
            let names: Vec<&str> = r.species.iter().map(|&s| species[s].as_str()).collect();
            let refined =
                nucleate_core::Frame::new(r.positions.clone(), &names, truth.cell).unwrap();
            let after = &score_against_truth(&truth, &refined, 1.0)[0];
            assert!(r.r1_after < r.r1_before, "{} {}", r.r1_before, r.r1_after);
            // Refinement against the projections beats tracing in the volume.
            assert!(
                after.rms_error_a < 0.7 * all.rms_error_a,
                "{after:?} vs {all:?}"
            );
            assert!(
                after.found_fraction > 0.95 && after.species_accuracy > 0.97,
                "{after:?}"
            );
            // Counts per atom come back near the simulated 129 and 600.
            assert!(
                (r.counts_per_atom[0] - 129.0).abs() < 15.0,
                "{:?}",
                r.counts_per_atom
            );
            assert!(
                (r.counts_per_atom[1] - 600.0).abs() < 30.0,
                "{:?}",
                r.counts_per_atom
            );
        }
    }
}

//! Round trip on a generated FePt particle: simulate -> reconstruct (GENFIRE-style and SIRT)
//! -> trace -> refine, scored against the truth per species and stage.
//!
//! `cargo bench -p nucleate-aet --bench aet_roundtrip` runs the realistic case (51
//! projections over +-65 degrees, Fe 129 and Pt 600 counts per atom per projection, read
//! noise 3, pixel 0.35 A). Environment: AET_RADIUS_A (particle {111} facet distance, default
//! 12), AET_SIZE (pixels, default 128), AET_ITER (default 100), AET_OVERSAMPLING (default 2).

use std::time::Instant;

use nucleate_aet::compare::{compare_models, CompareParams};
use nucleate_aet::compare::{score_against_truth, TruthScore};
use nucleate_aet::model::{faceted_particle, ParticleParams};
use nucleate_aet::project::{simulate_series, Noise, SimulateParams};
use nucleate_aet::reconstruct::{reconstruct, MethodKind, ReconstructParams};
use nucleate_aet::refine::{refine, RefineParams};
use nucleate_aet::trace::{trace, TraceParams};

fn env<T: std::str::FromStr>(k: &str, d: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn print_scores(stage: &str, s: &[TruthScore]) {
    for t in s {
        println!(
            "| {stage} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            t.species,
            t.n_truth,
            t.found_fraction,
            t.false_positive_fraction,
            t.species_accuracy,
            t.rms_error_a
        );
    }
}

fn main() {
    let radius: f64 = env("AET_RADIUS_A", 12.0);
    let size: usize = env("AET_SIZE", 128);
    let iters: usize = env("AET_ITER", 100);
    let over: usize = env("AET_OVERSAMPLING", 2);
    let pixel = 0.35;
    let box_a = size as f64 * pixel;
    let truth = faceted_particle(
        &ParticleParams {
            radius_a: radius,
            centre_a: [box_a / 2.0 + 0.13, box_a / 2.0 - 0.21, box_a / 2.0 + 0.07],
            displacement_rms_a: 0.05,
            seed: 7,
            ..Default::default()
        },
        box_a,
    )
    .expect("particle");
    let angles: Vec<f64> = (0..51).map(|i| -65.0 + i as f64 * 2.6).collect();
    let sim = SimulateParams {
        size,
        pixel_a: pixel,
        counts: vec![("Fe".into(), 129.0), ("Pt".into(), 600.0)],
        b_factors: vec![("Fe".into(), 24.0), ("Pt".into(), 28.0)],
        noise: Noise {
            poisson: true,
            read_noise: 3.0,
            seed: 11,
        },
    };
    let (imgs, geom) = simulate_series(&truth, angles, &sim).expect("simulate");
    println!(
        "truth: {} atoms, radius {radius} A, {size}^3 voxels, {} projections",
        truth.len(),
        geom.n_angles()
    );
    println!("| stage | species | n_truth | found (<1 A) | false positives | species accuracy | RMS error (A) |");
    println!("|---|---|---|---|---|---|---|");
    for method in [MethodKind::Genfire, MethodKind::Sirt] {
        let p = ReconstructParams {
            method,
            iterations: iters,
            oversampling: over,
            ..Default::default()
        };
        let t0 = Instant::now();
        let rec = reconstruct(&imgs, &geom, &p, &mut |_| {}).expect("reconstruct");
        let secs = t0.elapsed().as_secs_f64();
        let tr = trace(&rec.volume, pixel, &TraceParams::default()).expect("trace");
        let species = vec!["Fe".to_string(), "Pt".to_string()];
        let model = tr.to_frame(&species, box_a).expect("frame");
        eprintln!(
            "{method:?}: {secs:.1} s, R1 {:.4}, R_free {:?}, centres {:?}",
            rec.r1, rec.r_free, tr.class_centres
        );
        print_scores(
            &format!("{method:?} + trace"),
            &score_against_truth(&truth, &model, 1.0),
        );
        let sp: Vec<usize> = (0..model.len())
            .map(|i| {
                species
                    .iter()
                    .position(|s| s == model.species_of(i))
                    .unwrap_or(0)
            })
            .collect();
        let t1 = Instant::now();
        let r = refine(
            &model.positions,
            &sp,
            2,
            &imgs,
            &geom,
            &RefineParams::default(),
            &mut |_, _| {},
        )
        .expect("refine");
        let names: Vec<&str> = r.species.iter().map(|&s| species[s].as_str()).collect();
        let refined =
            nucleate_core::Frame::new(r.positions.clone(), &names, truth.cell).expect("frame");
        eprintln!(
            "refine: {:.1} s, R1 {:.4} -> {:.4}, B {:?}, counts {:?}, flips {}",
            t1.elapsed().as_secs_f64(),
            r.r1_before,
            r.r1_after,
            r.b_factors,
            r.counts_per_atom,
            r.species_flipped
        );
        print_scores(
            &format!("{method:?} + trace + refine"),
            &score_against_truth(&truth, &refined, 1.0),
        );
        if method == MethodKind::Genfire {
            // A second noise realisation of the same particle, through the same chain.
            let sim2 = SimulateParams {
                noise: Noise {
                    seed: 12,
                    ..sim.noise
                },
                ..sim.clone()
            };
            let (imgs2, _) =
                simulate_series(&truth, geom.angles_deg.clone(), &sim2).expect("simulate");
            let rec2 = reconstruct(&imgs2, &geom, &p, &mut |_| {}).expect("reconstruct");
            let tr2 = trace(&rec2.volume, pixel, &TraceParams::default()).expect("trace");
            let m2 = tr2.to_frame(&species, box_a).expect("frame");
            let sp2: Vec<usize> = (0..m2.len())
                .map(|i| {
                    species
                        .iter()
                        .position(|s| s == m2.species_of(i))
                        .unwrap_or(0)
                })
                .collect();
            let r2 = refine(
                &m2.positions,
                &sp2,
                2,
                &imgs2,
                &geom,
                &RefineParams::default(),
                &mut |_, _| {},
            )
            .expect("refine");
            let names2: Vec<&str> = r2.species.iter().map(|&s| species[s].as_str()).collect();
            let refined2 = nucleate_core::Frame::new(r2.positions.clone(), &names2, truth.cell)
                .expect("frame");
            let c =
                compare_models(&refined, &refined2, &CompareParams::default()).expect("compare");
            let truth_rms = score_against_truth(&truth, &refined, 1.0)[0].rms_error_a;
            println!(
                "\ntwo noise realisations (refined): paired {}, consistent fraction {:.3}, species agreement {:.3}, mean deviation {:.3} A, precision {:.3} A (RMS error vs truth of one model {:.3} A; rotation {:.3} deg)\n",
                c.paired(), c.consistent_fraction(), c.species_agreement(), c.mean_deviation_a(), c.precision_a(), truth_rms, c.rigid.rotation_angle_deg()
            );
        }
    }
}

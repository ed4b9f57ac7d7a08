//! Round trip on a generated FePt particle: simulate -> reconstruct (SART, MBIR, GENFIRE-style, SIRT)
//! -> trace -> refine, scored against the truth per species and stage.
//!
//! `cargo bench -p nucleate-aet --bench aet_roundtrip` runs the realistic case (51
//! projections over +-65 degrees, Fe 129 and Pt 600 counts per atom per projection, read
//! noise 3, pixel 0.35 A). Environment: AET_RADIUS_A (particle {111} facet distance, default
//! 12), AET_SIZE (pixels, default 128), AET_ITER (default 100), AET_OVERSAMPLING (default 2),
//! AET_UPSAMPLE (tracing's spline upsampling, default that of `TraceParams`).
//!
//! Helpers for the side-by-side comparison with other tools (benches/aet_vs_peers.py), run
//! as `cargo bench -p nucleate-aet --bench aet_roundtrip -- MODE ...`:
//! - `particle OUT.extxyz`: the realistic case's particle (the one scored below);
//! - `truth-volume MODEL.extxyz OUT.tif SIZE PIXEL_A`: the noiseless volume of the model
//!   (each atom its voxel-integrated Gaussian, Fe 129 / Pt 600 counts, B Fe 24 / Pt 28 A^2),
//!   in the units of a reconstruction (summing over z gives the 0-degree projection);
//! - `score TRUTH.extxyz MODEL.extxyz`: the truth scores (pairs within 1 A) as JSON;
//! - `correlate A.tif B.tif`: the Pearson correlation of two volumes;
//! - `trace-variants VOLUME.tif TRUTH.extxyz PIXEL_A`: truth scores of tracing with and
//!   without spline upsampling and with several fit half-widths (the measured default);
//! - `r1 VOLUME.tif TILTS.tif ANGLES.csv PIXEL_A`: R1 of the volume's projections against
//!   the tilt series (nucleate's projector, axis at pixel n/2);
//! - `dose-sweep`: the default chain (SART, trace, refine) on particles of two sizes and two
//!   orientations at falling dose (Fe 129 -> 16 counts per atom, Pt in proportion, read
//!   noise 3): where Fe atoms stop being found.

use std::time::Instant;

use nucleate_aet::compare::{compare_models, CompareParams};
use nucleate_aet::compare::{score_against_truth, TruthScore};
use nucleate_aet::model::{faceted_particle, ParticleParams};
use nucleate_aet::project::{gaussian_atoms, simulate_series, Noise, Profile1D, SimulateParams};
use nucleate_aet::project::{project_volume, r1};
use nucleate_aet::reconstruct::{reconstruct, MethodKind, ReconstructParams};
use nucleate_aet::refine::{refine, RefineParams, Refined};
use nucleate_aet::series::{read_tilt_series, read_volume, write_volume};
use nucleate_aet::trace::{trace, TraceParams};
use nucleate_aet::Volume;
use nucleate_aet::{TiltAxis, TiltGeometry};

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

/// The realistic case's particle in a box of `size` voxels of `pixel` A.
fn realistic_particle(radius: f64, size: usize, pixel: f64) -> nucleate_core::Frame {
    let box_a = size as f64 * pixel;
    faceted_particle(
        &ParticleParams {
            radius_a: radius,
            centre_a: [box_a / 2.0 + 0.13, box_a / 2.0 - 0.21, box_a / 2.0 + 0.07],
            displacement_rms_a: 0.05,
            seed: 7,
            ..Default::default()
        },
        box_a,
    )
    .expect("particle")
}

fn read_model(path: &str) -> nucleate_core::Frame {
    nucleate_core::io::read_frame(path, &nucleate_core::io::ReadOptions::default())
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The noiseless volume of `model`: each atom's Gaussian integrated over every voxel.
fn truth_volume(model: &nucleate_core::Frame, n: usize, pixel: f64) -> Volume {
    let atoms = gaussian_atoms(
        model,
        &[("Fe".into(), 129.0), ("Pt".into(), 600.0)],
        &[("Fe".into(), 24.0), ("Pt".into(), 28.0)],
    )
    .expect("species with counts and B factors");
    let mut v = Volume::zeros(n);
    for a in &atoms {
        let s = a.sigma_a / pixel;
        let p: Vec<Profile1D> = (0..3)
            .map(|k| Profile1D::new(a.pos_a[k] / pixel, s, n, false))
            .collect();
        for (k, fz) in p[2].value.iter().enumerate() {
            for (j, fy) in p[1].value.iter().enumerate() {
                let row = v.index(p[0].start, p[1].start + j, p[2].start + k);
                for (i, fx) in p[0].value.iter().enumerate() {
                    v.data[row + i] += (a.counts * fz * fy * fx) as f32;
                }
            }
        }
    }
    v
}

/// Pearson correlation of two volumes of the same size.
fn correlation(a: &Volume, b: &Volume) -> f64 {
    assert_eq!(a.n, b.n, "volumes of different sizes");
    let m = a.data.len() as f64;
    let ma = a.data.iter().map(|&v| v as f64).sum::<f64>() / m;
    let mb = b.data.iter().map(|&v| v as f64).sum::<f64>() / m;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.data.iter().zip(&b.data) {
        let (dx, dy) = (x as f64 - ma, y as f64 - mb);
        sab += dx * dy;
        saa += dx * dx;
        sbb += dy * dy;
    }
    sab / (saa * sbb).sqrt().max(1e-300)
}

/// Refine a traced Fe/Pt model against `imgs` with the default parameters: the refinement
/// and the refined model in `cell`.
fn refine_model(
    model: &nucleate_core::Frame,
    imgs: &[f32],
    geom: &TiltGeometry,
    cell: nucleate_core::SimBox,
) -> (Refined, nucleate_core::Frame) {
    let species = ["Fe", "Pt"];
    let sp: Vec<usize> = (0..model.len())
        .map(|i| usize::from(model.species_of(i) == "Pt"))
        .collect();
    let r = refine(
        &model.positions,
        &sp,
        2,
        imgs,
        geom,
        &RefineParams::default(),
        &mut |_, _| {},
    )
    .expect("refine");
    let names: Vec<&str> = r.species.iter().map(|&s| species[s]).collect();
    let refined = nucleate_core::Frame::new(r.positions.clone(), &names, cell).expect("frame");
    (r, refined)
}

/// The default chain at falling dose on two particle sizes and two orientations.
fn dose_sweep() {
    let (size, pixel) = (128usize, 0.35);
    let box_a = size as f64 * pixel;
    let species = vec!["Fe".to_string(), "Pt".to_string()];
    let angles: Vec<f64> = (0..51).map(|i| -65.0 + i as f64 * 2.6).collect();
    println!("| facets (A) | orientation seed | atoms | Fe / Pt counts | trace: Fe found / false / RMS (A) | refine: Fe found / false / RMS (A) | refine: all found / false / RMS (A) |");
    println!("|---|---|---|---|---|---|---|");
    for radius in [10.0, 17.0] {
        for seed in [7u64, 8] {
            let truth = faceted_particle(
                &ParticleParams {
                    radius_a: radius,
                    centre_a: [box_a / 2.0 + 0.13, box_a / 2.0 - 0.21, box_a / 2.0 + 0.07],
                    displacement_rms_a: 0.05,
                    seed,
                    ..Default::default()
                },
                box_a,
            )
            .expect("particle");
            for dose in [1.0, 0.5, 0.25, 0.125] {
                let (fe, pt) = (129.0 * dose, 600.0 * dose);
                let sim = SimulateParams {
                    size,
                    pixel_a: pixel,
                    counts: vec![("Fe".into(), fe), ("Pt".into(), pt)],
                    b_factors: vec![("Fe".into(), 24.0), ("Pt".into(), 28.0)],
                    noise: Noise {
                        poisson: true,
                        read_noise: 3.0,
                        seed: 11,
                    },
                };
                let (imgs, geom) = simulate_series(&truth, angles.clone(), &sim).expect("simulate");
                let p = ReconstructParams {
                    method: MethodKind::Sart,
                    iterations: 10,
                    ..Default::default()
                };
                let rec = reconstruct(&imgs, &geom, &p, &mut |_| {}).expect("reconstruct");
                let tr = trace(&rec.volume, pixel, &TraceParams::default()).expect("trace");
                let model = tr.to_frame(&species, box_a).expect("frame");
                let (_, refined) = refine_model(&model, &imgs, &geom, truth.cell);
                let st = score_against_truth(&truth, &model, 1.0);
                let sr = score_against_truth(&truth, &refined, 1.0);
                let fe_of = |s: &[TruthScore]| s.iter().find(|t| t.species == "Fe").cloned();
                let (tf, rf) = (fe_of(&st).expect("Fe"), fe_of(&sr).expect("Fe"));
                println!(
                    "| {radius} | {seed} | {} | {fe:.0} / {pt:.0} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} |",
                    truth.len(),
                    tf.found_fraction,
                    tf.false_positive_fraction,
                    tf.rms_error_a,
                    rf.found_fraction,
                    rf.false_positive_fraction,
                    rf.rms_error_a,
                    sr[0].found_fraction,
                    sr[0].false_positive_fraction,
                    sr[0].rms_error_a,
                );
            }
        }
    }
}

/// The helper modes; `false` when `args` names none.
fn helper_mode(args: &[String]) -> bool {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["particle", out] => {
            let f = realistic_particle(env("AET_RADIUS_A", 12.0), env("AET_SIZE", 128), 0.35);
            nucleate_core::io::write_frame(out, &f).expect("write particle");
            eprintln!("{} atoms -> {out}", f.len());
        }
        ["truth-volume", model, out, size, pixel] => {
            let v = truth_volume(
                &read_model(model),
                size.parse().expect("SIZE"),
                pixel.parse().expect("PIXEL_A"),
            );
            write_volume(std::path::Path::new(out), &v).expect("write volume");
        }
        ["score", truth, model] => {
            let s = score_against_truth(&read_model(truth), &read_model(model), 1.0);
            println!("{}", serde_json::to_string(&s).expect("json"));
        }
        ["correlate", a, b] => {
            let va = read_volume(std::path::Path::new(a)).expect("volume A");
            let vb = read_volume(std::path::Path::new(b)).expect("volume B");
            println!("{}", correlation(&va, &vb));
        }
        ["trace-variants", vol, truth, pixel] => {
            let v = read_volume(std::path::Path::new(vol)).expect("volume");
            let truth = read_model(truth);
            let pixel: f64 = pixel.parse().expect("PIXEL_A");
            let species = vec!["Fe".to_string(), "Pt".to_string()];
            println!("| upsample | fit half-width (A) | species | found | false pos. | species acc. | RMS (A) |");
            println!("|---|---|---|---|---|---|---|");
            for (up, hw) in [
                (1, 0.35),
                (2, 0.35),
                (3, 0.25),
                (3, 0.35),
                (3, 0.5),
                (3, 0.7),
                (4, 0.35),
            ] {
                let p = TraceParams {
                    upsample: up,
                    fit_half_width_a: hw,
                    ..Default::default()
                };
                let t0 = Instant::now();
                let t = trace(&v, pixel, &p).expect("trace");
                let secs = t0.elapsed().as_secs_f64();
                let m = t.to_frame(&species, v.n as f64 * pixel).expect("frame");
                for s in score_against_truth(&truth, &m, 1.0) {
                    println!(
                        "| {up} | {hw} | {} | {:.3} | {:.3} | {:.3} | {:.3} | ({secs:.1} s)",
                        s.species,
                        s.found_fraction,
                        s.false_positive_fraction,
                        s.species_accuracy,
                        s.rms_error_a
                    );
                }
            }
        }
        ["dose-sweep"] => dose_sweep(),
        ["r1", vol, tilts, angles, pixel] => {
            let v = read_volume(std::path::Path::new(vol)).expect("volume");
            let s = read_tilt_series(
                std::path::Path::new(tilts),
                std::path::Path::new(angles),
                TiltAxis::Y,
            )
            .expect("tilt series");
            let g = TiltGeometry::new(s.angles_deg.clone(), v.n, pixel.parse().expect("PIXEL_A"))
                .expect("geometry");
            println!("{}", r1(&s.images.data, &project_volume(&v, &g)));
        }
        _ => return false,
    }
    true
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if helper_mode(&args) {
        return;
    }
    let radius: f64 = env("AET_RADIUS_A", 12.0);
    let size: usize = env("AET_SIZE", 128);
    let iters: usize = env("AET_ITER", 100);
    let over: usize = env("AET_OVERSAMPLING", 2);
    let pixel = 0.35;
    let box_a = size as f64 * pixel;
    let truth = realistic_particle(radius, size, pixel);
    let tp = TraceParams {
        upsample: env("AET_UPSAMPLE", TraceParams::default().upsample),
        ..Default::default()
    };
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
    // The default (SART, 10 passes), the penalised MBIR (30 passes at relaxation 0.5), and
    // GENFIRE-style and SIRT at AET_ITER iterations.
    for (method, iterations, relaxation) in [
        (MethodKind::Sart, 10, 1.0),
        (MethodKind::Mbir, 30, 0.5),
        (MethodKind::Genfire, iters, 1.0),
        (MethodKind::Sirt, iters, 1.0),
    ] {
        let p = ReconstructParams {
            method,
            iterations,
            relaxation,
            oversampling: over,
            ..Default::default()
        };
        let t0 = Instant::now();
        let rec = reconstruct(&imgs, &geom, &p, &mut |_| {}).expect("reconstruct");
        let secs = t0.elapsed().as_secs_f64();
        let tr = trace(&rec.volume, pixel, &tp).expect("trace");
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
        let t1 = Instant::now();
        let (r, refined) = refine_model(&model, &imgs, &geom, truth.cell);
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
        if method == MethodKind::Sart {
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
            let tr2 = trace(&rec2.volume, pixel, &tp).expect("trace");
            let m2 = tr2.to_frame(&species, box_a).expect("frame");
            let (_, refined2) = refine_model(&m2, &imgs2, &geom, truth.cell);
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

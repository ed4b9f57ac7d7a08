//! Speed of chemical order + nuclei + species-shuffle null model on a 10,000-atom FePt
//! particle, and the size below which planted nuclei are indistinguishable from chance.
//!
//!     cargo run --release -p nucleate-nuclei --example bench_sro -- [threads] [--scan]
//!
//! Prints times (best of 3) and, with --scan, a table: planted lambda, mean N_eff of the
//! recovered nucleus, the null's 95th percentile of the largest N_eff of that family, and the
//! fraction of particles in which the nucleus is found (core within one nearest-neighbour
//! distance, right variant) with p < 0.05.

use std::time::Instant;

use nucleate_core::{Frame, NeighborList, NeighborSpec};
use nucleate_nuclei::null_model::{species_shuffle, NullDistribution, NullParams};
use nucleate_nuclei::{analyse, AnalysisParams, ClimbParams, FrameNuclei};
use nucleate_order::alloy_sro::synthetic::{particle, ParticleSpec, PlantedNucleus};
use nucleate_order::alloy_sro::{
    phase_family, phase_pattern, sublattice_of, AlloySro, SroParams, N_PHASES,
};

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

fn labels(p: &[i16]) -> Vec<u16> {
    p.iter()
        .map(|&x| if x < 0 { UNMAPPED } else { x as u16 })
        .collect()
}

fn sro_nuclei(frame: &Frame) -> (AlloySro, FrameNuclei) {
    let sro = AlloySro::compute(frame, None, &SroParams::default()).unwrap();
    let res = analyse(frame, &sro.order.sro, &labels(&sro.order.phase), &params()).unwrap();
    (sro, res)
}

fn null(frame: &Frame, sro: &AlloySro, shuffles: usize, seed: u64) -> NullDistribution {
    let p = params();
    let list = NeighborList::build(frame, NeighborSpec::Cutoff { r: p.climb.radius }).unwrap();
    let species: Vec<u16> = sro.is_a.iter().map(|&a| a as u16).collect();
    let eligible: Vec<bool> = (0..frame.len()).map(|i| sro.lattice.is_mapped(i)).collect();
    let family = |x: u16| (x < UNMAPPED).then(|| phase_family(x as usize).index());
    species_shuffle(
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
            Ok((s, labels(&ph)))
        },
    )
    .unwrap()
}

/// CPU time (user + system, all threads) of this process in seconds, from /proc (Linux); the
/// wall time of a shared, loaded machine says little, CPU time / threads bounds the wall time
/// on idle cores.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |k: usize| {
        f.get(k)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    // utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}

/// (best wall time, mean CPU time) over 3 runs, seconds.
fn best_of_3(mut f: impl FnMut()) -> (f64, f64) {
    let mut wall = f64::INFINITY;
    let c0 = cpu_seconds();
    for _ in 0..3 {
        let t = Instant::now();
        f();
        wall = wall.min(t.elapsed().as_secs_f64());
    }
    (wall, (cpu_seconds() - c0) / 3.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2);
    let scan = args.iter().any(|a| a == "--scan");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();

    let spec = ParticleSpec {
        noise: 0.1,
        nuclei: vec![
            PlantedNucleus {
                phase: 4,
                centre: [10.0, 0.0, 0.0],
                lambda: 7.0,
                beta: 2.0,
            },
            PlantedNucleus {
                phase: 8,
                centre: [-12.0, 5.0, 0.0],
                lambda: 6.0,
                beta: 2.0,
            },
        ],
        ..ParticleSpec::fept(32.6, 1)
    };
    let (frame, _) = particle(&spec);
    println!("atoms: {}, threads: {threads}", frame.len());
    let t_sro = best_of_3(|| {
        AlloySro::compute(&frame, None, &SroParams::default()).unwrap();
    });
    let t_both = best_of_3(|| {
        sro_nuclei(&frame);
    });
    let (sro, res) = sro_nuclei(&frame);
    println!(
        "kernel neighbours per atom: {:.0}, nuclei: {}",
        sro.weights.mean_neighbors(),
        res.records.len()
    );
    let t_null = best_of_3(|| {
        null(&frame, &sro, 100, 0);
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {}", load.trim());
    println!("stage: best wall s / mean CPU s (all threads)");
    println!(
        "SRO (lattice fit + kernel + 16 phases): {:.3} / {:.3}",
        t_sro.0, t_sro.1
    );
    println!(
        "SRO + nuclei with every metric:        {:.3} / {:.3}",
        t_both.0, t_both.1
    );
    println!(
        "100-shuffle null alone:                {:.3} / {:.3}",
        t_null.0, t_null.1
    );
    println!(
        "SRO + nuclei + 100-shuffle null:       {:.3} / {:.3}",
        t_both.0 + t_null.0,
        t_both.1 + t_null.1
    );

    // Bias of the maximum over the 16 phases in a random alloy.
    let (rand_frame, _) = particle(&ParticleSpec::fept(25.0, 2));
    let r = AlloySro::compute(&rand_frame, None, &SroParams::default()).unwrap();
    let n = rand_frame.len() as f64;
    let mean_max = r.order.sro.iter().sum::<f64>() / n;
    let mean_all = r
        .order
        .s
        .iter()
        .map(|s| s.iter().sum::<f64>() / 16.0)
        .sum::<f64>()
        / n;
    let (_, rres) = sro_nuclei(&rand_frame);
    let rn = null(&rand_frame, &r, 100, 9);
    println!(
        "random 50/50 alloy, {} atoms: mean S_j over phases {mean_all:.4}, mean max_j S_j {mean_max:.3}; {} nuclei, largest N_eff {:.1}; null 95% of largest N_eff: L1_0 {:.1}, L1_2 {:.1}, A1 {:.1}",
        rand_frame.len(),
        rres.records.len(),
        rres.records.iter().map(|r| r.n_eff).fold(0.0, f64::max),
        rn.quantile(0, 0.95).unwrap(),
        rn.quantile(1, 0.95).unwrap(),
        rn.quantile(2, 0.95).unwrap()
    );
    if !scan {
        return;
    }
    println!("\n| family | lambda (A) | atoms within lambda | mean N_eff found | null 95% | found with p < 0.05 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (fam, phase) in [("L1_0", 4usize), ("L1_2", 8)] {
        for lambda in [2.0, 3.0, 4.0, 5.0, 6.0, 8.0] {
            let mut neff = Vec::new();
            let mut q95 = Vec::new();
            let mut hits = 0;
            let seeds = 6;
            for seed in 0..seeds {
                let centre = [3.0, -2.0, 1.0];
                let spec = ParticleSpec {
                    noise: 0.1,
                    nuclei: vec![PlantedNucleus {
                        phase,
                        centre,
                        lambda,
                        beta: 2.0,
                    }],
                    ..ParticleSpec::fept(25.0, 1000 + seed)
                };
                let (frame, sites) = particle(&spec);
                let (sro, res) = sro_nuclei(&frame);
                let want = (0..N_PHASES)
                    .find(|&j| {
                        sites
                            .iter()
                            .enumerate()
                            .all(|(i, &t)| match sro.lattice.sublattice[i] {
                                Some(s) => {
                                    phase_pattern(j)[s as usize]
                                        == phase_pattern(phase)[sublattice_of(t) as usize]
                                }
                                None => true,
                            })
                    })
                    .unwrap();
                let nd = null(&frame, &sro, 100, seed);
                let f = phase_family(phase).index();
                q95.push(nd.quantile(f, 0.95).unwrap());
                let found = res.records.iter().find(|r| {
                    let c = r.nucleus.core_position;
                    let d = (0..3)
                        .map(|k| (c[k] - centre[k]).powi(2))
                        .sum::<f64>()
                        .sqrt();
                    sro.order.phase[r.nucleus.peak as usize] as usize == want
                        && d < 3.87 / 2f64.sqrt()
                });
                if let Some(r) = found {
                    neff.push(r.n_eff);
                    if nd.p_value(f, r.n_eff).unwrap() < 0.05 {
                        hits += 1;
                    }
                }
            }
            let atoms = 4.0 / 3.0 * std::f64::consts::PI * lambda.powi(3) * 4.0 / 3.87f64.powi(3);
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            println!(
                "| {fam} | {lambda} | {atoms:.0} | {:.1} ({} of {seeds} found) | {:.1} | {hits} of {seeds} |",
                mean(&neff),
                neff.len(),
                mean(&q95)
            );
        }
    }
}

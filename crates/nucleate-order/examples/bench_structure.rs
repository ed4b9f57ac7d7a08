//! Time a-CNA (neighbour list of the 14 nearest + classification) or g(r) on a frame, file
//! reading excluded, best of several runs; used by `benches/cna_vs_ovito.py` and
//! `benches/rdf_vs_freud.py`.
//!
//! Usage: cargo run --release -p nucleate-order --example bench_structure -- cna|rdf FRAME.extxyz
//! [REPEATS] [R_MAX] [BINS]. Threads: RAYON_NUM_THREADS. Prints one JSON line.

use std::time::Instant;

use nucleate_core::io::{read_frame, ReadOptions};
use nucleate_core::{NeighborList, NeighborSpec};
use nucleate_order::cna::{adaptive_cna, counts, CNA_NEIGHBORS};
use nucleate_order::rdf::{rdf, Pair, RdfParams};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: bench_structure cna|rdf FRAME.extxyz [REPEATS] [R_MAX] [BINS]";
    let mode = args.get(1).ok_or(usage)?.clone();
    let frame = read_frame(args.get(2).ok_or(usage)?, &ReadOptions::default())?;
    let repeats: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(5);
    let r_max: f64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let bins: usize = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(200);
    let mut best = f64::INFINITY;
    let mut check = String::new();
    for _ in 0..repeats {
        let t0 = Instant::now();
        if mode == "cna" {
            let list = NeighborList::build(&frame, NeighborSpec::Nearest { k: CNA_NEIGHBORS })?;
            let types = adaptive_cna(&list)?;
            check = format!("{:?}", counts(&types));
        } else {
            let g = rdf(&frame, &[Pair::Total], &RdfParams { r_max, bins })?;
            check = format!("{:.6}", g.g[0].iter().sum::<f64>());
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    println!(
        "{{\"mode\": \"{mode}\", \"atoms\": {}, \"seconds\": {best}, \"check\": \"{check}\"}}",
        frame.len()
    );
    Ok(())
}

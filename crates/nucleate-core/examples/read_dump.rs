//! Read every frame of a trajectory and report the count and the time taken.
//!
//! Usage: `cargo run --release --example read_dump -- PATH [FRAMES] [TYPES]`
//! (FRAMES in `--frames` syntax, e.g. `0:100:10`; TYPES e.g. `Pt` or `Fe,Pt`).

use std::time::Instant;

use nucleate_core::io::{open_trajectory, FrameSelection, ReadOptions};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: read_dump PATH [FRAMES] [TYPES]");
        std::process::exit(2);
    };
    let frames = match args.get(1) {
        Some(s) => match FrameSelection::parse(s) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(2);
            }
        },
        None => FrameSelection::all(),
    };
    let types = args
        .get(2)
        .map(|t| t.split(',').map(String::from).collect());
    let start = Instant::now();
    let result = open_trajectory(path, &ReadOptions { types, frames }).and_then(|t| {
        let mut n_frames = 0usize;
        let mut n_atoms = 0usize;
        for frame in t {
            n_atoms += frame?.len();
            n_frames += 1;
        }
        Ok((n_frames, n_atoms))
    });
    let seconds = start.elapsed().as_secs_f64();
    match result {
        Ok((n_frames, n_atoms)) => {
            println!("frames {n_frames} atoms {n_atoms} seconds {seconds:.4}")
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

//! The throughput benchmark of `nucleate bench md`: an N x N x N-cell fcc block (a = 3.92 A)
//! started at a temperature, NVE, 2 fs steps, skin 1 A, as the LAMMPS run it is compared with.

use std::time::Instant;

use rand::SeedableRng;
use serde::Serialize;

use crate::error::MdError;
use crate::integrate::Md;
use crate::lattice::fcc_block;
use crate::potential::Potential;
use crate::system::System;

/// Result of a benchmark run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// Number of atoms.
    pub atoms: usize,
    /// Steps timed.
    pub steps: u64,
    /// Wall-clock seconds of the timed steps.
    pub seconds: f64,
    /// Atoms times steps per second.
    pub atom_steps_per_s: f64,
}

/// Time `steps` NVE steps of an `cells`^3 fcc block started at `temperature_k`.
pub fn bench_md(
    potential: Potential,
    cells: usize,
    temperature_k: f64,
    steps: u64,
    seed: u64,
) -> Result<BenchResult, MdError> {
    let (x, cell) = fcc_block([cells; 3], 3.92)?;
    let mut system = System::single_element(x, cell, &potential)?;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    system.maxwell_boltzmann(temperature_k, &mut rng);
    let mut md = Md::new(system, potential, 0.002, 1.0, seed)?;
    md.momentum_every = 0;
    let t0 = Instant::now();
    for _ in 0..steps {
        md.step(false)?;
    }
    let seconds = t0.elapsed().as_secs_f64();
    let atoms = md.system.len();
    Ok(BenchResult {
        atoms,
        steps,
        seconds,
        atom_steps_per_s: atoms as f64 * steps as f64 / seconds.max(1e-12),
    })
}

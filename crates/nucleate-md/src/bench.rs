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
    /// CPU seconds of the timed steps, all threads together (where the platform reports
    /// them): on a shared machine a steadier measure of the work than wall-clock time.
    pub cpu_seconds: Option<f64>,
    /// Atoms times steps per CPU second.
    pub atom_steps_per_cpu_s: Option<f64>,
    /// Neighbour-list builds during the timed steps.
    pub list_builds: u64,
}

/// CPU time (s) used so far by all threads of this process, from Linux' per-thread
/// scheduler statistics (nanoseconds on the CPU); `None` elsewhere.
pub fn process_cpu_seconds() -> Option<f64> {
    let mut total_ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total_ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total_ns as f64 * 1e-9)
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
    let builds0 = md.list().builds();
    let cpu0 = process_cpu_seconds();
    let t0 = Instant::now();
    // The steps run on a worker of the thread pool, which then takes part in the list
    // builds' parallel loops itself instead of handing each to the pool and waiting.
    rayon::scope(|_| {
        for _ in 0..steps {
            md.step(false)?;
        }
        Ok::<(), MdError>(())
    })?;
    let seconds = t0.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
    let atoms = md.system.len();
    let work = atoms as f64 * steps as f64;
    Ok(BenchResult {
        atoms,
        steps,
        seconds,
        atom_steps_per_s: work / seconds.max(1e-12),
        cpu_seconds,
        atom_steps_per_cpu_s: cpu_seconds.map(|c| work / c.max(1e-12)),
        list_builds: md.list().builds() - builds0,
    })
}

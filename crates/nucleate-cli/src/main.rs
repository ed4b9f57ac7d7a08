//! `nucleate`: the command-line program. Parsing and wiring only; the science lives in
//! the library crates.

use clap::{Parser, Subcommand};

mod commands;

/// Study how crystals are born: per-atom order, nuclei, free energies, MD, tomography,
/// in-situ movies and reactor data.
#[derive(Parser)]
#[command(
    name = "nucleate",
    version,
    about = "Study how crystals are born: per-atom order, nuclei and their tracks, nucleation barriers,\nin-situ movies and flow-reactor data.",
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Critical radius and barrier of a nucleus profile (OPG model vs CNT).
    Barrier(commands::barrier::BarrierArgs),
    /// Per-atom bond order: q_l, averaged qbar_l, normalised alpha, solid bonds.
    Order(commands::order::OrderArgs),
    /// UV-Vis peaks, magic-size-cluster families, sizes and concentrations.
    Spectra(commands::reactor::SpectraArgs),
    /// Diameter, aggregation number and extinction from a first excitonic peak.
    Size(commands::reactor::SizeArgs),
    /// SAXS sphere size distribution by Monte Carlo fitting; Bragg peaks.
    Saxs(commands::reactor::SaxsArgs),
    /// Quantised-growth kinetics of magic-size clusters over a temperature program.
    Kinetics(commands::reactor::KineticsArgs),
    /// Analyse an in-situ movie: per-frame series, condensation, out-and-in cycles (or `movie simulate`)
    Movie(commands::imaging::MovieArgs),
    /// Crystallinity of high-resolution frames: Herman's f and lattice orientations
    Crystallinity(commands::imaging::CrystallinityArgs),
    /// Nuclei in the order field of each frame: sizes, N_eff, A_eff, shape, profiles, sites.
    Nuclei(commands::nuclei::NucleiCmd),
    /// Nuclei followed through a trajectory: tracks, merges, divisions, classes.
    Track(commands::nuclei::TrackCmd),
    /// Atomic electron tomography: simulate, reconstruct, trace, refine, compare, run.
    Aet(commands::aet::AetArgs),
    /// Run an MD study (melt, quench, hold) with the embedded EAM engine.
    Simulate(commands::md::SimulateArgs),
    /// EAM energy, per-atom forces and virial of a configuration.
    Energy(commands::md::EnergyArgs),
    /// Benchmarks (`bench md`: MD throughput).
    Bench(commands::md::BenchArgs),
    /// Crystal structure per atom (adaptive CNA), crystallinity, core radius and grains per frame.
    Structure(commands::structure::StructureArgs),
    /// Radial distribution function g(r): partials, windows of frames, peaks.
    Rdf(commands::structure::RdfArgs),
    /// A whole study: MD (or a trajectory), order, nuclei, tracks, barriers and report.html.
    Study(commands::study::StudyArgs),
    // <commands: one variant per subcommand; keep each group's lines together>
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Barrier(args) => commands::barrier::run(args),
        Command::Order(args) => commands::order::run(args),
        Command::Spectra(args) => commands::reactor::run_spectra(args),
        Command::Size(args) => commands::reactor::run_size(args),
        Command::Saxs(args) => commands::reactor::run_saxs(args),
        Command::Kinetics(args) => commands::reactor::run_kinetics(args),
        Command::Movie(args) => commands::imaging::run_movie(args),
        Command::Crystallinity(args) => commands::imaging::run_crystallinity(args),
        Command::Nuclei(args) => commands::nuclei::run_nuclei(args),
        Command::Track(args) => commands::nuclei::run_track(args),
        Command::Aet(args) => commands::aet::run(args),
        Command::Simulate(args) => commands::md::run_simulate(args),
        Command::Energy(args) => commands::md::run_energy(args),
        Command::Bench(args) => commands::md::run_bench(args),
        Command::Structure(args) => commands::structure::run_structure(args),
        Command::Rdf(args) => commands::structure::run_rdf(args),
        Command::Study(args) => commands::study::run(args),
        // <dispatch>
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(err) = run(cli.command) {
        commands::common::report_error(&err);
        std::process::exit(1);
    }
}

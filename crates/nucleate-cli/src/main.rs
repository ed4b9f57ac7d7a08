//! `nucleate`: the command-line program. Parsing and wiring only; the science lives in
//! the library crates.

use clap::{Parser, Subcommand};

mod commands;

/// Study how crystals are born: per-atom order, nuclei, free energies, MD, tomography,
/// in-situ movies and reactor data.
#[derive(Parser)]
#[command(name = "nucleate", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    // <commands: one variant per subcommand; keep each group's lines together>
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
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

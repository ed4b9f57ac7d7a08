//! `nucleate simulate`, `nucleate energy` and `nucleate bench md`: the embedded MD engine.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use nucleate_core::io::{read_frame, write_frame, ReadOptions};
use nucleate_core::PropertyValues;
use nucleate_md::forces::{evaluate, EnergyRequest};
use nucleate_md::protocol::Plan;
use nucleate_md::run::{run_study, Outcome, Progress};
use nucleate_md::units::NKTV2P;
use nucleate_md::Potential;
use serde_json::json;

/// Arguments of `nucleate simulate`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Outputs: DIR/traj.dump.gz (ITEM: ATOMS id type x y z), DIR/thermo.csv \
(step,time_ps,temp_k,pe_ev_per_atom,etotal_ev_per_atom,press_bar,volume_a3), DIR/checkpoint.json.\n\
Ctrl-C writes a checkpoint; --resume continues bit for bit with the same --threads.\n\n\
Example:\n  nucleate simulate examples/md/pt-droplet.toml -o runs/droplet\n  \
nucleate simulate examples/md/pt-droplet.toml -o runs/droplet --resume\n  \
nucleate simulate examples/md/pt-bulk.toml -o runs/bulk --export-lammps deck/"
)]
pub struct SimulateArgs {
    /// Study file (TOML): structure, potential, stages, outputs.
    pub study: PathBuf,
    /// Output folder.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: PathBuf,
    /// Continue from DIR/checkpoint.json.
    #[arg(long)]
    pub resume: bool,
    /// Also write the protocol as a LAMMPS input deck into this folder (and run nothing).
    #[arg(long, value_name = "DIR2")]
    pub export_lammps: Option<PathBuf>,
    /// Override the study's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Arguments of `nucleate energy`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Prints {\"energy_ev\", \"virial_ev\": [xx,yy,zz,xy,xz,yz], \"pressure_bar\"} \
(virial pressure, no kinetic part).\n\n\
Example:\n  nucleate energy conf.extxyz --potential Pt_u3.eam -o forces.extxyz\n  \
nucleate energy conf.extxyz --potential builtin:sutton-chen-pt"
)]
pub struct EnergyArgs {
    /// A configuration (extXYZ, LAMMPS dump or data file; the first frame).
    pub input: PathBuf,
    /// A LAMMPS funcfl/setfl file, or builtin:pt-u3 | builtin:sutton-chen-pt | builtin:sutton-chen-pd.
    #[arg(long, value_name = "FILE|builtin:NAME")]
    pub potential: String,
    /// Write the configuration with per-atom `forces` (eV/A) and `energies` (eV) here.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Species names of LAMMPS atom types (`--types Pt`).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Arguments of `nucleate bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub which: BenchCommand,
}

/// Benchmarks.
#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// MD throughput: NVE steps of an fcc block, JSON {atoms, steps, seconds, atom_steps_per_s}.
    Md(BenchMdArgs),
}

/// Arguments of `nucleate bench md`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "An N x N x N-cell fcc block (a = 3.92 A, 4 N^3 atoms) started at T, NVE, \
2 fs, skin 1 A.\n\nExample:\n  nucleate bench md --cells 10 --temperature 300 --steps 1000 --threads 1 --potential builtin:pt-u3"
)]
pub struct BenchMdArgs {
    /// Cells per axis.
    #[arg(long, default_value_t = 10)]
    pub cells: usize,
    /// Starting temperature (K).
    #[arg(long, default_value_t = 300.0)]
    pub temperature: f64,
    /// Steps timed.
    #[arg(long, default_value_t = 1000)]
    pub steps: u64,
    /// Potential file or builtin:NAME.
    #[arg(
        long,
        default_value = "builtin:pt-u3",
        value_name = "FILE|builtin:NAME"
    )]
    pub potential: String,
    /// Seed of the initial velocities.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Write the JSON here too.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// A progress bar with ETA on stderr (hidden with --quiet or when not a terminal).
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(quiet: bool) -> Self {
        use std::io::IsTerminal;
        if quiet || !std::io::stderr().is_terminal() {
            return Bar(indicatif::ProgressBar::hidden());
        }
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps [{elapsed_precise} < {eta_precise}, {per_sec}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Bar(b)
    }
}

impl Progress for Bar {
    fn update(&mut self, done: u64, total: u64) {
        if self.0.length() != Some(total) {
            self.0.set_length(total);
        }
        self.0.set_position(done);
    }
}

/// `nucleate simulate`.
pub fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let mut plan = Plan::read(&args.study)?;
    if let Some(seed) = args.seed {
        plan.study.seed = seed;
    }
    if let Some(dir) = &args.export_lammps {
        nucleate_md::lammps_export::export(&plan, dir)
            .with_context(|| format!("exporting to {}", dir.display()))?;
        if !args.common.quiet {
            eprintln!("LAMMPS deck written to {}", dir.display());
        }
        return Ok(());
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        // A second handler cannot be installed in the same process; the run still works.
        let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
    }
    let mut bar = Bar::new(args.common.quiet);
    let outcome = run_study(&plan, &args.out, args.resume, &stop, &mut bar)?;
    bar.0.finish_and_clear();
    match outcome {
        Outcome::Finished { steps, last } => {
            if !args.common.quiet {
                eprintln!(
                    "{steps} steps ({:.1} ps); final T {:.1} K, PE {:.6} eV/atom; outputs in {}",
                    last.time_ps,
                    last.temp_k,
                    last.pe_ev_per_atom,
                    args.out.display()
                );
            }
            Ok(())
        }
        Outcome::Interrupted { step } => anyhow::bail!(
            "interrupted at step {step}; checkpoint written to {}; continue with --resume",
            args.out.join("checkpoint.json").display()
        ),
    }
}

/// `nucleate energy`.
pub fn run_energy(args: EnergyArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let potential = Potential::load(&args.potential)?;
    let opts = ReadOptions {
        types: args.types.clone(),
        ..Default::default()
    };
    let mut frame = read_frame(&args.input, &opts)?;
    let map = potential
        .species_map(&frame.species_names)
        .with_context(|| args.input.display().to_string())?;
    let species: Vec<usize> = frame.species.iter().map(|&s| map[s as usize]).collect();
    let r = evaluate(
        &potential,
        &frame.positions,
        &species,
        &frame.cell,
        EnergyRequest::PerAtom,
    );
    let v = frame.cell.volume();
    let pressure_bar = (r.virial[0] + r.virial[1] + r.virial[2]) / (3.0 * v) * NKTV2P;
    let out = json!({
        "energy_ev": r.energy,
        "virial_ev": r.virial,
        "pressure_bar": pressure_bar,
    });
    println!("{out}");
    if let Some(path) = &args.out {
        frame.set_property(
            "forces",
            3,
            PropertyValues::Real(r.forces.iter().flatten().copied().collect()),
        )?;
        frame.set_property("energies", 1, PropertyValues::Real(r.per_atom.clone()))?;
        frame
            .info
            .retain(|(k, _)| !matches!(k.as_str(), "energy_ev" | "virial_ev" | "pressure_bar"));
        frame
            .info
            .push(("energy_ev".into(), format!("{}", r.energy)));
        frame.info.push((
            "virial_ev".into(),
            format!(
                "\"{}\"",
                r.virial
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ));
        frame
            .info
            .push(("pressure_bar".into(), format!("{pressure_bar}")));
        write_frame(path, &frame)?;
    }
    Ok(())
}

/// `nucleate bench ...`.
pub fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    match args.which {
        BenchCommand::Md(a) => {
            a.common.init_threads()?;
            let potential = Potential::load(&a.potential)?;
            let r =
                nucleate_md::bench::bench_md(potential, a.cells, a.temperature, a.steps, a.seed)?;
            let text = serde_json::to_string(&r)?;
            println!("{text}");
            if let Some(p) = &a.out {
                let mut f = nucleate_core::io::AtomicFile::create(p)
                    .with_context(|| p.display().to_string())?;
                std::io::Write::write_all(&mut f, format!("{text}\n").as_bytes())
                    .with_context(|| p.display().to_string())?;
                f.commit().with_context(|| p.display().to_string())?;
            }
            Ok(())
        }
    }
}

//! `nucleate order`: per-atom bond-orientational order of every selected frame.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use nucleate_core::io::{create_trajectory, open_trajectory, AtomicFile, FrameSource, ReadOptions};
use nucleate_core::{Frame, NeighborList, NeighborSpec, PropertyValues};
use nucleate_order::{BondOrder, BondOrderParams, SolidRule};

use super::common::{CommonArgs, Progress};

/// Arguments of `nucleate order`.
#[derive(Args, Debug)]
#[command(after_help = "\
Computes for every atom, from its neighbours (cutoff or k nearest, periodic images per axis):
  q_l     Steinhardt bond order, q_l = sqrt(4pi/(2l+1) sum_m |q_lm|^2), q_lm = mean of Y_lm over bonds
  qbar_l  Lechner-Dellago average of q_lm over the atom and its neighbours (self included)
  alpha   sqrt(qbar4^2 + qbar6^2) / (the same for perfect fcc with these settings), unclipped;
          alpha_clipped is clipped to [0, 1]
  solid   1 when at least --solid-bonds neighbours have d6 = q6(i).q6(j)/|q6(i)||q6(j)| > --d6-min
          (ten Wolde-Frenkel); `cluster` labels solid clusters, 0 = largest, -1 = not solid
Atoms without neighbours get q = 0 and n_neighbors = 0 (counted as n_isolated in the summary).
Output: extended XYZ with per-atom columns q4 q6 qbar4 qbar6 alpha solid (plus q<l> qbar<l> for
other --l, alpha_clipped, n_neighbors, solid_bonds, cluster); the settings are recorded in the
comment line. --summary writes CSV: frame,n_atoms,mean_alpha,frac_alpha_ge_0.3,n_solid,
largest_solid_cluster,n_isolated (frame = 0-based index in the input).

Examples:
  nucleate order examples/pt-droplet-950K.dump.gz --types Pt -o out/order.extxyz --summary out/order.csv
  nucleate order model.extxyz --nearest 12 --l 4,6,8 -o model.order.extxyz
  nucleate order traj.dump.gz --frames 0:100:10 -o every10.extxyz")]
pub struct OrderArgs {
    /// Input: extended XYZ, LAMMPS dump (.gz too) or LAMMPS data file.
    pub input: PathBuf,
    /// Output extended XYZ file (all selected frames).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Neighbour cutoff (Angstrom).
    #[arg(long, default_value_t = 3.8, conflicts_with = "nearest")]
    pub cutoff: f64,
    /// Use the k nearest neighbours instead of a cutoff.
    #[arg(long, value_name = "K")]
    pub nearest: Option<usize>,
    /// Degrees l of q_l and qbar_l (4 and 6 are always computed).
    #[arg(long = "l", value_delimiter = ',', default_value = "4,6")]
    pub ls: Vec<usize>,
    /// Frames to analyse: `all`, `5`, `-1`, `last`, `0:100:10`, `0,5,9`.
    #[arg(long, default_value = "all")]
    pub frames: String,
    /// Species of LAMMPS atom types 1, 2, ... (e.g. `Pt` or `Fe,Pt`).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    /// Per-frame summary CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub summary: Option<PathBuf>,
    /// Threshold on the normalised q6 product for a solid bond.
    #[arg(long, default_value_t = 0.7)]
    pub d6_min: f64,
    /// Solid bonds needed for a solid atom.
    #[arg(long, default_value_t = 7)]
    pub solid_bonds: usize,
    /// Lattice constant (Angstrom) of the perfect fcc crystal that normalises alpha.
    #[arg(long, default_value_t = 3.92)]
    pub fcc_a: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `nucleate order`.
pub fn run(args: OrderArgs) -> Result<()> {
    args.common.init_threads()?;
    let spec = match args.nearest {
        Some(k) => NeighborSpec::Nearest { k },
        None => NeighborSpec::Cutoff { r: args.cutoff },
    };
    let params = BondOrderParams {
        ls: args.ls.clone(),
        solid: SolidRule {
            d6_min: args.d6_min,
            n_bonds: args.solid_bonds,
        },
        fcc_a: args.fcc_a,
    };
    // Settings are validated before any frame is read.
    if let NeighborSpec::Cutoff { r } = spec {
        anyhow::ensure!(
            r.is_finite() && r > 0.0,
            "--cutoff must be a positive number of Angstrom, got {r}"
        );
    }
    anyhow::ensure!(args.nearest != Some(0), "--nearest must be at least 1");
    anyhow::ensure!(
        args.d6_min.is_finite() && args.d6_min.abs() <= 1.0,
        "--d6-min must lie in [-1, 1]"
    );
    anyhow::ensure!(
        args.ls.iter().all(|&l| l <= 64),
        "--l values must lie in 0..=64"
    );
    let selection = super::common::frame_selection(&args.frames)?;
    let options = ReadOptions {
        types: args.types.clone(),
        frames: selection,
        ..Default::default()
    };

    let mut source = open_trajectory(&args.input, &options)?;
    let mut writer = create_trajectory(&args.out)?;
    let mut summary = match &args.summary {
        Some(path) => {
            let mut f = AtomicFile::create(path).with_context(|| format!("{}", path.display()))?;
            writeln!(f, "frame,n_atoms,mean_alpha,frac_alpha_ge_0.3,n_solid,largest_solid_cluster,n_isolated")?;
            Some(f)
        }
        None => None,
    };
    let progress = Progress::frames("order", args.common.quiet);
    let mut n_frames = 0usize;
    while let Some(item) = source.next_indexed() {
        let (index, mut frame) = item?;
        let list = NeighborList::build(&frame, spec)
            .with_context(|| format!("{}: frame {index}", args.input.display()))?;
        let order = BondOrder::compute(&list, &params)
            .with_context(|| format!("{}: frame {index}", args.input.display()))?;
        if let Some(f) = summary.as_mut() {
            let n = frame.len();
            let mean = if n > 0 {
                order.alpha.iter().sum::<f64>() / n as f64
            } else {
                f64::NAN
            };
            let frac = if n > 0 {
                order.alpha.iter().filter(|&&a| a >= 0.3).count() as f64 / n as f64
            } else {
                f64::NAN
            };
            writeln!(
                f,
                "{index},{n},{mean},{frac},{},{},{}",
                order.solid.n_solid(),
                order.solid.largest_cluster(),
                order.n_isolated()
            )?;
        }
        attach(&mut frame, &order, spec, &params)?;
        writer.write_frame(&frame)?;
        n_frames += 1;
        progress.tick();
    }
    progress.finish();
    anyhow::ensure!(
        n_frames > 0,
        "{}: no frame selected by --frames {}",
        args.input.display(),
        args.frames
    );
    writer.finish()?;
    if let Some(f) = summary {
        f.commit()?;
    }
    Ok(())
}

/// The per-atom results as extXYZ columns, and the settings in the comment line.
fn attach(
    frame: &mut Frame,
    order: &BondOrder,
    spec: NeighborSpec,
    params: &BondOrderParams,
) -> Result<()> {
    let real = |v: &[f64]| PropertyValues::Real(v.to_vec());
    // The contract's columns first, in the contract's order.
    let q4 = order.q_l(4).expect("l = 4 is always computed");
    let q6 = order.q_l(6).expect("l = 6 is always computed");
    frame.set_property("q4", 1, real(q4))?;
    frame.set_property("q6", 1, real(q6))?;
    frame.set_property("qbar4", 1, real(order.qbar_l(4).expect("l = 4")))?;
    frame.set_property("qbar6", 1, real(order.qbar_l(6).expect("l = 6")))?;
    frame.set_property("alpha", 1, real(&order.alpha))?;
    frame.set_property(
        "solid",
        1,
        PropertyValues::Int(order.solid.solid.iter().map(|&s| s as i64).collect()),
    )?;
    for (k, &l) in order.ls.iter().enumerate() {
        if l != 4 && l != 6 && params.ls.contains(&l) {
            frame.set_property(&format!("q{l}"), 1, real(&order.q[k]))?;
            frame.set_property(&format!("qbar{l}"), 1, real(&order.qbar[k]))?;
        }
    }
    frame.set_property(
        "alpha_clipped",
        1,
        real(&nucleate_order::alpha::clip_unit(&order.alpha)),
    )?;
    let ints = |v: &[u32]| PropertyValues::Int(v.iter().map(|&x| x as i64).collect());
    frame.set_property("n_neighbors", 1, ints(&order.n_neighbors))?;
    frame.set_property("solid_bonds", 1, ints(&order.solid.n_solid_bonds))?;
    frame.set_property(
        "cluster",
        1,
        PropertyValues::Int(order.solid.cluster.iter().map(|&c| c as i64).collect()),
    )?;
    let neighbors = match spec {
        NeighborSpec::Cutoff { r } => format!("cutoff:{r}"),
        NeighborSpec::Nearest { k } => format!("nearest:{k}"),
        NeighborSpec::Shell { r_min, r_max } => format!("shell:{r_min}:{r_max}"),
    };
    let settings = [
        ("order_neighbors", neighbors),
        ("order_fcc_qbar4", format!("{}", order.reference.qbar4)),
        ("order_fcc_qbar6", format!("{}", order.reference.qbar6)),
        ("order_d6_min", format!("{}", params.solid.d6_min)),
        ("order_solid_bonds", format!("{}", params.solid.n_bonds)),
    ];
    for (k, v) in settings {
        frame.info.retain(|(key, _)| key != k);
        frame.info.push((k.to_string(), v));
    }
    Ok(())
}

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

With --chemical (binary fcc alloys such as FePt): fits one fcc lattice (a, orientation, origin)
to the atoms, maps each atom to integer site coordinates (i,j,k), i+j+k even, and its sublattice
0-3 = (0,0,0),(1,1,0),(1,0,1),(0,1,1) mod 2 (atoms farther than --map-tolerance x a from every
site are unmapped: phase -1), and computes per atom the Gaussian-kernel order (sigma =
--sigma-a x a) of 16 reference phases, S_j = (f - f_rand)/(1 - f_rand), keeping the highest:
  0-5   L1_0 AB, c along x (0,1), y (2,3), z (4,5); even planes hold A (even phase) or B (odd)
  6-9   L1_2 AB3 (FePt3), A on sublattice 0-3     10-13 L1_2 A3B (Fe3Pt), B on sublattice 0-3
  14    A1 B-rich (all Pt)                        15    A1 A-rich (all Fe)
A is Fe and B is Pt when both occur (else alphabetical, or --species A,B).
Output columns: lattice_i lattice_j lattice_k sublattice phase sro (plus site_deviation, A);
--summary FILE.json: species, lattice_a, rotation (columns = lattice axes), origin,
n_unmapped, rms_deviation_a, atoms_per_phase, mean_sro.

Examples:
  nucleate order model.extxyz --chemical -o model.sro.extxyz --summary model.sro.json
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
    /// Chemical short-range order of a binary fcc alloy instead of bond order: per-atom
    /// lattice_i lattice_j lattice_k sublattice phase sro (--summary then writes JSON).
    #[arg(long)]
    pub chemical: bool,
    /// First guess of the alloy's lattice constant (Angstrom), refined by the fit (--chemical).
    #[arg(long, default_value_t = 3.87, requires = "chemical")]
    pub lattice_a: f64,
    /// Kernel width sigma of the chemical order in lattice constants (--chemical).
    #[arg(long, default_value_t = 0.75, requires = "chemical")]
    pub sigma_a: f64,
    /// The two species as A,B (A plays Fe, B plays Pt); default: Fe,Pt if both occur, else
    /// alphabetical (--chemical).
    #[arg(long, value_delimiter = ',', requires = "chemical")]
    pub species: Option<Vec<String>>,
    /// Atoms farther than this many lattice constants from every site are unmapped (--chemical).
    #[arg(long, default_value_t = 0.3, requires = "chemical")]
    pub map_tolerance: f64,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `nucleate order`.
pub fn run(args: OrderArgs) -> Result<()> {
    args.common.init_threads()?;
    if args.chemical {
        return run_chemical(&args);
    }
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

/// `nucleate order --chemical`: lattice mapping and chemical short-range order of every frame.
fn run_chemical(args: &OrderArgs) -> Result<()> {
    use nucleate_order::alloy_sro::{phase_name, AlloySro, LatticeParams, SroParams, N_PHASES};
    anyhow::ensure!(
        args.lattice_a.is_finite() && args.lattice_a > 0.0,
        "--lattice-a must be a positive number of Angstrom, got {}",
        args.lattice_a
    );
    anyhow::ensure!(
        args.sigma_a.is_finite() && args.sigma_a > 0.0,
        "--sigma-a must be positive, got {}",
        args.sigma_a
    );
    anyhow::ensure!(
        args.map_tolerance > 0.0 && args.map_tolerance < 0.5,
        "--map-tolerance must lie in (0, 0.5), got {}",
        args.map_tolerance
    );
    if let Some(v) = &args.species {
        anyhow::ensure!(
            v.len() == 2,
            "--species needs two names A,B (e.g. Fe,Pt), got {}",
            v.join(",")
        );
    }
    let params = SroParams {
        lattice: LatticeParams {
            lattice_a: args.lattice_a,
            tolerance: args.map_tolerance,
            ..LatticeParams::default()
        },
        sigma_a: args.sigma_a,
    };
    let selection = super::common::frame_selection(&args.frames)?;
    let options = ReadOptions {
        types: args.types.clone(),
        frames: selection,
    };
    let mut source = open_trajectory(&args.input, &options)?;
    let mut writer = create_trajectory(&args.out)?;
    let mut summaries = Vec::new();
    while let Some(item) = source.next_indexed() {
        let (index, mut frame) = item?;
        let place = || format!("{}: frame {index}", args.input.display());
        let species = args
            .species
            .as_ref()
            .map(|v| (v[0].as_str(), v[1].as_str()));
        let sro = AlloySro::compute(&frame, species, &params).with_context(place)?;
        let n = frame.len();
        let site = |d: usize| -> Vec<i64> {
            sro.lattice
                .sites
                .iter()
                .map(|s| s.map(|s| s[d] as i64).unwrap_or(0))
                .collect()
        };
        frame.set_property("lattice_i", 1, PropertyValues::Int(site(0)))?;
        frame.set_property("lattice_j", 1, PropertyValues::Int(site(1)))?;
        frame.set_property("lattice_k", 1, PropertyValues::Int(site(2)))?;
        frame.set_property(
            "sublattice",
            1,
            PropertyValues::Int(
                sro.lattice
                    .sublattice
                    .iter()
                    .map(|s| s.map(|s| s as i64).unwrap_or(-1))
                    .collect(),
            ),
        )?;
        frame.set_property(
            "phase",
            1,
            PropertyValues::Int(sro.order.phase.iter().map(|&p| p as i64).collect()),
        )?;
        frame.set_property("sro", 1, PropertyValues::Real(sro.order.sro.clone()))?;
        frame.set_property(
            "site_deviation",
            1,
            PropertyValues::Real(sro.lattice.deviation.clone()),
        )?;
        let settings = [
            (
                "sro_species",
                format!("{},{}", sro.species.a_name, sro.species.b_name),
            ),
            ("sro_lattice_a", format!("{}", sro.lattice.lattice_a)),
            ("sro_sigma_a", format!("{}", args.sigma_a)),
            ("sro_n_unmapped", format!("{}", sro.lattice.n_unmapped)),
        ];
        for (k, v) in settings {
            frame.info.retain(|(key, _)| key != k);
            frame.info.push((k.to_string(), v));
        }
        writer.write_frame(&frame)?;
        let per_phase = sro.order.atoms_per_phase();
        let (a, b) = (&sro.species.a_name, &sro.species.b_name);
        let mapped = n - sro.lattice.n_unmapped;
        summaries.push(serde_json::json!({
            "frame": index,
            "n_atoms": n,
            "species": {"A": a, "B": b},
            "fraction_a": sro.order.fraction_a,
            "lattice_a": sro.lattice.lattice_a,
            "rotation": sro.lattice.rotation,
            "origin": sro.lattice.origin,
            "n_unmapped": sro.lattice.n_unmapped,
            "unmapped": (0..n).filter(|&i| !sro.lattice.is_mapped(i)).collect::<Vec<_>>(),
            "rms_deviation_a": sro.lattice.rms_deviation,
            "sigma_a": args.sigma_a,
            "atoms_per_phase": (0..N_PHASES)
                .map(|j| serde_json::json!({"phase": j, "name": phase_name(j, a, b), "atoms": per_phase[j]}))
                .collect::<Vec<_>>(),
            "mean_sro": sro.order.sro.iter().sum::<f64>() / mapped.max(1) as f64,
        }));
    }
    anyhow::ensure!(
        !summaries.is_empty(),
        "{}: no frame selected by --frames {}",
        args.input.display(),
        args.frames
    );
    writer.finish()?;
    if let Some(path) = &args.summary {
        // The first frame's fields at the top level (a tomography model is one frame), every
        // frame under "frames".
        let mut top = summaries[0].clone();
        top["frames"] = serde_json::Value::Array(summaries);
        let mut f = AtomicFile::create(path).with_context(|| format!("{}", path.display()))?;
        serde_json::to_writer_pretty(&mut f, &top)?;
        writeln!(f)?;
        f.commit()?;
    }
    Ok(())
}

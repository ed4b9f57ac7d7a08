//! `nucleate structure` (a-CNA per atom, crystallinity and grains per frame) and `nucleate rdf`
//! (g(r), partials, windows and peaks).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use nucleate_core::io::{create_trajectory, open_trajectory, AtomicFile, FrameSource, ReadOptions};
use nucleate_core::{NeighborList, NeighborSpec, PropertyValues};
use nucleate_order::cna::{adaptive_cna, counts, Structure, CNA_NEIGHBORS};
use nucleate_order::crystallinity::{analyse_particle, frame_energy_ev, ParticleParams};
use nucleate_order::rdf::{peaks, rdf, Pair, Rdf, RdfParams, RdfWindow};
use nucleate_report::{Chart, Style};

use super::common::{CommonArgs, Progress};

/// `OUT` with its extension replaced by `suffix` (`gr.csv` + `.peaks.csv` -> `gr.peaks.csv`).
fn beside(out: &Path, suffix: &str) -> PathBuf {
    // `a.extxyz.gz` -> `a` as for `a.extxyz`.
    let name = out
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let stem = Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    out.with_file_name(format!("{stem}{suffix}"))
}

fn create(path: &Path) -> Result<AtomicFile> {
    AtomicFile::create(path).with_context(|| format!("{}: cannot create", path.display()))
}

/// Arguments of `nucleate structure`.
#[derive(Args, Debug)]
#[command(after_help = "\
Adaptive common neighbour analysis per atom (OVITO's numbering: 0 other, 1 fcc, 2 hcp, 3 bcc,
4 icosahedral; 12 nearest neighbours for fcc/hcp/ico, 14 for bcc), and per frame the
crystallinity of the particle:
  ac_ratio       amorphous / crystalline atoms (crystalline = fcc + hcp + bcc), surface atoms
                 (fewer than 10 neighbours within the first shell) excluded; inf without crystal
  core_radius_a  outer radius (A) of the last radial shell from the centre of mass up to which
                 every shell is more than half crystalline; empty when the structure spans a
                 periodic box
  n_grains       clusters (>= --min-grain atoms) of crystalline neighbours whose lattice
                 orientations (Kabsch fit of the neighbour shell) differ by < --misorientation
                 degrees, cubic symmetry for fcc/bcc
Output: extended XYZ with per-atom `structure` (0-4), `grain` (-1 = none, 0 = largest) and
`surface`; --summary CSV: frame,n_atoms,n_other,n_fcc,n_hcp,n_bcc,n_ico,ac_ratio,core_radius_a,
n_grains,energy_ev,largest_grain_atoms,grain_atoms (energy from the frame's `energy_ev`/`energy`
metadata, empty if absent; atoms in the largest grain and in all grains).
Plots of ac_ratio, core radius and grains per frame are written beside OUT (OUT.*.svg).

Examples:
  nucleate structure particle.extxyz -o particle.cna.extxyz --summary particle.csv
  nucleate structure traj.dump.gz --types Pd,O,H --species Pd --frames 0:100:10 -o pd.extxyz")]
pub struct StructureArgs {
    /// Input: extended XYZ, LAMMPS dump (.gz too) or LAMMPS data file.
    pub input: PathBuf,
    /// Output extended XYZ file (all selected frames).
    #[arg(short, long)]
    pub out: PathBuf,
    /// Per-frame summary CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub summary: Option<PathBuf>,
    /// Frames to analyse: `all`, `5`, `-1`, `last`, `0:100:10`, `0,5,9`.
    #[arg(long, default_value = "all")]
    pub frames: String,
    /// Species of LAMMPS atom types 1, 2, ... (e.g. `Pd,O,H`).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    /// Analyse only atoms of these species (the particle); others get structure 0, grain -1.
    #[arg(long, value_delimiter = ',')]
    pub species: Option<Vec<String>>,
    /// Width of the radial shells for the crystalline profile (Angstrom).
    #[arg(long, default_value_t = 2.0)]
    pub shell_width: f64,
    /// First-shell radius for the surface test (Angstrom); default: 1.207 x median 6th-neighbour distance.
    #[arg(long, value_name = "R")]
    pub first_shell: Option<f64>,
    /// Largest misorientation within a grain (degrees).
    #[arg(long, default_value_t = 10.0)]
    pub misorientation: f64,
    /// Smallest grain (atoms).
    #[arg(long, default_value_t = 10)]
    pub min_grain: usize,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `nucleate structure`.
pub fn run_structure(args: StructureArgs) -> Result<()> {
    args.common.init_threads()?;
    let params = ParticleParams {
        shell_cutoff_a: args.first_shell,
        radial_shell_a: args.shell_width,
        misorientation_deg: args.misorientation,
        min_grain_atoms: args.min_grain,
        ..Default::default()
    };
    anyhow::ensure!(
        args.shell_width.is_finite() && args.shell_width > 0.0,
        "--shell-width must be a positive number of Angstrom"
    );
    anyhow::ensure!(
        args.misorientation.is_finite() && args.misorientation > 0.0,
        "--misorientation must be a positive angle in degrees"
    );
    let options = ReadOptions {
        types: args.types.clone(),
        frames: super::common::frame_selection(&args.frames)?,
    };
    let input = args.input.display().to_string();
    let mut source = open_trajectory(&args.input, &options)?;
    let mut writer = create_trajectory(&args.out)?;
    let mut summary = match &args.summary {
        Some(path) => {
            let mut f = create(path)?;
            writeln!(
                f,
                "frame,n_atoms,n_other,n_fcc,n_hcp,n_bcc,n_ico,ac_ratio,core_radius_a,n_grains,energy_ev,largest_grain_atoms,grain_atoms"
            )?;
            Some(f)
        }
        None => None,
    };
    let progress = Progress::frames("structure", args.common.quiet);
    let (mut ratio, mut core, mut grains) = (vec![], vec![], vec![]);
    let mut n_frames = 0usize;
    while let Some(item) = source.next_indexed() {
        let (index, mut frame) = item?;
        let place = || format!("{input}: frame {index}");
        // The particle's atoms: all, or those of --species.
        let chosen: Vec<usize> = match &args.species {
            None => (0..frame.len()).collect(),
            Some(names) => {
                for s in names {
                    anyhow::ensure!(
                        frame.species_names.contains(s),
                        "{}: no species `{s}` (the frame has {})",
                        place(),
                        frame.species_names.join(", ")
                    );
                }
                (0..frame.len())
                    .filter(|&i| names.iter().any(|s| s == frame.species_of(i)))
                    .collect()
            }
        };
        let positions: Vec<[f64; 3]> = chosen.iter().map(|&i| frame.positions[i]).collect();
        anyhow::ensure!(
            frame.cell.any_periodic() || positions.len() > CNA_NEIGHBORS,
            "{}: {} atoms: a free frame needs at least {} for the {CNA_NEIGHBORS}-neighbour shells of a-CNA",
            place(),
            positions.len(),
            CNA_NEIGHBORS + 1
        );
        let list = NeighborList::from_positions(
            &positions,
            &frame.cell,
            NeighborSpec::Nearest { k: CNA_NEIGHBORS },
        )
        .with_context(place)?;
        let types = adaptive_cna(&list).with_context(place)?;
        let particle = analyse_particle(&positions, &frame.cell, &list, &types, &params)
            .with_context(place)?;
        let c = counts(&types);
        let energy = frame_energy_ev(&frame);
        // Grain sizes (labels are ordered by size, 0 the largest).
        let mut grain_sizes = vec![0usize; particle.n_grains];
        for &g in &particle.grain {
            if g >= 0 {
                grain_sizes[g as usize] += 1;
            }
        }
        if let Some(f) = summary.as_mut() {
            let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
            writeln!(
                f,
                "{index},{},{},{},{},{},{},{},{},{},{},{},{}",
                positions.len(),
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                particle.ac_ratio(),
                opt(particle.core_radius_a),
                particle.n_grains,
                opt(energy),
                grain_sizes.first().copied().unwrap_or(0),
                grain_sizes.iter().sum::<usize>()
            )?;
        }
        ratio.push((index as f64, particle.ac_ratio()));
        core.push((index as f64, particle.core_radius_a.unwrap_or(f64::NAN)));
        grains.push((index as f64, particle.n_grains as f64));
        let mut structure = vec![Structure::Other.number() as i64; frame.len()];
        let mut grain = vec![-1i64; frame.len()];
        let mut surface = vec![false; frame.len()];
        for (k, &i) in chosen.iter().enumerate() {
            structure[i] = types[k].number() as i64;
            grain[i] = particle.grain[k];
            surface[i] = particle.surface[k];
        }
        frame.set_property("structure", 1, PropertyValues::Int(structure))?;
        frame.set_property("grain", 1, PropertyValues::Int(grain))?;
        frame.set_property("surface", 1, PropertyValues::Bool(surface))?;
        frame.info.retain(|(k, _)| k != "structure_first_shell_a");
        frame.info.push((
            "structure_first_shell_a".into(),
            format!("{}", particle.shell_cutoff_a),
        ));
        writer.write_frame(&frame)?;
        n_frames += 1;
        progress.tick();
    }
    progress.finish();
    anyhow::ensure!(
        n_frames > 0,
        "{input}: no frame selected by --frames {}",
        args.frames
    );
    writer.finish()?;
    if let Some(f) = summary {
        f.commit()?;
    }
    for (suffix, title, y, data) in [
        (".ac_ratio.svg", "Amorphous / crystalline", "A/C", ratio),
        (
            ".core_radius.svg",
            "Crystalline core radius",
            "core radius (A)",
            core,
        ),
        (".grains.svg", "Grains", "grains", grains),
    ] {
        Chart::new(title, "frame", y)
            .with_series("", data, Style::LinePoints)
            .write_svg(&beside(&args.out, suffix), 720, 420)?;
    }
    Ok(())
}

/// Arguments of `nucleate rdf`.
#[derive(Args, Debug)]
#[command(after_help = "\
Radial distribution function g(r) = pair counts in shells / (N_a N_b / V x 4/3 pi (r2^3 - r1^3)),
every periodic image, freud's conventions (N^2, self excluded). V is the box volume of a periodic
frame; for a free particle V is the particle's own volume, the sphere of radius sqrt(5/3) R_g
(stated on stderr and in OUT.meta.json). g is averaged over windows of --window frames.
Output: CSV frame,r_a,g_<A>_<B>... (frame = first frame of each window, r_a = bin centre; g_total
with several species), OUT.peaks.csv: frame,pair,r_a,height (local maxima with prominence >= 5%
of the largest g, refined by a parabola), OUT.meta.json, and a plot per pair (OUT.<A>-<B>.svg).

Examples:
  nucleate rdf traj.dump.gz --types Pd,O,H --pairs Pd-Pd,Pd-O --window 10 -o gr.csv
  nucleate rdf particle.extxyz --r-max 12 --bins 240 -o particle.gr.csv")]
pub struct RdfArgs {
    /// Input: extended XYZ, LAMMPS dump (.gz too) or LAMMPS data file.
    pub input: PathBuf,
    /// Output CSV.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Largest distance (Angstrom).
    #[arg(long, default_value_t = 10.0)]
    pub r_max: f64,
    /// Number of bins on [0, r_max).
    #[arg(long, default_value_t = 200)]
    pub bins: usize,
    /// Pairs `A-B` (species or LAMMPS type names) or `total`; default: all pairs (and total).
    #[arg(long, value_delimiter = ',')]
    pub pairs: Option<Vec<String>>,
    /// Frames averaged per window.
    #[arg(long, default_value_t = 1)]
    pub window: usize,
    /// Frames to analyse: `all`, `5`, `-1`, `last`, `0:100:10`, `0,5,9`.
    #[arg(long, default_value = "all")]
    pub frames: String,
    /// Species of LAMMPS atom types 1, 2, ... (e.g. `Pd,O,H`).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Run `nucleate rdf`.
pub fn run_rdf(args: RdfArgs) -> Result<()> {
    args.common.init_threads()?;
    anyhow::ensure!(
        args.r_max.is_finite() && args.r_max > 0.0,
        "--r-max must be a positive number of Angstrom"
    );
    anyhow::ensure!(args.bins > 0, "--bins must be at least 1");
    anyhow::ensure!(args.window > 0, "--window must be at least 1");
    let asked: Option<Vec<Pair>> = match &args.pairs {
        Some(list) => Some(
            list.iter()
                .map(|p| Pair::parse(p))
                .collect::<Result<_, _>>()
                .context("--pairs")?,
        ),
        None => None,
    };
    let params = RdfParams {
        r_max: args.r_max,
        bins: args.bins,
    };
    let options = ReadOptions {
        types: args.types.clone(),
        frames: super::common::frame_selection(&args.frames)?,
    };
    let input = args.input.display().to_string();
    let mut source = open_trajectory(&args.input, &options)?;
    let mut pairs: Option<Vec<Pair>> = asked;
    let mut window = RdfWindow::new();
    let mut first_of_window = 0usize;
    let mut done: Vec<(usize, Rdf)> = Vec::new();
    let progress = Progress::frames("rdf", args.common.quiet);
    while let Some(item) = source.next_indexed() {
        let (index, frame) = item?;
        let pairs = pairs.get_or_insert_with(|| Pair::all_of(&frame));
        let g = rdf(&frame, pairs, &params).with_context(|| format!("{input}: frame {index}"))?;
        if window.is_empty() {
            first_of_window = index;
        }
        window.add(g)?;
        if window.len() == args.window {
            done.extend(window.take_mean().map(|m| (first_of_window, m)));
        }
        progress.tick();
    }
    progress.finish();
    done.extend(window.take_mean().map(|m| (first_of_window, m)));
    anyhow::ensure!(
        !done.is_empty(),
        "{input}: no frame selected by --frames {}",
        args.frames
    );
    let pairs = pairs.unwrap_or_default();

    let mut f = create(&args.out)?;
    let columns: Vec<String> = pairs.iter().map(Pair::column).collect();
    writeln!(f, "frame,r_a,{}", columns.join(","))?;
    for (frame, g) in &done {
        for k in 0..g.r.len() {
            write!(f, "{frame},{}", g.r[k])?;
            for col in &g.g {
                write!(f, ",{}", col[k])?;
            }
            writeln!(f)?;
        }
    }
    let peaks_path = beside(&args.out, ".peaks.csv");
    let mut p = create(&peaks_path)?;
    writeln!(p, "frame,pair,r_a,height")?;
    for (frame, g) in &done {
        for (pair, col) in pairs.iter().zip(&g.g) {
            for peak in peaks(&g.r, col, 0.05) {
                writeln!(p, "{frame},{},{},{}", pair.label(), peak.r_a, peak.height)?;
            }
        }
    }
    let meta: Vec<serde_json::Value> = done
        .iter()
        .map(|(frame, g)| {
            serde_json::json!({
                "frame": frame,
                "n_frames": g.n_frames,
                "n_atoms": g.n_atoms,
                "volume_a3": g.normalisation.volume_a3(),
                "normalisation": g.normalisation.describe(g.n_atoms),
            })
        })
        .collect();
    let mut m = create(&beside(&args.out, ".meta.json"))?;
    serde_json::to_writer_pretty(
        &mut m,
        &serde_json::json!({"r_max_a": args.r_max, "bins": args.bins, "window": args.window, "windows": meta}),
    )?;
    f.commit()?;
    p.commit()?;
    m.commit()?;
    if !args.common.quiet {
        if let Some((_, g)) = done.first() {
            eprintln!(
                "g(r) normalised by the {}",
                g.normalisation.describe(g.n_atoms)
            );
        }
    }
    // One plot per pair, at most 8 windows spread over the run.
    let step = done.len().div_ceil(8).max(1);
    for (k, pair) in pairs.iter().enumerate() {
        let mut chart = Chart::new(&format!("g(r) {}", pair.label()), "r (A)", "g(r)");
        for (frame, g) in done.iter().step_by(step) {
            let pts = g.r.iter().zip(&g.g[k]).map(|(&r, &v)| (r, v)).collect();
            chart = chart.with_series(&format!("frame {frame}"), pts, Style::Line);
        }
        chart.write_svg(
            &beside(&args.out, &format!(".{}.svg", pair.label())),
            720,
            420,
        )?;
    }
    Ok(())
}

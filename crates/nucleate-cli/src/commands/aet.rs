//! `nucleate aet ...`: atomic electron tomography (simulate, reconstruct, trace, refine,
//! compare, run). Parsing and file writing only; the science is in `nucleate-aet`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use nucleate_aet::align::{align, alignment_svg, AlignParams, Alignment};
use nucleate_aet::compare::{compare_models, CompareParams};
use nucleate_aet::geometry::{parse_angle_range, TiltAxis, TiltGeometry};
use nucleate_aet::plot::{curves_svg, histogram_svg, orthoslices_png};
use nucleate_aet::project::{simulate_series, Noise, SimulateParams};
use nucleate_aet::reconstruct::{reconstruct, MethodKind, ReconstructParams, Reconstruction};
use nucleate_aet::refine::{refine, Corrections, RefineParams, Refined};
use nucleate_aet::series::{
    normalise_totals, read_angles, read_tilt_series, read_volume, subtract_background,
    write_angles, write_bytes, write_tiff_stack, write_volume, Background, TiltSeries,
};
use nucleate_aet::trace::{trace, TraceParams, TraceResult};
use nucleate_core::io::{read_frame, write_frame, ReadOptions};
use nucleate_core::{Frame, PropertyValues, SimBox};
use serde_json::json;

/// `nucleate aet`: the tomography commands.
#[derive(Args, Debug)]
pub struct AetArgs {
    #[command(subcommand)]
    pub command: AetCommand,
}

/// The `aet` subcommands.
#[derive(Subcommand, Debug)]
pub enum AetCommand {
    /// Simulate an ADF-STEM tilt series of an atomic model (Gaussian atoms, Poisson + read noise).
    Simulate(SimulateArgs),
    /// Reconstruct a volume from a tilt series (OS-SART, MBIR, SIRT or GENFIRE-style).
    Reconstruct(ReconstructArgs),
    /// Trace atoms in a volume and classify them (non-atom / light / heavy).
    Trace(TraceArgs),
    /// Refine a traced model against the measured projections.
    Refine(RefineArgs),
    /// Align and pair two models of one particle: consistency and precision.
    Compare(CompareArgs),
    /// The whole chain: reconstruct, trace, refine, with an HTML report.
    Run(RunArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    /// Generalized Fourier iterative reconstruction.
    Genfire,
    /// Simultaneous iterative reconstruction technique.
    Sirt,
    /// Ordered-subsets SART (SIRT's update subset by subset: far fewer iterations).
    Sart,
    /// Penalised least squares: OS-SART passes with an edge-preserving smoothness penalty.
    Mbir,
}

impl MethodArg {
    fn kind(self) -> MethodKind {
        match self {
            MethodArg::Genfire => MethodKind::Genfire,
            MethodArg::Sirt => MethodKind::Sirt,
            MethodArg::Sart => MethodKind::Sart,
            MethodArg::Mbir => MethodKind::Mbir,
        }
    }

    /// Relaxation of the algebraic updates (see `ReconstructParams::relaxation`).
    fn relaxation(self) -> f64 {
        match self {
            MethodArg::Mbir => 0.5,
            _ => 1.0,
        }
    }

    /// Iterations when none are given: ordered subsets converge in about ten passes (more
    /// fit the noise), the others need about a hundred.
    fn default_iterations(self) -> usize {
        match self {
            MethodArg::Sart => 10,
            MethodArg::Mbir => 30,
            MethodArg::Genfire | MethodArg::Sirt => 100,
        }
    }
}

fn method_name(m: MethodKind) -> &'static str {
    match m {
        MethodKind::Genfire => "genfire",
        MethodKind::Sirt => "sirt",
        MethodKind::Sart => "sart",
        MethodKind::Mbir => "mbir",
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackgroundArg {
    /// A plane fitted to the border pixels (robust to outliers): removes offsets and gradients.
    Plane,
    /// The median of the border pixels: removes a constant offset.
    Median,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AxisArg {
    /// Tilt axis along image rows (the volume frame's y).
    Y,
    /// Tilt axis along image columns: images are transposed on reading.
    X,
}

/// Options of `aet simulate`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate aet simulate particle.extxyz -o series --angles -65:65:2.6 --size 128 --pixel-a 0.35 --counts Fe=129,Pt=600 --b-factor Fe=24,Pt=28 --read-noise 3 --seed 1"
)]
pub struct SimulateArgs {
    /// Atomic model (extXYZ; positions in A in the volume frame).
    pub model: PathBuf,
    /// Output folder: tilts.tif, angles.csv, meta.json.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Angle file (CSV index,angle_deg or .tlt) or a range MIN:MAX:STEP (degrees).
    #[arg(long, allow_hyphen_values = true)]
    pub angles: String,
    /// Image edge (pixels).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Pixel size (A).
    #[arg(long, default_value_t = 0.35)]
    pub pixel_a: f64,
    /// Integrated counts per atom per projection, by species.
    #[arg(long, default_value = "Fe=129,Pt=600")]
    pub counts: String,
    /// Debye-Waller B factor (A^2) by species.
    #[arg(long, default_value = "Fe=24,Pt=28")]
    pub b_factor: String,
    /// Gaussian read noise (counts, standard deviation); Poisson noise is always applied.
    #[arg(long, default_value_t = 3.0)]
    pub read_noise: f64,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Options shared by commands that read a tilt series.
#[derive(Args, Debug, Clone)]
pub struct SeriesArgs {
    /// Angle file: CSV `index,angle_deg` or IMOD .tlt/.rawtlt.
    #[arg(long)]
    pub angles: PathBuf,
    /// Pixel size (A); read from the MRC header when not given.
    #[arg(long)]
    pub pixel_a: Option<f64>,
    /// Tilt-axis position along x and z (pixels; default n/2).
    #[arg(long)]
    pub centre_px: Option<f64>,
    /// Direction of the tilt axis in the images.
    #[arg(long, value_enum, default_value = "y")]
    pub tilt_axis: AxisArg,
    /// Subtract each projection's background, estimated from its border (n/16 pixels wide,
    /// which the particle must not touch); plain `--subtract-background` fits a plane.
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "plane")]
    pub subtract_background: Option<BackgroundArg>,
    /// Scale each projection to the series' mean total intensity (after the background).
    #[arg(long)]
    pub normalise: bool,
}

/// Options of the alignment (`reconstruct`, `run`).
#[derive(Args, Debug, Clone)]
pub struct AlignArgs {
    /// Align the series first: centre of mass across the tilt axis (axis moved to n/2 or
    /// --centre-px), row profiles along it, then projection-matching rounds. Shifts and the R1
    /// of each round go to summary.json, shifts.csv and alignment.svg. Implies
    /// `--subtract-background median` unless a background is given.
    #[arg(long)]
    pub align: bool,
    /// Projection-matching rounds of --align.
    #[arg(long, default_value_t = 5)]
    pub align_rounds: usize,
    /// Reconstruction of the alignment rounds.
    #[arg(long, value_enum, default_value = "sart")]
    pub align_method: AlignMethodArg,
    /// Iterations of each alignment round's reconstruction from an empty volume (default: 3
    /// for sart, 15 for sirt; later rounds continue from the previous volume with a third).
    #[arg(long)]
    pub align_iterations: Option<usize>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AlignMethodArg {
    /// Ordered-subsets SART (converges in a few passes).
    Sart,
    /// SIRT.
    Sirt,
}

/// Options of `aet reconstruct`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  nucleate aet reconstruct series/tilts.tif --angles series/angles.csv --pixel-a 0.35 -o rec\n  nucleate aet reconstruct series/tilts.tif --angles series/angles.csv --pixel-a 0.35 -o rec-genfire --method genfire --iterations 100\n  nucleate aet reconstruct particle.st --angles particle.rawtlt --tilt-axis x --subtract-background --align -o rec"
)]
pub struct ReconstructArgs {
    /// Tilt series: multi-page TIFF or MRC (.mrc, .mrcs, .st, .ali).
    pub tilts: PathBuf,
    #[command(flatten)]
    pub series: SeriesArgs,
    #[command(flatten)]
    pub alignment: AlignArgs,
    /// Output folder: volume.tif, summary.json, residuals.csv, orthoslices.png.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Reconstruction method (sart gave the best atoms on simulated FePt series: see the README).
    #[arg(long, value_enum, default_value = "sart")]
    pub method: MethodArg,
    /// Iterations (default: 10 for sart, 30 for mbir, 100 for genfire and sirt).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// GENFIRE: Fourier-grid oversampling ratio.
    #[arg(long, default_value_t = 2)]
    pub oversampling: usize,
    /// GENFIRE: interpolation radius (Fourier grid units).
    #[arg(long, default_value_t = 0.5)]
    pub interpolation_radius: f64,
    #[command(flatten)]
    pub prior: PriorArgs,
    /// Seed of the R_free selection.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// The penalty of `--method mbir`.
#[derive(Args, Debug, Clone)]
pub struct PriorArgs {
    /// MBIR: smoothing per pass, as a diffusion coefficient (voxels^2) where neighbour
    /// differences are small.
    #[arg(long, default_value_t = ReconstructParams::default().prior_strength)]
    pub prior_strength: f64,
    /// MBIR: differences above this fraction of the volume's 99.9th percentile count as
    /// edges and are penalised linearly.
    #[arg(long, default_value_t = ReconstructParams::default().prior_edge)]
    pub prior_edge: f64,
}

impl PriorArgs {
    fn check(&self) -> anyhow::Result<()> {
        if !(self.prior_strength.is_finite() && self.prior_strength >= 0.0) {
            bail!("--prior-strength must be a non-negative number");
        }
        if !(self.prior_edge.is_finite() && self.prior_edge > 0.0) {
            bail!("--prior-edge must be a positive number");
        }
        Ok(())
    }
}

/// Options of `aet trace`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate aet trace rec/volume.tif --pixel-a 0.35 -o traced --species Fe,Pt"
)]
pub struct TraceArgs {
    /// Volume (float32 TIFF, [z][y][x] pages) as written by `aet reconstruct`.
    pub volume: PathBuf,
    /// Voxel size (A).
    #[arg(long)]
    pub pixel_a: f64,
    /// Output folder: atoms.extxyz, summary.json, histogram.svg.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Species from light to heavy.
    #[arg(long, default_value = "Fe,Pt", value_delimiter = ',')]
    pub species: Vec<String>,
    /// Minimum distance between atoms (A).
    #[arg(long, default_value_t = 2.0)]
    pub min_distance_a: f64,
    /// Cubic-spline upsampling factor before the sub-voxel peak fit (1: fit the voxels).
    #[arg(long, default_value_t = TraceParams::default().upsample)]
    pub upsample: usize,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Options of `aet refine`.
#[derive(Args, Debug)]
#[command(
    after_help = "Positions, per-species B and counts are fitted to the projections by least squares; then the model is chosen by evidence: of two atoms closer than --min-distance-a the weaker goes, atoms explaining less than --evidence-chi2 go, and atoms are added at the peaks of the difference map (SART of the residual projections) where they explain more.\n\nExample:\n  nucleate aet refine traced/atoms.extxyz series/tilts.tif --angles series/angles.csv --pixel-a 0.35 -o refined --iterations 10 --evidence-chi2 25"
)]
pub struct RefineArgs {
    /// Starting model (extXYZ, A, volume frame).
    pub model: PathBuf,
    /// Tilt series (multi-page TIFF or MRC), aligned (e.g. aligned_tilts.tif of
    /// `reconstruct --align`).
    pub tilts: PathBuf,
    #[command(flatten)]
    pub series: SeriesArgs,
    /// Output folder: atoms.extxyz, summary.json.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Iterations.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Species from light to heavy (those of the model by default).
    #[arg(long, value_delimiter = ',')]
    pub species: Option<Vec<String>>,
    #[command(flatten)]
    pub refine_options: RefineOptions,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

impl RefineOptions {
    /// Refinement parameters with `iterations` and these options.
    fn params(&self, iterations: usize) -> anyhow::Result<RefineParams> {
        if !(self.evidence_chi2.is_finite() && self.evidence_chi2 >= 0.0) {
            bail!("--evidence-chi2 must be a non-negative number");
        }
        if !(self.min_distance_a.is_finite() && self.min_distance_a >= 0.0) {
            bail!("--min-distance-a must be a non-negative number of Angstrom");
        }
        Ok(RefineParams {
            iterations,
            evidence_chi2: self.evidence_chi2,
            min_distance_a: self.min_distance_a,
            corrections: Corrections {
                shifts: self.refine_shifts,
                angles: self.refine_angles,
            },
            ..Default::default()
        })
    }
}

/// How refinement decides which atoms the model holds, and which per-projection
/// corrections it fits.
#[derive(Args, Debug, Clone)]
pub struct RefineOptions {
    /// Fit a shift of every projection across and along the tilt axis (pixels) with the
    /// atoms (what is left after `--align`).
    #[arg(long)]
    pub refine_shifts: bool,
    /// Fit a correction to every tilt angle with the atoms.
    #[arg(long)]
    pub refine_angles: bool,
    /// Local chi^2 an atom must explain in the projections to stay in the model, and a new
    /// atom at a peak of the difference map to enter it (25: about 5 sigma); 0 keeps the
    /// traced atoms as they are.
    #[arg(long, default_value_t = 25.0)]
    pub evidence_chi2: f64,
    /// Closest two atoms may be (A); of a closer pair the one with less evidence goes.
    #[arg(long, default_value_t = 2.0)]
    pub min_distance_a: f64,
}

/// Options of `aet compare`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate aet compare a/atoms.extxyz b/atoms.extxyz -o cmp --pair-distance-a 1.4"
)]
pub struct CompareArgs {
    /// Model A (extXYZ).
    pub a: PathBuf,
    /// Model B (extXYZ), aligned onto A.
    pub b: PathBuf,
    /// Output folder: pairs.csv, b_aligned.extxyz, summary.json.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Pairing distance (A).
    #[arg(long, default_value_t = 1.4)]
    pub pair_distance_a: f64,
    /// Seed of the starting rotations of the alignment.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Options of `aet run`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  nucleate aet run series/tilts.tif --angles series/angles.csv --pixel-a 0.35 -o result --species Fe,Pt\n  nucleate aet run particle.mrc --angles particle.tlt --subtract-background --align -o result"
)]
pub struct RunArgs {
    /// Tilt series: multi-page TIFF or MRC (.mrc, .mrcs, .st, .ali).
    pub tilts: PathBuf,
    #[command(flatten)]
    pub series: SeriesArgs,
    #[command(flatten)]
    pub alignment: AlignArgs,
    /// Output folder: volume.tif, atoms.extxyz, summary.json, report.html and pictures.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Species from light to heavy.
    #[arg(long, default_value = "Fe,Pt", value_delimiter = ',')]
    pub species: Vec<String>,
    /// Reconstruction method.
    #[arg(long, value_enum, default_value = "sart")]
    pub method: MethodArg,
    /// Reconstruction iterations (default: 10 for sart, 30 for mbir, 100 for genfire and sirt).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Refinement iterations.
    #[arg(long, default_value_t = 10)]
    pub refine_iterations: usize,
    #[command(flatten)]
    pub refine_options: RefineOptions,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Dispatch `nucleate aet ...`.
pub fn run(args: AetArgs) -> anyhow::Result<()> {
    match args.command {
        AetCommand::Simulate(a) => run_simulate(a),
        AetCommand::Reconstruct(a) => run_reconstruct(a),
        AetCommand::Trace(a) => run_trace(a),
        AetCommand::Refine(a) => run_refine(a),
        AetCommand::Compare(a) => run_compare(a),
        AetCommand::Run(a) => run_chain(a),
    }
}

fn parse_table(flag: &str, text: &str) -> anyhow::Result<Vec<(String, f64)>> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("{flag}: expected SPECIES=VALUE, got '{kv}'"))?;
            let v: f64 = v
                .trim()
                .parse()
                .with_context(|| format!("{flag}: '{v}' is not a number"))?;
            if !(v.is_finite() && v >= 0.0) {
                bail!("{flag}: {k}={v} must be a non-negative number");
            }
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

fn read_model(path: &Path) -> anyhow::Result<Frame> {
    let frame = read_frame(path, &ReadOptions::default())
        .with_context(|| format!("{}: cannot read the model", path.display()))?;
    if frame.is_empty() {
        bail!("{}: the model has no atoms", path.display());
    }
    if frame.species_names.is_empty()
        || frame.species_names.iter().all(|s| s.parse::<f64>().is_ok())
    {
        bail!(
            "{}: the model has no element names in a `species` column",
            path.display()
        );
    }
    if let Some(i) = frame.first_non_finite() {
        bail!(
            "{}: atom {} has a non-finite position",
            path.display(),
            i + 1
        );
    }
    Ok(frame)
}

fn check_pixel(pixel_a: f64) -> anyhow::Result<()> {
    if !(pixel_a.is_finite() && pixel_a > 0.0) {
        bail!("--pixel-a must be a positive number of Angstrom, got {pixel_a}");
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    write_bytes(path, text.as_bytes())?;
    Ok(())
}

/// What reading did to a series (for summary.json).
struct Loaded {
    series: TiltSeries,
    geom: TiltGeometry,
    info: serde_json::Value,
}

/// Read, check and pre-process a series; `align`: a background is needed, so the border
/// median is subtracted unless another background was asked for.
fn load_series(tilts: &Path, s: &SeriesArgs, align: bool, quiet: bool) -> anyhow::Result<Loaded> {
    let axis = match s.tilt_axis {
        AxisArg::Y => TiltAxis::Y,
        AxisArg::X => TiltAxis::X,
    };
    let mut series = read_tilt_series(tilts, &s.angles, axis)?;
    let pixel_a = match (s.pixel_a, series.pixel_a) {
        (Some(p), header) => {
            check_pixel(p)?;
            if let Some(h) = header {
                if (h - p).abs() > 0.01 * p && !quiet {
                    eprintln!(
                        "warning: --pixel-a {p} A differs from the {h:.4} A in the header of {}; using {p}",
                        tilts.display()
                    );
                }
            }
            p
        }
        (None, Some(h)) => h,
        (None, None) => bail!(
            "{}: the file states no pixel size; give --pixel-a",
            tilts.display()
        ),
    };
    let background = s
        .subtract_background
        .map(|b| match b {
            BackgroundArg::Plane => Background::Plane,
            BackgroundArg::Median => Background::Median,
        })
        .or(align.then_some(Background::Median));
    let levels = background.map(|b| subtract_background(&mut series, b));
    let factors = if s.normalise {
        Some(normalise_totals(&mut series).with_context(|| format!("{}", tilts.display()))?)
    } else {
        None
    };
    let mut geom = TiltGeometry::new(series.angles_deg.clone(), series.images.n, pixel_a)
        .with_context(|| format!("{}", s.angles.display()))?;
    if let Some(c) = s.centre_px {
        geom = geom.with_centre_px(c)?;
    }
    let info = json!({
        "file": tilts.display().to_string(),
        "tilt_axis": match axis { TiltAxis::Y => "y", TiltAxis::X => "x" },
        "pixel_a": pixel_a,
        "pixel_a_from_header": series.pixel_a,
        "background": background,
        "background_levels": levels,
        "normalisation_factors": factors,
    });
    Ok(Loaded { series, geom, info })
}

/// Align the series in place when asked: the images become the aligned ones; shifts.csv,
/// alignment.svg and aligned_tilts.tif go to `out`. Returns the summary block.
fn maybe_align(
    loaded: &mut Loaded,
    a: &AlignArgs,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<Option<(Alignment, serde_json::Value)>> {
    if !a.align {
        return Ok(None);
    }
    let (method, default_iterations) = match a.align_method {
        AlignMethodArg::Sart => (MethodKind::Sart, 3),
        AlignMethodArg::Sirt => (MethodKind::Sirt, 15),
    };
    let iterations = a.align_iterations.unwrap_or(default_iterations);
    if iterations == 0 {
        bail!("--align-iterations must be at least 1");
    }
    let params = AlignParams {
        rounds: a.align_rounds,
        method,
        round_iterations: iterations,
        warm_iterations: iterations.div_ceil(3),
        ..Default::default()
    };
    let bar = progress_bar(params.rounds + 1, quiet, "align");
    let start = std::time::Instant::now();
    let al = align(
        &loaded.series.images.data,
        &loaded.geom,
        &params,
        &mut |r| {
            bar.inc(1);
            bar.set_message(format!("R1 {:.4} update {:.3} px", r.r1, r.rms_update_px));
        },
    )?;
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();
    let g = &loaded.geom;
    let mut csv = String::from(
        "index,angle_deg,shift_across_axis_px,shift_along_axis_px,drift_across_axis_px\n",
    );
    for (k, (s, d)) in al.shifts_px.iter().zip(&al.drift_px).enumerate() {
        csv.push_str(&format!(
            "{k},{},{:.4},{:.4},{:.4}\n",
            g.angles_deg[k], s[0], s[1], d
        ));
    }
    write_bytes(&out.join("shifts.csv"), csv.as_bytes())?;
    alignment_svg(&out.join("alignment.svg"), &g.angles_deg, &al)?;
    write_tiff_stack(&out.join("aligned_tilts.tif"), g.n, &al.images)?;
    let summary = json!({
        "rounds": al.rounds,
        "centre_of_mass": al.com,
        "axis_offset_px": al.axis_offset_px,
        "shifts_px": al.shifts_px,
        "drift_across_axis_px": al.drift_px,
        "seconds": seconds,
        "params": params,
    });
    if !quiet {
        eprintln!(
            "aligned in {seconds:.1} s: axis {:+.2} px from the centre, R1 {:.4} as read -> {:.4}",
            al.axis_offset_px,
            al.rounds.first().map(|r| r.r1).unwrap_or(f64::NAN),
            al.rounds.last().map(|r| r.r1).unwrap_or(f64::NAN),
        );
    }
    loaded.series.images.data = al.images.clone();
    Ok(Some((al, summary)))
}

fn progress_bar(len: usize, quiet: bool, what: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} {{bar:30}} {{pos}}/{{len}} {{msg}} [{{elapsed_precise}}]"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

fn run_simulate(a: SimulateArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    check_pixel(a.pixel_a)?;
    if a.size < 8 {
        bail!("--size must be at least 8 pixels");
    }
    if !(a.read_noise.is_finite() && a.read_noise >= 0.0) {
        bail!("--read-noise must be a non-negative number");
    }
    let model = read_model(&a.model)?;
    let angles = if Path::new(&a.angles).exists() {
        read_angles(Path::new(&a.angles))?
    } else {
        parse_angle_range(&a.angles).with_context(|| {
            format!(
                "--angles '{}': neither an existing file nor a range MIN:MAX:STEP",
                a.angles
            )
        })?
    };
    TiltGeometry::new(angles.clone(), a.size, a.pixel_a)
        .with_context(|| format!("--angles '{}'", a.angles))?;
    let params = SimulateParams {
        size: a.size,
        pixel_a: a.pixel_a,
        counts: parse_table("--counts", &a.counts)?,
        b_factors: parse_table("--b-factor", &a.b_factor)?,
        noise: Noise {
            poisson: true,
            read_noise: a.read_noise,
            seed: a.seed,
        },
    };
    let (imgs, geom) = simulate_series(&model, angles, &params)
        .with_context(|| format!("{}", a.model.display()))?;
    write_tiff_stack(&a.out.join("tilts.tif"), geom.n, &imgs)?;
    write_angles(&a.out.join("angles.csv"), &geom.angles_deg)?;
    let box_a = geom.n as f64 * geom.pixel_a;
    let outside = model
        .positions
        .iter()
        .filter(|p| p.iter().any(|&v| v < 0.0 || v > box_a))
        .count();
    write_json(
        &a.out.join("meta.json"),
        &json!({
            "model": a.model.display().to_string(),
            "n_atoms": model.len(),
            "atoms_outside_volume": outside,
            "size": geom.n,
            "pixel_a": geom.pixel_a,
            "centre_px": geom.centre_px,
            "tilt_axis": "y",
            "angles_deg": geom.angles_deg,
            "counts": params.counts.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "b_factors_a2": params.b_factors.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "poisson": true,
            "read_noise": a.read_noise,
            "seed": a.seed,
        }),
    )?;
    if !a.common.quiet {
        eprintln!(
            "simulated {} projections of {} atoms into {}",
            geom.n_angles(),
            model.len(),
            a.out.display()
        );
    }
    Ok(())
}

fn do_reconstruct(
    series: &TiltSeries,
    geom: &TiltGeometry,
    params: &ReconstructParams,
    quiet: bool,
) -> anyhow::Result<Reconstruction> {
    let bar = progress_bar(params.iterations, quiet, "reconstruct");
    let rec = reconstruct(&series.images.data, geom, params, &mut |r| {
        bar.inc(1);
        let mut msg = format!("err {:.4}", r.error);
        if let Some(v) = r.r1 {
            msg.push_str(&format!(" R1 {v:.4}"));
        }
        if let Some(v) = r.r_free {
            msg.push_str(&format!(" R_free {v:.4}"));
        }
        bar.set_message(msg);
    })?;
    bar.finish_and_clear();
    Ok(rec)
}

fn write_reconstruction(
    out: &Path,
    rec: &Reconstruction,
    params: &ReconstructParams,
    pixel_a: f64,
    extra: &[(&str, serde_json::Value)],
) -> anyhow::Result<()> {
    write_volume(&out.join("volume.tif"), &rec.volume)?;
    let mut csv = String::from("iteration,error,r1,r_free\n");
    for h in &rec.history {
        let opt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
        csv.push_str(&format!(
            "{},{},{},{}\n",
            h.iteration,
            h.error,
            opt(h.r1),
            opt(h.r_free)
        ));
    }
    write_bytes(&out.join("residuals.csv"), csv.as_bytes())?;
    let thick = ((2.0 / pixel_a).round() as usize).max(1);
    orthoslices_png(&out.join("orthoslices.png"), &rec.volume, thick, &[])?;
    let curve =
        |f: &dyn Fn(&nucleate_aet::reconstruct::Residuals) -> Option<f64>| -> Vec<(f64, f64)> {
            rec.history
                .iter()
                .filter_map(|h| f(h).map(|v| (h.iteration as f64, v)))
                .collect()
        };
    curves_svg(
        &out.join("residuals.svg"),
        &[
            ("R1", curve(&|h| h.r1)),
            ("R_free", curve(&|h| h.r_free)),
            ("error", curve(&|h| Some(h.error))),
        ],
        "iteration",
    )?;
    let method = method_name(params.method);
    let mut summary = json!({
        "method": method,
        "iterations": params.iterations,
        "r1": rec.r1,
        "r_free": rec.r_free,
        "seconds": rec.seconds,
        "oversampling": params.oversampling,
        "interpolation_radius": params.interpolation_radius,
        "prior_strength": params.prior_strength,
        "prior_edge": params.prior_edge,
        "pixel_a": pixel_a,
        "size": rec.volume.n,
    });
    for (k, v) in extra {
        summary[*k] = v.clone();
    }
    write_json(&out.join("summary.json"), &summary)
}

fn run_reconstruct(a: ReconstructArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    let mut loaded = load_series(&a.tilts, &a.series, a.alignment.align, a.common.quiet)?;
    let aligned = maybe_align(&mut loaded, &a.alignment, &a.out, a.common.quiet)?;
    let Loaded { series, geom, info } = loaded;
    let params = ReconstructParams {
        method: a.method.kind(),
        iterations: a.iterations.unwrap_or(a.method.default_iterations()),
        oversampling: a.oversampling,
        interpolation_radius: a.interpolation_radius,
        prior_strength: a.prior.prior_strength,
        prior_edge: a.prior.prior_edge,
        relaxation: a.method.relaxation(),
        seed: a.seed,
        ..Default::default()
    };
    a.prior.check()?;
    let rec = do_reconstruct(&series, &geom, &params, a.common.quiet)?;
    let mut extra = vec![("input", info)];
    if let Some((_, al)) = aligned {
        extra.push(("alignment", al));
    }
    write_reconstruction(&a.out, &rec, &params, geom.pixel_a, &extra)?;
    if !a.common.quiet {
        eprintln!(
            "{} iterations in {:.1} s: R1 {:.4}{}",
            params.iterations,
            rec.seconds,
            rec.r1,
            rec.r_free
                .map(|v| format!(", R_free {v:.4}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn write_trace(
    out: &Path,
    t: &TraceResult,
    species: &[String],
    box_a: f64,
) -> anyhow::Result<Frame> {
    let frame = t.to_frame(species, box_a)?;
    write_frame(out.join("atoms.extxyz"), &frame)?;
    let mut counts = serde_json::Map::new();
    for (k, s) in species.iter().enumerate() {
        counts.insert(
            s.clone(),
            json!(t.peaks.iter().filter(|p| p.species == Some(k)).count()),
        );
    }
    write_json(
        &out.join("summary.json"),
        &json!({
            "n_atoms": frame.len(),
            "counts": counts,
            "class_centres": t.class_centres,
            "class_boundaries": t.class_boundaries,
            "n_non_atoms": t.n_non_atoms(),
            "reclassified": t.reclassified,
        }),
    )?;
    let intens: Vec<f64> = t.peaks.iter().map(|p| p.intensity).collect();
    histogram_svg(
        &out.join("histogram.svg"),
        &intens,
        &t.class_boundaries,
        "integrated intensity of traced peaks",
    )?;
    Ok(frame)
}

fn run_trace(a: TraceArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    check_pixel(a.pixel_a)?;
    if a.species.is_empty() || a.species.iter().any(|s| s.trim().is_empty()) {
        bail!("--species needs names from light to heavy, e.g. Fe,Pt");
    }
    if !(a.min_distance_a.is_finite() && a.min_distance_a > 0.0) {
        bail!("--min-distance-a must be positive");
    }
    let vol = read_volume(&a.volume)?;
    let params = TraceParams {
        species: a.species.clone(),
        min_distance_a: a.min_distance_a,
        upsample: a.upsample,
        ..Default::default()
    };
    let t = trace(&vol, a.pixel_a, &params).with_context(|| format!("{}", a.volume.display()))?;
    let frame = write_trace(&a.out, &t, &a.species, vol.n as f64 * a.pixel_a)?;
    if !a.common.quiet {
        eprintln!(
            "traced {} atoms ({} non-atom peaks)",
            frame.len(),
            t.n_non_atoms()
        );
    }
    Ok(())
}

fn species_indices(model: &Frame, species: &[String], path: &Path) -> anyhow::Result<Vec<usize>> {
    (0..model.len())
        .map(|i| {
            let s = model.species_of(i);
            species.iter().position(|x| x == s).with_context(|| {
                format!(
                    "{}: atom {} has species `{s}`, not among {}",
                    path.display(),
                    i + 1,
                    species.join(",")
                )
            })
        })
        .collect()
}

fn refined_frame(r: &Refined, species: &[String], box_a: f64) -> anyhow::Result<Frame> {
    let names: Vec<&str> = r.species.iter().map(|&s| species[s].as_str()).collect();
    let cell = SimBox::orthorhombic([box_a; 3], [false; 3])?;
    let mut f = Frame::new(r.positions.clone(), &names, cell)?;
    f.set_property(
        "intensity",
        1,
        PropertyValues::Real(r.species.iter().map(|&s| r.counts_per_atom[s]).collect()),
    )?;
    Ok(f)
}

fn do_refine(
    model: &Frame,
    model_path: &Path,
    species: &[String],
    series: &TiltSeries,
    geom: &TiltGeometry,
    params: &RefineParams,
    quiet: bool,
) -> anyhow::Result<Refined> {
    let sp = species_indices(model, species, model_path)?;
    let most = params.iterations + params.polish_iterations * (1 + params.add_rounds);
    let bar = progress_bar(most, quiet, "refine");
    let r = refine(
        &model.positions,
        &sp,
        species.len(),
        &series.images.data,
        geom,
        params,
        &mut |_, r1| {
            bar.inc(1);
            bar.set_message(format!("R1 {r1:.4}"));
        },
    )?;
    bar.finish_and_clear();
    Ok(r)
}

fn refine_summary(r: &Refined, species: &[String], iterations: usize) -> serde_json::Value {
    let table = |v: &[f64]| -> serde_json::Map<String, serde_json::Value> {
        species
            .iter()
            .zip(v)
            .map(|(s, x)| (s.clone(), json!(x)))
            .collect()
    };
    json!({
        "r1_before": r.r1_before,
        "r1_after": r.r1_after,
        "b_factors": table(&r.b_factors),
        "counts_per_atom": table(&r.counts_per_atom),
        "species_flipped": r.species_flipped,
        "removed": r.removed,
        "added": r.added,
        "iterations": iterations,
        "n_atoms": r.positions.len(),
        "r1_history": r.r1_history,
        "projection_corrections": r
            .projection_corrections
            .iter()
            .map(|c| json!({"shift_across_axis_px": c[0], "shift_along_axis_px": c[1], "angle_deg": c[2]}))
            .collect::<Vec<_>>(),
    })
}

fn run_refine(a: RefineArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    let model = read_model(&a.model)?;
    let Loaded { series, geom, .. } = load_series(&a.tilts, &a.series, false, a.common.quiet)?;
    let species = a
        .species
        .clone()
        .unwrap_or_else(|| model.species_names.clone());
    let r = do_refine(
        &model,
        &a.model,
        &species,
        &series,
        &geom,
        &a.refine_options.params(a.iterations)?,
        a.common.quiet,
    )?;
    let box_a = geom.n as f64 * geom.pixel_a;
    write_frame(
        a.out.join("atoms.extxyz"),
        &refined_frame(&r, &species, box_a)?,
    )?;
    write_json(
        &a.out.join("summary.json"),
        &refine_summary(&r, &species, a.iterations),
    )?;
    if !a.common.quiet {
        eprintln!(
            "R1 {:.4} -> {:.4}, {} species changes",
            r.r1_before, r.r1_after, r.species_flipped
        );
    }
    Ok(())
}

fn run_compare(a: CompareArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    if !(a.pair_distance_a.is_finite() && a.pair_distance_a > 0.0) {
        bail!("--pair-distance-a must be positive");
    }
    let ma = read_model(&a.a)?;
    let mb = read_model(&a.b)?;
    let params = CompareParams {
        pair_distance_a: a.pair_distance_a,
        seed: a.seed,
        ..Default::default()
    };
    let c = compare_models(&ma, &mb, &params)?;
    let mut csv = String::from("index_a,index_b,distance_a,same_species\n");
    for (p, s) in c.pairs.iter().zip(&c.same_species) {
        csv.push_str(&format!(
            "{},{},{:.6},{}\n",
            p.index_a, p.index_b, p.distance_a, s
        ));
    }
    write_bytes(&a.out.join("pairs.csv"), csv.as_bytes())?;
    let mut aligned = mb.clone();
    aligned.positions = c.b_aligned.clone();
    aligned.cell = ma.cell;
    write_frame(a.out.join("b_aligned.extxyz"), &aligned)?;
    write_json(
        &a.out.join("summary.json"),
        &json!({
            "n_a": c.n_a,
            "n_b": c.n_b,
            "paired": c.paired(),
            "consistent_fraction": c.consistent_fraction(),
            "species_agreement": c.species_agreement(),
            "mean_deviation_a": c.mean_deviation_a(),
            "precision_a": c.precision_a(),
            "rigid": {"matrix": c.rigid.matrix, "translation_a": c.rigid.translation, "rotation_deg": c.rigid.rotation_angle_deg()},
            "affine": {"matrix": c.transform.matrix, "translation_a": c.transform.translation},
        }),
    )?;
    if !a.common.quiet {
        eprintln!(
            "{} pairs, consistent fraction {:.3}, precision {:.3} A",
            c.paired(),
            c.consistent_fraction(),
            c.precision_a()
        );
    }
    Ok(())
}

fn run_chain(a: RunArgs) -> anyhow::Result<()> {
    a.common.init_threads()?;
    if a.species.is_empty() || a.species.iter().any(|s| s.trim().is_empty()) {
        bail!("--species needs names from light to heavy, e.g. Fe,Pt");
    }
    let mut loaded = load_series(&a.tilts, &a.series, a.alignment.align, a.common.quiet)?;
    let aligned = maybe_align(&mut loaded, &a.alignment, &a.out, a.common.quiet)?;
    let Loaded { series, geom, info } = loaded;
    let params = ReconstructParams {
        method: a.method.kind(),
        iterations: a.iterations.unwrap_or(a.method.default_iterations()),
        relaxation: a.method.relaxation(),
        ..Default::default()
    };
    let rec = do_reconstruct(&series, &geom, &params, a.common.quiet)?;
    write_reconstruction(&a.out, &rec, &params, geom.pixel_a, &[])?;
    let tparams = TraceParams {
        species: a.species.clone(),
        ..Default::default()
    };
    let t = trace(&rec.volume, geom.pixel_a, &tparams)?;
    let box_a = geom.n as f64 * geom.pixel_a;
    let traced_dir = a.out.join("trace");
    let traced = write_trace(&traced_dir, &t, &a.species, box_a)?;
    let r = do_refine(
        &traced,
        &traced_dir.join("atoms.extxyz"),
        &a.species,
        &series,
        &geom,
        &a.refine_options.params(a.refine_iterations)?,
        a.common.quiet,
    )?;
    let final_frame = refined_frame(&r, &a.species, box_a)?;
    write_frame(a.out.join("atoms.extxyz"), &final_frame)?;
    let marks: Vec<[f64; 3]> = r
        .positions
        .iter()
        .map(|p| p.map(|v| v / geom.pixel_a))
        .collect();
    let thick = ((2.0 / geom.pixel_a).round() as usize).max(1);
    orthoslices_png(
        &a.out.join("orthoslices_atoms.png"),
        &rec.volume,
        thick,
        &marks,
    )?;
    curves_svg(
        &a.out.join("refine_r1.svg"),
        &[(
            "R1",
            r.r1_history
                .iter()
                .enumerate()
                .map(|(i, v)| ((i + 1) as f64, *v))
                .collect(),
        )],
        "refinement iteration",
    )?;
    let mut counts = serde_json::Map::new();
    for (k, s) in a.species.iter().enumerate() {
        counts.insert(
            s.clone(),
            json!(r.species.iter().filter(|&&x| x == k).count()),
        );
    }
    let alignment = aligned.map(|(_, v)| v);
    let summary = json!({
        "input": info,
        "alignment": alignment,
        "reconstruction": {"method": method_name(params.method), "iterations": params.iterations, "oversampling": params.oversampling, "r1": rec.r1, "r_free": rec.r_free, "seconds": rec.seconds},
        "trace": {"n_atoms": traced.len(), "class_centres": t.class_centres, "n_non_atoms": t.n_non_atoms()},
        "refine": refine_summary(&r, &a.species, a.refine_iterations),
        "n_atoms": final_frame.len(),
        "counts": counts,
    });
    write_json(&a.out.join("summary.json"), &summary)?;
    let html = report_html(&summary, alignment.is_some());
    write_bytes(&a.out.join("report.html"), html.as_bytes())?;
    if !a.common.quiet {
        eprintln!(
            "{} atoms; reconstruction R1 {:.4}, model R1 {:.4} -> {:.4}; report in {}",
            final_frame.len(),
            rec.r1,
            r.r1_before,
            r.r1_after,
            a.out.join("report.html").display()
        );
    }
    Ok(())
}

fn report_html(summary: &serde_json::Value, aligned: bool) -> String {
    let pretty = serde_json::to_string_pretty(summary).unwrap_or_default();
    let alignment = if aligned {
        "<h2>Alignment</h2><p>Shift applied to each projection and R1 of each round (0: as read).</p>\n\
<img src=\"alignment.svg\" alt=\"alignment shifts and R1\">\n"
    } else {
        ""
    };
    let esc = pretty.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>nucleate aet run</title>\n\
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}} img{{max-width:100%;image-rendering:pixelated}}</style></head><body>\n\
<h1>Atomic electron tomography</h1>\n\
<h2>Orthoslices with the refined atoms</h2><p>Central slices z, y, x (2 A thick); white dots: atoms within the slab.</p>\n\
<img src=\"orthoslices_atoms.png\" alt=\"orthoslices with atoms\">\n{alignment}\
<h2>Reconstruction residuals</h2><img src=\"residuals.svg\" alt=\"R1 and R_free\">\n\
<h2>Intensity histogram and classes</h2><img src=\"trace/histogram.svg\" alt=\"intensity histogram\">\n\
<h2>Refinement</h2><img src=\"refine_r1.svg\" alt=\"refinement R1\">\n\
<h2>Summary</h2><pre>{esc}</pre>\n\
<p>Files: <a href=\"volume.tif\">volume.tif</a>, <a href=\"atoms.extxyz\">atoms.extxyz</a>, <a href=\"trace/atoms.extxyz\">trace/atoms.extxyz</a>, <a href=\"summary.json\">summary.json</a>, <a href=\"residuals.csv\">residuals.csv</a>.</p>\n\
</body></html>\n"
    )
}

//! `nucleate spectra`, `nucleate size`, `nucleate saxs`, `nucleate kinetics`: flow-reactor
//! UV-Vis, sizing curves, SAXS size distributions and cluster kinetics.

use anyhow::{bail, Context};
use clap::Args;
use nucleate_core::io::AtomicFile;
use nucleate_reactor::kinetics::{self, Model};
use nucleate_reactor::plot;
use nucleate_reactor::saxs::{self, McParams, QUnit};
use nucleate_reactor::sizing::Material;
use nucleate_reactor::uvvis::{self, Baseline, SpectraParams};
use std::io::Write;
use std::path::{Path, PathBuf};

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut f =
        AtomicFile::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.commit())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Format a number for CSV: empty for NaN.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// Peaks, MSC families, sizes and concentrations from UV-Vis spectra.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate spectra examples/reactor/spectra.csv -o out/spectra --material CdSe\n\n\
Input: CSV with 'wavelength_nm' and one absorbance column per spectrum (header = name).\n\
Writes DIR/peaks.csv (spectrum,wavelength_nm,fwhm_nm,kind,family,diameter_nm,\n\
aggregation_number,concentration_um) and DIR/spectra.svg. Sizes from Yu et al.,\n\
Chem. Mater. 15, 2854 (2003); concentrations by Beer-Lambert with eps(D)."
)]
pub struct SpectraArgs {
    /// Input CSV.
    pub input: PathBuf,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Material of the sizing curve: CdSe, CdTe or CdS.
    #[arg(long, default_value = "CdSe")]
    pub material: Material,
    /// Baseline: power (scattering a L^-b), poly:DEGREE, or none.
    #[arg(long, default_value = "power")]
    pub baseline: String,
    /// Start of the transparent long-wave region used for the baseline (nm; default: 4 sigma
    /// beyond the longest-wavelength absorption feature, else the longest 20 % of the range).
    #[arg(long, value_name = "NM")]
    pub baseline_from_nm: Option<f64>,
    /// Savitzky-Golay window (nm).
    #[arg(long, default_value_t = 11.0)]
    pub smooth_nm: f64,
    /// Savitzky-Golay polynomial order.
    #[arg(long, default_value_t = 4)]
    pub smooth_order: usize,
    /// Peaks fixed across the series within this tolerance (nm) form one family.
    #[arg(long, default_value_t = 2.0)]
    pub tolerance_nm: f64,
    /// Largest FWHM (nm) of a magic-size-cluster peak.
    #[arg(long, default_value_t = 20.0)]
    pub msc_max_fwhm_nm: f64,
    /// Optical path length (cm).
    #[arg(long, default_value_t = 1.0)]
    pub path_cm: f64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Run `nucleate spectra`.
pub fn run_spectra(args: SpectraArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let baseline = match args.baseline.as_str() {
        "none" => Baseline::None,
        "power" => Baseline::PowerLaw {
            from_nm: args.baseline_from_nm,
        },
        s if s.starts_with("poly:") => Baseline::Polynomial {
            degree: s[5..]
                .parse()
                .with_context(|| format!("--baseline {s}: degree is not a number"))?,
            from_nm: args.baseline_from_nm,
        },
        s => bail!("--baseline {s}: expected power, poly:DEGREE or none"),
    };
    if !(args.path_cm > 0.0 && args.smooth_nm > 0.0) {
        bail!("--path-cm and --smooth-nm must be positive");
    }
    let spectra = uvvis::read_spectra(&args.input)?;
    let params = SpectraParams {
        material: args.material,
        baseline,
        smooth_window_nm: args.smooth_nm,
        smooth_order: args.smooth_order,
        family_tolerance_nm: args.tolerance_nm,
        msc_max_fwhm_nm: args.msc_max_fwhm_nm,
        path_cm: args.path_cm,
        ..SpectraParams::default()
    };
    let (processed, peaks) = uvvis::analyse(&spectra, &params);
    let mut csv = String::from(
        "spectrum,wavelength_nm,fwhm_nm,kind,family,diameter_nm,aggregation_number,concentration_um\n",
    );
    for p in &peaks {
        csv.push_str(&format!(
            "{},{:.2},{},{},{},{},{},{}\n",
            spectra.names[p.spectrum],
            p.wavelength_nm,
            if p.fwhm_nm.is_finite() {
                format!("{:.2}", p.fwhm_nm)
            } else {
                String::new()
            },
            p.kind.label(),
            p.family.as_deref().unwrap_or(""),
            num(p.diameter_nm),
            num(p.aggregation_number),
            num(p.concentration_um),
        ));
    }
    write_file(&args.out.join("peaks.csv"), &csv)?;
    write_file(
        &args.out.join("spectra.svg"),
        &plot::spectra_svg(&processed, &spectra.names, &peaks)?,
    )?;
    if !args.common.quiet {
        let n_msc = peaks
            .iter()
            .filter(|p| p.kind == uvvis::PeakKind::Msc)
            .count();
        eprintln!(
            "{} spectra, {} peaks ({} MSC, {} NC) -> {}",
            spectra.names.len(),
            peaks.len(),
            n_msc,
            peaks.len() - n_msc,
            args.out.display()
        );
    }
    Ok(())
}

/// Diameter, aggregation number and extinction coefficient from a first excitonic peak.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate size --material CdSe --wavelength-nm 550\n\n\
Prints JSON {\"diameter_nm\", \"aggregation_number\", \"extinction_per_m_per_cm\"}: D from the\n\
Yu et al. (2003) polynomial, N = (pi/6) D^3 rho N_A / M at bulk density, eps per mol of particles."
)]
pub struct SizeArgs {
    /// Material: CdSe, CdTe or CdS.
    #[arg(long, default_value = "CdSe")]
    pub material: Material,
    /// First excitonic absorption peak (nm).
    #[arg(long, value_name = "L")]
    pub wavelength_nm: f64,
    /// Write the JSON to this file instead of stdout.
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Run `nucleate size`.
pub fn run_size(args: SizeArgs) -> anyhow::Result<()> {
    if !(args.wavelength_nm.is_finite() && args.wavelength_nm > 0.0) {
        bail!("--wavelength-nm must be a positive number");
    }
    let s = args.material.size(args.wavelength_nm);
    if s.diameter_nm.is_nan() || s.diameter_nm <= 0.0 {
        bail!(
            "the {} sizing curve gives no positive diameter at {} nm",
            args.material,
            args.wavelength_nm
        );
    }
    let text = serde_json::to_string_pretty(&s)?;
    match &args.out {
        Some(p) => write_file(p, &(text + "\n"))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// Volume-weighted sphere size distribution by Monte Carlo fitting (McSAS approach).
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate saxs examples/reactor/saxs-bimodal.csv -o out/saxs --r-min-nm 1 --r-max-nm 12 --repetitions 10 --seed 1\n\n\
Input: columns q (1/nm; --q-per-angstrom for 1/A), I, sigma; CSV or whitespace, '#' comments,\n\
optional header naming q, I, sigma. Radii in nm. Writes DIR/distribution.csv (r_nm,\n\
volume_fraction,std per bin; sums to the total volume fraction), DIR/summary.json\n\
(chi2_reduced, populations with moments, Bragg peaks, mesophase), DIR/fit.svg,\n\
DIR/distribution.svg. Volume fractions are absolute for I in 1/cm and --contrast in\n\
1e10 cm^-2, relative otherwise."
)]
pub struct SaxsArgs {
    /// Input curve.
    pub input: PathBuf,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Smallest radius (nm).
    #[arg(long, default_value_t = 0.5)]
    pub r_min_nm: f64,
    /// Largest radius (nm).
    #[arg(long, default_value_t = 20.0)]
    pub r_max_nm: f64,
    /// Independent repetitions of the fit.
    #[arg(long, default_value_t = 10)]
    pub repetitions: usize,
    /// Sphere contributions per fit.
    #[arg(long, default_value_t = 300)]
    pub contributions: usize,
    /// Proposals per repetition before stopping.
    #[arg(long, default_value_t = 100_000)]
    pub max_iterations: usize,
    /// Stop at this reduced chi^2.
    #[arg(long, default_value_t = 1.0)]
    pub convergence: f64,
    /// Floor of the relative uncertainty (fraction of I).
    #[arg(long, default_value_t = 0.01)]
    pub min_relative_sigma: f64,
    /// Histogram bins.
    #[arg(long, default_value_t = 50)]
    pub bins: usize,
    /// Populations as radius ranges FROM:TO (nm), comma-separated; default: found in the
    /// histogram.
    #[arg(long, value_name = "A:B,...")]
    pub populations: Option<String>,
    /// q in the file is in 1/Angstrom.
    #[arg(long)]
    pub q_per_angstrom: bool,
    /// Scattering length density difference (1e10 cm^-2).
    #[arg(long, default_value_t = 1.0)]
    pub contrast: f64,
    /// Do not fit a flat background.
    #[arg(long)]
    pub no_background: bool,
    /// Seed of the random streams.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

fn parse_ranges(s: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    s.split(',')
        .map(|part| {
            let (a, b) = part
                .split_once(':')
                .with_context(|| format!("--populations: '{part}' is not FROM:TO"))?;
            let (a, b): (f64, f64) = (
                a.trim()
                    .parse()
                    .with_context(|| format!("--populations: '{a}'"))?,
                b.trim()
                    .parse()
                    .with_context(|| format!("--populations: '{b}'"))?,
            );
            if b.is_nan() || a.is_nan() || b <= a {
                bail!("--populations: range {a}:{b} is empty");
            }
            Ok((a, b))
        })
        .collect()
}

/// Run `nucleate saxs`.
pub fn run_saxs(args: SaxsArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let unit = if args.q_per_angstrom {
        QUnit::PerAngstrom
    } else {
        QUnit::PerNm
    };
    let ranges = args.populations.as_deref().map(parse_ranges).transpose()?;
    let data = saxs::read_saxs(&args.input, unit)?;
    let params = McParams {
        r_min_nm: args.r_min_nm,
        r_max_nm: args.r_max_nm,
        contributions: args.contributions,
        repetitions: args.repetitions,
        max_iterations: args.max_iterations,
        convergence: args.convergence,
        min_relative_sigma: args.min_relative_sigma,
        bins: args.bins,
        seed: args.seed,
        contrast: args.contrast,
        background: !args.no_background,
    };
    let started = std::time::Instant::now();
    let fit = saxs::monte_carlo_fit(&data, &params)?;
    let seconds = started.elapsed().as_secs_f64();
    let mut csv = String::from("r_nm,volume_fraction,std\n");
    for ((r, v), s) in fit.r_nm.iter().zip(&fit.volume_fraction).zip(&fit.std) {
        csv.push_str(&format!("{r},{v},{s}\n"));
    }
    write_file(&args.out.join("distribution.csv"), &csv)?;
    let ranges = ranges.unwrap_or_else(|| fit.auto_populations(0.05));
    let populations: Vec<_> = ranges.iter().map(|&(a, b)| fit.population(a, b)).collect();
    let total = fit.population(args.r_min_nm, args.r_max_nm);
    let peaks = saxs::bragg_peaks(&data, 31, 0.2);
    let summary = serde_json::json!({
        "chi2_reduced": fit.chi2_reduced(),
        "converged": fit.runs.iter().all(|r| r.converged),
        "repetitions": fit.runs.iter().map(|r| serde_json::json!({
            "chi2_reduced": r.chi2_reduced,
            "iterations": r.iterations,
            "converged": r.converged,
            "scale": r.scale,
            "background": r.background,
        })).collect::<Vec<_>>(),
        "contributions": args.contributions,
        "seed": args.seed,
        "q_unit": "1/nm",
        "r_unit": "nm",
        "total": total,
        "populations": populations,
        "bragg_peaks": peaks,
        "mesophase": saxs::mesophase(&peaks, 0.02),
        "seconds": seconds,
    });
    write_file(
        &args.out.join("summary.json"),
        &(serde_json::to_string_pretty(&summary)? + "\n"),
    )?;
    write_file(&args.out.join("fit.svg"), &plot::saxs_fit_svg(&data, &fit)?)?;
    write_file(
        &args.out.join("distribution.svg"),
        &plot::distribution_svg(&fit)?,
    )?;
    if !args.common.quiet {
        eprintln!(
            "reduced chi^2 {:.3} ({} repetitions, {:.2} s) -> {}",
            fit.chi2_reduced(),
            fit.runs.len(),
            seconds,
            args.out.display()
        );
    }
    Ok(())
}

/// Concentrations, accumulation map and rate fits of the quantised-growth model.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate kinetics examples/reactor/msc-kinetics.toml -o out/kinetics\n\n\
Integrates the model (stiff Rosenbrock solver, formula units checked at every output) over\n\
its temperature program. Writes DIR/concentrations.csv (t_s + one column per species, mol/L;\n\
NC_units = formula units in nanocrystals) and DIR/concentrations.svg; with [map]:\n\
DIR/map.csv (temperature_c,t_s,msc_fraction,nc_fraction,dominant,msc_accumulated) and\n\
DIR/map.svg; with [fit]: DIR/fit.json and DIR/fitted.csv."
)]
pub struct KineticsArgs {
    /// Model file (TOML).
    pub model: PathBuf,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

fn trajectory_csv(traj: &kinetics::Trajectory) -> String {
    let mut csv = String::from("t_s");
    for n in &traj.names {
        csv.push(',');
        csv.push_str(n);
    }
    csv.push('\n');
    for (t, y) in traj.t_s.iter().zip(&traj.y) {
        csv.push_str(&format!("{t}"));
        for v in y {
            csv.push_str(&format!(",{v:e}"));
        }
        csv.push('\n');
    }
    csv
}

/// Run `nucleate kinetics`.
pub fn run_kinetics(args: KineticsArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let model = Model::read(&args.model)?;
    let traj = kinetics::simulate(&model)?;
    write_file(&args.out.join("concentrations.csv"), &trajectory_csv(&traj))?;
    write_file(
        &args.out.join("concentrations.svg"),
        &plot::concentrations_svg(&traj, &model.formula_units())?,
    )?;
    if let Some(spec) = &model.map {
        let cells = kinetics::accumulation_map(&model, spec)?;
        let mut csv =
            String::from("temperature_c,t_s,msc_fraction,nc_fraction,dominant,msc_accumulated\n");
        for c in &cells {
            csv.push_str(&format!(
                "{},{},{:.6},{:.6},{},{}\n",
                c.temperature_c,
                c.t_s,
                c.msc_fraction,
                c.nc_fraction,
                c.dominant,
                c.msc_accumulated
            ));
        }
        write_file(&args.out.join("map.csv"), &csv)?;
        write_file(&args.out.join("map.svg"), &plot::map_svg(&cells)?)?;
    }
    if let Some(fit) = &model.fit {
        let base = args.model.parent().unwrap_or(Path::new("."));
        let series = kinetics::read_series(&base.join(&fit.data), &model)?;
        let (fitted, result) = kinetics::fit_rates(&model, &series, &fit.parameters)?;
        write_file(
            &args.out.join("fit.json"),
            &(serde_json::to_string_pretty(&result)? + "\n"),
        )?;
        let traj = kinetics::simulate(&fitted)?;
        write_file(&args.out.join("fitted.csv"), &trajectory_csv(&traj))?;
    }
    if !args.common.quiet {
        eprintln!(
            "{} outputs, {} solver steps, largest relative drift of formula units {:.1e} -> {}",
            traj.t_s.len(),
            traj.steps,
            traj.max_conservation_error,
            args.out.display()
        );
    }
    Ok(())
}

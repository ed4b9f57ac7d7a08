//! `nucleate movie` (series, events, plots), `nucleate movie simulate` (synthetic movies
//! and HRTEM images with ground truth) and `nucleate crystallinity`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use nucleate_imaging::fft::{
    crystallinity_of_movie, write_crystallinity_csv, CrystallinityParams, HermanForm,
};
use nucleate_imaging::movie::io::{read_sidecar, resolve_meta, write_tiff, Sidecar, TiffSample};
use nucleate_imaging::movie::{
    analyse_movie, detect_events, Background, CoreThreshold, Denoise, EventParams, MovieParams,
    Polarity,
};
use nucleate_imaging::plot::{plot_crystallinity, plot_series};
use nucleate_imaging::simulate::{
    simulate_hrtem, simulate_movie, write_json, write_movie, HrtemSimParams, MovieSimParams,
};

/// Contrast of the particles.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PolarityArg {
    /// Darker than the background (TEM bright field).
    Dark,
    /// Brighter than the background (ADF-STEM).
    Bright,
}

impl From<PolarityArg> for Polarity {
    fn from(p: PolarityArg) -> Self {
        match p {
            PolarityArg::Dark => Polarity::Dark,
            PolarityArg::Bright => Polarity::Bright,
        }
    }
}

fn parse_pair(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s
        .split_once(',')
        .ok_or_else(|| format!("expected two numbers as X,Y, got '{s}'"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<f64>()
            .map_err(|_| format!("'{v}' is not a number"))
    };
    Ok((p(a)?, p(b)?))
}

fn parse_threshold(s: &str) -> Result<CoreThreshold, String> {
    match s {
        "halfmax" => Ok(CoreThreshold::HalfMax),
        "otsu" => Ok(CoreThreshold::Otsu),
        _ => {
            if let Some(n) = s.strip_prefix("first:") {
                let n: usize = n
                    .parse()
                    .map_err(|_| format!("'{n}' is not a frame count"))?;
                if n == 0 {
                    return Err("first:N needs N >= 1".into());
                }
                Ok(CoreThreshold::FirstFrames(n))
            } else if let Some(v) = s.strip_prefix("fixed:") {
                Ok(CoreThreshold::Fixed(
                    v.parse().map_err(|_| format!("'{v}' is not a number"))?,
                ))
            } else {
                Err(format!(
                    "unknown threshold '{s}': use halfmax, otsu, first:N or fixed:LEVEL"
                ))
            }
        }
    }
}

fn parse_background(s: &str) -> Result<Background, String> {
    if s == "none" {
        return Ok(Background::None);
    }
    if let Some(o) = s.strip_prefix("poly:") {
        let order: usize = o.parse().map_err(|_| format!("'{o}' is not an order"))?;
        if order > 4 {
            return Err("polynomial order must be 0..=4".into());
        }
        return Ok(Background::Polynomial { order });
    }
    if let Some(v) = s.strip_prefix("gaussian:") {
        let sigma_px: f64 = v.parse().map_err(|_| format!("'{v}' is not a number"))?;
        if sigma_px.is_nan() || sigma_px <= 0.0 {
            return Err("gaussian background sigma must be > 0 px".into());
        }
        return Ok(Background::Gaussian { sigma_px });
    }
    Err(format!(
        "unknown background '{s}': use poly:ORDER, gaussian:SIGMA_PX or none"
    ))
}

/// `nucleate movie`: analyse a movie, or `nucleate movie simulate` to make one.
#[derive(Args, Debug)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Example:\n  nucleate movie simulate -o sim --cycles 2 --seed 7\n  \
                  nucleate movie sim/movie.tif -o out --pixel-nm 0.5 --dt-s 0.5 --polarity dark\n\n\
                  Writes DIR/series.csv (frame,t_s,area_nm2,mean_grey,core_area_nm2,\
                  cloud_area_nm2,cx_nm,cy_nm,diameter_nm), DIR/events.json (condensation and \
                  out/in intervals) and DIR/series.svg. Pixel size and frame interval come from \
                  the flags or a sidecar JSON (movie.json beside movie.tif, metadata.json in a \
                  folder) with keys pixel_nm, dt_s and optionally polarity."
)]
pub struct MovieArgs {
    #[command(subcommand)]
    pub command: Option<MovieCommand>,
    /// The movie: a multi-page TIFF (8/16/32-bit, float) or a folder of PNG/TIFF frames.
    #[arg(required = true, value_name = "MOVIE")]
    pub movie: Option<PathBuf>,
    /// Output folder (created if missing).
    #[arg(short, long, required = true, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Pixel size (nm per pixel); default from the sidecar.
    #[arg(long, value_name = "X")]
    pub pixel_nm: Option<f64>,
    /// Frame interval (s); default from the sidecar.
    #[arg(long, value_name = "T")]
    pub dt_s: Option<f64>,
    /// Particle contrast [default: the sidecar's, else dark].
    #[arg(long, value_enum)]
    pub polarity: Option<PolarityArg>,
    /// Seed point X,Y in pixels (x to the right, y down, from the top-left corner): the
    /// object is the region holding it (or the nearest); default the largest.
    #[arg(long, value_name = "X,Y", value_parser = parse_pair, allow_hyphen_values = true)]
    pub seed_point: Option<(f64, f64)>,
    /// Gaussian denoising sigma (px); 0 for none.
    #[arg(long, default_value_t = 1.5, value_name = "PX")]
    pub denoise_sigma: f64,
    /// Median denoising over a (2R+1)^2 square instead of Gaussian.
    #[arg(long, value_name = "R", conflicts_with = "denoise_sigma")]
    pub median_radius: Option<usize>,
    /// Background flattening: poly:ORDER (masked polynomial), gaussian:SIGMA_PX or none.
    #[arg(long, default_value = "poly:2", value_parser = parse_background)]
    pub background: Background,
    /// Core threshold: halfmax (half maximum of the object), otsu (per frame), first:N (the
    /// mean Otsu level of the first N frames) or fixed:LEVEL (flattened grey units).
    #[arg(long, default_value = "halfmax", value_parser = parse_threshold)]
    pub threshold: CoreThreshold,
    /// Loose (cloud) level in noise sigmas above the background.
    #[arg(long, default_value_t = 4.0, value_name = "K")]
    pub loose_sigmas: f64,
    /// Smallest object (px).
    #[arg(long, default_value_t = 9, value_name = "N")]
    pub min_object_px: usize,
    /// Loose regions within this distance of the object (px) belong to it.
    #[arg(long, default_value_t = 3, value_name = "PX")]
    pub cloud_gap_px: usize,
    /// Correct drift by phase correlation of consecutive frames.
    #[arg(long)]
    pub drift_correction: bool,
    /// Smallest core-area swing (relative to its median) that makes an out or in interval.
    #[arg(long, default_value_t = 0.15, value_name = "FRACTION")]
    pub min_cycle_amplitude: f64,
    /// Smallest relative area drop reported as a condensation.
    #[arg(long, default_value_t = 0.2, value_name = "FRACTION")]
    pub min_relative_drop: f64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// Subcommands of `nucleate movie`.
#[derive(Subcommand, Debug)]
pub enum MovieCommand {
    /// Generate a synthetic movie (or HRTEM series) with ground truth.
    Simulate(SimulateArgs),
}

/// `nucleate movie simulate`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate movie simulate -o sim --frames 60 --condense-frame 15 \
                        --cycles 2 --dose 500 --polarity bright --seed 3\n  \
                        nucleate movie simulate -o hr --hrtem --grains 4 --frames 10 --seed 1\n\n\
                        Movie: DIR/movie.tif (16-bit pages), DIR/movie.json (sidecar), \
                        DIR/truth.json (parameters, condensation, cycles, per-frame truth), \
                        DIR/truth.csv. HRTEM: DIR/hrtem.tif (float32 pages, the number of grains \
                        falling from --grains to 1 over the frames), DIR/hrtem.json (sidecar), \
                        DIR/hrtem_truth.json."
)]
pub struct SimulateArgs {
    /// Output folder (created if missing).
    #[arg(short, long, value_name = "DIR")]
    pub out: PathBuf,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of frames.
    #[arg(long, default_value_t = 60)]
    pub frames: usize,
    /// Frame side (px).
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Pixel size (nm/px) [default: 0.5, or 0.025 with --hrtem].
    #[arg(long, value_name = "X")]
    pub pixel_nm: Option<f64>,
    /// Frame interval (s).
    #[arg(long, default_value_t = 0.5, value_name = "T")]
    pub dt_s: f64,
    /// Last frame of the cloud before it collapses.
    #[arg(long, default_value_t = 15)]
    pub condense_frame: usize,
    /// Frames the collapse takes.
    #[arg(long, default_value_t = 4)]
    pub condense_frames: usize,
    /// Number of out-and-in cycles.
    #[arg(long, default_value_t = 2)]
    pub cycles: usize,
    /// Electrons per background pixel (Poisson noise).
    #[arg(long, default_value_t = 1000.0)]
    pub dose: f64,
    /// Gaussian read noise (counts).
    #[arg(long, default_value_t = 0.0)]
    pub read_noise: f64,
    /// Uneven illumination strength.
    #[arg(long, default_value_t = 0.2)]
    pub illumination: f64,
    /// Drift DX,DY (px per frame).
    #[arg(long, value_name = "DX,DY", value_parser = parse_pair, default_value = "0.15,-0.1",
          allow_hyphen_values = true)]
    pub drift: (f64, f64),
    /// Particle contrast.
    #[arg(long, value_enum, default_value = "dark")]
    pub polarity: PolarityArg,
    /// Make HRTEM frames of a particle of grains with lattice fringes instead.
    #[arg(long)]
    pub hrtem: bool,
    /// Grains in the first HRTEM frame (falling to 1 by the last).
    #[arg(long, default_value_t = 4, requires = "hrtem")]
    pub grains: usize,
    /// Lattice spacing of the HRTEM fringes (nm).
    #[arg(long, default_value_t = 0.2246, requires = "hrtem")]
    pub spacing_nm: f64,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

/// `nucleate crystallinity`.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  nucleate crystallinity hr/hrtem.tif -o cryst.csv --pixel-nm 0.025 \
                        --spacing-nm 0.2246\n\n\
                        Writes OUT.csv (frame,herman_f,n_orientations,spacing_nm) and, for a movie, \
                        OUT.svg with f over time. f = 2<cos^2 theta> - 1 of the background-removed \
                        azimuthal intensity of the lattice annulus of the Hann-windowed power \
                        spectrum, theta from the dominant orientation after folding by the symmetry \
                        period: 1 for a single crystal, 0 for an isotropic ring."
)]
pub struct CrystallinityArgs {
    /// An image (TIFF/PNG) or a movie (multi-page TIFF, folder of frames).
    #[arg(value_name = "IMAGE|MOVIE")]
    pub input: PathBuf,
    /// Output CSV (a plot OUT.svg is written beside it for a movie).
    #[arg(short, long, value_name = "OUT.csv")]
    pub out: PathBuf,
    /// Pixel size (nm per pixel); default from the sidecar.
    #[arg(long, value_name = "X")]
    pub pixel_nm: Option<f64>,
    /// Lattice spacing (nm); default: the strongest ring.
    #[arg(long, value_name = "D")]
    pub spacing_nm: Option<f64>,
    /// Symmetry period (degrees): 180 one set of fringes, 90 square, 60 hexagonal.
    #[arg(long, default_value_t = 180.0, value_name = "DEG")]
    pub symmetry_deg: f64,
    /// Half-width of the lattice annulus relative to its spatial frequency.
    #[arg(long, default_value_t = 0.1)]
    pub annulus_width: f64,
    /// Report the 3D fibre form (3<cos^2> - 1)/2 with sin(theta) weights instead.
    #[arg(long)]
    pub fibre: bool,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

fn check_positive(name: &str, v: f64) -> anyhow::Result<()> {
    if !(v.is_finite() && v > 0.0) {
        bail!("{name} must be a positive number, got {v}");
    }
    Ok(())
}

/// Run `nucleate movie` or `nucleate movie simulate`.
pub fn run_movie(args: MovieArgs) -> anyhow::Result<()> {
    if let Some(MovieCommand::Simulate(sim)) = args.command {
        return run_simulate(sim);
    }
    args.common.init_threads()?;
    let (Some(movie), Some(out)) = (args.movie, args.out) else {
        bail!("give a MOVIE and -o DIR, or use `nucleate movie simulate`");
    };
    if !movie.exists() {
        bail!("{}: no such file or folder", movie.display());
    }
    for (name, v) in [("--pixel-nm", args.pixel_nm), ("--dt-s", args.dt_s)] {
        if let Some(v) = v {
            check_positive(name, v)?;
        }
    }
    let (meta, sidecar) = resolve_meta(&movie, args.pixel_nm, args.dt_s)?;
    let polarity = args
        .polarity
        .map(Polarity::from)
        .or(sidecar.and_then(|s| s.polarity))
        .unwrap_or_default();
    let denoise = match args.median_radius {
        Some(r) => Denoise::Median { radius_px: r },
        None if args.denoise_sigma > 0.0 => Denoise::Gaussian {
            sigma_px: args.denoise_sigma,
        },
        None => Denoise::None,
    };
    let params = MovieParams {
        polarity,
        denoise,
        background: Some(args.background),
        core_threshold: args.threshold,
        loose_sigmas: args.loose_sigmas,
        min_object_px: args.min_object_px,
        seed_point: args.seed_point,
        cloud_gap_px: args.cloud_gap_px,
        drift_correction: args.drift_correction,
    };
    let series = analyse_movie(&movie, meta, &params)?;
    let event_params = EventParams {
        min_cycle_amplitude: args.min_cycle_amplitude,
        min_relative_drop: args.min_relative_drop,
        ..Default::default()
    };
    let events = detect_events(&series, &event_params);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    series.write_csv(&out.join("series.csv"))?;
    events.write_json(&out.join("events.json"))?;
    plot_series(&out.join("series.svg"), &series, &events)?;
    if !args.common.quiet {
        let cond = events.condensation.as_ref().map_or_else(
            || "no condensation".to_string(),
            |c| {
                format!(
                    "condensation frames {}..{} (drop {:.0} %)",
                    c.start_frame,
                    c.end_frame,
                    100.0 * c.relative_drop
                )
            },
        );
        eprintln!(
            "{} frames; {cond}; {} out-and-in cycles; wrote {}",
            series.records.len(),
            events.n_cycles,
            out.display()
        );
    }
    Ok(())
}

fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    check_positive("--dt-s", args.dt_s)?;
    if let Some(p) = args.pixel_nm {
        check_positive("--pixel-nm", p)?;
    }
    if args.frames == 0 {
        bail!("--frames must be at least 1");
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    if args.hrtem {
        return simulate_hrtem_series(&args);
    }
    let params = MovieSimParams {
        width: args.size,
        height: args.size,
        frames: args.frames,
        pixel_nm: args.pixel_nm.unwrap_or(0.5),
        dt_s: args.dt_s,
        condense_frame: args.condense_frame,
        condense_frames: args.condense_frames,
        cycles: args.cycles,
        dose: args.dose,
        read_noise: args.read_noise,
        illumination: args.illumination,
        drift_px_per_frame: args.drift,
        polarity: args.polarity.into(),
        seed: args.seed,
        // Particle and cloud sizes scale with the frame (defaults fit 128 px).
        particle_radius_px: 14.0 * args.size as f64 / 128.0,
        cloud_radius_px: 30.0 * args.size as f64 / 128.0,
        cloud_width_px: 10.0 * args.size as f64 / 128.0,
        ..Default::default()
    };
    let (frames, truth) = simulate_movie(&params)?;
    write_movie(&args.out, &frames, &truth)?;
    if !args.common.quiet {
        eprintln!(
            "wrote {} frames of {}x{} px to {}",
            frames.len(),
            args.size,
            args.size,
            args.out.join("movie.tif").display()
        );
    }
    Ok(())
}

fn simulate_hrtem_series(args: &SimulateArgs) -> anyhow::Result<()> {
    if args.grains == 0 {
        bail!("--grains must be at least 1");
    }
    let pixel_nm = args.pixel_nm.unwrap_or(0.025);
    let mut frames = Vec::with_capacity(args.frames);
    let mut truths = Vec::with_capacity(args.frames);
    for f in 0..args.frames {
        // Grains fall linearly from --grains in the first frame to 1 in the last.
        let u = if args.frames > 1 {
            f as f64 / (args.frames - 1) as f64
        } else {
            0.0
        };
        let grains = (args.grains as f64 - (args.grains as f64 - 1.0) * u).round() as usize;
        let (img, truth) = simulate_hrtem(&HrtemSimParams {
            size: args.size.max(32),
            pixel_nm,
            spacing_nm: args.spacing_nm,
            grains,
            seed: args.seed.wrapping_mul(1_000_003).wrapping_add(f as u64),
            ..Default::default()
        })?;
        frames.push(img);
        truths.push(truth);
    }
    write_tiff(&args.out.join("hrtem.tif"), &frames, TiffSample::F32)?;
    write_json(
        &args.out.join("hrtem.json"),
        &Sidecar {
            pixel_nm: Some(pixel_nm),
            dt_s: Some(args.dt_s),
            polarity: None,
        },
    )?;
    write_json(&args.out.join("hrtem_truth.json"), &truths)?;
    if !args.common.quiet {
        eprintln!(
            "wrote {} HRTEM frames to {}",
            frames.len(),
            args.out.display()
        );
    }
    Ok(())
}

/// Run `nucleate crystallinity`.
pub fn run_crystallinity(args: CrystallinityArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let input = &args.input;
    if !input.exists() {
        bail!("{}: no such file or folder", input.display());
    }
    if let Some(p) = args.pixel_nm {
        check_positive("--pixel-nm", p)?;
    }
    let pixel_nm = match args.pixel_nm {
        Some(p) => p,
        None => read_sidecar(input)?
            .and_then(|s| s.pixel_nm)
            .with_context(|| {
                format!(
                    "{}: missing metadata: pixel size (nm/px); give --pixel-nm or a sidecar {} \
                     with \"pixel_nm\"",
                    input.display(),
                    sidecar_name(input).display()
                )
            })?,
    };
    let params = CrystallinityParams {
        pixel_nm,
        spacing_nm: args.spacing_nm,
        symmetry_deg: args.symmetry_deg,
        annulus_rel_width: args.annulus_width,
        form: if args.fibre {
            HermanForm::Fibre
        } else {
            HermanForm::InPlane
        },
        ..Default::default()
    };
    if !(params.annulus_rel_width > 0.0 && params.annulus_rel_width < 0.5) {
        bail!(
            "--annulus-width must be in (0, 0.5), got {}",
            params.annulus_rel_width
        );
    }
    let rows = crystallinity_of_movie(input, &params)?;
    write_crystallinity_csv(&args.out, &rows)?;
    if rows.len() > 1 {
        let dt = read_sidecar(input).ok().flatten().and_then(|s| s.dt_s);
        let f: Vec<f64> = rows.iter().map(|r| r.herman_f).collect();
        plot_crystallinity(&args.out.with_extension("svg"), &f, dt)?;
    }
    if !args.common.quiet {
        eprintln!("{} frames; wrote {}", rows.len(), args.out.display());
    }
    Ok(())
}

fn sidecar_name(input: &Path) -> PathBuf {
    nucleate_imaging::movie::io::sidecar_path(input)
}

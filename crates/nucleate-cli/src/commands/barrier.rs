//! `nucleate barrier`: critical radius and barrier of a nucleus profile (OPG model vs CNT).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nucleate_core::io::AtomicFile;
use nucleate_theory::{
    barrier, cnt, cnt_crossings, dg as dg_at, Dimension, Energetics, NoBarrier, Outcome, Profile,
};
use serde_json::{json, Map, Value};

/// Energy unit of gamma * length^2, for the rate factor exp(-dG*/kT).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum EnergyUnit {
    /// Joule (gamma in J/m^2, dg in J/m^3).
    Joule,
    /// Electronvolt (e.g. eV/A^2, eV/A^3).
    Ev,
    /// kJ per mole of nuclei.
    KjPerMol,
}

impl EnergyUnit {
    fn k_b(self) -> f64 {
        match self {
            EnergyUnit::Joule => cnt::K_B_J_PER_K,
            EnergyUnit::Ev => cnt::K_B_EV_PER_K,
            EnergyUnit::KjPerMol => cnt::R_KJ_PER_MOL_K,
        }
    }
}

/// Arguments of `nucleate barrier`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Units: any consistent set; gamma in J/m^2 and dg in J/m^3 give r in m and dG in J.\n\
With --contact-angle, dg_star and cnt.dg_star are the heterogeneous barriers S(theta) dG*\n\
(dg_star_homogeneous keeps the other).\n\n\
Example:\n  nucleate barrier --profile linear --gamma 0.1 --dg 0.05\n  \
nucleate barrier --profile gengauss:6,4 --gamma 0.1 --dg 0.05 --contact-angle 90 --plot dg.svg\n  \
nucleate barrier --profile profile.csv --gamma 0.05 --dg 0.01 --temperature-k 900 --energy-unit ev"
)]
pub struct BarrierArgs {
    /// Profile: step, linear, parabolic-above, parabolic-below, gengauss:LAMBDA,BETA, or a CSV
    /// file with header r,alpha.
    #[arg(long, value_name = "P")]
    pub profile: String,
    /// Interfacial tension of a sharp interface, > 0 (energy/length^2).
    #[arg(long, value_name = "G", allow_negative_numbers = true)]
    pub gamma: f64,
    /// Bulk free-energy gain of the new phase, > 0 (energy/length^3).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    pub dg: f64,
    /// Contact angle in degrees for heterogeneous nucleation on a flat substrate
    /// (spherical cap; 180 = homogeneous).
    #[arg(long, value_name = "DEG", allow_negative_numbers = true)]
    pub contact_angle: Option<f64>,
    /// Core order parameter alpha0 of the named profiles [default: 1].
    #[arg(long, value_name = "ALPHA0", allow_negative_numbers = true)]
    pub amplitude: Option<f64>,
    /// Draw dG(r) of this profile and of step, linear and both parabolic ones to an SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Temperature in K for the rate factor exp(-dG*/kT) (needs --energy-unit).
    #[arg(
        long,
        value_name = "T",
        requires = "energy_unit",
        allow_negative_numbers = true
    )]
    pub temperature_k: Option<f64>,
    /// Unit of the energies, for the rate factor (needs --temperature-k).
    #[arg(long, value_enum, requires = "temperature_k")]
    pub energy_unit: Option<EnergyUnit>,
    /// Also write the JSON to this file.
    #[arg(short, long, value_name = "FILE.json")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub common: super::common::CommonArgs,
}

const REFERENCES: [&str; 4] = ["step", "linear", "parabolic-above", "parabolic-below"];

/// Run `nucleate barrier`.
pub fn run(args: BarrierArgs) -> anyhow::Result<()> {
    args.common.init_threads()?;
    let e = Energetics::new(args.gamma, args.dg)?;
    let profile = Profile::parse(&args.profile, args.amplitude)?;
    let s = match args.contact_angle {
        Some(theta) => cnt::shape_factor(theta)?,
        None => 1.0,
    };
    let res = barrier(&e, &profile)?;
    let outcome = res.outcome.scaled(s);
    let (cnt_r, cnt_g) = (cnt::critical_radius(&e), s * cnt::barrier(&e));

    let mut out = Map::new();
    out.insert("profile".into(), json!(args.profile));
    let c = outcome.critical();
    out.insert("r_star".into(), json!(c.map(|c| c.r_star)));
    out.insert("dg_star".into(), json!(c.map(|c| c.dg_star)));
    out.insert("cnt".into(), json!({"r_star": cnt_r, "dg_star": cnt_g}));
    out.insert("gamma".into(), json!(args.gamma));
    out.insert("dg".into(), json!(args.dg));
    out.insert("shape_factor".into(), json!(s));
    if let Some(theta) = args.contact_angle {
        out.insert("contact_angle_deg".into(), json!(theta));
    }
    if let Some(h) = res.outcome.critical() {
        out.insert("dg_star_homogeneous".into(), json!(h.dg_star));
    }
    if let Profile::SelfSimilar { amplitude, .. } | Profile::GeneralizedGaussian { amplitude, .. } =
        &profile
    {
        out.insert("amplitude".into(), json!(amplitude));
    }
    if let Some(k) = res.coefficients {
        out.insert("a_coeff".into(), json!(k.a));
        out.insert("b_coeff".into(), json!(k.b));
    }
    match outcome {
        Outcome::NoBarrier(NoBarrier::DecreasingFromZero) => {
            out.insert(
                "no_barrier".into(),
                json!("dG(r) only decreases as the nucleus grows"),
            );
        }
        Outcome::NoBarrier(NoBarrier::IncreasingToEnd { r_max, dg_max }) => {
            out.insert(
                "no_barrier".into(),
                json!(format!(
                    "dG(r) still rises at the profile's last radius {r_max} (dG = {dg_max})"
                )),
            );
        }
        Outcome::Critical(_) => {}
    }
    let r_range = plot_range(&profile, &e, c.map(|c| c.r_star));
    out.insert(
        "cnt_crossings".into(),
        json!(cnt_crossings(&e, &profile, r_range)),
    );
    if let (Some(t), Some(unit)) = (args.temperature_k, args.energy_unit) {
        if !(t.is_finite() && t > 0.0) {
            anyhow::bail!("--temperature-k must be positive, got {t}");
        }
        let kt = unit.k_b() * t;
        out.insert("kt".into(), json!(kt));
        out.insert(
            "rate_factor".into(),
            json!(c.map(|c| cnt::rate_factor(c.dg_star, kt))),
        );
        out.insert("rate_factor_cnt".into(), json!(cnt::rate_factor(cnt_g, kt)));
    }
    let mut warnings: Vec<String> = res.warnings.iter().map(|w| w.to_string()).collect();
    if matches!(outcome, Outcome::NoBarrier(_)) {
        warnings.push(format!("profile {}: no barrier", args.profile));
    }
    out.insert("warnings".into(), json!(warnings));

    if !args.common.quiet {
        for w in &warnings {
            eprintln!("warning: {w}");
        }
    }
    let text = serde_json::to_string_pretty(&Value::Object(out))?;
    if let Some(path) = &args.out {
        let mut f = AtomicFile::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        writeln!(f, "{text}").with_context(|| format!("cannot write {}", path.display()))?;
        f.commit()
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.plot {
        plot(path, &e, s, &args.profile, &profile, r_range)?;
    }
    println!("{text}");
    Ok(())
}

/// Radii shown (and searched for crossings): the table's extent, or 1.5 times the largest
/// critical radius among the chosen and reference profiles.
fn plot_range(profile: &Profile, e: &Energetics, r_star: Option<f64>) -> f64 {
    if let Some(r) = profile.r_max() {
        return r;
    }
    // parabolic-below has the largest r* of the references, 10/3 gamma/dg.
    let reference = 10.0 / 3.0 * e.gamma / e.dg;
    1.5 * r_star.unwrap_or(reference).max(reference)
}

struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
    peak: Option<(f64, f64)>,
    width: u32,
}

fn plot(
    path: &Path,
    e: &Energetics,
    s: f64,
    spec: &str,
    profile: &Profile,
    r_max: f64,
) -> anyhow::Result<()> {
    use plotters::prelude::*;

    const N: usize = 400;
    let sample = |p: &Profile| -> Vec<(f64, f64)> {
        (0..=N)
            .map(|i| {
                let r = r_max * i as f64 / N as f64;
                (r, s * dg_at(e, p, r, Dimension::Three))
            })
            .collect()
    };
    let peak_of = |p: &Profile| -> anyhow::Result<Option<(f64, f64)>> {
        Ok(barrier(e, p)?
            .outcome
            .scaled(s)
            .critical()
            .map(|c| (c.r_star, c.dg_star)))
    };
    let mut curves = vec![Curve {
        label: spec.to_string(),
        points: sample(profile),
        peak: peak_of(profile)?,
        width: 3,
    }];
    for name in REFERENCES.iter().filter(|n| **n != spec) {
        let p = Profile::parse(name, None)?;
        curves.push(Curve {
            label: (*name).to_string(),
            points: sample(&p),
            peak: peak_of(&p)?,
            width: 1,
        });
    }
    let crossings: Vec<(f64, f64)> = cnt_crossings(e, profile, r_max)
        .into_iter()
        .map(|r| (r, s * dg_at(e, profile, r, Dimension::Three)))
        .collect();

    // Show every barrier and as much below zero as above it.
    let top = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1).chain(c.peak.map(|p| p.1)))
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { 1.15 * top } else { 1.0 };
    let bottom = curves
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.1))
        .fold(0.0f64, f64::min)
        .max(-top);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 600)).into_drawing_area();
        let err = |e: &dyn std::fmt::Display| anyhow::anyhow!("cannot draw the plot: {e}");
        root.fill(&WHITE).map_err(|x| err(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                format!(
                    "dG(r): gamma = {}, dg = {}{}",
                    e.gamma,
                    e.dg,
                    if s < 1.0 {
                        format!(", S(theta) = {s:.4}")
                    } else {
                        String::new()
                    }
                ),
                ("sans-serif", 22),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..r_max, bottom..top)
            .map_err(|x| err(&x))?;
        chart
            .configure_mesh()
            .x_desc("r (units of input)")
            .y_desc("dG (units of input)")
            .draw()
            .map_err(|x| err(&x))?;
        let palette = [BLACK, RED, BLUE, GREEN, MAGENTA];
        for (i, c) in curves.iter().enumerate() {
            let colour = palette[i % palette.len()];
            let style = colour.stroke_width(c.width);
            // Keep the curve inside the frame: it falls steeply past its maximum.
            let inside: Vec<(f64, f64)> = c
                .points
                .iter()
                .copied()
                .take_while(|p| p.1 >= bottom)
                .collect();
            let label = match c.peak {
                Some((r, g)) => format!("{} (r* = {r:.4}, dG* = {g:.4})", c.label),
                None => format!("{} (no barrier)", c.label),
            };
            chart
                .draw_series(LineSeries::new(inside, style))
                .map_err(|x| err(&x))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            if let Some(p) = c.peak {
                chart
                    .draw_series(std::iter::once(Circle::new(p, 5, colour.filled())))
                    .map_err(|x| err(&x))?;
            }
        }
        if !crossings.is_empty() {
            chart
                .draw_series(
                    crossings
                        .iter()
                        .filter(|p| p.1 >= bottom && p.1 <= top)
                        .map(|p| Cross::new(*p, 7, BLACK.stroke_width(2))),
                )
                .map_err(|x| err(&x))?
                .label(format!("{spec} crosses CNT"))
                .legend(|(x, y)| Cross::new((x + 10, y), 5, BLACK.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(|x| err(&x))?;
        root.present().map_err(|x| err(&x))?;
    }
    let mut f =
        AtomicFile::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(svg.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.commit()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

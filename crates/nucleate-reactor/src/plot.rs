//! SVG figures: spectra with labelled peaks, SAXS fit and size distribution, concentrations
//! over time and the accumulation map. Each function returns the SVG text; the caller
//! writes it.

use crate::kinetics::{MapCell, Trajectory};
use crate::saxs::{McResult, SaxsData};
use crate::uvvis::{Peak, PeakKind, Processed};
use plotters::prelude::*;

type PlotResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn finish(svg: String, r: PlotResult) -> crate::Result<String> {
    r.map_err(|e| crate::Error::Invalid(format!("plot: {e}")))?;
    Ok(svg)
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    (lo, hi)
}

/// Smoothed, baseline-corrected spectra with every peak marked and labelled (family name for
/// clusters, wavelength for nanocrystals).
pub fn spectra_svg(
    processed: &[Processed],
    names: &[String],
    peaks: &[Peak],
) -> crate::Result<String> {
    let mut svg = String::new();
    let r = (|| -> PlotResult {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (x0, x1) = range(
            processed
                .iter()
                .flat_map(|p| p.wavelength_nm.iter().copied()),
        );
        let (y0, y1) = range(processed.iter().flat_map(|p| p.smoothed.iter().copied()));
        let (y0, y1) = (y0.min(0.0), y1.max(1e-6));
        // A baseline extrapolated far outside its fitted range can run away: keep every
        // drawn point inside the chart so the backend's pixel arithmetic stays in range.
        let clip = move |v: f64| v.clamp(y0 - 0.1 * (y1 - y0), 1.2 * y1);
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .caption(
                "Absorption spectra (baseline removed, smoothed)",
                ("sans-serif", 18),
            )
            .build_cartesian_2d(x0..x1, y0 - 0.05 * (y1 - y0)..1.1 * y1)?;
        chart
            .configure_mesh()
            .x_desc("wavelength (nm)")
            .y_desc("absorbance")
            .draw()?;
        for (k, p) in processed.iter().enumerate() {
            let color = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    p.wavelength_nm
                        .iter()
                        .copied()
                        .zip(p.smoothed.iter().map(|&v| clip(v))),
                    color.stroke_width(2),
                ))?
                .label(names.get(k).cloned().unwrap_or_default())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
            for pk in peaks.iter().filter(|pk| pk.spectrum == k) {
                let label = match (&pk.kind, &pk.family) {
                    (PeakKind::Msc, Some(f)) => f.clone(),
                    _ => format!("NC {:.0}", pk.wavelength_nm),
                };
                let pt = (pk.wavelength_nm, clip(pk.absorbance));
                chart.draw_series(std::iter::once(Circle::new(pt, 4, color.filled())))?;
                chart.draw_series(std::iter::once(Text::new(
                    label,
                    (pk.wavelength_nm, clip(pk.absorbance) + 0.03 * y1),
                    ("sans-serif", 11).into_font().color(&color),
                )))?;
            }
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

/// The SAXS curve (points) and the mean Monte Carlo model (line), log-log.
pub fn saxs_fit_svg(data: &SaxsData, fit: &McResult) -> crate::Result<String> {
    let mut svg = String::new();
    let r = (|| -> PlotResult {
        let root = SVGBackend::with_string(&mut svg, (800, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (q0, q1) = range(data.q_nm.iter().copied());
        let positive = data
            .intensity
            .iter()
            .chain(&fit.model)
            .copied()
            .filter(|v| *v > 0.0);
        let (i0, i1) = range(positive);
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .caption(
                format!(
                    "Monte Carlo sphere fit, reduced chi^2 = {:.3}",
                    fit.chi2_reduced()
                ),
                ("sans-serif", 18),
            )
            .build_cartesian_2d((q0..q1).log_scale(), (0.5 * i0..2.0 * i1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("q (1/nm)")
            .y_desc("I")
            .draw()?;
        chart
            .draw_series(
                data.q_nm
                    .iter()
                    .zip(&data.intensity)
                    .filter(|(_, i)| **i > 0.0)
                    .map(|(&q, &i)| Circle::new((q, i), 2, BLUE.filled())),
            )?
            .label("data")
            .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        chart
            .draw_series(LineSeries::new(
                data.q_nm
                    .iter()
                    .copied()
                    .zip(fit.model.iter().copied())
                    .filter(|(_, m)| *m > 0.0),
                RED.stroke_width(2),
            ))?
            .label("model")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
        chart.configure_series_labels().border_style(BLACK).draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

/// Volume-weighted size distribution: bars of the mean volume fraction per bin with the
/// standard deviation over repetitions as error bars.
pub fn distribution_svg(fit: &McResult) -> crate::Result<String> {
    let mut svg = String::new();
    let r = (|| -> PlotResult {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let x0 = fit.edges_nm[0];
        let x1 = *fit.edges_nm.last().unwrap_or(&1.0);
        let (_, y1) = range(fit.volume_fraction.iter().zip(&fit.std).map(|(v, s)| v + s));
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .caption("Volume-weighted size distribution", ("sans-serif", 18))
            .build_cartesian_2d(x0..x1, 0.0..1.1 * y1)?;
        chart
            .configure_mesh()
            .x_desc("radius (nm)")
            .y_desc("volume fraction per bin")
            .draw()?;
        chart.draw_series(fit.volume_fraction.iter().enumerate().map(|(i, &v)| {
            Rectangle::new(
                [(fit.edges_nm[i], 0.0), (fit.edges_nm[i + 1], v)],
                BLUE.mix(0.5).filled(),
            )
        }))?;
        chart.draw_series(fit.r_nm.iter().zip(&fit.volume_fraction).zip(&fit.std).map(
            |((&r, &v), &s)| ErrorBar::new_vertical(r, (v - s).max(0.0), v, v + s, BLACK, 4),
        ))?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

/// Formula units held by each species (concentration times its size) over time.
pub fn concentrations_svg(traj: &Trajectory, formula_units: &[f64]) -> crate::Result<String> {
    let mut svg = String::new();
    let r = (|| -> PlotResult {
        let root = SVGBackend::with_string(&mut svg, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (t0, t1) = range(traj.t_s.iter().copied());
        let (_, y1) = range(
            traj.y
                .iter()
                .flat_map(|y| y.iter().zip(formula_units).map(|(a, b)| a * b)),
        );
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .caption("Formula units per species", ("sans-serif", 18))
            .build_cartesian_2d(t0..t1, 0.0..1.05 * y1)?;
        chart
            .configure_mesh()
            .x_desc("time (s)")
            .y_desc("formula units (mol/L)")
            .draw()?;
        for (j, name) in traj.names.iter().enumerate() {
            if formula_units[j] == 0.0 {
                continue;
            }
            let color = Palette99::pick(j).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    traj.t_s
                        .iter()
                        .zip(&traj.y)
                        .map(|(&t, y)| (t, y[j] * formula_units[j])),
                    color.stroke_width(2),
                ))?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE.mix(0.8))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

/// The accumulation map: MSC share of the solid formula units over temperature and time,
/// from white (none) to blue (all); accumulated cells are outlined.
pub fn map_svg(cells: &[MapCell]) -> crate::Result<String> {
    let mut svg = String::new();
    let r = (|| -> PlotResult {
        let mut temps: Vec<f64> = cells.iter().map(|c| c.temperature_c).collect();
        temps.sort_by(f64::total_cmp);
        temps.dedup();
        let mut times: Vec<f64> = cells.iter().map(|c| c.t_s).collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let root = SVGBackend::with_string(&mut svg, (800, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .caption(
                "MSC share of the solid (outlined: accumulated)",
                ("sans-serif", 18),
            )
            .build_cartesian_2d(0..times.len(), 0..temps.len())?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("reaction time (s)")
            .y_desc("temperature (C)")
            .x_labels(times.len() + 1)
            .y_labels(temps.len() + 1)
            .x_label_formatter(&|i| times.get(*i).map(|t| format!("{t}")).unwrap_or_default())
            .y_label_formatter(&|i| temps.get(*i).map(|t| format!("{t}")).unwrap_or_default())
            .draw()?;
        for c in cells {
            let i = times.iter().position(|&t| t == c.t_s).unwrap_or(0);
            let j = temps
                .iter()
                .position(|&t| t == c.temperature_c)
                .unwrap_or(0);
            let f = c.msc_fraction.clamp(0.0, 1.0);
            let shade = RGBColor(
                (255.0 * (1.0 - f)) as u8,
                (255.0 * (1.0 - 0.7 * f)) as u8,
                255,
            );
            chart.draw_series(std::iter::once(Rectangle::new(
                [(i, j), (i + 1, j + 1)],
                shade.filled(),
            )))?;
            if c.msc_accumulated {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(i, j), (i + 1, j + 1)],
                    BLACK.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })();
    finish(svg, r)
}

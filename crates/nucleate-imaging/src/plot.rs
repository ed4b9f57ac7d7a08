//! SVG plots of a movie's series with its events, and of crystallinity over time.

use std::io::Write;
use std::path::Path;

use plotters::prelude::*;

use crate::error::{ImagingError, Result};
use crate::movie::{CycleKind, Events, Series};

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9);
    (lo - pad, hi + pad)
}

fn commit_svg(path: &Path, svg: String) -> Result<()> {
    let mut f =
        nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
    f.write_all(svg.as_bytes())
        .map_err(|e| ImagingError::io(path, e))?;
    f.commit().map_err(|e| ImagingError::io(path, e))
}

type Panel<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// One panel: two series against time (left and right axes), with shaded intervals.
#[allow(clippy::too_many_arguments)]
fn panel(
    area: &Panel<'_>,
    title: &str,
    t: &[f64],
    left: (&str, &[f64]),
    right: (&str, &[f64]),
    shades: &[(f64, f64, RGBColor)],
) -> std::result::Result<(), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let (t0, t1) = range(t.iter().copied());
    let (l0, l1) = range(left.1.iter().copied());
    let (r0, r1) = range(right.1.iter().copied());
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(60)
        .right_y_label_area_size(60)
        .build_cartesian_2d(t0..t1, l0..l1)
        .map_err(|x| e(&x))?
        .set_secondary_coord(t0..t1, r0..r1);
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc(left.0)
        .draw()
        .map_err(|x| e(&x))?;
    chart
        .configure_secondary_axes()
        .y_desc(right.0)
        .draw()
        .map_err(|x| e(&x))?;
    for (a, b, c) in shades {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(*a, l0), (*b, l1)],
                c.mix(0.25).filled(),
            )))
            .map_err(|x| e(&x))?;
    }
    let pts = |v: &[f64]| -> Vec<(f64, f64)> {
        t.iter()
            .zip(v)
            .filter(|(_, y)| y.is_finite())
            .map(|(x, y)| (*x, *y))
            .collect()
    };
    chart
        .draw_series(LineSeries::new(pts(left.1), BLUE.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label(left.0)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLUE));
    chart
        .draw_secondary_series(LineSeries::new(pts(right.1), RED.stroke_width(2)))
        .map_err(|x| e(&x))?
        .label(right.0)
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    Ok(())
}

/// `series.svg`: area and mean grey value vs time with the condensation interval shaded
/// (top), core and cloud areas vs time with out (orange) and in (green) intervals shaded
/// (bottom).
pub fn plot_series(path: &Path, series: &Series, events: &Events) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 700)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let (top, bottom) = root.split_vertically(350);
            let t = series.column(|r| r.t_s);
            let dt = series.meta.dt_s;
            let cond: Vec<(f64, f64, RGBColor)> = events
                .condensation
                .iter()
                .map(|c| {
                    (
                        c.start_frame as f64 * dt,
                        c.end_frame as f64 * dt,
                        RGBColor(120, 120, 120),
                    )
                })
                .collect();
            panel(
                &top,
                "object: area and mean grey (condensation shaded)",
                &t,
                ("area (nm^2)", &series.column(|r| r.area_nm2)),
                ("mean grey", &series.column(|r| r.mean_grey)),
                &cond,
            )?;
            let cyc: Vec<(f64, f64, RGBColor)> = events
                .cycles
                .iter()
                .map(|c| {
                    let colour = match c.kind {
                        CycleKind::Out => RGBColor(255, 140, 0),
                        CycleKind::In => RGBColor(0, 160, 60),
                    };
                    (c.start_frame as f64 * dt, c.end_frame as f64 * dt, colour)
                })
                .collect();
            panel(
                &bottom,
                "core and cloud (out: orange, in: green)",
                &t,
                ("core area (nm^2)", &series.column(|r| r.core_area_nm2)),
                ("cloud area (nm^2)", &series.column(|r| r.cloud_area_nm2)),
                &cyc,
            )?;
            root.present().map_err(|e| e.to_string())
        };
        draw().map_err(|e| ImagingError::write(path, e))?;
    }
    commit_svg(path, svg)
}

/// Herman's f against time (or frame when `dt_s` is `None`).
pub fn plot_crystallinity(path: &Path, herman_f: &[f64], dt_s: Option<f64>) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 400)).into_drawing_area();
        let draw = || -> std::result::Result<(), String> {
            let e = |e: &dyn std::fmt::Display| e.to_string();
            root.fill(&WHITE).map_err(|x| e(&x))?;
            let x: Vec<f64> = (0..herman_f.len())
                .map(|i| i as f64 * dt_s.unwrap_or(1.0))
                .collect();
            let (x0, x1) = range(x.iter().copied());
            let mut chart = ChartBuilder::on(&root)
                .caption("Herman's orientation order parameter", ("sans-serif", 18))
                .margin(10)
                .x_label_area_size(35)
                .y_label_area_size(50)
                .build_cartesian_2d(x0..x1, -0.05f64..1.05)
                .map_err(|x| e(&x))?;
            chart
                .configure_mesh()
                .x_desc(if dt_s.is_some() { "time (s)" } else { "frame" })
                .y_desc("f")
                .draw()
                .map_err(|x| e(&x))?;
            let pts: Vec<(f64, f64)> = x.iter().copied().zip(herman_f.iter().copied()).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), BLUE.stroke_width(2)))
                .map_err(|x| e(&x))?;
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, BLUE.filled())))
                .map_err(|x| e(&x))?;
            root.present().map_err(|x| e(&x))
        };
        draw().map_err(|e| ImagingError::write(path, e))?;
    }
    commit_svg(path, svg)
}

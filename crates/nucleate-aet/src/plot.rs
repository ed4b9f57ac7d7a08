//! Pictures for reports: orthoslices (PNG) and the intensity histogram with class
//! boundaries (SVG).

use std::path::Path;

use plotters::prelude::*;

use crate::error::{AetError, Result};
use crate::series::{write_bytes, Volume};

/// Three central orthoslices (z = c, y = c, x = c; each summed over `thickness` voxels)
/// side by side as an 8-bit greyscale PNG; `marks` (voxel coordinates) are drawn as white
/// dots on the slices they cross.
pub fn orthoslices_png(
    path: &Path,
    vol: &Volume,
    thickness: usize,
    marks: &[[f64; 3]],
) -> Result<()> {
    let n = vol.n;
    let c = n / 2;
    let t = thickness.max(1);
    let lo = c.saturating_sub(t / 2);
    let hi = (lo + t).min(n);
    let w = 3 * n;
    let mut img = vec![0.0f32; w * n];
    for z in lo..hi {
        for y in 0..n {
            for x in 0..n {
                img[y * w + x] += vol.at(x, y, z);
            }
        }
    }
    for y in lo..hi {
        for z in 0..n {
            for x in 0..n {
                img[z * w + n + x] += vol.at(x, y, z);
            }
        }
    }
    for x in lo..hi {
        for z in 0..n {
            for y in 0..n {
                img[z * w + 2 * n + y] += vol.at(x, y, z);
            }
        }
    }
    let max = img.iter().fold(0.0f32, |m, &v| m.max(v)).max(1e-30);
    let mut bytes: Vec<u8> = img
        .iter()
        .map(|v| (v.max(0.0) / max * 255.0) as u8)
        .collect();
    let (lo, hi) = (lo as f64 - 0.5, hi as f64 - 0.5);
    for m in marks {
        let mut dot = |col: f64, row: f64| {
            let (cx, cy) = (col.round() as isize, row.round() as isize);
            if cx >= 0 && cy >= 0 && (cx as usize) < w && (cy as usize) < n {
                bytes[cy as usize * w + cx as usize] = 255;
            }
        };
        if m[2] >= lo && m[2] < hi {
            dot(m[0], m[1]);
        }
        if m[1] >= lo && m[1] < hi {
            dot(n as f64 + m[0], m[2]);
        }
        if m[0] >= lo && m[0] < hi {
            dot(2.0 * n as f64 + m[1], m[2]);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, n as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let err = |e: png::EncodingError| AetError::format(path, format!("cannot encode PNG: {e}"));
        let mut wr = enc.write_header().map_err(err)?;
        wr.write_image_data(&bytes).map_err(err)?;
    }
    write_bytes(path, &out)
}

/// Histogram of integrated intensities with vertical lines at the class boundaries (SVG).
pub fn histogram_svg(path: &Path, values: &[f64], boundaries: &[f64], title: &str) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        let err = |e: String| AetError::format(path, format!("cannot draw histogram: {e}"));
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let max = values.iter().fold(0.0f64, |m, &v| m.max(v)).max(1e-12) * 1.05;
        let min = values.iter().fold(0.0f64, |m, &v| m.min(v));
        let bins = 60usize;
        let width = (max - min) / bins as f64;
        let mut counts = vec![0usize; bins];
        for v in values {
            let b = (((v - min) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
        let top = counts.iter().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(min..max, 0.0..top)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("integrated intensity")
            .y_desc("peaks")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(counts.iter().enumerate().map(|(i, &c)| {
                let x0 = min + i as f64 * width;
                Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], BLUE.mix(0.6).filled())
            }))
            .map_err(|e| err(e.to_string()))?;
        for &b in boundaries {
            chart
                .draw_series(LineSeries::new(
                    vec![(b, 0.0), (b, top)],
                    RED.stroke_width(2),
                ))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    write_bytes(path, svg.as_bytes())
}

/// A line chart of residual curves (SVG): each series is (label, points).
pub fn curves_svg(path: &Path, series: &[(&str, Vec<(f64, f64)>)], x_desc: &str) -> Result<()> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 420)).into_drawing_area();
        let err = |e: String| AetError::format(path, format!("cannot draw curves: {e}"));
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let xmax = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.0))
            .fold(1.0f64, f64::max);
        let ymax = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-6)
            * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..xmax, 0.0..ymax)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let colours = [BLUE, RED, GREEN, BLACK];
        for (i, (label, pts)) in series.iter().enumerate() {
            let col = colours[i % colours.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(*label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    write_bytes(path, svg.as_bytes())
}

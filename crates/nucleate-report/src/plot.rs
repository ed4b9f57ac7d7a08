//! Line and scatter charts rendered to SVG.

use std::io::Write;
use std::path::Path;

use nucleate_core::io::AtomicFile;
use plotters::prelude::*;

use crate::ReportError;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Connected line.
    Line,
    /// Dots.
    Points,
    /// Line with dots.
    LinePoints,
}

/// One data series.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text (empty: no legend entry).
    pub name: String,
    /// (x, y) points; non-finite points are skipped.
    pub points: Vec<(f64, f64)>,
    /// Drawing style.
    pub style: Style,
    /// Colour index into the palette.
    pub colour: usize,
}

/// A vertical marker line at x with a label.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    /// Position on the x axis.
    pub x: f64,
    /// Text shown at the top of the line.
    pub label: String,
}

/// A 2D chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Chart {
    /// Caption.
    pub title: String,
    /// X axis label with unit, e.g. "time (ps)".
    pub x_label: String,
    /// Y axis label with unit.
    pub y_label: String,
    /// Data.
    pub series: Vec<Series>,
    /// Vertical markers.
    pub markers: Vec<Marker>,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Legend in the lower left corner instead of the upper left (curves that peak early).
    pub legend_bottom: bool,
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(23, 190, 207),
];

impl Chart {
    /// A chart with a title and axis labels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Default::default()
        }
    }

    /// Add a series.
    pub fn with_series(mut self, name: &str, points: Vec<(f64, f64)>, style: Style) -> Self {
        let colour = self.series.len();
        self.series.push(Series {
            name: name.into(),
            points,
            style,
            colour,
        });
        self
    }

    /// Data range with a margin; (0, 1) for empty data.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let pts = self
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        let pts: Vec<(f64, f64)> = pts.filter(|p| !self.log_y || p.1 > 0.0).copied().collect();
        let span = |v: &mut dyn Iterator<Item = f64>| {
            let (lo, hi) = v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            });
            if !lo.is_finite() {
                (0.0, 1.0)
            } else if hi - lo <= 0.0 {
                (lo - 0.5 * lo.abs().max(1.0), hi + 0.5 * hi.abs().max(1.0))
            } else {
                (lo, hi)
            }
        };
        let (x0, x1) = span(
            &mut pts
                .iter()
                .map(|p| p.0)
                .chain(self.markers.iter().map(|m| m.x)),
        );
        let (y0, y1) = span(&mut pts.iter().map(|p| p.1));
        let pad = 0.05 * (y1 - y0);
        let (y0, y1) = if self.log_y {
            (y0 / 1.5, y1 * 1.5)
        } else {
            (y0 - pad, y1 + pad)
        };
        ((x0, x1), (y0, y1))
    }

    /// Render to an SVG document of `width` x `height` pixels.
    pub fn to_svg(&self, width: u32, height: u32) -> Result<String, ReportError> {
        let err = |e: &dyn std::fmt::Display| ReportError::Draw {
            what: self.title.clone(),
            message: e.to_string(),
        };
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let mut builder = ChartBuilder::on(&root);
            builder
                .caption(&self.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(70);
            if self.log_y {
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, (y0..y1).log_scale())
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .draw()
                    .map_err(|e| err(&e))?;
                self.draw_series(&mut chart, y0, y1).map_err(|e| err(&e))?;
            } else {
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(|e| err(&e))?;
                chart
                    .configure_mesh()
                    .x_desc(&self.x_label)
                    .y_desc(&self.y_label)
                    .draw()
                    .map_err(|e| err(&e))?;
                self.draw_series(&mut chart, y0, y1).map_err(|e| err(&e))?;
            }
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }

    fn draw_series<'a, DB: DrawingBackend + 'a, CT>(
        &self,
        chart: &mut ChartContext<'a, DB, CT>,
        y0: f64,
        y1: f64,
    ) -> Result<(), Box<dyn std::error::Error + 'static>>
    where
        CT: plotters::coord::CoordTranslate<From = (f64, f64)>,
        DB::ErrorType: 'static,
    {
        let mut any_legend = false;
        for s in &self.series {
            let colour = PALETTE[s.colour % PALETTE.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite() && (!self.log_y || p.1 > 0.0))
                .collect();
            let named = !s.name.is_empty();
            any_legend |= named;
            if matches!(s.style, Style::Line | Style::LinePoints) {
                let anno =
                    chart.draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))?;
                if named {
                    anno.label(s.name.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                }
            }
            if matches!(s.style, Style::Points | Style::LinePoints) {
                let anno =
                    chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
                if named && s.style == Style::Points {
                    anno.label(s.name.clone())
                        .legend(move |(x, y)| Circle::new((x + 9, y), 3, colour.filled()));
                }
            }
        }
        // Labels only while they can be read; many markers become plain lines.
        let labelled = self.markers.len() <= 6;
        for m in &self.markers {
            let grey = RGBColor(150, 150, 150);
            chart.draw_series(LineSeries::new(
                vec![(m.x, y0), (m.x, y1)],
                grey.stroke_width(1),
            ))?;
            if !labelled {
                continue;
            }
            chart.draw_series(std::iter::once(Text::new(
                m.label.clone(),
                (m.x, y1),
                ("sans-serif", 13).into_font().color(&grey),
            )))?;
        }
        if any_legend {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .position(if self.legend_bottom {
                    SeriesLabelPosition::LowerLeft
                } else {
                    SeriesLabelPosition::UpperLeft
                })
                .draw()?;
        }
        Ok(())
    }

    /// Render and write to `path` (created only when complete).
    pub fn write_svg(&self, path: &Path, width: u32, height: u32) -> Result<(), ReportError> {
        let svg = self.to_svg(width, height)?;
        let io = |source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = AtomicFile::create(path).map_err(io)?;
        f.write_all(svg.as_bytes()).map_err(io)?;
        f.commit().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_has_labels_and_series() {
        let mut c = Chart::new("Largest nucleus", "time (ps)", "atoms")
            .with_series(
                "largest",
                vec![(0.0, 1.0), (1.0, 4.0), (2.0, 9.0)],
                Style::LinePoints,
            )
            .with_series("", vec![(0.5, f64::NAN), (1.5, 2.0)], Style::Points);
        c.markers.push(Marker {
            x: 1.0,
            label: "onset".into(),
        });
        let svg = c.to_svg(640, 400).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("time (ps)") && svg.contains("onset"));
        assert!(svg.contains("largest"));
        let log = Chart { log_y: true, ..c };
        assert!(log.to_svg(640, 400).unwrap().contains("<svg"));
        // Empty charts still render (axes only).
        assert!(Chart::new("empty", "x", "y")
            .to_svg(300, 200)
            .unwrap()
            .contains("<svg"));
    }
}

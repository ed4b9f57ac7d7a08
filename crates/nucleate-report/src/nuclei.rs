//! Plots and the report page of `nucleate nuclei` / `nucleate track`.

use std::collections::BTreeMap;
use std::path::Path;

use nucleate_nuclei::track::Tracker;
use nucleate_nuclei::{FrameNuclei, ProfileFit, RadialProfile};

use crate::{Chart, Marker, Report, ReportError, Style};

/// What the plots need from each frame, accumulated while streaming.
#[derive(Debug, Default)]
pub struct NucleiHistory {
    /// (time, largest nucleus n_atoms, number of nuclei) per frame.
    pub largest: Vec<(f64, usize, usize)>,
    /// (n_eff, a_eff, sphericity) of every nucleus of every frame.
    pub nuclei: Vec<(f64, f64, Option<f64>)>,
    /// Profile and fit of the largest nucleus per frame, with its frame time.
    pub profiles: Vec<(f64, RadialProfile, Option<ProfileFit>)>,
    /// Volume per atom (Angstrom^3), for the CNT reference curve.
    pub v_atom: f64,
    /// Time of each input frame index.
    pub times: BTreeMap<usize, f64>,
}

impl NucleiHistory {
    /// Record one frame.
    pub fn push(&mut self, index: usize, time: f64, frame: &FrameNuclei, v_atom: f64) {
        self.times.insert(index, time);
        let recs = &frame.records;
        self.largest.push((
            time,
            recs.first().map(|r| r.nucleus.n_atoms()).unwrap_or(0),
            recs.len(),
        ));
        for r in recs {
            self.nuclei
                .push((r.n_eff, r.a_eff, r.surface.map(|s| s.sphericity)));
        }
        if let Some(r) = recs.first() {
            self.profiles.push((time, r.profile.clone(), r.fit));
        }
        self.v_atom = v_atom;
    }

    /// Write the plots into `dir/plots/`; returns (relative path, caption) of each.
    pub fn write_plots(
        &self,
        dir: &Path,
        tracker: Option<&Tracker>,
        time_unit: &str,
    ) -> Result<Vec<(String, String)>, ReportError> {
        let plots = dir.join("plots");
        std::fs::create_dir_all(&plots).map_err(|source| ReportError::Io {
            path: plots.clone(),
            source,
        })?;
        let mut out = Vec::new();
        let mut save = |name: &str, chart: Chart, caption: &str| -> Result<(), ReportError> {
            chart.write_svg(&plots.join(name), 800, 500)?;
            out.push((format!("plots/{name}"), caption.to_string()));
            Ok(())
        };
        let x_time = format!("time ({time_unit})");
        save(
            "largest_nucleus.svg",
            Chart::new("Largest nucleus", &x_time, "atoms in the largest nucleus")
                .with_series(
                    "largest nucleus",
                    self.largest
                        .iter()
                        .map(|&(t, n, _)| (t, n as f64))
                        .collect(),
                    Style::LinePoints,
                )
                .with_series(
                    "number of nuclei (x10)",
                    self.largest
                        .iter()
                        .map(|&(t, _, k)| (t, 10.0 * k as f64))
                        .collect(),
                    Style::Line,
                ),
            "Size of the largest nucleus and number of nuclei in each frame.",
        )?;
        // A_eff vs N_eff with the CNT sphere of the same volume for reference.
        let nmax = self.nuclei.iter().map(|n| n.0).fold(1.0, f64::max);
        let v = self.v_atom;
        let sphere: Vec<(f64, f64)> = (1..=100)
            .map(|k| {
                let n = nmax * k as f64 / 100.0;
                (
                    n,
                    (36.0 * std::f64::consts::PI).cbrt() * (n * v).powf(2.0 / 3.0),
                )
            })
            .collect();
        save(
            "a_eff_vs_n_eff.svg",
            Chart::new("Effective surface vs effective size", "N_eff (atoms)", "A_eff (A^2)")
                .with_series("nuclei", self.nuclei.iter().map(|n| (n.0, n.1)).collect(), Style::Points)
                .with_series("sharp sphere of the same volume", sphere, Style::Line),
            "A_eff against N_eff for every nucleus; the line is the area of a sharp sphere holding N_eff atoms.",
        )?;
        save(
            "sphericity_vs_n_eff.svg",
            Chart::new(
                "Sphericity vs effective size",
                "N_eff (atoms)",
                "sphericity",
            )
            .with_series(
                "nuclei",
                self.nuclei
                    .iter()
                    .filter_map(|n| n.2.map(|s| (n.0, s)))
                    .collect(),
                Style::Points,
            ),
            "Sphericity of the iso-surface at the threshold (1 = sphere).",
        )?;
        // Profiles of the largest nucleus at up to five times, with their fits.
        let mut chart = Chart::new(
            "Order profile of the largest nucleus",
            "distance from the core (A)",
            "mean order",
        );
        let n = self.profiles.len();
        let picks: Vec<usize> = if n <= 5 {
            (0..n).collect()
        } else {
            (0..5).map(|k| k * (n - 1) / 4).collect()
        };
        for (c, &k) in picks.iter().enumerate() {
            let (t, p, fit) = &self.profiles[k];
            let pts = p.r.iter().copied().zip(p.order.iter().copied()).collect();
            chart.series.push(crate::Series {
                name: format!("t = {t} {time_unit}"),
                points: pts,
                style: Style::Points,
                colour: c,
            });
            if let Some(f) = fit {
                let r_max = p.r.last().copied().unwrap_or(1.0);
                let curve = (0..=100)
                    .map(|i| {
                        let r = r_max * i as f64 / 100.0;
                        (
                            r,
                            f.alpha0 * (-(r / f.lambda).powf(f.beta)).exp() + f.background,
                        )
                    })
                    .collect();
                chart.series.push(crate::Series {
                    name: String::new(),
                    points: curve,
                    style: Style::Line,
                    colour: c,
                });
            }
        }
        save("profiles.svg", chart, "Radial order profiles (points) with fits alpha0 exp(-(r/lambda)^beta) + background (lines).")?;
        if let Some(t) = tracker {
            let mut chart = Chart::new("N_eff of each track", &x_time, "N_eff (atoms)");
            let mut longest: Vec<usize> = (0..t.tracks().len())
                .filter(|&k| t.tracks()[k].frames.len() >= 2)
                .collect();
            longest.sort_by_key(|&k| std::cmp::Reverse(t.tracks()[k].frames.len()));
            longest.truncate(16);
            longest.sort_unstable();
            for &k in &longest {
                let info = &t.tracks()[k];
                let pts = info
                    .frames
                    .iter()
                    .zip(&info.n_eff)
                    .map(|(&f, &n)| (self.times.get(&f).copied().unwrap_or(f as f64), n))
                    .collect();
                let class = t.classify(k);
                chart.series.push(crate::Series {
                    name: format!("track {k} ({})", class.as_str()),
                    points: pts,
                    style: Style::LinePoints,
                    colour: chart.series.len(),
                });
            }
            for e in t
                .events()
                .iter()
                .filter(|e| e.kind.as_str() == "merge" || e.kind.as_str() == "divide")
            {
                chart.markers.push(Marker {
                    x: e.time_ps,
                    label: e.kind.as_str().to_string(),
                });
            }
            save("tracks.svg", chart, "N_eff against time for the longest tracks (legend: class); grey vertical lines mark merges and divisions.")?;
        }
        Ok(out)
    }
}

/// The report page of a nuclei or track run.
pub fn nuclei_report(
    title: &str,
    summary: &str,
    plots: &[(String, String)],
    table: (&[&str], Vec<Vec<String>>),
) -> Report {
    let mut r = Report::new(title);
    r.heading("Summary").paragraph(summary);
    r.heading("Plots");
    for (src, caption) in plots {
        r.figure(src, caption);
    }
    r.heading("Tracks");
    r.table(table.0, table.1);
    r
}

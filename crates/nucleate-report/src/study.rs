//! The report of `nucleate study`, built from the files the stages wrote (thermo.csv,
//! nuclei.csv, tracks.csv, track_classes.csv, events.csv, profiles.csv, summary.json), so it can
//! be rebuilt from any finished output folder.

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Chart, Marker, Report, ReportError, Series, Style};

/// A CSV file as named columns of text.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(path: &Path) -> Option<Table> {
        let text = std::fs::read_to_string(path).ok()?;
        let mut lines = text.lines();
        let header: Vec<String> = lines
            .next()?
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let rows = lines
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split(',').map(|s| s.to_string()).collect())
            .collect();
        Some(Table { header, rows })
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    fn num(&self, row: &[String], name: &str) -> Option<f64> {
        self.col(name)
            .and_then(|c| row.get(c))
            .and_then(|v| v.parse().ok())
    }

    fn text<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        self.col(name).and_then(|c| row.get(c)).map(|s| s.as_str())
    }
}

/// A dG(r) curve: its name, points (r in A, dG in eV) and the critical (r*, dG*) if any.
pub type BarrierCurve = (String, Vec<(f64, f64)>, Option<(f64, f64)>);

/// Inputs of the study report besides the output folder.
#[derive(Debug, Clone, Default)]
pub struct StudyReportInput {
    /// Title of the study.
    pub title: String,
    /// Where the trajectory came from (a sentence).
    pub source: String,
    /// Time between analysed frames (ps).
    pub dt_ps: f64,
    /// Thermo CSV (time_ps, temp_k, pe_ev_per_atom columns), if any.
    pub thermo: Option<std::path::PathBuf>,
    /// Atoms in the system.
    pub n_atoms: usize,
    /// dG(r) curves with their barriers.
    pub barriers: Vec<BarrierCurve>,
    /// Text on the free-energy inputs (dg, gamma, profile used).
    pub theory_text: String,
}

/// Write plots into `dir/plots` and `dir/report.html`.
pub fn write_study_report(dir: &Path, input: &StudyReportInput) -> Result<(), ReportError> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|source| ReportError::Io {
        path: plots.clone(),
        source,
    })?;
    let mut figures: Vec<(String, String)> = Vec::new();
    let mut save = |name: &str, chart: Chart, caption: &str| -> Result<(), ReportError> {
        chart.write_svg(&plots.join(name), 820, 480)?;
        figures.push((format!("plots/{name}"), caption.to_string()));
        Ok(())
    };
    let dt = input.dt_ps;
    let nuclei = Table::read(&dir.join("nuclei.csv"));
    // Largest nucleus and atoms in nuclei per frame.
    let mut largest: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    if let Some(t) = &nuclei {
        for r in &t.rows {
            let (Some(f), Some(n)) = (t.num(r, "frame"), t.num(r, "n_atoms")) else {
                continue;
            };
            let e = largest.entry(f as usize).or_insert((0.0, 0.0));
            e.0 = e.0.max(n);
            e.1 += n;
        }
    }
    let summary: Option<serde_like::Summary> = serde_like::read_summary(&dir.join("summary.json"));
    if let Some(s) = &summary {
        for &(f, n) in &s.largest {
            largest.entry(f).or_insert((n as f64, 0.0));
        }
    }
    let series_largest: Vec<(f64, f64)> = largest
        .iter()
        .map(|(&f, &(n, _))| (f as f64 * dt, n))
        .collect();
    // Onset: first time the largest nucleus reaches 10% of its final size and stays there.
    let onset = {
        let last = series_largest.last().map(|p| p.1).unwrap_or(0.0);
        let level = (0.1 * last).max(1.0);
        let mut t_on = None;
        for &(t, n) in series_largest.iter().rev() {
            if n >= level {
                t_on = Some(t);
            } else {
                break;
            }
        }
        t_on.filter(|_| last > 0.0)
    };
    let onset_marker = |c: &mut Chart| {
        if let Some(t) = onset {
            c.markers.push(Marker {
                x: t,
                label: "onset".into(),
            });
        }
    };
    if let Some(path) = &input.thermo {
        if let Some(th) = Table::read(path) {
            let time: Vec<f64> = th
                .rows
                .iter()
                .map(|r| th.num(r, "time_ps").unwrap_or(f64::NAN))
                .collect();
            let col = |name: &str| -> Vec<(f64, f64)> {
                th.rows
                    .iter()
                    .zip(&time)
                    .filter_map(|(r, &t)| th.num(r, name).map(|v| (t, v)))
                    .collect()
            };
            let mut c = Chart::new("Temperature", "time (ps)", "T (K)").with_series(
                "temperature",
                col("temp_k"),
                Style::Line,
            );
            onset_marker(&mut c);
            save("thermo_temperature.svg", c, "Temperature of the run; the line marks the crystallisation onset (largest nucleus at 10% of its final size for good).")?;
            let mut c = Chart::new("Potential energy", "time (ps)", "PE (eV/atom)").with_series(
                "potential energy",
                col("pe_ev_per_atom"),
                Style::Line,
            );
            onset_marker(&mut c);
            save(
                "thermo_energy.svg",
                c,
                "Potential energy per atom: it falls as the crystal grows.",
            )?;
        }
    }
    let n = input.n_atoms.max(1) as f64;
    let mut c = Chart::new("Largest nucleus and atoms in nuclei", "time (ps)", "atoms")
        .with_series("largest nucleus", series_largest.clone(), Style::LinePoints)
        .with_series(
            "all nuclei",
            largest
                .iter()
                .map(|(&f, &(_, s))| (f as f64 * dt, s))
                .collect(),
            Style::Line,
        );
    onset_marker(&mut c);
    save(
        "largest_nucleus.svg",
        c,
        &format!(
            "Atoms in the largest nucleus and in all nuclei per frame (of {} atoms).",
            input.n_atoms
        ),
    )?;
    let mut c = Chart::new("Fraction of atoms in nuclei", "time (ps)", "fraction").with_series(
        "in nuclei",
        largest
            .iter()
            .map(|(&f, &(_, s))| (f as f64 * dt, s / n))
            .collect(),
        Style::Line,
    );
    onset_marker(&mut c);
    save("fraction_ordered.svg", c, "Fraction of the atoms that belong to a nucleus (ordered atoms above the threshold in a basin of sufficient size).")?;

    // Tracks coloured by class, with merges and divisions.
    let classes = Table::read(&dir.join("track_classes.csv"));
    let tracks = Table::read(&dir.join("tracks.csv"));
    let mut class_of: BTreeMap<usize, String> = BTreeMap::new();
    let mut class_rows = Vec::new();
    if let Some(t) = &classes {
        for r in &t.rows {
            if let (Some(k), Some(cl)) = (t.num(r, "track"), t.text(r, "class")) {
                class_of.insert(k as usize, cl.to_string());
                if t.num(r, "n_frames").unwrap_or(0.0) >= 2.0 {
                    class_rows.push(r.iter().map(|c| short(c)).collect());
                }
            }
        }
    }
    if let Some(t) = &tracks {
        let mut per: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
        for r in &t.rows {
            if let (Some(k), Some(time), Some(ne)) =
                (t.num(r, "track"), t.num(r, "time_ps"), t.num(r, "n_eff"))
            {
                per.entry(k as usize).or_default().push((time, ne));
            }
        }
        let colour = |cl: &str| match cl {
            "growing" => 2,
            "fluctuating" => 3,
            "dissolving" => 1,
            "stable" => 4,
            _ => 7,
        };
        let mut c = Chart::new(
            "N_eff of each track (colour: class)",
            "time (ps)",
            "N_eff (atoms)",
        );
        let mut named = std::collections::HashSet::new();
        for (k, pts) in per.into_iter().filter(|(_, p)| p.len() >= 2) {
            let cl = class_of.get(&k).cloned().unwrap_or_default();
            let name = if named.insert(cl.clone()) {
                cl.clone()
            } else {
                String::new()
            };
            c.series.push(Series {
                name,
                points: pts,
                style: Style::Line,
                colour: colour(&cl),
            });
        }
        if let Some(ev) = Table::read(&dir.join("events.csv")) {
            for r in &ev.rows {
                let kind = ev.text(r, "kind").unwrap_or("");
                if kind == "merge" || kind == "divide" {
                    if let Some(t) = ev.num(r, "time_ps") {
                        c.markers.push(Marker {
                            x: t,
                            label: kind.into(),
                        });
                    }
                }
            }
        }
        save("tracks.svg", c, "Every track seen in two or more frames, coloured by class (green growing, orange fluctuating, red dissolving, purple stable); grey lines mark merges and divisions.")?;
    }
    if let Some(t) = &nuclei {
        let pts = |y: &str| -> Vec<(f64, f64)> {
            t.rows
                .iter()
                .filter_map(|r| Some((t.num(r, "n_eff")?, t.num(r, y)?)))
                .collect()
        };
        save(
            "a_eff_vs_n_eff.svg",
            Chart::new(
                "Effective surface vs effective size",
                "N_eff (atoms)",
                "A_eff (A^2)",
            )
            .with_series("nuclei", pts("a_eff"), Style::Points),
            "A_eff against N_eff for every nucleus of every frame.",
        )?;
        save(
            "sphericity_vs_n_eff.svg",
            Chart::new(
                "Sphericity vs effective size",
                "N_eff (atoms)",
                "sphericity",
            )
            .with_series("nuclei", pts("sphericity"), Style::Points),
            "Sphericity of the iso-surface at the threshold (1 = sphere).",
        )?;
        // Profiles of the largest nucleus at up to five frames, with their fits.
        if let Some(pr) = Table::read(&dir.join("profiles.csv")) {
            let frames: Vec<usize> = largest
                .keys()
                .copied()
                .filter(|f| largest[f].0 > 0.0)
                .collect();
            let picks: Vec<usize> = if frames.len() <= 5 {
                frames.clone()
            } else {
                (0..5).map(|k| frames[k * (frames.len() - 1) / 4]).collect()
            };
            let mut c = Chart::new(
                "Order profile of the largest nucleus",
                "distance from the core (A)",
                "mean order",
            );
            for (ci, &f) in picks.iter().enumerate() {
                let pts: Vec<(f64, f64)> = pr
                    .rows
                    .iter()
                    .filter(|r| {
                        pr.num(r, "frame") == Some(f as f64) && pr.num(r, "nucleus") == Some(0.0)
                    })
                    .filter_map(|r| Some((pr.num(r, "r_a")?, pr.num(r, "order")?)))
                    .collect();
                let r_max = pts.last().map(|p| p.0).unwrap_or(1.0);
                c.series.push(Series {
                    name: format!("t = {} ps", f as f64 * dt),
                    points: pts,
                    style: Style::Points,
                    colour: ci,
                });
                let fit = t.rows.iter().find(|r| {
                    t.num(r, "frame") == Some(f as f64) && t.num(r, "nucleus") == Some(0.0)
                });
                if let Some(r) = fit {
                    if let (Some(a0), Some(l), Some(b)) =
                        (t.num(r, "alpha0"), t.num(r, "lambda"), t.num(r, "beta"))
                    {
                        let bg = t.num(r, "background").unwrap_or(0.0);
                        let curve = (0..=100).map(|i| {
                            let x = r_max * i as f64 / 100.0;
                            (x, a0 * (-(x / l).powf(b)).exp() + bg)
                        });
                        c.series.push(Series {
                            name: String::new(),
                            points: curve.collect(),
                            style: Style::Line,
                            colour: ci,
                        });
                    }
                }
            }
            save("profiles.svg", c, "Radial order profiles of the largest nucleus (points) with their fits alpha0 exp(-(r/lambda)^beta) + background (lines).")?;
        }
    }
    if !input.barriers.is_empty() {
        let mut c = Chart::new(
            "Free energy of a spherical nucleus",
            "radius r (A)",
            "dG (eV)",
        );
        for (k, (name, pts, crit)) in input.barriers.iter().enumerate() {
            let label = match crit {
                Some((r, g)) => format!("{name}: r* = {r:.2} A, dG* = {g:.2} eV"),
                None => format!("{name}: no barrier"),
            };
            c.series.push(Series {
                name: label,
                points: pts.clone(),
                style: Style::Line,
                colour: k,
            });
        }
        save("barriers.svg", c, "dG(r) of CNT (sharp interface) and of the OPG model with the measured profile shape; the diffuse interface lowers the barrier.")?;
    }

    // The text summary.
    let mut text = format!("{} ", input.source);
    if let Some(s) = &summary {
        text += &format!(
            "{} frames analysed. {} tracks: {} growing, {} fluctuating, {} dissolving; {} merges and {} divisions. ",
            s.frames, s.tracks, s.growing, s.fluctuating, s.dissolving, s.merges, s.divisions
        );
    }
    if let Some((&f, &(nmax, _))) = largest.iter().max_by(|a, b| a.1 .0.total_cmp(&b.1 .0)) {
        text += &format!(
            "The largest nucleus reached {nmax:.0} of {} atoms at {:.1} ps. ",
            input.n_atoms,
            f as f64 * dt
        );
    }
    if let Some(t) = onset {
        text += &format!("Crystallisation onset (the largest nucleus stays above 10% of its final size): {t:.1} ps. ");
    }
    text += &input.theory_text;

    let mut r = Report::new(&input.title);
    r.heading("What happened").paragraph(&text);
    r.heading("Plots");
    for (src, caption) in &figures {
        r.figure(src, caption);
    }
    r.heading("Tracks seen in two or more frames");
    if let Some(t) = &classes {
        let header: Vec<&str> = t.header.iter().map(|s| s.as_str()).collect();
        let rows = if class_rows.is_empty() {
            vec![vec!["(none)".to_string()]]
        } else {
            class_rows
        };
        r.table(&header, rows);
    }
    if let Some(t) = &nuclei {
        r.heading("Nuclei of the last frame");
        let last = largest.keys().next_back().copied();
        let keep = [
            "frame",
            "nucleus",
            "n_atoms",
            "n_eff",
            "a_eff",
            "sphericity",
            "alpha0",
            "lambda",
            "beta",
            "site",
        ];
        let rows: Vec<Vec<String>> = t
            .rows
            .iter()
            .filter(|r| last.is_some() && t.num(r, "frame") == last.map(|f| f as f64))
            .map(|r| {
                keep.iter()
                    .map(|k| t.text(r, k).map(short).unwrap_or_default())
                    .collect()
            })
            .collect();
        let rows = if rows.is_empty() {
            vec![vec!["(none)".to_string()]]
        } else {
            rows
        };
        r.table(&keep, rows);
    }
    r.write(&dir.join("report.html"))
}

/// Numbers shortened for a table.
fn short(s: &str) -> String {
    match s.parse::<f64>() {
        Ok(v) if s.contains('.') => format!("{v:.3}"),
        _ => s.to_string(),
    }
}

/// The fields of summary.json the report needs.
mod serde_like {
    use std::path::Path;

    pub struct Summary {
        pub frames: usize,
        pub tracks: usize,
        pub growing: usize,
        pub fluctuating: usize,
        pub dissolving: usize,
        pub merges: usize,
        pub divisions: usize,
        pub largest: Vec<(usize, usize)>,
    }

    pub fn read_summary(path: &Path) -> Option<Summary> {
        let text = std::fs::read_to_string(path).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let u = |k: &str| v.get(k).and_then(|x| x.as_u64()).unwrap_or(0) as usize;
        let largest = v
            .get("largest_nucleus")
            .and_then(|x| x.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((p.get(0)?.as_u64()? as usize, p.get(1)?.as_u64()? as usize))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Summary {
            frames: u("frames"),
            tracks: u("tracks"),
            growing: u("growing"),
            fluctuating: u("fluctuating"),
            dissolving: u("dissolving"),
            merges: u("merges"),
            divisions: u("divisions"),
            largest,
        })
    }
}

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
    /// Structure-over-time analyses (a-CNA, crystallinity, grains, g(r)), one per trajectory.
    pub structure: Vec<StructureRun>,
}

/// One trajectory analysed by `nucleate structure` and `nucleate rdf`: its files are
/// `FOLDER/structure.csv`, `FOLDER/gr.csv` and `FOLDER/thermo.csv` in the output folder.
#[derive(Debug, Clone, Default)]
pub struct StructureRun {
    /// Name shown in legends ("preparation", "300K", ...).
    pub name: String,
    /// Folder relative to the output folder ("" for the folder itself).
    pub folder: String,
    /// Time between frames (ps).
    pub dt_ps: f64,
    /// Time of the run's frame 0 on the study's clock (ps).
    pub time_offset_ps: f64,
}

/// Per-frame structure of one run on the study's clock: (time ps, crystalline fraction, A/C
/// ratio, core radius A, grains), the atoms of the largest grain (time ps, atoms) and the
/// potential energy (time ps, eV/atom).
struct StructureSeries {
    rows: Vec<(f64, f64, f64, Option<f64>, f64)>,
    largest_grain: Vec<(f64, f64)>,
    energy: Vec<(f64, f64)>,
}

fn read_structure(dir: &Path, run: &StructureRun) -> Option<StructureSeries> {
    let base = dir.join(&run.folder);
    let t = Table::read(&base.join("structure.csv"))?;
    let mut rows = Vec::new();
    let mut largest_grain = Vec::new();
    for r in &t.rows {
        let (Some(f), Some(ratio), Some(g)) = (
            t.num(r, "frame"),
            t.num(r, "ac_ratio"),
            t.num(r, "n_grains"),
        ) else {
            continue;
        };
        // ac_ratio = amorphous / crystalline, so the crystalline share is 1 / (1 + ratio).
        let frac = if ratio.is_finite() {
            1.0 / (1.0 + ratio)
        } else {
            0.0
        };
        if let Some(n) = t.num(r, "largest_grain_atoms") {
            largest_grain.push((run.time_offset_ps + f * run.dt_ps, n));
        }
        rows.push((
            run.time_offset_ps + f * run.dt_ps,
            frac,
            ratio,
            t.num(r, "core_radius_a"),
            g,
        ));
    }
    let energy = Table::read(&base.join("thermo.csv"))
        .map(|th| {
            th.rows
                .iter()
                .filter_map(|r| {
                    Some((
                        run.time_offset_ps + th.num(r, "time_ps")?,
                        th.num(r, "pe_ev_per_atom")?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(StructureSeries {
        rows,
        largest_grain,
        energy,
    })
}

/// Least-squares slope of y(t) (units of y per ps).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mt = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mt) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mt).powi(2)).sum();
    sxy / sxx
}

/// g(r) of the first and the last window of a run: (window's first frame, points of the first
/// pair column).
fn read_gr(dir: &Path, run: &StructureRun) -> Vec<(f64, Vec<(f64, f64)>)> {
    let Some(t) = Table::read(&dir.join(&run.folder).join("gr.csv")) else {
        return Vec::new();
    };
    let Some(col) = t.header.get(2).cloned() else {
        return Vec::new();
    };
    let mut per: BTreeMap<i64, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &t.rows {
        if let (Some(f), Some(x), Some(g)) = (t.num(r, "frame"), t.num(r, "r_a"), t.num(r, &col)) {
            per.entry(f as i64).or_default().push((x, g));
        }
    }
    let mut out: Vec<(f64, Vec<(f64, f64)>)> = Vec::new();
    if let Some((f, g)) = per.iter().next() {
        out.push((*f as f64, g.clone()));
    }
    if per.len() > 1 {
        if let Some((f, g)) = per.iter().next_back() {
            out.push((*f as f64, g.clone()));
        }
    }
    out
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
            let caption = if onset.is_some() {
                "Temperature of the run; the line marks the crystallisation onset (largest nucleus at 10% of its final size for good)."
            } else {
                "Temperature of the run."
            };
            save("thermo_temperature.svg", c, caption)?;
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
    let has_nuclei = nuclei.is_some() || summary.is_some();
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
    if has_nuclei {
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
    }

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

    // Structure over time: one line per run (the preparation, then each branch) on one clock.
    let mut structure_figs: Vec<(String, String)> = Vec::new();
    let mut structure_rows: Vec<Vec<String>> = Vec::new();
    let mut structure_text = String::new();
    let runs: Vec<(&StructureRun, StructureSeries)> = input
        .structure
        .iter()
        .filter_map(|run| Some((run, read_structure(dir, run)?)))
        .filter(|(_, s)| !s.rows.is_empty())
        .collect();
    if !runs.is_empty() {
        let chart = |title: &str, y: &str, pick: &dyn Fn(&StructureSeries) -> Vec<(f64, f64)>| {
            let mut c = Chart::new(title, "time (ps)", y);
            for (k, (run, s)) in runs.iter().enumerate() {
                c.series.push(Series {
                    name: run.name.clone(),
                    points: pick(s),
                    style: Style::Line,
                    colour: k,
                });
            }
            c
        };
        let figs: [(&str, Chart, &str); 6] = [
            (
                "structure_crystalline.svg",
                chart("Crystalline fraction", "fcc + hcp + bcc share", &|s| {
                    s.rows.iter().map(|r| (r.0, r.1)).collect()
                }),
                "Crystalline share of the particle's inner atoms (a-CNA fcc, hcp or bcc; surface atoms excluded) per snapshot.",
            ),
            (
                "structure_ac_ratio.svg",
                {
                    let mut c = chart("Amorphous-to-crystalline ratio", "A/C", &|s| {
                        s.rows
                            .iter()
                            .filter(|r| r.2.is_finite() && r.2 > 0.0)
                            .map(|r| (r.0, r.2))
                            .collect()
                    });
                    c.log_y = true;
                    c
                },
                "Amorphous (a-CNA other or icosahedral) over crystalline inner atoms, log scale (no point while nothing is crystalline).",
            ),
            (
                "structure_core_radius.svg",
                chart("Crystalline core radius", "radius (A)", &|s| {
                    s.rows
                        .iter()
                        .filter_map(|r| Some((r.0, r.3?)))
                        .collect()
                }),
                "Radius up to which every radial shell from the centre of mass is more than half crystalline (the crystalline core under an amorphous shell).",
            ),
            (
                "structure_grains.svg",
                chart("Grains", "grains", &|s| s.rows.iter().map(|r| (r.0, r.4)).collect()),
                "Grains: clusters of crystalline neighbours whose lattice orientations differ by less than the misorientation limit.",
            ),
            (
                "structure_largest_grain.svg",
                chart("Largest grain", "atoms", &|s| s.largest_grain.clone()),
                "Atoms in the largest grain: coarsening shows as growth of the largest grain at the expense of the others.",
            ),
            (
                "structure_energy.svg",
                chart("Potential energy", "PE (eV/atom)", &|s| s.energy.clone()),
                "Potential energy per atom of each run (thermo output).",
            ),
        ];
        for (name, c, caption) in figs {
            // A quantity that never leaves zero (e.g. no shell around the centre is half
            // crystalline, so no core) says so in the text rather than in a flat plot.
            if c.series.iter().all(|s| s.points.iter().all(|p| p.1 == 0.0)) {
                continue;
            }
            c.write_svg(&plots.join(name), 820, 480)?;
            structure_figs.push((format!("plots/{name}"), caption.to_string()));
        }
        let mut gr = Chart::new("Radial distribution function", "r (A)", "g(r)");
        let mut colour = 0;
        for (run, _) in &runs {
            for (f, pts) in read_gr(dir, run) {
                gr.series.push(Series {
                    name: format!(
                        "{} from {:.0} ps",
                        run.name,
                        run.time_offset_ps + f * run.dt_ps
                    ),
                    points: pts,
                    style: Style::Line,
                    colour,
                });
                colour += 1;
            }
        }
        if !gr.series.is_empty() {
            gr.legend_bottom = true;
            gr.write_svg(&plots.join("structure_gr.svg"), 820, 520)?;
            structure_figs.push((
                "plots/structure_gr.svg".into(),
                "g(r) averaged over the first and the last window of snapshots of each run.".into(),
            ));
        }
        let fmt = |v: Option<f64>, d: usize| match v {
            Some(x) if x.is_finite() => format!("{x:.d$}"),
            _ => "-".into(),
        };
        let mut sentences = Vec::new();
        for (run, s) in &runs {
            let (a, b) = (s.rows[0], s.rows[s.rows.len() - 1]);
            let frac: Vec<(f64, f64)> = s.rows.iter().map(|r| (r.0, r.1)).collect();
            let rate = slope(&frac) * 100.0;
            let (e0, e1) = (s.energy.first().map(|e| e.1), s.energy.last().map(|e| e.1));
            structure_rows.push(vec![
                run.name.clone(),
                format!("{:.0} - {:.0}", a.0, b.0),
                format!("{:.3} -> {:.3}", a.1, b.1),
                fmt(Some(rate), 3),
                match (s.largest_grain.first(), s.largest_grain.last()) {
                    (Some(g0), Some(g1)) => {
                        format!("{:.0} ({:.0}) -> {:.0} ({:.0})", a.4, g0.1, b.4, g1.1)
                    }
                    _ => format!("{:.0} -> {:.0}", a.4, b.4),
                },
                format!("{} -> {}", fmt(a.3, 1), fmt(b.3, 1)),
                format!("{} -> {}", fmt(e0, 4), fmt(e1, 4)),
            ]);
            let core = if s.rows.iter().all(|r| r.3.unwrap_or(0.0) == 0.0) {
                ", no crystalline core (no shell around the centre is half crystalline)".to_string()
            } else {
                format!(", core radius {} -> {} A", fmt(a.3, 1), fmt(b.3, 1))
            };
            let largest = match (s.largest_grain.first(), s.largest_grain.last()) {
                (Some(g0), Some(g1)) => format!(" (largest {:.0} -> {:.0} atoms)", g0.1, g1.1),
                _ => String::new(),
            };
            sentences.push(format!(
                "{}: crystalline fraction {:.3} -> {:.3} over {:.0} ps ({:+.3} per 100 ps), grains {:.0} -> {:.0}{largest}{core}",
                run.name,
                a.1,
                b.1,
                b.0 - a.0,
                rate,
                a.4,
                b.4
            ));
        }
        structure_text = format!(
            "Adaptive CNA of every snapshot, the crystalline share of the inner atoms, the crystalline core and the grains. {}.",
            sentences.join("; ")
        );
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
    if !structure_figs.is_empty() {
        r.heading("Structure over time").paragraph(&structure_text);
        r.table(
            &[
                "run",
                "time (ps)",
                "crystalline fraction",
                "d(fraction)/dt (1/100 ps)",
                "grains (largest, atoms)",
                "core radius (A)",
                "PE (eV/atom)",
            ],
            structure_rows,
        );
        for (src, caption) in &structure_figs {
            r.figure(src, caption);
        }
    }
    if classes.is_some() {
        r.heading("Tracks seen in two or more frames");
    }
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

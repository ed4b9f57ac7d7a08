//! `nucleate study`: a whole study from one file. Either an MD run of the embedded engine or an
//! existing trajectory, then order, nuclei and tracks of every snapshot, OPG/CNT free energies
//! when dg and gamma are given, and `DIR/report.html` with its plots.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde::Deserialize;

use nucleate_core::io::{read_frame, AtomicFile, ReadOptions};
use nucleate_md::protocol::{Plan, Study};
use nucleate_md::run::{run_study, Outcome, Progress};
use nucleate_theory::cnt::Energetics;
use nucleate_theory::opg::{barrier, dg as opg_dg};
use nucleate_theory::profile::{Dimension, Profile, Shape};

use super::common::CommonArgs;

/// Arguments of `nucleate study`.
#[derive(Args, Debug)]
#[command(after_help = "\
A study file (TOML) has either a [simulation] table (an MD study exactly as `nucleate simulate`
reads it: seed, potential, structure, output, [[simulation.stage]]) or a [trajectory] table
(path, types, dt_ps = time between frames, optional thermo CSV with time_ps,temp_k,pe_ev_per_atom),
plus optional [analysis] (radius, threshold, min_atoms, persistence, min_coordination, seed_rules,
cutoff, lattice_a, frames) and [theory] (dg_ev_per_a3, gamma_ev_per_a2) tables.

[structure] (species, shell_width_a, first_shell_a, misorientation_deg, min_grain, frames,
rdf_r_max_a, rdf_window) runs `nucleate structure` and `nucleate rdf` on every snapshot (a-CNA,
crystalline fraction, core radius, grains, g(r)); a study with [structure] and no [analysis] skips
the nuclei. [[branch]] tables (name, [[branch.stage]]) continue a [simulation] from its final
snapshot, each in DIR/NAME/ with fresh velocities at its first stage's temperature (e.g. one
particle held at two temperatures); [structure] analyses each branch and the report compares them.

Stages: md (traj.dump.gz, thermo.csv, checkpoint.json), analysis (nuclei.csv, tracks.csv,
events.csv, track_classes.csv, summary.json, atoms.extxyz, profiles.csv), theory (barriers.json),
report (report.html and plots/). With --resume, finished stages are skipped (stages.json) and an
interrupted MD run continues from its checkpoint.

Examples:
  nucleate study examples/pt-nanodroplet.toml -o out/droplet
  nucleate study examples/pd-out-and-in.toml -o out/pd")]
pub struct StudyArgs {
    /// The study file.
    pub study: PathBuf,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Skip finished stages; continue an interrupted MD run.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StudyFile {
    title: Option<String>,
    simulation: Option<Study>,
    trajectory: Option<TrajectorySpec>,
    analysis: Option<AnalysisSpec>,
    structure: Option<StructureSpec>,
    #[serde(default, rename = "branch")]
    branches: Vec<BranchSpec>,
    theory: Option<TheorySpec>,
}

/// `[structure]`: a-CNA, crystallinity, grains and g(r) of every snapshot (`nucleate structure`
/// and `nucleate rdf` run on the trajectory and on each branch).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StructureSpec {
    species: Option<Vec<String>>,
    shell_width_a: Option<f64>,
    first_shell_a: Option<f64>,
    misorientation_deg: Option<f64>,
    min_grain: Option<usize>,
    frames: Option<String>,
    /// g(r) range (A).
    rdf_r_max_a: Option<f64>,
    /// Frames averaged per g(r) window.
    rdf_window: Option<usize>,
}

/// `[[branch]]`: stages run from the final state of the [simulation], each in `DIR/NAME/`
/// (e.g. the same particle held at two temperatures).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchSpec {
    name: String,
    #[serde(rename = "stage")]
    stages: Vec<nucleate_md::protocol::Stage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrajectorySpec {
    path: PathBuf,
    types: Option<Vec<String>>,
    #[serde(default = "one")]
    dt_ps: f64,
    thermo: Option<PathBuf>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnalysisSpec {
    radius: Option<f64>,
    threshold: Option<f64>,
    min_atoms: Option<usize>,
    persistence: Option<f64>,
    min_coordination: Option<usize>,
    #[serde(default)]
    seed_rules: bool,
    cutoff: Option<f64>,
    lattice_a: Option<f64>,
    frames: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TheorySpec {
    dg_ev_per_a3: f64,
    gamma_ev_per_a2: f64,
}

/// Stages finished in the output folder.
fn done_stages(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("stages.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<String>>(&t).ok())
        .unwrap_or_default()
}

fn mark_done(dir: &Path, stage: &str) -> Result<()> {
    let mut done = done_stages(dir);
    if !done.iter().any(|s| s == stage) {
        done.push(stage.to_string());
    }
    let mut f = AtomicFile::create(dir.join("stages.json"))?;
    serde_json::to_writer(&mut f, &done)?;
    f.commit()?;
    Ok(())
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn update(&mut self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

fn bar(quiet: bool, stage: &str) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(1);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>8} [{bar:40}] {percent}% {elapsed_precise} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b.set_prefix(stage.to_string());
    b
}

/// Run `nucleate study`.
pub fn run(args: StudyArgs) -> Result<()> {
    args.common.init_threads()?;
    let path = &args.study;
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let file: StudyFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
        match line {
            Some(l) => anyhow::anyhow!("{}: line {l}: {}", path.display(), e.message()),
            None => anyhow::anyhow!("{}: {}", path.display(), e.message()),
        }
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let dir = &args.out;
    std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    let done = if args.resume {
        done_stages(dir)
    } else {
        Vec::new()
    };
    if !args.resume {
        // A fresh run: forget stages of an earlier one in this folder.
        let _ = std::fs::remove_file(dir.join("stages.json"));
    }
    if let Some(t) = &file.theory {
        Energetics::new(t.gamma_ev_per_a2, t.dg_ev_per_a3)
            .map_err(|e| anyhow::anyhow!("{}: [theory]: {e}", path.display()))?;
    }

    // Where the frames come from, validated before any heavy work.
    // Frames of the melt stages show the starting crystal and the melt, not nucleation: the
    // analysis of an MD study starts after them (unless [analysis] frames says otherwise).
    let mut skip_frames = 0usize;
    let mut md_plan: Option<Plan> = None;
    anyhow::ensure!(
        file.branches.is_empty() || file.simulation.is_some(),
        "{}: [[branch]] continues a [simulation]; a [trajectory] study has none",
        path.display()
    );
    let (traj, types, dt_ps, thermo, source, title_default) = match (
        &file.simulation,
        &file.trajectory,
    ) {
        (Some(_), Some(_)) => bail!(
            "{}: give either [simulation] or [trajectory], not both",
            path.display()
        ),
        (None, None) => bail!(
            "{}: a study needs a [simulation] or a [trajectory] table",
            path.display()
        ),
        (Some(_), None) => {
            // Validate with the engine's own rules (line numbers refer to the table's text).
            let table: toml::Table = toml::from_str(&text)?;
            let sim = table
                .get("simulation")
                .cloned()
                .unwrap_or(toml::Value::Table(Default::default()));
            let sim_text = toml::to_string(&sim)?;
            let plan = Plan::parse(path, &sim_text)?;
            let dump = dir.join(&plan.study.output.dump);
            let dt = plan.dump_every as f64 * plan.dt;
            let melt_steps: u64 = plan
                .stages
                .iter()
                .take_while(|s| matches!(s.stage, nucleate_md::protocol::Stage::Melt { .. }))
                .map(|s| s.steps)
                .sum();
            if plan.dump_every > 0 {
                skip_frames = melt_steps.div_ceil(plan.dump_every) as usize;
            }
            anyhow::ensure!(
                plan.dump_every > 0,
                "{}: [simulation.output] dump_every_ps must be set for a study",
                path.display()
            );
            // Branches are validated now, not after the main run.
            let mut names = std::collections::HashSet::new();
            for (k, br) in file.branches.iter().enumerate() {
                anyhow::ensure!(
                        !br.name.is_empty()
                            && br
                                .name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                            && names.insert(br.name.clone()),
                        "{}: [[branch]] {}: name `{}` must be unique and made of letters, digits, - and _ (it names a folder)",
                        path.display(),
                        k + 1,
                        br.name
                    );
                branch_plan(&plan, br, k, Path::new("/prepared.extxyz"))?;
                if !file.branches.is_empty() {
                    anyhow::ensure!(
                            plan.total_steps() % plan.dump_every == 0,
                            "{}: branches start from the last snapshot: the [simulation]'s duration must be a multiple of dump_every_ps",
                            path.display()
                        );
                }
            }
            if done.iter().any(|s| s == "md") {
                eprintln_unless(args.common.quiet, "md: finished earlier, skipped");
            } else {
                let stop = Arc::new(AtomicBool::new(false));
                {
                    let stop = stop.clone();
                    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
                }
                let resume_md = args.resume && dir.join("checkpoint.json").exists();
                let mut b = Bar(bar(args.common.quiet, "md"));
                let outcome = run_study(&plan, dir, resume_md, &stop, &mut b)?;
                b.0.finish_and_clear();
                match outcome {
                    Outcome::Finished { .. } => mark_done(dir, "md")?,
                    Outcome::Interrupted { step } => bail!(
                        "interrupted at MD step {step}; rerun with --resume to continue ({})",
                        dir.join("checkpoint.json").display()
                    ),
                }
            }
            md_plan = Some(plan.clone());
            let name = match &plan.study.structure {
                nucleate_md::protocol::Structure::FccBlock { .. } => "bulk block",
                _ => "free particle",
            };
            let src = format!(
                "An MD run of the embedded EAM engine ({}, {name}, {} ps).",
                plan.potential_spec(),
                plan.total_steps() as f64 * plan.dt
            );
            (
                dump,
                None,
                dt,
                Some(dir.join("thermo.csv")),
                src,
                "Crystallisation in an MD study",
            )
        }
        (None, Some(t)) => {
            let p = if t.path.is_absolute() {
                t.path.clone()
            } else {
                base.join(&t.path)
            };
            anyhow::ensure!(
                p.exists(),
                "{}: [trajectory] path {} does not exist",
                path.display(),
                p.display()
            );
            anyhow::ensure!(
                t.dt_ps > 0.0 && t.dt_ps.is_finite(),
                "{}: [trajectory] dt_ps must be positive",
                path.display()
            );
            let thermo = t.thermo.as_ref().map(|th| {
                if th.is_absolute() {
                    th.clone()
                } else {
                    base.join(th)
                }
            });
            let src = format!(
                "The trajectory {} (one frame every {} ps).",
                p.display(),
                t.dt_ps
            );
            (
                p,
                t.types.clone(),
                t.dt_ps,
                thermo,
                src,
                "Crystallisation in a trajectory",
            )
        }
    };

    // Branches: each continues from the last snapshot of the main run in its own folder.
    let mut branch_runs: Vec<(String, PathBuf, f64)> = Vec::new();
    if let (Some(plan), false) = (&md_plan, file.branches.is_empty()) {
        let names: Vec<String> = potential_elements(plan)?;
        let start = std::path::absolute(dir.join("prepared.extxyz"))?;
        if !start.exists() {
            write_last_frame(&traj, &names, plan.total_steps(), &start)?;
        }
        for (k, br) in file.branches.iter().enumerate() {
            let bplan = branch_plan(plan, br, k, &start)?;
            let sub = dir.join(&br.name);
            let label = format!("md:{}", br.name);
            if done.contains(&label) {
                eprintln_unless(
                    args.common.quiet,
                    &format!("{label}: finished earlier, skipped"),
                );
            } else {
                let stop = Arc::new(AtomicBool::new(false));
                {
                    let stop = stop.clone();
                    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed));
                }
                let resume_md = args.resume && sub.join("checkpoint.json").exists();
                let mut b = Bar(bar(args.common.quiet, &br.name));
                let outcome = run_study(&bplan, &sub, resume_md, &stop, &mut b)?;
                b.0.finish_and_clear();
                match outcome {
                    Outcome::Finished { .. } => mark_done(dir, &label)?,
                    Outcome::Interrupted { step } => bail!(
                        "interrupted at MD step {step} of branch {}; rerun with --resume to continue",
                        br.name
                    ),
                }
            }
            branch_runs.push((
                br.name.clone(),
                sub.join(&bplan.study.output.dump),
                bplan.dump_every as f64 * bplan.dt,
            ));
        }
    }
    let element_types: Option<Vec<String>> = match &md_plan {
        Some(plan) => Some(potential_elements(plan)?),
        None => types.clone(),
    };

    // Analysis: order, nuclei and tracks of every snapshot, through `nucleate track` itself.
    // A study with only a [structure] table skips it.
    let analysis_default = AnalysisSpec::default();
    let analysis = match (&file.analysis, &file.structure) {
        (Some(a), _) => Some(a),
        (None, None) => Some(&analysis_default),
        (None, Some(_)) => None,
    };
    if let Some(a) = analysis {
        run_nuclei_analysis(
            &args,
            path,
            dir,
            &done,
            &traj,
            &types,
            dt_ps,
            skip_frames,
            a,
            &file,
        )?;
    }

    // Structure over time: the main trajectory (after the melt) and every branch.
    let mut structure_runs = Vec::new();
    if let Some(spec) = &file.structure {
        let prep_end_ps = md_plan
            .as_ref()
            .map(|p| p.total_steps() as f64 * p.dt)
            .unwrap_or(0.0);
        let main_name = if branch_runs.is_empty() {
            "run"
        } else {
            "preparation"
        };
        let main_frames = spec
            .frames
            .clone()
            .or_else(|| (skip_frames > 0).then(|| format!("{skip_frames}:")))
            .unwrap_or_else(|| "all".into());
        let mut runs = vec![(
            main_name.to_string(),
            traj.clone(),
            dir.to_path_buf(),
            main_frames,
            dt_ps,
            0.0,
        )];
        for (name, t, dt) in &branch_runs {
            runs.push((
                name.clone(),
                t.clone(),
                dir.join(name),
                spec.frames.clone().unwrap_or_else(|| "all".into()),
                *dt,
                prep_end_ps,
            ));
        }
        for (name, t, sub, frames, dt, offset) in runs {
            let label = format!("structure:{name}");
            if done.contains(&label) {
                eprintln_unless(
                    args.common.quiet,
                    &format!("{label}: finished earlier, skipped"),
                );
            } else {
                run_structure_stage(&args, path, spec, &t, &sub, &frames, &element_types)?;
                mark_done(dir, &label)?;
            }
            let folder = if sub == *dir {
                String::new()
            } else {
                name.clone()
            };
            structure_runs.push(nucleate_report::study::StructureRun {
                name,
                folder,
                dt_ps: dt,
                time_offset_ps: offset,
            });
        }
    }

    // Theory: CNT and OPG with the shape measured on the early nuclei.
    let mut barriers = Vec::new();
    let mut theory_text = String::new();
    if let Some(t) = &file.theory {
        let e = Energetics::new(t.gamma_ev_per_a2, t.dg_ev_per_a3)
            .map_err(|x| anyhow::anyhow!("{x}"))?;
        let shape = early_profile_shape(dir);
        let mut json = serde_json::json!({ "dg_ev_per_a3": t.dg_ev_per_a3, "gamma_ev_per_a2": t.gamma_ev_per_a2 });
        let mut curves: Vec<(String, Profile)> = vec![(
            "CNT (step)".into(),
            Profile::self_similar(Shape::Step, 1.0).map_err(|x| anyhow::anyhow!("{x}"))?,
        )];
        if let Some((lambda, beta)) = shape {
            let r_star_cnt = 2.0 * t.gamma_ev_per_a2 / t.dg_ev_per_a3;
            // The measured shape, scaled so its width relative to the critical radius is that of
            // the measured nuclei: the profile alpha0 exp(-(r/lambda)^beta) with the fitted beta.
            let p = Profile::GeneralizedGaussian {
                amplitude: 1.0,
                lambda: lambda.max(0.1),
                beta,
            };
            curves.push((
                format!("OPG, measured profile (lambda {lambda:.2} A, beta {beta:.2})"),
                p,
            ));
            json["measured_profile"] =
                serde_json::json!({ "lambda_a": lambda, "beta": beta, "cnt_r_star_a": r_star_cnt });
        }
        curves.push((
            "OPG, linear profile".into(),
            Profile::self_similar(Shape::Linear, 1.0).map_err(|x| anyhow::anyhow!("{x}"))?,
        ));
        let mut results = Vec::new();
        let mut r_max: f64 = 0.0;
        let mut crit_of = Vec::new();
        for (name, p) in &curves {
            let res = barrier(&e, p).map_err(|x| anyhow::anyhow!("{x}"))?;
            let crit = res.outcome.critical().map(|c| (c.r_star, c.dg_star));
            if let Some((r, _)) = crit {
                r_max = r_max.max(r);
            }
            crit_of.push(crit);
            results.push(serde_json::json!({ "profile": name, "r_star_a": crit.map(|c| c.0), "dg_star_ev": crit.map(|c| c.1) }));
        }
        // Out to where the flattest curve has clearly passed its maximum.
        let r_max = if r_max > 0.0 { 1.6 * r_max } else { 30.0 };
        for ((name, p), crit) in curves.iter().zip(crit_of) {
            let pts = (1..=200).map(|i| {
                let r = r_max * i as f64 / 200.0;
                (r, opg_dg(&e, p, r, Dimension::Three))
            });
            barriers.push((name.clone(), pts.collect(), crit));
        }
        json["barriers"] = serde_json::Value::Array(results);
        let mut f = AtomicFile::create(dir.join("barriers.json"))?;
        serde_json::to_writer_pretty(&mut f, &json)?;
        writeln!(f)?;
        f.commit()?;
        theory_text = format!(
            "Free energies with dg = {} eV/A^3 and gamma = {} eV/A^2: {}.",
            t.dg_ev_per_a3,
            t.gamma_ev_per_a2,
            barriers
                .iter()
                .map(|(n, _, c)| match c {
                    Some((r, g)) => format!("{n}: r* = {r:.2} A, dG* = {g:.2} eV"),
                    None => format!("{n}: no barrier"),
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
        mark_done(dir, "theory")?;
    }

    let source = if file.branches.is_empty() {
        source
    } else {
        format!(
            "{source} From its final state, {}.",
            file.branches
                .iter()
                .map(|b| {
                    let temps: Vec<String> = b
                        .stages
                        .iter()
                        .filter_map(|st| match st {
                            nucleate_md::protocol::Stage::Hold {
                                temperature_k,
                                duration_ps,
                                ..
                            }
                            | nucleate_md::protocol::Stage::Melt {
                                temperature_k,
                                duration_ps,
                                ..
                            } => Some(format!("{duration_ps} ps at {temperature_k} K")),
                            nucleate_md::protocol::Stage::Ramp { from_k, to_k, .. } => {
                                Some(format!("a ramp {from_k} -> {to_k} K"))
                            }
                            nucleate_md::protocol::Stage::Minimize { .. } => None,
                        })
                        .collect();
                    format!("branch {} ran {}", b.name, temps.join(", then "))
                })
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    let first = read_frame(
        &traj,
        &ReadOptions {
            types: types.clone(),
            ..Default::default()
        },
    )?;
    let input = nucleate_report::study::StudyReportInput {
        title: file
            .title
            .clone()
            .unwrap_or_else(|| title_default.to_string()),
        source,
        dt_ps,
        thermo: thermo.filter(|p| p.exists()),
        n_atoms: first.len(),
        barriers,
        theory_text,
        structure: structure_runs,
    };
    nucleate_report::study::write_study_report(dir, &input)?;
    mark_done(dir, "report")?;
    eprintln_unless(
        args.common.quiet,
        &format!("report: {}", dir.join("report.html").display()),
    );
    Ok(())
}

/// The nuclei analysis of the main trajectory (order, nuclei, tracks) through `nucleate track`.
#[allow(clippy::too_many_arguments)]
fn run_nuclei_analysis(
    args: &StudyArgs,
    path: &Path,
    dir: &Path,
    done: &[String],
    traj: &Path,
    types: &Option<Vec<String>>,
    dt_ps: f64,
    skip_frames: usize,
    a: &AnalysisSpec,
    file: &StudyFile,
) -> Result<()> {
    if done.iter().any(|s| s == "analysis") {
        eprintln_unless(args.common.quiet, "analysis: finished earlier, skipped");
        return Ok(());
    }
    let mut argv: Vec<String> = vec![
        "track".into(),
        traj.display().to_string(),
        "-o".into(),
        dir.display().to_string(),
    ];
    argv.extend(["--dt-ps".into(), dt_ps.to_string()]);
    if let Some(ty) = &types {
        argv.extend(["--types".into(), ty.join(",")]);
    }
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            argv.extend([flag.to_string(), v]);
        }
    };
    opt("--radius", a.radius.map(|v| v.to_string()));
    opt("--threshold", a.threshold.map(|v| v.to_string()));
    opt("--min-atoms", a.min_atoms.map(|v| v.to_string()));
    opt("--persistence", a.persistence.map(|v| v.to_string()));
    opt(
        "--min-coordination",
        a.min_coordination.map(|v| v.to_string()),
    );
    opt("--cutoff", a.cutoff.map(|v| v.to_string()));
    opt("--lattice-a", a.lattice_a.map(|v| v.to_string()));
    let frames = a
        .frames
        .clone()
        .or_else(|| (skip_frames > 0).then(|| format!("{skip_frames}:")));
    opt("--frames", frames);
    if let Some(t) = &file.theory {
        opt("--dg", Some(t.dg_ev_per_a3.to_string()));
        opt("--gamma", Some(t.gamma_ev_per_a2.to_string()));
    }
    if a.seed_rules {
        argv.push("--seed-rules".into());
    }
    if args.common.quiet {
        argv.push("--quiet".into());
    }
    let track: super::nuclei::TrackCmd = parse_as(&argv, path, "analysis")?;
    super::nuclei::run_track(track)?;
    mark_done(dir, "analysis")?;
    Ok(())
}

/// A command's arguments from `argv` (the command name first), as the study builds them from a
/// table; errors name the study file and the table.
fn parse_as<A: clap::Args + clap::FromArgMatches>(
    argv: &[String],
    path: &Path,
    table: &str,
) -> Result<A> {
    let fail = |e: clap::Error| {
        anyhow::anyhow!(
            "{}: [{table}]: {}",
            path.display(),
            e.to_string().lines().next().unwrap_or("")
        )
    };
    let matches = A::augment_args(clap::Command::new("nucleate"))
        .try_get_matches_from(argv)
        .map_err(fail)?;
    A::from_arg_matches(&matches).map_err(fail)
}

/// Element names of a plan's potential (the species of LAMMPS types 1, 2, ... in its dumps).
fn potential_elements(plan: &Plan) -> Result<Vec<String>> {
    let p = nucleate_md::Potential::load(&plan.potential_spec())?;
    Ok(p.elements().iter().map(|e| e.name.clone()).collect())
}

/// The plan of a branch: the main study's settings, the branch's stages, starting from `start`
/// with fresh velocities at the first stage's temperature and a seed of its own.
fn branch_plan(plan: &Plan, br: &BranchSpec, k: usize, start: &Path) -> Result<Plan> {
    let mut study: Study = plan.study.clone();
    study.structure = nucleate_md::protocol::Structure::File {
        path: start.to_path_buf(),
    };
    study.initial_temperature_k = None;
    study.stages = br.stages.clone();
    study.seed = plan.study.seed.wrapping_add(1 + k as u64);
    let text = toml::to_string(&study)?;
    Plan::parse(&plan.path, &text).map_err(|e| anyhow::anyhow!("[[branch]] `{}`: {e}", br.name))
}

/// Write the last snapshot of `traj` (LAMMPS types named `names`) to `out` as the start of the
/// branches; it must be the final state (`step`).
fn write_last_frame(traj: &Path, names: &[String], step: u64, out: &Path) -> Result<()> {
    let options = ReadOptions {
        types: Some(names.to_vec()),
        frames: super::common::frame_selection("last")?,
    };
    let frame = read_frame(traj, &options)?;
    anyhow::ensure!(
        frame.timestep == Some(step),
        "{}: the last snapshot is step {:?}, not the final step {step}",
        traj.display(),
        frame.timestep
    );
    nucleate_core::io::write_frame(out, &frame)?;
    Ok(())
}

/// `nucleate structure` and `nucleate rdf` on one trajectory, writing into `sub`.
fn run_structure_stage(
    args: &StudyArgs,
    path: &Path,
    spec: &StructureSpec,
    traj: &Path,
    sub: &Path,
    frames: &str,
    types: &Option<Vec<String>>,
) -> Result<()> {
    let mut argv: Vec<String> = vec![
        "structure".into(),
        traj.display().to_string(),
        "-o".into(),
        sub.join("structure.extxyz.gz").display().to_string(),
        "--summary".into(),
        sub.join("structure.csv").display().to_string(),
        "--frames".into(),
        frames.to_string(),
    ];
    let mut common = Vec::new();
    if let Some(ty) = types {
        common.extend(["--types".to_string(), ty.join(",")]);
    }
    if args.common.quiet {
        common.push("--quiet".into());
    }
    argv.extend(common.iter().cloned());
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            argv.extend([flag.to_string(), v]);
        }
    };
    opt("--species", spec.species.as_ref().map(|v| v.join(",")));
    opt("--shell-width", spec.shell_width_a.map(|v| v.to_string()));
    opt("--first-shell", spec.first_shell_a.map(|v| v.to_string()));
    opt(
        "--misorientation",
        spec.misorientation_deg.map(|v| v.to_string()),
    );
    opt("--min-grain", spec.min_grain.map(|v| v.to_string()));
    super::structure::run_structure(parse_as(&argv, path, "structure")?)?;

    let mut argv: Vec<String> = vec![
        "rdf".into(),
        traj.display().to_string(),
        "-o".into(),
        sub.join("gr.csv").display().to_string(),
        "--frames".into(),
        frames.to_string(),
        "--window".into(),
        spec.rdf_window.unwrap_or(10).to_string(),
        "--r-max".into(),
        spec.rdf_r_max_a.unwrap_or(10.0).to_string(),
    ];
    argv.extend(common);
    super::structure::run_rdf(parse_as(&argv, path, "structure")?)
}

/// The median (lambda, beta) of the profile fits of nuclei of 31-500 atoms: the early nuclei
/// whose shape decides the barrier.
fn early_profile_shape(dir: &Path) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(dir.join("nuclei.csv")).ok()?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next()?.split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n);
    let (cn, cl, cb) = (col("n_atoms")?, col("lambda")?, col("beta")?);
    let mut lam = Vec::new();
    let mut beta = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        let n: f64 = f.get(cn)?.parse().ok()?;
        if !(31.0..=500.0).contains(&n) {
            continue;
        }
        if let (Ok(a), Ok(b)) = (f.get(cl)?.parse::<f64>(), f.get(cb)?.parse::<f64>()) {
            if a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0 && b < 50.0 {
                lam.push(a);
                beta.push(b);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    if lam.is_empty() {
        return None;
    }
    Some((median(&mut lam), median(&mut beta)))
}

fn eprintln_unless(quiet: bool, msg: &str) {
    if !quiet {
        eprintln!("{msg}");
    }
}

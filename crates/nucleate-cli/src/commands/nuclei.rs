//! `nucleate nuclei` and `nucleate track`: nuclei of every frame, and the same nuclei followed
//! through time.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use nucleate_core::io::{
    create_trajectory, open_trajectory, AtomicFile, FrameSource, ReadOptions, TrajectoryWriter,
};
use nucleate_core::{Frame, NeighborList, NeighborSpec, PropertyValues};
use nucleate_nuclei::track::{Snapshot, TrackClass, TrackParams, Tracker};
use nucleate_nuclei::{analyse, AnalysisParams, ClimbParams, FrameNuclei};
use nucleate_order::{BondOrder, BondOrderParams};

use super::common::{CommonArgs, Progress};

macro_rules! nuclei_help {
    () => {
        "\
Nuclei by core climbing on a per-atom order field (default: alpha, the normalised averaged
bond order of fcc, clipped to [0, 1]). Each atom steps to the highest-order atom within
--radius until it reaches a local maximum (its basin); touching basins whose lower peak rises
less than --persistence above their saddle merge; a basin with at least --min-atoms members of
order >= --threshold is a nucleus. Atoms with fewer than --min-coordination neighbours within
the first shell (3.5 A) get order 0 for the search (free surfaces). Defaults are those for MD
of Pt-like metals (R 4.0 A, threshold 0.4, 31 atoms, persistence 0.2, coordination 10);
--seed-rules uses threshold 0.3, no merging, no coordination rule.

Per nucleus: n_eff = sum of member orders; a_eff = sum over the basin of |grad order| x volume
per atom (A^2); sphericity of the iso-surface at the threshold; core atoms (>= 0.95 x maximum)
and their order-weighted centre (A); radial profile fitted to alpha0 exp(-(r/lambda)^beta)
(+ background); site in a free particle (surface_111, subsurface_100, ..., bulk if periodic).

Outputs in DIR: nuclei.csv (frame,nucleus,n_atoms,n_eff,a_eff,sphericity,core_x,core_y,core_z,
n_core,alpha_max,alpha0,lambda,beta,site, then errors, shape and, with --dg/--gamma, dg),
atoms.extxyz (per-atom order, phase, nucleus (-1 = none), is_core, basin, alpha),
profiles.csv (frame,nucleus,r_a,order,count), parameters.json (every setting).\n\n"
    };
}

/// Arguments shared by `nuclei` and `track`.
#[derive(Args, Debug, Clone)]
pub struct NucleiArgs {
    /// Input: extended XYZ, LAMMPS dump (.gz too) or LAMMPS data file.
    pub input: PathBuf,
    /// Output folder.
    #[arg(short, long)]
    pub out: PathBuf,
    /// Order field: `alpha` (computed) or `column:NAME` (a per-atom column of the input).
    #[arg(long, default_value = "alpha")]
    pub order: String,
    /// Search radius R of core climbing (Angstrom).
    #[arg(long)]
    pub radius: Option<f64>,
    /// Order threshold of nucleus members.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Minimum number of members.
    #[arg(long)]
    pub min_atoms: Option<usize>,
    /// Persistence of basin merging (0 = none).
    #[arg(long)]
    pub persistence: Option<f64>,
    /// Minimum first-shell coordination of a candidate (0 = no rule).
    #[arg(long)]
    pub min_coordination: Option<usize>,
    /// The seed's literal rules: threshold 0.3, no merging, no coordination rule.
    #[arg(long)]
    pub seed_rules: bool,
    /// Neighbour cutoff of the bond order (Angstrom).
    #[arg(long, default_value_t = 3.8)]
    pub cutoff: f64,
    /// Shell width of radial profiles (Angstrom).
    #[arg(long, default_value_t = 0.5)]
    pub profile_bin: f64,
    /// Fit profiles without a constant background.
    #[arg(long)]
    pub no_background: bool,
    /// Lattice constant (Angstrom): alpha's fcc reference, the volume per atom of free
    /// particles (a^3/4) and the surface/sub-surface boundary.
    #[arg(long, default_value_t = 3.92)]
    pub lattice_a: f64,
    /// Bulk free-energy gain per volume (energy/A^3): adds a `dg` column with --gamma.
    #[arg(long, requires = "gamma")]
    pub dg: Option<f64>,
    /// Interfacial tension (energy/A^2), with --dg.
    #[arg(long, requires = "dg")]
    pub gamma: Option<f64>,
    /// Frames: `all`, `5`, `-1`, `last`, `0:100:10`, `0,5,9`.
    #[arg(long, default_value = "all")]
    pub frames: String,
    /// Species of LAMMPS atom types 1, 2, ... (e.g. `Pt`).
    #[arg(long, value_delimiter = ',')]
    pub types: Option<Vec<String>>,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `nucleate nuclei`.
#[derive(Args, Debug)]
#[command(after_help = const_format_help(false))]
pub struct NucleiCmd {
    #[command(flatten)]
    pub args: NucleiArgs,
}

/// Arguments of `nucleate track`.
#[derive(Args, Debug)]
#[command(after_help = const_format_help(true))]
pub struct TrackCmd {
    #[command(flatten)]
    pub args: NucleiArgs,
    /// Time between successive frames of the input (ps); time_ps = frame index x this.
    #[arg(long, default_value_t = 1.0)]
    pub dt_ps: f64,
    /// Links need more than this fraction of the smaller nucleus' atoms shared.
    #[arg(long, default_value_t = 0.5)]
    pub min_overlap: f64,
    /// Classification tolerance: the larger of this many atoms of N_eff ...
    #[arg(long, default_value_t = 5.0)]
    pub tol_atoms: f64,
    /// ... and this fraction of the track's largest N_eff.
    #[arg(long, default_value_t = 0.2)]
    pub tol_fraction: f64,
}

const fn const_format_help(track: bool) -> &'static str {
    if track {
        concat!(
            "Follows nuclei through a trajectory: nuclei of successive frames sharing more than\n",
            "--min-overlap of the smaller one's atoms (by id) are linked; many-to-one links are merge\n",
            "events, one-to-many divide events (parents end, new tracks start); tracks seen in two or\n",
            "more frames are classified from their N_eff series (growing, fluctuating, dissolving,\n",
            "stable; transient if seen once). Nuclei of each frame as in `nucleate nuclei`:\n\n",
            nuclei_help!(),
            "Tracking adds: tracks.csv\n",
            "(track,frame,time_ps,nucleus,n_atoms,n_eff,a_eff), events.csv (frame,time_ps,kind,tracks;\n",
            "kind appear|merge|divide|dissolve, tracks like 3;5->7), track_classes.csv\n",
            "(track,class,first_frame,last_frame,n_frames,end,n_eff_first,n_eff_max,n_eff_last) and\n",
            "summary.json {tracks, growing, fluctuating, dissolving, merges, divisions, ...}.\n\n",
            "Example:\n  nucleate track examples/pt-droplet-950K.dump.gz --types Pt --dt-ps 30 -o out/track"
        )
    } else {
        concat!(
            nuclei_help!(),
            "Example:\n  nucleate nuclei examples/pt-droplet-950K.dump.gz --types Pt --frames last -o out/nuclei"
        )
    }
}

/// The resolved settings.
struct Plan {
    params: AnalysisParams,
    order: OrderField,
    spec: NeighborSpec,
    bond: BondOrderParams,
}

enum OrderField {
    Alpha,
    Column(String),
}

fn plan(a: &NucleiArgs) -> Result<Plan> {
    let mut climb = if a.seed_rules {
        ClimbParams::md_seed_rules()
    } else {
        ClimbParams::md()
    };
    if let Some(r) = a.radius {
        climb.radius = r;
    }
    if let Some(t) = a.threshold {
        climb.threshold = t;
    }
    if let Some(m) = a.min_atoms {
        climb.min_atoms = m;
    }
    if let Some(p) = a.persistence {
        climb.persistence = p;
    }
    if let Some(c) = a.min_coordination {
        climb.min_coordination = if c == 0 { None } else { Some(c) };
    }
    climb.shell_radius = climb.shell_radius.min(climb.radius);
    climb.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    let order = match a.order.as_str() {
        "alpha" => OrderField::Alpha,
        s if s.starts_with("column:") && s.len() > 7 => OrderField::Column(s[7..].to_string()),
        s => bail!("--order {s}: expected `alpha` or `column:NAME`"),
    };
    anyhow::ensure!(
        a.cutoff.is_finite() && a.cutoff > 0.0,
        "--cutoff must be positive, got {}",
        a.cutoff
    );
    anyhow::ensure!(
        a.lattice_a.is_finite() && a.lattice_a > 0.0,
        "--lattice-a must be positive"
    );
    if let (Some(dg), Some(g)) = (a.dg, a.gamma) {
        anyhow::ensure!(
            dg > 0.0 && g > 0.0 && dg.is_finite() && g.is_finite(),
            "--dg and --gamma must be positive"
        );
    }
    let params = AnalysisParams {
        climb,
        profile_bin: a.profile_bin,
        background: !a.no_background,
        v_atom: a.lattice_a.powi(3) / 4.0,
        lattice_a: a.lattice_a,
        ..AnalysisParams::default()
    };
    let bond = BondOrderParams {
        fcc_a: a.lattice_a,
        ..BondOrderParams::default()
    };
    Ok(Plan {
        params,
        order,
        spec: NeighborSpec::Cutoff { r: a.cutoff },
        bond,
    })
}

/// The order field of a frame and, for alpha, its unclipped values.
fn order_field(frame: &Frame, plan: &Plan) -> Result<(Vec<f64>, Vec<f64>)> {
    match &plan.order {
        OrderField::Alpha => {
            let list = NeighborList::build(frame, plan.spec)?;
            let bo = BondOrder::compute(&list, &plan.bond)?;
            let clipped = nucleate_order::alpha::clip_unit(&bo.alpha);
            Ok((clipped, bo.alpha))
        }
        OrderField::Column(name) => {
            let (v, ncols) = frame
                .real_property(name)
                .with_context(|| format!("no real per-atom column `{name}` in the input"))?;
            anyhow::ensure!(
                ncols == 1,
                "column `{name}` has {ncols} values per atom, expected 1"
            );
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                bail!("column `{name}` of atom {i} is not finite");
            }
            Ok((v.to_vec(), v.to_vec()))
        }
    }
}

/// Output files of the nuclei stage.
struct NucleiSinks {
    nuclei: AtomicFile,
    profiles: AtomicFile,
    atoms: TrajectoryWriter,
    with_dg: bool,
}

impl NucleiSinks {
    fn create(dir: &Path, with_dg: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        let mut nuclei = AtomicFile::create(dir.join("nuclei.csv"))?;
        write!(
            nuclei,
            "frame,nucleus,n_atoms,n_eff,a_eff,sphericity,core_x,core_y,core_z,n_core,alpha_max,alpha0,lambda,beta,site,\
             alpha0_err,lambda_err,beta_err,background,fit_rms,iso_volume_a3,iso_area_a2,rg_a,asphericity_a2,anisotropy,surface_distance_a"
        )?;
        if with_dg {
            write!(nuclei, ",dg")?;
        }
        writeln!(nuclei)?;
        let mut profiles = AtomicFile::create(dir.join("profiles.csv"))?;
        writeln!(profiles, "frame,nucleus,r_a,order,count")?;
        let atoms = create_trajectory(dir.join("atoms.extxyz"))?;
        Ok(Self {
            nuclei,
            profiles,
            atoms,
            with_dg,
        })
    }

    fn write(
        &mut self,
        index: usize,
        frame: &mut Frame,
        res: &FrameNuclei,
        order: &[f64],
        alpha: &[f64],
        a: &NucleiArgs,
        v_atom: f64,
    ) -> Result<()> {
        let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
        for (k, r) in res.records.iter().enumerate() {
            let c = r.nucleus.core_position;
            let fit = r.fit;
            let site = r.site.map(|s| s.label()).unwrap_or_else(|| "bulk".into());
            write!(
                self.nuclei,
                "{index},{k},{},{},{},{},{},{},{},{},{},{},{},{},{site},{},{},{},{},{},{},{},{},{},{},{}",
                r.nucleus.n_atoms(),
                r.n_eff,
                r.a_eff,
                opt(r.surface.map(|s| s.sphericity)),
                c[0],
                c[1],
                c[2],
                r.nucleus.core.len(),
                r.nucleus.order_max,
                opt(fit.map(|f| f.alpha0)),
                opt(fit.map(|f| f.lambda)),
                opt(fit.map(|f| f.beta)),
                opt(fit.map(|f| f.errors[0])),
                opt(fit.map(|f| f.errors[1])),
                opt(fit.map(|f| f.errors[2])),
                opt(fit.map(|f| f.background)),
                opt(fit.map(|f| f.rms_residual)),
                opt(r.surface.map(|s| s.volume)),
                opt(r.surface.map(|s| s.area)),
                r.gyration.radius,
                r.gyration.asphericity,
                r.gyration.anisotropy,
                opt(r.site.map(|s| s.surface_distance)),
            )?;
            if self.with_dg {
                let dg = nucleate_theory::cnt::measured_dg(
                    r.n_eff,
                    r.a_eff,
                    a.dg.unwrap_or(0.0),
                    a.gamma.unwrap_or(0.0),
                    v_atom,
                );
                write!(self.nuclei, ",{dg}")?;
            }
            writeln!(self.nuclei)?;
            for ((rr, o), n) in r
                .profile
                .r
                .iter()
                .zip(&r.profile.order)
                .zip(&r.profile.count)
            {
                writeln!(self.profiles, "{index},{k},{rr},{o},{n}")?;
            }
        }
        let id = &res.identification;
        frame.set_property("order", 1, PropertyValues::Real(order.to_vec()))?;
        frame.set_property("phase", 1, PropertyValues::Int(vec![0; frame.len()]))?;
        frame.set_property(
            "nucleus",
            1,
            PropertyValues::Int(id.nucleus_of.iter().map(|&x| x as i64).collect()),
        )?;
        frame.set_property("is_core", 1, PropertyValues::Bool(id.is_core.clone()))?;
        frame.set_property(
            "basin",
            1,
            PropertyValues::Int(id.basin_of.iter().map(|&x| x as i64).collect()),
        )?;
        frame.set_property("alpha", 1, PropertyValues::Real(alpha.to_vec()))?;
        frame.info.retain(|(k, _)| k != "frame");
        frame.info.push(("frame".into(), index.to_string()));
        self.atoms.write_frame(frame)?;
        Ok(())
    }

    fn commit(self) -> Result<()> {
        self.nuclei.commit()?;
        self.profiles.commit()?;
        self.atoms.finish()?;
        Ok(())
    }
}

fn parameters_json(a: &NucleiArgs, plan: &Plan, extra: serde_json::Value) -> serde_json::Value {
    let c = &plan.params.climb;
    let mut v = serde_json::json!({
        "input": a.input.display().to_string(),
        "order": a.order,
        "order_cutoff_a": a.cutoff,
        "radius_a": c.radius,
        "threshold": c.threshold,
        "min_atoms": c.min_atoms,
        "persistence": c.persistence,
        "min_coordination": c.min_coordination,
        "shell_radius_a": c.shell_radius,
        "core_fraction": c.core_fraction,
        "profile_bin_a": plan.params.profile_bin,
        "profile_background": plan.params.background,
        "lattice_a": plan.params.lattice_a,
        "v_atom_free_a3": plan.params.v_atom,
        "surface_max_coordination": plan.params.surface_max_coordination,
        "frames": a.frames,
        "dg": a.dg,
        "gamma": a.gamma,
    });
    if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    serde_json::to_writer_pretty(&mut f, v)?;
    writeln!(f)?;
    f.commit()?;
    Ok(())
}

/// Run `nucleate nuclei`.
pub fn run_nuclei(cmd: NucleiCmd) -> Result<()> {
    run(&cmd.args, None)
}

/// Run `nucleate track`.
pub fn run_track(cmd: TrackCmd) -> Result<()> {
    anyhow::ensure!(
        cmd.dt_ps.is_finite() && cmd.dt_ps > 0.0,
        "--dt-ps must be positive"
    );
    anyhow::ensure!(
        (0.0..1.0).contains(&cmd.min_overlap),
        "--min-overlap must lie in [0, 1)"
    );
    let tp = TrackParams {
        min_overlap: cmd.min_overlap,
        tol_atoms: cmd.tol_atoms,
        tol_fraction: cmd.tol_fraction,
    };
    run(&cmd.args, Some((tp, cmd.dt_ps)))
}

fn run(a: &NucleiArgs, track: Option<(TrackParams, f64)>) -> Result<()> {
    a.common.init_threads()?;
    let plan = plan(a)?;
    let selection = super::common::frame_selection(&a.frames)?;
    let options = ReadOptions {
        types: a.types.clone(),
        frames: selection,
    };
    let mut source = open_trajectory(&a.input, &options)?;
    let dir = &a.out;
    let mut sinks = NucleiSinks::create(dir, a.dg.is_some())?;
    let mut tracker = track.map(|(tp, _)| Tracker::new(tp));
    let mut track_sinks = match &tracker {
        Some(_) => {
            let mut tracks = AtomicFile::create(dir.join("tracks.csv"))?;
            writeln!(tracks, "track,frame,time_ps,nucleus,n_atoms,n_eff,a_eff")?;
            let mut events = AtomicFile::create(dir.join("events.csv"))?;
            writeln!(events, "frame,time_ps,kind,tracks")?;
            Some((tracks, events))
        }
        None => None,
    };
    let progress = Progress::frames(
        if track.is_some() { "track" } else { "nuclei" },
        a.common.quiet,
    );
    let mut n_frames = 0usize;
    let mut largest = Vec::new();
    let mut history = nucleate_report::nuclei::NucleiHistory::default();
    let dt = track.map(|(_, dt)| dt).unwrap_or(1.0);
    let mut last_rows: Vec<Vec<String>> = Vec::new();
    while let Some(item) = source.next_indexed() {
        let (index, mut frame) = item?;
        let place = || format!("{}: frame {index}", a.input.display());
        let (order, alpha) = order_field(&frame, &plan).with_context(place)?;
        let phase = vec![0u16; frame.len()];
        let res = analyse(&frame, &order, &phase, &plan.params).with_context(place)?;
        let v_atom = nucleate_nuclei::metrics::volume_per_atom(&frame, plan.params.v_atom);
        largest.push((
            index,
            res.records
                .first()
                .map(|r| r.nucleus.n_atoms())
                .unwrap_or(0),
        ));
        history.push(index, index as f64 * dt, &res, v_atom);
        last_rows = res
            .records
            .iter()
            .enumerate()
            .map(|(k, r)| {
                vec![
                    index.to_string(),
                    k.to_string(),
                    r.nucleus.n_atoms().to_string(),
                    format!("{:.1}", r.n_eff),
                    format!("{:.0}", r.a_eff),
                    r.surface
                        .map(|x| format!("{:.2}", x.sphericity))
                        .unwrap_or_default(),
                    r.site.map(|x| x.label()).unwrap_or_else(|| "bulk".into()),
                ]
            })
            .collect();
        if let (Some(t), Some((tracks, events))) = (tracker.as_mut(), track_sinks.as_mut()) {
            let time = index as f64 * dt;
            let snaps: Vec<Snapshot> = res
                .records
                .iter()
                .enumerate()
                .map(|(k, r)| Snapshot {
                    nucleus: k,
                    ids: r.ids.clone(),
                    n_eff: r.n_eff,
                    a_eff: r.a_eff,
                })
                .collect();
            let (rows, evs) = t.push(index, time, &snaps);
            for r in rows {
                writeln!(
                    tracks,
                    "{},{},{},{},{},{},{}",
                    r.track, r.frame, r.time_ps, r.nucleus, r.n_atoms, r.n_eff, r.a_eff
                )?;
            }
            for e in evs {
                writeln!(
                    events,
                    "{},{},{},{}",
                    e.frame,
                    e.time_ps,
                    e.kind.as_str(),
                    e.tracks_text()
                )?;
            }
        }
        sinks.write(index, &mut frame, &res, &order, &alpha, a, v_atom)?;
        n_frames += 1;
        progress.tick();
    }
    progress.finish();
    anyhow::ensure!(
        n_frames > 0,
        "{}: no frame selected by --frames {}",
        a.input.display(),
        a.frames
    );
    sinks.commit()?;
    let mut extra = serde_json::json!({ "n_frames": n_frames });
    let mut summary_text = String::new();
    let mut report_tracker = None;
    if let (Some(t), Some((tracks, events))) = (tracker, track_sinks) {
        tracks.commit()?;
        events.commit()?;
        let mut classes = AtomicFile::create(dir.join("track_classes.csv"))?;
        writeln!(
            classes,
            "track,class,first_frame,last_frame,n_frames,end,n_eff_first,n_eff_max,n_eff_last"
        )?;
        let mut count = std::collections::HashMap::<&str, usize>::new();
        for (k, info) in t.tracks().iter().enumerate() {
            let class = t.classify(k);
            *count.entry(class.as_str()).or_default() += 1;
            let max = info.n_eff.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            writeln!(
                classes,
                "{k},{},{},{},{},{:?},{},{},{}",
                class.as_str(),
                info.frames[0],
                info.frames[info.frames.len() - 1],
                info.frames.len(),
                info.end,
                info.n_eff[0],
                max,
                info.n_eff[info.n_eff.len() - 1]
            )?;
        }
        classes.commit()?;
        let ev = |kind: &str| {
            t.events()
                .iter()
                .filter(|e| e.kind.as_str() == kind)
                .count()
        };
        let get = |c: TrackClass| count.get(c.as_str()).copied().unwrap_or(0);
        let summary = serde_json::json!({
            "tracks": t.tracks().len(),
            "growing": get(TrackClass::Growing),
            "fluctuating": get(TrackClass::Fluctuating),
            "dissolving": get(TrackClass::Dissolving),
            "merges": ev("merge"),
            "divisions": ev("divide"),
            "stable": get(TrackClass::Stable),
            "transient": get(TrackClass::Transient),
            "appearances": ev("appear"),
            "dissolutions": ev("dissolve"),
            "frames": n_frames,
            "largest_nucleus": largest.iter().map(|(f, n)| serde_json::json!([f, n])).collect::<Vec<_>>(),
        });
        write_json(&dir.join("summary.json"), &summary)?;
        summary_text = format!(
            "{} tracks: {} growing, {} fluctuating, {} dissolving, {} stable, {} seen once; {} merges, {} divisions, {} appearances, {} dissolutions.",
            t.tracks().len(),
            get(TrackClass::Growing),
            get(TrackClass::Fluctuating),
            get(TrackClass::Dissolving),
            get(TrackClass::Stable),
            get(TrackClass::Transient),
            ev("merge"),
            ev("divide"),
            ev("appear"),
            ev("dissolve")
        );
        if let Some((tp, dt)) = track {
            extra = serde_json::json!({
                "n_frames": n_frames, "dt_ps": dt, "min_overlap": tp.min_overlap,
                "tol_atoms": tp.tol_atoms, "tol_fraction": tp.tol_fraction
            });
        }
        report_tracker = Some(t);
    }
    write_json(
        &dir.join("parameters.json"),
        &parameters_json(a, &plan, extra),
    )?;
    let plots = history.write_plots(
        dir,
        report_tracker.as_ref(),
        if track.is_some() { "ps" } else { "frame" },
    )?;
    let (title, header, rows): (&str, &[&str], Vec<Vec<String>>) = match &report_tracker {
        Some(t) => (
            "Nuclei through time",
            &[
                "track",
                "class",
                "first frame",
                "last frame",
                "frames",
                "N_eff first",
                "N_eff max",
                "N_eff last",
            ],
            (0..t.tracks().len())
                .filter(|&k| t.tracks()[k].frames.len() >= 2)
                .map(|k| {
                    let i = &t.tracks()[k];
                    vec![
                        k.to_string(),
                        t.classify(k).as_str().to_string(),
                        i.frames[0].to_string(),
                        i.frames[i.frames.len() - 1].to_string(),
                        i.frames.len().to_string(),
                        format!("{:.1}", i.n_eff[0]),
                        format!(
                            "{:.1}",
                            i.n_eff.iter().copied().fold(f64::NEG_INFINITY, f64::max)
                        ),
                        format!("{:.1}", i.n_eff[i.n_eff.len() - 1]),
                    ]
                })
                .collect(),
        ),
        None => (
            "Nuclei",
            &[
                "frame",
                "nucleus",
                "atoms",
                "N_eff",
                "A_eff (A^2)",
                "sphericity",
                "site",
            ],
            last_rows,
        ),
    };
    let peak = largest
        .iter()
        .max_by_key(|x| x.1)
        .copied()
        .unwrap_or((0, 0));
    let text = format!(
        "{} frames of {}. Largest nucleus: {} atoms (frame {}). {}",
        n_frames,
        a.input.display(),
        peak.1,
        peak.0,
        summary_text
    );
    nucleate_report::nuclei::nuclei_report(title, &text, &plots, (header, rows))
        .write(&dir.join("report.html"))?;
    Ok(())
}

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
profiles.csv (frame,nucleus,r_a,order,count), parameters.json (every setting).

--order sro (binary fcc alloys, e.g. FePt tomography models): the order is the chemical order S
of `nucleate order --chemical` (lattice fit, 16 phases, kernel --sigma-a x a) and atoms climb
only within their phase; defaults R 3.87 A, threshold 0.3, 13 atoms, no merging, no coordination
rule, no profile background. nuclei.csv adds phase,family,c_over_a,p_value: c/a of L1_0 nuclei
from the members' lattice spacings; p_value from --null N species shuffles over the same sites
(default 100, seeded by --seed): the fraction of shuffles whose largest nucleus of the same family
reaches the nucleus' N_eff. Also sro_summary.json (lattice, species, c/a atom-weighted mean and
std, null percentiles, significant nuclei per family) and plots/sro_*.svg.\n\n"
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
    /// Order field: `alpha` (computed), `sro` (chemical order of a binary fcc alloy, with
    /// phases) or `column:NAME` (a per-atom column of the input).
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
    /// Lattice constant (Angstrom): alpha's fcc reference (or, with --order sro, the first
    /// guess of the lattice fit), the volume per atom of free particles (a^3/4) and the
    /// surface/sub-surface boundary [default: 3.92; 3.87 with --order sro].
    #[arg(long)]
    pub lattice_a: Option<f64>,
    /// Kernel width of the chemical order in lattice constants (--order sro).
    #[arg(long, default_value_t = 0.75)]
    pub sigma_a: f64,
    /// The alloy's two species as A,B (A plays Fe); default Fe,Pt if both occur, else
    /// alphabetical (--order sro).
    #[arg(long, value_delimiter = ',')]
    pub species: Option<Vec<String>>,
    /// Species shuffles of the null model that gives each nucleus a p-value (--order sro;
    /// default 100, 0 = none).
    #[arg(long, value_name = "N")]
    pub null: Option<usize>,
    /// Seed of the species shuffles.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Shuffle species only within radial shells of this width (Angstrom), keeping a
    /// composition gradient (--order sro).
    #[arg(long, value_name = "A")]
    pub shuffle_shell_a: Option<f64>,
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
    /// Further models of the same particle at later times (files without atom ids): each is
    /// aligned onto the one before and atoms are identified by pairing within --pair-distance.
    #[arg(value_name = "MODEL")]
    pub more: Vec<PathBuf>,
    /// Pairing distance (Angstrom) of atoms of successive models.
    #[arg(long, default_value_t = 1.4)]
    pub pair_distance: f64,
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
            "Models of one particle at successive times without atom ids (tomography after annealing):\n",
            "give several files; each is aligned onto the one before and atoms within --pair-distance\n",
            "(1.4 A) are paired, carrying pseudo-ids through time.\n\n",
            "Examples:\n  nucleate track examples/pt-droplet-950K.dump.gz --types Pt --dt-ps 30 -o out/track\n",
            "  nucleate track t0.extxyz t1.extxyz t2.extxyz --order sro --pair-distance 1.4 -o out/anneal"
        )
    } else {
        concat!(
            nuclei_help!(),
            "Examples:\n  nucleate nuclei examples/pt-droplet-950K.dump.gz --types Pt --frames last -o out/nuclei\n",
            "  nucleate nuclei fept.extxyz --order sro --null 100 --seed 1 -o out/fept"
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
    Sro,
    Column(String),
}

fn plan(a: &NucleiArgs) -> Result<Plan> {
    let sro = a.order == "sro";
    let mut climb = if sro {
        ClimbParams::tomography()
    } else if a.seed_rules {
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
        "sro" => OrderField::Sro,
        s if s.starts_with("column:") && s.len() > 7 => OrderField::Column(s[7..].to_string()),
        s => bail!("--order {s}: expected `alpha`, `sro` or `column:NAME`"),
    };
    if !sro {
        anyhow::ensure!(
            a.null.is_none() && a.species.is_none() && a.shuffle_shell_a.is_none(),
            "--null, --species and --shuffle-shell-a need --order sro"
        );
    }
    if let Some(v) = &a.species {
        anyhow::ensure!(
            v.len() == 2,
            "--species needs two names A,B (e.g. Fe,Pt), got {}",
            v.join(",")
        );
    }
    anyhow::ensure!(
        a.sigma_a.is_finite() && a.sigma_a > 0.0,
        "--sigma-a must be positive, got {}",
        a.sigma_a
    );
    if let Some(w) = a.shuffle_shell_a {
        anyhow::ensure!(
            w.is_finite() && w > 0.0,
            "--shuffle-shell-a must be positive"
        );
    }
    let lattice_a = a.lattice_a.unwrap_or(if sro { 3.87 } else { 3.92 });
    anyhow::ensure!(
        a.cutoff.is_finite() && a.cutoff > 0.0,
        "--cutoff must be positive, got {}",
        a.cutoff
    );
    anyhow::ensure!(
        lattice_a.is_finite() && lattice_a > 0.0,
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
        // Chemical order of tomography models: no background under the profile (nuclei.md).
        background: !a.no_background && !sro,
        v_atom: lattice_a.powi(3) / 4.0,
        lattice_a,
        ..AnalysisParams::default()
    };
    let bond = BondOrderParams {
        fcc_a: lattice_a,
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
        OrderField::Sro => bail!("the chemical order is computed by sro_field"),
    }
}

/// Output files of the nuclei stage.
struct NucleiSinks {
    nuclei: AtomicFile,
    profiles: AtomicFile,
    atoms: TrajectoryWriter,
    with_dg: bool,
    with_sro: bool,
}

impl NucleiSinks {
    fn create(dir: &Path, with_dg: bool, with_sro: bool) -> Result<Self> {
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
        if with_sro {
            write!(nuclei, ",phase,family,c_over_a,p_value")?;
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
            with_sro,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        index: usize,
        frame: &mut Frame,
        res: &FrameNuclei,
        order: &[f64],
        alpha: &[f64],
        a: &NucleiArgs,
        v_atom: f64,
        sro: Option<&SroNuclei>,
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
            if let (true, Some(x)) = (self.with_sro, sro) {
                write!(
                    self.nuclei,
                    ",{},{},{},{}",
                    x.phase[k],
                    phase_family(x.phase[k]).name(),
                    opt(x.c_over_a[k]),
                    opt(x.p_value[k])
                )?;
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
        let phase = match sro {
            Some(x) => x.atom_phase.clone(),
            None => vec![0; frame.len()],
        };
        frame.set_property("phase", 1, PropertyValues::Int(phase))?;
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
        if sro.is_none() {
            frame.set_property("alpha", 1, PropertyValues::Real(alpha.to_vec()))?;
        }
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
    run(&cmd.args, None, None)
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
    anyhow::ensure!(
        cmd.pair_distance.is_finite() && cmd.pair_distance > 0.0,
        "--pair-distance must be positive"
    );
    let models = (!cmd.more.is_empty()).then_some((&cmd.more[..], cmd.pair_distance));
    run(&cmd.args, Some((tp, cmd.dt_ps)), models)
}

/// Models of one particle at successive times (`first`, then `more`), each aligned onto the
/// one before and paired atom by atom (nucleate-aet's rigid + affine alignment and one-to-one
/// pairing within `distance` A); paired atoms inherit their partner's pseudo-id, unpaired atoms
/// get new ones, so the tracker follows nuclei by shared atoms as with MD ids.
fn paired_models(
    first: &Path,
    more: &[PathBuf],
    distance: f64,
    options: &ReadOptions,
) -> Result<Vec<(usize, Frame)>> {
    use nucleate_aet::compare::{compare_models, CompareParams};
    let paths: Vec<&Path> = std::iter::once(first)
        .chain(more.iter().map(|p| p.as_path()))
        .collect();
    let mut out: Vec<(usize, Frame)> = Vec::with_capacity(paths.len());
    let mut next_id = 0i64;
    for (k, path) in paths.iter().enumerate() {
        let mut frame = nucleate_core::io::read_frame(path, options)
            .with_context(|| format!("{}", path.display()))?;
        let mut ids = vec![-1i64; frame.len()];
        if let Some((_, prev)) = out.last() {
            let params = CompareParams {
                pair_distance_a: distance,
                ..CompareParams::default()
            };
            let cmp = compare_models(prev, &frame, &params).with_context(|| {
                format!(
                    "aligning {} onto {}",
                    path.display(),
                    paths[k - 1].display()
                )
            })?;
            let prev_ids = prev.ids.as_ref().expect("ids are set on every model");
            for p in &cmp.pairs {
                ids[p.index_b] = prev_ids[p.index_a];
            }
        }
        for id in ids.iter_mut().filter(|id| **id < 0) {
            *id = next_id;
            next_id += 1;
        }
        next_id = next_id.max(ids.iter().copied().max().unwrap_or(-1) + 1);
        frame.ids = Some(ids);
        out.push((k, frame));
    }
    Ok(out)
}

fn run(
    a: &NucleiArgs,
    track: Option<(TrackParams, f64)>,
    models: Option<(&[PathBuf], f64)>,
) -> Result<()> {
    a.common.init_threads()?;
    let plan = plan(a)?;
    let selection = super::common::frame_selection(&a.frames)?;
    let options = ReadOptions {
        types: a.types.clone(),
        frames: selection,
    };
    // Either a stream of frames, or whole models paired across times.
    let (mut source, mut paired) = match models {
        Some((more, d)) => (
            None,
            Some(paired_models(&a.input, more, d, &options)?.into_iter()),
        ),
        None => (Some(open_trajectory(&a.input, &options)?), None),
    };
    let mut next_item = || match (&mut source, &mut paired) {
        (Some(s), _) => s.next_indexed(),
        (None, Some(p)) => p.next().map(Ok),
        _ => None,
    };
    let dir = &a.out;
    let with_sro = matches!(plan.order, OrderField::Sro);
    let mut sinks = NucleiSinks::create(dir, a.dg.is_some(), with_sro)?;
    let mut sro_history = SroHistory::default();
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
    while let Some(item) = next_item() {
        let (index, mut frame) = item?;
        let place = || format!("{}: frame {index}", a.input.display());
        let (order, alpha, phase, alloy) = if with_sro {
            let (sro, phase) = sro_field(&frame, a).with_context(place)?;
            (sro.order.sro.clone(), Vec::new(), phase, Some(sro))
        } else {
            let (order, alpha) = order_field(&frame, &plan).with_context(place)?;
            (order, alpha, vec![0u16; frame.len()], None)
        };
        let res = analyse(&frame, &order, &phase, &plan.params).with_context(place)?;
        let sro_nuclei = match &alloy {
            Some(sro) => Some(sro_nuclei(&frame, sro, &res, &plan, a).with_context(place)?),
            None => None,
        };
        if let (Some(sro), Some(x)) = (&alloy, &sro_nuclei) {
            sro_history.push(index, &frame, sro, &res, x, &plan);
        }
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
        sinks.write(
            index,
            &mut frame,
            &res,
            &order,
            &alpha,
            a,
            v_atom,
            sro_nuclei.as_ref(),
        )?;
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
    let mut plots = history.write_plots(
        dir,
        report_tracker.as_ref(),
        if track.is_some() { "ps" } else { "frame" },
    )?;
    if with_sro {
        write_json(&dir.join("sro_summary.json"), &sro_history.summary())?;
        plots.extend(sro_history.write_plots(dir)?);
    }
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

// ---- Chemical order of binary fcc alloys (--order sro) ----

use nucleate_nuclei::null_model::{species_shuffle, NullDistribution, NullParams, ShuffleScope};
use nucleate_nuclei::tetragonality;
use nucleate_order::alloy_sro::{
    l10_c_axis, phase_family, phase_name, AlloySro, Family, LatticeParams, SroParams, N_PHASES,
};

/// Phase label of unmapped atoms for core climbing: a phase of their own, with order 0, so
/// they never join or seed a nucleus.
const UNMAPPED: u16 = N_PHASES as u16;

/// Lattice fit and chemical order of one frame, with core-climbing phase labels.
fn sro_field(frame: &Frame, a: &NucleiArgs) -> Result<(AlloySro, Vec<u16>)> {
    let params = SroParams {
        lattice: LatticeParams {
            lattice_a: a.lattice_a.unwrap_or(3.87),
            ..LatticeParams::default()
        },
        sigma_a: a.sigma_a,
    };
    let species = a.species.as_ref().map(|v| (v[0].as_str(), v[1].as_str()));
    let sro = AlloySro::compute(frame, species, &params)?;
    let phase = climb_phases(&sro.order.phase);
    Ok((sro, phase))
}

fn climb_phases(phase: &[i16]) -> Vec<u16> {
    phase
        .iter()
        .map(|&p| if p < 0 { UNMAPPED } else { p as u16 })
        .collect()
}

/// What --order sro adds per nucleus.
struct SroNuclei {
    /// Phase (0-15) of each nucleus (that of its peak atom).
    phase: Vec<usize>,
    /// c/a of L1_0 nuclei.
    c_over_a: Vec<Option<f64>>,
    /// p-value of each nucleus (None without shuffles).
    p_value: Vec<Option<f64>>,
    /// Phase per atom, -1 = unmapped.
    atom_phase: Vec<i64>,
    /// The null distribution.
    null: Option<NullDistribution>,
}

fn sro_nuclei(
    frame: &Frame,
    sro: &AlloySro,
    res: &FrameNuclei,
    plan: &Plan,
    a: &NucleiArgs,
) -> Result<SroNuclei> {
    let climb = &plan.params.climb;
    let phase: Vec<usize> = res
        .records
        .iter()
        .map(|r| sro.order.phase[r.nucleus.peak as usize].max(0) as usize)
        .collect();
    let c_over_a = res
        .records
        .iter()
        .zip(&phase)
        .map(|(r, &p)| {
            let axis = l10_c_axis(p)?;
            let sites: Option<Vec<[i32; 3]>> = r
                .nucleus
                .members
                .iter()
                .map(|&m| sro.lattice.sites[m as usize])
                .collect();
            tetragonality::c_over_a(&r.nucleus.unwrapped, &sites?, axis)
        })
        .collect();
    let shuffles = a.null.unwrap_or(100);
    let null = if shuffles > 0 {
        let list = NeighborList::build(frame, NeighborSpec::Cutoff { r: climb.radius })?;
        let species: Vec<u16> = sro.is_a.iter().map(|&x| u16::from(x)).collect();
        let eligible: Vec<bool> = (0..frame.len()).map(|i| sro.lattice.is_mapped(i)).collect();
        let scope = match a.shuffle_shell_a {
            Some(width_a) => ShuffleScope::RadialShells { width_a },
            None => ShuffleScope::Whole,
        };
        let family = |p: u16| (p < UNMAPPED).then(|| phase_family(p as usize).index());
        Some(species_shuffle(
            frame,
            &list,
            &species,
            &eligible,
            climb,
            &NullParams {
                shuffles,
                seed: a.seed,
                scope,
            },
            Family::ALL.len(),
            &family,
            |sp: &[u16]| {
                let is_a: Vec<bool> = sp.iter().map(|&x| x == 1).collect();
                let (s, p) = sro.weights.best_phase(&is_a).map_err(|e| e.to_string())?;
                Ok((s, climb_phases(&p)))
            },
        )?)
    } else {
        None
    };
    let p_value = res
        .records
        .iter()
        .zip(&phase)
        .map(|(r, &p)| {
            null.as_ref()
                .and_then(|n| n.p_value(phase_family(p).index(), r.n_eff))
        })
        .collect();
    Ok(SroNuclei {
        phase,
        c_over_a,
        p_value,
        atom_phase: sro.order.phase.iter().map(|&p| p as i64).collect(),
        null,
    })
}

/// One nucleus as the alloy plots and summary need it.
struct SroNucleusRow {
    frame: usize,
    family: Family,
    n_atoms: usize,
    n_eff: f64,
    p_value: Option<f64>,
    c_over_a: Option<f64>,
    /// Core position relative to the particle centroid (Angstrom).
    core: [f64; 3],
    at_surface: Option<bool>,
}

/// Everything --order sro reports beyond nuclei.csv, accumulated over frames.
#[derive(Default)]
struct SroHistory {
    frames: Vec<serde_json::Value>,
    rows: Vec<SroNucleusRow>,
    /// Particle radius (Angstrom) of the equivalent sphere, last frame.
    radius: f64,
    /// Profiles and fits of the largest nuclei of the last frame.
    profiles: Vec<(
        String,
        nucleate_nuclei::RadialProfile,
        Option<nucleate_nuclei::ProfileFit>,
    )>,
}

impl SroHistory {
    fn push(
        &mut self,
        index: usize,
        frame: &Frame,
        sro: &AlloySro,
        res: &FrameNuclei,
        x: &SroNuclei,
        plan: &Plan,
    ) {
        let (c, radius) = nucleate_order::rdf::equivalent_sphere(&frame.positions);
        self.radius = radius;
        let (a, b) = (&sro.species.a_name, &sro.species.b_name);
        self.profiles.clear();
        for (k, r) in res.records.iter().enumerate() {
            let core = r.nucleus.core_position;
            self.rows.push(SroNucleusRow {
                frame: index,
                family: phase_family(x.phase[k]),
                n_atoms: r.nucleus.n_atoms(),
                n_eff: r.n_eff,
                p_value: x.p_value[k],
                c_over_a: x.c_over_a[k],
                core: [core[0] - c[0], core[1] - c[1], core[2] - c[2]],
                at_surface: r.site.map(|s| s.at_surface),
            });
            if k < 6 {
                self.profiles.push((
                    format!("{k}: {}", phase_name(x.phase[k], a, b)),
                    r.profile.clone(),
                    r.fit,
                ));
            }
        }
        let rows: Vec<&SroNucleusRow> = self.rows.iter().filter(|r| r.frame == index).collect();
        let l10: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| r.c_over_a.map(|v| (v, r.n_atoms as f64)))
            .collect();
        let ca = tetragonality::weighted_mean_std(&l10);
        let per_family = |f: Family| {
            let of: Vec<&&SroNucleusRow> = rows.iter().filter(|r| r.family == f).collect();
            let sig = of
                .iter()
                .filter(|r| r.p_value.is_some_and(|p| p <= 0.05))
                .count();
            let dist = x.null.as_ref();
            serde_json::json!({
                "nuclei": of.len(),
                "significant": sig,
                "null_largest_n_eff_median": dist.and_then(|n| n.quantile(f.index(), 0.5)),
                "null_largest_n_eff_95": dist.and_then(|n| n.quantile(f.index(), 0.95)),
            })
        };
        let per_phase = sro.order.atoms_per_phase();
        self.frames.push(serde_json::json!({
            "frame": index,
            "species": {"A": a, "B": b},
            "fraction_a": sro.order.fraction_a,
            "lattice_a": sro.lattice.lattice_a,
            "rotation": sro.lattice.rotation,
            "origin": sro.lattice.origin,
            "n_unmapped": sro.lattice.n_unmapped,
            "rms_deviation_a": sro.lattice.rms_deviation,
            "atoms_per_phase": (0..N_PHASES).map(|j| per_phase[j]).collect::<Vec<_>>(),
            "nuclei": res.records.len(),
            "shuffles": x.null.as_ref().map(|n| n.len()).unwrap_or(0),
            "families": {
                "L1_0": per_family(Family::L10),
                "L1_2": per_family(Family::L12),
                "A1": per_family(Family::A1),
            },
            "c_over_a_mean": ca.map(|v| v.0),
            "c_over_a_std": ca.map(|v| v.1),
            "c_over_a_nuclei": l10.len(),
            "significance_level": 0.05,
            "threshold": plan.params.climb.threshold,
        }));
    }

    fn summary(&self) -> serde_json::Value {
        let mut top = self.frames.first().cloned().unwrap_or_default();
        top["frames"] = serde_json::Value::Array(self.frames.clone());
        top
    }

    fn write_plots(&self, dir: &Path) -> Result<Vec<(String, String)>> {
        use nucleate_report::{Chart, Marker, Style};
        let plots = dir.join("plots");
        std::fs::create_dir_all(&plots).with_context(|| format!("{}", plots.display()))?;
        let mut out = Vec::new();
        let mut save = |name: &str, chart: Chart, caption: &str| -> Result<()> {
            chart.write_svg(&plots.join(name), 800, 600)?;
            out.push((format!("plots/{name}"), caption.to_string()));
            Ok(())
        };
        let sig = |r: &SroNucleusRow| r.p_value.is_none_or(|p| p <= 0.05);
        let pick = |surface: bool| -> Vec<(f64, f64)> {
            self.rows
                .iter()
                .filter(|r| sig(r) && r.at_surface.unwrap_or(false) == surface)
                .map(|r| (r.core[0], r.core[1]))
                .collect()
        };
        let outline: Vec<(f64, f64)> = (0..=72)
            .map(|k| {
                let t = k as f64 * std::f64::consts::TAU / 72.0;
                (self.radius * t.cos(), self.radius * t.sin())
            })
            .collect();
        save(
            "sro_sites.svg",
            Chart::new(
                "Nucleation sites (cores projected along z)",
                "x from the centroid (A)",
                "y from the centroid (A)",
            )
            .with_series("particle (equivalent sphere)", outline, Style::Line)
            .with_series("surface, p <= 0.05", pick(true), Style::Points)
            .with_series("sub-surface, p <= 0.05", pick(false), Style::Points)
            .with_series(
                "p > 0.05",
                self.rows
                    .iter()
                    .filter(|r| !sig(r))
                    .map(|r| (r.core[0], r.core[1]))
                    .collect(),
                Style::Points,
            ),
            "Core positions of the nuclei projected on the x-y plane, surface (core within one lattice constant of the surface) and sub-surface; nuclei with p > 0.05 apart.",
        )?;
        let mut chart = Chart::new(
            "Chemical order profiles of the largest nuclei",
            "distance from the core (A)",
            "S",
        );
        for (name, prof, fit) in &self.profiles {
            let pts: Vec<(f64, f64)> = prof
                .r
                .iter()
                .zip(&prof.order)
                .zip(&prof.count)
                .filter(|(_, &c)| c > 0)
                .map(|((&r, &o), _)| (r, o))
                .collect();
            let r_max = pts.iter().map(|p| p.0).fold(0.0, f64::max);
            chart = chart.with_series(name, pts, Style::Points);
            if let Some(f) = fit {
                let curve = (0..=100)
                    .map(|k| {
                        let r = r_max * k as f64 / 100.0;
                        (
                            r,
                            f.alpha0 * (-(r / f.lambda).powf(f.beta)).exp() + f.background,
                        )
                    })
                    .collect();
                chart = chart.with_series(
                    &format!("fit: lambda {:.1} A, beta {:.1}", f.lambda, f.beta),
                    curve,
                    Style::Line,
                );
            }
        }
        save(
            "sro_profiles.svg",
            chart,
            "Shell-averaged S around the cores of the largest nuclei (last frame) and the fits S0 exp(-(r/lambda)^beta).",
        )?;
        let mut chart = Chart::new("Effective size vs significance", "p-value", "N_eff (atoms)");
        for f in Family::ALL {
            chart = chart.with_series(
                f.name(),
                self.rows
                    .iter()
                    .filter(|r| r.family == f)
                    .filter_map(|r| r.p_value.map(|p| (p, r.n_eff)))
                    .collect(),
                Style::Points,
            );
        }
        chart.markers.push(Marker {
            x: 0.05,
            label: "p = 0.05".into(),
        });
        save(
            "sro_neff_vs_p.svg",
            chart,
            "N_eff of every nucleus against its p-value from the species-shuffle null model.",
        )?;
        Ok(out)
    }
}

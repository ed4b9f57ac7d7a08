//! Running a study: stages in order, thermo rows and snapshots at their intervals, checkpoints
//! at an interval and on interrupt, continuation with `resume`.
//!
//! The trajectory and the thermo table are append-only streams rather than files renamed into
//! place at the end (a run of hours must show its progress): every frame is written and flushed
//! whole (as its own gzip member for `.gz`), and each checkpoint records how many bytes both
//! files had. A resumed run cuts them back to those lengths, so no frame after the checkpoint,
//! complete or not, survives, and the continued files equal those of an uninterrupted run.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;
use nucleate_core::io::{read_frame, ReadOptions};

use crate::barostat::CellRescale;
use crate::checkpoint::{Checkpoint, VERSION};
use crate::error::MdError;
use crate::integrate::{Md, Thermo};
use crate::lattice::{fcc_block, fcc_sphere};
use crate::potential::Potential;
use crate::protocol::{Ensemble, Plan, Stage, Structure};
use crate::system::System;
use crate::thermostat::Thermostat;

/// Header of the thermo table (cli.md).
pub const THERMO_HEADER: &str =
    "step,time_ps,temp_k,pe_ev_per_atom,etotal_ev_per_atom,press_bar,volume_a3";

/// Receives progress (the binary draws a bar; libraries never print).
pub trait Progress {
    /// `done` of `total` MD steps are complete.
    fn update(&mut self, done: u64, total: u64);
}

/// No progress display.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _done: u64, _total: u64) {}
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// All stages done.
    Finished {
        /// Steps in total.
        steps: u64,
        /// The last thermo row.
        last: Thermo,
    },
    /// Interrupted; a checkpoint was written at `step`.
    Interrupted {
        /// The step of the checkpoint.
        step: u64,
    },
}

/// The starting system of a plan.
pub fn initial_system(plan: &Plan, potential: &Potential) -> Result<System, MdError> {
    match &plan.study.structure {
        Structure::FccBlock { cells, lattice_a } => {
            let (x, cell) = fcc_block(*cells, *lattice_a)?;
            System::single_element(x, cell, potential)
        }
        Structure::FccSphere {
            radius_a,
            lattice_a,
            vacuum_a,
        } => {
            let (x, cell) = fcc_sphere(*radius_a, *lattice_a, *vacuum_a)?;
            System::single_element(x, cell, potential)
        }
        Structure::File { path } => {
            let p = plan.resolve(path);
            let frame = read_frame(&p, &ReadOptions::default())?;
            System::from_frame(&frame, potential)
                .map_err(|e| MdError::format(&p, None, e.to_string()))
        }
    }
}

/// An output stream appended frame by frame.
struct Stream {
    path: PathBuf,
    file: BufWriter<File>,
    gzip: bool,
    bytes: u64,
}

impl Stream {
    fn open(path: &Path, keep: Option<u64>) -> Result<Self, MdError> {
        let io = |e| MdError::io(path, e);
        let file = match keep {
            Some(len) => {
                let f = OpenOptions::new().write(true).open(path).map_err(io)?;
                let have = f.metadata().map_err(io)?.len();
                if have < len {
                    return Err(MdError::format(
                        path,
                        None,
                        format!("has {have} bytes but the checkpoint recorded {len}: it was changed since"),
                    ));
                }
                f.set_len(len).map_err(io)?;
                let mut f = f;
                std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(len)).map_err(io)?;
                f
            }
            None => File::create(path).map_err(io)?,
        };
        Ok(Self {
            path: path.to_path_buf(),
            file: BufWriter::new(file),
            gzip: path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gz")),
            bytes: keep.unwrap_or(0),
        })
    }

    /// Append one whole record and push it to the operating system.
    fn append(&mut self, data: &[u8]) -> Result<(), MdError> {
        let io = |e| MdError::io(&self.path, e);
        let bytes = if self.gzip {
            let mut g = GzEncoder::new(Vec::new(), Compression::fast());
            g.write_all(data).map_err(io)?;
            g.finish().map_err(io)?
        } else {
            data.to_vec()
        };
        self.file.write_all(&bytes).map_err(io)?;
        self.file.flush().map_err(io)?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

fn thermo_row(t: &Thermo) -> String {
    format!(
        "{},{},{},{},{},{},{}\n",
        t.step,
        t.time_ps,
        t.temp_k,
        t.pe_ev_per_atom,
        t.etotal_ev_per_atom,
        t.press_bar,
        t.volume_a3
    )
}

fn dump_frame(md: &Md) -> Result<Vec<u8>, MdError> {
    // `ITEM: ATOMS id type x y z`: species as LAMMPS type numbers.
    let (mut frame, _) = md.system.to_typed_frame();
    frame.timestep = Some(md.step);
    let mut buf = Vec::new();
    nucleate_core::io::lammps_dump::format_frame(&mut buf, &frame, md.step)?;
    Ok(buf)
}

fn configure_stage(md: &mut Md, stage: &Stage, fresh: bool) {
    let Some((ensemble, tau)) = stage.ensemble() else {
        return;
    };
    if fresh {
        md.thermostat = match ensemble {
            Ensemble::Nve => Thermostat::None,
            Ensemble::NvtNoseHoover => Thermostat::nose_hoover(tau),
            Ensemble::Nvt | Ensemble::Npt => Thermostat::Bussi { tau_ps: tau },
        };
        md.barostat = (ensemble == Ensemble::Npt).then(CellRescale::default);
    }
    // Linear and angular momentum of a free particle are removed periodically; periodic
    // systems keep their (zero) total momentum without help.
    md.momentum_every = if md.system.cell.any_periodic() {
        0
    } else {
        100
    };
}

/// Run `plan` writing into `dir`; with `resume`, continue from `dir/checkpoint.json`.
/// `interrupt` is polled every step (Ctrl-C): a checkpoint is written and the run returns.
pub fn run_study(
    plan: &Plan,
    dir: &Path,
    resume: bool,
    interrupt: &AtomicBool,
    progress: &mut dyn Progress,
) -> Result<Outcome, MdError> {
    std::fs::create_dir_all(dir).map_err(|e| MdError::io(dir, e))?;
    let potential = Potential::load(&plan.potential_spec())?;
    let system = initial_system(plan, &potential)?;
    let threads = rayon::current_num_threads();
    let study_toml = toml::to_string(&plan.study)
        .map_err(|e| MdError::Invalid(format!("cannot serialise the study: {e}")))?;
    let mut md = Md::new(
        system,
        potential,
        plan.dt,
        plan.study.skin_a,
        plan.study.seed,
    )?;
    let ckpt_path = dir.join("checkpoint.json");
    let dump_path = dir.join(&plan.study.output.dump);
    let thermo_path = dir.join("thermo.csv");

    let (mut stage_idx, mut stage_step, mut dump, mut thermo);
    if resume {
        let c = Checkpoint::read(&ckpt_path)?;
        if c.study_toml != study_toml {
            return Err(MdError::format(
                &plan.path,
                None,
                format!(
                    "differs from the study of the checkpoint {}",
                    ckpt_path.display()
                ),
            ));
        }
        if c.threads != threads {
            return Err(MdError::Invalid(format!(
                "{}: written with {} threads; resume with --threads {} to continue bit for bit",
                ckpt_path.display(),
                c.threads,
                c.threads
            )));
        }
        md.restore(&c.md)?;
        stage_idx = c.stage;
        stage_step = c.stage_step;
        dump = Stream::open(&dump_path, Some(c.dump_bytes))?;
        thermo = Stream::open(&thermo_path, Some(c.thermo_bytes))?;
        if let Some(s) = plan.stages.get(stage_idx) {
            configure_stage(&mut md, &s.stage, false);
        }
    } else {
        let t0 = plan.initial_temperature();
        md.init_velocities(t0);
        stage_idx = 0;
        stage_step = 0;
        dump = Stream::open(&dump_path, None)?;
        thermo = Stream::open(&thermo_path, None)?;
        thermo.append(format!("{THERMO_HEADER}\n").as_bytes())?;
        if plan.thermo_every > 0 {
            let t = md.thermo();
            thermo.append(thermo_row(&t).as_bytes())?;
        }
        if plan.dump_every > 0 {
            dump.append(&dump_frame(&md)?)?;
        }
    }
    let total = plan.total_steps();
    let checkpoint = |md: &Md, stage: usize, stage_step: u64, dump: &Stream, thermo: &Stream| {
        Checkpoint {
            version: VERSION,
            study_toml: study_toml.clone(),
            threads,
            stage,
            stage_step,
            md: md.snapshot(),
            dump_bytes: dump.bytes,
            thermo_bytes: thermo.bytes,
        }
        .write(&ckpt_path)
    };

    while stage_idx < plan.stages.len() {
        let ps = &plan.stages[stage_idx];
        if stage_step == 0 {
            configure_stage(&mut md, &ps.stage, true);
            if let Stage::Minimize {
                force_tol_ev_per_a,
                max_steps,
            } = ps.stage
            {
                md.minimize(force_tol_ev_per_a, max_steps)?;
                // The next MD stage starts from fresh velocities at its temperature.
                if let Some(next) = plan.stages[stage_idx + 1..].iter().find(|s| s.steps > 0) {
                    md.init_velocities(next.t0);
                }
            }
        }
        while stage_step < ps.steps {
            let frac = (stage_step + 1) as f64 / ps.steps as f64;
            md.target_k = ps.t0 + (ps.t1 - ps.t0) * frac;
            let next = md.step + 1;
            let want_thermo = plan.thermo_every > 0 && next % plan.thermo_every == 0;
            md.step(want_thermo)?;
            stage_step += 1;
            if want_thermo {
                let t = md.thermo();
                thermo.append(thermo_row(&t).as_bytes())?;
            }
            if plan.dump_every > 0 && md.step % plan.dump_every == 0 {
                dump.append(&dump_frame(&md)?)?;
            }
            let (ci, cs) = if stage_step == ps.steps {
                (stage_idx + 1, 0)
            } else {
                (stage_idx, stage_step)
            };
            if plan.checkpoint_every > 0 && md.step % plan.checkpoint_every == 0 {
                checkpoint(&md, ci, cs, &dump, &thermo)?;
            }
            progress.update(md.step, total);
            if interrupt.load(Ordering::Relaxed) {
                checkpoint(&md, ci, cs, &dump, &thermo)?;
                return Ok(Outcome::Interrupted { step: md.step });
            }
        }
        stage_idx += 1;
        stage_step = 0;
    }
    checkpoint(&md, stage_idx, 0, &dump, &thermo)?;
    let last = md.thermo();
    Ok(Outcome::Finished {
        steps: md.step,
        last,
    })
}

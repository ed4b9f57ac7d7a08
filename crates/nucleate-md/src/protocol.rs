//! Study files (TOML): the structure, the potential, the stages and the outputs of a run,
//! parsed strictly (unknown keys are errors) and validated into a [`Plan`] before any heavy
//! work, so mistakes show up in a second.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::MdError;

/// A study file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// Seed of every random choice (velocities, thermostat, barostat).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// `builtin:NAME` or a potential file (relative to the study file).
    pub potential: String,
    /// Timestep (fs).
    #[serde(default = "default_timestep")]
    pub timestep_fs: f64,
    /// Verlet skin (A).
    #[serde(default = "default_skin")]
    pub skin_a: f64,
    /// Temperature of the initial Maxwell-Boltzmann velocities (K); default: the first
    /// stage's temperature.
    pub initial_temperature_k: Option<f64>,
    /// The starting structure.
    pub structure: Structure,
    /// Output intervals and names.
    #[serde(default)]
    pub output: Output,
    /// The stages, run in order.
    #[serde(rename = "stage")]
    pub stages: Vec<Stage>,
}

fn default_seed() -> u64 {
    1
}
fn default_timestep() -> f64 {
    2.0
}
fn default_skin() -> f64 {
    1.0
}

/// The starting structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Structure {
    /// A periodic fcc block of `cells` conventional cells.
    FccBlock {
        /// Cells along x, y, z.
        cells: [usize; 3],
        /// Lattice constant (A).
        lattice_a: f64,
    },
    /// A free sphere cut from fcc, in vacuum without periodic images.
    FccSphere {
        /// Radius (A).
        radius_a: f64,
        /// Lattice constant (A).
        lattice_a: f64,
        /// Space between the sphere and the container walls (A; the container only matters
        /// for output and exports).
        #[serde(default = "default_vacuum")]
        vacuum_a: f64,
    },
    /// A configuration file (extXYZ, LAMMPS dump or data file; relative to the study file).
    File {
        /// The file.
        path: PathBuf,
    },
}

fn default_vacuum() -> f64 {
    20.0
}

/// Output settings (intervals in ps of simulated time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Output {
    /// Snapshot interval (ps).
    pub dump_every_ps: f64,
    /// Thermo row interval (ps).
    pub thermo_every_ps: f64,
    /// Checkpoint interval (ps).
    pub checkpoint_every_ps: f64,
    /// Trajectory file name inside the output folder.
    pub dump: String,
}

impl Default for Output {
    fn default() -> Self {
        Self {
            dump_every_ps: 1.0,
            thermo_every_ps: 0.1,
            checkpoint_every_ps: 10.0,
            dump: "traj.dump.gz".into(),
        }
    }
}

/// The ensemble of a stage at a temperature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Ensemble {
    /// Constant volume, stochastic velocity rescaling (Bussi).
    #[default]
    Nvt,
    /// Constant volume, Nose-Hoover chain.
    NvtNoseHoover,
    /// Zero (or `pressure_bar`) pressure, isotropic stochastic cell rescaling + Bussi.
    Npt,
    /// Constant energy.
    Nve,
}

/// One stage of a protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Stage {
    /// Melt: hold at a high temperature.
    Melt {
        /// Temperature (K).
        temperature_k: f64,
        /// Duration (ps).
        duration_ps: f64,
        /// Ensemble.
        #[serde(default)]
        ensemble: Ensemble,
        /// Thermostat time (ps).
        #[serde(default = "default_tau_t")]
        tau_t_ps: f64,
    },
    /// Hold at a fixed temperature.
    Hold {
        /// Temperature (K).
        temperature_k: f64,
        /// Duration (ps).
        duration_ps: f64,
        /// Ensemble.
        #[serde(default)]
        ensemble: Ensemble,
        /// Thermostat time (ps).
        #[serde(default = "default_tau_t")]
        tau_t_ps: f64,
    },
    /// Change the target temperature linearly from `from_k` to `to_k` at `rate_k_per_ps`.
    Ramp {
        /// Start temperature (K).
        from_k: f64,
        /// End temperature (K).
        to_k: f64,
        /// Rate (K/ps, positive).
        rate_k_per_ps: f64,
        /// Ensemble.
        #[serde(default)]
        ensemble: Ensemble,
        /// Thermostat time (ps).
        #[serde(default = "default_tau_t")]
        tau_t_ps: f64,
    },
    /// Relax positions at fixed box (FIRE) until the largest force is below `force_tol`.
    Minimize {
        /// Force tolerance (eV/A).
        #[serde(default = "default_ftol")]
        force_tol_ev_per_a: f64,
        /// Step limit.
        #[serde(default = "default_max_steps")]
        max_steps: u64,
    },
}

impl Stage {
    /// The ensemble and thermostat time (ps) of an MD stage; `None` for a minimisation.
    pub fn ensemble(&self) -> Option<(Ensemble, f64)> {
        match self {
            Stage::Melt {
                ensemble, tau_t_ps, ..
            }
            | Stage::Hold {
                ensemble, tau_t_ps, ..
            }
            | Stage::Ramp {
                ensemble, tau_t_ps, ..
            } => Some((*ensemble, *tau_t_ps)),
            Stage::Minimize { .. } => None,
        }
    }
}

fn default_tau_t() -> f64 {
    0.1
}
fn default_ftol() -> f64 {
    1e-4
}
fn default_max_steps() -> u64 {
    10000
}

/// A stage as the run executes it: MD steps with a target temperature going from `t0` to
/// `t1`, or a minimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStage {
    /// The stage as written.
    pub stage: Stage,
    /// MD steps (0 for a minimisation).
    pub steps: u64,
    /// Target temperature at the start (K).
    pub t0: f64,
    /// Target temperature at the end (K).
    pub t1: f64,
}

/// A validated study.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The study.
    pub study: Study,
    /// The study file (relative paths are relative to its folder).
    pub path: PathBuf,
    /// Timestep (ps).
    pub dt: f64,
    /// Stages with step counts.
    pub stages: Vec<PlannedStage>,
    /// Dump, thermo and checkpoint intervals (steps; 0 = never).
    pub dump_every: u64,
    /// Thermo interval (steps).
    pub thermo_every: u64,
    /// Checkpoint interval (steps).
    pub checkpoint_every: u64,
}

fn positive(v: f64, what: &str, path: &Path) -> Result<(), MdError> {
    if v > 0.0 && v.is_finite() {
        Ok(())
    } else {
        Err(MdError::format(
            path,
            None,
            format!("{what} must be positive, found {v}"),
        ))
    }
}

impl Plan {
    /// Read and validate a study file.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, MdError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| MdError::io(path, e))?;
        Self::parse(path, &text)
    }

    /// Parse and validate study text (`path` for messages and relative paths).
    pub fn parse(path: &Path, text: &str) -> Result<Self, MdError> {
        let study: Study = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            MdError::format(path, line, e.message().to_string())
        })?;
        positive(study.timestep_fs, "timestep_fs", path)?;
        if study.skin_a.is_nan() || study.skin_a < 0.0 {
            return Err(MdError::format(path, None, "skin_a must be >= 0"));
        }
        let dt = study.timestep_fs * 1e-3;
        let o = &study.output;
        let steps_of = |ps: f64, what: &str| -> Result<u64, MdError> {
            if ps == 0.0 {
                return Ok(0);
            }
            positive(ps, what, path)?;
            Ok(((ps / dt).round() as u64).max(1))
        };
        let dump_every = steps_of(o.dump_every_ps, "output.dump_every_ps")?;
        let thermo_every = steps_of(o.thermo_every_ps, "output.thermo_every_ps")?;
        let checkpoint_every = steps_of(o.checkpoint_every_ps, "output.checkpoint_every_ps")?;
        if study.stages.is_empty() {
            return Err(MdError::format(path, None, "the study has no [[stage]]"));
        }
        let periodic = matches!(study.structure, Structure::FccBlock { .. });
        let mut stages = Vec::new();
        let mut last_t = study.initial_temperature_k;
        for (k, stage) in study.stages.iter().enumerate() {
            let which = format!("stage {}", k + 1);
            let (steps, t0, t1, ens) = match stage {
                Stage::Melt {
                    temperature_k,
                    duration_ps,
                    ensemble,
                    tau_t_ps,
                }
                | Stage::Hold {
                    temperature_k,
                    duration_ps,
                    ensemble,
                    tau_t_ps,
                } => {
                    positive(*temperature_k, &format!("{which}: temperature_k"), path)?;
                    positive(*duration_ps, &format!("{which}: duration_ps"), path)?;
                    positive(*tau_t_ps, &format!("{which}: tau_t_ps"), path)?;
                    let n = (duration_ps / dt).round() as u64;
                    (n, *temperature_k, *temperature_k, Some(*ensemble))
                }
                Stage::Ramp {
                    from_k,
                    to_k,
                    rate_k_per_ps,
                    ensemble,
                    tau_t_ps,
                } => {
                    positive(*from_k, &format!("{which}: from_k"), path)?;
                    positive(*to_k, &format!("{which}: to_k"), path)?;
                    positive(*rate_k_per_ps, &format!("{which}: rate_k_per_ps"), path)?;
                    positive(*tau_t_ps, &format!("{which}: tau_t_ps"), path)?;
                    let n = ((to_k - from_k).abs() / rate_k_per_ps / dt).round() as u64;
                    (n.max(1), *from_k, *to_k, Some(*ensemble))
                }
                Stage::Minimize {
                    force_tol_ev_per_a, ..
                } => {
                    positive(
                        *force_tol_ev_per_a,
                        &format!("{which}: force_tol_ev_per_a"),
                        path,
                    )?;
                    let t = last_t.unwrap_or(0.0);
                    (0, t, t, None)
                }
            };
            if ens == Some(Ensemble::Npt) && !periodic {
                return Err(MdError::format(
                    path,
                    None,
                    format!("{which}: npt needs a periodic structure (a free sphere has no pressure to hold)"),
                ));
            }
            if last_t.is_none() && ens.is_some() {
                last_t = Some(t0);
            }
            if ens.is_some() {
                last_t = Some(t1);
            }
            stages.push(PlannedStage {
                stage: stage.clone(),
                steps,
                t0,
                t1,
            });
        }
        Ok(Self {
            study,
            path: path.to_path_buf(),
            dt,
            stages,
            dump_every,
            thermo_every,
            checkpoint_every,
        })
    }

    /// A path of the study, relative to the study file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            return p.to_path_buf();
        }
        self.path
            .parent()
            .map(|d| d.join(p))
            .unwrap_or_else(|| p.to_path_buf())
    }

    /// The potential specification with files resolved against the study's folder.
    pub fn potential_spec(&self) -> String {
        let s = &self.study.potential;
        if s.starts_with("builtin:") {
            s.clone()
        } else {
            self.resolve(Path::new(s)).to_string_lossy().into_owned()
        }
    }

    /// Total MD steps.
    pub fn total_steps(&self) -> u64 {
        self.stages.iter().map(|s| s.steps).sum()
    }

    /// Temperature of the initial velocities (K).
    pub fn initial_temperature(&self) -> f64 {
        self.study.initial_temperature_k.unwrap_or_else(|| {
            self.stages
                .iter()
                .find(|s| s.steps > 0)
                .map_or(0.0, |s| s.t0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
seed = 3
potential = "builtin:pt-u3"
[structure]
kind = "fcc-sphere"
radius_a = 10.0
lattice_a = 3.92
[[stage]]
kind = "melt"
temperature_k = 2000
duration_ps = 1
[[stage]]
kind = "ramp"
from_k = 2000
to_k = 1000
rate_k_per_ps = 100
"#;

    #[test]
    fn steps_follow_durations_and_rates() {
        let p = Plan::parse(Path::new("s.toml"), GOOD).unwrap();
        assert_eq!(p.stages[0].steps, 500);
        assert_eq!(p.stages[1].steps, 5000);
        assert_eq!(p.thermo_every, 50);
        assert_eq!(p.initial_temperature(), 2000.0);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_place() {
        let bad = GOOD.replace("radius_a", "radius");
        let e = Plan::parse(Path::new("s.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml") && e.contains("line"), "{e}");
        let bad = GOOD.replace("rate_k_per_ps = 100", "rate_k_per_ps = -1");
        let e = Plan::parse(Path::new("s.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("stage 2") && e.contains("rate_k_per_ps"), "{e}");
        let bad = GOOD.replace("duration_ps = 1", "duration_ps = 1\nensemble = \"npt\"");
        let e = Plan::parse(Path::new("s.toml"), &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("periodic"), "{e}");
    }
}

//! The protocol of a study as a LAMMPS input deck (data file, potential file, `in.lammps`),
//! for runs larger than one machine. Thermostats map to `fix temp/csvr` (Bussi) or `fix nvt`
//! (Nose-Hoover chain), zero-pressure stages to `fix npt ... iso` (LAMMPS has no stochastic cell
//! rescaling; the MTK barostat samples the same ensemble), minimisation to `minimize` with FIRE.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use nucleate_core::io::{create_trajectory, AtomicFile};

use crate::error::MdError;
use crate::potential::Potential;
use crate::protocol::{Ensemble, Plan, Stage};
use crate::run::initial_system;

fn write_text(path: &Path, text: &str) -> Result<(), MdError> {
    let mut f = AtomicFile::create(path).map_err(|e| MdError::io(path, e))?;
    f.write_all(text.as_bytes())
        .map_err(|e| MdError::io(path, e))?;
    f.commit().map_err(|e| MdError::io(path, e))
}

/// Write `dir/data.lammps`, the potential file and `dir/in.lammps`.
pub fn export(plan: &Plan, dir: &Path) -> Result<(), MdError> {
    let potential = Potential::load(&plan.potential_spec())?;
    let (pot_file, text, style, coeff) = match &potential {
        Potential::Tabulated {
            text,
            file_name,
            setfl,
            tables,
        } => {
            let els: Vec<&str> = crate::potential::EamModel::elements(tables.as_ref()).iter().map(|e| e.name.as_str()).collect();
            if *setfl {
                (file_name.clone(), text.clone(), "eam/alloy", format!("* * {file_name} {}", els.join(" ")))
            } else {
                (file_name.clone(), text.clone(), "eam", format!("1 1 {file_name}"))
            }
        }
        Potential::SuttonChen(_) => {
            return Err(MdError::Invalid(
                "the analytic Sutton-Chen potential has no LAMMPS file; use a tabulated potential (e.g. builtin:pt-u3) to export".into(),
            ))
        }
    };
    std::fs::create_dir_all(dir).map_err(|e| MdError::io(dir, e))?;
    write_text(&dir.join(&pot_file), &text)?;
    let system = initial_system(plan, &potential)?;
    let (frame, masses) = system.to_typed_frame();
    let mut w = create_trajectory(dir.join("data.lammps"))?;
    w.set_masses(masses);
    w.write_frame(&frame)?;
    w.finish()?;

    let s = &plan.study;
    let per = system.cell.periodic();
    // Free axes shrink-wrap around the atoms (LAMMPS' way of having no images).
    let b = |d: usize| if per[d] { "p" } else { "s" };
    let dt = plan.dt;
    let mut inp = String::new();
    let _ = writeln!(inp, "# Study {} exported by nucleate", plan.path.display());
    let _ = writeln!(
        inp,
        "units metal\natom_style atomic\nboundary {} {} {}",
        b(0),
        b(1),
        b(2)
    );
    let _ = writeln!(
        inp,
        "read_data data.lammps\npair_style {style}\npair_coeff {coeff}"
    );
    let _ = writeln!(
        inp,
        "neighbor {} bin\nneigh_modify delay 0 every 1 check yes",
        s.skin_a
    );
    let _ = writeln!(inp, "timestep {dt}");
    let _ = writeln!(
        inp,
        "velocity all create {} {} mom yes rot {} dist gaussian",
        plan.initial_temperature(),
        s.seed.clamp(1, 900_000_000),
        if per.iter().any(|&p| p) { "no" } else { "yes" }
    );
    if plan.thermo_every > 0 {
        let _ = writeln!(
            inp,
            "thermo_style custom step time temp pe etotal press vol\nthermo {}",
            plan.thermo_every
        );
    }
    if plan.dump_every > 0 {
        let _ = writeln!(
            inp,
            "dump traj all custom {} {} id type x y z",
            plan.dump_every, s.output.dump
        );
        let _ = writeln!(inp, "dump_modify traj sort id");
    }
    if !per.iter().any(|&p| p) {
        let _ = writeln!(inp, "fix mom all momentum 100 linear 1 1 1 angular");
    }
    for (k, ps) in plan.stages.iter().enumerate() {
        let id = format!("s{}", k + 1);
        if let Stage::Minimize {
            force_tol_ev_per_a,
            max_steps,
        } = &ps.stage
        {
            let _ = writeln!(
                inp,
                "min_style fire\nminimize 0 {force_tol_ev_per_a} {max_steps} {}",
                10 * max_steps
            );
            continue;
        }
        let Some((ens, tau)) = ps.stage.ensemble() else {
            continue;
        };
        let (t0, t1) = (ps.t0, ps.t1);
        let seed = (s.seed + k as u64 + 1).clamp(1, 900_000_000);
        match ens {
            Ensemble::Nve => {
                let _ = writeln!(inp, "fix {id} all nve");
            }
            Ensemble::Nvt => {
                let _ = writeln!(
                    inp,
                    "fix {id} all nve\nfix {id}t all temp/csvr {t0} {t1} {tau} {seed}"
                );
            }
            Ensemble::NvtNoseHoover => {
                let _ = writeln!(inp, "fix {id} all nvt temp {t0} {t1} {tau}");
            }
            Ensemble::Npt => {
                let _ = writeln!(inp, "fix {id} all npt temp {t0} {t1} {tau} iso 0.0 0.0 1.0");
            }
        }
        let _ = writeln!(inp, "run {}", ps.steps);
        let _ = writeln!(inp, "unfix {id}");
        if ens == Ensemble::Nvt {
            let _ = writeln!(inp, "unfix {id}t");
        }
    }
    write_text(&dir.join("in.lammps"), &inp)
}

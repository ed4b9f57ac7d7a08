//! Velocity Verlet with a thermostat (half steps before and after) and an optional barostat
//! (applied after the drift, before the forces), on a Verlet list rebuilt when some atom has
//! moved more than half the skin. At each rebuild atoms are wrapped into the box and sorted in
//! space; ids follow them.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use nucleate_core::SimBox;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::barostat::CellRescale;
use crate::error::MdError;
use crate::forces::{compute, pressure_bar, EnergyRequest, ForceResult, Parts, Team, Workspace};
use crate::neighbor::{spatial_order, VerletList, PARALLEL_MIN_ATOMS};
use crate::potential::Potential;
use crate::system::System;
use crate::thermostat::Thermostat;
use crate::units::FTM2V;

/// The exact state of the random stream (ChaCha20: key, stream, position), so a resumed run
/// draws the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngState {
    /// Key.
    pub seed: [u8; 32],
    /// Stream number.
    pub stream: u64,
    /// Position in 32-bit words.
    pub word_pos: u128,
}

impl RngState {
    /// Snapshot of a generator.
    pub fn of(rng: &ChaCha20Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }

    /// A generator at this state.
    pub fn restore(&self) -> ChaCha20Rng {
        let mut rng = ChaCha20Rng::from_seed(self.seed);
        rng.set_stream(self.stream);
        rng.set_word_pos(self.word_pos);
        rng
    }
}

/// The team for per-atom loops over `n` atoms; `None` when one thread (or, for a small
/// system, where splitting costs more than it saves) does them.
fn team_for(work: &mut Workspace, n: usize) -> Option<&Team> {
    if n < PARALLEL_MIN_ATOMS {
        return None;
    }
    work.team(rayon::current_num_threads())
}

/// Thermodynamic quantities of the current state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thermo {
    /// Step number.
    pub step: u64,
    /// Simulated time (ps).
    pub time_ps: f64,
    /// Temperature (K).
    pub temp_k: f64,
    /// Potential energy per atom (eV).
    pub pe_ev_per_atom: f64,
    /// Total energy per atom (eV).
    pub etotal_ev_per_atom: f64,
    /// Pressure (bar).
    pub press_bar: f64,
    /// Box volume (A^3).
    pub volume_a3: f64,
}

/// A molecular-dynamics run in progress.
pub struct Md {
    /// The atoms.
    pub system: System,
    potential: Potential,
    list: VerletList,
    work: Workspace,
    result: ForceResult,
    /// Whether `result.energy` belongs to the current positions.
    energy_fresh: bool,
    /// Timestep (ps).
    pub dt: f64,
    /// Steps done.
    pub step: u64,
    /// Simulated time (ps).
    pub time_ps: f64,
    /// Thermostat and its state.
    pub thermostat: Thermostat,
    /// Barostat, if the run is at constant pressure.
    pub barostat: Option<CellRescale>,
    /// Target temperature of the thermostat and barostat (K).
    pub target_k: f64,
    /// Remove linear (and, without periodic axes, angular) momentum every this many steps (0:
    /// never).
    pub momentum_every: u64,
    rng: ChaCha20Rng,
}

impl Md {
    /// A run of `system` with `potential`, timestep `dt` (ps), neighbour skin (A) and a seed.
    pub fn new(
        system: System,
        potential: Potential,
        dt: f64,
        skin: f64,
        seed: u64,
    ) -> Result<Self, MdError> {
        if !(dt > 0.0 && dt.is_finite() && skin >= 0.0 && skin.is_finite()) {
            return Err(MdError::Invalid(format!(
                "timestep must be positive and skin non-negative (dt = {dt} ps, skin = {skin} A)"
            )));
        }
        if system.is_empty() {
            return Err(MdError::Invalid("the system has no atoms".into()));
        }
        let list = VerletList::new(potential.cutoff(), skin);
        let mut md = Self {
            system,
            potential,
            list,
            work: Workspace::default(),
            result: ForceResult::default(),
            energy_fresh: false,
            dt,
            step: 0,
            time_ps: 0.0,
            thermostat: Thermostat::None,
            barostat: None,
            target_k: 0.0,
            momentum_every: 100,
            rng: ChaCha20Rng::seed_from_u64(seed),
        };
        md.rebuild();
        md.forces(EnergyRequest::Total);
        Ok(md)
    }

    /// Seeded Maxwell-Boltzmann velocities at `temperature_k` from the run's random stream.
    pub fn init_velocities(&mut self, temperature_k: f64) {
        self.system.maxwell_boltzmann(temperature_k, &mut self.rng);
    }

    /// The potential.
    pub fn potential(&self) -> &Potential {
        &self.potential
    }

    /// The random generator (velocities are drawn from it).
    pub fn rng(&mut self) -> &mut ChaCha20Rng {
        &mut self.rng
    }

    /// The neighbour list.
    pub fn list(&self) -> &VerletList {
        &self.list
    }

    /// The last force evaluation.
    pub fn result(&self) -> &ForceResult {
        &self.result
    }

    fn rebuild(&mut self) {
        self.system.wrap();
        let order = spatial_order(
            &self.system.positions,
            &self.system.cell,
            self.list.cutoff() + self.list.skin(),
        );
        self.system.permute(&order);
        self.list.build(&self.system.positions, &self.system.cell);
    }

    fn forces(&mut self, request: EnergyRequest) {
        compute(
            &self.potential,
            &self.system.positions,
            &self.system.species,
            &self.system.cell,
            &self.list,
            request,
            &mut self.work,
            &mut self.result,
        );
        self.energy_fresh = request != EnergyRequest::None;
    }

    /// Potential energy (eV) of the current positions (evaluated again if the last step did
    /// not compute it).
    pub fn potential_energy(&mut self) -> f64 {
        if !self.energy_fresh {
            self.forces(EnergyRequest::Total);
        }
        self.result.energy
    }

    /// Instantaneous pressure (bar).
    pub fn pressure_bar(&self) -> f64 {
        pressure_bar(
            2.0 * self.system.kinetic_energy(),
            &self.result.virial,
            self.system.cell.volume(),
        )
    }

    /// Thermodynamic output of the current state.
    pub fn thermo(&mut self) -> Thermo {
        let n = self.system.len() as f64;
        let pe = self.potential_energy();
        let ke = self.system.kinetic_energy();
        Thermo {
            step: self.step,
            time_ps: self.time_ps,
            temp_k: self.system.temperature(),
            pe_ev_per_atom: pe / n,
            etotal_ev_per_atom: (pe + ke) / n,
            press_bar: self.pressure_bar(),
            volume_a3: self.system.cell.volume(),
        }
    }

    fn thermostat_half(&mut self) {
        if matches!(self.thermostat, Thermostat::None) {
            return;
        }
        let ke = self.system.kinetic_energy();
        let s = self.thermostat.scale_factor(
            ke,
            self.system.dof(),
            self.target_k,
            0.5 * self.dt,
            &mut self.rng,
        );
        if s != 1.0 {
            for v in &mut self.system.velocities {
                for x in v.iter_mut() {
                    *x *= s;
                }
            }
        }
    }

    fn kick(&mut self) {
        let h = 0.5 * self.dt * FTM2V;
        let sys = &mut self.system;
        let n = sys.len();
        let (masses, species) = (&sys.element_masses, &sys.species);
        let forces = &self.result.forces;
        let v = Parts::new(&mut sys.velocities);
        let body = |atoms: Range<usize>| {
            // Safety: the members' ranges are disjoint.
            let v = unsafe { v.get(atoms.clone()) };
            for (i, v) in atoms.zip(v) {
                let c = h / masses[species[i]];
                let f = forces[i];
                v[0] += c * f[0];
                v[1] += c * f[1];
                v[2] += c * f[2];
            }
        };
        match team_for(&mut self.work, n) {
            Some(team) => team.run(&|t| body(team.part(n, t))),
            None => body(0..n),
        }
    }

    /// The first half kick and the drift in one pass over the atoms. Returns whether all
    /// positions are finite and, when `check`, whether some atom moved more than half the
    /// skin since the list was built.
    fn kick_drift(&mut self, check: bool) -> (bool, bool) {
        let h = 0.5 * self.dt * FTM2V;
        let dt = self.dt;
        let sys = &mut self.system;
        let n = sys.len();
        let (masses, species) = (&sys.element_masses, &sys.species);
        let forces = &self.result.forces;
        let reference = self.list.reference();
        let check = check && reference.len() == n;
        let limit = 0.25 * self.list.skin() * self.list.skin();
        let (x, v) = (
            Parts::new(&mut sys.positions),
            Parts::new(&mut sys.velocities),
        );
        let body = |atoms: Range<usize>| {
            // Safety: the members' ranges are disjoint.
            let (x, v) = unsafe { (x.get(atoms.clone()), v.get(atoms.clone())) };
            let (mut finite, mut moved) = (true, false);
            for ((i, x), v) in atoms.zip(x).zip(v) {
                let c = h / masses[species[i]];
                let f = forces[i];
                v[0] += c * f[0];
                v[1] += c * f[1];
                v[2] += c * f[2];
                x[0] += dt * v[0];
                x[1] += dt * v[1];
                x[2] += dt * v[2];
                finite &= (x[0] + x[1] + x[2]).is_finite();
                if check {
                    let q = reference[i];
                    let d = [x[0] - q[0], x[1] - q[1], x[2] - q[2]];
                    moved |= d[0] * d[0] + d[1] * d[1] + d[2] * d[2] > limit;
                }
            }
            (finite, moved)
        };
        match team_for(&mut self.work, n) {
            Some(team) => {
                let flags: Vec<[AtomicBool; 2]> = (0..team.size())
                    .map(|_| [AtomicBool::new(true), AtomicBool::new(false)])
                    .collect();
                team.run(&|t| {
                    let (finite, moved) = body(team.part(n, t));
                    flags[t][0].store(finite, Ordering::Relaxed);
                    flags[t][1].store(moved, Ordering::Relaxed);
                });
                let all = |k: usize| flags.iter().map(move |f| f[k].load(Ordering::Relaxed));
                (all(0).all(|f| f), all(1).any(|m| m))
            }
            None => body(0..n),
        }
    }

    fn rescale_cell(&mut self, mu: f64) -> Result<(), MdError> {
        let cell = self.system.cell;
        let o = cell.origin();
        let e = cell.edges();
        let scaled = e.map(|a| a.map(|x| x * mu));
        self.system.cell = SimBox::new(scaled, o, cell.periodic())?;
        for p in &mut self.system.positions {
            for d in 0..3 {
                p[d] = o[d] + mu * (p[d] - o[d]);
            }
        }
        for v in &mut self.system.velocities {
            for x in v.iter_mut() {
                *x /= mu;
            }
        }
        Ok(())
    }

    /// One step; the energy is computed when `energy` (for thermo output).
    pub fn step(&mut self, energy: bool) -> Result<(), MdError> {
        self.thermostat_half();
        // Without a barostat the box stays, and the list check rides along with the drift.
        let same_box = self.barostat.is_none()
            && self.list.reference_box().map(|b| b.periodic()) == Some(self.system.cell.periodic());
        let (mut finite, moved) = self.kick_drift(same_box);
        let dt = self.dt;
        if let Some(baro) = &self.barostat {
            let p = self.pressure_bar();
            let mu = baro.scale_factor(
                p,
                self.system.cell.volume(),
                self.target_k,
                dt,
                &mut self.rng,
            );
            self.rescale_cell(mu)?;
            finite &= mu.is_finite();
        }
        if !finite {
            let i = self
                .system
                .positions
                .iter()
                .position(|p| !p.iter().all(|x| x.is_finite()))
                .unwrap_or(0);
            return Err(MdError::Invalid(format!(
                "atom {} has a non-finite position at step {}: the run blew up (timestep too large?)",
                self.system.ids[i],
                self.step + 1
            )));
        }
        let rebuild = if same_box && self.list.reference().len() == self.system.len() {
            moved
        } else {
            self.list
                .needs_rebuild(&self.system.positions, &self.system.cell)
        };
        if rebuild {
            self.rebuild();
        }
        self.forces(if energy {
            EnergyRequest::Total
        } else {
            EnergyRequest::None
        });
        self.kick();
        self.thermostat_half();
        self.step += 1;
        self.time_ps = self.step as f64 * dt;
        if self.momentum_every > 0 && self.step.is_multiple_of(self.momentum_every) {
            self.system.zero_linear_momentum();
            if !self.system.cell.any_periodic() {
                self.system.zero_angular_momentum();
            }
        }
        Ok(())
    }

    /// Relax positions at fixed box with FIRE (Bitzek et al., Phys. Rev. Lett. 97, 170201
    /// (2006)) until the largest force component is below `force_tol` (eV/A) or `max_steps`
    /// steps were made; velocities are zero afterwards. Returns the steps made.
    pub fn minimize(&mut self, force_tol: f64, max_steps: u64) -> Result<u64, MdError> {
        let (n_min, f_inc, f_dec, alpha0, f_alpha) = (5u64, 1.1, 0.5, 0.1, 0.99);
        let dt0 = self.dt;
        let dt_max = 10.0 * dt0;
        let mut alpha = alpha0;
        let mut since_negative = 0u64;
        for v in &mut self.system.velocities {
            *v = [0.0; 3];
        }
        self.forces(EnergyRequest::None);
        let mut steps = 0;
        while steps < max_steps {
            let fmax = self
                .result
                .forces
                .iter()
                .flatten()
                .fold(0.0f64, |a, f| a.max(f.abs()));
            if fmax < force_tol {
                break;
            }
            let (mut p, mut vv, mut ff) = (0.0, 0.0, 0.0);
            for (v, f) in self.system.velocities.iter().zip(&self.result.forces) {
                for d in 0..3 {
                    p += v[d] * f[d];
                    vv += v[d] * v[d];
                    ff += f[d] * f[d];
                }
            }
            if p > 0.0 {
                let mix = alpha * (vv / ff.max(1e-300)).sqrt();
                for (v, f) in self.system.velocities.iter_mut().zip(&self.result.forces) {
                    for d in 0..3 {
                        v[d] = (1.0 - alpha) * v[d] + mix * f[d];
                    }
                }
                since_negative += 1;
                if since_negative > n_min {
                    self.dt = (self.dt * f_inc).min(dt_max);
                    alpha *= f_alpha;
                }
            } else {
                since_negative = 0;
                self.dt *= f_dec;
                alpha = alpha0;
                for v in &mut self.system.velocities {
                    *v = [0.0; 3];
                }
            }
            self.kick();
            let dt = self.dt;
            for (x, v) in self
                .system
                .positions
                .iter_mut()
                .zip(&self.system.velocities)
            {
                for d in 0..3 {
                    x[d] += dt * v[d];
                }
            }
            if self
                .list
                .needs_rebuild(&self.system.positions, &self.system.cell)
            {
                self.rebuild();
            }
            self.forces(EnergyRequest::None);
            self.kick();
            steps += 1;
        }
        self.dt = dt0;
        for v in &mut self.system.velocities {
            *v = [0.0; 3];
        }
        self.forces(EnergyRequest::Total);
        Ok(steps)
    }

    /// The state needed to continue bit for bit: see [`crate::checkpoint`].
    pub fn snapshot(&self) -> MdState {
        MdState {
            step: self.step,
            time_ps: self.time_ps,
            dt: self.dt,
            positions: self.system.positions.clone(),
            velocities: self.system.velocities.clone(),
            species: self.system.species.clone(),
            ids: self.system.ids.clone(),
            cell_edges: self.system.cell.edges(),
            cell_origin: self.system.cell.origin(),
            periodic: self.system.cell.periodic(),
            list_reference: self.list.reference().to_vec(),
            list_cell_edges: self.list_box().edges(),
            list_cell_origin: self.list_box().origin(),
            thermostat: self.thermostat.clone(),
            barostat: self.barostat.clone(),
            target_k: self.target_k,
            rng: RngState::of(&self.rng),
        }
    }

    fn list_box(&self) -> SimBox {
        self.list.reference_box().unwrap_or(self.system.cell)
    }

    /// Continue from a snapshot: the list is rebuilt from the positions of its last build, so
    /// it is the list the interrupted run had, and the forces come out identical.
    pub fn restore(&mut self, s: &MdState) -> Result<(), MdError> {
        let n = s.positions.len();
        if s.velocities.len() != n || s.species.len() != n || s.ids.len() != n {
            return Err(MdError::Invalid(
                "checkpoint arrays of different lengths".into(),
            ));
        }
        self.step = s.step;
        self.time_ps = s.time_ps;
        self.dt = s.dt;
        self.system.positions = s.positions.clone();
        self.system.velocities = s.velocities.clone();
        self.system.species = s.species.clone();
        self.system.ids = s.ids.clone();
        self.system.cell = SimBox::new(s.cell_edges, s.cell_origin, s.periodic)?;
        let list_box = SimBox::new(s.list_cell_edges, s.list_cell_origin, s.periodic)?;
        self.list.build(&s.list_reference, &list_box);
        self.thermostat = s.thermostat.clone();
        self.barostat = s.barostat.clone();
        self.target_k = s.target_k;
        self.rng = s.rng.restore();
        self.forces(EnergyRequest::Total);
        Ok(())
    }
}

/// Everything a run needs to continue exactly (in the engine's internal atom order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdState {
    /// Steps done.
    pub step: u64,
    /// Time (ps).
    pub time_ps: f64,
    /// Timestep (ps).
    pub dt: f64,
    /// Positions (A).
    pub positions: Vec<[f64; 3]>,
    /// Velocities (A/ps).
    pub velocities: Vec<[f64; 3]>,
    /// Element indices.
    pub species: Vec<usize>,
    /// Atom ids.
    pub ids: Vec<i64>,
    /// Box edges (A).
    pub cell_edges: [[f64; 3]; 3],
    /// Box origin (A).
    pub cell_origin: [f64; 3],
    /// Periodic flags.
    pub periodic: [bool; 3],
    /// Positions at the last list build (A).
    pub list_reference: Vec<[f64; 3]>,
    /// Box at the last list build (A).
    pub list_cell_edges: [[f64; 3]; 3],
    /// Its origin (A).
    pub list_cell_origin: [f64; 3],
    /// Thermostat state.
    pub thermostat: Thermostat,
    /// Barostat settings.
    pub barostat: Option<CellRescale>,
    /// Target temperature (K).
    pub target_k: f64,
    /// Random stream.
    pub rng: RngState,
}

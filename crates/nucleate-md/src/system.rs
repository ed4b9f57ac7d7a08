//! The dynamical state: positions, velocities, species, masses, ids and the box.

use nucleate_core::{Frame, SimBox};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::MdError;
use crate::potential::Potential;
use crate::units::{BOLTZ, MVV2E};

/// Atoms in a box, in the order the engine keeps them (sorted in space at list rebuilds;
/// `ids` identify atoms across reorderings).
#[derive(Debug, Clone, PartialEq)]
pub struct System {
    /// Positions (A).
    pub positions: Vec<[f64; 3]>,
    /// Velocities (A/ps).
    pub velocities: Vec<[f64; 3]>,
    /// Element index of each atom (into the potential's elements).
    pub species: Vec<usize>,
    /// Atom ids (1-based unless read from a file).
    pub ids: Vec<i64>,
    /// Mass of each element (amu).
    pub element_masses: Vec<f64>,
    /// Element names.
    pub element_names: Vec<String>,
    /// The box.
    pub cell: SimBox,
}

impl System {
    /// Atoms of one element of `potential`, ids 1..N, at rest.
    pub fn single_element(
        positions: Vec<[f64; 3]>,
        cell: SimBox,
        potential: &Potential,
    ) -> Result<Self, MdError> {
        if potential.elements().len() != 1 {
            return Err(MdError::Invalid(
                "a lattice structure needs a single-element potential".into(),
            ));
        }
        let n = positions.len();
        Ok(Self {
            positions,
            velocities: vec![[0.0; 3]; n],
            species: vec![0; n],
            ids: (1..=n as i64).collect(),
            element_masses: potential.elements().iter().map(|e| e.mass).collect(),
            element_names: potential
                .elements()
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            cell,
        })
    }

    /// A system from a frame, species matched to the potential's elements, ordered by id.
    pub fn from_frame(frame: &Frame, potential: &Potential) -> Result<Self, MdError> {
        let map = potential.species_map(&frame.species_names)?;
        let mut frame = frame.clone();
        if let Err(id) = frame.sort_by_id() {
            return Err(MdError::Invalid(format!("atom id {id} appears twice")));
        }
        let n = frame.len();
        let velocities = match frame
            .real_property("velo")
            .or(frame.real_property("velocities"))
        {
            Some((v, 3)) => v.chunks(3).map(|c| [c[0], c[1], c[2]]).collect(),
            _ => vec![[0.0; 3]; n],
        };
        Ok(Self {
            species: frame.species.iter().map(|&s| map[s as usize]).collect(),
            ids: frame
                .ids
                .clone()
                .unwrap_or_else(|| (1..=n as i64).collect()),
            positions: frame.positions,
            velocities,
            element_masses: potential.elements().iter().map(|e| e.mass).collect(),
            element_names: potential
                .elements()
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            cell: frame.cell,
        })
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether there are no atoms.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Mass of atom `i` (amu).
    #[inline]
    pub fn mass(&self, i: usize) -> f64 {
        self.element_masses[self.species[i]]
    }

    /// Degrees of freedom of the temperature: 3N - 3 (total momentum is fixed), as LAMMPS'
    /// default temperature compute.
    pub fn dof(&self) -> f64 {
        (3 * self.len()).saturating_sub(3).max(1) as f64
    }

    /// Kinetic energy (eV).
    pub fn kinetic_energy(&self) -> f64 {
        let mut ke = 0.0;
        for (i, v) in self.velocities.iter().enumerate() {
            ke += self.mass(i) * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        }
        0.5 * ke * MVV2E
    }

    /// Instantaneous temperature (K).
    pub fn temperature(&self) -> f64 {
        2.0 * self.kinetic_energy() / (self.dof() * BOLTZ)
    }

    /// Total momentum (amu A/ps).
    pub fn momentum(&self) -> [f64; 3] {
        let mut p = [0.0; 3];
        for (i, v) in self.velocities.iter().enumerate() {
            for d in 0..3 {
                p[d] += self.mass(i) * v[d];
            }
        }
        p
    }

    /// Remove the centre-of-mass velocity.
    pub fn zero_linear_momentum(&mut self) {
        let p = self.momentum();
        let m: f64 = (0..self.len()).map(|i| self.mass(i)).sum();
        if m > 0.0 {
            for v in &mut self.velocities {
                for d in 0..3 {
                    v[d] -= p[d] / m;
                }
            }
        }
    }

    /// Remove rigid rotation about the centre of mass (for free particles: L = 0).
    pub fn zero_angular_momentum(&mut self) {
        let n = self.len();
        if n < 3 {
            return;
        }
        let mut com = [0.0; 3];
        let mut mt = 0.0;
        for i in 0..n {
            let m = self.mass(i);
            mt += m;
            for d in 0..3 {
                com[d] += m * self.positions[i][d];
            }
        }
        for c in &mut com {
            *c /= mt;
        }
        let mut l = [0.0; 3];
        let mut inertia = [[0.0; 3]; 3];
        for i in 0..n {
            let m = self.mass(i);
            let r = [
                self.positions[i][0] - com[0],
                self.positions[i][1] - com[1],
                self.positions[i][2] - com[2],
            ];
            let v = self.velocities[i];
            l[0] += m * (r[1] * v[2] - r[2] * v[1]);
            l[1] += m * (r[2] * v[0] - r[0] * v[2]);
            l[2] += m * (r[0] * v[1] - r[1] * v[0]);
            let r2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
            for a in 0..3 {
                for b in 0..3 {
                    inertia[a][b] += m * (if a == b { r2 } else { 0.0 } - r[a] * r[b]);
                }
            }
        }
        let inv = glam::DMat3::from_cols_array_2d(&inertia);
        if inv.determinant().abs() < 1e-300 {
            return;
        }
        let w = inv.inverse() * glam::DVec3::from_array(l);
        for i in 0..n {
            let r = glam::DVec3::new(
                self.positions[i][0] - com[0],
                self.positions[i][1] - com[1],
                self.positions[i][2] - com[2],
            );
            let dv = w.cross(r);
            for d in 0..3 {
                self.velocities[i][d] -= dv[d];
            }
        }
    }

    /// Seeded Maxwell-Boltzmann velocities at `temperature_k`, zero total momentum, scaled so
    /// the instantaneous temperature is exactly the target (as LAMMPS' `velocity create`).
    pub fn maxwell_boltzmann(&mut self, temperature_k: f64, rng: &mut impl Rng) {
        for i in 0..self.len() {
            let s = (BOLTZ * temperature_k / (self.mass(i) * MVV2E)).sqrt();
            for d in 0..3 {
                let g: f64 = rng.sample(StandardNormal);
                self.velocities[i][d] = s * g;
            }
        }
        self.zero_linear_momentum();
        if !self.cell.any_periodic() {
            self.zero_angular_momentum();
        }
        let t = self.temperature();
        if t > 0.0 {
            let f = (temperature_k / t).sqrt();
            for v in &mut self.velocities {
                for x in v.iter_mut() {
                    *x *= f;
                }
            }
        }
    }

    /// Reorder atoms so that row `k` becomes old row `order[k]`.
    pub fn permute(&mut self, order: &[usize]) {
        self.positions = order.iter().map(|&i| self.positions[i]).collect();
        self.velocities = order.iter().map(|&i| self.velocities[i]).collect();
        self.species = order.iter().map(|&i| self.species[i]).collect();
        self.ids = order.iter().map(|&i| self.ids[i]).collect();
    }

    /// Map positions into the box along periodic axes.
    pub fn wrap(&mut self) {
        if self.cell.any_periodic() {
            for p in &mut self.positions {
                *p = self.cell.wrap(*p);
            }
        }
    }

    /// A frame ordered by id whose species are LAMMPS type numbers (element index + 1), with
    /// the mass of each of the frame's species (amu), for dumps and data files.
    pub fn to_typed_frame(&self) -> (Frame, Vec<f64>) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| self.ids[i]);
        let types: Vec<String> = order
            .iter()
            .map(|&i| (self.species[i] + 1).to_string())
            .collect();
        let refs: Vec<&str> = types.iter().map(String::as_str).collect();
        let mut frame = Frame::new(
            order.iter().map(|&i| self.positions[i]).collect(),
            &refs,
            self.cell,
        )
        .expect("one type per position");
        frame.ids = Some(order.iter().map(|&i| self.ids[i]).collect());
        let masses = frame
            .species_names
            .iter()
            .map(|t| self.element_masses[t.parse::<usize>().map_or(0, |k| k - 1)])
            .collect();
        (frame, masses)
    }

    /// A frame of the current state ordered by id, with `velo` when asked.
    pub fn to_frame(&self, with_velocities: bool) -> Frame {
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by_key(|&i| self.ids[i]);
        let names: Vec<&str> = order
            .iter()
            .map(|&i| self.element_names[self.species[i]].as_str())
            .collect();
        let mut frame = Frame::new(
            order.iter().map(|&i| self.positions[i]).collect(),
            &names,
            self.cell,
        )
        .expect("one species per position");
        frame.ids = Some(order.iter().map(|&i| self.ids[i]).collect());
        if with_velocities {
            let v: Vec<f64> = order.iter().flat_map(|&i| self.velocities[i]).collect();
            frame
                .set_property("velo", 3, nucleate_core::PropertyValues::Real(v))
                .expect("three values per atom");
        }
        frame
    }
}

//! nucleate-md: an embedded molecular-dynamics engine for nucleation studies of metals.
//!
//! - [`potential`]: EAM from LAMMPS funcfl/setfl tables (interpolated as LAMMPS does) and
//!   analytic Sutton-Chen;
//! - [`neighbor`]: half Verlet lists from a cell grid, with skin;
//! - [`forces`]: the force loop, serial or parallel (deterministic for a thread count);
//! - [`system`], [`integrate`], [`thermostat`], [`barostat`]: velocity Verlet with NVE, NVT
//!   (Nose-Hoover chain, Bussi velocity rescaling) and NPT (stochastic cell rescaling);
//! - [`minimize`]: FIRE relaxation; [`lattice`]: fcc blocks and spheres;
//! - [`protocol`], [`run`], [`checkpoint`], [`lammps_export`]: study files, their execution
//!   with checkpoints, and LAMMPS input decks.
//!
//! Units are LAMMPS "metal" ([`units`]).

// Loops over the three axes index several arrays at once; iterators would hide that.
#![allow(clippy::needless_range_loop)]

pub mod barostat;
pub mod bench;
pub mod checkpoint;
pub mod error;
pub mod forces;
pub mod integrate;
pub mod lammps_export;
pub mod lattice;
pub mod neighbor;
pub mod potential;
pub mod protocol;
pub mod run;
pub mod system;
pub mod thermostat;
pub mod units;

pub use error::MdError;
pub use forces::{EnergyRequest, ForceResult};
pub use integrate::{Md, Thermo};
pub use neighbor::VerletList;
pub use potential::Potential;
pub use system::System;

//! nucleate-core: the atomistic data model every nucleate pipeline shares.
//!
//! - [`Frame`]: positions (Angstrom), species, ids and named per-atom properties;
//! - [`SimBox`]: orthorhombic or triclinic cells, periodic or open per axis;
//! - [`neighbors`]: cell-list neighbour search (cutoff and k-nearest), parallel and deterministic;
//! - [`io`]: extended XYZ, LAMMPS dumps (streaming, gzip) and LAMMPS data files, and
//!   output sinks that never leave a half-written file behind.

// Loops over the three axes index several arrays at once; iterators would hide that.
#![allow(clippy::needless_range_loop)]

pub mod cell;
pub mod error;
pub mod frame;
pub mod io;
pub mod neighbors;

pub use cell::SimBox;
pub use error::{CoreError, Place};
pub use frame::{Frame, Property, PropertyValues};
pub use neighbors::{NeighborList, NeighborSpec};

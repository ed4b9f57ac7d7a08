//! nucleate-reactor: flow-reactor syntheses of semiconductor nanocrystals.
//!
//! - [`uvvis`]: absorption spectra, peaks, magic-size-cluster families, sizes and
//!   concentrations;
//! - [`sizing`]: sizing curves, extinction coefficients and aggregation numbers;
//! - [`saxs`]: sphere form factor, Monte Carlo size distributions, Bragg peaks;
//! - [`kinetics`]: monomer-driven quantised growth with a stiff solver, temperature
//!   programs, accumulation maps and rate fitting;
//! - [`plot`]: SVG figures of all of the above.

pub mod error;
pub mod kinetics;
pub mod plot;
pub mod saxs;
pub mod sizing;
mod table;
pub mod uvvis;

pub use error::{Error, Result};

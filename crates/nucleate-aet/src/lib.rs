//! nucleate-aet: atomic electron tomography.
//!
//! From an ADF-STEM tilt series of a nanoparticle to atoms with 3D coordinates and species,
//! and from two models of one particle to a measured precision. Every step follows the one
//! [`geometry::TiltGeometry`] (aet.md): the forward model ([`project`]) simulates series and
//! drives refinement, reconstruction methods ([`reconstruct`]) share one loop, readers
//! ([`series`]) turn every input into one [`series::TiltSeries`].

// Loops over the three axes index several arrays at once; iterators would hide that.
#![allow(clippy::needless_range_loop)]
#![allow(clippy::too_many_arguments)]

pub mod error;
pub mod geometry;
pub mod project;
pub mod series;

pub use error::{AetError, Result};
pub use geometry::{TiltAxis, TiltGeometry};
pub use series::{TiltSeries, Volume};
pub mod align;
pub mod classify;
pub mod compare;
pub mod fft3;
pub mod model;
pub mod mrc;
pub mod plot;
pub mod reconstruct;
pub mod refine;
pub mod spline;
pub mod trace;

//! nucleate-imaging: in-situ liquid-cell microscopy movies.
//!
//! - [`movie`]: reading movies (multi-page TIFF, folders of PNG/TIFF frames) with their pixel
//!   size and frame interval, per-frame pre-processing and two-level segmentation, the
//!   per-frame series, and the events in it (condensation, out-and-in cycles);
//! - [`fft`]: crystallinity of high-resolution frames from the windowed power spectrum
//!   (Herman's orientation order parameter, number of lattice orientations);
//! - [`simulate`]: seeded synthetic movies and HRTEM images with their ground truth;
//! - [`plot`]: SVG plots of the series, events and crystallinity.

pub mod error;
pub mod fft;
pub mod image;
pub mod movie;
pub mod plot;
pub mod simulate;

pub use error::{ImagingError, Result};
pub use image::Image;

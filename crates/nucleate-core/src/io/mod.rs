//! File formats and output sinks.
//!
//! - [`extxyz`]: extended XYZ as ASE and OVITO write it;
//! - [`lammps_dump`]: LAMMPS text dumps, streamed frame by frame, gzip transparently;
//! - [`lammps_data`]: LAMMPS data files (atomic style);
//! - [`source`]: [`open_trajectory`] picks the format and yields the selected frames
//!   ([`FrameSelection`]); [`create_trajectory`] writes any of the formats.

pub mod extxyz;
pub mod lammps_data;
pub mod lammps_dump;
pub mod select;
mod sink;
pub mod source;
mod text;

pub use select::FrameSelection;
pub use sink::AtomicFile;
pub use source::{
    create_trajectory, detect_format, open_trajectory, read_frame, write_frame, Format,
    FrameSource, ReadOptions, Trajectory, TrajectoryWriter,
};
pub use text::Input;

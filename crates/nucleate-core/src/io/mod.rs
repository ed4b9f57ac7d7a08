//! File formats and output sinks.

mod sink;

pub use sink::AtomicFile;

//! Errors that name the file and the place.

use std::path::PathBuf;

/// Everything that can go wrong reading reactor data or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", file.display())]
    Io {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line of an input file is malformed (`line` is 1-based, as editors count).
    #[error("{}:{line}: {message}", file.display())]
    Input {
        /// The file.
        file: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong there.
        message: String,
    },
    /// A model or parameter set that cannot be used, with the reason.
    #[error("{0}")]
    Invalid(String),
}

/// Result with the crate's error.
pub type Result<T> = std::result::Result<T, Error>;

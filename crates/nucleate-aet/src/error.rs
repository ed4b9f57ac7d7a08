//! Typed errors of the tomography pipeline; each names the file and the place.

use std::path::PathBuf;

/// Errors of reading tilt series, volumes and models, and of the computations on them.
#[derive(Debug, thiserror::Error)]
pub enum AetError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content of a file is not what was expected (a page, a line, a pixel).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was found, where, and what was expected.
        message: String,
    },
    /// Inputs that do not fit together or an argument out of range.
    #[error("{0}")]
    Invalid(String),
    /// An error of the atomistic core (extXYZ reading and writing).
    #[error(transparent)]
    Core(#[from] nucleate_core::CoreError),
}

impl AetError {
    /// A format error in `path`.
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        AetError::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AetError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with [`AetError`].
pub type Result<T> = std::result::Result<T, AetError>;

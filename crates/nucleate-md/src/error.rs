//! Typed errors of the MD engine; each names the file and the place it refers to.

use std::path::PathBuf;

/// Errors of potentials, study files, checkpoints and runs.
#[derive(Debug, thiserror::Error)]
pub enum MdError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content of a potential, study or checkpoint file does not follow its format.
    #[error("{path}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// What was found and what was expected.
        message: String,
    },
    /// An argument or setting out of its valid range.
    #[error("{0}")]
    Invalid(String),
    /// An error of the shared data model (trajectory files, boxes).
    #[error(transparent)]
    Core(#[from] nucleate_core::CoreError),
}

impl MdError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MdError::Io {
            path: path.into(),
            source,
        }
    }

    /// A format error at `line` of `path`.
    pub fn format(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        MdError::Format {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

//! Typed errors of the core crate. Each carries the file and the place it refers to, so the
//! binary can print one line a user can act on.

use std::path::PathBuf;

/// Where in a file a problem was found: 1-based line, 0-based frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// The file, when the data came from one.
    pub path: Option<PathBuf>,
    /// 1-based line number.
    pub line: Option<u64>,
    /// 0-based frame index in the file.
    pub frame: Option<usize>,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(p) = &self.path {
            parts.push(p.display().to_string());
        }
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(fr) = self.frame {
            parts.push(format!("frame {fr}"));
        }
        if parts.is_empty() {
            write!(f, "<input>")
        } else {
            write!(f, "{}", parts.join(", "))
        }
    }
}

/// Errors of the atomistic data model, its file formats and neighbour search.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The content of a file does not follow its format.
    #[error("{place}: {message}")]
    Format {
        /// File, line and frame.
        place: Place,
        /// What was found and what was expected.
        message: String,
    },
    /// A simulation box that cannot be used (no volume, not finite).
    #[error("invalid simulation box: {0}")]
    InvalidBox(String),
    /// An argument out of its valid range (a negative cutoff, k larger than the system).
    #[error("{0}")]
    InvalidArgument(String),
}

impl CoreError {
    /// A format error at a place.
    pub fn format(place: Place, message: impl Into<String>) -> Self {
        CoreError::Format {
            place,
            message: message.into(),
        }
    }

    /// An I/O error on a file.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CoreError::Io {
            path: path.into(),
            source,
        }
    }
}

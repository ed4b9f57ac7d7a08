//! Typed errors that name the file and the place (frame, page) where input went wrong.

use std::path::PathBuf;

/// Result with [`ImagingError`].
pub type Result<T> = std::result::Result<T, ImagingError>;

/// Everything that can go wrong reading, analysing or writing images.
#[derive(Debug, thiserror::Error)]
pub enum ImagingError {
    /// The operating system refused a read or write.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be decoded at all.
    #[error("{path}, frame {frame}: cannot decode: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// 0-based frame (TIFF page, or position of the file in a folder movie).
        frame: usize,
        /// What the decoder said.
        message: String,
    },
    /// The file decodes but its layout is not a single grey channel this crate reads.
    #[error("{path}, frame {frame}: unsupported image layout: {layout}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// 0-based frame.
        frame: usize,
        /// The layout found and what is expected.
        layout: String,
    },
    /// A frame differs in size from the first frame.
    #[error(
        "{path}, frame {frame}: size {width}x{height} differs from the first frame's \
         {first_width}x{first_height}"
    )]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// 0-based frame.
        frame: usize,
        /// This frame's width (px).
        width: usize,
        /// This frame's height (px).
        height: usize,
        /// The first frame's width (px).
        first_width: usize,
        /// The first frame's height (px).
        first_height: usize,
    },
    /// Pixel size, frame interval or another needed value is missing or invalid.
    #[error("{path}: {message}")]
    Metadata {
        /// The movie (or its sidecar file).
        path: PathBuf,
        /// What is missing and how to give it.
        message: String,
    },
    /// Analysis of one frame failed.
    #[error("{path}, frame {frame}: {message}")]
    Frame {
        /// The movie or image.
        path: PathBuf,
        /// 0-based frame.
        frame: usize,
        /// What went wrong.
        message: String,
    },
    /// The movie holds no frames.
    #[error("{path}: no frames found")]
    Empty {
        /// The movie.
        path: PathBuf,
    },
    /// A parameter is out of range.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// Writing a table, JSON or plot failed.
    #[error("{path}: cannot write: {message}")]
    Write {
        /// The output file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

impl ImagingError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// A write failure on `path`.
    pub fn write(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self::Write {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

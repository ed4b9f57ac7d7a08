//! nucleate-report: charts as SVG files and a self-contained HTML report that links them by
//! relative paths, so an output folder can be moved or zipped and still opens offline.
//!
//! - [`Chart`]: line and scatter series with labelled axes (units in the labels), vertical
//!   markers and a legend, rendered with plotters' SVG backend;
//! - [`Report`]: headings, paragraphs, figures and tables, written as one HTML file with inline
//!   CSS and no scripts or network resources.

mod html;
pub mod nuclei;
mod plot;
pub mod study;

pub use html::{escape, Report};
pub use plot::{Chart, Marker, Series, Style};

/// Errors of plotting and report writing.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Plotters could not draw.
    #[error("cannot draw {what}: {message}")]
    Draw {
        /// The chart's title.
        what: String,
        /// The backend's message.
        message: String,
    },
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

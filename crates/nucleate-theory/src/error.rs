//! Errors and warnings of the theory crate.

use std::fmt;
use std::path::PathBuf;

/// What can go wrong computing a barrier. File errors name the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parameter that must be positive (gamma, dg, amplitude, lambda, beta) is not.
    #[error("{name} must be positive and finite, got {value}")]
    NotPositive {
        /// The parameter's name as the user knows it.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A contact angle outside [0, 180] degrees.
    #[error("contact angle must be between 0 and 180 degrees, got {0}")]
    ContactAngle(f64),
    /// A profile file could not be opened or read.
    #[error("{path}: cannot read profile: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A bad row or header in a tabulated profile.
    #[error("{source_name}: {place}: {message}")]
    Table {
        /// The file (or `table` for a profile built in memory).
        source_name: String,
        /// `line N` (1-based, the header is line 1) or `point N` (0-based).
        place: String,
        /// What is wrong.
        message: String,
    },
    /// A profile name that is none of the known families and no file.
    #[error("unknown profile `{0}` (and no file of that name): expected step, linear, parabolic-above, parabolic-below, gengauss:LAMBDA,BETA or a CSV file with header r,alpha")]
    UnknownProfile(String),
    /// A known family with bad parameters.
    #[error("profile `{spec}`: {message}")]
    ProfileSpec {
        /// The profile as written.
        spec: String,
        /// What is wrong.
        message: String,
    },
    /// dG(r) could not be evaluated (an overflow or a user shape returning NaN).
    #[error("dG(r) is not finite at r = {r}")]
    NotFinite {
        /// The nucleus radius.
        r: f64,
    },
}

/// Something suspicious that still allows a result; returned with it, printed by callers.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// Alpha increases outwards somewhere: Jensen's bound on the interfacial term does not hold.
    NonMonotone {
        /// The file or `table`.
        source_name: String,
        /// Where alpha first increases.
        place: String,
    },
    /// An order parameter outside [0, 1].
    OutOfRange {
        /// The file or `table` (or `amplitude`).
        source_name: String,
        /// Where.
        place: String,
        /// The value.
        value: f64,
    },
    /// dG(r) is flat to rounding around its maximum, so r* is poorly defined.
    FlatMaximum {
        /// The radius found.
        r: f64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::NonMonotone { source_name, place } => write!(
                f,
                "{source_name}: {place}: alpha increases outwards (profile not monotone); computed anyway"
            ),
            Warning::OutOfRange {
                source_name,
                place,
                value,
            } => write!(
                f,
                "{source_name}: {place}: alpha = {value} is outside [0, 1]; computed anyway"
            ),
            Warning::FlatMaximum { r } => write!(
                f,
                "dG(r) is flat to rounding around r = {r}: the critical radius is poorly defined"
            ),
        }
    }
}

/// Result alias of the crate.
pub type Result<T> = std::result::Result<T, Error>;

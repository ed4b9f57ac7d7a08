//! Checkpoints: everything a run needs to continue bit for bit (positions, velocities, box,
//! thermostat state, random stream, the neighbour list's reference positions, the place in the
//! protocol and how far the output files had got). Stored as JSON; floats are written with
//! shortest round-trip digits and read back exactly (serde_json's `float_roundtrip`).

use std::io::Write;
use std::path::Path;

use nucleate_core::io::AtomicFile;
use serde::{Deserialize, Serialize};

use crate::error::MdError;
use crate::integrate::MdState;

/// Format version of checkpoint files.
pub const VERSION: u32 = 1;

/// A checkpoint of a study run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The study as run (a resumed run must use the same one).
    pub study_toml: String,
    /// Worker threads of the run (results are bitwise reproducible for a fixed count).
    pub threads: usize,
    /// Index of the current stage.
    pub stage: usize,
    /// MD steps done in the current stage.
    pub stage_step: u64,
    /// The dynamical state.
    pub md: MdState,
    /// Bytes of the trajectory file written so far.
    pub dump_bytes: u64,
    /// Bytes of the thermo table written so far.
    pub thermo_bytes: u64,
}

impl Checkpoint {
    /// Write atomically to `path`.
    pub fn write(&self, path: &Path) -> Result<(), MdError> {
        let mut f = AtomicFile::create(path).map_err(|e| MdError::io(path, e))?;
        serde_json::to_writer(&mut f, self)
            .map_err(|e| MdError::io(path, std::io::Error::other(e)))?;
        f.write_all(b"\n").map_err(|e| MdError::io(path, e))?;
        f.commit().map_err(|e| MdError::io(path, e))
    }

    /// Read a checkpoint.
    pub fn read(path: &Path) -> Result<Self, MdError> {
        let text = std::fs::read_to_string(path).map_err(|e| MdError::io(path, e))?;
        let c: Checkpoint = serde_json::from_str(&text)
            .map_err(|e| MdError::format(path, Some(e.line()), format!("not a checkpoint: {e}")))?;
        if c.version != VERSION {
            return Err(MdError::format(
                path,
                None,
                format!(
                    "checkpoint version {} (this program reads {VERSION})",
                    c.version
                ),
            ));
        }
        Ok(c)
    }
}

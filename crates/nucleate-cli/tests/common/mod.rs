//! Helpers shared by the command-line tests.

// Each test binary uses its own subset of these.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root (examples/, tests/reference/).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run the `nucleate` binary with `args`.
pub fn nucleate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nucleate"))
        .args(args)
        .output()
        .expect("run nucleate")
}

//! Arbitrary bytes through the LAMMPS data file reader: a frame or an error, never a panic.
#![no_main]

use std::io::Cursor;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nucleate_core::io::lammps_data::parse_data;

fuzz_target!(|data: &[u8]| {
    let _ = parse_data(Cursor::new(data.to_vec()), Path::new("fuzz.data"), None);
});

//! Arbitrary bytes through the LAMMPS dump reader, with and without type names, parsing and
//! skipping frames: frames or an error, never a panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use nucleate_core::io::lammps_dump::DumpReader;

fuzz_target!(|data: &[u8]| {
    let mut r = DumpReader::new(Cursor::new(data.to_vec()), "fuzz.dump", None);
    while let Some(Ok(_)) = r.read_frame() {}
    let types = Some(vec!["Fe".to_string(), "Pt".to_string()]);
    let mut r = DumpReader::new(Cursor::new(data.to_vec()), "fuzz.dump", types);
    loop {
        match r.skip_frame() {
            Some(Ok(())) => {}
            _ => break,
        }
        match r.read_frame() {
            Some(Ok(_)) => {}
            _ => break,
        }
    }
});

//! Arbitrary bytes through the extended XYZ reader (parsing and skipping): frames or an
//! error, never a panic.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use nucleate_core::io::extxyz::ExtXyzReader;

fuzz_target!(|data: &[u8]| {
    let mut r = ExtXyzReader::new(Cursor::new(data.to_vec()), "fuzz.extxyz");
    while let Some(Ok(_)) = r.read_frame() {}
    let mut r = ExtXyzReader::new(Cursor::new(data.to_vec()), "fuzz.extxyz");
    while let Some(Ok(())) = r.skip_frame() {}
});

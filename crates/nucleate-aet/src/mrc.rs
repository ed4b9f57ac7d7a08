//! MRC image stacks as IMOD, SerialEM and FEI/Thermo software write them (MRC2014).
//!
//! The 1024-byte main header gives the size (nx, ny, nz: columns, rows, sections), the data
//! mode, the sampling (mx) and cell (cella, A) from which the pixel size is cella / mx, and the
//! length of the extended header (nsymbt bytes, skipped whatever its type: FEI, SERI, ...).
//! The machine stamp (bytes 213-216) gives the byte order: 0x44 0x44 / 0x44 0x41 little
//! endian, 0x11 0x11 big endian; older files without a stamp are recognised by which order
//! gives a sensible size and mode. Modes: 0 (8-bit integers, signed per MRC2014; unsigned for
//! IMOD files whose flags say so), 1 (int16), 2 (float32), 6 (uint16), 12 (float16).
//! Sections are stored x fastest, so section k, row y, column x is the pixel
//! (row = y, column = x) of page k, without flipping.

use std::path::Path;

use crate::error::{AetError, Result};
use crate::series::{write_bytes, Stack, StackReader};

/// Size of the MRC main header (bytes).
pub const HEADER_BYTES: usize = 1024;

/// IMOD's stamp in header word 39 (1146047817, "IMOD"): the flags in word 40 are then valid.
const IMOD_STAMP: i32 = 1_146_047_817;

/// The fields of an MRC header that reading needs.
#[derive(Debug, Clone, PartialEq)]
pub struct MrcHeader {
    /// Columns, rows, sections.
    pub size: [usize; 3],
    /// Data mode (0, 1, 2, 6, 12 supported).
    pub mode: i32,
    /// Sampling along x, y, z (mx, my, mz).
    pub sampling: [i32; 3],
    /// Cell edges (A).
    pub cell_a: [f32; 3],
    /// Length of the extended header (bytes).
    pub extended_bytes: usize,
    /// Big-endian data.
    pub big_endian: bool,
    /// Mode 0 holds unsigned bytes (IMOD files without the signed flag).
    pub unsigned_bytes: bool,
}

impl MrcHeader {
    /// Bytes per pixel of a supported mode.
    pub fn bytes_per_pixel(&self) -> Option<usize> {
        match self.mode {
            0 => Some(1),
            1 | 6 | 12 => Some(2),
            2 => Some(4),
            _ => None,
        }
    }

    /// Pixel size (A) from cella / mx, when both are positive; computed in single precision
    /// as stored and given with the shortest decimal that round-trips (0.35, not 0.3499999940).
    pub fn pixel_a(&self) -> Option<f64> {
        let (c, m) = (self.cell_a[0], self.sampling[0]);
        (c.is_finite() && c > 0.0 && m > 0).then(|| {
            let p = c / m as f32;
            p.to_string().parse::<f64>().unwrap_or(p as f64)
        })
    }
}

fn word(h: &[u8], i: usize, big: bool) -> [u8; 4] {
    let mut b = [0u8; 4];
    b.copy_from_slice(&h[4 * i..4 * i + 4]);
    if big {
        b.reverse();
    }
    b
}

fn int(h: &[u8], i: usize, big: bool) -> i32 {
    i32::from_le_bytes(word(h, i, big))
}

fn real(h: &[u8], i: usize, big: bool) -> f32 {
    f32::from_le_bytes(word(h, i, big))
}

/// Parse the main header of `bytes` (the whole file or at least its first 1024 bytes).
pub fn parse_header(path: &Path, bytes: &[u8]) -> Result<MrcHeader> {
    if bytes.len() < HEADER_BYTES {
        return Err(AetError::format(
            path,
            format!(
                "truncated MRC file: {} bytes, shorter than the {HEADER_BYTES}-byte header",
                bytes.len()
            ),
        ));
    }
    let h = &bytes[..HEADER_BYTES];
    let stamp = h[212];
    let big = match stamp {
        0x44 | 0x41 => false,
        0x11 => true,
        // No stamp (older writers): the order in which the mode is one of the known ones and
        // the sizes are positive.
        _ => {
            let plausible = |big: bool| {
                let m = int(h, 3, big);
                (0..=16).contains(&m) && (0..3).all(|i| (1..1 << 24).contains(&int(h, i, big)))
            };
            !plausible(false) && plausible(true)
        }
    };
    let dims = [int(h, 0, big), int(h, 1, big), int(h, 2, big)];
    if dims.iter().any(|&d| d <= 0) {
        return Err(AetError::format(
            path,
            format!(
                "MRC header, bytes 1-12: size nx ny nz = {} {} {} must be positive",
                dims[0], dims[1], dims[2]
            ),
        ));
    }
    let nsymbt = int(h, 23, big);
    if nsymbt < 0 {
        return Err(AetError::format(
            path,
            format!(
                "MRC header, bytes 93-96: extended header length nsymbt = {nsymbt} is negative"
            ),
        ));
    }
    let imod = int(h, 38, big) == IMOD_STAMP;
    let flags = int(h, 39, big);
    Ok(MrcHeader {
        size: dims.map(|d| d as usize),
        mode: int(h, 3, big),
        sampling: [int(h, 7, big), int(h, 8, big), int(h, 9, big)],
        cell_a: [real(h, 10, big), real(h, 11, big), real(h, 12, big)],
        extended_bytes: nsymbt as usize,
        big_endian: big,
        unsigned_bytes: imod && flags & 1 == 0,
    })
}

/// Read an MRC file: every section as a page, and the pixel size from the header.
pub fn read_mrc(path: &Path) -> Result<Stack> {
    let bytes = std::fs::read(path).map_err(|e| AetError::io(path, e))?;
    let h = parse_header(path, &bytes)?;
    let bpp = h.bytes_per_pixel().ok_or_else(|| {
        let what = match h.mode {
            3 => " (complex int16)",
            4 => " (complex float32)",
            101 => " (4-bit)",
            _ => "",
        };
        AetError::format(
            path,
            format!(
                "MRC header, bytes 13-16: data mode {}{what} is not supported (modes 0, 1, 2, 6, 12 are)",
                h.mode
            ),
        )
    })?;
    let [nx, ny, nz] = h.size;
    let start = HEADER_BYTES + h.extended_bytes;
    let section = nx * ny * bpp;
    let expected = start + section * nz;
    if bytes.len() < expected {
        let have = bytes.len().saturating_sub(start);
        return Err(AetError::format(
            path,
            format!(
                "truncated MRC file: the header declares {nz} sections of {nx} x {ny} pixels in mode {} \
                 ({} bytes after the {HEADER_BYTES}-byte header and {} bytes of extended header), \
                 the file has {have}; section {} is incomplete",
                h.mode,
                section * nz,
                h.extended_bytes,
                have / section.max(1)
            ),
        ));
    }
    if bytes.len() > expected {
        return Err(AetError::format(
            path,
            format!(
                "MRC file has {} bytes more than its header declares ({nz} sections of {nx} x {ny} \
                 pixels in mode {}, {} bytes of extended header): wrong size or mode in the header",
                bytes.len() - expected,
                h.mode,
                h.extended_bytes
            ),
        ));
    }
    if nx != ny {
        return Err(AetError::format(
            path,
            format!(
                "sections are {nx} x {ny} pixels; tilt images and volume slices must be square \
                 (crop them first, e.g. IMOD newstack -size)"
            ),
        ));
    }
    let raw = &bytes[start..expected];
    let big = h.big_endian;
    let two = |c: &[u8]| if big { [c[1], c[0]] } else { [c[0], c[1]] };
    let data: Vec<f32> = match h.mode {
        0 if h.unsigned_bytes => raw.iter().map(|&b| b as f32).collect(),
        0 => raw.iter().map(|&b| b as i8 as f32).collect(),
        1 => raw
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes(two(c)) as f32)
            .collect(),
        6 => raw
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes(two(c)) as f32)
            .collect(),
        12 => raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes(two(c)).to_f32())
            .collect(),
        _ => raw
            .chunks_exact(4)
            .map(|c| {
                let mut b = [c[0], c[1], c[2], c[3]];
                if big {
                    b.reverse();
                }
                f32::from_le_bytes(b)
            })
            .collect(),
    };
    let m = nx * ny;
    if let Some(i) = data.iter().position(|x| !x.is_finite()) {
        return Err(AetError::format(
            path,
            format!(
                "section {}, row {}, column {}: pixel is not a finite number",
                i / m,
                (i % m) / nx,
                i % nx
            ),
        ));
    }
    Ok(Stack {
        n: nx,
        data,
        pixel_a: h.pixel_a(),
    })
}

/// MRC stacks (`.mrc`, `.st`, `.ali`, `.mrcs`, `.rec`).
pub struct MrcReader;

impl StackReader for MrcReader {
    fn read_stack(&self, path: &Path) -> Result<Stack> {
        read_mrc(path)
    }
}

/// Write square float32 sections (mode 2, little endian, no extended header) with the pixel
/// size in the cell, as an image stack (ispg 0); appears only when complete.
pub fn write_mrc(path: &Path, n: usize, data: &[f32], pixel_a: f64) -> Result<()> {
    let nz = data.len() / (n * n).max(1);
    let mut h = vec![0u8; HEADER_BYTES];
    let mut put = |i: usize, b: [u8; 4]| h[4 * i..4 * i + 4].copy_from_slice(&b);
    for (i, v) in [n, n, nz].iter().enumerate() {
        put(i, (*v as i32).to_le_bytes());
    }
    put(3, 2i32.to_le_bytes());
    for (i, v) in [n, n, nz].iter().enumerate() {
        put(7 + i, (*v as i32).to_le_bytes());
    }
    for (i, v) in [n, n, nz].iter().enumerate() {
        put(10 + i, ((*v as f64 * pixel_a) as f32).to_le_bytes());
    }
    for i in 0..3 {
        put(13 + i, 90f32.to_le_bytes());
        put(16 + i, (i as i32 + 1).to_le_bytes());
    }
    let (lo, hi, sum) = data.iter().fold((f32::MAX, f32::MIN, 0.0f64), |a, &v| {
        (a.0.min(v), a.1.max(v), a.2 + v as f64)
    });
    put(19, lo.to_le_bytes());
    put(20, hi.to_le_bytes());
    put(21, ((sum / data.len().max(1) as f64) as f32).to_le_bytes());
    put(27, 20140i32.to_le_bytes());
    h[208..212].copy_from_slice(b"MAP ");
    h[212..216].copy_from_slice(&[0x44, 0x44, 0, 0]);
    let mut bytes = h;
    bytes.reserve(data.len() * 4);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_bytes(path, &bytes)
}

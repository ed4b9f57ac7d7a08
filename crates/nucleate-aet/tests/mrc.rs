//! MRC stacks built byte by byte after the MRC2014 layout (every supported mode, extended
//! headers, both byte orders), the errors on wrong ones, IMOD angle files, and background
//! subtraction on images with a known background.

use std::path::Path;

use nucleate_aet::geometry::TiltAxis;
use nucleate_aet::mrc::{read_mrc, write_mrc};
use nucleate_aet::series::{
    normalise_totals, read_tilt_series, subtract_background, Background, Stack, TiltSeries,
};

/// Header fields a test sets; everything else zero.
struct Spec {
    dims: [i32; 3],
    mode: i32,
    cell_x: f32,
    mx: i32,
    ext: usize,
    big: bool,
    stamp: bool,
    imod_flags: Option<i32>,
}

fn spec(n: i32, pages: i32, mode: i32) -> Spec {
    Spec {
        dims: [n, n, pages],
        mode,
        cell_x: n as f32 * 0.5,
        mx: n,
        ext: 0,
        big: false,
        stamp: true,
        imod_flags: None,
    }
}

/// The file: header, `ext` bytes of extended header (filled with junk), then `data` (already
/// encoded in the file's byte order).
fn build(s: &Spec, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 1024];
    let enc = |v: [u8; 4]| {
        let mut v = v;
        if s.big {
            v.reverse();
        }
        v
    };
    let mut put = |i: usize, b: [u8; 4]| h[4 * i..4 * i + 4].copy_from_slice(&enc(b));
    for i in 0..3 {
        put(i, s.dims[i].to_le_bytes());
    }
    put(3, s.mode.to_le_bytes());
    put(7, s.mx.to_le_bytes());
    put(8, s.dims[1].to_le_bytes());
    put(9, 1i32.to_le_bytes());
    put(10, s.cell_x.to_le_bytes());
    put(23, (s.ext as i32).to_le_bytes());
    if let Some(f) = s.imod_flags {
        put(38, 1_146_047_817i32.to_le_bytes());
        put(39, f.to_le_bytes());
    }
    h[208..212].copy_from_slice(b"MAP ");
    if s.stamp {
        let st = if s.big {
            [0x11, 0x11, 0, 0]
        } else {
            [0x44, 0x44, 0, 0]
        };
        h[212..216].copy_from_slice(&st);
    }
    let mut out = h;
    out.extend((0..s.ext).map(|i| (i * 131 % 256) as u8));
    out.extend_from_slice(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Pixel values exactly representable in every mode's range (for mode 0 signed: -8..7).
fn values(count: usize) -> Vec<i32> {
    (0..count as i32).map(|i| (i * 7) % 16 - 8).collect()
}

#[test]
fn every_mode_both_byte_orders_and_extended_headers() {
    let dir = tempfile::tempdir().unwrap();
    let (n, pages) = (4usize, 3usize);
    let v = values(n * n * pages);
    for big in [false, true] {
        for (mode, ext) in [(0, 0), (1, 1024), (2, 0), (6, 96), (12, 131072)] {
            let mut s = spec(n as i32, pages as i32, mode);
            s.big = big;
            s.ext = ext;
            let order = |b: Vec<u8>| -> Vec<u8> {
                if big {
                    b.into_iter().rev().collect()
                } else {
                    b
                }
            };
            let mut data = Vec::new();
            let mut want = Vec::new();
            for &x in &v {
                let (bytes, w): (Vec<u8>, f32) = match mode {
                    0 => (vec![x as i8 as u8], x as f32),
                    1 => (
                        order((x as i16 * 1000).to_le_bytes().to_vec()),
                        x as f32 * 1000.0,
                    ),
                    2 => (
                        order((x as f32 * 0.25).to_le_bytes().to_vec()),
                        x as f32 * 0.25,
                    ),
                    6 => (
                        order(((x + 8) as u16 * 4000).to_le_bytes().to_vec()),
                        (x + 8) as f32 * 4000.0,
                    ),
                    // float16: 1 sign, 5 exponent, 10 mantissa bits; x / 4 is exact.
                    _ => (
                        order(f16_bits(x as f32 * 0.25).to_le_bytes().to_vec()),
                        x as f32 * 0.25,
                    ),
                };
                data.extend(bytes);
                want.push(w);
            }
            let p = write(dir.path(), &format!("m{mode}_{big}.mrc"), &build(&s, &data));
            let st = read_mrc(&p).unwrap_or_else(|e| panic!("mode {mode} big {big}: {e}"));
            assert_eq!(st.n, n);
            assert_eq!(st.pages(), pages);
            assert_eq!(st.data, want, "mode {mode} big-endian {big}");
            assert_eq!(st.pixel_a, Some(0.5));
        }
    }
}

/// IEEE half-precision bits of a small value with an exact representation.
fn f16_bits(x: f32) -> u16 {
    if x == 0.0 {
        return 0;
    }
    let sign = if x < 0.0 { 0x8000u16 } else { 0 };
    let a = x.abs();
    let e = a.log2().floor() as i32;
    let mant = ((a / 2f32.powi(e) - 1.0) * 1024.0).round() as u16;
    sign | (((e + 15) as u16) << 10) | mant
}

#[test]
fn imod_unsigned_bytes_and_files_without_a_stamp() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..16).map(|i| (i * 17) as u8).collect();
    // IMOD stamp with the signed flag clear: bytes are 0..255.
    let mut s = spec(4, 1, 0);
    s.imod_flags = Some(0);
    let st = read_mrc(&write(dir.path(), "u.mrc", &build(&s, &data))).unwrap();
    assert_eq!(st.data[15], 255.0);
    s.imod_flags = Some(1);
    let st = read_mrc(&write(dir.path(), "s.mrc", &build(&s, &data))).unwrap();
    assert_eq!(st.data[15], -1.0);
    // No machine stamp, big-endian words: recognised by the plausible size and mode.
    let mut s = spec(4, 1, 2);
    s.big = true;
    s.stamp = false;
    let px: Vec<u8> = (0..16).flat_map(|i| (i as f32).to_be_bytes()).collect();
    let st = read_mrc(&write(dir.path(), "old.mrc", &build(&s, &px))).unwrap();
    assert_eq!(st.data[5], 5.0);
}

#[test]
fn writer_round_trips_and_keeps_the_pixel_size() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.mrc");
    let data: Vec<f32> = (0..2 * 36).map(|i| i as f32 * 0.5 - 7.0).collect();
    write_mrc(&p, 6, &data, 0.34).unwrap();
    let st = read_mrc(&p).unwrap();
    assert_eq!(
        (st.n, st.data.clone()),
        (6, data),
        "float32 data must come back exactly"
    );
    assert!((st.pixel_a.unwrap() - 0.34).abs() < 1e-6);
}

fn err_of(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = write(dir, name, bytes);
    let e = read_mrc(&p).unwrap_err().to_string();
    assert!(e.contains(name), "the message names the file: {e}");
    e
}

#[test]
fn wrong_files_are_rejected_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = spec(4, 2, 2);
    let px = vec![0u8; 4 * 16 * 2];
    // Shorter than a header.
    let e = err_of(d, "short.mrc", &[0u8; 100]);
    assert!(e.contains("truncated") && e.contains("1024"), "{e}");
    // Last section cut short.
    let e = err_of(d, "cut.mrc", &build(&ok, &px[..100]));
    assert!(e.contains("truncated") && e.contains("section 1"), "{e}");
    // An extended header longer than declared leaves extra bytes.
    let mut bytes = build(&ok, &px);
    bytes.extend([0u8; 8]);
    let e = err_of(d, "long.mrc", &bytes);
    assert!(e.contains("8 bytes more"), "{e}");
    // Declared extended header missing from the file.
    let mut s = spec(4, 2, 2);
    s.ext = 512;
    let mut bytes = build(&s, &px);
    bytes.truncate(1024 + 4 * 16 * 2);
    let e = err_of(d, "ext.mrc", &bytes);
    assert!(e.contains("truncated") && e.contains("512"), "{e}");
    // Complex data.
    let e = err_of(d, "cplx.mrc", &build(&spec(4, 2, 4), &[0u8; 8 * 32]));
    assert!(e.contains("mode 4") && e.contains("not supported"), "{e}");
    // Not square.
    let mut s = spec(4, 1, 2);
    s.dims = [4, 3, 1];
    let e = err_of(d, "rect.mrc", &build(&s, &[0u8; 48]));
    assert!(e.contains("4 x 3") && e.contains("square"), "{e}");
    // Zero size.
    let e = err_of(d, "zero.mrc", &build(&spec(0, 2, 2), &[]));
    assert!(e.contains("must be positive"), "{e}");
    // A NaN pixel, named by section, row and column.
    let mut px = vec![0u8; 4 * 16 * 2];
    px[4 * (16 + 2 * 4 + 3)..4 * (16 + 2 * 4 + 4)].copy_from_slice(&f32::NAN.to_le_bytes());
    let e = err_of(d, "nan.mrc", &build(&ok, &px));
    assert!(
        e.contains("section 1, row 2, column 3") && e.contains("finite"),
        "{e}"
    );
}

#[test]
fn angle_files_must_match_the_stack() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let px: Vec<u8> = (0..3 * 16).flat_map(|i| (i as f32).to_le_bytes()).collect();
    let st = write(d, "s.st", &build(&spec(4, 3, 2), &px));
    let tlt = write(d, "s.tlt", b"-20.0\n0.0\n");
    let e = read_tilt_series(&st, &tlt, TiltAxis::Y)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("3 pages but 2 angles") && e.contains("s.tlt"),
        "{e}"
    );
    let raw = write(d, "s.rawtlt", b"-20.0\nnan\n20.0\n");
    let e = read_tilt_series(&st, &raw, TiltAxis::Y)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 2") && e.contains("not a finite number"),
        "{e}"
    );
    let raw = write(d, "good.rawtlt", b" -20.0\n  0.0\n 20.0\n");
    let s = read_tilt_series(&st, &raw, TiltAxis::X).unwrap();
    assert_eq!(s.angles_deg, vec![-20.0, 0.0, 20.0]);
    // Transposed: file row 1, column 2 is pixel 6; it lands at row 2, column 1.
    assert_eq!(s.images.data[2 * 4 + 1], 6.0);
    assert_eq!(s.pixel_a, Some(0.5));
}

fn series_of(n: usize, pages: Vec<Vec<f32>>) -> TiltSeries {
    let k = pages.len();
    TiltSeries {
        images: Stack {
            n,
            data: pages.concat(),
            pixel_a: None,
        },
        angles_deg: vec![0.0; k],
        pixel_a: None,
    }
}

#[test]
fn background_plane_and_median_and_normalisation() {
    let n = 32;
    // A plane -32000 + 0.5 x - 0.25 y plus a bright blob in the middle (not on the border).
    let img: Vec<f32> = (0..n * n)
        .map(|i| {
            let (x, y) = ((i % n) as f64, (i / n) as f64);
            let blob = 500.0 * (-((x - 16.0).powi(2) + (y - 15.0).powi(2)) / 8.0).exp();
            (-32000.0 + 0.5 * x - 0.25 * y + blob) as f32
        })
        .collect();
    let mut s = series_of(n, vec![img.clone()]);
    let level = subtract_background(&mut s, Background::Plane);
    // The level at the image centre (16, 16): -32000 + 8 - 4.
    assert!((level[0] + 31996.0).abs() < 1e-3, "{level:?}");
    let corner = s.images.data[0];
    assert!(corner.abs() < 1e-2, "plane left {corner}");
    // The median removes the level but not the gradient: the corners keep +-(8 + 4).
    let mut m = series_of(n, vec![img]);
    subtract_background(&mut m, Background::Median);
    let far = m.images.data[n * n - 1];
    assert!(
        (far - (0.5 * 31.0 - 0.25 * 31.0 - 4.0) as f32).abs() < 0.6,
        "{far}"
    );
    // Normalisation: totals become equal, the mean total is kept.
    let mut t = series_of(2, vec![vec![1.0, 1.0, 1.0, 1.0], vec![2.0, 2.0, 4.0, 4.0]]);
    let f = normalise_totals(&mut t).unwrap();
    assert_eq!(f, vec![2.0, 2.0 / 3.0]);
    assert_eq!(t.images.data[..4].iter().sum::<f32>(), 8.0);
    assert!((t.images.data[4..].iter().sum::<f32>() - 8.0).abs() < 1e-5);
    let mut bad = series_of(2, vec![vec![-1.0; 4]]);
    assert!(normalise_totals(&mut bad).is_err());
}

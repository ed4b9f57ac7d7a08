//! Readers and writers: tilt series (float32 TIFF stacks now; the reader is chosen by file
//! name so MRC can join as another [`StackReader`]), angle files and volumes.
//!
//! Every input becomes the same [`TiltSeries`] before anything else runs.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use nucleate_core::io::AtomicFile;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::encoder::{colortype, TiffEncoder};

use crate::error::{AetError, Result};
use crate::geometry::TiltAxis;

/// A stack of square images of one size, as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    /// Image edge (pixels).
    pub n: usize,
    /// Pixels, [page][row][column], row-major.
    pub data: Vec<f32>,
}

impl Stack {
    /// Number of pages.
    pub fn pages(&self) -> usize {
        self.data.len() / (self.n * self.n).max(1)
    }

    /// Page `k` ([row][column]).
    pub fn page(&self, k: usize) -> &[f32] {
        let m = self.n * self.n;
        &self.data[k * m..(k + 1) * m]
    }
}

/// A measured (or simulated) tilt series: images in the volume frame (row = y, column = x)
/// and their tilt angles.
#[derive(Debug, Clone, PartialEq)]
pub struct TiltSeries {
    /// The images, [projection][row][column].
    pub images: Stack,
    /// Tilt angles (degrees), one per image.
    pub angles_deg: Vec<f64>,
}

/// A file format that yields a stack of images.
pub trait StackReader {
    /// Read every page of `path`.
    fn read_stack(&self, path: &Path) -> Result<Stack>;
}

/// Multi-page TIFF, any of 8/16/32-bit integer or 32/64-bit float greyscale pages.
pub struct TiffReader;

impl StackReader for TiffReader {
    fn read_stack(&self, path: &Path) -> Result<Stack> {
        read_tiff_pages(path)
    }
}

/// The reader for a file name (`.tif`, `.tiff`).
pub fn reader_for(path: &Path) -> Result<Box<dyn StackReader>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "tif" | "tiff" => Ok(Box::new(TiffReader)),
        _ => Err(AetError::format(
            path,
            "unknown image stack format (expected .tif or .tiff)",
        )),
    }
}

fn read_tiff_pages(path: &Path) -> Result<Stack> {
    let bytes = std::fs::read(path).map_err(|e| AetError::io(path, e))?;
    let bad = |page: usize, e: tiff::TiffError| {
        AetError::format(path, format!("page {page}: cannot decode TIFF: {e}"))
    };
    let mut dec = Decoder::new(Cursor::new(bytes))
        .map_err(|e| bad(0, e))?
        .with_limits(Limits::unlimited());
    let mut n = 0usize;
    let mut data = Vec::new();
    let mut page = 0usize;
    loop {
        let (w, h) = dec.dimensions().map_err(|e| bad(page, e))?;
        let (w, h) = (w as usize, h as usize);
        if w != h {
            return Err(AetError::format(
                path,
                format!(
                    "page {page} is {w} x {h} pixels; tilt images and volume slices must be square"
                ),
            ));
        }
        if page == 0 {
            n = w;
        } else if w != n {
            return Err(AetError::format(
                path,
                format!("page {page} is {w} x {h} pixels but page 0 is {n} x {n}"),
            ));
        }
        let img = dec.read_image().map_err(|e| bad(page, e))?;
        let px: Vec<f32> = match img {
            DecodingResult::F32(v) => v,
            DecodingResult::F64(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::U8(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::U16(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::I8(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::I16(v) => v.into_iter().map(f32::from).collect(),
            DecodingResult::U32(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::I32(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::U64(v) => v.into_iter().map(|x| x as f32).collect(),
            DecodingResult::I64(v) => v.into_iter().map(|x| x as f32).collect(),
        };
        if px.len() != n * n {
            return Err(AetError::format(
                path,
                format!(
                    "page {page}: {} samples for {n} x {n} pixels (one greyscale channel expected)",
                    px.len()
                ),
            ));
        }
        if let Some(i) = px.iter().position(|x| !x.is_finite()) {
            return Err(AetError::format(
                path,
                format!(
                    "page {page}, row {}, column {}: pixel is not a finite number",
                    i / n,
                    i % n
                ),
            ));
        }
        data.extend_from_slice(&px);
        page += 1;
        if !dec.more_images() {
            break;
        }
        dec.next_image().map_err(|e| bad(page, e))?;
    }
    Ok(Stack { n, data })
}

/// Write square float32 pages as a multi-page TIFF (appears only when complete).
pub fn write_tiff_stack(path: &Path, n: usize, data: &[f32]) -> Result<()> {
    let mut buf = Cursor::new(Vec::new());
    let err = |e: tiff::TiffError| AetError::format(path, format!("cannot encode TIFF: {e}"));
    {
        let mut enc = TiffEncoder::new(&mut buf).map_err(err)?;
        for page in data.chunks(n * n) {
            enc.write_image::<colortype::Gray32Float>(n as u32, n as u32, page)
                .map_err(err)?;
        }
    }
    write_bytes(path, buf.get_ref())
}

/// Write `bytes` to `path` atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path).map_err(|e| AetError::io(path, e))?;
    f.write_all(bytes).map_err(|e| AetError::io(path, e))?;
    f.commit().map_err(|e| AetError::io(path, e))
}

/// Read an angle file: CSV `index,angle_deg` with a header line, or one angle per line
/// (IMOD `.tlt`/`.rawtlt`).
pub fn read_angles(path: &Path) -> Result<Vec<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| AetError::io(path, e))?;
    let mut angles = Vec::new();
    let mut column = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if column.is_none() {
            if let Some(c) = fields.iter().position(|f| *f == "angle_deg") {
                column = Some(c);
                continue;
            }
            column = Some(if fields.len() >= 2 { 1 } else { 0 });
        }
        let c = column.unwrap_or(0);
        let field = fields.get(c).ok_or_else(|| {
            AetError::format(
                path,
                format!("line {}: no column {} (angle_deg)", i + 1, c + 1),
            )
        })?;
        let a: f64 = field.parse().map_err(|_| {
            AetError::format(
                path,
                format!(
                    "line {}, column {}: '{field}' is not an angle in degrees",
                    i + 1,
                    c + 1
                ),
            )
        })?;
        if !(a.is_finite() && a > -90.0 && a < 90.0) {
            return Err(AetError::format(
                path,
                format!(
                    "line {}, column {}: angle {a} degrees is outside (-90, 90)",
                    i + 1,
                    c + 1
                ),
            ));
        }
        angles.push(a);
    }
    if angles.is_empty() {
        return Err(AetError::format(path, "no angles found"));
    }
    Ok(angles)
}

/// Write angles as CSV `index,angle_deg`.
pub fn write_angles(path: &Path, angles_deg: &[f64]) -> Result<()> {
    let mut s = String::from("index,angle_deg\n");
    for (i, a) in angles_deg.iter().enumerate() {
        s.push_str(&format!("{i},{a}\n"));
    }
    write_bytes(path, s.as_bytes())
}

/// Read a tilt series: the stack from `images` (format by name), the angles from `angles`;
/// the counts must agree. With [`TiltAxis::X`] each image is transposed into the volume frame.
pub fn read_tilt_series(images: &Path, angles: &Path, axis: TiltAxis) -> Result<TiltSeries> {
    let mut stack = reader_for(images)?.read_stack(images)?;
    let angles_deg = read_angles(angles)?;
    if stack.pages() != angles_deg.len() {
        return Err(AetError::format(
            images,
            format!(
                "{} pages but {} angles in {}",
                stack.pages(),
                angles_deg.len(),
                angles.display()
            ),
        ));
    }
    if stack.data.iter().all(|&x| x == 0.0) {
        return Err(AetError::format(images, "every pixel is zero"));
    }
    if axis == TiltAxis::X {
        let n = stack.n;
        for page in stack.data.chunks_mut(n * n) {
            for r in 0..n {
                for c in r + 1..n {
                    page.swap(r * n + c, c * n + r);
                }
            }
        }
    }
    Ok(TiltSeries {
        images: stack,
        angles_deg,
    })
}

/// A cubic volume, [z][y][x] row-major, voxel (ix, iy, iz) centred at (ix, iy, iz) x pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Edge (voxels).
    pub n: usize,
    /// Values, [z][y][x].
    pub data: Vec<f32>,
}

impl Volume {
    /// A volume of zeros.
    pub fn zeros(n: usize) -> Self {
        Self {
            n,
            data: vec![0.0; n * n * n],
        }
    }

    /// Linear index of voxel (x, y, z).
    #[inline]
    pub fn index(&self, x: usize, y: usize, z: usize) -> usize {
        (z * self.n + y) * self.n + x
    }

    /// Voxel value at (x, y, z).
    #[inline]
    pub fn at(&self, x: usize, y: usize, z: usize) -> f32 {
        self.data[self.index(x, y, z)]
    }
}

/// Read a volume written by `reconstruct` (n pages of n x n float32, [z][y][x]).
pub fn read_volume(path: &Path) -> Result<Volume> {
    let stack = reader_for(path)?.read_stack(path)?;
    if stack.pages() != stack.n {
        return Err(AetError::format(
            path,
            format!(
                "{} pages of {} x {} pixels; a volume needs as many pages as pixels per edge",
                stack.pages(),
                stack.n,
                stack.n
            ),
        ));
    }
    if stack.data.iter().all(|&x| x == 0.0) {
        return Err(AetError::format(
            path,
            "the volume is empty (every voxel is zero)",
        ));
    }
    Ok(Volume {
        n: stack.n,
        data: stack.data,
    })
}

/// Write a volume as n float32 pages ([z][y][x]).
pub fn write_volume(path: &Path, v: &Volume) -> Result<()> {
    write_tiff_stack(path, v.n, &v.data)
}

/// Paths with a display that names them (for messages).
pub fn display(p: &Path) -> PathBuf {
    p.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiff_stack_round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.tif");
        let data: Vec<f32> = (0..3 * 16).map(|i| i as f32 * 0.25 - 3.0).collect();
        write_tiff_stack(&p, 4, &data).unwrap();
        let s = read_tiff_pages(&p).unwrap();
        assert_eq!(s.n, 4);
        assert_eq!(s.pages(), 3);
        assert_eq!(s.data, data);
    }

    #[test]
    fn angle_files_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.csv");
        write_angles(&p, &[-10.0, 0.0, 12.5]).unwrap();
        assert_eq!(read_angles(&p).unwrap(), vec![-10.0, 0.0, 12.5]);
        let t = dir.path().join("a.tlt");
        std::fs::write(&t, "-3\n 4.5\n").unwrap();
        assert_eq!(read_angles(&t).unwrap(), vec![-3.0, 4.5]);
        std::fs::write(&t, "-3\n95\n").unwrap();
        let e = read_angles(&t).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("a.tlt"), "{e}");
    }
}

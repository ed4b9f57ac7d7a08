//! Readers and writers: tilt series (TIFF or MRC stacks, the reader chosen by file name),
//! angle files (our CSV or IMOD `.tlt`/`.rawtlt`) and volumes; background subtraction and
//! intensity normalisation of the projections.
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
    /// Pixel size (A) when the file states it (MRC header).
    pub pixel_a: Option<f64>,
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
    /// Pixel size (A) from the image file, when it states one.
    pub pixel_a: Option<f64>,
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

/// The reader for a file name (`.tif`, `.tiff`; `.mrc`, `.mrcs`, `.st`, `.ali`, `.rec`).
pub fn reader_for(path: &Path) -> Result<Box<dyn StackReader>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "tif" | "tiff" => Ok(Box::new(TiffReader)),
        "mrc" | "mrcs" | "st" | "ali" | "rec" => Ok(Box::new(crate::mrc::MrcReader)),
        _ => Err(AetError::format(
            path,
            "unknown image stack format (expected .tif, .tiff, .mrc, .mrcs, .st, .ali or .rec)",
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
    Ok(Stack {
        n,
        data,
        pixel_a: None,
    })
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
        if !a.is_finite() {
            return Err(AetError::format(
                path,
                format!(
                    "line {}, column {}: angle '{field}' is not a finite number",
                    i + 1,
                    c + 1
                ),
            ));
        }
        if !(a > -90.0 && a < 90.0) {
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
        pixel_a: stack.pixel_a,
        images: stack,
        angles_deg,
    })
}

/// How the background of each projection is estimated from its border pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    /// One level: the median of the border pixels.
    Median,
    /// A plane a + b x + c y fitted to the border pixels, outliers (beyond 3.5 robust
    /// standard deviations) dropped and the fit repeated.
    Plane,
}

/// Width (pixels) of the border used for background estimation: n/16, at least 2.
pub fn border_width(n: usize) -> usize {
    (n / 16).max(2).min(n / 2)
}

/// Indices (row-major) of the pixels within `w` of the edge of an n x n image.
fn border_pixels(n: usize, w: usize) -> Vec<usize> {
    (0..n * n)
        .filter(|&i| {
            let (r, c) = (i / n, i % n);
            r < w || c < w || r + w >= n || c + w >= n
        })
        .collect()
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    v.select_nth_unstable_by(mid, f64::total_cmp);
    v[mid]
}

/// Robust level and noise of an image's border: the median and 1.4826 x the median absolute
/// deviation (counts).
pub fn border_stats(img: &[f32], n: usize) -> (f64, f64) {
    let idx = border_pixels(n, border_width(n));
    let mut v: Vec<f64> = idx.iter().map(|&i| img[i] as f64).collect();
    let m = median(&mut v);
    let mut d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    (m, 1.4826 * median(&mut d))
}

/// Subtract the background of every projection, estimated from a border of
/// [`border_width`] pixels (the particle must not touch it). Returns the background level at
/// each image's centre (counts), e.g. about -32000 for a signed 16-bit detector offset.
pub fn subtract_background(series: &mut TiltSeries, how: Background) -> Vec<f64> {
    let n = series.images.n;
    let idx = border_pixels(n, border_width(n));
    let c = n as f64 / 2.0;
    series
        .images
        .data
        .chunks_mut(n * n)
        .map(|img| {
            let mut vals: Vec<f64> = idx.iter().map(|&i| img[i] as f64).collect();
            let level = median(&mut vals);
            // Plane coefficients (a, b, c) about the image centre.
            let mut coef = [level, 0.0, 0.0];
            if how == Background::Plane {
                let mut keep: Vec<usize> = idx.clone();
                for _ in 0..3 {
                    let mut ata = nalgebra::Matrix3::<f64>::zeros();
                    let mut atb = nalgebra::Vector3::<f64>::zeros();
                    for &i in &keep {
                        let row =
                            nalgebra::Vector3::new(1.0, (i % n) as f64 - c, (i / n) as f64 - c);
                        ata += row * row.transpose();
                        atb += row * img[i] as f64;
                    }
                    let Some(sol) = ata.lu().solve(&atb) else {
                        break;
                    };
                    coef = [sol[0], sol[1], sol[2]];
                    let resid = |i: usize| {
                        img[i] as f64
                            - coef[0]
                            - coef[1] * ((i % n) as f64 - c)
                            - coef[2] * ((i / n) as f64 - c)
                    };
                    let mut ad: Vec<f64> = keep.iter().map(|&i| resid(i).abs()).collect();
                    let sigma = 1.4826 * median(&mut ad);
                    if sigma <= 0.0 {
                        break;
                    }
                    let next: Vec<usize> = idx
                        .iter()
                        .copied()
                        .filter(|&i| resid(i).abs() <= 3.5 * sigma)
                        .collect();
                    if next.len() < 3 || next.len() == keep.len() {
                        break;
                    }
                    keep = next;
                }
            }
            for (i, p) in img.iter_mut().enumerate() {
                let b = coef[0] + coef[1] * ((i % n) as f64 - c) + coef[2] * ((i / n) as f64 - c);
                *p = (*p as f64 - b) as f32;
            }
            coef[0]
        })
        .collect()
}

/// Scale every projection so that its total intensity equals the mean total of the series
/// (beam current or detector gain drifting over the acquisition). Returns the factors. Fails
/// if a projection's total is not positive (subtract the background first).
pub fn normalise_totals(series: &mut TiltSeries) -> Result<Vec<f64>> {
    let n = series.images.n;
    let totals: Vec<f64> = series
        .images
        .data
        .chunks(n * n)
        .map(|img| img.iter().map(|&v| v as f64).sum())
        .collect();
    if let Some(k) = totals.iter().position(|&t| t.is_nan() || t <= 0.0) {
        return Err(AetError::Invalid(format!(
            "projection {k} has total intensity {:.4e}; normalisation needs positive totals \
             (subtract the background first)",
            totals[k]
        )));
    }
    let mean = totals.iter().sum::<f64>() / totals.len() as f64;
    let factors: Vec<f64> = totals.iter().map(|t| mean / t).collect();
    for (img, f) in series.images.data.chunks_mut(n * n).zip(&factors) {
        img.iter_mut().for_each(|v| *v = (*v as f64 * f) as f32);
    }
    Ok(factors)
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

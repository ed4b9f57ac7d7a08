//! Reading movies (multi-page TIFF, folders of PNG/TIFF frames) and their metadata, and
//! writing multi-page TIFF.

use std::fs::File;
use std::io::{BufReader, Cursor, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tiff::decoder::{Decoder, DecodingResult};
use tiff::encoder::{colortype, TiffEncoder};
use tiff::ColorType;

use crate::error::{ImagingError, Result};
use crate::image::Image;
use crate::movie::Polarity;

/// Pixel size and frame interval of a movie.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MovieMeta {
    /// Pixel size (nm per pixel).
    pub pixel_nm: f64,
    /// Time between frames (s).
    pub dt_s: f64,
}

/// The sidecar JSON beside a movie: `movie.json` for `movie.tif`, or `metadata.json` inside
/// a folder movie. Every key is optional; command-line flags win over it. Other keys are
/// ignored so that instrument exports with more fields can be used as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// Pixel size (nm per pixel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pixel_nm: Option<f64>,
    /// Time between frames (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dt_s: Option<f64>,
    /// Contrast of the particles: dark (TEM bright field) or bright (ADF-STEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polarity: Option<Polarity>,
}

/// Where the sidecar of `movie` lives: `<stem>.json` beside a file, `metadata.json` in a
/// folder.
pub fn sidecar_path(movie: &Path) -> PathBuf {
    if movie.is_dir() {
        movie.join("metadata.json")
    } else {
        movie.with_extension("json")
    }
}

/// Read the sidecar of `movie` if there is one.
pub fn read_sidecar(movie: &Path) -> Result<Option<Sidecar>> {
    let path = sidecar_path(movie);
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| ImagingError::io(&path, e))?;
    let sidecar: Sidecar = serde_json::from_str(&text).map_err(|e| ImagingError::Metadata {
        path: path.clone(),
        message: format!(
            "invalid sidecar JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
    Ok(Some(sidecar))
}

/// Pixel size and frame interval from the flags, else from the sidecar; an error naming the
/// movie and the missing value when neither gives it.
pub fn resolve_meta(
    movie: &Path,
    pixel_nm: Option<f64>,
    dt_s: Option<f64>,
) -> Result<(MovieMeta, Option<Sidecar>)> {
    let sidecar = read_sidecar(movie)?;
    let side = sidecar.clone().unwrap_or_default();
    let missing = |what: &str, flag: &str, key: &str| ImagingError::Metadata {
        path: movie.to_path_buf(),
        message: format!(
            "missing metadata: {what}; give {flag} or a sidecar {} with \"{key}\"",
            sidecar_path(movie).display()
        ),
    };
    let pixel_nm = pixel_nm
        .or(side.pixel_nm)
        .ok_or_else(|| missing("pixel size (nm/px)", "--pixel-nm", "pixel_nm"))?;
    let dt_s = dt_s
        .or(side.dt_s)
        .ok_or_else(|| missing("frame interval (s)", "--dt-s", "dt_s"))?;
    for (name, v) in [("pixel size", pixel_nm), ("frame interval", dt_s)] {
        if !(v.is_finite() && v > 0.0) {
            return Err(ImagingError::Metadata {
                path: movie.to_path_buf(),
                message: format!("{name} must be positive, got {v}"),
            });
        }
    }
    Ok((MovieMeta { pixel_nm, dt_s }, sidecar))
}

enum Source {
    Tiff {
        decoder: Box<Decoder<BufReader<File>>>,
        finished: bool,
    },
    Folder {
        files: Vec<PathBuf>,
    },
}

/// A movie read one frame at a time (memory bounded by a frame): the pages of a TIFF, or the
/// images of a folder in natural order of their names. Every frame must have the first
/// frame's size.
pub struct MovieReader {
    path: PathBuf,
    source: Source,
    next: usize,
    first_size: Option<(usize, usize)>,
}

/// Image files of a folder movie, sorted by the last number in their names (then by name).
pub fn folder_frames(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| ImagingError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| ImagingError::io(dir, e))?.path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if matches!(ext.as_deref(), Some("png" | "tif" | "tiff")) && path.is_file() {
            files.push(path);
        }
    }
    let key = |p: &PathBuf| {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let digits: String = name
            .rsplit(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .to_string();
        (digits.parse::<u128>().unwrap_or(u128::MAX), name)
    };
    files.sort_by_key(key);
    Ok(files)
}

impl MovieReader {
    /// Open a multi-page TIFF or a folder of PNG/TIFF images.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let source = if path.is_dir() {
            let files = folder_frames(&path)?;
            if files.is_empty() {
                return Err(ImagingError::Empty { path });
            }
            Source::Folder { files }
        } else {
            let file = File::open(&path).map_err(|e| ImagingError::io(&path, e))?;
            let decoder = Decoder::new(BufReader::new(file)).map_err(|e| ImagingError::Decode {
                path: path.clone(),
                frame: 0,
                message: e.to_string(),
            })?;
            let decoder = decoder.with_limits(tiff::decoder::Limits::unlimited());
            Source::Tiff {
                decoder: Box::new(decoder),
                finished: false,
            }
        };
        Ok(Self {
            path,
            source,
            next: 0,
            first_size: None,
        })
    }

    /// The movie's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_size(&mut self, path: &Path, (width, height): (usize, usize)) -> Result<()> {
        match self.first_size {
            None => {
                self.first_size = Some((width, height));
                Ok(())
            }
            Some((w, h)) if (w, h) != (width, height) => Err(ImagingError::SizeMismatch {
                path: path.to_path_buf(),
                frame: self.next,
                width,
                height,
                first_width: w,
                first_height: h,
            }),
            Some(_) => Ok(()),
        }
    }

    /// Read the next frame into `out`; its width and height, or `None` after the last.
    fn read_next_into<T: FromSamples>(
        &mut self,
        out: &mut Vec<T>,
    ) -> Option<Result<(usize, usize)>> {
        let frame = self.next;
        let (file, result) = match &mut self.source {
            Source::Tiff { decoder, finished } => {
                if *finished {
                    return None;
                }
                if frame > 0 {
                    if !decoder.more_images() {
                        *finished = true;
                        return None;
                    }
                    if let Err(e) = decoder.next_image() {
                        *finished = true;
                        return Some(Err(ImagingError::Decode {
                            path: self.path.clone(),
                            frame,
                            message: e.to_string(),
                        }));
                    }
                }
                let r = decode_tiff_into(decoder, &self.path, frame, out);
                if r.is_err() {
                    *finished = true;
                }
                (self.path.clone(), r)
            }
            Source::Folder { files } => {
                let file = files.get(frame)?.clone();
                let r = read_image_file(&file, frame).map(|img| {
                    T::convert(DecodingResult::F64(img.data), out);
                    (img.width, img.height)
                });
                (file, r)
            }
        };
        let result = result.and_then(|size| self.check_size(&file, size).map(|_| size));
        if result.is_err() {
            if let Source::Folder { files } = &mut self.source {
                files.clear();
            }
        }
        self.next += 1;
        Some(result)
    }

    fn read_next(&mut self) -> Option<Result<Image>> {
        let mut data = Vec::new();
        self.read_next_into(&mut data)
            .map(|r| r.map(|(w, h)| Image::from_vec(w, h, data)))
    }

    /// Read the next frame as `f32` samples into `out` (reusing its allocation): its width
    /// and height, or `None` after the last frame. Exact for 8- and 16-bit frames.
    pub fn next_f32(&mut self, out: &mut Vec<f32>) -> Option<Result<(usize, usize)>> {
        self.read_next_into(out)
    }
}

impl Iterator for MovieReader {
    type Item = Result<Image>;
    fn next(&mut self) -> Option<Self::Item> {
        self.read_next()
    }
}

/// Read every frame of a movie into memory.
pub fn read_movie(path: impl AsRef<Path>) -> Result<Vec<Image>> {
    let path = path.as_ref();
    let frames: Vec<Image> = MovieReader::open(path)?.collect::<Result<_>>()?;
    if frames.is_empty() {
        return Err(ImagingError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(frames)
}

fn layout_name(c: ColorType) -> String {
    match c {
        ColorType::Gray(b) => format!("grey {b}-bit"),
        ColorType::RGB(b) => format!("RGB {b}-bit"),
        ColorType::RGBA(b) => format!("RGBA {b}-bit"),
        ColorType::GrayA(b) => format!("grey+alpha {b}-bit"),
        ColorType::CMYK(b) => format!("CMYK {b}-bit"),
        ColorType::YCbCr(b) => format!("YCbCr {b}-bit"),
        ColorType::Palette(b) => format!("palette {b}-bit"),
    }
}

/// A frame's samples converted to `T` (`f64` for [`Image`], `f32` for the movie
/// pipeline's buffers).
trait FromSamples: Sized {
    fn convert(samples: DecodingResult, out: &mut Vec<Self>) -> bool;
}

macro_rules! from_samples {
    ($t:ty) => {
        impl FromSamples for $t {
            fn convert(samples: DecodingResult, out: &mut Vec<Self>) -> bool {
                out.clear();
                match samples {
                    DecodingResult::U8(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::U16(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::U32(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::I8(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::I16(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::I32(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::F32(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    DecodingResult::F64(v) => out.extend(v.into_iter().map(|x| x as $t)),
                    _ => return false,
                }
                true
            }
        }
    };
}
from_samples!(f64);
from_samples!(f32);

/// Decode the current page of `decoder` into `out`; returns its width and height.
fn decode_tiff_into<T: FromSamples>(
    decoder: &mut Decoder<BufReader<File>>,
    path: &Path,
    frame: usize,
    out: &mut Vec<T>,
) -> Result<(usize, usize)> {
    let dec_err = |e: tiff::TiffError| ImagingError::Decode {
        path: path.to_path_buf(),
        frame,
        message: e.to_string(),
    };
    let (w, h) = decoder.dimensions().map_err(dec_err)?;
    let color = decoder.colortype().map_err(dec_err)?;
    if !matches!(color, ColorType::Gray(8 | 16 | 32 | 64)) {
        return Err(ImagingError::Unsupported {
            path: path.to_path_buf(),
            frame,
            layout: format!(
                "{}; expected one grey channel (8/16/32-bit integer or 32/64-bit float)",
                layout_name(color)
            ),
        });
    }
    if !T::convert(decoder.read_image().map_err(dec_err)?, out) {
        return Err(ImagingError::Unsupported {
            path: path.to_path_buf(),
            frame,
            layout: "64-bit integer samples; expected 8/16/32-bit integer or float".into(),
        });
    }
    let (w, h) = (w as usize, h as usize);
    if out.len() != w * h {
        return Err(ImagingError::Unsupported {
            path: path.to_path_buf(),
            frame,
            layout: format!("{} samples for a {w}x{h} grey image", out.len()),
        });
    }
    Ok((w, h))
}

fn decode_tiff_page(
    decoder: &mut Decoder<BufReader<File>>,
    path: &Path,
    frame: usize,
) -> Result<Image> {
    let mut data = Vec::new();
    let (w, h) = decode_tiff_into(decoder, path, frame, &mut data)?;
    Ok(Image::from_vec(w, h, data))
}

/// Read one image file (PNG, or the first page of a TIFF that must have only one page).
pub fn read_image_file(path: &Path, frame: usize) -> Result<Image> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.as_deref() == Some("png") {
        return read_png(path, frame);
    }
    let file = File::open(path).map_err(|e| ImagingError::io(path, e))?;
    let mut decoder = Decoder::new(BufReader::new(file)).map_err(|e| ImagingError::Decode {
        path: path.to_path_buf(),
        frame,
        message: e.to_string(),
    })?;
    let img = decode_tiff_page(&mut decoder, path, frame)?;
    if decoder.more_images() {
        return Err(ImagingError::Unsupported {
            path: path.to_path_buf(),
            frame,
            layout: "a multi-page TIFF inside a folder movie; give one image per file or the \
                     TIFF itself as the movie"
                .into(),
        });
    }
    Ok(img)
}

/// Read a single-image file as a one-frame movie, or every page of a TIFF.
pub fn read_png(path: &Path, frame: usize) -> Result<Image> {
    let file = File::open(path).map_err(|e| ImagingError::io(path, e))?;
    let dec_err = |e: png::DecodingError| ImagingError::Decode {
        path: path.to_path_buf(),
        frame,
        message: e.to_string(),
    };
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(dec_err)?;
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).map_err(dec_err)?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        other => {
            return Err(ImagingError::Unsupported {
                path: path.to_path_buf(),
                frame,
                layout: format!("PNG colour type {other:?}; expected greyscale"),
            })
        }
    };
    let bytes = &buf[..info.buffer_size()];
    let data: Vec<f64> = match info.bit_depth {
        png::BitDepth::Sixteen => bytes
            .chunks_exact(2 * channels)
            .map(|c| f64::from(u16::from_be_bytes([c[0], c[1]])))
            .collect(),
        _ => bytes
            .chunks_exact(channels)
            .map(|c| f64::from(c[0]))
            .collect(),
    };
    if data.len() != w * h {
        return Err(ImagingError::Unsupported {
            path: path.to_path_buf(),
            frame,
            layout: format!("{} samples for a {w}x{h} PNG", data.len()),
        });
    }
    Ok(Image::from_vec(w, h, data))
}

/// Sample type of a written TIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiffSample {
    /// Unsigned 16-bit (values rounded and clamped to 0..=65535).
    U16,
    /// 32-bit float.
    F32,
}

/// Encode frames as a multi-page grey TIFF in memory.
pub fn encode_tiff(frames: &[Image], sample: TiffSample) -> std::result::Result<Vec<u8>, String> {
    let mut cursor = Cursor::new(Vec::new());
    {
        let mut enc = TiffEncoder::new(&mut cursor).map_err(|e| e.to_string())?;
        for f in frames {
            let (w, h) = (f.width as u32, f.height as u32);
            match sample {
                TiffSample::U16 => {
                    let v: Vec<u16> = f
                        .data
                        .iter()
                        .map(|x| x.round().clamp(0.0, 65535.0) as u16)
                        .collect();
                    enc.write_image::<colortype::Gray16>(w, h, &v)
                        .map_err(|e| e.to_string())?;
                }
                TiffSample::F32 => {
                    let v: Vec<f32> = f.data.iter().map(|x| *x as f32).collect();
                    enc.write_image::<colortype::Gray32Float>(w, h, &v)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    Ok(cursor.into_inner())
}

/// Write frames as a multi-page grey TIFF; the file appears only when complete.
pub fn write_tiff(path: &Path, frames: &[Image], sample: TiffSample) -> Result<()> {
    let bytes = encode_tiff(frames, sample).map_err(|e| ImagingError::write(path, e))?;
    let mut out =
        nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
    out.write_all(&bytes)
        .map_err(|e| ImagingError::io(path, e))?;
    out.commit().map_err(|e| ImagingError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize, k: f64) -> Image {
        Image::from_vec(w, h, (0..w * h).map(|i| (i as f64 * k) % 1000.0).collect())
    }

    #[test]
    fn tiff_round_trip_u16_and_f32() {
        let dir = tempfile::tempdir().unwrap();
        let frames = vec![ramp(7, 5, 1.0), ramp(7, 5, 3.0), ramp(7, 5, 7.0)];
        for sample in [TiffSample::U16, TiffSample::F32] {
            let p = dir.path().join(format!("m{sample:?}.tif"));
            write_tiff(&p, &frames, sample).unwrap();
            let back = read_movie(&p).unwrap();
            assert_eq!(back, frames);
        }
    }

    #[test]
    fn folder_in_natural_order() {
        let dir = tempfile::tempdir().unwrap();
        for (i, name) in [(2, "f10.tif"), (0, "f2.tif"), (1, "f3.tif")] {
            write_tiff(
                &dir.path().join(name),
                &[ramp(4, 4, 1.0 + i as f64)],
                TiffSample::U16,
            )
            .unwrap();
        }
        let frames = read_movie(dir.path()).unwrap();
        assert_eq!(frames.len(), 3);
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f, &ramp(4, 4, 1.0 + i as f64));
        }
    }

    #[test]
    fn mismatched_sizes_name_file_and_frame() {
        let dir = tempfile::tempdir().unwrap();
        write_tiff(
            &dir.path().join("a0.tif"),
            &[ramp(4, 4, 1.0)],
            TiffSample::U16,
        )
        .unwrap();
        write_tiff(
            &dir.path().join("a1.tif"),
            &[ramp(5, 4, 1.0)],
            TiffSample::U16,
        )
        .unwrap();
        let err = read_movie(dir.path()).unwrap_err().to_string();
        assert!(err.contains("a1.tif") && err.contains("frame 1"), "{err}");
        assert!(err.contains("5x4") && err.contains("4x4"), "{err}");
    }

    #[test]
    fn metadata_from_flags_or_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let movie = dir.path().join("m.tif");
        write_tiff(&movie, &[ramp(4, 4, 1.0)], TiffSample::U16).unwrap();
        let err = resolve_meta(&movie, None, Some(1.0))
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.tif") && err.contains("--pixel-nm"), "{err}");
        std::fs::write(dir.path().join("m.json"), r#"{"pixel_nm": 0.5, "dt_s": 2}"#).unwrap();
        let (meta, _) = resolve_meta(&movie, None, None).unwrap();
        assert_eq!(
            meta,
            MovieMeta {
                pixel_nm: 0.5,
                dt_s: 2.0
            }
        );
        let (meta, _) = resolve_meta(&movie, Some(0.25), None).unwrap();
        assert_eq!(meta.pixel_nm, 0.25);
    }
}

//! In-situ movies: reading, per-frame segmentation, the per-frame series and its events.
//!
//! The pipeline per frame: turn the grey values so particles are positive ([`Polarity`]),
//! denoise, flatten the background, then segment at two levels:
//! - the *loose* level `background + loose_sigmas * noise` (noise = robust sigma of the
//!   flattened frame): the object (core and its cloud) is the connected region above it,
//!   chosen by a seed point or as the largest in the first frame, then followed between
//!   frames by overlap;
//! - the *strict* (core) level: the core is the largest connected part of the object above
//!   it; the cloud is the object minus the core. By default the level is the half maximum
//!   of the object (half-way between the background and the object's 95th percentile),
//!   which puts the core edge where a blurred edge is at half height, so the core area is
//!   unbiased by the microscope's and the denoising's blur. Otsu's threshold of each frame
//!   ([`CoreThreshold::Otsu`]), a level fixed from the first frames or a given level are
//!   options. Otsu is not the default: on a frame with a particle and its expelled cloud
//!   the between-class optimum moves down into the cloud (the cloud's pixels outnumber the
//!   core's), so the core swells exactly when it shrinks, which hides the out intervals.
//!
//! The loose level is noise-referenced rather than a histogram split because the cloud is
//! faint: it must be found whenever it stands out of the noise, whatever the particle's
//! contrast. The object area therefore includes the blurred rim of the particle (about
//! one blur width beyond the half-maximum edge).

pub mod events;
pub mod io;
pub mod segment;
pub mod series;

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use crate::fft::phase_correlation;
use crate::image::Image;
pub use events::{detect_events, Condensation, Cycle, CycleKind, EventParams, Events};
pub use io::{read_movie, resolve_meta, MovieMeta, MovieReader, Sidecar};
pub use segment::{otsu, Background, Components, Denoise, Prepared};
pub use series::{FrameRecord, Series};

/// Contrast of the particles in the movie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// Particles darker than the background (TEM bright field).
    #[default]
    Dark,
    /// Particles brighter than the background (ADF-STEM).
    Bright,
}

/// The strict (core) threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoreThreshold {
    /// Half-way between the background and the object's dense level (the 95th percentile
    /// of the signal over the object): the half-maximum edge of the core, unbiased by blur
    /// and unaffected by how much cloud surrounds the core.
    HalfMax,
    /// Otsu's threshold of each frame's flattened signal.
    Otsu,
    /// The mean of the Otsu thresholds of the first `n` frames, used for every frame.
    FirstFrames(usize),
    /// A fixed level of the flattened, polarity-corrected signal (grey units above the
    /// background, positive toward the particle).
    Fixed(f64),
}

/// Parameters of the per-frame measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovieParams {
    /// Contrast of the particles.
    pub polarity: Polarity,
    /// Denoising.
    pub denoise: Denoise,
    /// Background flattening; `None` here means the default, a masked polynomial of
    /// order 2.
    pub background: Option<Background>,
    /// Core threshold.
    pub core_threshold: CoreThreshold,
    /// Loose (cloud) level in units of the frame's noise sigma above the background.
    pub loose_sigmas: f64,
    /// Smallest object kept (px); smaller loose regions are noise.
    pub min_object_px: usize,
    /// Seed point (x, y) in pixels from the top-left corner: the object in the first frame
    /// is the region holding it (or the nearest one); `None`: the largest.
    pub seed_point: Option<(f64, f64)>,
    /// Loose regions closer than this to the object (px, chessboard distance) are part of
    /// it: a cloud of clusters breaks into pieces at the loose level.
    pub cloud_gap_px: usize,
    /// Correct drift by phase correlation of consecutive frames.
    pub drift_correction: bool,
}

impl Default for MovieParams {
    fn default() -> Self {
        Self {
            polarity: Polarity::Dark,
            denoise: Denoise::Gaussian { sigma_px: 1.5 },
            background: None,
            core_threshold: CoreThreshold::HalfMax,
            loose_sigmas: 4.0,
            min_object_px: 9,
            seed_point: None,
            cloud_gap_px: 3,
            drift_correction: false,
        }
    }
}

impl MovieParams {
    fn background_for(&self, width: usize, height: usize) -> Background {
        let _ = (width, height);
        self.background
            .unwrap_or(Background::Polynomial { order: 2 })
    }

    fn validate(&self) -> Result<()> {
        if !(self.loose_sigmas.is_finite() && self.loose_sigmas > 0.0) {
            return Err(ImagingError::Parameter(format!(
                "loose level must be a positive number of noise sigmas, got {}",
                self.loose_sigmas
            )));
        }
        if let Denoise::Gaussian { sigma_px } = self.denoise {
            if !(sigma_px.is_finite() && sigma_px >= 0.0) {
                return Err(ImagingError::Parameter(format!(
                    "denoising sigma must be >= 0 px, got {sigma_px}"
                )));
            }
        }
        if let Some(Background::Gaussian { sigma_px }) = self.background {
            if !(sigma_px.is_finite() && sigma_px > 0.0) {
                return Err(ImagingError::Parameter(format!(
                    "background sigma must be > 0 px, got {sigma_px}"
                )));
            }
        }
        if let CoreThreshold::FirstFrames(0) = self.core_threshold {
            return Err(ImagingError::Parameter(
                "the core threshold needs at least one first frame".into(),
            ));
        }
        Ok(())
    }
}

/// What one frame's parallel stage hands to the sequential tracking stage.
struct FrameWork {
    raw: Image,
    prepared: Prepared,
    loose: Components,
    otsu: f64,
}

fn frame_work(raw: Image, params: &MovieParams) -> FrameWork {
    let bg = params.background_for(raw.width, raw.height);
    let prepared = prepare_frame(&raw, params.polarity, params.denoise, bg);
    let level = prepared.background_level + params.loose_sigmas * prepared.noise_sigma;
    let mask: Vec<bool> = prepared.signal.data.iter().map(|v| *v > level).collect();
    let loose = Components::label(&mask, raw.width, raw.height);
    let otsu = otsu(&prepared.signal.data);
    FrameWork {
        raw,
        prepared,
        loose,
        otsu,
    }
}

fn prepare_frame(raw: &Image, polarity: Polarity, denoise: Denoise, bg: Background) -> Prepared {
    segment::prepare(raw, polarity, denoise, bg)
}

/// The object followed from frame to frame.
struct Tracked {
    pixels: Vec<usize>,
    centroid: (f64, f64),
    /// Cumulative drift (px) when this object was measured.
    drift: (f64, f64),
}

/// Choose the object among the loose components.
fn choose(
    work: &FrameWork,
    prev: Option<&Tracked>,
    drift: (f64, f64),
    params: &MovieParams,
) -> Option<u32> {
    let comps = &work.loose;
    let (w, h) = (work.raw.width, work.raw.height);
    let big = |l: u32| comps.sizes[l as usize - 1] >= params.min_object_px;
    let nearest = |p: (f64, f64)| {
        (1..=comps.len() as u32).filter(|l| big(*l)).min_by(|a, b| {
            let d = |l: u32| {
                let c = comps.centroid(l);
                (c.0 - p.0).powi(2) + (c.1 - p.1).powi(2)
            };
            d(*a).total_cmp(&d(*b))
        })
    };
    if let Some(prev) = prev {
        // Overlap with the previous object moved by the drift since then.
        let (dx, dy) = (
            (drift.0 - prev.drift.0).round() as isize,
            (drift.1 - prev.drift.1).round() as isize,
        );
        let mut counts = vec![0usize; comps.len() + 1];
        for &i in &prev.pixels {
            let (x, y) = ((i % w) as isize + dx, (i / w) as isize + dy);
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                counts[comps.labels[y as usize * w + x as usize] as usize] += 1;
            }
        }
        let best = (1..counts.len())
            .filter(|l| counts[*l] > 0 && big(*l as u32))
            .max_by_key(|l| (counts[*l], std::cmp::Reverse(*l)));
        if let Some(l) = best {
            return Some(l as u32);
        }
        let c = (
            prev.centroid.0 + drift.0 - prev.drift.0,
            prev.centroid.1 + drift.1 - prev.drift.1,
        );
        return nearest(c);
    }
    if let Some((sx, sy)) = params.seed_point {
        let (x, y) = (sx.round(), sy.round());
        if x >= 0.0 && y >= 0.0 && (x as usize) < w && (y as usize) < h {
            let l = comps.labels[y as usize * w + x as usize];
            if l > 0 && big(l) {
                return Some(l);
            }
        }
        return nearest((sx, sy));
    }
    comps.largest().filter(|l| big(*l))
}

/// The pixels of component `label` and of every loose component within `gap` px of it
/// (transitively, so a cloud broken into pieces is gathered whole).
fn gather(comps: &Components, label: u32, height: usize, gap: usize) -> Vec<usize> {
    let w = comps.width;
    let mut member = vec![false; comps.len() + 1];
    member[label as usize] = true;
    let mut pixels = comps.pixels(label);
    if gap == 0 {
        return pixels;
    }
    let g = gap as isize;
    let mut frontier = pixels.clone();
    while !frontier.is_empty() {
        let mut added = Vec::new();
        for &i in &frontier {
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for yy in (y - g).max(0)..=(y + g).min(height as isize - 1) {
                for xx in (x - g).max(0)..=(x + g).min(w as isize - 1) {
                    let l = comps.labels[yy as usize * w + xx as usize] as usize;
                    if l > 0 && !member[l] {
                        member[l] = true;
                        added.push(l as u32);
                    }
                }
            }
        }
        frontier.clear();
        for l in added {
            let p = comps.pixels(l);
            frontier.extend_from_slice(&p);
            pixels.extend(p);
        }
    }
    pixels
}

/// Largest 8-connected group of `pixels` (indices in a `width`-wide image) where `keep` is
/// true.
fn largest_part(pixels: &[usize], width: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    if pixels.is_empty() {
        return Vec::new();
    }
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for &i in pixels {
        let (x, y) = (i % width, i / width);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let (bw, bh) = (x1 - x0 + 1, y1 - y0 + 1);
    let mut mask = vec![false; bw * bh];
    for &i in pixels {
        if keep(i) {
            let (x, y) = (i % width - x0, i / width - y0);
            mask[y * bw + x] = true;
        }
    }
    let comps = Components::label(&mask, bw, bh);
    match comps.largest() {
        None => Vec::new(),
        Some(l) => comps
            .labels
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == l)
            .map(|(j, _)| (j / bw + y0) * width + j % bw + x0)
            .collect(),
    }
}

/// Analyse a movie frame by frame (streaming: memory is bounded by a few frames per
/// thread) and return its series.
pub fn analyse_movie(path: &Path, meta: MovieMeta, params: &MovieParams) -> Result<Series> {
    params.validate()?;
    let fixed_core = match params.core_threshold {
        CoreThreshold::Otsu | CoreThreshold::HalfMax => None,
        CoreThreshold::Fixed(v) => Some(v),
        CoreThreshold::FirstFrames(n) => {
            let mut sum = 0.0;
            let mut count = 0usize;
            for frame in MovieReader::open(path)?.take(n) {
                let w = frame_work(frame?, params);
                sum += w.otsu;
                count += 1;
            }
            if count == 0 {
                return Err(ImagingError::Empty {
                    path: path.to_path_buf(),
                });
            }
            Some(sum / count as f64)
        }
    };
    let mut reader = MovieReader::open(path)?;
    let chunk = 2 * rayon::current_num_threads().max(1);
    let mut records = Vec::new();
    let mut prev: Option<Tracked> = None;
    let mut prev_signal: Option<Image> = None;
    let mut drift = (0.0, 0.0);
    loop {
        let raws: Vec<Image> = reader.by_ref().take(chunk).collect::<Result<_>>()?;
        if raws.is_empty() {
            break;
        }
        let works: Vec<FrameWork> = raws
            .into_par_iter()
            .map(|r| frame_work(r, params))
            .collect();
        // Shifts between consecutive frames, in parallel, before the sequential tracking.
        let shifts: Vec<(f64, f64)> = if params.drift_correction {
            let mut pairs: Vec<(&Image, &Image)> = Vec::with_capacity(works.len());
            for (k, wk) in works.iter().enumerate() {
                let before = if k == 0 {
                    prev_signal.as_ref()
                } else {
                    Some(&works[k - 1].prepared.signal)
                };
                if let Some(b) = before {
                    pairs.push((b, &wk.prepared.signal));
                }
            }
            let mut s: Vec<(f64, f64)> = pairs
                .par_iter()
                .map(|(a, b)| phase_correlation(a, b))
                .collect();
            if prev_signal.is_none() {
                s.insert(0, (0.0, 0.0));
            }
            s
        } else {
            vec![(0.0, 0.0); works.len()]
        };
        for (work, shift) in works.into_iter().zip(shifts) {
            drift.0 += shift.0;
            drift.1 += shift.1;
            let frame = records.len();
            let record;
            match choose(&work, prev.as_ref(), drift, params) {
                None => {
                    record = FrameRecord::empty(frame, frame as f64 * meta.dt_s, drift);
                }
                Some(label) => {
                    let pixels = gather(&work.loose, label, work.raw.height, params.cloud_gap_px);
                    let signal = &work.prepared.signal.data;
                    let core_level = match params.core_threshold {
                        CoreThreshold::HalfMax => {
                            let values: Vec<f64> = pixels.iter().map(|i| signal[*i]).collect();
                            let b = work.prepared.background_level;
                            b + 0.5 * (crate::image::quantile(&values, 0.95) - b)
                        }
                        _ => fixed_core.unwrap_or(work.otsu),
                    };
                    let core = largest_part(&pixels, work.raw.width, |i| signal[i] > core_level);
                    let n = pixels.len() as f64;
                    let mean_grey = pixels.iter().map(|i| work.raw.data[*i]).sum::<f64>() / n;
                    let density = pixels.iter().map(|i| signal[*i]).sum::<f64>() / n
                        - work.prepared.background_level;
                    let centroid = {
                        let w = work.raw.width;
                        let (sx, sy) = pixels.iter().fold((0.0, 0.0), |a, i| {
                            (a.0 + (i % w) as f64, a.1 + (i / w) as f64)
                        });
                        (sx / n, sy / n)
                    };
                    let px2 = meta.pixel_nm * meta.pixel_nm;
                    let area_nm2 = n * px2;
                    record = FrameRecord {
                        frame,
                        t_s: frame as f64 * meta.dt_s,
                        area_nm2,
                        mean_grey,
                        core_area_nm2: core.len() as f64 * px2,
                        cloud_area_nm2: (pixels.len() - core.len()) as f64 * px2,
                        cx_nm: (centroid.0 - drift.0) * meta.pixel_nm,
                        cy_nm: (centroid.1 - drift.1) * meta.pixel_nm,
                        diameter_nm: (4.0 * area_nm2 / std::f64::consts::PI).sqrt(),
                        density,
                        drift_x_px: drift.0,
                        drift_y_px: drift.1,
                    };
                    prev = Some(Tracked {
                        pixels,
                        centroid,
                        drift,
                    });
                }
            }
            records.push(record);
            if params.drift_correction {
                prev_signal = Some(work.prepared.signal);
            }
        }
    }
    if records.is_empty() {
        return Err(ImagingError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Series { meta, records })
}

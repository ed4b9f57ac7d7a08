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
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use crate::fft::phase_correlation;
use crate::image::Image;
pub use events::{detect_events, Condensation, Cycle, CycleKind, EventParams, Events};
pub use io::{read_movie, resolve_meta, MovieMeta, MovieReader, Sidecar};
pub use segment::{otsu, Background, Components, Denoise, Prepared, Run};
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

/// Buffers of the frames in flight, handed back after tracking, so that a long movie
/// allocates only as many frame buffers as are in flight at once.
#[derive(Default)]
struct Pool(Mutex<Vec<Vec<f32>>>);

impl Pool {
    fn take(&self) -> Vec<f32> {
        self.0
            .lock()
            .map(|mut v| v.pop())
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn give(&self, buffer: Vec<f32>) {
        if let Ok(mut v) = self.0.lock() {
            v.push(buffer);
        }
    }
}

/// A raw frame as read: samples and (width, height).
type RawFrame = (Vec<f32>, (usize, usize));

/// What one frame's parallel stage hands to the sequential tracking stage.
struct FrameWork {
    width: usize,
    height: usize,
    raw: Vec<f32>,
    /// Flattened, denoised, polarity-corrected frame.
    signal: Vec<f32>,
    background_level: f64,
    loose: Components,
    /// Otsu's threshold of the signal; NaN when the core threshold does not use it.
    otsu: f64,
}

impl FrameWork {
    fn signal_image(&self) -> Image {
        Image::from_vec(
            self.width,
            self.height,
            self.signal.iter().map(|v| f64::from(*v)).collect(),
        )
    }

    fn recycle(self, pool: &Pool) {
        pool.give(self.raw);
        pool.give(self.signal);
    }
}

fn frame_work(
    (raw, (width, height)): RawFrame,
    params: &MovieParams,
    need_otsu: bool,
    pool: &Pool,
) -> FrameWork {
    let bg = params.background_for(width, height);
    let mut signal = pool.take();
    let (background_level, noise_sigma) = segment::prepare_into(
        &raw,
        width,
        height,
        params.polarity,
        params.denoise,
        bg,
        &mut signal,
    );
    let level = background_level + params.loose_sigmas * noise_sigma;
    let loose = Components::above(&signal, width, height, level);
    let otsu = if need_otsu {
        segment::otsu_f32(&signal)
    } else {
        f64::NAN
    };
    FrameWork {
        width,
        height,
        raw,
        signal,
        background_level,
        loose,
        otsu,
    }
}

/// The object followed from frame to frame.
struct Tracked {
    runs: Vec<Run>,
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
    let (w, h) = (work.width, work.height);
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
        // Overlap (px) with the previous object moved by the drift since then, run by run.
        let (dx, dy) = (
            (drift.0 - prev.drift.0).round() as isize,
            (drift.1 - prev.drift.1).round() as isize,
        );
        let mut counts = vec![0usize; comps.len() + 1];
        for r in &prev.runs {
            let y = r.y as isize + dy;
            let xs = (r.x0 as isize + dx).max(0);
            let xe = (r.x1 as isize + dx).min(w as isize);
            if y < 0 || y >= h as isize || xe <= xs {
                continue;
            }
            let (xs, xe) = (xs as usize, xe as usize);
            for (run, l) in comps.row_overlapping(y as usize, xs, xe) {
                counts[l as usize] += (run.x1 as usize).min(xe) - (run.x0 as usize).max(xs);
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
            let l = comps.label_at(x as usize, y as usize);
            if l > 0 && big(l) {
                return Some(l);
            }
        }
        return nearest((sx, sy));
    }
    comps.largest().filter(|l| big(*l))
}

/// The runs of component `label` and of every loose component within `gap` px of it
/// (chessboard distance; transitively, so a cloud broken into pieces is gathered whole),
/// by row then column.
fn gather(comps: &Components, label: u32, gap: usize) -> Vec<Run> {
    let mut member = vec![false; comps.len() + 1];
    member[label as usize] = true;
    let mut labels = vec![label];
    if gap > 0 {
        let g = gap as u32;
        let (w, h) = (comps.width as u32, comps.height as u32);
        let mut k = 0;
        while k < labels.len() {
            let l = labels[k];
            k += 1;
            for r in comps.runs_of(l) {
                // The run widened by the gap on every side touches these rows and columns.
                let (xs, xe) = (r.x0.saturating_sub(g), (r.x1 + g).min(w));
                for yy in r.y.saturating_sub(g)..=(r.y + g).min(h - 1) {
                    for (_, m) in comps.row_overlapping(yy as usize, xs as usize, xe as usize) {
                        if !member[m as usize] {
                            member[m as usize] = true;
                            labels.push(m);
                        }
                    }
                }
            }
        }
    }
    let mut runs: Vec<Run> = labels.iter().flat_map(|l| comps.runs_of(*l)).collect();
    runs.sort_unstable();
    runs
}

/// Size (px) of the largest 8-connected group of the pixels of `runs` (by row then
/// column) where `signal` is above `level`.
fn largest_part_size(runs: &[Run], work: &FrameWork, level: f64) -> usize {
    let w = work.width;
    let mut parts = Vec::new();
    for r in runs {
        let start = r.y as usize * w;
        let row = &work.signal[start + r.x0 as usize..start + r.x1 as usize];
        let mut x = 0;
        while x < row.len() {
            while x < row.len() && f64::from(row[x]) <= level {
                x += 1;
            }
            let s = x;
            while x < row.len() && f64::from(row[x]) > level {
                x += 1;
            }
            if x > s {
                parts.push(Run {
                    y: r.y,
                    x0: r.x0 + s as u32,
                    x1: r.x0 + x as u32,
                });
            }
        }
    }
    let comps = Components::from_runs(parts, work.width, work.height);
    comps.sizes.iter().copied().max().unwrap_or(0)
}

/// The sequential stage: follows the object from frame to frame and measures it.
struct Tracker<'a> {
    params: &'a MovieParams,
    meta: MovieMeta,
    fixed_core: Option<f64>,
    records: Vec<FrameRecord>,
    prev: Option<Tracked>,
    drift: (f64, f64),
}

impl Tracker<'_> {
    fn track(&mut self, work: &FrameWork, shift: (f64, f64)) {
        let (params, meta) = (self.params, self.meta);
        self.drift.0 += shift.0;
        self.drift.1 += shift.1;
        let drift = self.drift;
        let frame = self.records.len();
        let Some(label) = choose(work, self.prev.as_ref(), drift, params) else {
            self.records
                .push(FrameRecord::empty(frame, frame as f64 * meta.dt_s, drift));
            return;
        };
        let runs = gather(&work.loose, label, params.cloud_gap_px);
        let w = work.width;
        let px = |r: &Run| r.y as usize * w + r.x0 as usize..r.y as usize * w + r.x1 as usize;
        let core_level = match params.core_threshold {
            CoreThreshold::HalfMax => {
                let mut values: Vec<f32> = runs
                    .iter()
                    .flat_map(|r| work.signal[px(r)].iter().copied())
                    .collect();
                let k = ((values.len() - 1) as f64 * 0.95).round() as usize;
                let (_, q, _) = values.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
                let b = work.background_level;
                b + 0.5 * (f64::from(*q) - b)
            }
            _ => self.fixed_core.unwrap_or(work.otsu),
        };
        let core = largest_part_size(&runs, work, core_level);
        let (mut count, mut sum_raw, mut sum_signal, mut sx, mut sy) = (0usize, 0.0, 0.0, 0.0, 0.0);
        for r in &runs {
            let len = r.len();
            count += len;
            sum_raw += work.raw[px(r)].iter().map(|v| f64::from(*v)).sum::<f64>();
            sum_signal += work.signal[px(r)]
                .iter()
                .map(|v| f64::from(*v))
                .sum::<f64>();
            sx += (f64::from(r.x0) + f64::from(r.x1) - 1.0) * len as f64 / 2.0;
            sy += f64::from(r.y) * len as f64;
        }
        let n = count as f64;
        let centroid = (sx / n, sy / n);
        let px2 = meta.pixel_nm * meta.pixel_nm;
        let area_nm2 = n * px2;
        self.records.push(FrameRecord {
            frame,
            t_s: frame as f64 * meta.dt_s,
            area_nm2,
            mean_grey: sum_raw / n,
            core_area_nm2: core as f64 * px2,
            cloud_area_nm2: (count - core) as f64 * px2,
            cx_nm: (centroid.0 - drift.0) * meta.pixel_nm,
            cy_nm: (centroid.1 - drift.1) * meta.pixel_nm,
            diameter_nm: (4.0 * area_nm2 / std::f64::consts::PI).sqrt(),
            density: sum_signal / n - work.background_level,
            drift_x_px: drift.0,
            drift_y_px: drift.1,
        });
        self.prev = Some(Tracked {
            runs,
            centroid,
            drift,
        });
    }
}

/// Read up to `n` frames.
fn read_chunk(reader: &mut MovieReader, n: usize, pool: &Pool) -> Result<Vec<RawFrame>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let mut buf = pool.take();
        match reader.next_f32(&mut buf) {
            None => break,
            Some(size) => out.push((buf, size?)),
        }
    }
    Ok(out)
}

/// The parallel stage of a chunk of frames: pre-processing and labelling, then (with drift
/// correction) the shift of each frame from the one before, `prev_signal` being the last
/// frame of the previous chunk.
fn process_chunk(
    raws: Vec<RawFrame>,
    params: &MovieParams,
    need_otsu: bool,
    pool: &Pool,
    prev_signal: &mut Option<Image>,
) -> Vec<(FrameWork, (f64, f64))> {
    let works: Vec<FrameWork> = raws
        .into_par_iter()
        .map(|r| frame_work(r, params, need_otsu, pool))
        .collect();
    if !params.drift_correction || works.is_empty() {
        return works.into_iter().map(|w| (w, (0.0, 0.0))).collect();
    }
    let signals: Vec<Image> = works.par_iter().map(FrameWork::signal_image).collect();
    let mut pairs: Vec<(&Image, &Image)> = Vec::with_capacity(works.len());
    for (k, s) in signals.iter().enumerate() {
        let before = if k == 0 {
            prev_signal.as_ref()
        } else {
            Some(&signals[k - 1])
        };
        if let Some(b) = before {
            pairs.push((b, s));
        }
    }
    let mut shifts: Vec<(f64, f64)> = pairs
        .par_iter()
        .map(|(a, b)| phase_correlation(a, b))
        .collect();
    if shifts.len() < works.len() {
        shifts.insert(0, (0.0, 0.0));
    }
    *prev_signal = signals.into_iter().last();
    works.into_iter().zip(shifts).collect()
}

/// Analyse a movie frame by frame and return its series. Streaming: reading the next
/// chunk of frames, processing this one (frames in parallel) and tracking the previous
/// one overlap, and memory is bounded by the three chunks in flight whatever the length.
pub fn analyse_movie(path: &Path, meta: MovieMeta, params: &MovieParams) -> Result<Series> {
    params.validate()?;
    let need_otsu = matches!(
        params.core_threshold,
        CoreThreshold::Otsu | CoreThreshold::FirstFrames(_)
    );
    let pool = Pool::default();
    let fixed_core = match params.core_threshold {
        CoreThreshold::Otsu | CoreThreshold::HalfMax => None,
        CoreThreshold::Fixed(v) => Some(v),
        CoreThreshold::FirstFrames(n) => {
            let mut reader = MovieReader::open(path)?;
            let mut sum = 0.0;
            let mut count = 0usize;
            while count < n {
                let mut frame = read_chunk(&mut reader, 1, &pool)?;
                let Some(raw) = frame.pop() else { break };
                let w = frame_work(raw, params, true, &pool);
                sum += w.otsu;
                count += 1;
                w.recycle(&pool);
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
    let mut tracker = Tracker {
        params,
        meta,
        fixed_core,
        records: Vec::new(),
        prev: None,
        drift: (0.0, 0.0),
    };
    let mut prev_signal: Option<Image> = None;
    let mut raws = read_chunk(&mut reader, chunk, &pool)?;
    let mut pending: Vec<(FrameWork, (f64, f64))> = Vec::new();
    while !(raws.is_empty() && pending.is_empty()) {
        let (to_process, to_track) = (std::mem::take(&mut raws), std::mem::take(&mut pending));
        let more = !to_process.is_empty();
        let ((next, ()), processed) = rayon::join(
            || {
                rayon::join(
                    || {
                        if more {
                            read_chunk(&mut reader, chunk, &pool)
                        } else {
                            Ok(Vec::new())
                        }
                    },
                    || {
                        for (work, shift) in to_track {
                            tracker.track(&work, shift);
                            work.recycle(&pool);
                        }
                    },
                )
            },
            || process_chunk(to_process, params, need_otsu, &pool, &mut prev_signal),
        );
        raws = next?;
        pending = processed;
    }
    if tracker.records.is_empty() {
        return Err(ImagingError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Series {
        meta,
        records: tracker.records,
    })
}

//! Seeded synthetic movies with ground truth: a diffuse cloud of small clusters that
//! condenses into a particle at a chosen time, then a chosen number of out-and-in cycles;
//! and synthetic HRTEM images of a particle of K grains with lattice fringes.
//!
//! Image formation (projected "density" rho, 1 in the particle):
//! - dark polarity (TEM bright field): counts = dose * illumination * (1 - contrast * rho);
//! - bright polarity (ADF-STEM): counts = dose * illumination * (0.2 + contrast * rho);
//!
//! then Poisson noise on the counts and Gaussian read noise. Illumination is a smooth tilt
//! and bowl; drift moves the whole specimen by a constant velocity.

use std::f64::consts::PI;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use crate::image::Image;
use crate::movie::events::CycleKind;
use crate::movie::io::{write_tiff, Sidecar, TiffSample};
use crate::movie::Polarity;

/// Parameters of a synthetic in-situ movie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MovieSimParams {
    /// Frame width (px).
    pub width: usize,
    /// Frame height (px).
    pub height: usize,
    /// Number of frames.
    pub frames: usize,
    /// Pixel size (nm/px).
    pub pixel_nm: f64,
    /// Frame interval (s).
    pub dt_s: f64,
    /// Last frame of the cloud before it collapses.
    pub condense_frame: usize,
    /// Frames the collapse takes.
    pub condense_frames: usize,
    /// Radius of the cloud (px).
    pub cloud_radius_px: f64,
    /// Radius of the particle after condensation (px).
    pub particle_radius_px: f64,
    /// Frames of rest after condensation and after each cycle.
    pub rest_frames: usize,
    /// Number of out-and-in cycles.
    pub cycles: usize,
    /// Frames of each out (and each in) interval.
    pub cycle_frames: usize,
    /// Frames the particle stays shrunk between out and in.
    pub hold_frames: usize,
    /// Fraction of the core area expelled into the cloud in an out interval.
    pub out_fraction: f64,
    /// Width of the expelled cloud around the core (px).
    pub cloud_width_px: f64,
    /// Contrast polarity.
    pub polarity: Polarity,
    /// Electrons per pixel at the background (Poisson noise); 0 = no Poisson noise.
    pub dose: f64,
    /// Gaussian read noise (counts).
    pub read_noise: f64,
    /// Fraction of the beam the particle removes (dark) or adds (bright) at rho = 1.
    pub contrast: f64,
    /// Strength of the uneven illumination (relative tilt across the frame).
    pub illumination: f64,
    /// Drift (px per frame) in x and y.
    pub drift_px_per_frame: (f64, f64),
    /// Random seed.
    pub seed: u64,
}

impl Default for MovieSimParams {
    fn default() -> Self {
        Self {
            width: 128,
            height: 128,
            frames: 60,
            pixel_nm: 0.5,
            dt_s: 0.5,
            condense_frame: 15,
            condense_frames: 4,
            cloud_radius_px: 30.0,
            particle_radius_px: 14.0,
            rest_frames: 5,
            cycles: 2,
            cycle_frames: 4,
            hold_frames: 3,
            out_fraction: 0.4,
            cloud_width_px: 10.0,
            polarity: Polarity::Dark,
            dose: 1000.0,
            read_noise: 0.0,
            contrast: 0.3,
            illumination: 0.2,
            drift_px_per_frame: (0.15, -0.1),
            seed: 1,
        }
    }
}

/// Ground truth of one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthFrame {
    /// Frame index.
    pub frame: usize,
    /// Time (s).
    pub t_s: f64,
    /// Area of the object: core and cloud, or the cloud before condensation (nm^2).
    pub area_nm2: f64,
    /// Area of the dense core (nm^2); 0 before condensation ends.
    pub core_area_nm2: f64,
    /// Area of the cloud region (nm^2).
    pub cloud_area_nm2: f64,
    /// Centre x (nm), including drift.
    pub cx_nm: f64,
    /// Centre y (nm), including drift.
    pub cy_nm: f64,
    /// Drift x since frame 0 (px).
    pub drift_x_px: f64,
    /// Drift y since frame 0 (px).
    pub drift_y_px: f64,
}

/// A true event interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthInterval {
    /// "out", "in" (or "condensation").
    pub kind: String,
    /// Last frame before the change.
    pub start_frame: usize,
    /// First frame after the change.
    pub end_frame: usize,
}

/// Ground truth of a synthetic movie.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovieTruth {
    /// Every parameter used.
    pub params: MovieSimParams,
    /// The condensation interval.
    pub condensation: TruthInterval,
    /// Out and in intervals.
    pub cycles: Vec<TruthInterval>,
    /// Number of out-and-in cycles.
    pub n_cycles: usize,
    /// Per-frame truth.
    pub frames: Vec<TruthFrame>,
}

/// What the object is at one time.
struct State {
    /// Cloud (clusters) region outer radius (px) and its mean density, before condensation.
    cloud: Option<(f64, f64)>,
    /// Smooth disc radius and density.
    disc: Option<(f64, f64)>,
    /// Expelled cloud annulus: inner radius, outer radius, mean density.
    shell: Option<(f64, f64, f64)>,
}

impl MovieSimParams {
    /// Frames the schedule needs: cloud, collapse, then per cycle rest + out + hold + in,
    /// and a final rest.
    pub fn frames_needed(&self) -> usize {
        self.condense_frame
            + self.condense_frames
            + self.cycles * (self.rest_frames + 2 * self.cycle_frames + self.hold_frames)
            + self.rest_frames
            + 1
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(ImagingError::Parameter(m));
        if self.width < 32 || self.height < 32 {
            return bad(format!(
                "frames must be at least 32x32 px, got {}x{}",
                self.width, self.height
            ));
        }
        if self.frames < self.frames_needed() {
            return bad(format!(
                "{} frames are too few for the schedule (condensation at {}, {} cycles): need {}",
                self.frames,
                self.condense_frame,
                self.cycles,
                self.frames_needed()
            ));
        }
        if self.condense_frames == 0 || self.cycle_frames == 0 {
            return bad("condensation and cycle intervals need at least one frame".into());
        }
        if !(self.particle_radius_px > 0.0 && self.cloud_radius_px > self.particle_radius_px) {
            return bad("the cloud must be larger than the particle".into());
        }
        if !(0.0..1.0).contains(&self.out_fraction) {
            return bad(format!(
                "out fraction must be in [0, 1), got {}",
                self.out_fraction
            ));
        }
        if !(self.contrast > 0.0 && self.contrast < 0.8) {
            return bad(format!(
                "contrast must be in (0, 0.8), got {}",
                self.contrast
            ));
        }
        if self.dose < 0.0 || self.read_noise < 0.0 {
            return bad("dose and read noise must be >= 0".into());
        }
        Ok(())
    }

    /// Object state at frame `f` and the schedule's intervals.
    fn schedule(&self) -> (TruthInterval, Vec<TruthInterval>) {
        let cond = TruthInterval {
            kind: "condensation".into(),
            start_frame: self.condense_frame,
            end_frame: self.condense_frame + self.condense_frames,
        };
        let mut cycles = Vec::new();
        let mut t = cond.end_frame + self.rest_frames;
        for _ in 0..self.cycles {
            cycles.push(TruthInterval {
                kind: "out".into(),
                start_frame: t,
                end_frame: t + self.cycle_frames,
            });
            t += self.cycle_frames + self.hold_frames;
            cycles.push(TruthInterval {
                kind: "in".into(),
                start_frame: t,
                end_frame: t + self.cycle_frames,
            });
            t += self.cycle_frames + self.rest_frames;
        }
        (cond, cycles)
    }

    fn state(&self, f: usize, cond: &TruthInterval, cycles: &[TruthInterval]) -> State {
        let (rc, rp) = (self.cloud_radius_px, self.particle_radius_px);
        let rho_cloud = (rp / rc).powi(2); // mass conserved: pi rc^2 rho = pi rp^2
        if f <= cond.start_frame {
            // The cloud slowly darkens: from 60 % to 100 % of its final density.
            let u = f as f64 / cond.start_frame.max(1) as f64;
            return State {
                cloud: Some((rc, rho_cloud * (0.6 + 0.4 * u))),
                disc: None,
                shell: None,
            };
        }
        if f < cond.end_frame {
            let u = (f - cond.start_frame) as f64 / (cond.end_frame - cond.start_frame) as f64;
            let r = rc + (rp - rc) * u;
            let rho = (rp / r).powi(2);
            // The collapsing cloud: part clustered, part already smooth.
            return State {
                cloud: Some((r, rho * (1.0 - u))),
                disc: Some((r, rho * u)),
                shell: None,
            };
        }
        // After condensation: out fraction expelled (0..1 of the full swing).
        let mut x = 0.0;
        for pair in cycles.chunks(2) {
            let (out, inn) = (&pair[0], &pair[1]);
            let ramp = |iv: &TruthInterval| {
                ((f as f64 - iv.start_frame as f64) / (iv.end_frame - iv.start_frame) as f64)
                    .clamp(0.0, 1.0)
            };
            if f > out.start_frame && f < inn.end_frame {
                x = ramp(out) - ramp(inn);
            }
        }
        let lost = self.out_fraction * x;
        let r_core = rp * (1.0 - lost).sqrt();
        let shell = if lost > 0.0 {
            let outer = r_core + self.cloud_width_px;
            let rho = (rp * rp - r_core * r_core) / (outer * outer - r_core * r_core);
            Some((r_core, outer, rho))
        } else {
            None
        };
        State {
            cloud: None,
            disc: Some((r_core, 1.0)),
            shell,
        }
    }
}

/// Smooth disc edge: density fraction at distance `r` from the centre of a disc of radius
/// `radius` (logistic, 0.5 px wide), so the disc's area is pi radius^2.
fn soft_disc(r: f64, radius: f64) -> f64 {
    1.0 / (1.0 + ((r - radius) / 0.5).exp())
}

/// Add Gaussian clusters (sigma 1 px, peak density 0.3) at random places in the annulus
/// [r_in, r_out] around (cx, cy), as many as give mean density `rho` there.
#[allow(clippy::too_many_arguments)]
fn add_clusters(
    rho_img: &mut [f64],
    w: usize,
    h: usize,
    (cx, cy): (f64, f64),
    r_in: f64,
    r_out: f64,
    rho: f64,
    rng: &mut ChaCha8Rng,
) {
    const PEAK: f64 = 0.3;
    const SIGMA: f64 = 1.0;
    let area = PI * (r_out * r_out - r_in * r_in);
    let mass_per_cluster = PEAK * 2.0 * PI * SIGMA * SIGMA;
    let n = (rho * area / mass_per_cluster).round() as usize;
    for _ in 0..n {
        // Uniform in the annulus area.
        let r = (r_in * r_in + rng.gen::<f64>() * (r_out * r_out - r_in * r_in)).sqrt();
        let a = rng.gen::<f64>() * 2.0 * PI;
        let (x0, y0) = (cx + r * a.cos(), cy + r * a.sin());
        let reach = 4.0 * SIGMA;
        let (xa, xb) = (
            (x0 - reach).floor().max(0.0) as usize,
            ((x0 + reach).ceil() as usize).min(w - 1),
        );
        let (ya, yb) = (
            (y0 - reach).floor().max(0.0) as usize,
            ((y0 + reach).ceil() as usize).min(h - 1),
        );
        for y in ya..=yb {
            for x in xa..=xb {
                let d2 = (x as f64 - x0).powi(2) + (y as f64 - y0).powi(2);
                rho_img[y * w + x] += PEAK * (-0.5 * d2 / (SIGMA * SIGMA)).exp();
            }
        }
    }
}

/// Generate a synthetic movie and its truth.
pub fn simulate_movie(params: &MovieSimParams) -> Result<(Vec<Image>, MovieTruth)> {
    params.validate()?;
    let (w, h) = (params.width, params.height);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let (cond, cycles) = params.schedule();
    let read = Normal::new(0.0, params.read_noise.max(1e-300))
        .map_err(|e| ImagingError::Parameter(e.to_string()))?;
    let illum: Vec<f64> = (0..w * h)
        .map(|i| {
            let (x, y) = (
                (i % w) as f64 / w as f64 - 0.5,
                (i / w) as f64 / h as f64 - 0.5,
            );
            1.0 + params.illumination * (x + 0.5 * y - 0.8 * (x * x + y * y))
        })
        .collect();
    let centre0 = (w as f64 / 2.0, h as f64 / 2.0);
    let px2 = params.pixel_nm * params.pixel_nm;
    let mut frames = Vec::with_capacity(params.frames);
    let mut truth = Vec::with_capacity(params.frames);
    for f in 0..params.frames {
        let drift = (
            params.drift_px_per_frame.0 * f as f64,
            params.drift_px_per_frame.1 * f as f64,
        );
        let c = (centre0.0 + drift.0, centre0.1 + drift.1);
        let st = params.state(f, &cond, &cycles);
        let mut rho = vec![0.0; w * h];
        if let Some((r, d)) = st.disc {
            for (i, v) in rho.iter_mut().enumerate() {
                let rr = ((i % w) as f64 - c.0).hypot((i / w) as f64 - c.1);
                *v += d * soft_disc(rr, r);
            }
        }
        if let Some((r, d)) = st.cloud {
            add_clusters(&mut rho, w, h, c, 0.0, r, d, &mut rng);
        }
        if let Some((a, b, d)) = st.shell {
            add_clusters(&mut rho, w, h, c, a, b, d, &mut rng);
        }
        let data: Vec<f64> = rho
            .iter()
            .zip(&illum)
            .map(|(r, il)| {
                let r = r.min(1.5);
                let mean = params.dose.max(1.0)
                    * il
                    * match params.polarity {
                        Polarity::Dark => 1.0 - params.contrast * r,
                        Polarity::Bright => 0.2 + params.contrast * r,
                    };
                let mut v = if params.dose > 0.0 {
                    Poisson::new(mean.max(1e-9)).map_or(mean, |p| p.sample(&mut rng))
                } else {
                    mean
                };
                if params.read_noise > 0.0 {
                    v += read.sample(&mut rng);
                }
                v.max(0.0)
            })
            .collect();
        frames.push(Image::from_vec(w, h, data));
        let (area, core, cloud) = match (st.cloud, st.disc, st.shell) {
            (_, _, Some((a, b, _))) => (PI * b * b, PI * a * a, PI * (b * b - a * a)),
            (Some((r, _)), _, _) => (PI * r * r, 0.0, PI * r * r),
            (None, Some((r, _)), None) => (PI * r * r, PI * r * r, 0.0),
            (None, None, None) => (0.0, 0.0, 0.0),
        };
        truth.push(TruthFrame {
            frame: f,
            t_s: f as f64 * params.dt_s,
            area_nm2: area * px2,
            core_area_nm2: core * px2,
            cloud_area_nm2: cloud * px2,
            cx_nm: c.0 * params.pixel_nm,
            cy_nm: c.1 * params.pixel_nm,
            drift_x_px: drift.0,
            drift_y_px: drift.1,
        });
    }
    let n_cycles = params.cycles;
    Ok((
        frames,
        MovieTruth {
            params: params.clone(),
            condensation: cond,
            cycles,
            n_cycles,
            frames: truth,
        },
    ))
}

impl MovieTruth {
    /// Kinds of the true cycle intervals.
    pub fn cycle_kinds(&self) -> Vec<CycleKind> {
        self.cycles
            .iter()
            .map(|c| {
                if c.kind == "out" {
                    CycleKind::Out
                } else {
                    CycleKind::In
                }
            })
            .collect()
    }
}

/// Write `DIR/movie.tif` (16-bit pages), its sidecar `DIR/movie.json`, `DIR/truth.json` and
/// `DIR/truth.csv`.
pub fn write_movie(dir: &Path, frames: &[Image], truth: &MovieTruth) -> Result<()> {
    write_tiff(&dir.join("movie.tif"), frames, TiffSample::U16)?;
    let p = &truth.params;
    let sidecar = Sidecar {
        pixel_nm: Some(p.pixel_nm),
        dt_s: Some(p.dt_s),
        polarity: Some(p.polarity),
    };
    write_json(&dir.join("movie.json"), &sidecar)?;
    write_json(&dir.join("truth.json"), truth)?;
    let path = dir.join("truth.csv");
    let file =
        nucleate_core::io::AtomicFile::create(&path).map_err(|e| ImagingError::io(&path, e))?;
    let mut wtr = csv::Writer::from_writer(file);
    for t in &truth.frames {
        wtr.serialize(t)
            .map_err(|e| ImagingError::write(&path, e))?;
    }
    let file = wtr
        .into_inner()
        .map_err(|e| ImagingError::write(&path, e))?;
    file.commit().map_err(|e| ImagingError::io(&path, e))
}

/// Write a value as pretty JSON; the file appears only complete.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    use std::io::Write;
    let mut f =
        nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
    let text = serde_json::to_string_pretty(value).map_err(|e| ImagingError::write(path, e))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| ImagingError::io(path, e))?;
    f.commit().map_err(|e| ImagingError::io(path, e))
}

/// Parameters of a synthetic HRTEM image: a round particle cut into `grains` equal sectors,
/// each with one set of lattice fringes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HrtemSimParams {
    /// Image side (px).
    pub size: usize,
    /// Pixel size (nm/px).
    pub pixel_nm: f64,
    /// Lattice spacing (nm), e.g. 0.2246 for Pd {111}.
    pub spacing_nm: f64,
    /// Particle radius (fraction of the image side).
    pub radius_fraction: f64,
    /// Number of grains.
    pub grains: usize,
    /// Spread orientations evenly over 180 degrees (plus a random offset and a jitter of up
    /// to `jitter_deg`), so grains are well separated; otherwise uniform at random.
    pub separated: bool,
    /// Largest random deviation from the even spread (degrees).
    pub jitter_deg: f64,
    /// Fringe amplitude (grey units).
    pub fringe_amplitude: f64,
    /// Gaussian noise (grey units).
    pub noise: f64,
    /// Random seed.
    pub seed: u64,
}

impl Default for HrtemSimParams {
    fn default() -> Self {
        Self {
            size: 256,
            pixel_nm: 0.025,
            spacing_nm: 0.2246,
            radius_fraction: 0.4,
            grains: 1,
            separated: true,
            jitter_deg: 5.0,
            fringe_amplitude: 1.0,
            noise: 1.0,
            seed: 1,
        }
    }
}

/// Truth of a synthetic HRTEM image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HrtemTruth {
    /// Wave-vector orientation of each grain's fringes (degrees, 0..180).
    pub orientations_deg: Vec<f64>,
    /// Pixel count of each grain.
    pub grain_px: Vec<usize>,
    /// Herman's in-plane f the grains' orientations give when each grain's spectral power
    /// is proportional to its area: |sum_k A_k exp(2 i theta_k)| / sum_k A_k.
    pub expected_f: f64,
}

/// Generate one synthetic HRTEM image.
pub fn simulate_hrtem(params: &HrtemSimParams) -> Result<(Image, HrtemTruth)> {
    if params.grains == 0 || params.size < 32 {
        return Err(ImagingError::Parameter(
            "an HRTEM image needs at least one grain and 32 px".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let k = params.grains;
    let offset = rng.gen::<f64>() * 180.0;
    let orientations: Vec<f64> = (0..k)
        .map(|i| {
            if params.separated {
                let jitter = (rng.gen::<f64>() * 2.0 - 1.0) * params.jitter_deg;
                (offset + i as f64 * 180.0 / k as f64 + jitter).rem_euclid(180.0)
            } else {
                rng.gen::<f64>() * 180.0
            }
        })
        .collect();
    let phases: Vec<f64> = (0..k).map(|_| rng.gen::<f64>() * 2.0 * PI).collect();
    let sector0 = rng.gen::<f64>() * 2.0 * PI;
    let n = params.size;
    let c = n as f64 / 2.0;
    let radius = params.radius_fraction * n as f64;
    let period_px = params.spacing_nm / params.pixel_nm;
    let noise = Normal::new(0.0, params.noise.max(1e-300))
        .map_err(|e| ImagingError::Parameter(e.to_string()))?;
    let dirs: Vec<(f64, f64)> = orientations
        .iter()
        .map(|t| (t.to_radians().cos(), t.to_radians().sin()))
        .collect();
    let mut grain_px = vec![0usize; k];
    let mut data = vec![0.0; n * n];
    for (i, v) in data.iter_mut().enumerate() {
        let (x, y) = ((i % n) as f64, (i / n) as f64);
        let (dx, dy) = (x - c, y - c);
        if dx.hypot(dy) < radius {
            let a = (dy.atan2(dx) - sector0).rem_euclid(2.0 * PI);
            let g = ((a / (2.0 * PI) * k as f64) as usize).min(k - 1);
            grain_px[g] += 1;
            let (cx, sy) = dirs[g];
            *v += 1.0
                + params.fringe_amplitude
                    * (2.0 * PI * (x * cx + y * sy) / period_px + phases[g]).cos();
        }
        if params.noise > 0.0 {
            *v += noise.sample(&mut rng);
        }
    }
    let total: f64 = grain_px.iter().map(|&a| a as f64).sum();
    let (sc, ss) = orientations
        .iter()
        .zip(&grain_px)
        .fold((0.0, 0.0), |s, (t, a)| {
            let t2 = 2.0 * t.to_radians();
            (s.0 + *a as f64 * t2.cos(), s.1 + *a as f64 * t2.sin())
        });
    Ok((
        Image::from_vec(n, n, data),
        HrtemTruth {
            orientations_deg: orientations,
            grain_px,
            expected_f: (sc * sc + ss * ss).sqrt() / total,
        },
    ))
}

//! Alignment of a measured tilt series: drift of every projection and the tilt axis off the
//! image centre (aet.md, "Reconstruction").
//!
//! 1. Centre of mass. Across the axis the centre of mass of projection k of a rigid object
//!    rotating about an axis at c follows u_k = c + a cos theta_k + b sin theta_k (a, b: the
//!    object's centre relative to the axis); a least-squares fit of that curve gives the axis
//!    position and, as residuals, the drift. Every projection is then shifted so that its
//!    centre of mass lands on the axis position of the geometry (n/2 by default): the object's
//!    centre then lies on the axis, which centres it in the volume.
//! 2. Along the axis a rigid rotation about y leaves the row profile (each image summed over
//!    its columns) unchanged, so profiles are aligned by cross-correlation with their mean.
//! 3. Projection matching: reconstruct, re-project, cross-correlate every projection with its
//!    re-projection (FFT, zero-padded, sub-pixel peak by a parabola through the logarithm of
//!    the three highest values), add the shift, repeat. With SIRT a round continues from the
//!    previous round's volume for a few iterations. On images over 128 pixels the first rounds
//!    run binned to about 64 pixels (cheap volumes), the last at full resolution. Shifts are always
//!    applied to the original images (a Fourier shift on a zero-padded copy), never
//!    compounded, so the images are interpolated once.
//!
//! Shifts are (across the axis, along the axis) = (columns, rows) in the volume frame, in
//! pixels: the content of the image moves by +shift.

use std::path::Path;
use std::sync::Arc;

use plotters::prelude::*;
use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};

use crate::error::{AetError, Result};
use crate::geometry::TiltGeometry;
use crate::project::{project_volume, r1};
use crate::reconstruct::{reconstruct, Method, MethodKind, ReconstructParams, Sart, Sirt};
use crate::series::{border_stats, write_bytes, Volume};

/// Parameters of [`align`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlignParams {
    /// Projection-matching rounds (0: centre of mass and profiles only).
    pub rounds: usize,
    /// How many of the last rounds run at full resolution (the others binned).
    pub full_resolution_rounds: usize,
    /// Images are binned by the largest power of two that keeps at least this many pixels.
    pub binned_size: usize,
    /// Reconstruction method of the rounds.
    pub method: MethodKind,
    /// Iterations of a round's reconstruction started from an empty volume.
    pub round_iterations: usize,
    /// SIRT: iterations of a round continuing from the previous round's volume (same binning;
    /// the shift updates are sub-pixel, so the volume needs only a few steps to follow).
    pub warm_iterations: usize,
    /// Stop when the rms update of a round falls below this (pixels).
    pub tolerance_px: f64,
    /// Largest shift a cross-correlation may find (fraction of the image edge).
    pub max_shift_fraction: f64,
}

impl Default for AlignParams {
    fn default() -> Self {
        Self {
            rounds: 5,
            full_resolution_rounds: 2,
            binned_size: 32,
            method: MethodKind::Sirt,
            round_iterations: 15,
            warm_iterations: 5,
            tolerance_px: 0.02,
            max_shift_fraction: 0.25,
        }
    }
}

/// The centre-of-mass fit across the axis: u_k = axis + a cos theta_k + b sin theta_k.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ComFit {
    /// Tilt axis position found, relative to the geometry's (pixels).
    pub axis_offset_px: f64,
    /// Object centre relative to the axis along x (pixels).
    pub a_px: f64,
    /// Object centre relative to the axis along z (pixels).
    pub b_px: f64,
    /// Rms of the residuals (the drift across the axis, pixels).
    pub rms_drift_px: f64,
}

/// One stage of the alignment.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AlignRound {
    /// 0: the series as read; 1: from the centre-of-mass and profile shifts; 2, 3, ...: after
    /// each projection-matching update.
    pub round: usize,
    /// Binning of the round's images (1: full resolution).
    pub binning: usize,
    /// R1 of the round's reconstruction against the images it was made from (shifted by the
    /// shifts before this round's update, binned).
    pub r1: f64,
    /// Rms of the shift update this round found (full-resolution pixels; round 0: none).
    pub rms_update_px: f64,
    /// Largest shift update this round found (full-resolution pixels).
    pub max_update_px: f64,
}

/// A finished alignment.
#[derive(Debug, Clone)]
pub struct Alignment {
    /// Shift applied to each projection: (across, along the axis), pixels.
    pub shifts_px: Vec<[f64; 2]>,
    /// The centre-of-mass fit of the series as read.
    pub com: ComFit,
    /// Axis offset of the final shifts: the constant of the fit c + a cos + b sin of the
    /// across-axis shifts, negated (pixels; positive: the axis lay at larger columns).
    pub axis_offset_px: f64,
    /// Drift across the axis of each projection: final across-axis shift minus that fit,
    /// negated (pixels).
    pub drift_px: Vec<f64>,
    /// R1 and updates of every round.
    pub rounds: Vec<AlignRound>,
    /// The aligned images, [projection][row][column].
    pub images: Vec<f32>,
}

/// Square 2D FFTs of edge `m` (rows then columns).
struct Fft2 {
    m: usize,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    fn new(m: usize) -> Self {
        let mut p = FftPlanner::new();
        Self {
            m,
            fwd: p.plan_fft_forward(m),
            inv: p.plan_fft_inverse(m),
        }
    }

    fn run(&self, a: &mut [Complex64], inverse: bool) {
        let m = self.m;
        let f = if inverse { &self.inv } else { &self.fwd };
        f.process(a);
        let mut col = vec![Complex64::default(); m];
        for x in 0..m {
            for y in 0..m {
                col[y] = a[y * m + x];
            }
            f.process(&mut col);
            for y in 0..m {
                a[y * m + x] = col[y];
            }
        }
    }

    /// An n x n image zero-padded into the top-left corner, transformed.
    fn forward_padded(&self, img: &[f32], n: usize) -> Vec<Complex64> {
        let m = self.m;
        let mut a = vec![Complex64::default(); m * m];
        for y in 0..n {
            for x in 0..n {
                a[y * m + x] = Complex64::new(img[y * n + x] as f64, 0.0);
            }
        }
        self.run(&mut a, false);
        a
    }

    /// Signed frequency of index `k`.
    fn freq(&self, k: usize) -> f64 {
        let m = self.m as i64;
        let k = k as i64;
        (if k > m / 2 { k - m } else { k }) as f64
    }
}

/// Shift every n x n image by `shifts[k]` = (columns, rows) pixels: a Fourier shift of a copy
/// zero-padded to 2n, so nothing wraps around; content leaving the image is lost.
pub fn shift_images(images: &[f32], n: usize, shifts: &[[f64; 2]]) -> Vec<f32> {
    let fft = Fft2::new(2 * n);
    let m = fft.m;
    let tau = 2.0 * std::f64::consts::PI;
    let mut out = vec![0.0f32; images.len()];
    out.par_chunks_mut(n * n)
        .zip(images.par_chunks(n * n))
        .zip(shifts.par_iter())
        .for_each(|((dst, src), s)| {
            if s[0] == 0.0 && s[1] == 0.0 {
                dst.copy_from_slice(src);
                return;
            }
            let mut a = fft.forward_padded(src, n);
            let px: Vec<Complex64> = (0..m)
                .map(|k| Complex64::from_polar(1.0, -tau * fft.freq(k) * s[0] / m as f64))
                .collect();
            for ky in 0..m {
                let py = Complex64::from_polar(1.0, -tau * fft.freq(ky) * s[1] / m as f64);
                for kx in 0..m {
                    a[ky * m + kx] *= px[kx] * py;
                }
            }
            fft.run(&mut a, true);
            let norm = 1.0 / (m * m) as f64;
            for y in 0..n {
                for x in 0..n {
                    dst[y * n + x] = (a[y * m + x].re * norm) as f32;
                }
            }
        });
    out
}

/// Sub-pixel position of a peak from three samples around the maximum: a parabola through
/// their logarithms when all are positive (exact for a Gaussian peak), else through the values.
fn peak_offset(lo: f64, mid: f64, hi: f64) -> f64 {
    let (l, c, h) = if lo > 0.0 && mid > 0.0 && hi > 0.0 {
        (lo.ln(), mid.ln(), hi.ln())
    } else {
        (lo, mid, hi)
    };
    let den = l - 2.0 * c + h;
    if den < 0.0 {
        (0.5 * (l - h) / den).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// The shift d (columns, rows) that moves image `a` onto image `b` (a(x - d) ~ b(x)): the
/// peak of their cross-correlation within `max_shift` pixels, to sub-pixel precision.
pub fn cross_correlation_shift(a: &[f32], b: &[f32], n: usize, max_shift: f64) -> [f64; 2] {
    let fft = Fft2::new(2 * n);
    cc_shift(&fft, a, b, n, max_shift)
}

fn cc_shift(fft: &Fft2, a: &[f32], b: &[f32], n: usize, max_shift: f64) -> [f64; 2] {
    let m = fft.m;
    let fa = fft.forward_padded(a, n);
    let mut c = fft.forward_padded(b, n);
    for (x, y) in c.iter_mut().zip(&fa) {
        *x *= y.conj();
    }
    fft.run(&mut c, true);
    let at = |dx: i64, dy: i64| {
        let (x, y) = (
            dx.rem_euclid(m as i64) as usize,
            dy.rem_euclid(m as i64) as usize,
        );
        c[y * m + x].re
    };
    let r = (max_shift.max(1.0) as i64).min(n as i64 - 1);
    let (mut best, mut bx, mut by) = (f64::MIN, 0i64, 0i64);
    for dy in -r..=r {
        for dx in -r..=r {
            let v = at(dx, dy);
            if v > best {
                (best, bx, by) = (v, dx, dy);
            }
        }
    }
    [
        bx as f64 + peak_offset(at(bx - 1, by), best, at(bx + 1, by)),
        by as f64 + peak_offset(at(bx, by - 1), best, at(bx, by + 1)),
    ]
}

/// Centre of mass (column, row) of an image over pixels more than twice its border noise
/// above its border level.
fn centre_of_mass(img: &[f32], n: usize) -> Option<[f64; 2]> {
    let (level, noise) = border_stats(img, n);
    let t = level + 2.0 * noise;
    let (mut s, mut su, mut sv) = (0.0, 0.0, 0.0);
    for (i, &p) in img.iter().enumerate() {
        let w = p as f64 - t;
        if w > 0.0 {
            s += w;
            su += w * (i % n) as f64;
            sv += w * (i / n) as f64;
        }
    }
    (s > 0.0).then(|| [su / s, sv / s])
}

/// Least squares of values[k] = c + a cos theta_k + b sin theta_k: (c, a, b) and residuals.
pub fn fit_cos_sin(angles_deg: &[f64], values: &[f64]) -> ([f64; 3], Vec<f64>) {
    let mut ata = nalgebra::Matrix3::<f64>::zeros();
    let mut atb = nalgebra::Vector3::<f64>::zeros();
    let rows: Vec<nalgebra::Vector3<f64>> = angles_deg
        .iter()
        .map(|a| {
            let t = a.to_radians();
            nalgebra::Vector3::new(1.0, t.cos(), t.sin())
        })
        .collect();
    for (r, v) in rows.iter().zip(values) {
        ata += r * r.transpose();
        atb += r * *v;
    }
    // Few or nearly equal angles leave a or b undetermined: a little ridge on them only.
    ata[(1, 1)] += 1e-9;
    ata[(2, 2)] += 1e-9;
    let sol = ata.lu().solve(&atb).unwrap_or_default();
    let coef = [sol[0], sol[1], sol[2]];
    let resid = rows
        .iter()
        .zip(values)
        .map(|(r, v)| v - r.dot(&sol))
        .collect();
    (coef, resid)
}

/// Linear-interpolated value of a profile at a real index (0 outside).
fn sample(p: &[f64], x: f64) -> f64 {
    let f = x.floor();
    let i = f as i64;
    let w = x - f;
    let get = |j: i64| {
        if j >= 0 && (j as usize) < p.len() {
            p[j as usize]
        } else {
            0.0
        }
    };
    (1.0 - w) * get(i) + w * get(i + 1)
}

/// Shift of profile `a` onto `b` by cross-correlation over integer lags within `r`.
fn profile_shift(a: &[f64], b: &[f64], r: i64) -> f64 {
    let n = a.len() as i64;
    let cc = |d: i64| -> f64 {
        (0..n)
            .filter(|&x| x - d >= 0 && x - d < n)
            .map(|x| b[x as usize] * a[(x - d) as usize])
            .sum()
    };
    let (mut best, mut bd) = (f64::MIN, 0);
    for d in -r..=r {
        let v = cc(d);
        if v > best {
            (best, bd) = (v, d);
        }
    }
    bd as f64 + peak_offset(cc(bd - 1), best, cc(bd + 1))
}

/// Centre-of-mass alignment across the axis and profile alignment along it: the shifts and
/// the fit of the series as read.
pub fn coarse_shifts(images: &[f32], geom: &TiltGeometry) -> Result<(Vec<[f64; 2]>, ComFit)> {
    let n = geom.n;
    let coms: Vec<[f64; 2]> = images
        .par_chunks(n * n)
        .enumerate()
        .map(|(k, img)| {
            centre_of_mass(img, n).ok_or_else(|| {
                AetError::Invalid(format!(
                    "projection {k}: no pixel above the background noise; cannot align"
                ))
            })
        })
        .collect::<Result<_>>()?;
    let us: Vec<f64> = coms.iter().map(|c| c[0]).collect();
    let (coef, resid) = fit_cos_sin(&geom.angles_deg, &us);
    let com = ComFit {
        axis_offset_px: coef[0] - geom.centre_px,
        a_px: coef[1],
        b_px: coef[2],
        rms_drift_px: (resid.iter().map(|r| r * r).sum::<f64>() / resid.len() as f64).sqrt(),
    };
    let v_mean = coms.iter().map(|c| c[1]).sum::<f64>() / coms.len() as f64;
    let mut shifts: Vec<[f64; 2]> = coms
        .iter()
        .map(|c| [geom.centre_px - c[0], v_mean - c[1]])
        .collect();
    // Row profiles (images summed over columns) do not change with tilt: align them on their
    // mean, twice (the mean sharpens as they line up).
    let profiles: Vec<Vec<f64>> = images
        .chunks(n * n)
        .map(|img| {
            (0..n)
                .map(|y| img[y * n..(y + 1) * n].iter().map(|&v| v as f64).sum())
                .collect()
        })
        .collect();
    let r = (n as i64 / 8).max(2);
    for _ in 0..2 {
        let moved: Vec<Vec<f64>> = profiles
            .iter()
            .zip(&shifts)
            .map(|(p, s)| (0..n).map(|y| sample(p, y as f64 - s[1])).collect())
            .collect();
        let mean: Vec<f64> = (0..n)
            .map(|y| moved.iter().map(|p| p[y]).sum::<f64>() / moved.len() as f64)
            .collect();
        let d: Vec<f64> = moved.iter().map(|p| profile_shift(p, &mean, r)).collect();
        let dm = d.iter().sum::<f64>() / d.len() as f64;
        for (s, d) in shifts.iter_mut().zip(&d) {
            s[1] += d - dm;
        }
    }
    Ok((shifts, com))
}

/// Bin n x n images by `b` (sums of b x b blocks; a remainder at the far edges is dropped).
fn bin_images(images: &[f32], n: usize, b: usize) -> (Vec<f32>, usize) {
    if b == 1 {
        return (images.to_vec(), n);
    }
    let nb = n / b;
    let mut out = vec![0.0f32; images.len() / (n * n) * nb * nb];
    out.par_chunks_mut(nb * nb)
        .zip(images.par_chunks(n * n))
        .for_each(|(dst, src)| {
            for y in 0..nb * b {
                for x in 0..nb * b {
                    dst[(y / b) * nb + x / b] += src[y * n + x];
                }
            }
        });
    (out, nb)
}

/// Align `images` ([projection][row][column], volume frame: axis along rows) taken with
/// `geom`: centre of mass and profiles, then projection-matching rounds. `progress` is called
/// after every round.
pub fn align(
    images: &[f32],
    geom: &TiltGeometry,
    params: &AlignParams,
    progress: &mut dyn FnMut(&AlignRound),
) -> Result<Alignment> {
    let n = geom.n;
    let na = geom.n_angles();
    if images.len() != na * n * n {
        return Err(AetError::Invalid(format!(
            "{} pixels for {na} projections of {n} x {n}",
            images.len()
        )));
    }
    if na < 3 {
        return Err(AetError::Invalid(
            "alignment needs at least 3 projections".into(),
        ));
    }
    let (mut shifts, com) = coarse_shifts(images, geom)?;
    let mut bin = 1;
    while n / (2 * bin) >= params.binned_size.max(8) {
        bin *= 2;
    }
    let max_shift = params.max_shift_fraction * n as f64;
    let mut rounds = Vec::new();
    // Round 0: the series as read (R1 only, for the record).
    let zero = vec![[0.0; 2]; na];
    let (r1v, _, _) = match_round(images, geom, &zero, bin, params, 0.0, None)?;
    let r = AlignRound {
        round: 0,
        binning: bin,
        r1: r1v,
        rms_update_px: 0.0,
        max_update_px: 0.0,
    };
    progress(&r);
    rounds.push(r);
    let mut prev: Option<(usize, Volume)> = None;
    for i in 0..params.rounds {
        let b = if i + params.full_resolution_rounds >= params.rounds {
            1
        } else {
            bin
        };
        let start = prev.take().filter(|(pb, _)| *pb == b).map(|(_, v)| v);
        let (r1v, d, vol) = match_round(images, geom, &shifts, b, params, max_shift, start)?;
        prev = Some((b, vol));
        let dm = d.iter().map(|v| v[1]).sum::<f64>() / na as f64;
        let mut upd = Vec::with_capacity(na);
        for (s, d) in shifts.iter_mut().zip(&d) {
            // Along the axis only relative shifts are defined: keep their mean.
            let step = [d[0], d[1] - dm];
            s[0] += step[0];
            s[1] += step[1];
            upd.push(step[0].hypot(step[1]));
        }
        let r = AlignRound {
            round: i + 1,
            binning: b,
            r1: r1v,
            rms_update_px: rms(&upd),
            max_update_px: upd.iter().fold(0.0, |m, &v| m.max(v)),
        };
        progress(&r);
        rounds.push(r);
        if b == 1 && r.rms_update_px < params.tolerance_px {
            break;
        }
    }
    let us: Vec<f64> = shifts.iter().map(|s| s[0]).collect();
    let (coef, resid) = fit_cos_sin(&geom.angles_deg, &us);
    Ok(Alignment {
        images: shift_images(images, n, &shifts),
        shifts_px: shifts,
        com,
        axis_offset_px: -coef[0],
        drift_px: resid.iter().map(|r| -r).collect(),
        rounds,
    })
}

fn rms(v: &[f64]) -> f64 {
    (v.iter().map(|x| x * x).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

/// One projection-matching round at binning `b`: shift the originals, bin, reconstruct
/// (SIRT continues from `start` when given), re-project; R1, the shift update of every
/// projection when `max_shift` > 0 (full-resolution pixels), and the volume.
fn match_round(
    images: &[f32],
    geom: &TiltGeometry,
    shifts: &[[f64; 2]],
    b: usize,
    params: &AlignParams,
    max_shift: f64,
    start: Option<Volume>,
) -> Result<(f64, Vec<[f64; 2]>, Volume)> {
    let n = geom.n;
    let shifted = shift_images(images, n, shifts);
    let (binned, nb) = bin_images(&shifted, n, b);
    // Binned pixel i covers original pixels b i .. b i + b - 1: original x = b i + (b - 1)/2.
    let centre = (geom.centre_px - (b as f64 - 1.0) / 2.0) / b as f64;
    let g = TiltGeometry::new(geom.angles_deg.clone(), nb, geom.pixel_a * b as f64)?
        .with_centre_px(centre)?;
    let volume = match (params.method, start) {
        (MethodKind::Sirt, Some(vol)) => {
            let mut sirt = Sirt::new(&binned, &g, 1.0, Some(&vol));
            for _ in 0..params.warm_iterations.max(1) {
                sirt.step();
            }
            sirt.volume()
        }
        (MethodKind::Sart, Some(vol)) => {
            let mut sart = Sart::new(&binned, &g, 1.0, 0, Some(&vol));
            for _ in 0..params.warm_iterations.max(1) {
                sart.step();
            }
            sart.volume()
        }
        _ => {
            let rp = ReconstructParams {
                method: params.method,
                iterations: params.round_iterations.max(1),
                r1_every: 0,
                ..Default::default()
            };
            reconstruct(&binned, &g, &rp, &mut |_| {})?.volume
        }
    };
    let calc = project_volume(&volume, &g);
    let r1v = r1(&binned, &calc);
    if max_shift <= 0.0 {
        return Ok((r1v, Vec::new(), volume));
    }
    let fft = Fft2::new(2 * nb);
    let d: Vec<[f64; 2]> = binned
        .par_chunks(nb * nb)
        .zip(calc.par_chunks(nb * nb))
        .map(|(m, c)| {
            let s = cc_shift(&fft, m, c, nb, max_shift / b as f64);
            [s[0] * b as f64, s[1] * b as f64]
        })
        .collect();
    Ok((r1v, d, volume))
}

/// Plot the shifts against the tilt angle and R1 against the round (SVG, two panels).
pub fn alignment_svg(path: &Path, angles_deg: &[f64], a: &Alignment) -> Result<()> {
    let mut svg = String::new();
    {
        let err = |e: String| AetError::format(path, format!("cannot draw the alignment: {e}"));
        let root = SVGBackend::with_string(&mut svg, (1000, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let (left, right) = root.split_horizontally(620);
        let lo = angles_deg.iter().copied().fold(f64::MAX, f64::min) - 2.0;
        let hi = angles_deg.iter().copied().fold(f64::MIN, f64::max) + 2.0;
        let smax = a
            .shifts_px
            .iter()
            .flat_map(|s| s.iter().map(|v| v.abs()))
            .fold(1.0f64, f64::max)
            * 1.1;
        let mut chart = ChartBuilder::on(&left)
            .caption("shift applied to each projection", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(lo..hi, -smax..1.8 * smax)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("tilt angle (degrees)")
            .y_desc("shift (pixels)")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (i, (label, col)) in [("across the axis", BLUE), ("along the axis", RED)]
            .into_iter()
            .enumerate()
        {
            let pts: Vec<(f64, f64)> = angles_deg
                .iter()
                .zip(&a.shifts_px)
                .map(|(t, s)| (*t, s[i]))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), col.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col));
            chart
                .draw_series(pts.iter().map(|p| Circle::new(*p, 3, col.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let rmax = a.rounds.iter().map(|r| r.r1).fold(0.1f64, f64::max) * 1.1;
        let last = a.rounds.last().map(|r| r.round).unwrap_or(1) as f64 + 0.5;
        let mut chart = ChartBuilder::on(&right)
            .caption("R1 of each round", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(-0.5..last, 0.0..rmax)
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("round (0: as read, 1: centre of mass)")
            .y_desc("R1")
            .draw()
            .map_err(|e| err(e.to_string()))?;
        let pts: Vec<(f64, f64)> = a.rounds.iter().map(|r| (r.round as f64, r.r1)).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), BLACK.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?;
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 4, BLACK.filled())))
            .map_err(|e| err(e.to_string()))?;
        root.present().map_err(|e| err(e.to_string()))?;
    }
    write_bytes(path, svg.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian_image(n: usize, cx: f64, cy: f64, s: f64) -> Vec<f32> {
        (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f64, (i / n) as f64);
                (100.0 * (-((x - cx).powi(2) + (y - cy).powi(2)) / (2.0 * s * s)).exp()) as f32
            })
            .collect()
    }

    #[test]
    fn fourier_shift_moves_a_blob_by_the_shift() {
        let n = 32;
        let img = gaussian_image(n, 14.0, 17.0, 2.0);
        let out = shift_images(&img, n, &[[3.4, -2.7]]);
        let want = gaussian_image(n, 17.4, 14.3, 2.0);
        let err = out
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        // Band-limited enough that the Fourier shift is exact to a few 1e-3 of the peak.
        assert!(err < 0.3, "{err}");
    }

    #[test]
    fn cross_correlation_finds_sub_pixel_shifts() {
        let n = 32;
        let a = gaussian_image(n, 16.3, 15.8, 2.5);
        for d in [[0.0, 0.0], [4.37, -3.21], [-6.8, 0.45]] {
            let b = gaussian_image(n, 16.3 + d[0], 15.8 + d[1], 2.5);
            let s = cross_correlation_shift(&a, &b, n, 10.0);
            // The correlation of two Gaussians is a Gaussian: the log-parabola is exact.
            assert!(
                (s[0] - d[0]).abs() < 1e-3 && (s[1] - d[1]).abs() < 1e-3,
                "{s:?} {d:?}"
            );
        }
    }

    #[test]
    fn cos_sin_fit_recovers_its_coefficients() {
        let angles: Vec<f64> = (-6..=6).map(|i| i as f64 * 10.0).collect();
        let v: Vec<f64> = angles
            .iter()
            .map(|a| {
                let t = a.to_radians();
                3.0 - 1.5 * t.cos() + 2.5 * t.sin()
            })
            .collect();
        let (c, r) = fit_cos_sin(&angles, &v);
        assert!((c[0] - 3.0).abs() < 1e-6 && (c[1] + 1.5).abs() < 1e-6);
        assert!((c[2] - 2.5).abs() < 1e-6);
        assert!(r.iter().all(|x| x.abs() < 1e-6));
    }

    #[test]
    fn binning_keeps_totals() {
        let img: Vec<f32> = (0..36).map(|i| i as f32).collect();
        let (b, nb) = bin_images(&img, 6, 2);
        assert_eq!(nb, 3);
        assert_eq!(b[0], 0.0 + 1.0 + 6.0 + 7.0);
        assert_eq!(b.iter().sum::<f32>(), img.iter().sum::<f32>());
    }
}

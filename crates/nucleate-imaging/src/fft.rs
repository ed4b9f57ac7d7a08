//! Fourier analysis of frames: 2D FFT, drift by phase correlation, and crystallinity of
//! high-resolution frames (Herman's orientation order parameter of the lattice fringes and
//! the number of distinct lattice orientations).

use std::f64::consts::PI;

use rayon::prelude::*;
use rustfft::num_complex::Complex64;
use rustfft::FftPlanner;
use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use crate::image::Image;

/// In-place 2D FFT of a row-major `width` x `height` complex array (forward, or inverse
/// without normalisation).
pub fn fft2(data: &mut [Complex64], width: usize, height: usize, inverse: bool) {
    let mut planner = FftPlanner::<f64>::new();
    let (row_fft, col_fft) = if inverse {
        (
            planner.plan_fft_inverse(width),
            planner.plan_fft_inverse(height),
        )
    } else {
        (
            planner.plan_fft_forward(width),
            planner.plan_fft_forward(height),
        )
    };
    data.par_chunks_mut(width).for_each_init(
        || vec![Complex64::default(); row_fft.get_inplace_scratch_len()],
        |s, row| row_fft.process_with_scratch(row, s),
    );
    // Columns through a transposed copy, so each transform runs on contiguous memory.
    let mut t = vec![Complex64::default(); width * height];
    transpose(data, &mut t, width, height);
    t.par_chunks_mut(height).for_each_init(
        || vec![Complex64::default(); col_fft.get_inplace_scratch_len()],
        |s, col| col_fft.process_with_scratch(col, s),
    );
    transpose(&t, data, height, width);
}

/// Transpose a `width` x `height` row-major array into `out` (`height` x `width`), in tiles.
fn transpose(src: &[Complex64], out: &mut [Complex64], width: usize, height: usize) {
    const T: usize = 32;
    out.par_chunks_mut(height * T)
        .enumerate()
        .for_each(|(bx, block)| {
            let x0 = bx * T;
            let x1 = (x0 + T).min(width);
            for y0 in (0..height).step_by(T) {
                let y1 = (y0 + T).min(height);
                for x in x0..x1 {
                    for y in y0..y1 {
                        block[(x - x0) * height + y] = src[y * width + x];
                    }
                }
            }
        });
}

/// Periodic Hann window value at position `i` of `n`.
fn hann(i: usize, n: usize) -> f64 {
    if n <= 1 {
        return 1.0;
    }
    0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()
}

/// Mean-subtracted, Hann-windowed copy of an image as complex values.
fn windowed(img: &Image) -> Vec<Complex64> {
    let (w, h) = (img.width, img.height);
    let mean = img.data.iter().sum::<f64>() / img.len().max(1) as f64;
    let wx: Vec<f64> = (0..w).map(|i| hann(i, w)).collect();
    let wy: Vec<f64> = (0..h).map(|i| hann(i, h)).collect();
    img.data
        .iter()
        .enumerate()
        .map(|(i, v)| Complex64::new((v - mean) * wx[i % w] * wy[i / w], 0.0))
        .collect()
}

/// Signed frequency index of FFT bin `k` of `n`.
fn signed(k: usize, n: usize) -> f64 {
    if k <= n / 2 {
        k as f64
    } else {
        k as f64 - n as f64
    }
}

/// Shift (dx, dy) in pixels of `b` relative to `a` (b(x) = a(x - d)) by phase correlation
/// of the Hann-windowed frames (low-pass weighted), to sub-pixel precision by a Gaussian
/// through the peak and its neighbours.
pub fn phase_correlation(a: &Image, b: &Image) -> (f64, f64) {
    let (w, h) = (a.width, a.height);
    let mut fa = windowed(a);
    let mut fb = windowed(b);
    fft2(&mut fa, w, h, false);
    fft2(&mut fb, w, h, false);
    // Cross-power spectrum divided by the square root of its modulus, weighted by a
    // Gaussian low-pass exp(-k^2 / 2 k0^2), k0 = 0.1 cycles/px: high frequencies are mostly
    // noise in low-dose frames.
    const K0: f64 = 0.1;
    let mut r: Vec<Complex64> = fa
        .iter()
        .zip(&fb)
        .enumerate()
        .map(|(i, (x, y))| {
            let (ku, kv) = (signed(i % w, w) / w as f64, signed(i / w, h) / h as f64);
            let weight = (-(ku * ku + kv * kv) / (2.0 * K0 * K0)).exp();
            let c = y * x.conj();
            // Square-root (partial) whitening: sharper than cross-correlation, less
            // noise-driven than pure phase correlation.
            let m = c.norm().sqrt();
            if m > 1e-300 {
                c * (weight / m)
            } else {
                Complex64::default()
            }
        })
        .collect();
    fft2(&mut r, w, h, true);
    let (mut best, mut bi) = (f64::NEG_INFINITY, 0);
    for (i, v) in r.iter().enumerate() {
        if v.re > best {
            best = v.re;
            bi = i;
        }
    }
    let (px, py) = (bi % w, bi / w);
    let at = |x: isize, y: isize| {
        r[(y.rem_euclid(h as isize) as usize) * w + x.rem_euclid(w as isize) as usize].re
    };
    // The low-pass weight makes the peak a Gaussian (sigma 1/(2 pi k0) = 1.6 px), so a
    // parabola through the logarithms of the peak and its neighbours locates it without the
    // bias a parabola has on the sharp peak of unweighted phase correlation.
    let sub = |m: f64, c: f64, p: f64| {
        let (lm, lc, lp) = (m.max(c * 1e-6).ln(), c.ln(), p.max(c * 1e-6).ln());
        let den = lm - 2.0 * lc + lp;
        if c > 0.0 && den < 0.0 {
            (0.5 * (lm - lp) / den).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    };
    let (xi, yi) = (px as isize, py as isize);
    let ox = sub(at(xi - 1, yi), best, at(xi + 1, yi));
    let oy = sub(at(xi, yi - 1), best, at(xi, yi + 1));
    (signed(px, w) + ox, signed(py, h) + oy)
}

/// Which Herman order parameter to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum HermanForm {
    /// In-plane: f = 2 <cos^2 theta> - 1 (0 for an isotropic ring, 1 for one orientation).
    #[default]
    InPlane,
    /// 3D fibre: f = (3 <cos^2 theta> - 1) / 2 with sin(theta) weights in both sums.
    Fibre,
}

/// Parameters of the crystallinity analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrystallinityParams {
    /// Pixel size (nm per pixel).
    pub pixel_nm: f64,
    /// Lattice spacing (nm); `None`: the strongest ring of the power spectrum.
    pub spacing_nm: Option<f64>,
    /// Symmetry period of the pattern (degrees): 180 for one set of fringes, 90 square,
    /// 60 hexagonal.
    pub symmetry_deg: f64,
    /// Half-width of the lattice annulus relative to its spatial frequency.
    pub annulus_rel_width: f64,
    /// Order parameter form.
    pub form: HermanForm,
    /// A peak of the smoothed I(theta) counts as an orientation when it reaches this
    /// fraction of the highest peak.
    pub min_peak_fraction: f64,
    /// Peaks closer than this (degrees, after folding) are one orientation.
    pub min_separation_deg: f64,
}

impl Default for CrystallinityParams {
    fn default() -> Self {
        Self {
            pixel_nm: 0.02,
            spacing_nm: None,
            symmetry_deg: 180.0,
            annulus_rel_width: 0.1,
            form: HermanForm::InPlane,
            min_peak_fraction: 0.25,
            min_separation_deg: 10.0,
        }
    }
}

/// Crystallinity of one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Crystallinity {
    /// Herman's orientation order parameter.
    pub herman_f: f64,
    /// Number of distinct lattice orientations (peaks of I(theta)).
    pub n_orientations: usize,
    /// Lattice spacing used (nm).
    pub spacing_nm: f64,
    /// Dominant orientation of the wave vector, folded into the symmetry period (degrees).
    pub dominant_deg: f64,
    /// Background-removed azimuthal intensity of the annulus, folded: one value per degree
    /// of the folded angle, 0..180.
    pub intensity: Vec<f64>,
}

const THETA_BINS: usize = 180;

/// Power spectrum of a mean-subtracted, Hann-windowed frame (unshifted: bin (u, v) is
/// frequency (signed(u)/w, signed(v)/h) cycles per pixel).
pub fn power_spectrum(img: &Image) -> Vec<f64> {
    let mut f = windowed(img);
    fft2(&mut f, img.width, img.height, false);
    f.iter().map(|c| c.norm_sqr()).collect()
}

/// Spatial frequency (cycles/nm) of the strongest ring: the highest radial-mean power above
/// a power-law baseline (a line fitted to log power vs log frequency, refitted twice without
/// the points above it), between periods of 16 px and 2.2 px.
fn strongest_ring(power: &[f64], w: usize, h: usize, pixel_nm: f64) -> Option<f64> {
    let n = w.max(h) as f64;
    let nbins = (n / 2.0) as usize;
    let mut sum = vec![0.0; nbins];
    let mut count = vec![0.0; nbins];
    for v in 0..h {
        let fv = signed(v, h) / h as f64;
        for u in 0..w {
            let fu = signed(u, w) / w as f64;
            let k = ((fu * fu + fv * fv).sqrt() * n).round() as usize;
            if k < nbins {
                sum[k] += power[v * w + u];
                count[k] += 1.0;
            }
        }
    }
    let k_min = ((n / 16.0).ceil() as usize).max(2);
    let k_max = ((n / 2.2).floor() as usize).min(nbins - 1);
    if k_min + 3 > k_max {
        return None;
    }
    let pts: Vec<(f64, f64, usize)> = (k_min..=k_max)
        .filter(|k| count[*k] > 0.0 && sum[*k] > 0.0)
        .map(|k| ((k as f64).ln(), (sum[k] / count[k]).ln(), k))
        .collect();
    let mut keep = vec![true; pts.len()];
    let mut line = (0.0, 0.0);
    for _ in 0..3 {
        let sel: Vec<_> = pts
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p)
            .collect();
        let m = sel.len() as f64;
        let (sx, sy) = sel.iter().fold((0.0, 0.0), |a, p| (a.0 + p.0, a.1 + p.1));
        let (mx, my) = (sx / m, sy / m);
        let (sxx, sxy) = sel.iter().fold((0.0, 0.0), |a, p| {
            (a.0 + (p.0 - mx).powi(2), a.1 + (p.0 - mx) * (p.1 - my))
        });
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        line = (my - slope * mx, slope);
        let resid: Vec<f64> = pts.iter().map(|p| p.1 - line.0 - line.1 * p.0).collect();
        let (_, s) = crate::image::median_mad_sigma(&resid);
        keep = resid.iter().map(|r| *r < 2.0 * s.max(1e-12)).collect();
    }
    let resid: Vec<f64> = pts.iter().map(|p| p.1 - line.0 - line.1 * p.0).collect();
    let (i, _) = resid.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1))?;
    // Sub-bin position by a parabola through the peak and its neighbours.
    let mut k = pts[i].2 as f64;
    if i > 0 && i + 1 < resid.len() {
        let den = resid[i - 1] - 2.0 * resid[i] + resid[i + 1];
        if den.abs() > 1e-300 {
            k += (0.5 * (resid[i - 1] - resid[i + 1]) / den).clamp(-0.5, 0.5);
        }
    }
    Some(k / n / pixel_nm)
}

/// Circular Gaussian smoothing of a periodic histogram (sigma in bins).
fn smooth_circular(v: &[f64], sigma: f64) -> Vec<f64> {
    let n = v.len() as isize;
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-0.5 * (i as f64 / sigma).powi(2)).exp())
        .collect();
    let ks: f64 = k.iter().sum();
    (0..n)
        .map(|i| {
            (-r..=r)
                .map(|d| k[(d + r) as usize] * v[(i + d).rem_euclid(n) as usize])
                .sum::<f64>()
                / ks
        })
        .collect()
}

/// Peaks of a periodic histogram (one bin per degree): local maxima of the smoothed
/// values reaching `min_fraction` of the highest, greedily kept from the highest down when
/// at least `min_sep` bins from every kept one.
fn count_peaks(v: &[f64], min_fraction: f64, min_sep: f64) -> usize {
    let n = v.len();
    let s = smooth_circular(v, 2.0);
    let top = s.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return 0;
    }
    let mut peaks: Vec<usize> = (0..n)
        .filter(|&i| {
            let (l, r) = (s[(i + n - 1) % n], s[(i + 1) % n]);
            s[i] >= min_fraction * top && s[i] > l && s[i] >= r
        })
        .collect();
    peaks.sort_by(|a, b| s[*b].total_cmp(&s[*a]));
    let mut kept: Vec<usize> = Vec::new();
    for p in peaks {
        let far = kept.iter().all(|&q| {
            let d = (p as f64 - q as f64).abs();
            d.min(n as f64 - d) >= min_sep
        });
        if far {
            kept.push(p);
        }
    }
    kept.len()
}

/// Crystallinity of one frame (use a crop around the particle).
pub fn crystallinity(img: &Image, params: &CrystallinityParams) -> Result<Crystallinity> {
    let (w, h) = (img.width, img.height);
    if w < 16 || h < 16 {
        return Err(ImagingError::Parameter(format!(
            "a {w}x{h} frame is too small for a lattice analysis (at least 16x16 px)"
        )));
    }
    if !(params.pixel_nm.is_finite() && params.pixel_nm > 0.0) {
        return Err(ImagingError::Parameter(format!(
            "pixel size must be positive, got {} nm",
            params.pixel_nm
        )));
    }
    let period = params.symmetry_deg;
    let fold = 180.0 / period;
    if !(period > 0.0 && period <= 180.0 && (fold - fold.round()).abs() < 1e-9) {
        return Err(ImagingError::Parameter(format!(
            "symmetry period must divide 180 degrees, got {period}"
        )));
    }
    let fold = fold.round() as usize;
    let power = power_spectrum(img);
    let q0 = match params.spacing_nm {
        Some(d) => {
            let nyquist = 0.5 / params.pixel_nm;
            if !(d.is_finite() && d > 0.0 && 1.0 / d < nyquist) {
                return Err(ImagingError::Parameter(format!(
                    "lattice spacing {d} nm is not resolved at {} nm per pixel (needs > {} nm)",
                    params.pixel_nm,
                    2.0 * params.pixel_nm
                )));
            }
            1.0 / d
        }
        None => strongest_ring(&power, w, h, params.pixel_nm).ok_or_else(|| {
            ImagingError::Parameter(format!("a {w}x{h} frame is too small to find a ring"))
        })?,
    };
    // Annulus |q - q0| <= hw and background bands hw < |q - q0| <= 2 hw, per theta bin.
    let hw = params.annulus_rel_width * q0;
    let mut ann = vec![0.0; THETA_BINS];
    let mut ann_n = vec![0.0; THETA_BINS];
    let mut bg = vec![0.0; THETA_BINS];
    let mut bg_n = vec![0.0; THETA_BINS];
    for v in 0..h {
        let fv = signed(v, h) / h as f64 / params.pixel_nm;
        for u in 0..w {
            let fu = signed(u, w) / w as f64 / params.pixel_nm;
            let dq = ((fu * fu + fv * fv).sqrt() - q0).abs();
            if dq > 2.0 * hw {
                continue;
            }
            let theta = fv.atan2(fu).rem_euclid(PI);
            let b = ((theta / PI * THETA_BINS as f64) as usize).min(THETA_BINS - 1);
            let p = power[v * w + u];
            if dq <= hw {
                ann[b] += p;
                ann_n[b] += 1.0;
            } else {
                bg[b] += p;
                bg_n[b] += 1.0;
            }
        }
    }
    let bg_all = bg.iter().sum::<f64>() / bg_n.iter().sum::<f64>().max(1.0);
    let mut folded = vec![0.0; THETA_BINS];
    for b in 0..THETA_BINS {
        let per_px = if bg_n[b] > 0.0 {
            bg[b] / bg_n[b]
        } else {
            bg_all
        };
        let i = (ann[b] - ann_n[b] * per_px).max(0.0);
        folded[(b * fold) % THETA_BINS] += i;
    }
    let total: f64 = folded.iter().sum();
    let angle = |b: usize| (b as f64 + 0.5) / THETA_BINS as f64 * PI;
    let (sc, ss) = folded.iter().enumerate().fold((0.0, 0.0), |a, (b, i)| {
        (
            a.0 + i * (2.0 * angle(b)).cos(),
            a.1 + i * (2.0 * angle(b)).sin(),
        )
    });
    let dominant = 0.5 * ss.atan2(sc);
    let herman_f = if total <= 0.0 {
        0.0
    } else {
        match params.form {
            HermanForm::InPlane => (sc * sc + ss * ss).sqrt() / total,
            HermanForm::Fibre => {
                let (mut num, mut den) = (0.0, 0.0);
                for (b, i) in folded.iter().enumerate() {
                    let psi = angle(b) - dominant;
                    let wgt = i * psi.sin().abs();
                    num += wgt * psi.cos().powi(2);
                    den += wgt;
                }
                if den > 0.0 {
                    (3.0 * num / den - 1.0) / 2.0
                } else {
                    1.0
                }
            }
        }
    };
    let n_orientations = count_peaks(
        &folded,
        params.min_peak_fraction,
        params.min_separation_deg * fold as f64,
    );
    Ok(Crystallinity {
        herman_f,
        n_orientations,
        spacing_nm: 1.0 / q0,
        dominant_deg: (dominant.to_degrees().rem_euclid(180.0)) / fold as f64,
        intensity: folded,
    })
}

/// Crystallinity of every frame of an image or movie (TIFF pages, a PNG, or a folder of
/// frames), streamed a few frames at a time and analysed in parallel.
pub fn crystallinity_of_movie(
    path: &std::path::Path,
    params: &CrystallinityParams,
) -> Result<Vec<Crystallinity>> {
    let is_png = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    let mut frames: Box<dyn Iterator<Item = Result<Image>>> = if is_png && path.is_file() {
        Box::new(std::iter::once(crate::movie::io::read_png(path, 0)))
    } else {
        Box::new(crate::movie::io::MovieReader::open(path)?)
    };
    let chunk = 2 * rayon::current_num_threads().max(1);
    let mut out = Vec::new();
    loop {
        let batch: Vec<Image> = frames.by_ref().take(chunk).collect::<Result<_>>()?;
        if batch.is_empty() {
            break;
        }
        let first = out.len();
        let results: Vec<Result<Crystallinity>> = batch
            .par_iter()
            .enumerate()
            .map(|(k, img)| {
                crystallinity(img, params).map_err(|e| ImagingError::Frame {
                    path: path.to_path_buf(),
                    frame: first + k,
                    message: e.to_string(),
                })
            })
            .collect();
        for r in results {
            out.push(r?);
        }
    }
    if out.is_empty() {
        return Err(ImagingError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(out)
}

/// Write `frame,herman_f,n_orientations,spacing_nm`; the file appears only complete.
pub fn write_crystallinity_csv(path: &std::path::Path, rows: &[Crystallinity]) -> Result<()> {
    let file =
        nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
    let mut w = csv::Writer::from_writer(file);
    let err = |e: csv::Error| ImagingError::write(path, e);
    w.write_record(["frame", "herman_f", "n_orientations", "spacing_nm"])
        .map_err(err)?;
    for (i, c) in rows.iter().enumerate() {
        w.write_record([
            i.to_string(),
            format!("{}", c.herman_f),
            c.n_orientations.to_string(),
            format!("{}", c.spacing_nm),
        ])
        .map_err(err)?;
    }
    let file = w.into_inner().map_err(|e| ImagingError::write(path, e))?;
    file.commit().map_err(|e| ImagingError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fringes(w: usize, h: usize, period_px: f64, theta: f64) -> Image {
        let (c, s) = (theta.cos(), theta.sin());
        Image::from_vec(
            w,
            h,
            (0..w * h)
                .map(|i| {
                    let (x, y) = ((i % w) as f64, (i / w) as f64);
                    (2.0 * PI * (x * c + y * s) / period_px).cos()
                })
                .collect(),
        )
    }

    #[test]
    fn fft2_matches_direct_dft() {
        let (w, h) = (5, 3);
        let img: Vec<Complex64> = (0..w * h)
            .map(|i| Complex64::new((i * i % 7) as f64, 0.0))
            .collect();
        let mut f = img.clone();
        fft2(&mut f, w, h, false);
        for v in 0..h {
            for u in 0..w {
                let mut acc = Complex64::default();
                for y in 0..h {
                    for x in 0..w {
                        let ph = -2.0 * PI * (u * x) as f64 / w as f64
                            - 2.0 * PI * (v * y) as f64 / h as f64;
                        acc += img[y * w + x] * Complex64::from_polar(1.0, ph);
                    }
                }
                assert!((acc - f[v * w + u]).norm() < 1e-9);
            }
        }
    }

    #[test]
    fn phase_correlation_finds_a_shift() {
        let (w, h) = (64, 48);
        let blob = |cx: f64, cy: f64| {
            Image::from_vec(
                w,
                h,
                (0..w * h)
                    .map(|i| {
                        let (x, y) = ((i % w) as f64, (i / w) as f64);
                        (-((x - cx).powi(2) + (y - cy).powi(2)) / 18.0).exp()
                            + 0.5 * (-((x - cx - 9.0).powi(2) + (y - cy + 5.0).powi(2)) / 8.0).exp()
                    })
                    .collect(),
            )
        };
        let (dx, dy) = phase_correlation(&blob(30.0, 22.0), &blob(33.0, 20.0));
        // The Hann window, fixed while the content moves, pulls estimates toward zero by a
        // few percent of the shift: tolerance 0.15 px.
        assert!(
            (dx - 3.0).abs() < 0.15 && (dy + 2.0).abs() < 0.15,
            "{dx} {dy}"
        );
        for (sx, sy) in [(0.4, -0.25), (1.3, 0.7), (-0.5, 0.1)] {
            let (dx, dy) = phase_correlation(&blob(30.0, 22.0), &blob(30.0 + sx, 22.0 + sy));
            assert!(
                (dx - sx).abs() < 0.15 && (dy - sy).abs() < 0.15,
                "{sx} {sy}: {dx} {dy}"
            );
        }
    }

    #[test]
    fn single_fringe_set_has_f_one_and_its_spacing() {
        let img = fringes(128, 128, 8.0, 0.6);
        let p = CrystallinityParams {
            pixel_nm: 0.025,
            ..Default::default()
        };
        let c = crystallinity(&img, &p).unwrap();
        assert!((c.spacing_nm - 0.2).abs() < 0.2 * 0.03, "{}", c.spacing_nm);
        assert!(c.herman_f > 0.97, "{}", c.herman_f);
        assert_eq!(c.n_orientations, 1);
        assert!(
            (c.dominant_deg - 0.6f64.to_degrees()).abs() < 2.0,
            "{}",
            c.dominant_deg
        );
        // Two perpendicular sets: f = 0 in the fringe symmetry, 1 with a square period.
        let mut two = img.clone();
        let other = fringes(128, 128, 8.0, 0.6 + PI / 2.0);
        two.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, b)| *a += b);
        let c = crystallinity(&two, &p).unwrap();
        assert!(c.herman_f < 0.05 && c.n_orientations == 2, "{c:?}");
        let sq = CrystallinityParams {
            symmetry_deg: 90.0,
            ..p.clone()
        };
        let c = crystallinity(&two, &sq).unwrap();
        assert!(c.herman_f > 0.95 && c.n_orientations == 1, "{}", c.herman_f);
        // The fibre form of one sharp orientation is also near 1.
        let fib = CrystallinityParams {
            form: HermanForm::Fibre,
            ..p
        };
        assert!(crystallinity(&img, &fib).unwrap().herman_f > 0.9);
    }
}

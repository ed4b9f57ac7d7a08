//! UV-Vis absorption spectra: baseline, Savitzky-Golay smoothing, peaks from the second
//! derivative, magic-size-cluster families versus shifting nanocrystal peaks, sizes and
//! concentrations.

use crate::error::{Error, Result};
use crate::sizing::{concentration_um, Material};
use crate::table::{check_monotonic, Table};
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// Absorbance spectra on one wavelength grid (ascending, nm).
#[derive(Debug, Clone)]
pub struct Spectra {
    /// Wavelengths (nm), strictly increasing.
    pub wavelength_nm: Vec<f64>,
    /// One name per spectrum (the header of its column).
    pub names: Vec<String>,
    /// Absorbance (optical density, 1 cm unless stated) per spectrum, on `wavelength_nm`.
    pub absorbance: Vec<Vec<f64>>,
}

/// Read a CSV with a `wavelength_nm` column followed by one absorbance column per spectrum.
/// Wavelengths may run up or down but must be strictly monotonic; they are returned ascending.
pub fn read_spectra(path: &Path) -> Result<Spectra> {
    let table = Table::read(path)?;
    let header = table.header.clone().ok_or_else(|| Error::Input {
        file: path.to_path_buf(),
        line: table.lines[0],
        message: "missing header: expected 'wavelength_nm' and one column per spectrum".into(),
    })?;
    let bad_header = |message: String| Error::Input {
        file: path.to_path_buf(),
        line: table.header_line,
        message,
    };
    if header[0] != "wavelength_nm" {
        return Err(bad_header(format!(
            "first column must be 'wavelength_nm', found '{}'",
            header[0]
        )));
    }
    if header.len() < 2 {
        return Err(bad_header(
            "no absorbance column after 'wavelength_nm'".into(),
        ));
    }
    for (i, name) in header.iter().enumerate().skip(1) {
        if name.is_empty() {
            return Err(bad_header(format!("column {} has an empty name", i + 1)));
        }
        if header[1..i].contains(name) {
            return Err(bad_header(format!("column '{name}' appears twice")));
        }
    }
    let mut wl = table.column(0);
    let increasing = check_monotonic(&table, &wl, "wavelength_nm")?;
    let mut absorbance: Vec<Vec<f64>> = (1..header.len()).map(|c| table.column(c)).collect();
    if !increasing {
        wl.reverse();
        absorbance.iter_mut().for_each(|a| a.reverse());
    }
    if wl.len() < 8 {
        return Err(Error::Input {
            file: path.to_path_buf(),
            line: *table.lines.last().unwrap_or(&1),
            message: format!("only {} wavelengths; a spectrum needs at least 8", wl.len()),
        });
    }
    Ok(Spectra {
        wavelength_nm: wl,
        names: header[1..].to_vec(),
        absorbance,
    })
}

/// How to remove the scattering or offset under the absorption.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Baseline {
    /// Leave the spectrum as it is.
    None,
    /// Fit A = a L^-b on wavelengths >= `from_nm` (the transparent long-wave side) and
    /// subtract it everywhere (Rayleigh-like scattering). `None` starts beyond the
    /// longest-wavelength absorption feature ([`transparent_from_nm`]).
    PowerLaw {
        /// Start of the fitted region (nm).
        from_nm: Option<f64>,
    },
    /// Fit a polynomial of `degree` on wavelengths >= `from_nm` and subtract it.
    Polynomial {
        /// Polynomial degree.
        degree: usize,
        /// Start of the fitted region (nm); `None` starts beyond the longest-wavelength
        /// absorption feature ([`transparent_from_nm`]).
        from_nm: Option<f64>,
    },
}

/// Parameters of peak picking and classification.
#[derive(Debug, Clone)]
pub struct SpectraParams {
    /// Material whose sizing curve and family names apply.
    pub material: Material,
    /// Baseline removal.
    pub baseline: Baseline,
    /// Savitzky-Golay window (nm); rounded to an odd number of points.
    pub smooth_window_nm: f64,
    /// Savitzky-Golay polynomial order.
    pub smooth_order: usize,
    /// A peak's second-derivative depth must exceed this fraction of the deepest one.
    pub min_relative_curvature: f64,
    /// A peak's absorbance must exceed this fraction of the spectrum's maximum.
    pub min_relative_absorbance: f64,
    /// Peaks within this distance (nm) across spectra belong to one family.
    pub family_tolerance_nm: f64,
    /// Peaks narrower than this (FWHM, nm) can be magic-size clusters.
    pub msc_max_fwhm_nm: f64,
    /// Optical path length (cm) for Beer-Lambert.
    pub path_cm: f64,
}

impl Default for SpectraParams {
    fn default() -> Self {
        Self {
            material: Material::CdSe,
            baseline: Baseline::PowerLaw { from_nm: None },
            smooth_window_nm: 11.0,
            smooth_order: 4,
            min_relative_curvature: 0.03,
            min_relative_absorbance: 0.01,
            family_tolerance_nm: 2.0,
            msc_max_fwhm_nm: 20.0,
            path_cm: 1.0,
        }
    }
}

/// A magic-size cluster (fixed narrow peak) or a nanocrystal population (shifting peak).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeakKind {
    /// Magic-size cluster family.
    Msc,
    /// Regular nanocrystal population.
    Nc,
}

impl PeakKind {
    /// The label written in `peaks.csv`.
    pub fn label(self) -> &'static str {
        match self {
            PeakKind::Msc => "msc",
            PeakKind::Nc => "nc",
        }
    }
}

/// One absorption peak of one spectrum.
#[derive(Debug, Clone)]
pub struct Peak {
    /// Index of the spectrum (column order, 0-based).
    pub spectrum: usize,
    /// Peak position (nm), from the minimum of the second derivative.
    pub wavelength_nm: f64,
    /// Full width at half maximum (nm), from the second-derivative lobe (Gaussian shape).
    pub fwhm_nm: f64,
    /// Baseline-corrected, smoothed absorbance at the peak.
    pub absorbance: f64,
    /// Cluster family or nanocrystal.
    pub kind: PeakKind,
    /// Family label (e.g. `CdSe-403`) for clusters.
    pub family: Option<String>,
    /// Diameter (nm) from the sizing curve.
    pub diameter_nm: f64,
    /// Formula units per particle.
    pub aggregation_number: f64,
    /// Particle concentration (micromol/L) by Beer-Lambert.
    pub concentration_um: f64,
}

/// A processed spectrum: corrected, smoothed, and its second derivative, on a uniform grid.
#[derive(Debug, Clone)]
pub struct Processed {
    /// Uniform wavelength grid (nm).
    pub wavelength_nm: Vec<f64>,
    /// Baseline-corrected absorbance (not smoothed).
    pub corrected: Vec<f64>,
    /// Smoothed corrected absorbance.
    pub smoothed: Vec<f64>,
    /// Second derivative of the smoothed absorbance (1/nm^2).
    pub second_derivative: Vec<f64>,
}

/// Savitzky-Golay filter weights for every offset of a `2m+1` window: `weights[j][k]` gives
/// the `deriv`-th derivative (per grid step^deriv) at window position `j` from sample `k`.
fn savgol_weights(m: usize, order: usize, deriv: usize) -> Vec<Vec<f64>> {
    let n = 2 * m + 1;
    let a = DMatrix::from_fn(n, order + 1, |i, p| (i as f64 - m as f64).powi(p as i32));
    let ata = a.transpose() * &a;
    let pinv = ata
        .try_inverse()
        .expect("Vandermonde normal matrix of distinct nodes is invertible")
        * a.transpose();
    (0..n)
        .map(|j| {
            let x = j as f64 - m as f64;
            // d^deriv/dx^deriv of sum_p c_p x^p at x.
            (0..n)
                .map(|k| {
                    (deriv..=order)
                        .map(|p| {
                            let fall: f64 = (0..deriv).map(|s| (p - s) as f64).product();
                            fall * x.powi((p - deriv) as i32) * pinv[(p, k)]
                        })
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// Savitzky-Golay smoothing (`deriv` = 0) or derivative of `y` on a uniform grid of spacing
/// `step`, window `2m+1`; the ends use the polynomial of the first/last full window.
pub fn savitzky_golay(y: &[f64], m: usize, order: usize, deriv: usize, step: f64) -> Vec<f64> {
    let n = y.len();
    let m = m.min((n.saturating_sub(1)) / 2);
    let order = order.min(2 * m);
    if m == 0 || deriv > order {
        return if deriv == 0 { y.to_vec() } else { vec![0.0; n] };
    }
    let w = savgol_weights(m, order, deriv);
    let scale = step.powi(deriv as i32);
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(m).min(n - 2 * m - 1);
            let j = i - lo;
            w[j].iter()
                .zip(&y[lo..lo + 2 * m + 1])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / scale
        })
        .collect()
}

fn interpolate(x: &[f64], y: &[f64], xi: f64) -> f64 {
    let k = x.partition_point(|&v| v < xi).clamp(1, x.len() - 1);
    let t = (xi - x[k - 1]) / (x[k] - x[k - 1]);
    y[k - 1] + t * (y[k] - y[k - 1])
}

/// Put a spectrum on a uniform grid of the median spacing if its spacing varies by > 0.1 %.
fn uniform_grid(x: &[f64], y: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut steps: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_by(f64::total_cmp);
    let h = steps[steps.len() / 2];
    if steps.iter().all(|s| (s - h).abs() <= 1e-3 * h) {
        return (x.to_vec(), y.to_vec());
    }
    let n = ((x[x.len() - 1] - x[0]) / h).floor() as usize + 1;
    let xu: Vec<f64> = (0..n).map(|i| x[0] + i as f64 * h).collect();
    let yu = xu.iter().map(|&xi| interpolate(x, y, xi)).collect();
    (xu, yu)
}

fn least_squares(a: DMatrix<f64>, b: DVector<f64>) -> Option<DVector<f64>> {
    a.svd(true, true).solve(&b, 1e-12).ok()
}

/// Start (nm) of the transparent long-wave side: beyond the longest-wavelength significant
/// absorption feature (peak or edge) of the smoothed spectrum. A fixed window such as the
/// longest 20 % fails whenever a nanocrystal peak reaches into it, since the fit then lifts
/// the baseline under the peak and distorts everything to the blue.
///
/// A feature is a second-derivative minimum at least 5 % as deep as the deepest one and five
/// times the noise (the scattering background is convex, so it adds no minima). For a Gaussian of width sigma the
/// second derivative crosses zero at centre + sigma, and by centre + 4 sigma, where the fit
/// starts, the peak has decayed to 3e-4 of its height (at 3 sigma its 1 % tail can still
/// match a weak scattering background and tilt the extrapolated power law badly). When less than 5 % of the range (or
/// fewer than 8 points) would remain, the longest 20 % is used.
pub fn transparent_from_nm(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    let span = x[n - 1] - x[0];
    let fallback = x[0] + 0.8 * span;
    if n < 16 {
        return fallback;
    }
    let h = span / (n - 1) as f64;
    // About 16 nm of smoothing: only the extent of the reddest feature matters here, and a
    // wide window keeps noise wiggles of the second derivative small.
    let m = ((8.0 / h).round() as usize).clamp(3, n / 4);
    let d2 = savitzky_golay(y, m, 4, 2, h);
    // Noise of the second derivative, from the noise of y (robust scale of its second
    // differences, which a smooth spectrum barely contributes to) times the filter's gain.
    let mut dd: Vec<f64> = y
        .windows(3)
        .map(|w| (w[0] - 2.0 * w[1] + w[2]).abs())
        .collect();
    dd.sort_by(f64::total_cmp);
    let sigma_y = 1.4826 * dd[dd.len() / 2] / 6.0_f64.sqrt();
    let gain = savgol_weights(m, 4, 2)[m]
        .iter()
        .map(|w| w * w)
        .sum::<f64>()
        .sqrt();
    let noise_d2 = sigma_y * gain / (h * h);
    let interior = m..n - m;
    let deepest = interior.clone().map(|i| -d2[i]).fold(0.0_f64, f64::max);
    let threshold = (0.05 * deepest).max(5.0 * noise_d2);
    if deepest <= threshold {
        return fallback;
    }
    let Some(last) = interior
        .clone()
        .rev()
        .find(|&i| d2[i] <= -threshold && d2[i] <= d2[i - 1] && d2[i] <= d2[i + 1])
    else {
        return fallback;
    };
    let Some(zero) = (last..n).find(|&i| d2[i] >= 0.0) else {
        return fallback;
    };
    let sigma = (x[zero] - x[last]).max(h);
    let from = x[last] + 4.0 * sigma;
    let remaining = x.iter().filter(|&&v| v >= from).count();
    if remaining < 8 || x[n - 1] - from < 0.05 * span {
        fallback
    } else {
        from
    }
}

/// Subtract the baseline from `y` (wavelengths `x`).
pub fn remove_baseline(x: &[f64], y: &[f64], baseline: Baseline) -> Vec<f64> {
    let start = |from: Option<f64>| from.unwrap_or_else(|| transparent_from_nm(x, y));
    match baseline {
        Baseline::None => y.to_vec(),
        Baseline::PowerLaw { from_nm } => {
            let from = start(from_nm);
            let pts: Vec<(f64, f64)> = x
                .iter()
                .zip(y)
                .filter(|(&xi, &yi)| xi >= from && yi > 0.0)
                .map(|(&xi, &yi)| (xi.ln(), yi.ln()))
                .collect();
            if pts.len() < 3 {
                // Nothing positive to fit a power law to: fall back to the mean offset.
                let tail: Vec<f64> = x
                    .iter()
                    .zip(y)
                    .filter(|(&xi, _)| xi >= from)
                    .map(|(_, &yi)| yi)
                    .collect();
                let c = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
                return y.iter().map(|v| v - c).collect();
            }
            let a = DMatrix::from_fn(pts.len(), 2, |i, j| if j == 0 { 1.0 } else { pts[i].0 });
            let b = DVector::from_iterator(pts.len(), pts.iter().map(|p| p.1));
            match least_squares(a, b) {
                Some(c) => x
                    .iter()
                    .zip(y)
                    .map(|(xi, yi)| yi - (c[0] + c[1] * xi.ln()).exp())
                    .collect(),
                None => y.to_vec(),
            }
        }
        Baseline::Polynomial { degree, from_nm } => {
            let from = start(from_nm);
            let pts: Vec<(f64, f64)> = x
                .iter()
                .zip(y)
                .filter(|(&xi, _)| xi >= from)
                .map(|(&xi, &yi)| (xi, yi))
                .collect();
            if pts.len() <= degree {
                return y.to_vec();
            }
            // Centre and scale wavelengths so the Vandermonde matrix stays well conditioned.
            let (mid, half) = ((x[0] + x[x.len() - 1]) / 2.0, (x[x.len() - 1] - x[0]) / 2.0);
            let u = |v: f64| (v - mid) / half;
            let a = DMatrix::from_fn(pts.len(), degree + 1, |i, p| u(pts[i].0).powi(p as i32));
            let b = DVector::from_iterator(pts.len(), pts.iter().map(|p| p.1));
            match least_squares(a, b) {
                Some(c) => x
                    .iter()
                    .zip(y)
                    .map(|(&xi, yi)| {
                        yi - (0..=degree)
                            .map(|p| c[p] * u(xi).powi(p as i32))
                            .sum::<f64>()
                    })
                    .collect(),
                None => y.to_vec(),
            }
        }
    }
}

/// Baseline, smoothing and second derivative of one spectrum.
pub fn process(wavelength_nm: &[f64], absorbance: &[f64], params: &SpectraParams) -> Processed {
    let (x, y) = uniform_grid(wavelength_nm, absorbance);
    let h = x[1] - x[0];
    let corrected = remove_baseline(&x, &y, params.baseline);
    let m = ((params.smooth_window_nm / h / 2.0).round() as usize).max(params.smooth_order / 2 + 1);
    let smoothed = savitzky_golay(&corrected, m, params.smooth_order, 0, h);
    let second_derivative = savitzky_golay(&corrected, m, params.smooth_order, 2, h);
    Processed {
        wavelength_nm: x,
        corrected,
        smoothed,
        second_derivative,
    }
}

/// FWHM of a Gaussian from the full width of its second-derivative lobe at half depth:
/// (1 - u^2) exp(-u^2/2) = 1/2 at u = 0.62531, and FWHM = 2 sqrt(2 ln 2) sigma.
const FWHM_PER_HALF_DEPTH_WIDTH: f64 = 2.354_820_045 / (2.0 * 0.625_31);

/// Raw peaks of one processed spectrum (kind, family and sizes not yet assigned).
pub fn find_peaks(p: &Processed, spectrum: usize, params: &SpectraParams) -> Vec<Peak> {
    let (x, s, d2) = (&p.wavelength_nm, &p.smoothed, &p.second_derivative);
    let n = x.len();
    let h = x[1] - x[0];
    let max_abs = s.iter().cloned().fold(0.0_f64, f64::max);
    let edge = ((params.smooth_window_nm / h / 2.0).round() as usize).max(2);
    if n < 2 * edge + 3 || max_abs <= 0.0 {
        return Vec::new();
    }
    let minima: Vec<usize> = (edge..n - edge)
        .filter(|&i| d2[i] < 0.0 && d2[i] < d2[i - 1] && d2[i] <= d2[i + 1])
        .collect();
    let deepest = minima.iter().map(|&i| -d2[i]).fold(0.0_f64, f64::max);
    let mut peaks = Vec::new();
    for &i in &minima {
        let depth = -d2[i];
        if depth < params.min_relative_curvature * deepest
            || s[i] < params.min_relative_absorbance * max_abs
        {
            continue;
        }
        // Prominence of the lobe: how far the second derivative rises before a deeper
        // minimum on each side. Noise wiggles on the flat bottom of a broad lobe barely rise.
        let rise = |dir: isize| -> f64 {
            let mut top = d2[i];
            let mut j = i as isize + dir;
            while j >= 0 && (j as usize) < n {
                let v = d2[j as usize];
                if v < d2[i] {
                    break;
                }
                top = top.max(v);
                j += dir;
            }
            top
        };
        let prominence = rise(-1).min(rise(1)) - d2[i];
        if prominence < 0.25 * depth {
            continue;
        }
        // Parabolic refinement of the second-derivative minimum.
        let (a, b, c) = (d2[i - 1], d2[i], d2[i + 1]);
        let denom = a - 2.0 * b + c;
        let shift = if denom > 0.0 {
            (0.5 * (a - c) / denom).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let centre = x[i] + shift * h;
        let half = 0.5 * b;
        let crossing = |dir: isize| -> Option<f64> {
            let mut j = i as isize;
            let mut highest = b;
            loop {
                let k = j + dir;
                if k < 0 || k >= n as isize {
                    return None;
                }
                let (yj, yk) = (d2[j as usize], d2[k as usize]);
                if yk >= half {
                    let t = (half - yj) / (yk - yj);
                    return Some(x[j as usize] + t * (x[k as usize] - x[j as usize]));
                }
                // The curve dips again by a quarter of the depth before reaching half depth:
                // a neighbouring lobe overlaps this side (small wiggles are noise).
                highest = highest.max(yk);
                if yk < highest + 0.25 * b {
                    return None;
                }
                j = k;
            }
        };
        let fwhm = match (crossing(-1), crossing(1)) {
            (Some(l), Some(r)) => (r - l) * FWHM_PER_HALF_DEPTH_WIDTH,
            (Some(l), None) => 2.0 * (centre - l) * FWHM_PER_HALF_DEPTH_WIDTH,
            (None, Some(r)) => 2.0 * (r - centre) * FWHM_PER_HALF_DEPTH_WIDTH,
            (None, None) => f64::NAN,
        };
        peaks.push(Peak {
            spectrum,
            wavelength_nm: centre,
            fwhm_nm: fwhm,
            absorbance: interpolate(x, s, centre),
            kind: PeakKind::Nc,
            family: None,
            diameter_nm: f64::NAN,
            aggregation_number: f64::NAN,
            concentration_um: f64::NAN,
        });
    }
    peaks
}

/// Group peaks of all spectra by position: a group collects peaks within `tol` of its mean.
fn group_positions(peaks: &[Peak], tol: f64) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..peaks.len()).collect();
    order.sort_by(|&a, &b| peaks[a].wavelength_nm.total_cmp(&peaks[b].wavelength_nm));
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for i in order {
        if let Some(g) = groups.last_mut() {
            let mean = g.iter().map(|&k| peaks[k].wavelength_nm).sum::<f64>() / g.len() as f64;
            let taken = g.iter().any(|&k| peaks[k].spectrum == peaks[i].spectrum);
            if !taken && (peaks[i].wavelength_nm - mean).abs() <= tol {
                g.push(i);
                continue;
            }
        }
        groups.push(vec![i]);
    }
    groups
}

/// Peaks of every spectrum, classified: a narrow peak whose position is fixed across the
/// series (or that sits on a known family) is a magic-size cluster; any other is a
/// nanocrystal population. Sizes, aggregation numbers and concentrations are added.
pub fn analyse(spectra: &Spectra, params: &SpectraParams) -> (Vec<Processed>, Vec<Peak>) {
    let processed: Vec<Processed> = spectra
        .absorbance
        .iter()
        .map(|a| process(&spectra.wavelength_nm, a, params))
        .collect();
    let mut peaks: Vec<Peak> = processed
        .iter()
        .enumerate()
        .flat_map(|(k, p)| find_peaks(p, k, params))
        .collect();
    let n_spectra = spectra.names.len();
    let tol = params.family_tolerance_nm;
    let material = params.material;
    for group in group_positions(&peaks, tol) {
        let mean = group.iter().map(|&k| peaks[k].wavelength_nm).sum::<f64>() / group.len() as f64;
        let known = material
            .msc_families_nm()
            .iter()
            .copied()
            .find(|f| (f - mean).abs() <= tol);
        for &k in &group {
            let narrow = peaks[k].fwhm_nm <= params.msc_max_fwhm_nm;
            let fixed = group.len() >= 2 || n_spectra == 1 || known.is_some();
            if narrow && fixed {
                peaks[k].kind = PeakKind::Msc;
                let label = known.unwrap_or(mean).round();
                peaks[k].family = Some(format!("{}-{label:.0}", material.name()));
            }
        }
    }
    for p in &mut peaks {
        let s = material.size(p.wavelength_nm);
        p.diameter_nm = s.diameter_nm;
        p.aggregation_number = s.aggregation_number;
        p.concentration_um =
            concentration_um(p.absorbance, s.extinction_per_m_per_cm, params.path_cm);
    }
    peaks.sort_by(|a, b| {
        a.spectrum
            .cmp(&b.spectrum)
            .then(a.wavelength_nm.total_cmp(&b.wavelength_nm))
    });
    (processed, peaks)
}

/// A synthetic spectrum: Gaussian peaks `(centre_nm, fwhm_nm, height)` on a power-law
/// scattering background `a (L/400)^-b`, with Gaussian noise of `noise` (seeded).
pub fn synthetic_spectrum(
    wavelength_nm: &[f64],
    peaks: &[(f64, f64, f64)],
    scattering: (f64, f64),
    noise: f64,
    seed: u64,
) -> Vec<f64> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    wavelength_nm
        .iter()
        .map(|&l| {
            let mut a = scattering.0 * (l / 400.0).powf(-scattering.1);
            for &(c, w, h) in peaks {
                let sigma = w / 2.354_820_045;
                a += h * (-0.5 * ((l - c) / sigma).powi(2)).exp();
            }
            let z: f64 = StandardNormal.sample(&mut rng);
            a + noise * z
        })
        .collect()
}

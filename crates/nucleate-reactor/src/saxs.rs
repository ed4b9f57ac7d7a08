//! Small-angle X-ray scattering: dilute polydisperse spheres, the Monte Carlo
//! size-distribution fit (the McSAS approach of Bressler et al., J. Appl. Cryst. 48, 962
//! (2015)), and Bragg peaks of mesophases.
//!
//! Units: q in 1/nm, radii in nm, sphere volumes in nm^3. Each Monte Carlo contribution
//! stands for an equal volume fraction, so the model is
//! I(q) = A * sum_k V(r_k) P(q, r_k) + b, i.e. the form of the spec
//! C sum_k w_k V_k^2 P_k with w_k = 1 / V_k, and the radii of the contributions are a sample
//! of the volume-weighted size distribution.
//!
//! Absolute scale: for I in 1/cm, I(0) = phi drho^2 V per population. With drho in units of
//! 1e10 cm^-2 (= 1e-6 A^-2, the unit of sasmodels' sld) and V in nm^3 (1e-21 cm^3),
//! drho^2 V = 1e20 * 1e-21 = 0.1 cm^-1 per unit contrast^2 and nm^3, hence
//! I = 0.1 contrast^2 sum_k phi_k V_k P_k and phi = A / (0.1 contrast^2) per contribution.
//! This is sasmodels' sphere in its own units (q in 1/A, r in A, I in 1/cm); mcsas3 instead
//! expects I in 1/(m sr) with q in 1/nm, 100 times the 1/cm values.

use crate::error::{Error, Result};
use crate::table::{check_monotonic, Table};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::f64::consts::PI;
use std::path::Path;

/// A measured curve on strictly increasing q.
#[derive(Debug, Clone)]
pub struct SaxsData {
    /// Scattering vector (1/nm).
    pub q_nm: Vec<f64>,
    /// Intensity (1/cm for absolute volume fractions, otherwise arbitrary units).
    pub intensity: Vec<f64>,
    /// One-standard-deviation uncertainty of the intensity (same units).
    pub sigma: Vec<f64>,
}

/// Units of q in an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QUnit {
    /// 1/nm.
    PerNm,
    /// 1/Angstrom (converted to 1/nm on reading).
    PerAngstrom,
}

fn column_kind(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    match n.as_str() {
        "q" | "q_nm" | "q_per_nm" | "q_a" | "q_per_a" | "q(1/nm)" | "q(1/a)" => Some(0),
        "i" | "intensity" | "i_q" | "iq" | "i(q)" => Some(1),
        "sigma" | "error" | "err" | "di" | "sigma_i" | "uncertainty" | "isigma" | "e" => Some(2),
        _ => None,
    }
}

/// Read q, I, sigma columns (CSV, semicolons or whitespace; `#` comments). A header, if
/// present, must name the columns q, I, sigma in that order.
pub fn read_saxs(path: &Path, q_unit: QUnit) -> Result<SaxsData> {
    let table = Table::read(path)?;
    if let Some(h) = &table.header {
        let want = ["q", "I", "sigma"];
        for (c, w) in want.iter().enumerate() {
            match h.get(c) {
                Some(name) if column_kind(name) == Some(c) => {}
                other => {
                    return Err(Error::Input {
                        file: path.to_path_buf(),
                        line: table.header_line,
                        message: format!(
                            "column {} must be '{w}', found '{}' (expected columns q, I, sigma)",
                            c + 1,
                            other.map(String::as_str).unwrap_or("")
                        ),
                    })
                }
            }
        }
    }
    if table.rows[0].len() < 3 {
        return Err(table.error_at(
            0,
            format!(
                "expected 3 columns q, I, sigma, found {}",
                table.rows[0].len()
            ),
        ));
    }
    let scale = match q_unit {
        QUnit::PerNm => 1.0,
        QUnit::PerAngstrom => 10.0,
    };
    let mut q: Vec<f64> = table.column(0).iter().map(|v| v * scale).collect();
    let mut intensity = table.column(1);
    let mut sigma = table.column(2);
    for (i, row) in table.rows.iter().enumerate() {
        if row[0] <= 0.0 {
            return Err(table.error_at(i, format!("q must be positive, found {}", row[0])));
        }
        if row[1] < 0.0 {
            return Err(table.error_at(i, format!("negative intensity {}", row[1])));
        }
        if row[2] <= 0.0 {
            return Err(table.error_at(i, format!("sigma must be positive, found {}", row[2])));
        }
    }
    if !check_monotonic(&table, &q, "q")? {
        q.reverse();
        intensity.reverse();
        sigma.reverse();
    }
    if q.len() < 4 {
        return Err(table.error_at(
            table.rows.len() - 1,
            format!("only {} points; a fit needs at least 4", q.len()),
        ));
    }
    Ok(SaxsData {
        q_nm: q,
        intensity,
        sigma,
    })
}

/// Sphere volume (nm^3) of radius `r_nm`.
pub fn sphere_volume(r_nm: f64) -> f64 {
    4.0 / 3.0 * PI * r_nm.powi(3)
}

/// Normalised sphere form factor P(q, r) = [3 (sin qr - qr cos qr) / (qr)^3]^2, P(0) = 1.
pub fn sphere_form_factor(q_nm: f64, r_nm: f64) -> f64 {
    let x = q_nm * r_nm;
    let f = if x < 1e-3 {
        1.0 - x * x / 10.0
    } else {
        let (s, c) = x.sin_cos();
        3.0 * (s - x * c) / (x * x * x)
    };
    f * f
}

/// Parameters of the Monte Carlo fit.
#[derive(Debug, Clone)]
pub struct McParams {
    /// Smallest radius (nm) a contribution may take.
    pub r_min_nm: f64,
    /// Largest radius (nm).
    pub r_max_nm: f64,
    /// Number of sphere contributions.
    pub contributions: usize,
    /// Independent repetitions of the whole fit.
    pub repetitions: usize,
    /// Proposals per repetition before giving up.
    pub max_iterations: usize,
    /// Stop when the reduced chi^2 reaches this.
    pub convergence: f64,
    /// Uncertainties are raised to at least this fraction of I before the fit.
    pub min_relative_sigma: f64,
    /// Histogram bins between `r_min_nm` and `r_max_nm`.
    pub bins: usize,
    /// Seed of repetition 0; repetition j uses ChaCha8 stream j of this seed.
    pub seed: u64,
    /// Scattering length density difference (1e10 cm^-2 = 1e-6 A^-2); with I in 1/cm the
    /// volume fractions are absolute, otherwise relative.
    pub contrast: f64,
    /// Fit a flat background (otherwise b = 0).
    pub background: bool,
}

impl Default for McParams {
    fn default() -> Self {
        Self {
            r_min_nm: 0.5,
            r_max_nm: 20.0,
            contributions: 300,
            repetitions: 10,
            max_iterations: 100_000,
            convergence: 1.0,
            min_relative_sigma: 0.01,
            bins: 50,
            seed: 0,
            contrast: 1.0,
            background: true,
        }
    }
}

/// One repetition of the fit.
#[derive(Debug, Clone, Serialize)]
pub struct McRun {
    /// Radii of the contributions (nm).
    pub radii_nm: Vec<f64>,
    /// Scale A of the model.
    pub scale: f64,
    /// Flat background b.
    pub background: f64,
    /// Reduced chi^2 reached.
    pub chi2_reduced: f64,
    /// Proposals made.
    pub iterations: usize,
    /// Whether the run stopped on the convergence criterion (otherwise on the limit).
    pub converged: bool,
}

/// Moments of one population (a radius range), mean and standard deviation over repetitions.
#[derive(Debug, Clone, Serialize)]
pub struct Population {
    /// Lower radius (nm).
    pub r_from_nm: f64,
    /// Upper radius (nm).
    pub r_to_nm: f64,
    /// Volume fraction.
    pub volume_fraction: [f64; 2],
    /// Volume-weighted mean radius (nm).
    pub mean_r_nm: [f64; 2],
    /// Volume-weighted standard deviation of the radius (nm).
    pub width_r_nm: [f64; 2],
    /// Volume-weighted skewness.
    pub skewness: [f64; 2],
    /// Volume-weighted excess kurtosis.
    pub kurtosis_excess: [f64; 2],
    /// Number-weighted mean radius (nm).
    pub number_mean_r_nm: [f64; 2],
}

/// The result of all repetitions.
#[derive(Debug, Clone)]
pub struct McResult {
    /// The repetitions, in seed order.
    pub runs: Vec<McRun>,
    /// Bin centres (nm).
    pub r_nm: Vec<f64>,
    /// Bin edges (nm), `bins + 1` values.
    pub edges_nm: Vec<f64>,
    /// Mean volume fraction per bin over repetitions.
    pub volume_fraction: Vec<f64>,
    /// Standard deviation per bin over repetitions.
    pub std: Vec<f64>,
    /// Mean model intensity on the data's q.
    pub model: Vec<f64>,
    /// Uncertainties used in the fit (after the floor).
    pub sigma_used: Vec<f64>,
    /// Volume fraction carried by one contribution with scale 1: phi = A / (0.1 contrast^2).
    pub phi_per_scale: f64,
}

/// Contribution intensities V(r) P(q, r) of one sphere on all q.
fn sphere_intensity(q: &[f64], r: f64, out: &mut [f64]) {
    let v = sphere_volume(r);
    for (o, &qi) in out.iter_mut().zip(q) {
        *o = v * sphere_form_factor(qi, r);
    }
}

/// Weighted linear least squares for I ~ A S + b (b optional, both kept >= 0).
/// Returns (A, b, chi^2).
fn scale_and_background(s: &[f64], data: &[f64], w: &[f64], fit_b: bool) -> (f64, f64, f64) {
    let (mut sww, mut sws, mut swss, mut swsi, mut swi, mut swii) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for ((&si, &ii), &wi) in s.iter().zip(data).zip(w) {
        sww += wi;
        sws += wi * si;
        swss += wi * si * si;
        swsi += wi * si * ii;
        swi += wi * ii;
        swii += wi * ii * ii;
    }
    let only_scale = |swss: f64, swsi: f64| {
        if swss > 0.0 {
            (swsi / swss).max(0.0)
        } else {
            0.0
        }
    };
    let (mut a, mut b) = (only_scale(swss, swsi), 0.0);
    if fit_b {
        let det = swss * sww - sws * sws;
        if det > 0.0 {
            let a2 = (swsi * sww - sws * swi) / det;
            let b2 = (swss * swi - sws * swsi) / det;
            if a2 >= 0.0 && b2 >= 0.0 {
                (a, b) = (a2, b2);
            } else if a2 < 0.0 {
                (a, b) = (0.0, (swi / sww).max(0.0));
            }
        }
    }
    let chi2 =
        swii - 2.0 * a * swsi - 2.0 * b * swi + a * a * swss + 2.0 * a * b * sws + b * b * sww;
    (a, b, chi2.max(0.0))
}

fn sigma_floor(data: &SaxsData, rel: f64) -> Vec<f64> {
    data.sigma
        .iter()
        .zip(&data.intensity)
        .map(|(&s, &i)| s.max(rel * i.abs()))
        .collect()
}

/// One repetition with its own random stream.
pub fn monte_carlo_run(data: &SaxsData, params: &McParams, stream: u64) -> McRun {
    let q = &data.q_nm;
    let nq = q.len();
    let n = params.contributions.max(1);
    let sigma = sigma_floor(data, params.min_relative_sigma);
    let w: Vec<f64> = sigma.iter().map(|s| 1.0 / (s * s)).collect();
    let dof = (nq as f64 - if params.background { 2.0 } else { 1.0 }).max(1.0);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    rng.set_stream(stream);
    let (lo, hi) = (params.r_min_nm, params.r_max_nm);
    let mut radii: Vec<f64> = (0..n).map(|_| rng.gen_range(lo..=hi)).collect();
    let mut parts = vec![0.0; n * nq];
    let mut sum = vec![0.0; nq];
    for (k, &r) in radii.iter().enumerate() {
        let part = &mut parts[k * nq..(k + 1) * nq];
        sphere_intensity(q, r, part);
        sum.iter_mut().zip(part.iter()).for_each(|(s, p)| *s += p);
    }
    let (_, _, mut chi2) = scale_and_background(&sum, &data.intensity, &w, params.background);
    let mut trial_part = vec![0.0; nq];
    let mut trial_sum = vec![0.0; nq];
    let mut iterations = 0;
    while chi2 / dof > params.convergence && iterations < params.max_iterations {
        iterations += 1;
        let k = rng.gen_range(0..n);
        let r = rng.gen_range(lo..=hi);
        sphere_intensity(q, r, &mut trial_part);
        let old = &parts[k * nq..(k + 1) * nq];
        for i in 0..nq {
            trial_sum[i] = sum[i] - old[i] + trial_part[i];
        }
        let (_, _, chi2_new) =
            scale_and_background(&trial_sum, &data.intensity, &w, params.background);
        if chi2_new < chi2 {
            radii[k] = r;
            parts[k * nq..(k + 1) * nq].copy_from_slice(&trial_part);
            std::mem::swap(&mut sum, &mut trial_sum);
            chi2 = chi2_new;
        }
    }
    // Recompute from scratch so rounding of the running sum never reaches the output.
    sum.iter_mut().for_each(|s| *s = 0.0);
    for k in 0..n {
        sum.iter_mut()
            .zip(&parts[k * nq..(k + 1) * nq])
            .for_each(|(s, p)| *s += p);
    }
    let (a_final, b_final, chi2_final) =
        scale_and_background(&sum, &data.intensity, &w, params.background);
    McRun {
        radii_nm: radii,
        scale: a_final,
        background: b_final,
        chi2_reduced: chi2_final / dof,
        iterations,
        converged: chi2_final / dof <= params.convergence,
    }
}

/// Model intensity of one run on `q`.
pub fn run_model(run: &McRun, q: &[f64]) -> Vec<f64> {
    let mut out = vec![run.background; q.len()];
    let mut part = vec![0.0; q.len()];
    for &r in &run.radii_nm {
        sphere_intensity(q, r, &mut part);
        out.iter_mut()
            .zip(&part)
            .for_each(|(o, p)| *o += run.scale * p);
    }
    out
}

fn validate(data: &SaxsData, params: &McParams) -> Result<()> {
    if !(params.r_min_nm > 0.0 && params.r_max_nm > params.r_min_nm) {
        return Err(Error::Invalid(format!(
            "radius range must satisfy 0 < r_min < r_max, got {} .. {} nm",
            params.r_min_nm, params.r_max_nm
        )));
    }
    if params.contributions == 0 || params.repetitions == 0 || params.bins == 0 {
        return Err(Error::Invalid(
            "contributions, repetitions and bins must be at least 1".into(),
        ));
    }
    if params.contrast <= 0.0 {
        return Err(Error::Invalid("contrast must be positive".into()));
    }
    if data.q_nm.len() < 4 {
        return Err(Error::Invalid("a fit needs at least 4 points".into()));
    }
    Ok(())
}

fn mean_std(v: &[f64]) -> [f64; 2] {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    [m, var.sqrt()]
}

/// The whole fit: `repetitions` independent runs in parallel and their volume-weighted
/// histogram (mean and standard deviation per bin).
pub fn monte_carlo_fit(data: &SaxsData, params: &McParams) -> Result<McResult> {
    validate(data, params)?;
    let runs: Vec<McRun> = (0..params.repetitions as u64)
        .into_par_iter()
        .map(|j| monte_carlo_run(data, params, j))
        .collect();
    let phi_per_scale = 1.0 / (0.1 * params.contrast * params.contrast);
    let nb = params.bins;
    let width = (params.r_max_nm - params.r_min_nm) / nb as f64;
    let edges_nm: Vec<f64> = (0..=nb)
        .map(|i| params.r_min_nm + i as f64 * width)
        .collect();
    let r_nm: Vec<f64> = (0..nb)
        .map(|i| params.r_min_nm + (i as f64 + 0.5) * width)
        .collect();
    let per_run: Vec<Vec<f64>> = runs
        .iter()
        .map(|run| {
            let mut h = vec![0.0; nb];
            let phi = run.scale * phi_per_scale;
            for &r in &run.radii_nm {
                let i = (((r - params.r_min_nm) / width) as usize).min(nb - 1);
                h[i] += phi;
            }
            h
        })
        .collect();
    let (mut volume_fraction, mut std) = (vec![0.0; nb], vec![0.0; nb]);
    for i in 0..nb {
        let col: Vec<f64> = per_run.iter().map(|h| h[i]).collect();
        [volume_fraction[i], std[i]] = mean_std(&col);
    }
    let mut model = vec![0.0; data.q_nm.len()];
    for run in &runs {
        for (m, v) in model.iter_mut().zip(run_model(run, &data.q_nm)) {
            *m += v / runs.len() as f64;
        }
    }
    Ok(McResult {
        runs,
        r_nm,
        edges_nm,
        volume_fraction,
        std,
        model,
        sigma_used: sigma_floor(data, params.min_relative_sigma),
        phi_per_scale,
    })
}

impl McResult {
    /// Mean reduced chi^2 over repetitions.
    pub fn chi2_reduced(&self) -> f64 {
        self.runs.iter().map(|r| r.chi2_reduced).sum::<f64>() / self.runs.len() as f64
    }

    /// Moments of the population of radii in `[from, to]` (nm).
    pub fn population(&self, from: f64, to: f64) -> Population {
        let mut cols: [Vec<f64>; 6] = Default::default();
        for run in &self.runs {
            let phi = run.scale * self.phi_per_scale;
            let rs: Vec<f64> = run
                .radii_nm
                .iter()
                .copied()
                .filter(|&r| r >= from && r <= to)
                .collect();
            let n = rs.len() as f64;
            let (m, sd, sk, ku, nm) = if rs.is_empty() {
                (f64::NAN, f64::NAN, f64::NAN, f64::NAN, f64::NAN)
            } else {
                let m = rs.iter().sum::<f64>() / n;
                let mom = |p: i32| rs.iter().map(|r| (r - m).powi(p)).sum::<f64>() / n;
                let var = mom(2);
                let sd = var.sqrt();
                let (sk, ku) = if var > 0.0 {
                    (mom(3) / sd.powi(3), mom(4) / (var * var) - 3.0)
                } else {
                    (0.0, 0.0)
                };
                // Equal volume per contribution: the number of particles goes as 1/V.
                let inv_v: f64 = rs.iter().map(|&r| 1.0 / sphere_volume(r)).sum();
                let nm = rs.iter().map(|&r| r / sphere_volume(r)).sum::<f64>() / inv_v;
                (m, sd, sk, ku, nm)
            };
            for (c, v) in cols.iter_mut().zip([phi * n, m, sd, sk, ku, nm]) {
                c.push(v);
            }
        }
        let ms = |v: &Vec<f64>| {
            let finite: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
            if finite.is_empty() {
                [f64::NAN, f64::NAN]
            } else {
                mean_std(&finite)
            }
        };
        Population {
            r_from_nm: from,
            r_to_nm: to,
            volume_fraction: ms(&cols[0]),
            mean_r_nm: ms(&cols[1]),
            width_r_nm: ms(&cols[2]),
            skewness: ms(&cols[3]),
            kurtosis_excess: ms(&cols[4]),
            number_mean_r_nm: ms(&cols[5]),
        }
    }

    /// Populations found in the histogram: runs of bins holding at least `threshold` of the
    /// largest bin, joined across single-bin gaps.
    pub fn auto_populations(&self, threshold: f64) -> Vec<(f64, f64)> {
        let max = self.volume_fraction.iter().cloned().fold(0.0_f64, f64::max);
        let on: Vec<bool> = self
            .volume_fraction
            .iter()
            .map(|&v| max > 0.0 && v >= threshold * max)
            .collect();
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (i, &is_on) in on.iter().enumerate() {
            if !is_on {
                continue;
            }
            match ranges.last_mut() {
                Some(last) if i <= last.1 + 2 => last.1 = i,
                _ => ranges.push((i, i)),
            }
        }
        ranges
            .into_iter()
            .map(|(a, b)| (self.edges_nm[a], self.edges_nm[b + 1]))
            .collect()
    }
}

/// A synthetic curve of spheres: populations `(mean_r_nm, sd_r_nm, volume_fraction)` with
/// Gaussian volume-weighted radius distributions, a flat `background`, and Gaussian noise of
/// `rel_noise` times I (sigma column = rel_noise * I). Intensity in 1/cm at contrast 1.
pub fn synthetic_curve(
    q_nm: &[f64],
    populations: &[(f64, f64, f64)],
    background: f64,
    rel_noise: f64,
    seed: u64,
) -> SaxsData {
    use rand_distr::{Distribution, StandardNormal};
    let mut clean = vec![background; q_nm.len()];
    for &(mean, sd, phi) in populations {
        // Volume-weighted Gaussian on a fine radius grid, +-5 sd, normalised to phi.
        let m = 400;
        let (lo, hi) = ((mean - 5.0 * sd).max(1e-3), mean + 5.0 * sd);
        let dr = (hi - lo) / m as f64;
        let rs: Vec<f64> = (0..m).map(|i| lo + (i as f64 + 0.5) * dr).collect();
        let wts: Vec<f64> = rs
            .iter()
            .map(|r| (-0.5 * ((r - mean) / sd).powi(2)).exp())
            .collect();
        let total: f64 = wts.iter().sum();
        for (r, wt) in rs.iter().zip(&wts) {
            let phi_r = phi * wt / total;
            let v = sphere_volume(*r);
            for (c, &q) in clean.iter_mut().zip(q_nm) {
                *c += 0.1 * phi_r * v * sphere_form_factor(q, *r);
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let intensity: Vec<f64> = clean
        .iter()
        .map(|&c| {
            let z: f64 = StandardNormal.sample(&mut rng);
            (c * (1.0 + rel_noise * z)).max(0.0)
        })
        .collect();
    SaxsData {
        q_nm: q_nm.to_vec(),
        sigma: clean.iter().map(|c| rel_noise * c).collect(),
        intensity,
    }
}

/// A Bragg reflection found on the smooth background.
#[derive(Debug, Clone, Serialize)]
pub struct BraggPeak {
    /// Peak position (1/nm).
    pub q_nm: f64,
    /// Lattice spacing d = 2 pi / q (nm).
    pub d_nm: f64,
    /// Position relative to the first peak.
    pub ratio: f64,
    /// Height above the background relative to the background.
    pub relative_height: f64,
}

/// Allowed peak-position ratios (relative to the first reflection) of common mesophases.
pub fn mesophase_ratios() -> Vec<(&'static str, Vec<f64>)> {
    let s = |v: &[f64]| -> Vec<f64> { v.iter().map(|x| (x / v[0]).sqrt()).collect() };
    vec![
        ("lamellar", vec![1.0, 2.0, 3.0, 4.0, 5.0]),
        ("hexagonal", s(&[1.0, 3.0, 4.0, 7.0, 9.0, 12.0, 13.0])),
        ("cubic Pm3n", s(&[2.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0])),
        ("cubic Im3m", s(&[2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0])),
        ("cubic Ia3d", s(&[6.0, 8.0, 14.0, 16.0, 20.0, 22.0, 24.0])),
        ("cubic Pn3m", s(&[2.0, 3.0, 4.0, 6.0, 8.0, 9.0, 10.0])),
        ("cubic Fm3m", s(&[3.0, 4.0, 8.0, 11.0, 12.0, 16.0])),
    ]
}

/// Bragg peaks: maxima of I / background - 1, where the background is a running median of
/// log I over `window` points, that exceed `min_relative_height` and three times the relative
/// uncertainty there.
pub fn bragg_peaks(data: &SaxsData, window: usize, min_relative_height: f64) -> Vec<BraggPeak> {
    let n = data.q_nm.len();
    let half = (window / 2).max(2);
    let logi: Vec<f64> = data.intensity.iter().map(|v| v.max(1e-300).ln()).collect();
    let bg: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(n));
            let mut w = logi[a..b].to_vec();
            w.sort_by(f64::total_cmp);
            w[w.len() / 2].exp()
        })
        .collect();
    let excess: Vec<f64> = (0..n).map(|i| data.intensity[i] / bg[i] - 1.0).collect();
    let mut peaks: Vec<BraggPeak> = Vec::new();
    for i in 1..n.saturating_sub(1) {
        let noise = 3.0 * data.sigma[i] / bg[i];
        if excess[i] > excess[i - 1]
            && excess[i] >= excess[i + 1]
            && excess[i] > min_relative_height
            && excess[i] > noise
        {
            // Parabolic refinement in q.
            let (a, b, c) = (excess[i - 1], excess[i], excess[i + 1]);
            let (x0, x1, x2) = (data.q_nm[i - 1], data.q_nm[i], data.q_nm[i + 1]);
            let denom = (x0 - x1) * (x0 - x2) * (x1 - x2);
            let q = if denom.abs() > 0.0 {
                let aa = (x2 * (b - a) + x1 * (a - c) + x0 * (c - b)) / denom;
                let bb = (x2 * x2 * (a - b) + x1 * x1 * (c - a) + x0 * x0 * (b - c)) / denom;
                if aa < 0.0 {
                    (-bb / (2.0 * aa)).clamp(x0, x2)
                } else {
                    x1
                }
            } else {
                x1
            };
            peaks.push(BraggPeak {
                q_nm: q,
                d_nm: 2.0 * PI / q,
                ratio: 1.0,
                relative_height: b,
            });
        }
    }
    if let Some(q0) = peaks.first().map(|p| p.q_nm) {
        peaks.iter_mut().for_each(|p| p.ratio = p.q_nm / q0);
    }
    peaks
}

/// The mesophase whose allowed ratios explain every peak within `tolerance` (relative), with
/// the smallest mean mismatch; `None` with fewer than two peaks or no match.
pub fn mesophase(peaks: &[BraggPeak], tolerance: f64) -> Option<&'static str> {
    if peaks.len() < 2 {
        return None;
    }
    let mut best: Option<(&'static str, f64)> = None;
    for (name, allowed) in mesophase_ratios() {
        let mut total = 0.0;
        let mut ok = true;
        for p in peaks {
            let miss = allowed
                .iter()
                .map(|a| (p.ratio - a).abs() / a)
                .fold(f64::INFINITY, f64::min);
            if miss > tolerance {
                ok = false;
                break;
            }
            total += miss;
        }
        if ok && best.is_none_or(|(_, t)| total < t) {
            best = Some((name, total));
        }
    }
    best.map(|(n, _)| n)
}

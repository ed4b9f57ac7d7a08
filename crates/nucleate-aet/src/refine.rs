//! Refinement of an atomic model against the measured projections (aet.md, "Refinement
//! against the projections").
//!
//! Model: each atom a 3D Gaussian with its species' B factor and integrated counts (the
//! global scale is carried by the per-species counts). Each iteration minimises
//! sum (measured - calculated)^2 over
//! 1. per-species counts: exactly, by linear least squares (the projections are linear in
//!    them);
//! 2. per-species B: one Gauss-Newton step on the width with analytic derivatives;
//! 3. positions: a damped Gauss-Newton step per atom (3 x 3 normal equations from the
//!    analytic derivatives of the pixel-integrated Gaussian on the atom's patch of every
//!    projection), all atoms against the same residual;
//! 4. species: each atom is tried as every other species and as no atom; the change is kept
//!    when the squared error on its own patches drops.
//!
//! The position step is kept only where it lowers the total squared error (halved up to
//! three times otherwise): atoms overlapping in many projections pull on the same residual,
//! and undamped joint steps overshoot.
//!
//! Then the model itself is chosen by the evidence each atom carries in the projections:
//! its local chi^2 = (change of the squared error on its patches) / (residual variance on
//! them). Of two atoms closer than the minimum distance, the one with less evidence goes;
//! atoms whose removal raises chi^2 by less than the threshold go; and atoms are added at
//! the peaks of a difference map (the SART reconstruction of the residual projections) where
//! a new atom, its position fitted to the residual, lowers chi^2 by more than the threshold.
//! A few more iterations follow every change of the model.

use rayon::prelude::*;

use crate::error::{AetError, Result};
use crate::geometry::TiltGeometry;
use crate::project::{b_from_sigma, sigma_from_b, Profile1D};
use crate::reconstruct::{Method, Sart};
use crate::trace::local_maxima;
use nucleate_core::{NeighborList, NeighborSpec, SimBox};

/// Refinement parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RefineParams {
    /// Iterations of the four updates.
    pub iterations: usize,
    /// Starting B factor of every species (A^2).
    pub initial_b_a2: f64,
    /// Largest position step per iteration (A).
    pub max_step_a: f64,
    /// Try species flips (and removal) from this iteration on.
    pub flips_from: usize,
    /// Allow removing atoms ("no atom") in the species step. Off by default: with noisy data
    /// and positions not yet converged, removal also took out real light atoms in the
    /// round-trip benchmark (the evidence test below removes atoms after convergence).
    pub allow_removal: bool,
    /// Closest two atoms may be (A).
    pub min_distance_a: f64,
    /// Local chi^2 an atom must explain to stay in (or enter) the model; 0 turns the model
    /// selection off.
    pub evidence_chi2: f64,
    /// Rounds of adding atoms from the difference map.
    pub add_rounds: usize,
    /// Iterations of positions and species after each change of the model.
    pub polish_iterations: usize,
    /// Per-projection corrections fitted with the positions (from the second iteration).
    pub corrections: Corrections,
}

impl Default for RefineParams {
    fn default() -> Self {
        Self {
            iterations: 10,
            initial_b_a2: 25.0,
            max_step_a: 0.3,
            flips_from: 4,
            allow_removal: false,
            min_distance_a: 2.0,
            evidence_chi2: 25.0,
            add_rounds: 2,
            polish_iterations: 3,
            corrections: Corrections::default(),
        }
    }
}

/// A refined model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Refined {
    /// Positions (A) of the kept atoms.
    pub positions: Vec<[f64; 3]>,
    /// Species index of each kept atom.
    pub species: Vec<usize>,
    /// Index of each kept atom in the input model.
    pub source_index: Vec<usize>,
    /// B factor per species (A^2).
    pub b_factors: Vec<f64>,
    /// Integrated counts per atom per projection, per species.
    pub counts_per_atom: Vec<f64>,
    /// R1 of the starting model (after fitting counts) and of the refined one.
    pub r1_before: f64,
    /// R1 after refinement.
    pub r1_after: f64,
    /// Species changes kept (including removals).
    pub species_flipped: usize,
    /// Atoms removed as "no atom", too close to another, or without evidence.
    pub removed: usize,
    /// Atoms added from the difference map.
    pub added: usize,
    /// Per projection: shift across and along the tilt axis (pixels) and tilt-angle
    /// correction (degrees) found (zeros unless asked for), relative: the model's own
    /// translation and rotation about the axis are in the positions.
    pub projection_corrections: Vec<[f64; 3]>,
    /// R1 after each iteration.
    pub r1_history: Vec<f64>,
}

struct State<'a> {
    geom: &'a TiltGeometry,
    pos: Vec<[f64; 3]>,
    species: Vec<usize>,
    alive: Vec<bool>,
    sigma_a: Vec<f64>,
    counts: Vec<f64>,
    /// Per projection: shift across the axis and along it (pixels) and tilt-angle
    /// correction (rad).
    corr: Vec<[f64; 3]>,
}

impl State<'_> {
    /// (cos, sin) of projection `k`'s tilt angle corrected by `dt` (rad).
    fn trig_with(&self, k: usize, dt: f64) -> (f64, f64) {
        if dt == 0.0 {
            self.geom.cos_sin(k)
        } else {
            let t = self.geom.angles_deg[k].to_radians() + dt;
            (t.cos(), t.sin())
        }
    }

    /// (cos, sin) of projection `k`'s tilt angle with its correction.
    fn trig(&self, k: usize) -> (f64, f64) {
        self.trig_with(k, self.corr[k][2])
    }

    /// Where `pos` (A) lands in projection `k` under the corrections `corr`: (u, v) in
    /// pixels.
    fn project_with(&self, k: usize, pos: [f64; 3], corr: [f64; 3]) -> (f64, f64) {
        let g = self.geom;
        let (c, s) = self.trig_with(k, corr[2]);
        let ca = g.centre_a();
        let u = ca + (pos[0] - ca) * c + (pos[2] - ca) * s;
        (u / g.pixel_a + corr[0], pos[1] / g.pixel_a + corr[1])
    }

    /// Where `pos` (A) lands in projection `k` with its corrections.
    fn project(&self, k: usize, pos: [f64; 3]) -> (f64, f64) {
        self.project_with(k, pos, self.corr[k])
    }
}

/// Profiles of atom `i` in projection `k`: (u profile, v profile).
fn profiles(st: &State, i: usize, k: usize, deriv: bool) -> (Profile1D, Profile1D) {
    profiles_with(st, i, k, st.corr[k], deriv)
}

/// [`profiles`] under the corrections `corr` of projection `k`.
fn profiles_with(
    st: &State,
    i: usize,
    k: usize,
    corr: [f64; 3],
    deriv: bool,
) -> (Profile1D, Profile1D) {
    let g = st.geom;
    let (u, v) = st.project_with(k, st.pos[i], corr);
    let s = st.sigma_a[st.species[i]] / g.pixel_a;
    (
        Profile1D::new(u, s, g.n, deriv),
        Profile1D::new(v, s, g.n, deriv),
    )
}

fn calculate(st: &State) -> Vec<f64> {
    let g = st.geom;
    let n = g.n;
    let mut out = vec![0.0; g.n_angles() * n * n];
    out.par_chunks_mut(n * n)
        .enumerate()
        .for_each(|(k, img)| render(st, k, img));
    out
}

/// Add the model's projection `k` to `img`.
fn render(st: &State, k: usize, img: &mut [f64]) {
    render_with(st, k, st.corr[k], img);
}

/// Add the model's projection `k` under the corrections `corr` to `img`.
fn render_with(st: &State, k: usize, corr: [f64; 3], img: &mut [f64]) {
    let n = st.geom.n;
    for i in 0..st.pos.len() {
        if !st.alive[i] {
            continue;
        }
        let c = st.counts[st.species[i]];
        let (pu, pv) = profiles_with(st, i, k, corr, false);
        for (j, fv) in pv.value.iter().enumerate() {
            let row = &mut img[(pv.start + j) * n + pu.start..];
            for (a, fu) in pu.value.iter().enumerate() {
                row[a] += c * fv * fu;
            }
        }
    }
}

/// Which per-projection corrections to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Corrections {
    /// Shifts across and along the tilt axis.
    pub shifts: bool,
    /// Tilt angles.
    pub angles: bool,
}

/// One damped Gauss-Newton step on every projection's shifts and/or tilt angle against its
/// own image, kept only where that image's squared error drops; then the parts the model's
/// own translation and rotation about the axis could take (shifts across the axis of the
/// form a cos + b sin, the mean shift along it, the mean angle) are moved into the
/// positions, so the corrections stay relative.
fn fit_corrections(st: &mut State, meas: &[f32], which: Corrections) {
    let g = st.geom;
    let n = g.n;
    let m = n * n;
    let ca = g.centre_a();
    let on = [which.shifts, which.shifts, which.angles];
    let new: Vec<[f64; 3]> = (0..g.n_angles())
        .into_par_iter()
        .map(|k| {
            let mut model = vec![0.0; m];
            render(st, k, &mut model);
            let b = &meas[k * m..(k + 1) * m];
            // Per-pixel derivatives by the three parameters, summed over overlapping atoms.
            let mut jac = vec![[0.0f64; 3]; m];
            let (c, s) = st.trig(k);
            for i in (0..st.pos.len()).filter(|&i| st.alive[i]) {
                let cnt = st.counts[st.species[i]];
                let p = st.pos[i];
                let du_dt = (-(p[0] - ca) * s + (p[2] - ca) * c) / g.pixel_a;
                let (pu, pv) = profiles(st, i, k, true);
                for (j, fv) in pv.value.iter().enumerate() {
                    let row = (pv.start + j) * n + pu.start;
                    for (a, fu) in pu.value.iter().enumerate() {
                        let mu = cnt * pu.d_centre[a] * fv;
                        let jj = &mut jac[row + a];
                        jj[0] += mu;
                        jj[1] += cnt * fu * pv.d_centre[j];
                        jj[2] += mu * du_dt;
                    }
                }
            }
            let mut jtj = nalgebra::Matrix3::<f64>::zeros();
            let mut jtr = nalgebra::Vector3::<f64>::zeros();
            for ((jj, mo), bb) in jac.iter().zip(&model).zip(b) {
                let v = nalgebra::Vector3::new(jj[0], jj[1], jj[2]);
                jtj += v * v.transpose();
                jtr += v * (*bb as f64 - mo);
            }
            for p in 0..3 {
                if !on[p] {
                    for q in 0..3 {
                        jtj[(p, q)] = 0.0;
                        jtj[(q, p)] = 0.0;
                    }
                    jtj[(p, p)] = 1.0;
                    jtr[p] = 0.0;
                }
            }
            let damped = jtj + nalgebra::Matrix3::from_diagonal(&jtj.diagonal()) * 0.5;
            let cur = st.corr[k];
            let Some(inv) = damped.try_inverse() else {
                return cur;
            };
            let d = inv * jtr;
            // At most half a pixel and half a degree per step.
            let lim = [0.5, 0.5, 0.5f64.to_radians()];
            let step: Vec<f64> = (0..3).map(|p| d[p].clamp(-lim[p], lim[p])).collect();
            let before = sse(b, &model);
            for scale in [1.0, 0.5, 0.25] {
                let trial = [0, 1, 2].map(|p| cur[p] + scale * step[p]);
                let mut mt = vec![0.0; m];
                render_with(st, k, trial, &mut mt);
                if sse(b, &mt) < before {
                    return trial;
                }
            }
            cur
        })
        .collect();
    st.corr = new;
    remove_gauge(st);
}

/// Move the part of the corrections that a translation or a rotation about the tilt axis of
/// the whole model would make into the positions (the model's projections are unchanged).
fn remove_gauge(st: &mut State) {
    let g = st.geom;
    let na = g.n_angles();
    let ca = g.centre_a();
    // Mean angle: rotate the model by it about the axis.
    let dt = st.corr.iter().map(|c| c[2]).sum::<f64>() / na as f64;
    if dt != 0.0 {
        let (c, s) = (dt.cos(), dt.sin());
        for p in st.pos.iter_mut() {
            let (x, z) = (p[0] - ca, p[2] - ca);
            p[0] = ca + x * c + z * s;
            p[2] = ca + z * c - x * s;
        }
        for k in 0..na {
            st.corr[k][2] -= dt;
        }
    }
    // Shifts across the axis of the form a cos + b sin (with the corrected angles): an x/z
    // translation (a, b) pixels; the mean shift along the axis: a y translation.
    let mut ata = nalgebra::Matrix2::<f64>::zeros();
    let mut atb = nalgebra::Vector2::<f64>::zeros();
    for k in 0..na {
        let (c, s) = st.trig(k);
        let v = nalgebra::Vector2::new(c, s);
        ata += v * v.transpose();
        atb += v * st.corr[k][0];
    }
    let ab = ata
        .try_inverse()
        .map_or(nalgebra::Vector2::zeros(), |i| i * atb);
    let dv = st.corr.iter().map(|c| c[1]).sum::<f64>() / na as f64;
    for k in 0..na {
        let (c, s) = st.trig(k);
        st.corr[k][0] -= ab[0] * c + ab[1] * s;
        st.corr[k][1] -= dv;
    }
    for p in st.pos.iter_mut() {
        p[0] += ab[0] * g.pixel_a;
        p[1] += dv * g.pixel_a;
        p[2] += ab[1] * g.pixel_a;
    }
}

fn r1_of(meas: &[f32], calc: &[f64]) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (m, c) in meas.iter().zip(calc) {
        num += (*m as f64 - c).abs();
        den += (*m as f64).abs();
    }
    num / den.max(1e-300)
}

/// Per-species counts by linear least squares on the measured images.
fn fit_counts(st: &mut State, meas: &[f32]) {
    let ns = st.counts.len();
    let g = st.geom;
    let n = g.n;
    // Basis images per species, accumulated per projection to bound memory.
    let (gram, rhs) = (0..g.n_angles())
        .into_par_iter()
        .map(|k| {
            let mut basis = vec![vec![0.0; n * n]; ns];
            for i in 0..st.pos.len() {
                if !st.alive[i] {
                    continue;
                }
                let (pu, pv) = profiles(st, i, k, false);
                let img = &mut basis[st.species[i]];
                for (j, fv) in pv.value.iter().enumerate() {
                    let row = &mut img[(pv.start + j) * n + pu.start..];
                    for (a, fu) in pu.value.iter().enumerate() {
                        row[a] += fv * fu;
                    }
                }
            }
            let m = &meas[k * n * n..(k + 1) * n * n];
            let mut gram = vec![0.0; ns * ns];
            let mut rhs = vec![0.0; ns];
            for s in 0..ns {
                rhs[s] = basis[s].iter().zip(m).map(|(b, v)| b * *v as f64).sum();
                for t in 0..ns {
                    gram[s * ns + t] = basis[s].iter().zip(&basis[t]).map(|(a, b)| a * b).sum();
                }
            }
            (gram, rhs)
        })
        .reduce(
            || (vec![0.0; ns * ns], vec![0.0; ns]),
            |mut a, b| {
                a.0.iter_mut().zip(&b.0).for_each(|(x, y)| *x += y);
                a.1.iter_mut().zip(&b.1).for_each(|(x, y)| *x += y);
                a
            },
        );
    let gm = nalgebra::DMatrix::from_row_slice(ns, ns, &gram);
    let hv = nalgebra::DVector::from_column_slice(&rhs);
    if let Some(c) = gm.lu().solve(&hv) {
        for s in 0..ns {
            if c[s].is_finite() && c[s] > 0.0 {
                st.counts[s] = c[s];
            }
        }
    }
}

/// One Gauss-Newton step on each species' width.
fn fit_widths(st: &mut State, resid: &[f64]) {
    let ns = st.counts.len();
    let g = st.geom;
    let n = g.n;
    let (jr, jj) = (0..g.n_angles())
        .into_par_iter()
        .map(|k| {
            let mut dimg = vec![vec![0.0; n * n]; ns];
            for i in 0..st.pos.len() {
                if !st.alive[i] {
                    continue;
                }
                let s = st.species[i];
                let c = st.counts[s] / g.pixel_a; // d/d sigma_a = d/d sigma_px / pixel
                let (pu, pv) = profiles(st, i, k, true);
                for (j, fv) in pv.value.iter().enumerate() {
                    let row = &mut dimg[s][(pv.start + j) * n + pu.start..];
                    for (a, fu) in pu.value.iter().enumerate() {
                        row[a] += c * (pu.d_sigma[a] * fv + fu * pv.d_sigma[j]);
                    }
                }
            }
            let r = &resid[k * n * n..(k + 1) * n * n];
            let jr: Vec<f64> = dimg
                .iter()
                .map(|d| d.iter().zip(r).map(|(a, b)| a * b).sum())
                .collect();
            let jj: Vec<f64> = dimg.iter().map(|d| d.iter().map(|a| a * a).sum()).collect();
            (jr, jj)
        })
        .reduce(
            || (vec![0.0; ns], vec![0.0; ns]),
            |mut a, b| {
                a.0.iter_mut().zip(&b.0).for_each(|(x, y)| *x += y);
                a.1.iter_mut().zip(&b.1).for_each(|(x, y)| *x += y);
                a
            },
        );
    for s in 0..ns {
        if jj[s] > 0.0 {
            let step = (jr[s] / jj[s]).clamp(-0.1, 0.1);
            st.sigma_a[s] = (st.sigma_a[s] + step).clamp(0.05, 2.0);
        }
    }
}

/// The damped Gauss-Newton step of one atom's position (A): an atom at `pos` with image
/// `(width in pixels, counts)` against `resid`. `absent`: the atom is not in the model the
/// residual was taken from, so its own image is taken off the target. Levenberg damping
/// `damping` x diag; the step is cut to `max_step_a`. `None` when the equations are singular.
fn position_step(
    st: &State,
    pos: [f64; 3],
    (width, counts): (f64, f64),
    resid: &[f64],
    absent: bool,
    damping: f64,
    max_step_a: f64,
) -> Option<[f64; 3]> {
    let g = st.geom;
    let n = g.n;
    // d/d position (A) = d/d centre (pixels) / pixel.
    let c = counts / g.pixel_a;
    let mut jtj = nalgebra::Matrix3::<f64>::zeros();
    let mut jtr = nalgebra::Vector3::<f64>::zeros();
    for k in 0..g.n_angles() {
        let (cs, sn) = st.trig(k);
        let (u, v) = st.project(k, pos);
        let pu = Profile1D::new(u, width, n, true);
        let pv = Profile1D::new(v, width, n, true);
        let r = &resid[k * n * n..(k + 1) * n * n];
        for (j, fv) in pv.value.iter().enumerate() {
            let row = (pv.start + j) * n + pu.start;
            for (a, fu) in pu.value.iter().enumerate() {
                let du = c * pu.d_centre[a] * fv;
                let jac = nalgebra::Vector3::new(du * cs, c * fu * pv.d_centre[j], du * sn);
                let target = if absent {
                    r[row + a] - counts * fu * fv
                } else {
                    r[row + a]
                };
                jtj += jac * jac.transpose();
                jtr += jac * target;
            }
        }
    }
    let damped = jtj + nalgebra::Matrix3::from_diagonal(&jtj.diagonal()) * damping;
    let d = damped.try_inverse()? * jtr;
    let len = d.norm();
    let scale = if len > max_step_a {
        max_step_a / len
    } else {
        1.0
    };
    Some([d[0] * scale, d[1] * scale, d[2] * scale])
}

/// Position step for every atom against the shared residual. Damping 1: neighbours share
/// pixels, so the joint step is smaller.
fn position_steps(st: &State, resid: &[f64], max_step_a: f64) -> Vec<[f64; 3]> {
    (0..st.pos.len())
        .into_par_iter()
        .map(|i| {
            if !st.alive[i] {
                return [0.0; 3];
            }
            let image = image_of(st, st.species[i]);
            position_step(st, st.pos[i], image, resid, false, 1.0, max_step_a).unwrap_or([0.0; 3])
        })
        .collect()
}

/// Sum of squared residuals.
fn sse(meas: &[f32], calc: &[f64]) -> f64 {
    meas.iter()
        .zip(calc)
        .map(|(m, c)| (*m as f64 - c) * (*m as f64 - c))
        .sum()
}

/// The position step, halved up to three times until the total squared error drops (kept
/// unchanged otherwise); `resid` is the residual of the current positions.
fn fit_positions(st: &mut State, meas: &[f32], resid: &[f64], max_step_a: f64) {
    let steps = position_steps(st, resid, max_step_a);
    let before: f64 = resid.iter().map(|r| r * r).sum();
    let start = st.pos.clone();
    let mut scale = 1.0;
    for _ in 0..4 {
        for ((p, q), d) in st.pos.iter_mut().zip(&start).zip(&steps) {
            for a in 0..3 {
                p[a] = q[a] + scale * d[a];
            }
        }
        if sse(meas, &calculate(st)) < before {
            return;
        }
        scale *= 0.5;
    }
    st.pos = start;
}

/// What changing the image of one atom does to the squared error on its patches.
#[derive(Debug, Clone, Copy, Default)]
struct LocalChange {
    /// Change of the squared error.
    de: f64,
    /// Squared residual on the patches before the change.
    before: f64,
    /// Number of pixels of the patches.
    pixels: usize,
}

impl LocalChange {
    /// The change of the squared error in units of the residual variance on the patches, the
    /// variance taken from the state with the atom present (`with_atom_after`: the state
    /// after the change). Positive when the error rises.
    fn chi2(&self, with_atom_after: bool) -> f64 {
        let with_atom = if with_atom_after {
            self.before + self.de
        } else {
            self.before
        };
        let var = with_atom / self.pixels.max(1) as f64;
        if var > 0.0 {
            self.de / var
        } else {
            0.0
        }
    }
}

/// The change of the squared error on the patches around `pos` when the atom image there
/// goes from `old` to `new` (each its width in pixels and counts; `None`: no atom).
fn local_change(
    st: &State,
    resid: &[f64],
    pos: [f64; 3],
    old: Option<(f64, f64)>,
    new: Option<(f64, f64)>,
) -> LocalChange {
    let g = st.geom;
    let n = g.n;
    let width = old.map_or(0.0, |o| o.0).max(new.map_or(0.0, |o| o.0));
    let at = |p: &Profile1D, idx: usize| {
        idx.checked_sub(p.start)
            .and_then(|o| p.value.get(o))
            .copied()
            .unwrap_or(0.0)
    };
    let mut out = LocalChange::default();
    for k in 0..g.n_angles() {
        let r = &resid[k * n * n..(k + 1) * n * n];
        let (u, v) = st.project(k, pos);
        let pu = Profile1D::new(u, width, n, false);
        let pv = Profile1D::new(v, width, n, false);
        let image = |w: Option<(f64, f64)>| {
            w.map(|(s, c)| {
                (
                    Profile1D::new(u, s, n, false),
                    Profile1D::new(v, s, n, false),
                    c,
                )
            })
        };
        let (o, nw) = (image(old), image(new));
        for j in 0..pv.value.len() {
            let y = pv.start + j;
            for a in 0..pu.value.len() {
                let x = pu.start + a;
                let val = |im: &Option<(Profile1D, Profile1D, f64)>| {
                    im.as_ref()
                        .map_or(0.0, |(pu, pv, c)| c * at(pu, x) * at(pv, y))
                };
                let dp = val(&nw) - val(&o);
                let rr = r[y * n + x];
                out.de += (rr - dp) * (rr - dp) - rr * rr;
                out.before += rr * rr;
                out.pixels += 1;
            }
        }
    }
    out
}

/// Width (pixels) and counts of species `s`.
fn image_of(st: &State, s: usize) -> (f64, f64) {
    (st.sigma_a[s] / st.geom.pixel_a, st.counts[s])
}

/// Try every other species (and removal) for each atom against the residual on its patches;
/// apply the best change that lowers the squared error. Returns (flips, removals).
fn flip_species(st: &mut State, resid: &[f64], allow_removal: bool) -> (usize, usize) {
    let ns = st.counts.len();
    let decisions: Vec<Option<Option<usize>>> = (0..st.pos.len())
        .into_par_iter()
        .map(|i| {
            if !st.alive[i] {
                return None;
            }
            let cur = st.species[i];
            let mut options: Vec<Option<usize>> = (0..ns).filter(|&s| s != cur).map(Some).collect();
            if allow_removal {
                options.push(None);
            }
            let mut best: Option<(f64, Option<usize>)> = None;
            for opt in options {
                let de = local_change(
                    st,
                    resid,
                    st.pos[i],
                    Some(image_of(st, cur)),
                    opt.map(|s| image_of(st, s)),
                )
                .de;
                if de < 0.0 && best.is_none_or(|b| de < b.0) {
                    best = Some((de, opt));
                }
            }
            best.map(|b| b.1)
        })
        .collect();
    let (mut flips, mut removed) = (0, 0);
    for (i, d) in decisions.into_iter().enumerate() {
        match d {
            Some(Some(s)) => {
                st.species[i] = s;
                flips += 1;
            }
            Some(None) => {
                st.alive[i] = false;
                flips += 1;
                removed += 1;
            }
            None => {}
        }
    }
    (flips, removed)
}

fn residual(st: &State, meas: &[f32]) -> Vec<f64> {
    meas.iter()
        .zip(&calculate(st))
        .map(|(m, c)| *m as f64 - c)
        .collect()
}

/// Local chi^2 each living atom explains: the rise of the squared error on its patches when
/// it is taken out, over the residual variance there (negative for an atom that makes the
/// fit worse; 0 for removed atoms).
fn evidence(st: &State, resid: &[f64]) -> Vec<f64> {
    (0..st.pos.len())
        .into_par_iter()
        .map(|i| {
            if !st.alive[i] {
                return 0.0;
            }
            local_change(
                st,
                resid,
                st.pos[i],
                Some(image_of(st, st.species[i])),
                None,
            )
            .chi2(false)
        })
        .collect()
}

fn dist2(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]) * (a[k] - b[k])).sum()
}

/// Of every pair of atoms closer than `min_d` (A), remove the one with less evidence, closest
/// pairs first. Returns the number removed.
fn resolve_close_pairs(st: &mut State, meas: &[f32], min_d: f64) -> Result<usize> {
    let alive: Vec<usize> = (0..st.pos.len()).filter(|&i| st.alive[i]).collect();
    if min_d.is_nan() || min_d <= 0.0 || alive.len() < 2 {
        return Ok(0);
    }
    let pos: Vec<[f64; 3]> = alive.iter().map(|&i| st.pos[i]).collect();
    let cell = SimBox::enclosing(&pos, min_d)?;
    let list = NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: min_d })?;
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (a, &i) in alive.iter().enumerate() {
        for (&b, &d) in list.neighbors(a).iter().zip(list.distances(a)) {
            let b = b as usize;
            if a < b && d < min_d {
                pairs.push((d, i, alive[b]));
            }
        }
    }
    if pairs.is_empty() {
        return Ok(0);
    }
    let ev = evidence(st, &residual(st, meas));
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut removed = 0;
    for (_, i, j) in pairs {
        if st.alive[i] && st.alive[j] {
            st.alive[if ev[i] < ev[j] { i } else { j }] = false;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Remove atoms whose evidence is below `threshold`. Returns the number removed.
fn prune_weak(st: &mut State, meas: &[f32], threshold: f64) -> usize {
    let ev = evidence(st, &residual(st, meas));
    let mut removed = 0;
    for (i, e) in ev.iter().enumerate() {
        if st.alive[i] && *e < threshold {
            st.alive[i] = false;
            removed += 1;
        }
    }
    removed
}

/// Position of a new atom of species `s` fitted to the residual `resid` (the atom not in
/// it) from `pos`: damped Gauss-Newton steps.
fn fit_new_atom(
    st: &State,
    resid: &[f64],
    mut pos: [f64; 3],
    s: usize,
    max_step_a: f64,
) -> [f64; 3] {
    for _ in 0..8 {
        let Some(d) = position_step(st, pos, image_of(st, s), resid, true, 0.5, max_step_a) else {
            break;
        };
        for a in 0..3 {
            pos[a] += d[a];
        }
        if d.iter().map(|x| x * x).sum::<f64>() < 1e-6 {
            break;
        }
    }
    pos
}

/// Add atoms at the peaks of the difference map (SART of the residual projections) where a
/// new atom, fitted to the residual, explains at least `threshold` of chi^2 and lies
/// `min_d` from every atom. Returns the number added.
fn add_from_difference_map(st: &mut State, meas: &[f32], params: &RefineParams) -> usize {
    let g = st.geom;
    let resid = residual(st, meas);
    let resid32: Vec<f32> = resid.iter().map(|&v| v as f32).collect();
    let mut sart = Sart::new(&resid32, g, 1.0, 0, None);
    for _ in 0..5 {
        sart.step();
    }
    let map = sart.volume();
    let alive: Vec<[f64; 3]> = (0..st.pos.len())
        .filter(|&i| st.alive[i])
        .map(|i| st.pos[i])
        .collect();
    let min2 = params.min_distance_a * params.min_distance_a;
    let far = |p: [f64; 3], atoms: &[[f64; 3]]| atoms.iter().all(|&q| dist2(p, q) >= min2);
    // Local maxima of the positive part, strongest first.
    let mut peaks: Vec<(f32, [f64; 3])> = local_maxima(&map, f32::MIN_POSITIVE)
        .into_iter()
        .map(|(v, x, y, z)| (v, [x, y, z].map(|c| c as f64 * g.pixel_a)))
        .collect();
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    let budget = (alive.len() / 10).max(16);
    let candidates: Vec<[f64; 3]> = peaks
        .into_iter()
        .map(|p| p.1)
        .filter(|&p| far(p, &alive))
        .take(budget)
        .collect();
    let ns = st.counts.len();
    let st_ref = &*st;
    let mut trials: Vec<(f64, [f64; 3], usize)> = candidates
        .par_iter()
        .filter_map(|&p0| {
            (0..ns)
                .filter_map(|s| {
                    let p = fit_new_atom(st_ref, &resid, p0, s, params.max_step_a);
                    if !far(p, &alive) || dist2(p, p0) > 1.0 {
                        return None;
                    }
                    let lc = local_change(st_ref, &resid, p, None, Some(image_of(st_ref, s)));
                    (lc.de < 0.0).then(|| (-lc.chi2(true), p, s))
                })
                .max_by(|a, b| a.0.total_cmp(&b.0))
        })
        .filter(|t| t.0 >= params.evidence_chi2)
        .collect();
    trials.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut added: Vec<[f64; 3]> = Vec::new();
    for (_, p, s) in trials {
        if far(p, &added) {
            added.push(p);
            st.pos.push(p);
            st.species.push(s);
            st.alive.push(true);
        }
    }
    added.len()
}

/// Refine `positions`/`species` (indices into `n_species` species) against `measured`
/// ([projection][row][column]) taken with `geom`.
pub fn refine(
    positions: &[[f64; 3]],
    species: &[usize],
    n_species: usize,
    measured: &[f32],
    geom: &TiltGeometry,
    params: &RefineParams,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<Refined> {
    let n = geom.n;
    if measured.len() != geom.n_angles() * n * n {
        return Err(AetError::Invalid(format!(
            "{} pixels for {} projections of {n} x {n}",
            measured.len(),
            geom.n_angles()
        )));
    }
    if positions.is_empty() {
        return Err(AetError::Invalid("the model has no atoms to refine".into()));
    }
    if species.iter().any(|&s| s >= n_species) {
        return Err(AetError::Invalid("species index out of range".into()));
    }
    let mut st = State {
        geom,
        pos: positions.to_vec(),
        species: species.to_vec(),
        alive: vec![true; positions.len()],
        sigma_a: vec![sigma_from_b(params.initial_b_a2); n_species],
        counts: vec![1.0; n_species],
        corr: vec![[0.0; 3]; geom.n_angles()],
    };
    fit_counts(&mut st, measured);
    let calc = calculate(&st);
    let r1_before = r1_of(measured, &calc);
    let mut flipped = 0;
    let mut removed = 0;
    let mut added = 0;
    let mut history = Vec::new();
    let mut iterate = |st: &mut State, flips: bool, history: &mut Vec<f64>| {
        let resid = residual(st, measured);
        fit_widths(st, &resid);
        fit_counts(st, measured);
        let resid = residual(st, measured);
        fit_positions(st, measured, &resid, params.max_step_a);
        let mut fr = (0, 0);
        if flips {
            fr = flip_species(st, &residual(st, measured), params.allow_removal);
        }
        let r1 = r1_of(measured, &calculate(st));
        history.push(r1);
        progress(history.len(), r1);
        fr
    };
    let correct = params.corrections.shifts || params.corrections.angles;
    for it in 0..params.iterations {
        if correct && it > 0 {
            fit_corrections(&mut st, measured, params.corrections);
        }
        let (f, r) = iterate(&mut st, it + 1 >= params.flips_from, &mut history);
        flipped += f;
        removed += r;
    }
    if params.evidence_chi2 > 0.0 {
        removed += resolve_close_pairs(&mut st, measured, params.min_distance_a)?;
        removed += prune_weak(&mut st, measured, params.evidence_chi2);
        for _ in 0..params.polish_iterations {
            flipped += iterate(&mut st, true, &mut history).0;
        }
        for _ in 0..params.add_rounds {
            let a = add_from_difference_map(&mut st, measured, params);
            added += a;
            if a == 0 {
                break;
            }
            for _ in 0..params.polish_iterations {
                flipped += iterate(&mut st, true, &mut history).0;
            }
            removed += resolve_close_pairs(&mut st, measured, params.min_distance_a)?;
        }
    }
    let keep: Vec<usize> = (0..st.pos.len()).filter(|&i| st.alive[i]).collect();
    Ok(Refined {
        positions: keep.iter().map(|&i| st.pos[i]).collect(),
        species: keep.iter().map(|&i| st.species[i]).collect(),
        source_index: keep.clone(),
        b_factors: st.sigma_a.iter().map(|&s| b_from_sigma(s)).collect(),
        counts_per_atom: st.counts.clone(),
        r1_before,
        r1_after: history.last().copied().unwrap_or(r1_before),
        species_flipped: flipped,
        removed,
        added,
        projection_corrections: st
            .corr
            .iter()
            .map(|c| [c[0], c[1], c[2].to_degrees()])
            .collect(),
        r1_history: history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{project_atoms, GaussianAtom};

    /// Gaussian atoms at `truth` positions with their species' counts and B factors.
    fn gaussian(truth: &[([f64; 3], usize)], counts: &[f64], b: &[f64]) -> Vec<GaussianAtom> {
        truth
            .iter()
            .map(|(p, s)| GaussianAtom {
                pos_a: *p,
                counts: counts[*s],
                sigma_a: sigma_from_b(b[*s]),
            })
            .collect()
    }

    #[test]
    fn adds_a_missing_atom_and_removes_a_spurious_and_a_duplicate_one() {
        use crate::project::{add_noise, Noise};
        let n = 48;
        let g = TiltGeometry::new((-12..=12).map(|i| i as f64 * 5.0).collect(), n, 0.4).unwrap();
        // Eight atoms 2.8-4 A apart around the centre (9.6 A), light (0) and heavy (1).
        let truth: Vec<([f64; 3], usize)> = vec![
            ([8.2, 8.3, 8.1], 1),
            ([11.0, 8.4, 8.2], 0),
            ([8.1, 11.1, 8.3], 0),
            ([11.1, 11.2, 8.0], 1),
            ([8.3, 8.2, 11.0], 0),
            ([11.2, 8.1, 11.1], 1),
            ([8.0, 11.0, 11.2], 1),
            ([11.1, 11.0, 11.0], 0),
        ];
        let (counts, b) = ([150.0, 600.0], [20.0, 25.0]);
        let atoms = gaussian(&truth, &counts, &b);
        let mut imgs = project_atoms(&atoms, &g);
        let noise = Noise {
            poisson: true,
            read_noise: 2.0,
            seed: 5,
        };
        add_noise(&mut imgs, n, &noise);
        let meas: Vec<f32> = imgs.into_iter().map(|v| v as f32).collect();
        // Start: truth 0.15 A off without the light atom 7, plus a light atom in empty space
        // and a second heavy atom 1 A from atom 0.
        let mut start: Vec<[f64; 3]> = truth[..7]
            .iter()
            .map(|(p, _)| [p[0] + 0.15, p[1] - 0.1, p[2] + 0.1])
            .collect();
        let mut sp: Vec<usize> = truth[..7].iter().map(|t| t.1).collect();
        start.push([14.5, 14.0, 5.0]);
        sp.push(0);
        start.push([7.4, 8.0, 7.7]);
        sp.push(1);
        let r = refine(
            &start,
            &sp,
            2,
            &meas,
            &g,
            &RefineParams::default(),
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(r.positions.len(), 8, "{:?}", r.positions);
        assert!(
            r.added >= 1 && r.removed >= 2,
            "added {} removed {}",
            r.added,
            r.removed
        );
        for (p, s) in &truth {
            let (j, d) = r
                .positions
                .iter()
                .enumerate()
                .map(|(j, q)| (j, dist2(*p, *q).sqrt()))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap();
            assert!(
                d < 0.25 && r.species[j] == *s,
                "{p:?}: nearest at {d} A, species {}",
                r.species[j]
            );
        }
        // The same start with the model selection off keeps all nine atoms.
        let off = RefineParams {
            evidence_chi2: 0.0,
            ..Default::default()
        };
        let r = refine(&start, &sp, 2, &meas, &g, &off, &mut |_, _| {}).unwrap();
        assert_eq!(r.positions.len(), 9);
    }

    /// A series whose projections are shifted and whose tilt angles are off: refinement with
    /// corrections finds them (up to the model's own translation and rotation) and places the
    /// atoms better than without.
    #[test]
    fn finds_projection_shifts_and_angle_errors() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        let n = 40;
        let pixel = 0.4;
        let angles: Vec<f64> = (-7..=7).map(|i| i as f64 * 9.0).collect();
        let g = TiltGeometry::new(angles.clone(), n, pixel).unwrap();
        let truth: Vec<([f64; 3], usize)> = (0..12)
            .map(|i| {
                let (a, b, c) = (i % 3, (i / 3) % 2, i / 6);
                (
                    [
                        5.3 + 2.9 * a as f64 + 0.3 * b as f64,
                        6.1 + 2.8 * b as f64 + 0.2 * c as f64,
                        6.4 + 3.0 * c as f64 + 0.25 * a as f64,
                    ],
                    (i % 2) as usize,
                )
            })
            .collect();
        let atoms = gaussian(&truth, &[150.0, 600.0], &[20.0, 25.0]);
        // Projection k is taken at angle + dt_k, shifted by (du_k, dv_k) pixels: the same as
        // moving the atoms by du (cos, 0, sin) pixel and dv along y.
        let mut errors = Vec::new();
        let mut meas = Vec::new();
        for &a in &angles {
            let (du, dv, dt) = (
                rng.gen_range(-0.5..0.5),
                rng.gen_range(-0.5..0.5),
                rng.gen_range(-0.4f64..0.4),
            );
            let t = (a + dt).to_radians();
            let moved: Vec<GaussianAtom> = atoms
                .iter()
                .map(|x| GaussianAtom {
                    pos_a: [
                        x.pos_a[0] + du * pixel * t.cos(),
                        x.pos_a[1] + dv * pixel,
                        x.pos_a[2] + du * pixel * t.sin(),
                    ],
                    ..*x
                })
                .collect();
            let g1 = TiltGeometry::new(vec![a + dt], n, pixel).unwrap();
            meas.extend(project_atoms(&moved, &g1).into_iter().map(|v| v as f32));
            errors.push([du, dv, dt]);
        }
        let start: Vec<[f64; 3]> = truth.iter().map(|(p, _)| *p).collect();
        let sp: Vec<usize> = truth.iter().map(|t| t.1).collect();
        let run = |corrections| {
            let p = RefineParams {
                iterations: 12,
                evidence_chi2: 0.0,
                corrections,
                ..Default::default()
            };
            refine(&start, &sp, 2, &meas, &g, &p, &mut |_, _| {}).unwrap()
        };
        let both = Corrections {
            shifts: true,
            angles: true,
        };
        let (with, without) = (run(both), run(Corrections::default()));
        assert!(without
            .projection_corrections
            .iter()
            .all(|c| *c == [0.0; 3]));
        // The truth's relative part: the same gauge removed as in the refinement.
        let found = &with.projection_corrections;
        let mean = |f: &dyn Fn(&[f64; 3]) -> f64| errors.iter().map(f).sum::<f64>() / 15.0;
        let (mdv, mdt) = (mean(&|e| e[1]), mean(&|e| e[2]));
        // Across the axis: the truth less its best a cos + b sin.
        let trig: Vec<(f64, f64)> = angles
            .iter()
            .zip(&errors)
            .map(|(a, e)| ((a + e[2]).to_radians().cos(), (a + e[2]).to_radians().sin()))
            .collect();
        let mut ata = nalgebra::Matrix2::<f64>::zeros();
        let mut atb = nalgebra::Vector2::<f64>::zeros();
        for ((c, s), e) in trig.iter().zip(&errors) {
            let v = nalgebra::Vector2::new(*c, *s);
            ata += v * v.transpose();
            atb += v * e[0];
        }
        let ab = ata.try_inverse().unwrap() * atb;
        let mut worst = [0.0f64; 3];
        for (((c, s), e), f) in trig.iter().zip(&errors).zip(found) {
            worst[0] = worst[0].max((e[0] - ab[0] * c - ab[1] * s - f[0]).abs());
            worst[1] = worst[1].max((e[1] - mdv - f[1]).abs());
            worst[2] = worst[2].max((e[2] - mdt - f[2]).abs());
        }
        // Measured: 5e-4 px, 1e-4 px, 0.042 deg (errors up to 0.5 px and 0.4 deg).
        assert!(
            worst[0] < 0.02 && worst[1] < 0.02 && worst[2] < 0.1,
            "worst errors (px, px, deg) {worst:?}"
        );
        assert!(
            with.r1_after < 0.2 * without.r1_after,
            "R1 {} with corrections, {} without",
            with.r1_after,
            without.r1_after
        );
    }

    #[test]
    fn recovers_positions_counts_b_and_a_wrong_species() {
        let n = 40;
        let g = TiltGeometry::new((-4..=4).map(|i| i as f64 * 15.0).collect(), n, 0.5).unwrap();
        let truth: Vec<([f64; 3], usize)> = vec![
            ([8.0, 9.0, 10.0], 0),
            ([11.0, 9.5, 8.5], 1),
            ([10.0, 12.3, 11.0], 1),
            ([7.5, 11.5, 12.5], 0),
        ];
        let (counts, b) = ([100.0, 450.0], [20.0, 30.0]);
        let atoms = gaussian(&truth, &counts, &b);
        let meas: Vec<f32> = project_atoms(&atoms, &g)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        // Start 0.2 A off, with atom 3 labelled heavy.
        let start: Vec<[f64; 3]> = truth
            .iter()
            .map(|(p, _)| [p[0] + 0.2, p[1] - 0.15, p[2] + 0.2])
            .collect();
        let sp = vec![0, 1, 1, 1];
        let p = RefineParams {
            iterations: 15,
            flips_from: 1,
            ..Default::default()
        };
        let r = refine(&start, &sp, 2, &meas, &g, &p, &mut |_, _| {}).unwrap();
        assert_eq!(r.species, vec![0, 1, 1, 0]);
        assert!(
            r.r1_after < 0.01 && r.r1_after < r.r1_before,
            "{} {}",
            r.r1_before,
            r.r1_after
        );
        for (q, (p, _)) in r.positions.iter().zip(&truth) {
            for a in 0..3 {
                assert!((q[a] - p[a]).abs() < 0.01, "{q:?} {p:?}");
            }
        }
        assert!(
            (r.counts_per_atom[0] - 100.0).abs() < 1.0
                && (r.counts_per_atom[1] - 450.0).abs() < 2.0
        );
        assert!(
            (r.b_factors[0] - 20.0).abs() < 1.0 && (r.b_factors[1] - 30.0).abs() < 1.0,
            "{:?}",
            r.b_factors
        );
    }
}

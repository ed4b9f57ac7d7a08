//! Radial order profiles of nuclei and their fit to a generalized Gaussian.
//!
//!   alpha(r) = alpha0 exp( -(r / lambda)^beta )  [+ background]
//!
//! fitted by Levenberg-Marquardt to the shell means, each shell weighted by its atom count;
//! lambda and beta are fitted on a log scale so they stay positive. Standard errors come
//! from the covariance s^2 (J^T W J)^-1 with s^2 the weighted residual variance.

use glam::DVec3;
use levenberg_marquardt::{LeastSquaresProblem, LevenbergMarquardt};
use nalgebra::{DMatrix, DVector, Dyn, Owned};

use nucleate_core::Frame;

/// An order profile in spherical shells around a centre.
#[derive(Debug, Clone, PartialEq)]
pub struct RadialProfile {
    /// Shell centres (Angstrom).
    pub r: Vec<f64>,
    /// Mean order in each shell.
    pub order: Vec<f64>,
    /// Atoms in each shell.
    pub count: Vec<usize>,
}

/// Mean `order` in shells of width `bin` (Angstrom) around `centre`, out to `r_max`
/// (minimum-image distances); empty shells are left out. If `direction` is given (a unit
/// vector), only atoms within `cone_deg` of it (either sense) count: a profile along a
/// lattice direction.
pub fn radial_profile(
    frame: &Frame,
    order: &[f64],
    centre: [f64; 3],
    bin: f64,
    r_max: f64,
    direction: Option<([f64; 3], f64)>,
) -> RadialProfile {
    let nb = (r_max / bin).ceil().max(1.0) as usize;
    let mut sum = vec![0.0; nb];
    let mut count = vec![0usize; nb];
    let cone = direction.map(|(d, deg)| (DVec3::from_array(d).normalize(), deg.to_radians().cos()));
    for (p, &o) in frame.positions.iter().zip(order) {
        let d = DVec3::from_array(frame.cell.minimum_image([
            p[0] - centre[0],
            p[1] - centre[1],
            p[2] - centre[2],
        ]));
        let r = d.length();
        if r >= r_max {
            continue;
        }
        if let Some((axis, cos_max)) = cone {
            if r > 0.0 && (d.dot(axis) / r).abs() < cos_max {
                continue;
            }
        }
        let k = (r / bin) as usize;
        sum[k] += o;
        count[k] += 1;
    }
    let mut out = RadialProfile {
        r: vec![],
        order: vec![],
        count: vec![],
    };
    for k in 0..nb {
        if count[k] > 0 {
            out.r.push((k as f64 + 0.5) * bin);
            out.order.push(sum[k] / count[k] as f64);
            out.count.push(count[k]);
        }
    }
    out
}

/// The fitted generalized Gaussian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProfileFit {
    /// Amplitude at the centre.
    pub alpha0: f64,
    /// Width (Angstrom).
    pub lambda: f64,
    /// Shape exponent (2 = Gaussian, large = step).
    pub beta: f64,
    /// Constant background (0 when not fitted).
    pub background: f64,
    /// Standard errors of alpha0, lambda, beta, background (0 when not fitted).
    pub errors: [f64; 4],
    /// Root-mean-square weighted residual.
    pub rms_residual: f64,
}

struct Problem<'a> {
    r: &'a [f64],
    y: &'a [f64],
    w: Vec<f64>,
    /// alpha0, ln lambda, ln beta [, background]
    p: DVector<f64>,
}

impl Problem<'_> {
    fn model(&self, r: f64, p: &DVector<f64>) -> (f64, [f64; 4]) {
        let (a0, lam, beta) = (p[0], p[1].exp(), p[2].exp());
        let x = (r / lam).max(1e-300);
        let xb = x.powf(beta);
        let e = (-xb).exp();
        let bg = if p.len() > 3 { p[3] } else { 0.0 };
        // d/d a0, d/d ln lambda, d/d ln beta, d/d bg
        let d_lnlam = a0 * e * beta * xb;
        let d_lnbeta = -a0 * e * xb * x.ln() * beta;
        (a0 * e + bg, [e, d_lnlam, d_lnbeta, 1.0])
    }
}

impl LeastSquaresProblem<f64, Dyn, Dyn> for Problem<'_> {
    type ResidualStorage = Owned<f64, Dyn>;
    type JacobianStorage = Owned<f64, Dyn, Dyn>;
    type ParameterStorage = Owned<f64, Dyn>;

    fn set_params(&mut self, x: &DVector<f64>) {
        self.p.copy_from(x);
    }
    fn params(&self) -> DVector<f64> {
        self.p.clone()
    }
    fn residuals(&self) -> Option<DVector<f64>> {
        let v = DVector::from_iterator(
            self.r.len(),
            self.r
                .iter()
                .zip(self.y)
                .zip(&self.w)
                .map(|((&r, &y), &w)| w * (self.model(r, &self.p).0 - y)),
        );
        v.iter().all(|x| x.is_finite()).then_some(v)
    }
    fn jacobian(&self) -> Option<DMatrix<f64>> {
        let np = self.p.len();
        let mut j = DMatrix::zeros(self.r.len(), np);
        for (k, (&r, &w)) in self.r.iter().zip(&self.w).enumerate() {
            let (_, d) = self.model(r, &self.p);
            for c in 0..np {
                j[(k, c)] = w * d[c];
            }
        }
        j.iter().all(|x| x.is_finite()).then_some(j)
    }
}

/// Fit alpha0 exp(-(r/lambda)^beta) (+ background when `with_background`) to `profile`.
/// None when there are fewer shells than parameters or the fit does not converge.
pub fn fit_profile(profile: &RadialProfile, with_background: bool) -> Option<ProfileFit> {
    let np = if with_background { 4 } else { 3 };
    let m = profile.r.len();
    if m <= np {
        return None;
    }
    let y = &profile.order;
    let a0 = y[0].max(1e-3);
    let bg0 = if with_background { *y.last()? } else { 0.0 };
    // lambda: where the profile falls to 1/e of its height above the background.
    let target = bg0 + (a0 - bg0) / std::f64::consts::E;
    let lam0 = profile
        .r
        .iter()
        .zip(y)
        .find(|(_, &v)| v <= target)
        .map(|(&r, _)| r)
        .unwrap_or(profile.r[m - 1] / 2.0);
    let mut p0 = vec![a0 - bg0, lam0.max(0.1).ln(), 2f64.ln()];
    if with_background {
        p0.push(bg0);
    }
    let w: Vec<f64> = profile.count.iter().map(|&c| (c as f64).sqrt()).collect();
    let problem = Problem {
        r: &profile.r,
        y,
        w,
        p: DVector::from_vec(p0),
    };
    let (problem, report) = LevenbergMarquardt::new()
        .with_patience(200)
        .minimize(problem);
    if !report.termination.was_successful() && report.objective_function.is_nan() {
        return None;
    }
    let p = problem.p.clone();
    let res = problem.residuals()?;
    let jac = problem.jacobian()?;
    let dof = (m - np) as f64;
    let s2 = res.norm_squared() / dof;
    let wsum: f64 = problem.w.iter().map(|w| w * w).sum();
    let cov = (jac.transpose() * &jac).try_inverse().map(|c| c * s2);
    let (lam, beta) = (p[1].exp(), p[2].exp());
    let mut errors = [0.0; 4];
    if let Some(c) = cov {
        errors[0] = c[(0, 0)].max(0.0).sqrt();
        errors[1] = lam * c[(1, 1)].max(0.0).sqrt();
        errors[2] = beta * c[(2, 2)].max(0.0).sqrt();
        if with_background {
            errors[3] = c[(3, 3)].max(0.0).sqrt();
        }
    }
    let fit = ProfileFit {
        alpha0: p[0],
        lambda: lam,
        beta,
        background: if with_background { p[3] } else { 0.0 },
        errors,
        rms_residual: (res.norm_squared() / wsum).sqrt(),
    };
    [fit.alpha0, fit.lambda, fit.beta, fit.background]
        .iter()
        .all(|x| x.is_finite())
        .then_some(fit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_planted_parameters() {
        for &(a0, lam, beta, bg) in &[
            (0.9, 4.0, 2.0, 0.0),
            (0.8, 6.0, 4.0, 0.0),
            (0.7, 5.0, 1.5, 0.2),
        ] {
            let r: Vec<f64> = (0..40).map(|k| 0.25 + 0.5 * k as f64).collect();
            let order: Vec<f64> = r
                .iter()
                .map(|&x| a0 * (-(x / lam).powf(beta)).exp() + bg)
                .collect();
            let count = r.iter().map(|&x| (4.0 * x * x) as usize + 1).collect();
            let p = RadialProfile { r, order, count };
            let f = fit_profile(&p, bg > 0.0).unwrap();
            assert!((f.alpha0 - a0).abs() < 1e-6, "{f:?}");
            assert!((f.lambda - lam).abs() < 1e-5, "{f:?}");
            assert!((f.beta - beta).abs() < 1e-5, "{f:?}");
            assert!((f.background - bg).abs() < 1e-6, "{f:?}");
        }
    }
}

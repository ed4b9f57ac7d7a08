//! Quadrature and bracketed maximisation shared by the numeric paths.

use argmin::core::{CostFunction, Executor};
use argmin::solver::brent::BrentOpt;

/// Relative accuracy asked of every integral. Well below the 1e-6 the model needs, so that
/// quadrature noise does not move the location of a flat maximum.
const REL_TOL: f64 = 1e-11;
/// Deepest bisection of the adaptive quadrature (2^-40 of the interval).
const MAX_DEPTH: u32 = 40;

/// Integral of `f` over `[a, b]`, split at `breakpoints` (kinks, steep edges) that fall
/// inside, each piece by tanh-sinh quadrature, bisected until its error estimate meets
/// the tolerance. The `quadrature` crate stops after a fixed number of levels without
/// subdividing, so the bisection is added here.
pub(crate) fn integrate(f: &dyn Fn(f64) -> f64, a: f64, b: f64, breakpoints: &[f64]) -> f64 {
    if b <= a {
        return 0.0;
    }
    let mut edges = vec![a];
    let mut inner: Vec<f64> = breakpoints
        .iter()
        .copied()
        .filter(|&x| x > a && x < b)
        .collect();
    inner.sort_by(f64::total_cmp);
    edges.extend(inner);
    edges.push(b);
    // A first pass sets the absolute tolerance from the size of the whole integral.
    let pieces: Vec<quadrature::Output> = edges
        .windows(2)
        .map(|w| quadrature::double_exponential::integrate(f, w[0], w[1], 0.0))
        .collect();
    let scale: f64 = pieces.iter().map(|o| o.integral.abs()).sum();
    let tol = (REL_TOL * scale).max(f64::MIN_POSITIVE);
    let per_piece = tol / pieces.len() as f64;
    edges
        .windows(2)
        .zip(&pieces)
        .map(|(w, o)| refine(f, w[0], w[1], o, per_piece, 0))
        .sum()
}

fn refine(
    f: &dyn Fn(f64) -> f64,
    a: f64,
    b: f64,
    first: &quadrature::Output,
    tol: f64,
    depth: u32,
) -> f64 {
    if first.error_estimate <= tol || depth >= MAX_DEPTH {
        return first.integral;
    }
    let m = 0.5 * (a + b);
    let left = quadrature::double_exponential::integrate(f, a, m, 0.0);
    let right = quadrature::double_exponential::integrate(f, m, b, 0.0);
    refine(f, a, m, &left, 0.5 * tol, depth + 1) + refine(f, m, b, &right, 0.5 * tol, depth + 1)
}

/// Derivative of `f` on `[0, 1]` by fourth-order finite differences that never leave the
/// interval (one-sided near its ends), for user shapes given without a derivative.
pub(crate) fn derivative_on_unit(f: &dyn Fn(f64) -> f64, x: f64) -> f64 {
    // h^4 truncation and eps/h rounding balance near h = 1e-3 (errors ~1e-12).
    let h = 1e-3;
    if x - 2.0 * h >= 0.0 && x + 2.0 * h <= 1.0 {
        (f(x - 2.0 * h) - 8.0 * f(x - h) + 8.0 * f(x + h) - f(x + 2.0 * h)) / (12.0 * h)
    } else if x + 4.0 * h <= 1.0 {
        (-25.0 * f(x) + 48.0 * f(x + h) - 36.0 * f(x + 2.0 * h) + 16.0 * f(x + 3.0 * h)
            - 3.0 * f(x + 4.0 * h))
            / (12.0 * h)
    } else {
        (25.0 * f(x) - 48.0 * f(x - h) + 36.0 * f(x - 2.0 * h) - 16.0 * f(x - 3.0 * h)
            + 3.0 * f(x - 4.0 * h))
            / (12.0 * h)
    }
}

/// Where the maximum of a function on `[0, hi]` lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Peak {
    /// An interior maximum at `x` with value `value`.
    Interior { x: f64, value: f64, flat: bool },
    /// The function is largest at (or decreases from) the lower end.
    AtLower,
    /// The function is still largest at the upper end.
    AtUpper { x: f64, value: f64 },
}

struct Negated<'a>(&'a dyn Fn(f64) -> f64);

impl CostFunction for Negated<'_> {
    type Param = f64;
    type Output = f64;
    fn cost(&self, x: &f64) -> Result<f64, argmin::core::Error> {
        Ok(-(self.0)(*x))
    }
}

/// Grid points per search (and per zoom towards the lower end).
const GRID: usize = 800;
/// Zooms towards the lower end before a maximum there counts as "at the lower end".
const MAX_ZOOMS: usize = 12;

/// Maximum of `f` on `[0, hi]`: evaluate on a uniform grid (plus `nodes`), bracket the
/// largest value by its neighbours and refine with Brent's method. A maximum on the first
/// grid point is zoomed into, so a barrier at a radius far below the grid spacing is still
/// found, and a function that only decreases from 0 is reported as [`Peak::AtLower`].
pub(crate) fn maximise(f: &dyn Fn(f64) -> f64, hi: f64, nodes: &[f64]) -> Peak {
    let mut lo_end = 0.0;
    let mut hi_end = hi;
    for zoom in 0..=MAX_ZOOMS {
        let mut xs: Vec<f64> = (0..=GRID)
            .map(|i| lo_end + (hi_end - lo_end) * i as f64 / GRID as f64)
            .collect();
        if zoom == 0 {
            xs.extend(nodes.iter().copied().filter(|&x| x > 0.0 && x < hi));
            xs.sort_by(f64::total_cmp);
            xs.dedup();
        }
        let fs: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
        let mut k = 0;
        for (i, v) in fs.iter().enumerate() {
            if *v > fs[k] {
                k = i;
            }
        }
        let last = xs.len() - 1;
        if zoom > 0 {
            // Zoomed in on the lower end and flat to rounding there: the function is largest
            // as r -> 0 and only decreases (noise, not a maximum).
            let (lo, hi_v) = fs[1..]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            if hi_v - lo <= 1e-9 * hi_v.abs() {
                return Peak::AtLower;
            }
        }
        if k == last && zoom == 0 {
            return Peak::AtUpper {
                x: xs[k],
                value: fs[k],
            };
        }
        // Largest at (or next to) the lower end: look closer, since a maximum below the
        // grid spacing hides there; one that survives every zoom is no interior maximum.
        if k <= 1 {
            if zoom == MAX_ZOOMS {
                return Peak::AtLower;
            }
            lo_end = xs[0];
            hi_end = xs[k + 1];
            continue;
        }
        let (a, b) = (xs[k - 1], xs[k + 1]);
        let flat = (fs[k] - fs[k - 1]).abs() <= 1e-12 * fs[k].abs()
            && (fs[k] - fs[k + 1]).abs() <= 1e-12 * fs[k].abs();
        let (x, value) = brent(f, a, b).unwrap_or((xs[k], fs[k]));
        let (x, value) = if value >= fs[k] {
            (x, value)
        } else {
            (xs[k], fs[k])
        };
        return Peak::Interior { x, value, flat };
    }
    Peak::AtLower
}

fn brent(f: &dyn Fn(f64) -> f64, a: f64, b: f64) -> Option<(f64, f64)> {
    // Relative tolerance at its floor sqrt(eps); absolute far below the bracket width.
    let solver = BrentOpt::new(a, b).set_tolerance(f64::EPSILON.sqrt(), 1e-14 * b.abs());
    let res = Executor::new(Negated(f), solver)
        .configure(|state| state.max_iters(200))
        .run()
        .ok()?;
    let x = *res.state().best_param.as_ref()?;
    Some((x, f(x)))
}

/// Radii in `(0, hi]` where `f` changes sign, found on a grid and refined by bisection.
pub(crate) fn sign_changes(f: &dyn Fn(f64) -> f64, hi: f64, nodes: &[f64]) -> Vec<f64> {
    let mut xs: Vec<f64> = (1..=GRID).map(|i| hi * i as f64 / GRID as f64).collect();
    xs.extend(nodes.iter().copied().filter(|&x| x > 0.0 && x < hi));
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    let fs: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
    let mut roots = Vec::new();
    for i in 1..xs.len() {
        if fs[i - 1] == 0.0 {
            continue;
        }
        if fs[i] == 0.0 || fs[i - 1].signum() != fs[i].signum() {
            let (mut a, mut b, fa) = (xs[i - 1], xs[i], fs[i - 1]);
            for _ in 0..200 {
                let m = 0.5 * (a + b);
                if m <= a || m >= b {
                    break;
                }
                let fm = f(m);
                if fm == 0.0 {
                    a = m;
                    b = m;
                    break;
                }
                if fm.signum() == fa.signum() {
                    a = m;
                } else {
                    b = m;
                }
            }
            roots.push(0.5 * (a + b));
        }
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_polynomials_and_cusps() {
        // int_0^2 x^3 dx = 4; int_0^1 sqrt(x) dx = 2/3 (cusp at the end point).
        let v = integrate(&|x| x * x * x, 0.0, 2.0, &[]);
        assert!((v - 4.0).abs() < 1e-12);
        let v = integrate(&|x: f64| x.sqrt(), 0.0, 1.0, &[]);
        assert!((v - 2.0 / 3.0).abs() < 1e-10);
        // |x - 0.3| with its kink declared: 0.3^2/2 + 0.7^2/2.
        let v = integrate(&|x: f64| (x - 0.3).abs(), 0.0, 1.0, &[0.3]);
        assert!((v - 0.29).abs() < 1e-12);
        // The same kink undeclared: found by bisection.
        let v = integrate(&|x: f64| (x - 0.3).abs(), 0.0, 1.0, &[]);
        assert!((v - 0.29).abs() < 1e-9, "{v}");
    }

    #[test]
    fn finite_differences_match_exact_derivatives() {
        let f = |x: f64| (3.0 * x).sin();
        for x in [0.0, 0.001, 0.3, 0.999, 1.0] {
            let d = derivative_on_unit(&f, x);
            assert!((d - 3.0 * (3.0 * x).cos()).abs() < 1e-8, "{x}: {d}");
        }
    }

    #[test]
    fn maximiser_finds_interior_and_boundary_maxima() {
        // -(x-0.37)^2 on [0,1]: maximum at 0.37.
        match maximise(&|x| -(x - 0.37) * (x - 0.37), 1.0, &[]) {
            Peak::Interior { x, .. } => assert!((x - 0.37).abs() < 1e-7),
            p => panic!("{p:?}"),
        }
        // A maximum far below the grid spacing is found by zooming.
        match maximise(&|x| -(x - 1e-7) * (x - 1e-7), 1.0, &[]) {
            Peak::Interior { x, .. } => assert!((x - 1e-7).abs() < 1e-12, "{x}"),
            p => panic!("{p:?}"),
        }
        assert_eq!(maximise(&|x| -x, 1.0, &[]), Peak::AtLower);
        assert!(matches!(maximise(&|x| x, 1.0, &[]), Peak::AtUpper { .. }));
    }

    #[test]
    fn sign_changes_of_a_cubic() {
        let roots = sign_changes(&|x| (x - 0.25) * (x - 0.5) * (x - 0.75), 1.0, &[]);
        assert_eq!(roots.len(), 3);
        for (r, e) in roots.iter().zip([0.25, 0.5, 0.75]) {
            assert!((r - e).abs() < 1e-12);
        }
    }
}

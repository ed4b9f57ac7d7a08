//! Orthonormal complex spherical harmonics Y_lm for m >= 0, evaluated from a bond vector
//! without trigonometric functions.
//!
//! Y_lm(theta, phi) = Pbar_l^m(cos theta) e^{i m phi} with Pbar the fully normalised associated
//! Legendre functions (Condon-Shortley phase). Writing Pbar_l^m = sin^m(theta) Q_l^m(cos theta)
//! turns sin^m(theta) e^{i m phi} into ((x + i y) / r)^m, and Q_l^m obeys the same three-term
//! recurrence in l as Pbar_l^m:
//!
//!   Q_m^m     = (-1)^m sqrt( (2m+1)/(4 pi) prod_{k=1..m} (2k-1)/(2k) )
//!   Q_l^m     = a_lm ( z Q_{l-1}^m - Q_{l-2}^m / a_{l-1,m} ),   a_lm = sqrt( (4l^2-1)/(l^2-m^2) )
//!
//! which is stable for the l used here (up to a few tens) and exact at the poles. Negative m
//! follow from Y_{l,-m} = (-1)^m conj(Y_lm) and are never needed explicitly.

use num_complex::Complex64;

/// Precomputed recurrence coefficients up to `lmax`.
#[derive(Debug, Clone)]
pub struct YlmTable {
    lmax: usize,
    /// Q_m^m for m = 0..=lmax.
    diag: Vec<f64>,
    /// a_lm and 1/a_{l-1,m}, indexed by tri(l, m).
    a: Vec<f64>,
    inv_a_prev: Vec<f64>,
}

/// Index of (l, m), 0 <= m <= l, in a triangular table.
#[inline]
pub fn tri(l: usize, m: usize) -> usize {
    l * (l + 1) / 2 + m
}

impl YlmTable {
    /// Coefficients for every l <= `lmax`.
    pub fn new(lmax: usize) -> Self {
        let size = tri(lmax, lmax) + 1;
        let mut diag = Vec::with_capacity(lmax + 1);
        let mut prod = 1.0f64;
        for m in 0..=lmax {
            if m > 0 {
                prod *= (2 * m - 1) as f64 / (2 * m) as f64;
            }
            let sign = if m % 2 == 0 { 1.0 } else { -1.0 };
            diag.push(sign * ((2 * m + 1) as f64 / (4.0 * std::f64::consts::PI) * prod).sqrt());
        }
        let coef =
            |l: usize, m: usize| (((4 * l * l - 1) as f64) / ((l * l - m * m) as f64)).sqrt();
        let mut a = vec![0.0; size];
        let mut inv_a_prev = vec![0.0; size];
        for l in 1..=lmax {
            for m in 0..l {
                a[tri(l, m)] = coef(l, m);
                if l >= m + 2 {
                    inv_a_prev[tri(l, m)] = 1.0 / coef(l - 1, m);
                }
            }
        }
        Self {
            lmax,
            diag,
            a,
            inv_a_prev,
        }
    }

    /// Largest l of the table.
    pub fn lmax(&self) -> usize {
        self.lmax
    }

    /// Y_lm of the direction of `v` for every l <= lmax and 0 <= m <= l, written to
    /// `out[tri(l, m)]`. `v` must be non-zero. `q` is scratch of the same length.
    #[inline]
    pub fn eval(&self, v: [f64; 3], q: &mut [f64], out: &mut [Complex64]) {
        let r = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let inv = 1.0 / r;
        let z = v[2] * inv;
        let w = Complex64::new(v[0] * inv, v[1] * inv);
        let mut pw = Complex64::new(1.0, 0.0);
        for m in 0..=self.lmax {
            q[tri(m, m)] = self.diag[m];
            if m < self.lmax {
                let k = tri(m + 1, m);
                q[k] = self.a[k] * z * q[tri(m, m)];
            }
            for l in m + 2..=self.lmax {
                let k = tri(l, m);
                q[k] = self.a[k] * (z * q[tri(l - 1, m)] - q[tri(l - 2, m)] * self.inv_a_prev[k]);
            }
            for l in m..=self.lmax {
                out[tri(l, m)] = pw * q[tri(l, m)];
            }
            pw *= w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn eval(lmax: usize, v: [f64; 3]) -> Vec<Complex64> {
        let t = YlmTable::new(lmax);
        let n = tri(lmax, lmax) + 1;
        let mut q = vec![0.0; n];
        let mut out = vec![Complex64::new(0.0, 0.0); n];
        t.eval(v, &mut q, &mut out);
        out
    }

    #[test]
    fn closed_forms_of_low_orders() {
        let v = [0.3, -0.7, 0.5];
        let r = (0.09f64 + 0.49 + 0.25).sqrt();
        let (ct, st) = (0.5 / r, (0.09f64 + 0.49).sqrt() / r);
        let phi = (-0.7f64).atan2(0.3);
        let y = eval(6, v);
        let close = |a: Complex64, b: Complex64| (a - b).norm() < 1e-14;
        assert!(close(y[tri(0, 0)], Complex64::new(0.5 / PI.sqrt(), 0.0)));
        assert!(close(
            y[tri(1, 0)],
            Complex64::new((3.0 / (4.0 * PI)).sqrt() * ct, 0.0)
        ));
        let e = Complex64::from_polar(1.0, phi);
        assert!(close(y[tri(1, 1)], -(3.0 / (8.0 * PI)).sqrt() * st * e));
        let y20 = (5.0 / (16.0 * PI)).sqrt() * (3.0 * ct * ct - 1.0);
        assert!(close(y[tri(2, 0)], Complex64::new(y20, 0.0)));
        let y22 = 0.25 * (15.0 / (2.0 * PI)).sqrt() * st * st * e * e;
        assert!(close(y[tri(2, 2)], y22));
        // Y_4^0 = 3/(16 sqrt pi) (35 c^4 - 30 c^2 + 3)
        let y40 = 3.0 / (16.0 * PI.sqrt()) * (35.0 * ct.powi(4) - 30.0 * ct * ct + 3.0);
        assert!(close(y[tri(4, 0)], Complex64::new(y40, 0.0)));
        // Y_6^6 = (1/64) sqrt(3003/pi) sin^6 e^{6 i phi}
        let y66 = (3003.0 / PI).sqrt() / 64.0 * st.powi(6) * e.powi(6);
        assert!(close(y[tri(6, 6)], y66));
    }

    #[test]
    fn addition_theorem_holds_for_high_l() {
        // sum_m |Y_lm|^2 = (2l+1)/(4 pi) for every direction, including the poles.
        for v in [
            [0.0, 0.0, 1.0],
            [0.0, 0.0, -2.0],
            [1.0, 2.0, 3.0],
            [-0.3, 0.1, -0.01],
        ] {
            let lmax = 16;
            let y = eval(lmax, v);
            for l in 0..=lmax {
                let mut s = y[tri(l, 0)].norm_sqr();
                for m in 1..=l {
                    s += 2.0 * y[tri(l, m)].norm_sqr();
                }
                assert!(
                    (s - (2 * l + 1) as f64 / (4.0 * PI)).abs() < 1e-12,
                    "l = {l}"
                );
            }
        }
    }
}

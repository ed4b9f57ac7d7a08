//! Thermostats acting on velocities: Bussi-Donadio-Parrinello stochastic velocity rescaling
//! (J. Chem. Phys. 126, 014101 (2007)) and a Nose-Hoover chain integrated as in
//! Martyna, Tuckerman, Tobias, Klein, Mol. Phys. 87, 1117 (1996) (what LAMMPS' `fix nvt` does).

use rand::Rng;
use rand_distr::{ChiSquared, Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::units::BOLTZ;

/// A thermostat and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Thermostat {
    /// No thermostat (NVE).
    None,
    /// Stochastic velocity rescaling with relaxation time `tau_ps`.
    Bussi {
        /// Relaxation time (ps).
        tau_ps: f64,
    },
    /// Nose-Hoover chain with period `tau_ps`.
    NoseHoover {
        /// Damping time (ps).
        tau_ps: f64,
        /// Chain positions (dimensionless).
        eta: Vec<f64>,
        /// Chain velocities (1/ps).
        eta_dot: Vec<f64>,
    },
}

impl Thermostat {
    /// A Nose-Hoover chain of three at rest.
    pub fn nose_hoover(tau_ps: f64) -> Self {
        Thermostat::NoseHoover {
            tau_ps,
            eta: vec![0.0; 3],
            eta_dot: vec![0.0; 3],
        }
    }

    /// Apply the thermostat for `dt` (ps) to a system with kinetic energy `ke` (eV) and `dof`
    /// degrees of freedom at target `t_k` (K); returns the factor all velocities must be
    /// multiplied by.
    pub fn scale_factor(
        &mut self,
        ke: f64,
        dof: f64,
        t_k: f64,
        dt: f64,
        rng: &mut impl Rng,
    ) -> f64 {
        if ke <= 0.0 {
            return 1.0;
        }
        match self {
            Thermostat::None => 1.0,
            Thermostat::Bussi { tau_ps } => {
                let k0 = 0.5 * dof * BOLTZ * t_k;
                let c = (-dt / *tau_ps).exp();
                let r1: f64 = rng.sample(StandardNormal);
                let rest = if dof > 1.0 {
                    ChiSquared::new(dof - 1.0)
                        .map(|d| d.sample(rng))
                        .unwrap_or(0.0)
                } else {
                    0.0
                };
                let f = k0 / (dof * ke);
                let alpha2 =
                    c + (1.0 - c) * f * (r1 * r1 + rest) + 2.0 * r1 * (c * (1.0 - c) * f).sqrt();
                let mut alpha = alpha2.max(0.0).sqrt();
                if r1 + (c / ((1.0 - c) * f)).sqrt() < 0.0 {
                    alpha = -alpha;
                }
                alpha
            }
            Thermostat::NoseHoover {
                tau_ps,
                eta,
                eta_dot,
            } => {
                let kt = BOLTZ * t_k;
                let m = eta.len();
                let q: Vec<f64> = (0..m)
                    .map(|k| if k == 0 { dof } else { 1.0 } * kt * *tau_ps * *tau_ps)
                    .collect();
                let (dt2, dt4, dt8) = (0.5 * dt, 0.25 * dt, 0.125 * dt);
                let mut ke2 = 2.0 * ke;
                let g = |k: usize, ke2: f64, v: &[f64]| -> f64 {
                    if k == 0 {
                        (ke2 - dof * kt) / q[0]
                    } else {
                        (q[k - 1] * v[k - 1] * v[k - 1] - kt) / q[k]
                    }
                };
                let v = eta_dot;
                v[m - 1] += dt4 * g(m - 1, ke2, v);
                for k in (0..m - 1).rev() {
                    let e = (-dt8 * v[k + 1]).exp();
                    v[k] *= e;
                    v[k] += dt4 * g(k, ke2, v);
                    v[k] *= e;
                }
                let s = (-dt2 * v[0]).exp();
                ke2 *= s * s;
                for k in 0..m {
                    eta[k] += dt2 * v[k];
                }
                for k in 0..m - 1 {
                    let e = (-dt8 * v[k + 1]).exp();
                    v[k] *= e;
                    v[k] += dt4 * g(k, ke2, v);
                    v[k] *= e;
                }
                v[m - 1] += dt4 * g(m - 1, ke2, v);
                s
            }
        }
    }
}

//! Isotropic stochastic cell rescaling (M. Bernetti and G. Bussi, J. Chem. Phys. 153, 114107
//! (2020)): the log-volume follows
//! d eps = -(beta_T / tau_p) (P0 - P - kT/V) dt + sqrt(2 kT beta_T / (V tau_p)) dW,
//! positions scale by exp(d eps / 3) and velocities by its inverse.

use rand::Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::units::{BOLTZ, NKTV2P};

/// Settings of the cell-rescaling barostat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellRescale {
    /// Target pressure (bar).
    pub pressure_bar: f64,
    /// Relaxation time (ps).
    pub tau_ps: f64,
    /// Isothermal compressibility assumed by the coupling (1/bar); only sets the response time.
    pub compressibility_per_bar: f64,
}

impl Default for CellRescale {
    fn default() -> Self {
        // Pt: bulk modulus about 280 GPa, compressibility 3.6e-7 / bar.
        Self {
            pressure_bar: 0.0,
            tau_ps: 1.0,
            compressibility_per_bar: 3.6e-7,
        }
    }
}

impl CellRescale {
    /// Linear scale factor of one step `dt` (ps) at instantaneous pressure `p_bar`, volume
    /// `v_a3` (A^3) and target temperature `t_k` (K).
    pub fn scale_factor(
        &self,
        p_bar: f64,
        v_a3: f64,
        t_k: f64,
        dt: f64,
        rng: &mut impl Rng,
    ) -> f64 {
        let kt_over_v = BOLTZ * t_k / v_a3 * NKTV2P;
        let beta = self.compressibility_per_bar;
        let drift = -beta / self.tau_ps * (self.pressure_bar - p_bar - kt_over_v) * dt;
        let r: f64 = rng.sample(StandardNormal);
        let noise = (2.0 * kt_over_v * beta / self.tau_ps * dt).sqrt() * r;
        ((drift + noise) / 3.0).exp()
    }
}

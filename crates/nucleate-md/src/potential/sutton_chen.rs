//! The Sutton-Chen many-body potential (A. P. Sutton and J. Chen, Philos. Mag. Lett. 61, 139
//! (1990)), an EAM of analytic form:
//!
//! E = eps [ 1/2 sum_{i != j} (a / r_ij)^n - c sum_i sqrt(rho_i) ],  rho_i = sum_{j != i} (a / r_ij)^m.
//!
//! Both power laws are truncated with a shifted-force cutoff at `r_c` (value and slope go to
//! zero there, so forces are continuous and NVE conserves energy):
//! g(r) -> g(r) - g(r_c) - (r - r_c) g'(r_c).

use crate::potential::{EamModel, Element};

/// Parameters of a Sutton-Chen potential for one element.
#[derive(Debug, Clone, PartialEq)]
pub struct SuttonChen {
    element: Element,
    /// Energy scale eps (eV).
    pub epsilon_ev: f64,
    /// Dimensionless embedding prefactor c.
    pub c: f64,
    /// Length scale a (A), the lattice constant of the fit.
    pub a: f64,
    /// Repulsive exponent n.
    pub n: i32,
    /// Density exponent m.
    pub m: i32,
    /// Cutoff radius (A).
    pub cutoff: f64,
}

impl SuttonChen {
    /// Platinum with the published parameters of Sutton and Chen (1990): n = 10, m = 8,
    /// eps = 1.9833e-2 eV, c = 34.408, a = 3.92 A; truncated at r_c = 2a (shifted force).
    pub fn platinum() -> Self {
        Self::new(
            Element {
                name: "Pt".into(),
                atomic_number: 78,
                mass: 195.084,
            },
            1.9833e-2,
            34.408,
            3.92,
            10,
            8,
            2.0 * 3.92,
        )
    }

    /// Palladium with the published parameters of Sutton and Chen (1990): n = 12, m = 7,
    /// eps = 4.1790e-3 eV, c = 108.27, a = 3.89 A; truncated at r_c = 2a (shifted force).
    pub fn palladium() -> Self {
        Self::new(
            Element {
                name: "Pd".into(),
                atomic_number: 46,
                mass: 106.42,
            },
            4.1790e-3,
            108.27,
            3.89,
            12,
            7,
            2.0 * 3.89,
        )
    }

    /// A Sutton-Chen potential from its parameters (eV, A).
    pub fn new(
        element: Element,
        epsilon_ev: f64,
        c: f64,
        a: f64,
        n: i32,
        m: i32,
        cutoff: f64,
    ) -> Self {
        Self {
            element,
            epsilon_ev,
            c,
            a,
            n,
            m,
            cutoff,
        }
    }

    /// (a/r)^k with its derivative in r, shifted-force truncated.
    #[inline(always)]
    fn power(&self, r: f64, k: i32) -> (f64, f64) {
        let rc = self.cutoff;
        let g = (self.a / r).powi(k);
        let gc = (self.a / rc).powi(k);
        let dgc = -(k as f64) * gc / rc;
        (g - gc - (r - rc) * dgc, -(k as f64) * g / r - dgc)
    }
}

impl EamModel for SuttonChen {
    fn elements(&self) -> &[Element] {
        std::slice::from_ref(&self.element)
    }

    fn cutoff(&self) -> f64 {
        self.cutoff
    }

    #[inline(always)]
    fn density(&self, _si: usize, _sj: usize, r: f64) -> (f64, f64) {
        let f = self.power(r, self.m).0;
        (f, f)
    }

    #[inline(always)]
    fn embed(&self, _s: usize, rho: f64, energy: bool) -> (f64, f64) {
        // F = -eps c sqrt(rho); rho > 0 whenever an atom has a neighbour, and an isolated atom
        // has neither energy nor force.
        if rho <= 0.0 {
            return (0.0, 0.0);
        }
        let sq = rho.sqrt();
        let f = if energy {
            -self.epsilon_ev * self.c * sq
        } else {
            0.0
        };
        (f, -0.5 * self.epsilon_ev * self.c / sq)
    }

    #[inline(always)]
    fn pair(&self, _si: usize, _sj: usize, r: f64) -> [f64; 4] {
        let (_, drho) = self.power(r, self.m);
        let (v, dv) = self.power(r, self.n);
        [drho, drho, self.epsilon_ev * v, self.epsilon_ev * dv]
    }
}

//! Classical nucleation theory (Volmer-Weber, Becker-Doering): a sphere with a sharp
//! interface, and the factors shared with the OPG model (heterogeneous shape factor,
//! rate factor, free energy of measured nuclei).

use std::f64::consts::PI;

use crate::error::{Error, Result};

/// Boltzmann's constant in J/K.
pub const K_B_J_PER_K: f64 = 1.380_649e-23;
/// Boltzmann's constant in eV/K.
pub const K_B_EV_PER_K: f64 = 8.617_333_262e-5;
/// Gas constant in kJ/(mol K).
pub const R_KJ_PER_MOL_K: f64 = 8.314_462_618e-3;

/// The energetics of a nucleus: interfacial tension `gamma` of a sharp interface (energy
/// per area) and bulk free-energy gain `dg` of the new phase (energy per volume, > 0 below
/// the transition). Any consistent units: J/m^2 and J/m^3 give radii in m and energies in J.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Energetics {
    /// Interfacial tension (energy / length^2).
    pub gamma: f64,
    /// Bulk driving force (energy / length^3).
    pub dg: f64,
}

impl Energetics {
    /// Checked constructor: both must be positive and finite.
    pub fn new(gamma: f64, dg: f64) -> Result<Self> {
        positive("gamma", gamma)?;
        positive("dg", dg)?;
        Ok(Self { gamma, dg })
    }
}

pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::NotPositive { name, value })
    }
}

/// CNT free energy of a sphere of radius `r`: -4/3 pi r^3 dg + 4 pi r^2 gamma.
pub fn dg_sphere(e: &Energetics, r: f64) -> f64 {
    -4.0 / 3.0 * PI * r.powi(3) * e.dg + 4.0 * PI * r * r * e.gamma
}

/// CNT critical radius r* = 2 gamma / dg (length).
pub fn critical_radius(e: &Energetics) -> f64 {
    2.0 * e.gamma / e.dg
}

/// CNT barrier dG* = 16 pi gamma^3 / (3 dg^2) (energy).
pub fn barrier(e: &Energetics) -> f64 {
    16.0 * PI * e.gamma.powi(3) / (3.0 * e.dg * e.dg)
}

/// Heterogeneous spherical-cap shape factor S(theta) = (2 + cos theta)(1 - cos theta)^2 / 4
/// for a contact angle in degrees (0 = complete wetting, 180 = homogeneous).
pub fn shape_factor(contact_angle_deg: f64) -> Result<f64> {
    if !(0.0..=180.0).contains(&contact_angle_deg) {
        return Err(Error::ContactAngle(contact_angle_deg));
    }
    let c = contact_angle_deg.to_radians().cos();
    Ok((2.0 + c) * (1.0 - c) * (1.0 - c) / 4.0)
}

/// Rate factor exp(-dG* / kT), with the barrier and kT in the same energy unit.
pub fn rate_factor(dg_star: f64, kt: f64) -> f64 {
    (-dg_star / kt).exp()
}

/// Free energy of a measured nucleus, dG = -dg N_eff v_atom + gamma A_eff.
///
/// `n_eff`: effective number of atoms (sum of alpha); `a_eff_a2`: effective surface area
/// in A^2; `dg`: driving force per A^3; `gamma`: interfacial tension per A^2; `v_atom_a3`:
/// volume per atom in A^3. The result is in the energy unit of `dg` and `gamma`.
pub fn measured_dg(n_eff: f64, a_eff_a2: f64, dg: f64, gamma: f64, v_atom_a3: f64) -> f64 {
    -dg * n_eff * v_atom_a3 + gamma * a_eff_a2
}

/// Radius of the sphere with volume `v`.
pub fn equivalent_radius(v: f64) -> f64 {
    (3.0 * v / (4.0 * PI)).cbrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnt_maximum_is_where_the_derivative_vanishes() {
        let e = Energetics::new(0.3, 1.7).unwrap();
        let r = critical_radius(&e);
        // d/dr(-4/3 pi r^3 dg + 4 pi r^2 gamma) = 4 pi r (2 gamma - dg r) = 0 at r*.
        assert!((r - 2.0 * 0.3 / 1.7).abs() < 1e-15);
        assert!((dg_sphere(&e, r) - barrier(&e)).abs() < 1e-14 * barrier(&e));
        assert!(dg_sphere(&e, r * 1.001) < barrier(&e));
        assert!(dg_sphere(&e, r * 0.999) < barrier(&e));
    }

    #[test]
    fn shape_factor_limits() {
        assert!((shape_factor(180.0).unwrap() - 1.0).abs() < 1e-15);
        assert!((shape_factor(90.0).unwrap() - 0.5).abs() < 1e-15);
        assert!(shape_factor(0.0).unwrap().abs() < 1e-15);
        assert!(shape_factor(181.0).is_err());
        assert!(shape_factor(-1.0).is_err());
        assert!(shape_factor(f64::NAN).is_err());
    }

    #[test]
    fn measured_dg_of_a_sharp_sphere_is_cnt() {
        // A sharp sphere of radius 10 A made of atoms of 15 A^3: N = V / v_atom.
        let (gamma, dg, v_atom) = (0.01, 0.002, 15.0);
        let r: f64 = 10.0;
        let n = 4.0 / 3.0 * PI * r.powi(3) / v_atom;
        let a = 4.0 * PI * r * r;
        let e = Energetics { gamma, dg };
        let want = dg_sphere(&e, r);
        assert!((measured_dg(n, a, dg, gamma, v_atom) - want).abs() < 1e-12 * want.abs());
    }

    #[test]
    fn bad_energetics() {
        assert!(Energetics::new(0.0, 1.0).is_err());
        assert!(Energetics::new(1.0, -1.0).is_err());
        assert!(Energetics::new(f64::NAN, 1.0).is_err());
        let msg = Energetics::new(1.0, -2.0).unwrap_err().to_string();
        assert!(msg.contains("dg") && msg.contains("-2"), "{msg}");
    }
}

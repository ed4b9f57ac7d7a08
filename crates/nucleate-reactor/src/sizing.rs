//! Sizing curves of II-VI quantum dots from the first excitonic absorption peak.
//!
//! Empirical polynomials and extinction coefficients of W. W. Yu, L. Qu, W. Guo and
//! X. Peng, *Chem. Mater.* 15, 2854 (2003):
//!
//! | material | D (nm) from L (nm) | eps (M^-1 cm^-1) |
//! | --- | --- | --- |
//! | CdTe | 9.8127e-7 L^3 - 1.7147e-3 L^2 + 1.0064 L - 194.84 | 10043 D^2.12 |
//! | CdSe | 1.6122e-9 L^4 - 2.6575e-6 L^3 + 1.6242e-3 L^2 - 0.4277 L + 41.57 | 5857 D^2.65 |
//! | CdS  | -6.6521e-8 L^3 + 1.9557e-4 L^2 - 9.2352e-2 L + 13.29 | 21536 D^2.3 |
//!
//! The curves were calibrated on nanocrystals of roughly 1-9 nm; applied to magic-size
//! clusters they are extrapolations and should be read as such.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// Avogadro constant (1/mol), CODATA 2018 exact value.
pub const AVOGADRO: f64 = 6.022_140_76e23;

/// A II-VI semiconductor with a published sizing curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Material {
    /// Cadmium selenide (zinc blende/wurtzite).
    CdSe,
    /// Cadmium telluride.
    CdTe,
    /// Cadmium sulfide.
    CdS,
}

impl Material {
    /// Diameter (nm) from the first excitonic absorption peak `wavelength_nm` (Yu et al. 2003).
    pub fn diameter_nm(self, wavelength_nm: f64) -> f64 {
        let l = wavelength_nm;
        match self {
            Material::CdSe => {
                1.6122e-9 * l.powi(4) - 2.6575e-6 * l.powi(3) + 1.6242e-3 * l * l - 0.4277 * l
                    + 41.57
            }
            Material::CdTe => 9.8127e-7 * l.powi(3) - 1.7147e-3 * l * l + 1.0064 * l - 194.84,
            Material::CdS => -6.6521e-8 * l.powi(3) + 1.9557e-4 * l * l - 9.2352e-2 * l + 13.29,
        }
    }

    /// Molar extinction coefficient of the first excitonic peak, per mol of particles
    /// (M^-1 cm^-1), for a particle of diameter `diameter_nm`.
    pub fn extinction_per_m_per_cm(self, diameter_nm: f64) -> f64 {
        let d = diameter_nm.max(0.0);
        match self {
            Material::CdSe => 5857.0 * d.powf(2.65),
            Material::CdTe => 10043.0 * d.powf(2.12),
            Material::CdS => 21536.0 * d.powf(2.3),
        }
    }

    /// Bulk density (g/cm^3): CdSe 5.81, CdTe 5.85, CdS 4.82.
    pub fn density_g_per_cm3(self) -> f64 {
        match self {
            Material::CdSe => 5.81,
            Material::CdTe => 5.85,
            Material::CdS => 4.82,
        }
    }

    /// Molar mass of one formula unit (g/mol): CdSe 191.37, CdTe 240.01, CdS 144.48.
    pub fn molar_mass_g_per_mol(self) -> f64 {
        match self {
            Material::CdSe => 191.37,
            Material::CdTe => 240.01,
            Material::CdS => 144.48,
        }
    }

    /// Formula units in a sphere of diameter `diameter_nm` at bulk density:
    /// N = (pi/6) D^3 rho N_A / M.
    pub fn aggregation_number(self, diameter_nm: f64) -> f64 {
        let d_cm = diameter_nm.max(0.0) * 1e-7;
        std::f64::consts::PI / 6.0 * d_cm.powi(3) * self.density_g_per_cm3() * AVOGADRO
            / self.molar_mass_g_per_mol()
    }

    /// Known magic-size-cluster families (absorption peak, nm) used to name narrow peaks.
    pub fn msc_families_nm(self) -> &'static [f64] {
        match self {
            Material::CdSe => &[350.0, 380.0, 403.0, 437.0, 465.0],
            Material::CdTe => &[371.0, 417.0, 448.0],
            Material::CdS => &[311.0, 322.0, 360.0],
        }
    }

    /// The name of the material as written in outputs and family labels.
    pub fn name(self) -> &'static str {
        match self {
            Material::CdSe => "CdSe",
            Material::CdTe => "CdTe",
            Material::CdS => "CdS",
        }
    }

    /// Everything the sizing curve says about a first excitonic peak at `wavelength_nm`.
    pub fn size(self, wavelength_nm: f64) -> Sizing {
        let d = self.diameter_nm(wavelength_nm);
        Sizing {
            diameter_nm: d,
            aggregation_number: self.aggregation_number(d),
            extinction_per_m_per_cm: self.extinction_per_m_per_cm(d),
        }
    }
}

impl fmt::Display for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Material {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cdse" => Ok(Material::CdSe),
            "cdte" => Ok(Material::CdTe),
            "cds" => Ok(Material::CdS),
            _ => Err(format!(
                "unknown material '{s}' (expected CdSe, CdTe or CdS)"
            )),
        }
    }
}

/// Size, aggregation number and extinction coefficient of one excitonic peak.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sizing {
    /// Particle diameter (nm).
    pub diameter_nm: f64,
    /// Formula units per particle.
    pub aggregation_number: f64,
    /// Molar extinction coefficient (M^-1 cm^-1) of the first excitonic peak.
    pub extinction_per_m_per_cm: f64,
}

/// Particle concentration (micromol/L) by Beer-Lambert, c = A / (eps l).
pub fn concentration_um(absorbance: f64, extinction_per_m_per_cm: f64, path_cm: f64) -> f64 {
    if extinction_per_m_per_cm <= 0.0 || path_cm <= 0.0 {
        return f64::NAN;
    }
    absorbance / (extinction_per_m_per_cm * path_cm) * 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn material_names_round_trip() {
        for m in [Material::CdSe, Material::CdTe, Material::CdS] {
            assert_eq!(m.name().parse::<Material>().unwrap(), m);
        }
        assert!("ZnS".parse::<Material>().is_err());
    }
}

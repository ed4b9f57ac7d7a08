//! LAMMPS "metal" units (A, ps, eV, amu, K, bar) and its conversion constants, used verbatim
//! so temperatures and pressures compare with LAMMPS' thermo output.

/// Boltzmann constant (eV/K).
pub const BOLTZ: f64 = 8.617343e-5;
/// amu * A^2 / ps^2 in eV (kinetic energy of m v^2).
pub const MVV2E: f64 = 1.0364269e-4;
/// Force / mass (eV/A/amu) to acceleration (A/ps^2).
pub const FTM2V: f64 = 1.0 / 1.0364269e-4;
/// eV/A^3 to bar.
pub const NKTV2P: f64 = 1.6021765e6;

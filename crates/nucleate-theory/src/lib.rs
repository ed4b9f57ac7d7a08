//! nucleate-theory: free energies and barriers of nuclei, from classical nucleation theory
//! (CNT, after Volmer-Weber and Becker-Doering) and the order-parameter-gradient (OPG)
//! model, in which the order parameter alpha falls smoothly from the core (about 1) to the
//! parent phase (0) instead of jumping at a sharp interface.
//!
//! # The model
//!
//! ```text
//! dG = - dg  int alpha dV  +  gamma  int |grad alpha| dV
//! ```
//!
//! `dg` > 0 is the bulk free-energy gain per volume and `gamma` the tension of a sharp
//! interface. The second integral is an effective area A_eff (coarea formula: the mean area
//! of the iso-surfaces alpha = c over c in (0, 1]). For a spherical nucleus of radius r
//! with alpha(r, r') = 0 beyond r',
//!
//! ```text
//! dG(r) = -4 pi dg int_0^r alpha r'^2 dr'  +  4 pi gamma ( int_0^r |d alpha/d r'| r'^2 dr' + alpha(r, r) r^2 )
//! ```
//!
//! the last term being the jump of alpha at the nucleus edge. The critical radius r* is
//! the maximum of dG(r) and the barrier is dG* = dG(r*).
//!
//! **Self-similar profiles** alpha = alpha0 phi(r'/r) give dG(r) = -A r^3 + B r^2 with
//! A = 4 pi dg alpha0 m_V, B = 4 pi gamma alpha0 m_A, m_V = int_0^1 phi x^2 dx and
//! m_A = int_0^1 |phi'| x^2 dx + phi(1); so r* = 2B/(3A) = (2 m_A / 3 m_V) gamma/dg and
//! dG* = 4B^3/(27A^2) = (16 pi alpha0 m_A^3 / 27 m_V^2) gamma^3/dg^2:
//!
//! | profile | phi(x) | m_V | m_A | r* (gamma/dg) | dG* (pi gamma^3/dg^2) |
//! | --- | --- | --- | --- | --- | --- |
//! | `step` (CNT) | 1 | 1/3 | 1 | 2 | 16/3 |
//! | `linear` | 1 - x | 1/12 | 1/3 | 8/3 | 256/81 |
//! | `parabolic-above` | 1 - x^2 | 2/15 | 1/2 | 5/2 | 25/6 |
//! | `parabolic-below` | (1 - x)^2 | 1/30 | 1/6 | 10/3 | 200/81 |
//!
//! (alpha0 = 1.) Any other shape is a [`Shape::Custom`] closure, its moments integrated
//! numerically.
//!
//! **Other profiles** (the generalized Gaussian alpha0 exp(-(r'/lambda)^beta) truncated at
//! r, a measured table `r,alpha` linearly interpolated) are searched numerically: dG on a
//! fine grid of r, the maximum bracketed and refined by Brent's method, integrals to about
//! 1e-11 relative. For a profile alpha(r') that is fixed and decreasing, truncated at r,
//! d(dG)/dr = 4 pi r alpha(r) (2 gamma - dg r), so r* is CNT's 2 gamma/dg and only the
//! barrier is lowered.
//!
//! For a monotone profile with alpha in [0, 1], A_eff is never larger than the area
//! 4 pi r_eq^2 of the CNT sphere holding the same int alpha dV (Jensen's inequality on the
//! iso-surface radii), so OPG barriers are never above CNT's; the dG(r) curves cross, a
//! diffuse interface winning for small nuclei and a sharp one for large ones. In one
//! dimension the volume term grows with r while the interfacial term (two end faces) does
//! not, so there is no barrier ([`NoBarrier::DecreasingFromZero`]).
//!
//! Heterogeneous nucleation on a substrate with contact angle theta multiplies dG by
//! S(theta) = (2 + cos theta)(1 - cos theta)^2 / 4 ([`cnt::shape_factor`]); the rate factor
//! is exp(-dG*/kT) ([`cnt::rate_factor`]). Measured nuclei: [`measured_dg`].
//!
//! # Units
//!
//! Any consistent set: gamma in energy/length^2 and dg in energy/length^3 give radii in that
//! length and energies in that energy (J/m^2, J/m^3 -> m, J; eV/A^2, eV/A^3 -> A, eV).
//! Table radii and lambda are in the same length.
//!
//! # References
//!
//! - M. Volmer and A. Weber, Z. phys. Chem. 119, 277 (1926); R. Becker and W. Doering,
//!   Ann. Phys. 416, 719 (1935): classical nucleation theory.
//! - The order-parameter-gradient model: the interfacial energy of a diffuse nucleus as
//!   gamma times the integral of the order parameter's gradient magnitude, as above.
//!
//! # Command line
//!
//! ```text
//! nucleate barrier --profile linear --gamma 0.1 --dg 0.05
//! nucleate barrier --profile gengauss:6,4 --gamma 0.1 --dg 0.05 --contact-angle 90
//! nucleate barrier --profile profile.csv --gamma 0.1 --dg 0.05 --plot dg.svg
//! ```
//!
//! # Example
//!
//! ```
//! use nucleate_theory::{barrier, cnt, Energetics, Profile, Shape};
//! let e = Energetics::new(0.1, 0.05).unwrap();
//! let linear = Profile::self_similar(Shape::Linear, 1.0).unwrap();
//! let c = barrier(&e, &linear).unwrap().outcome.critical().unwrap();
//! assert!((c.r_star - 8.0 / 3.0 * 0.1 / 0.05).abs() < 1e-12);
//! assert!(c.dg_star < cnt::barrier(&e));
//! ```

pub mod cnt;
mod error;
mod numerics;
pub mod opg;
pub mod profile;

pub use cnt::{measured_dg, shape_factor, Energetics};
pub use error::{Error, Result, Warning};
pub use opg::{
    barrier, barrier_in, barrier_numeric, cnt_crossings, coefficients, dg, BarrierResult,
    Coefficients, Critical, NoBarrier, Outcome,
};
pub use profile::{CustomShape, Dimension, Profile, Shape, TabulatedProfile, Terms};

//! dG(r), critical radius and barrier of the order-parameter-gradient model.

use std::cell::Cell;

use crate::cnt::{self, Energetics};
use crate::error::{Error, Result, Warning};
use crate::numerics::{maximise, sign_changes, Peak};
use crate::profile::{Dimension, Profile, Shape};

/// The critical nucleus: the maximum of dG(r).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Critical {
    /// Critical radius r* (length).
    pub r_star: f64,
    /// Barrier dG* = dG(r*) (energy).
    pub dg_star: f64,
}

/// Why dG(r) has no interior maximum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NoBarrier {
    /// dG only decreases as the nucleus grows (e.g. in one dimension, where the volume term
    /// grows with r and the interfacial term does not).
    DecreasingFromZero,
    /// dG still grows at the largest radius the profile describes (a table's last radius).
    IncreasingToEnd {
        /// That radius.
        r_max: f64,
        /// dG there.
        dg_max: f64,
    },
}

/// A barrier or the reason there is none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// dG(r) has a maximum.
    Critical(Critical),
    /// It has none.
    NoBarrier(NoBarrier),
}

impl Outcome {
    /// The critical nucleus, if any.
    pub fn critical(&self) -> Option<Critical> {
        match self {
            Outcome::Critical(c) => Some(*c),
            Outcome::NoBarrier(_) => None,
        }
    }

    /// Multiply the energies by a factor (e.g. the heterogeneous shape factor S(theta),
    /// which scales dG(r) at fixed radius of curvature and so leaves r* alone).
    pub fn scaled(&self, factor: f64) -> Outcome {
        match *self {
            Outcome::Critical(c) => Outcome::Critical(Critical {
                r_star: c.r_star,
                dg_star: factor * c.dg_star,
            }),
            Outcome::NoBarrier(NoBarrier::IncreasingToEnd { r_max, dg_max }) => {
                Outcome::NoBarrier(NoBarrier::IncreasingToEnd {
                    r_max,
                    dg_max: factor * dg_max,
                })
            }
            o => o,
        }
    }
}

/// dG(r) = -A r^d + B r^(d-1) of a self-similar profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    /// A = S_d dg alpha0 int_0^1 phi x^(d-1) dx (energy / length^d).
    pub a: f64,
    /// B = S_d gamma alpha0 (int_0^1 |phi'| x^(d-1) dx + phi(1)) (energy / length^(d-1)).
    pub b: f64,
    /// d.
    pub dim: Dimension,
}

impl Coefficients {
    /// dG(r).
    pub fn dg(&self, r: f64) -> f64 {
        let d = self.dim.d();
        if r <= 0.0 {
            return 0.0;
        }
        -self.a * r.powi(d) + self.b * r.powi(d - 1)
    }

    /// d(dG)/dr = r^(d-2) ((d-1) B - d A r) vanishes at r* = (d-1) B / (d A); in three
    /// dimensions r* = 2B/(3A) and dG* = 4 B^3 / (27 A^2). In one dimension dG = B - A r
    /// only decreases: no barrier.
    pub fn outcome(&self) -> Outcome {
        let d = f64::from(self.dim.d());
        if self.dim == Dimension::One || self.a <= 0.0 || self.b <= 0.0 {
            return Outcome::NoBarrier(NoBarrier::DecreasingFromZero);
        }
        let r_star = (d - 1.0) * self.b / (d * self.a);
        Outcome::Critical(Critical {
            r_star,
            dg_star: self.dg(r_star),
        })
    }
}

/// A barrier with what was learnt on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct BarrierResult {
    /// The barrier, or why there is none.
    pub outcome: Outcome,
    /// A and B for self-similar profiles.
    pub coefficients: Option<Coefficients>,
    /// Warnings about the profile or the maximum (print them; the result still stands).
    pub warnings: Vec<Warning>,
}

/// The A, B coefficients of a self-similar profile (closed-form moments for the named
/// shapes, numeric moments for a custom one).
pub fn coefficients(e: &Energetics, shape: &Shape, amplitude: f64, dim: Dimension) -> Coefficients {
    let s = dim.surface();
    Coefficients {
        a: s * e.dg * amplitude * shape.volume_moment(dim),
        b: s * e.gamma * amplitude * shape.gradient_moment(dim),
        dim,
    }
}

/// dG(r) = -dg int alpha dV + gamma A_eff of a nucleus of radius `r` (energy).
pub fn dg(e: &Energetics, profile: &Profile, r: f64, dim: Dimension) -> f64 {
    profile.terms(r, dim).dg(e.gamma, e.dg)
}

/// Barrier of a spherical nucleus: closed form for self-similar profiles, numeric
/// ([`barrier_numeric`]) for the others.
pub fn barrier(e: &Energetics, profile: &Profile) -> Result<BarrierResult> {
    barrier_in(e, profile, Dimension::Three)
}

/// [`barrier`] in any dimension.
pub fn barrier_in(e: &Energetics, profile: &Profile, dim: Dimension) -> Result<BarrierResult> {
    match profile {
        Profile::SelfSimilar { shape, amplitude } => {
            let c = coefficients(e, shape, *amplitude, dim);
            if !(c.a.is_finite() && c.b.is_finite()) {
                return Err(Error::NotFinite { r: 1.0 });
            }
            Ok(BarrierResult {
                outcome: c.outcome(),
                coefficients: Some(c),
                warnings: profile.warnings(),
            })
        }
        _ => barrier_numeric(e, profile, dim),
    }
}

/// Times the search range may grow by 4 for an unbounded profile whose dG still rises.
const MAX_EXPANSIONS: usize = 20;

/// Barrier found numerically for any profile: dG(r) on a fine grid of r, the largest value
/// bracketed by its neighbours and refined by Brent's method. Tables are searched over
/// (0, last radius]; other profiles from three CNT critical radii up, widened while dG
/// still rises at the end.
pub fn barrier_numeric(e: &Energetics, profile: &Profile, dim: Dimension) -> Result<BarrierResult> {
    let mut warnings = profile.warnings();
    let bad_r = Cell::new(None);
    let f = |r: f64| {
        let v = dg(e, profile, r, dim);
        if !v.is_finite() && bad_r.get().is_none() {
            bad_r.set(Some(r));
        }
        v
    };
    let nodes = profile.nodes();
    let bounded = profile.r_max();
    let mut hi = bounded.unwrap_or(3.0 * e.gamma / e.dg * f64::from(dim.d() - 1).max(1.0));
    let mut expansions = 0;
    let outcome = loop {
        let peak = maximise(&f, hi, &nodes);
        if let Some(r) = bad_r.get() {
            return Err(Error::NotFinite { r });
        }
        match peak {
            Peak::Interior { x, value, flat } => {
                if flat {
                    warnings.push(Warning::FlatMaximum { r: x });
                }
                break Outcome::Critical(Critical {
                    r_star: x,
                    dg_star: value,
                });
            }
            Peak::AtLower => break Outcome::NoBarrier(NoBarrier::DecreasingFromZero),
            Peak::AtUpper { x, value } => {
                if bounded.is_some() || expansions >= MAX_EXPANSIONS {
                    break Outcome::NoBarrier(NoBarrier::IncreasingToEnd {
                        r_max: x,
                        dg_max: value,
                    });
                }
                hi *= 4.0;
                expansions += 1;
            }
        }
    };
    Ok(BarrierResult {
        outcome,
        coefficients: None,
        warnings,
    })
}

/// Radii in (0, `r_max`] where the profile's dG(r) crosses CNT's (a sharp sphere of the
/// same radius): below them the diffuse nucleus is favoured, above them the sharp one (or
/// the reverse).
pub fn cnt_crossings(e: &Energetics, profile: &Profile, r_max: f64) -> Vec<f64> {
    let diff = |r: f64| dg(e, profile, r, Dimension::Three) - cnt::dg_sphere(e, r);
    sign_changes(&diff, r_max, &profile.nodes())
}

//! The normalised crystalline order alpha of a monatomic fcc metal.
//!
//!   alpha(i) = sqrt( qbar4(i)^2 + qbar6(i)^2 ) / sqrt( qbar4_fcc^2 + qbar6_fcc^2 )
//!
//! with qbar4_fcc, qbar6_fcc the values of the perfect fcc lattice computed with the same
//! neighbour settings, so alpha = 1 is a perfect fcc environment and alpha = 0 no orientational
//! order. Values above 1 occur (surface atoms, bcc-like environments); [`clip_unit`] gives the
//! clipped field the nuclei pipeline uses.

use nucleate_core::{NeighborList, NeighborSpec, SimBox};

use crate::steinhardt::qlm;
use crate::OrderError;

/// qbar4 and qbar6 of the perfect fcc lattice under given neighbour settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FccReference {
    /// qbar4 of perfect fcc.
    pub qbar4: f64,
    /// qbar6 of perfect fcc.
    pub qbar6: f64,
}

impl FccReference {
    /// The values of a perfect fcc crystal of lattice constant `a` (Angstrom) with neighbours
    /// chosen by `spec`. Fails when `spec` finds no neighbours in fcc (a cutoff below the
    /// nearest-neighbour distance a / sqrt 2).
    pub fn compute(spec: NeighborSpec, a: f64) -> Result<Self, OrderError> {
        if !(a.is_finite() && a > 0.0) {
            return Err(OrderError::Parameter(format!(
                "fcc lattice constant must be positive, got {a}"
            )));
        }
        let h = a / 2.0;
        let pos = [[0.0; 3], [0.0, h, h], [h, 0.0, h], [h, h, 0.0]];
        let cell = SimBox::orthorhombic([a; 3], [true; 3])
            .map_err(|e| OrderError::Parameter(e.to_string()))?;
        let list = NeighborList::from_positions(&pos, &cell, spec)?;
        if list.count(0) == 0 {
            return Err(OrderError::Parameter(format!(
                "{spec:?} finds no neighbours in fcc with a = {a} A (nearest-neighbour distance {:.4} A)",
                a / 2f64.sqrt()
            )));
        }
        let q = qlm(&list, &[4, 6])?;
        let qbar4 = q[0].averaged(&list)?.magnitudes()[0];
        let qbar6 = q[1].averaged(&list)?.magnitudes()[0];
        Ok(Self { qbar4, qbar6 })
    }

    /// sqrt(qbar4^2 + qbar6^2) of perfect fcc.
    pub fn norm(&self) -> f64 {
        self.qbar4.hypot(self.qbar6)
    }
}

/// alpha of every atom from its qbar4 and qbar6 (unclipped).
pub fn alpha(qbar4: &[f64], qbar6: &[f64], reference: &FccReference) -> Vec<f64> {
    let inv = 1.0 / reference.norm();
    qbar4
        .iter()
        .zip(qbar6)
        .map(|(a, b)| a.hypot(*b) * inv)
        .collect()
}

/// Values clipped to [0, 1].
pub fn clip_unit(values: &[f64]) -> Vec<f64> {
    values.iter().map(|v| v.clamp(0.0, 1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_shell_reference_matches_spec() {
        let r = FccReference::compute(NeighborSpec::Cutoff { r: 3.8 }, 3.92).unwrap();
        assert!((r.qbar4 - 0.190940654).abs() < 1e-9);
        assert!((r.qbar6 - 0.574524259).abs() < 1e-9);
        // 12 nearest neighbours give the same shell.
        let k = FccReference::compute(NeighborSpec::Nearest { k: 12 }, 3.92).unwrap();
        assert!((k.qbar6 - r.qbar6).abs() < 1e-12);
    }

    #[test]
    fn cutoff_below_first_shell_is_refused() {
        assert!(FccReference::compute(NeighborSpec::Cutoff { r: 2.0 }, 3.92).is_err());
    }
}

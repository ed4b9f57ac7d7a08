//! nucleate-order: per-atom structure descriptors.
//!
//! - [`steinhardt`]: q_l for any l and the Lechner-Dellago average qbar_l;
//! - [`alpha`]: the normalised crystalline order alpha of fcc metals;
//! - [`solid`]: ten Wolde - Frenkel solid bonds and solid clusters;
//! - [`BondOrder`]: all of them at once from one neighbour list, as `nucleate order` writes them.
//!
//! Everything is computed in double precision from a [`NeighborList`]; results are owned
//! vectors in atom order, deterministic for any thread count.

// Loops over the three axes index several arrays at once; iterators would hide that.
#![allow(clippy::needless_range_loop)]

pub mod alloy_sro;
pub mod alpha;
pub mod cna;
pub mod crystallinity;
pub mod rdf;
pub mod solid;
pub mod steinhardt;
pub mod ylm;

use nucleate_core::{CoreError, NeighborList};

pub use alpha::FccReference;
pub use solid::{SolidAtoms, SolidRule};
pub use steinhardt::{qlm, Qlm};

/// Errors of the order computations.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// A parameter out of range.
    #[error("{0}")]
    Parameter(String),
    /// Inputs of different lengths.
    #[error("{0}")]
    Mismatch(String),
    /// Two atoms at the same place: a bond without direction.
    #[error("atom {0} has a neighbour at zero distance (two atoms coincide)")]
    Coincident(usize),
    /// From the neighbour search.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Settings of [`BondOrder::compute`].
#[derive(Debug, Clone, PartialEq)]
pub struct BondOrderParams {
    /// Degrees l of q_l and qbar_l to report (4 and 6 are always computed).
    pub ls: Vec<usize>,
    /// The solid-bond rule.
    pub solid: SolidRule,
    /// Lattice constant (Angstrom) of the perfect fcc crystal that normalises alpha.
    pub fcc_a: f64,
}

impl Default for BondOrderParams {
    fn default() -> Self {
        Self {
            ls: vec![4, 6],
            solid: SolidRule::default(),
            fcc_a: 3.92,
        }
    }
}

/// Per-atom bond order of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct BondOrder {
    /// The degrees l, ascending, each once (always containing 4 and 6).
    pub ls: Vec<usize>,
    /// q_l per l (same order as `ls`), per atom.
    pub q: Vec<Vec<f64>>,
    /// qbar_l per l, per atom.
    pub qbar: Vec<Vec<f64>>,
    /// Normalised crystalline order, unclipped.
    pub alpha: Vec<f64>,
    /// Solid bonds, solid atoms and clusters.
    pub solid: SolidAtoms,
    /// Number of neighbours of each atom (0 = isolated: q_l = 0 by definition).
    pub n_neighbors: Vec<u32>,
    /// The perfect-fcc normalisation used for alpha.
    pub reference: FccReference,
}

impl BondOrder {
    /// Every descriptor of `nucleate order` from the neighbour list of a frame.
    pub fn compute(list: &NeighborList, params: &BondOrderParams) -> Result<Self, OrderError> {
        let mut ls = params.ls.clone();
        ls.extend([4, 6]);
        ls.sort_unstable();
        ls.dedup();
        if let Some(&l) = ls.iter().find(|&&l| l > 64) {
            return Err(OrderError::Parameter(format!(
                "l = {l} is beyond the supported range 0..=64"
            )));
        }
        let reference = FccReference::compute(list.spec(), params.fcc_a)?;
        let qlms = qlm(list, &ls)?;
        let mut q = Vec::with_capacity(ls.len());
        let mut qbar = Vec::with_capacity(ls.len());
        for m in &qlms {
            q.push(m.magnitudes());
            qbar.push(m.averaged(list)?.magnitudes());
        }
        let at = |l: usize| {
            ls.iter()
                .position(|&x| x == l)
                .expect("4 and 6 are always present")
        };
        let alpha = alpha::alpha(&qbar[at(4)], &qbar[at(6)], &reference);
        let solid = solid::solid_atoms(&qlms[at(6)], list, params.solid)?;
        let n_neighbors = (0..list.len()).map(|i| list.count(i) as u32).collect();
        Ok(Self {
            ls,
            q,
            qbar,
            alpha,
            solid,
            n_neighbors,
            reference,
        })
    }

    /// q_l of every atom for degree `l`, if computed.
    pub fn q_l(&self, l: usize) -> Option<&[f64]> {
        self.ls
            .iter()
            .position(|&x| x == l)
            .map(|k| self.q[k].as_slice())
    }

    /// qbar_l of every atom for degree `l`, if computed.
    pub fn qbar_l(&self, l: usize) -> Option<&[f64]> {
        self.ls
            .iter()
            .position(|&x| x == l)
            .map(|k| self.qbar[k].as_slice())
    }

    /// Number of atoms without any neighbour.
    pub fn n_isolated(&self) -> usize {
        self.n_neighbors.iter().filter(|&&c| c == 0).count()
    }
}

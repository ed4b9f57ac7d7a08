//! Adaptive common neighbour analysis (a-CNA; Stukowski, Modelling Simul. Mater. Sci. Eng. 20,
//! 045021, 2012), with OVITO's structure numbering and decision rules.
//!
//! For every atom:
//! - fcc / hcp / icosahedral: the 12 nearest neighbours and a local cutoff
//!   r_c = (1 + sqrt 2) / 2 x their mean distance. Two neighbours are bonded when their
//!   separation is <= r_c. For each of the 12 bonds i-j the signature (n_cn, n_b, n_lcb) counts
//!   the common neighbours of i and j, the bonds among them and the bonds of the largest
//!   connected cluster of those bonds. fcc: 12 x (4,2,1); hcp: 6 x (4,2,1) + 6 x (4,2,2);
//!   icosahedral: 12 x (5,5,5).
//! - bcc (when none of the above): the 14 nearest neighbours, r_c = 1.207 x the mean of
//!   (2 / sqrt 3) d_k over the 8 nearest and d_k over the next 6; bcc: 8 x (6,6,6) + 6 x (4,4,4).
//! - anything else, and atoms with fewer than 12 (14) neighbours: other.
//!
//! The constants are the ones OVITO evaluates (its (1 + sqrt 2) / 2 and 1.207 are single-precision
//! literals promoted to double), so that borderline bonds fall the same way and the types agree
//! atom for atom.

use nucleate_core::{NeighborList, NeighborSpec};
use rayon::prelude::*;

use crate::OrderError;

/// Neighbours a-CNA needs per atom: build one `NeighborSpec::Nearest { k: 14 }` list and share it.
pub const CNA_NEIGHBORS: usize = 14;

/// Local crystal structure of an atom, numbered as OVITO numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Structure {
    /// None of the structures below (also surface and under-coordinated atoms).
    Other = 0,
    /// Face-centred cubic.
    Fcc = 1,
    /// Hexagonal close-packed.
    Hcp = 2,
    /// Body-centred cubic.
    Bcc = 3,
    /// Icosahedral (the centre of a 13-atom icosahedron).
    Icosahedral = 4,
}

impl Structure {
    /// All types in OVITO's order.
    pub const ALL: [Structure; 5] = [
        Structure::Other,
        Structure::Fcc,
        Structure::Hcp,
        Structure::Bcc,
        Structure::Icosahedral,
    ];

    /// OVITO's type number (0-4).
    pub fn number(self) -> u8 {
        self as u8
    }

    /// Whether the type counts as crystalline (fcc, hcp or bcc).
    pub fn is_crystalline(self) -> bool {
        matches!(self, Structure::Fcc | Structure::Hcp | Structure::Bcc)
    }

    /// Lower-case name (`other`, `fcc`, `hcp`, `bcc`, `ico`).
    pub fn name(self) -> &'static str {
        match self {
            Structure::Other => "other",
            Structure::Fcc => "fcc",
            Structure::Hcp => "hcp",
            Structure::Bcc => "bcc",
            Structure::Icosahedral => "ico",
        }
    }
}

/// Structure counts of a frame, indexed by [`Structure::number`].
pub fn counts(types: &[Structure]) -> [usize; 5] {
    let mut c = [0usize; 5];
    for t in types {
        c[t.number() as usize] += 1;
    }
    c
}

/// a-CNA of every atom from a k-nearest list with k >= [`CNA_NEIGHBORS`] (each atom's
/// neighbours sorted by distance, as [`NeighborList`] keeps them). Deterministic and parallel.
pub fn adaptive_cna(list: &NeighborList) -> Result<Vec<Structure>, OrderError> {
    match list.spec() {
        NeighborSpec::Nearest { k } if k >= CNA_NEIGHBORS => {}
        other => {
            return Err(OrderError::Parameter(format!(
                "a-CNA needs a list of the {CNA_NEIGHBORS} nearest neighbours, got {other:?}"
            )))
        }
    }
    Ok((0..list.len())
        .into_par_iter()
        .with_min_len(512)
        .map(|i| classify(list.vectors(i), list.distances(i)))
        .collect())
}

/// a-CNA of one atom from its neighbour vectors r_j - r_i (Angstrom) and distances, nearest
/// first (at least 12 for fcc/hcp/ico and 14 for bcc; more are ignored).
pub fn classify(vectors: &[[f64; 3]], distances: &[f64]) -> Structure {
    debug_assert_eq!(vectors.len(), distances.len());
    let n = vectors.len();
    if n < 12 {
        return Structure::Other;
    }
    // fcc, hcp, icosahedral from the 12 nearest.
    let half_one_plus_sqrt2 = 1.0 + f64::from(2.0f32.sqrt());
    let mean12: f64 = distances[..12].iter().sum::<f64>() / 12.0;
    let rc = mean12 * half_one_plus_sqrt2 * 0.5;
    let adj = bond_masks(&vectors[..12], rc * rc);
    let (mut n421, mut n422, mut n555) = (0, 0, 0);
    for &a in &adj {
        let (cn, nb, lcb) = signature(&adj, a);
        match (cn, nb, lcb) {
            (4, 2, 1) => n421 += 1,
            (4, 2, 2) => n422 += 1,
            (5, 5, 5) => n555 += 1,
            _ => break,
        }
    }
    if n421 == 12 {
        return Structure::Fcc;
    }
    if n421 == 6 && n422 == 6 {
        return Structure::Hcp;
    }
    if n555 == 12 {
        return Structure::Icosahedral;
    }
    // bcc from the 14 nearest.
    if n < 14 {
        return Structure::Other;
    }
    let scaled: f64 = distances[..8]
        .iter()
        .map(|&d| (d * d / 0.75).sqrt())
        .sum::<f64>()
        + distances[8..14].iter().sum::<f64>();
    let rc = scaled / 14.0 * f64::from(1.207f32);
    let adj = bond_masks(&vectors[..14], rc * rc);
    let (mut n444, mut n666) = (0, 0);
    for &a in &adj {
        match signature(&adj, a) {
            (4, 4, 4) => n444 += 1,
            (6, 6, 6) => n666 += 1,
            _ => break,
        }
    }
    if n666 == 8 && n444 == 6 {
        Structure::Bcc
    } else {
        Structure::Other
    }
}

/// Bond bit masks among the neighbours: bit b of `adj[a]` is set when neighbours a and b are
/// within the local cutoff of each other.
fn bond_masks(vectors: &[[f64; 3]], rc2: f64) -> Vec<u32> {
    let m = vectors.len();
    let mut adj = vec![0u32; m];
    for a in 0..m {
        for b in a + 1..m {
            let d = [
                vectors[a][0] - vectors[b][0],
                vectors[a][1] - vectors[b][1],
                vectors[a][2] - vectors[b][2],
            ];
            if d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= rc2 {
                adj[a] |= 1 << b;
                adj[b] |= 1 << a;
            }
        }
    }
    adj
}

/// CNA signature (common neighbours, bonds among them, bonds in the largest connected cluster
/// of those bonds) of the bond to the neighbour whose common-neighbour mask is `common`.
fn signature(adj: &[u32], common: u32) -> (u32, u32, u32) {
    let n_cn = common.count_ones();
    let mut n_b = 0;
    let mut bits = common;
    while bits != 0 {
        let k = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        n_b += (adj[k] & common).count_ones();
    }
    n_b /= 2;
    // Largest connected cluster of bonds: flood fill over the common neighbours.
    let mut unvisited = common;
    let mut n_lcb = 0;
    while unvisited != 0 {
        let seed = unvisited & unvisited.wrapping_neg();
        let mut cluster = seed;
        let mut frontier = seed;
        while frontier != 0 {
            let k = frontier.trailing_zeros() as usize;
            frontier &= frontier - 1;
            let new = adj[k] & common & !cluster;
            cluster |= new;
            frontier |= new;
        }
        unvisited &= !cluster;
        let mut bonds = 0;
        let mut bits = cluster;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            bonds += (adj[k] & cluster).count_ones();
        }
        n_lcb = n_lcb.max(bonds / 2);
    }
    (n_cn, n_b, n_lcb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<[f64; 3]>) -> (Vec<[f64; 3]>, Vec<f64>) {
        let norm = |p: &[f64; 3]| (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
        v.sort_by(|a, b| norm(a).total_cmp(&norm(b)));
        let d = v.iter().map(norm).collect();
        (v, d)
    }

    fn fcc_shell() -> Vec<[f64; 3]> {
        let mut v = vec![];
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            for s in [-1.0, 1.0] {
                for t in [-1.0, 1.0] {
                    let mut p = [0.0; 3];
                    p[a] = s;
                    p[b] = t;
                    v.push(p);
                }
            }
        }
        v
    }

    #[test]
    fn ideal_environments() {
        // fcc: the cuboctahedron.
        let (v, d) = sorted(fcc_shell());
        assert_eq!(classify(&v, &d), Structure::Fcc);
        // bcc: 8 at a sqrt3/2 and 6 at a.
        let mut b = vec![];
        for s in [-1.0, 1.0] {
            for t in [-1.0, 1.0] {
                for u in [-1.0, 1.0] {
                    b.push([s * 0.5, t * 0.5, u * 0.5]);
                }
            }
        }
        for k in 0..3 {
            for s in [-1.0, 1.0] {
                let mut p = [0.0; 3];
                p[k] = s;
                b.push(p);
            }
        }
        let (v, d) = sorted(b);
        assert_eq!(classify(&v, &d), Structure::Bcc);
        // icosahedron: 12 vertices (0, +-1, +-phi) cyclic.
        let phi = (1.0 + 5f64.sqrt()) / 2.0;
        let mut ico = vec![];
        for s in [-1.0, 1.0] {
            for t in [-1.0, 1.0] {
                ico.push([0.0, s, t * phi]);
                ico.push([s, t * phi, 0.0]);
                ico.push([t * phi, 0.0, s]);
            }
        }
        let (v, d) = sorted(ico);
        assert_eq!(classify(&v, &d), Structure::Icosahedral);
        // Too few neighbours.
        assert_eq!(classify(&v[..11], &d[..11]), Structure::Other);
    }

    #[test]
    fn hcp_environment() {
        // The anticuboctahedron: 6 in plane, 3 above and 3 below at the same positions.
        let mut v = vec![];
        for k in 0..6 {
            let a = k as f64 * std::f64::consts::PI / 3.0;
            v.push([a.cos(), a.sin(), 0.0]);
        }
        let h = (2.0f64 / 3.0).sqrt();
        for k in 0..3 {
            let a = (4 * k + 1) as f64 * std::f64::consts::PI / 6.0;
            let r = 1.0 / 3f64.sqrt();
            v.push([r * a.cos(), r * a.sin(), h]);
            v.push([r * a.cos(), r * a.sin(), -h]);
        }
        let (v, d) = sorted(v);
        assert_eq!(classify(&v, &d), Structure::Hcp);
    }

    #[test]
    fn chain_length_is_the_largest_bond_cluster() {
        // Common neighbours 0-1-2 chained and 3 isolated: 2 bonds, longest chain 2.
        let adj = [0b0010, 0b0101, 0b0010, 0b0000];
        assert_eq!(signature(&adj, 0b1111), (4, 2, 2));
        // Two separate bonds: longest chain 1.
        let adj = [0b0010, 0b0001, 0b1000, 0b0100];
        assert_eq!(signature(&adj, 0b1111), (4, 2, 1));
    }
}

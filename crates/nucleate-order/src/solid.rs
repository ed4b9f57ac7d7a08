//! ten Wolde - Frenkel solid bonds and the largest solid cluster, the common practice that
//! users compare nuclei sizes with.
//!
//!   d6(i, j) = Re sum_m q6m(i) conj(q6m(j)) / ( |q6(i)| |q6(j)| )
//!
//! A bond is solid when d6 > `d6_min` (0.7); an atom is solid with at least `n_bonds` (7)
//! solid bonds. Solid atoms joined by a solid bond form clusters (as freud's `SolidLiquid`
//! does); labels are ordered by cluster size, largest first, ties by lowest atom index.

use petgraph::unionfind::UnionFind;
use rayon::prelude::*;

use nucleate_core::NeighborList;

use crate::steinhardt::Qlm;
use crate::OrderError;

/// Thresholds of the solid-bond rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolidRule {
    /// A bond is solid when its normalised q6 product exceeds this.
    pub d6_min: f64,
    /// An atom is solid with at least this many solid bonds.
    pub n_bonds: usize,
}

impl Default for SolidRule {
    fn default() -> Self {
        Self {
            d6_min: 0.7,
            n_bonds: 7,
        }
    }
}

/// Solid bonds, solid atoms and their clusters.
#[derive(Debug, Clone, PartialEq)]
pub struct SolidAtoms {
    /// Number of solid bonds of each atom.
    pub n_solid_bonds: Vec<u32>,
    /// Whether each atom is solid.
    pub solid: Vec<bool>,
    /// Cluster label of each solid atom (0 = largest), -1 for liquid-like atoms.
    pub cluster: Vec<i32>,
    /// Cluster sizes, largest first.
    pub cluster_sizes: Vec<usize>,
}

impl SolidAtoms {
    /// Size of the largest solid cluster (0 without solid atoms).
    pub fn largest_cluster(&self) -> usize {
        self.cluster_sizes.first().copied().unwrap_or(0)
    }

    /// Number of solid atoms.
    pub fn n_solid(&self) -> usize {
        self.solid.iter().filter(|&&s| s).count()
    }
}

/// Apply `rule` to the q6m of every atom (`q6.l()` is normally 6, any l works) over the bonds
/// of `list`.
pub fn solid_atoms(
    q6: &Qlm,
    list: &NeighborList,
    rule: SolidRule,
) -> Result<SolidAtoms, OrderError> {
    if list.len() != q6.len() {
        return Err(OrderError::Mismatch(format!(
            "neighbour list of {} atoms for {} atoms",
            list.len(),
            q6.len()
        )));
    }
    let n = list.len();
    let norms: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| q6.norm_sqr(i).sqrt())
        .collect();
    let is_solid_bond = |i: usize, j: usize| -> bool {
        let d = norms[i] * norms[j];
        d > 0.0 && q6.dot(i, j) / d > rule.d6_min
    };
    let n_solid_bonds: Vec<u32> = (0..n)
        .into_par_iter()
        .map(|i| {
            list.neighbors(i)
                .iter()
                .filter(|&&j| is_solid_bond(i, j as usize))
                .count() as u32
        })
        .collect();
    let solid: Vec<bool> = n_solid_bonds
        .iter()
        .map(|&c| c as usize >= rule.n_bonds)
        .collect();

    let mut uf = UnionFind::<u32>::new(n);
    for i in 0..n {
        if !solid[i] {
            continue;
        }
        for &j in list.neighbors(i) {
            let j = j as usize;
            if j > i && solid[j] && is_solid_bond(i, j) {
                uf.union(i as u32, j as u32);
            }
        }
    }
    // Size and first atom of each root, then labels by size (desc) and first atom (asc).
    let mut size = vec![0usize; n];
    let mut first = vec![usize::MAX; n];
    for i in (0..n).filter(|&i| solid[i]) {
        let r = uf.find(i as u32) as usize;
        size[r] += 1;
        first[r] = first[r].min(i);
    }
    let mut roots: Vec<usize> = (0..n).filter(|&r| size[r] > 0).collect();
    roots.sort_by(|&a, &b| size[b].cmp(&size[a]).then(first[a].cmp(&first[b])));
    let mut label_of_root = vec![-1i32; n];
    for (k, &r) in roots.iter().enumerate() {
        label_of_root[r] = k as i32;
    }
    let cluster = (0..n)
        .map(|i| {
            if solid[i] {
                label_of_root[uf.find(i as u32) as usize]
            } else {
                -1
            }
        })
        .collect();
    let cluster_sizes = roots.iter().map(|&r| size[r]).collect();
    Ok(SolidAtoms {
        n_solid_bonds,
        solid,
        cluster,
        cluster_sizes,
    })
}

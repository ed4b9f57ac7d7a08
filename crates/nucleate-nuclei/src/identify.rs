//! Nuclei by core climbing on a per-atom order field (nuclei.md).
//!
//! 0. Atoms with fewer than `min_coordination` first-shell neighbours get order 0 for the
//!    identification (free surfaces: their one-sided neighbourhood inflates alpha).
//! 1. Each atom looks at the atoms within R of the same phase (itself included); if it has the
//!    highest order it is a local maximum, otherwise it steps to the highest one.
//! 2. Following the steps every atom reaches one local maximum: its basin. Ties go to the lower
//!    atom index, so the result is deterministic.
//! 5. Persistence merge (before the size rule): two basins touch where atoms of both, within R
//!    of each other and both at or above the threshold, meet; the saddle is the highest
//!    min(order_i, order_j) over such pairs. From the highest saddle down, two basins merge when
//!    the lower of their peaks exceeds the saddle by less than the persistence.
//! 3. A nucleus is a (merged) basin with at least `min_atoms` members of order >= threshold;
//!    the members are those atoms.
//! 4. Core atoms: members with order >= 0.95 x the nucleus maximum; the core position is their
//!    order-weighted centroid, unwrapped through the nucleus' own bonds.

use std::collections::HashMap;

use glam::DVec3;
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;

use nucleate_core::{Frame, NeighborList};

use crate::NucleiError;

/// Parameters of core climbing. Defaults are those for MD of a monatomic fcc metal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClimbParams {
    /// Search radius R (Angstrom): the sphere in which each atom looks for a higher order.
    pub radius: f64,
    /// Order at or above which an atom can be a nucleus member.
    pub threshold: f64,
    /// Minimum number of members of a nucleus.
    pub min_atoms: usize,
    /// Persistence: basins whose lower peak rises less than this above their saddle merge
    /// (0 = no merging).
    pub persistence: f64,
    /// Candidates need at least this many neighbours within `shell_radius` (None = no rule).
    pub min_coordination: Option<usize>,
    /// First-shell radius (Angstrom) for the coordination rule.
    pub shell_radius: f64,
    /// Fraction of the nucleus maximum above which members are core atoms.
    pub core_fraction: f64,
}

impl ClimbParams {
    /// MD of Pt-like fcc metals: R = 4.0 A, threshold 0.4, 31 atoms, persistence 0.2,
    /// coordination >= 10 within 3.5 A.
    pub fn md() -> Self {
        Self {
            radius: 4.0,
            threshold: 0.4,
            min_atoms: 31,
            persistence: 0.2,
            min_coordination: Some(10),
            shell_radius: 3.5,
            core_fraction: 0.95,
        }
    }

    /// The seed's literal rules for MD: threshold 0.3, no merging, no coordination rule.
    pub fn md_seed_rules() -> Self {
        Self {
            threshold: 0.3,
            persistence: 0.0,
            min_coordination: None,
            ..Self::md()
        }
    }

    /// Tomography models of binary alloys (chemical order): R = 3.87 A, threshold 0.3,
    /// 13 atoms, no merging, no coordination rule.
    pub fn tomography() -> Self {
        Self {
            radius: 3.87,
            threshold: 0.3,
            min_atoms: 13,
            persistence: 0.0,
            min_coordination: None,
            shell_radius: 3.5,
            core_fraction: 0.95,
        }
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<(), NucleiError> {
        let bad = |m: String| Err(NucleiError::Parameter(m));
        if !(self.radius.is_finite() && self.radius > 0.0) {
            return bad(format!(
                "search radius must be positive, got {}",
                self.radius
            ));
        }
        if !self.threshold.is_finite() {
            return bad(format!("threshold must be finite, got {}", self.threshold));
        }
        if self.min_atoms == 0 {
            return bad("minimum nucleus size must be at least 1".into());
        }
        if !(self.persistence.is_finite() && self.persistence >= 0.0) {
            return bad(format!(
                "persistence must be >= 0, got {}",
                self.persistence
            ));
        }
        if !(self.core_fraction > 0.0 && self.core_fraction <= 1.0) {
            return bad(format!(
                "core fraction must lie in (0, 1], got {}",
                self.core_fraction
            ));
        }
        if !(self.shell_radius.is_finite()
            && self.shell_radius > 0.0
            && self.shell_radius <= self.radius)
        {
            return bad(format!(
                "first-shell radius must lie in (0, R = {}], got {}",
                self.radius, self.shell_radius
            ));
        }
        Ok(())
    }
}

impl Default for ClimbParams {
    fn default() -> Self {
        Self::md()
    }
}

/// One nucleus.
#[derive(Debug, Clone, PartialEq)]
pub struct Nucleus {
    /// Member atoms (order >= threshold), ascending.
    pub members: Vec<u32>,
    /// Every atom of the (merged) basin, members included, ascending.
    pub basin: Vec<u32>,
    /// The atom of highest order.
    pub peak: u32,
    /// Highest member order.
    pub order_max: f64,
    /// Core atoms (order >= core fraction x maximum), ascending.
    pub core: Vec<u32>,
    /// Order-weighted centroid of the core atoms (Angstrom), inside the cell along periodic axes.
    pub core_position: [f64; 3],
    /// Member positions unwrapped through the nucleus' own bonds (Angstrom), in `members` order.
    pub unwrapped: Vec<[f64; 3]>,
}

impl Nucleus {
    /// Number of members.
    pub fn n_atoms(&self) -> usize {
        self.members.len()
    }
}

/// Result of core climbing on one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Identification {
    /// Nuclei, largest first (ties: lower peak index first).
    pub nuclei: Vec<Nucleus>,
    /// Nucleus index of each atom, -1 for none.
    pub nucleus_of: Vec<i32>,
    /// The local maximum each atom climbs to, after merging (an atom index).
    pub basin_of: Vec<u32>,
    /// Whether each atom is a core atom of a nucleus.
    pub is_core: Vec<bool>,
    /// The order used for identification (zero for under-coordinated atoms).
    pub order: Vec<f64>,
    /// Number of first-shell neighbours of each atom.
    pub coordination: Vec<u32>,
}

/// Find the nuclei of `frame` in `order` (one value per atom) with phase labels `phase`
/// (all equal for a monatomic field). `list` must be a cutoff list with radius >= R.
pub fn identify(
    frame: &Frame,
    list: &NeighborList,
    order: &[f64],
    phase: &[u16],
    params: &ClimbParams,
) -> Result<Identification, NucleiError> {
    params.validate()?;
    let n = frame.len();
    if order.len() != n || phase.len() != n || list.len() != n {
        return Err(NucleiError::Mismatch(format!(
            "{n} atoms, {} order values, {} phases, neighbour list of {}",
            order.len(),
            phase.len(),
            list.len()
        )));
    }
    if let Some(i) = order.iter().position(|o| !o.is_finite()) {
        return Err(NucleiError::Parameter(format!(
            "order of atom {i} is not finite ({})",
            order[i]
        )));
    }
    let r = params.radius;
    let within = |i: usize| list.distances(i).partition_point(|&d| d <= r);
    let coordination: Vec<u32> = (0..n)
        .into_par_iter()
        .map(|i| {
            list.distances(i)
                .partition_point(|&d| d <= params.shell_radius) as u32
        })
        .collect();
    let eff: Vec<f64> = (0..n)
        .map(|i| match params.min_coordination {
            Some(c) if (coordination[i] as usize) < c => 0.0,
            _ => order[i],
        })
        .collect();
    // (order, lower index) decides: true when a beats b.
    let higher = |a: usize, b: usize| eff[a] > eff[b] || (eff[a] == eff[b] && a < b);

    // 1. Each atom's step.
    let step: Vec<u32> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut best = i;
            for &j in &list.neighbors(i)[..within(i)] {
                let j = j as usize;
                if phase[j] == phase[i] && higher(j, best) {
                    best = j;
                }
            }
            best as u32
        })
        .collect();
    // 2. Climb to the local maxima; every step raises (order, -index), so no cycles.
    let mut root = vec![u32::MAX; n];
    let mut path = Vec::new();
    for i in 0..n {
        let mut x = i;
        while root[x] == u32::MAX && step[x] as usize != x {
            path.push(x);
            x = step[x] as usize;
        }
        let top = if root[x] == u32::MAX {
            x as u32
        } else {
            root[x]
        };
        root[x] = top;
        for &p in &path {
            root[p] = top;
        }
        path.clear();
    }

    // 5. Persistence merge of touching basins.
    let mut uf = UnionFind::<u32>::new(n);
    if params.persistence > 0.0 {
        let saddles: HashMap<(u32, u32), f64> = (0..n)
            .into_par_iter()
            .fold(HashMap::new, |mut acc: HashMap<(u32, u32), f64>, i| {
                if eff[i] >= params.threshold {
                    for &j in &list.neighbors(i)[..within(i)] {
                        let ju = j as usize;
                        if ju > i
                            && phase[ju] == phase[i]
                            && eff[ju] >= params.threshold
                            && root[i] != root[ju]
                        {
                            let key = (root[i].min(root[ju]), root[i].max(root[ju]));
                            let s = eff[i].min(eff[ju]);
                            let e = acc.entry(key).or_insert(s);
                            *e = e.max(s);
                        }
                    }
                }
                acc
            })
            .reduce(HashMap::new, |mut a, b| {
                for (k, v) in b {
                    let e = a.entry(k).or_insert(v);
                    *e = e.max(v);
                }
                a
            });
        let mut pairs: Vec<((u32, u32), f64)> = saddles.into_iter().collect();
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // Peak of each union-find set, kept at its representative.
        let mut peak: Vec<u32> = (0..n as u32).collect();
        for ((a, b), saddle) in pairs {
            let (ra, rb) = (uf.find(a), uf.find(b));
            if ra == rb {
                continue;
            }
            let (pa, pb) = (peak[ra as usize] as usize, peak[rb as usize] as usize);
            if eff[pa].min(eff[pb]) - saddle < params.persistence {
                uf.union(ra, rb);
                let r = uf.find(ra) as usize;
                peak[r] = if higher(pa, pb) { pa as u32 } else { pb as u32 };
            }
        }
        for x in root.iter_mut() {
            let r = uf.find(*x) as usize;
            *x = peak[r];
        }
    }

    // 3. Members per basin and the size rule.
    let mut groups: HashMap<u32, (Vec<u32>, Vec<u32>)> = HashMap::new();
    for i in 0..n {
        let g = groups.entry(root[i]).or_default();
        g.1.push(i as u32);
        if eff[i] >= params.threshold {
            g.0.push(i as u32);
        }
    }
    let mut kept: Vec<(u32, Vec<u32>, Vec<u32>)> = groups
        .into_iter()
        .filter(|(_, (m, _))| m.len() >= params.min_atoms)
        .map(|(peak, (m, b))| (peak, m, b))
        .collect();
    kept.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));

    let mut nucleus_of = vec![-1i32; n];
    let mut is_core = vec![false; n];
    let mut nuclei = Vec::with_capacity(kept.len());
    for (k, (peak, members, basin)) in kept.into_iter().enumerate() {
        for &m in &members {
            nucleus_of[m as usize] = k as i32;
        }
        let unwrapped = unwrap_members(frame, list, &members, peak, r, &nucleus_of, k as i32);
        let order_max = members
            .iter()
            .map(|&m| eff[m as usize])
            .fold(f64::NEG_INFINITY, f64::max);
        let mut core = Vec::new();
        let mut weight = 0.0;
        let mut centre = DVec3::ZERO;
        for (m, p) in members.iter().zip(&unwrapped) {
            let o = eff[*m as usize];
            if o >= params.core_fraction * order_max {
                core.push(*m);
                is_core[*m as usize] = true;
                weight += o;
                centre += o * DVec3::from_array(*p);
            }
        }
        let core_position = frame.cell.wrap((centre / weight).to_array());
        nuclei.push(Nucleus {
            members,
            basin,
            peak,
            order_max,
            core,
            core_position,
            unwrapped,
        });
    }
    Ok(Identification {
        nuclei,
        nucleus_of,
        basin_of: root,
        is_core,
        order: eff,
        coordination,
    })
}

/// Member positions unwrapped by a breadth-first walk over bonds (within R) between members of
/// nucleus `label`, starting at the peak. Members not reached through such bonds (possible
/// after merging across a gap) are placed by the minimum image from the peak.
fn unwrap_members(
    frame: &Frame,
    list: &NeighborList,
    members: &[u32],
    peak: u32,
    r: f64,
    nucleus_of: &[i32],
    label: i32,
) -> Vec<[f64; 3]> {
    let mut placed: HashMap<u32, DVec3> = HashMap::with_capacity(members.len());
    let start = DVec3::from_array(frame.positions[peak as usize]);
    placed.insert(peak, start);
    let mut queue = std::collections::VecDeque::from([peak]);
    while let Some(i) = queue.pop_front() {
        let pi = placed[&i];
        let iu = i as usize;
        for ((&j, v), &d) in list
            .neighbors(iu)
            .iter()
            .zip(list.vectors(iu))
            .zip(list.distances(iu))
        {
            if d > r {
                break;
            }
            if nucleus_of[j as usize] == label && !placed.contains_key(&j) {
                placed.insert(j, pi + DVec3::from_array(*v));
                queue.push_back(j);
            }
        }
    }
    members
        .iter()
        .map(|m| match placed.get(m) {
            Some(p) => p.to_array(),
            None => {
                let p = frame.positions[*m as usize];
                let d = frame
                    .cell
                    .minimum_image([p[0] - start.x, p[1] - start.y, p[2] - start.z]);
                [start.x + d[0], start.y + d[1], start.z + d[2]]
            }
        })
        .collect()
}

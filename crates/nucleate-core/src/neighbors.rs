//! Neighbour search with cell (linked-cell) lists.
//!
//! One list per frame, shared by every compute: CSR storage (`offsets`, neighbour indices,
//! separation vectors, distances), each atom's neighbours sorted by (distance, index, image),
//! so results are deterministic for any thread count and k-nearest is a prefix.
//!
//! Images are enumerated from the box's perpendicular widths: a bin is at least as thick as
//! the search radius would need, and the stencil reaches `ceil(r / thickness)` bins along each
//! axis, stepping into periodic images as often as needed. Tiny periodic boxes (smaller than
//! twice, or even once, the cutoff), strongly sheared triclinic cells and per-axis periodicity
//! therefore need no special cases: every image of every atom within the radius is found
//! exactly once, including periodic images of the atom itself.

use glam::DVec3;
use rayon::prelude::*;

use crate::cell::SimBox;
use crate::error::CoreError;
use crate::frame::Frame;

/// How neighbours are chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NeighborSpec {
    /// Every atom (or periodic image) with 0 < |r_ij| <= `r` (Angstrom).
    Cutoff {
        /// Cutoff radius (Angstrom).
        r: f64,
    },
    /// The `k` nearest atoms (or images), ties broken by atom index.
    Nearest {
        /// Number of neighbours.
        k: usize,
    },
    /// Every atom with `r_min` <= |r_ij| <= `r_max` (Angstrom).
    Shell {
        /// Inner radius (Angstrom).
        r_min: f64,
        /// Outer radius (Angstrom).
        r_max: f64,
    },
}

/// Neighbours of every atom in compressed-row form.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborList {
    spec: NeighborSpec,
    offsets: Vec<usize>,
    index: Vec<u32>,
    vectors: Vec<[f64; 3]>,
    distances: Vec<f64>,
}

impl NeighborList {
    /// Neighbours of the atoms of `frame`.
    pub fn build(frame: &Frame, spec: NeighborSpec) -> Result<Self, CoreError> {
        Self::from_positions(&frame.positions, &frame.cell, spec)
    }

    /// Neighbours of `positions` (Angstrom) in `cell`.
    pub fn from_positions(
        positions: &[[f64; 3]],
        cell: &SimBox,
        spec: NeighborSpec,
    ) -> Result<Self, CoreError> {
        if positions.len() > u32::MAX as usize {
            return Err(CoreError::InvalidArgument("more than 2^32 atoms".into()));
        }
        if let Some(i) = positions
            .iter()
            .position(|p| !p.iter().all(|x| x.is_finite()))
        {
            return Err(CoreError::InvalidArgument(format!(
                "atom {i} has a non-finite position {:?}",
                positions[i]
            )));
        }
        match spec {
            NeighborSpec::Cutoff { r } => {
                check_radius(r, "cutoff")?;
            }
            NeighborSpec::Shell { r_min, r_max } => {
                check_radius(r_max, "shell outer radius")?;
                if !(r_min.is_finite() && r_min >= 0.0 && r_min <= r_max) {
                    return Err(CoreError::InvalidArgument(format!(
                        "shell inner radius {r_min} must lie in [0, {r_max}]"
                    )));
                }
            }
            NeighborSpec::Nearest { k } => {
                if k == 0 {
                    return Err(CoreError::InvalidArgument(
                        "k nearest neighbours needs k >= 1".into(),
                    ));
                }
                if !cell.any_periodic() && k >= positions.len() {
                    return Err(CoreError::InvalidArgument(format!(
                        "{k} nearest neighbours asked of a non-periodic frame of {} atoms",
                        positions.len()
                    )));
                }
            }
        }
        let n = positions.len();
        if n == 0 {
            return Ok(Self {
                spec,
                offsets: vec![0],
                index: vec![],
                vectors: vec![],
                distances: vec![],
            });
        }
        let bin_radius = match spec {
            NeighborSpec::Cutoff { r } => r,
            NeighborSpec::Shell { r_max, .. } => r_max,
            NeighborSpec::Nearest { k } => nearest_radius_guess(positions, cell, k),
        };
        let grid = Grid::new(positions, cell, bin_radius);

        // Chunks of consecutive atoms, each producing its own CSR piece: the concatenation is
        // the same for every thread count.
        const CHUNK: usize = 1024;
        let pieces: Vec<Piece> = (0..n.div_ceil(CHUNK))
            .into_par_iter()
            .map(|c| {
                let lo = c * CHUNK;
                let hi = (lo + CHUNK).min(n);
                let mut piece = Piece::default();
                let mut scratch: Vec<Candidate> = Vec::with_capacity(64);
                for i in lo..hi {
                    match spec {
                        NeighborSpec::Cutoff { r } => {
                            grid.within(i, r, &mut scratch);
                        }
                        NeighborSpec::Shell { r_min, r_max } => {
                            grid.within(i, r_max, &mut scratch);
                            scratch.retain(|c| c.dist >= r_min);
                        }
                        NeighborSpec::Nearest { k } => {
                            let mut r = bin_radius;
                            loop {
                                grid.within(i, r, &mut scratch);
                                if scratch.len() >= k {
                                    break;
                                }
                                r *= 1.5;
                            }
                        }
                    }
                    scratch.sort_unstable_by(Candidate::order);
                    if let NeighborSpec::Nearest { k } = spec {
                        scratch.truncate(k);
                    }
                    piece.counts.push(scratch.len() as u32);
                    for c in &scratch {
                        piece.index.push(c.j);
                        piece.vectors.push(c.vec);
                        piece.distances.push(c.dist);
                    }
                }
                piece
            })
            .collect();

        // Offsets serially (cheap), the bulk copy in parallel: each piece owns a disjoint
        // range of the final arrays.
        let total: usize = pieces.iter().map(|p| p.index.len()).sum();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0usize);
        for p in &pieces {
            for &c in &p.counts {
                let last = offsets[offsets.len() - 1];
                offsets.push(last + c as usize);
            }
        }
        let mut index = vec![0u32; total];
        let mut vectors = vec![[0.0f64; 3]; total];
        let mut distances = vec![0.0f64; total];
        let mut slots = Vec::with_capacity(pieces.len());
        let (mut ri, mut rv, mut rd) = (&mut index[..], &mut vectors[..], &mut distances[..]);
        for p in &pieces {
            let len = p.index.len();
            let (i0, i1) = std::mem::take(&mut ri).split_at_mut(len);
            let (v0, v1) = std::mem::take(&mut rv).split_at_mut(len);
            let (d0, d1) = std::mem::take(&mut rd).split_at_mut(len);
            slots.push((i0, v0, d0));
            (ri, rv, rd) = (i1, v1, d1);
        }
        slots
            .into_par_iter()
            .zip(pieces.par_iter())
            .for_each(|((i, v, d), p)| {
                i.copy_from_slice(&p.index);
                v.copy_from_slice(&p.vectors);
                d.copy_from_slice(&p.distances);
            });
        let list = Self {
            spec,
            offsets,
            index,
            vectors,
            distances,
        };
        Ok(list)
    }

    /// The spec the list was built with.
    pub fn spec(&self) -> NeighborSpec {
        self.spec
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether the list has no atoms.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of (directed) neighbour entries.
    pub fn n_entries(&self) -> usize {
        self.index.len()
    }

    /// Number of neighbours of atom `i`.
    #[inline]
    pub fn count(&self, i: usize) -> usize {
        self.offsets[i + 1] - self.offsets[i]
    }

    /// Row boundaries: neighbours of atom `i` are entries `offsets[i]..offsets[i + 1]`.
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Indices of the neighbours of atom `i`, nearest first.
    #[inline]
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.index[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Separation vectors r_j - r_i (Angstrom) of the neighbours of atom `i`.
    #[inline]
    pub fn vectors(&self, i: usize) -> &[[f64; 3]] {
        &self.vectors[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Distances |r_j - r_i| (Angstrom) of the neighbours of atom `i`.
    #[inline]
    pub fn distances(&self, i: usize) -> &[f64] {
        &self.distances[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The first `k` neighbours of each atom (all of them where fewer): from a cutoff list
    /// built with a generous radius this is the k-nearest list.
    pub fn truncated(&self, k: usize) -> Self {
        let mut out = Self {
            spec: NeighborSpec::Nearest { k },
            offsets: Vec::with_capacity(self.offsets.len()),
            index: Vec::new(),
            vectors: Vec::new(),
            distances: Vec::new(),
        };
        out.offsets.push(0);
        for i in 0..self.len() {
            let r = self.offsets[i]..self.offsets[i] + self.count(i).min(k);
            out.index.extend_from_slice(&self.index[r.clone()]);
            out.vectors.extend_from_slice(&self.vectors[r.clone()]);
            out.distances.extend_from_slice(&self.distances[r]);
            out.offsets.push(out.index.len());
        }
        out
    }
}

fn check_radius(r: f64, what: &str) -> Result<(), CoreError> {
    if r.is_finite() && r > 0.0 {
        Ok(())
    } else {
        Err(CoreError::InvalidArgument(format!(
            "{what} must be a positive number of Angstrom, got {r}"
        )))
    }
}

/// A radius that holds about `k` neighbours at the frame's mean density, with some margin.
fn nearest_radius_guess(positions: &[[f64; 3]], cell: &SimBox, k: usize) -> f64 {
    let n = positions.len() as f64;
    let volume = if cell.periodic().iter().all(|&p| p) {
        cell.volume()
    } else {
        match SimBox::enclosing(positions, 0.0) {
            Ok(enclosing) => enclosing
                .volume()
                .min(cell.volume().max(enclosing.volume())),
            Err(_) => cell.volume(),
        }
    };
    let density = (n / volume.max(1e-12)).max(1e-12);
    (1.3 * (3.0 * (k as f64 + 1.0) / (4.0 * std::f64::consts::PI * density)).cbrt()).max(1e-6)
}

#[derive(Default)]
struct Piece {
    counts: Vec<u32>,
    index: Vec<u32>,
    vectors: Vec<[f64; 3]>,
    distances: Vec<f64>,
}

#[derive(Clone, Copy)]
struct Candidate {
    dist: f64,
    j: u32,
    shift: [i32; 3],
    vec: [f64; 3],
}

impl Candidate {
    fn order(a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
        a.dist
            .total_cmp(&b.dist)
            .then(a.j.cmp(&b.j))
            .then(a.shift.cmp(&b.shift))
    }
}

/// Atoms binned on a grid aligned with the cell vectors.
struct Grid {
    cell: SimBox,
    periodic: [bool; 3],
    n: [i64; 3],
    /// Perpendicular thickness of one bin along each axis (Angstrom); infinite when the atoms
    /// span no width along an open axis.
    thickness: [f64; 3],
    bin_of: Vec<[i64; 3]>,
    start: Vec<u32>,
    atoms: Vec<u32>,
    /// Positions wrapped into the cell along periodic axes.
    wrapped: Vec<DVec3>,
}

impl Grid {
    fn new(positions: &[[f64; 3]], cell: &SimBox, radius: f64) -> Self {
        let periodic = cell.periodic();
        let widths = cell.perpendicular_widths();
        let wrapped: Vec<DVec3> = positions
            .iter()
            .map(|&p| DVec3::from_array(cell.wrap(p)))
            .collect();
        let frac: Vec<[f64; 3]> = wrapped
            .iter()
            .map(|p| cell.to_fractional(p.to_array()))
            .collect();
        let mut lo = [0.0f64; 3];
        let mut span = [1.0f64; 3];
        for d in 0..3 {
            if !periodic[d] {
                let (mn, mx) = frac
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                        (a.min(s[d]), b.max(s[d]))
                    });
                lo[d] = mn;
                span[d] = mx - mn;
            }
        }
        // Bins no thinner than the radius; coarser when there would be many more bins than
        // atoms (a sparse cloud in a large container).
        let max_bins = (8 * positions.len() + 27) as f64;
        let mut r_bin = radius;
        let counts = |r_bin: f64| -> [i64; 3] {
            let mut c = [1i64; 3];
            for d in 0..3 {
                let extent = span[d] * widths[d];
                c[d] = ((extent / r_bin).floor() as i64).clamp(1, 1 << 20);
            }
            c
        };
        let mut n = counts(r_bin);
        while (n[0] * n[1] * n[2]) as f64 > max_bins {
            r_bin *= 1.25;
            n = counts(r_bin);
        }
        let mut thickness = [0.0; 3];
        for d in 0..3 {
            let extent = span[d] * widths[d];
            thickness[d] = if extent > 0.0 {
                extent / n[d] as f64
            } else {
                f64::INFINITY
            };
        }
        let bin_of: Vec<[i64; 3]> = frac
            .iter()
            .map(|s| {
                let mut b = [0i64; 3];
                for d in 0..3 {
                    let x = if span[d] > 0.0 {
                        (s[d] - lo[d]) / span[d]
                    } else {
                        0.0
                    };
                    b[d] = ((x * n[d] as f64).floor() as i64).clamp(0, n[d] - 1);
                }
                b
            })
            .collect();
        let nbins = (n[0] * n[1] * n[2]) as usize;
        let flat = |b: &[i64; 3]| ((b[0] * n[1] + b[1]) * n[2] + b[2]) as usize;
        let mut start = vec![0u32; nbins + 1];
        for b in &bin_of {
            start[flat(b) + 1] += 1;
        }
        for k in 0..nbins {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut atoms = vec![0u32; positions.len()];
        for (i, b) in bin_of.iter().enumerate() {
            let f = flat(b);
            atoms[fill[f] as usize] = i as u32;
            fill[f] += 1;
        }
        Self {
            cell: *cell,
            periodic,
            n,
            thickness,
            bin_of,
            start,
            atoms,
            wrapped,
        }
    }

    /// All atoms and images within `r` of atom `i` (excluding atom `i` itself, but not its
    /// periodic images), appended to `out` after clearing it.
    fn within(&self, i: usize, r: f64, out: &mut Vec<Candidate>) {
        out.clear();
        let r2 = r * r;
        let bi = self.bin_of[i];
        let ri = self.wrapped[i];
        let mut reach = [0i64; 3];
        for d in 0..3 {
            reach[d] = if self.thickness[d].is_finite() {
                (r / self.thickness[d]).ceil() as i64
            } else {
                0
            };
            if !self.periodic[d] {
                reach[d] = reach[d].min(self.n[d]);
            }
        }
        for o0 in -reach[0]..=reach[0] {
            let Some((b0, s0)) = self.target(0, bi[0] + o0) else {
                continue;
            };
            for o1 in -reach[1]..=reach[1] {
                let Some((b1, s1)) = self.target(1, bi[1] + o1) else {
                    continue;
                };
                for o2 in -reach[2]..=reach[2] {
                    let Some((b2, s2)) = self.target(2, bi[2] + o2) else {
                        continue;
                    };
                    let shift = [s0 as i32, s1 as i32, s2 as i32];
                    let offset = if shift == [0; 3] {
                        DVec3::ZERO
                    } else {
                        self.cell.shift_vector(shift)
                    };
                    let base = offset - ri;
                    let f = ((b0 * self.n[1] + b1) * self.n[2] + b2) as usize;
                    for &j in &self.atoms[self.start[f] as usize..self.start[f + 1] as usize] {
                        if j as usize == i && shift == [0; 3] {
                            continue;
                        }
                        let v = self.wrapped[j as usize] + base;
                        let d2 = v.length_squared();
                        if d2 <= r2 {
                            out.push(Candidate {
                                dist: d2.sqrt(),
                                j,
                                shift,
                                vec: v.to_array(),
                            });
                        }
                    }
                }
            }
        }
    }

    /// The bin and image shift of bin coordinate `t` along axis `d`; None past an open edge.
    #[inline]
    fn target(&self, d: usize, t: i64) -> Option<(i64, i64)> {
        let n = self.n[d];
        if self.periodic[d] {
            Some((t.rem_euclid(n), t.div_euclid(n)))
        } else if (0..n).contains(&t) {
            Some((t, 0))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Every image within `r`, by brute force over a generous range of shifts.
    fn brute(positions: &[[f64; 3]], cell: &SimBox, r: f64) -> Vec<Vec<(u32, [i64; 3])>> {
        let w = cell.perpendicular_widths();
        let p = cell.periodic();
        let m: Vec<i32> = (0..3)
            .map(|d| {
                if p[d] {
                    (r / w[d]).ceil() as i32 + 1
                } else {
                    0
                }
            })
            .collect();
        let wrapped: Vec<DVec3> = positions
            .iter()
            .map(|&x| DVec3::from_array(cell.wrap(x)))
            .collect();
        let mut out = vec![];
        for i in 0..positions.len() {
            let mut mine = vec![];
            for j in 0..positions.len() {
                for a in -m[0]..=m[0] {
                    for b in -m[1]..=m[1] {
                        for c in -m[2]..=m[2] {
                            if i == j && a == 0 && b == 0 && c == 0 {
                                continue;
                            }
                            let v = wrapped[j] + cell.shift_vector([a, b, c]) - wrapped[i];
                            if v.length() <= r {
                                let q = |x: f64| (x * 1e6).round() as i64;
                                mine.push((j as u32, [q(v.x), q(v.y), q(v.z)]));
                            }
                        }
                    }
                }
            }
            mine.sort();
            out.push(mine);
        }
        out
    }

    fn from_list(list: &NeighborList) -> Vec<Vec<(u32, [i64; 3])>> {
        (0..list.len())
            .map(|i| {
                let mut v: Vec<(u32, [i64; 3])> = list
                    .neighbors(i)
                    .iter()
                    .zip(list.vectors(i))
                    .map(|(&j, v)| {
                        let q = |x: f64| (x * 1e6).round() as i64;
                        (j, [q(v[0]), q(v[1]), q(v[2])])
                    })
                    .collect();
                v.sort();
                v
            })
            .collect()
    }

    fn random_positions(cell: &SimBox, n: usize, seed: u64) -> Vec<[f64; 3]> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                cell.to_cartesian([
                    rng.gen_range(-0.2..1.2),
                    rng.gen_range(-0.2..1.2),
                    rng.gen_range(-0.2..1.2),
                ])
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_in_many_boxes() {
        let cells = [
            SimBox::orthorhombic([12.0, 13.0, 14.0], [true; 3]).unwrap(),
            // smaller than twice the cutoff along every axis
            SimBox::orthorhombic([5.0, 6.0, 7.0], [true; 3]).unwrap(),
            // smaller than the cutoff itself
            SimBox::orthorhombic([2.5, 3.0, 9.0], [true; 3]).unwrap(),
            // strongly sheared
            SimBox::from_lammps(
                [1.0, 2.0, 3.0],
                [11.0, 10.0, 12.0],
                [4.9, -4.4, 3.9],
                [true; 3],
            )
            .unwrap(),
            // slab and free
            SimBox::orthorhombic([9.0, 9.0, 9.0], [true, true, false]).unwrap(),
            SimBox::from_lammps([0.0; 3], [9.0, 8.0, 10.0], [2.0, 1.0, -1.0], [false; 3]).unwrap(),
        ];
        for (k, cell) in cells.iter().enumerate() {
            let pos = random_positions(cell, 60, k as u64);
            let list =
                NeighborList::from_positions(&pos, cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap();
            assert_eq!(from_list(&list), brute(&pos, cell, 3.8), "cell {k}");
            for i in 0..list.len() {
                assert!(list.distances(i).windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }

    #[test]
    fn nearest_is_prefix_of_cutoff() {
        let cell = SimBox::from_lammps(
            [0.0; 3],
            [7.0, 8.0, 6.0],
            [2.0, 1.0, -1.5],
            [true, false, true],
        )
        .unwrap();
        let pos = random_positions(&cell, 80, 7);
        let big =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 6.0 }).unwrap();
        let near =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Nearest { k: 12 }).unwrap();
        for i in 0..pos.len() {
            assert!(big.count(i) >= 12);
            assert_eq!(near.neighbors(i), &big.neighbors(i)[..12]);
            assert_eq!(near.distances(i), &big.distances(i)[..12]);
        }
    }

    #[test]
    fn fcc_unit_cell_has_twelve_neighbours() {
        // One conventional cell (4 atoms), a = 3.92: far smaller than twice the cutoff.
        let a = 3.92;
        let cell = SimBox::orthorhombic([a; 3], [true; 3]).unwrap();
        let pos = vec![
            [0.0; 3],
            [0.0, a / 2.0, a / 2.0],
            [a / 2.0, 0.0, a / 2.0],
            [a / 2.0, a / 2.0, 0.0],
        ];
        let list =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap();
        for i in 0..4 {
            assert_eq!(list.count(i), 12);
            assert!(list
                .distances(i)
                .iter()
                .all(|d| (d - a / 2f64.sqrt()).abs() < 1e-12));
        }
        let list =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 4.0 }).unwrap();
        assert!((0..4).all(|i| list.count(i) == 18));
    }

    #[test]
    fn same_result_for_any_thread_count() {
        let cell = SimBox::orthorhombic([30.0; 3], [true; 3]).unwrap();
        let pos = random_positions(&cell, 3000, 3);
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let a = one.install(|| {
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap()
        });
        let b = NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_arguments_are_refused() {
        let cell = SimBox::orthorhombic([10.0; 3], [false; 3]).unwrap();
        let pos = vec![[0.0; 3], [1.0; 3]];
        assert!(
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: -1.0 }).is_err()
        );
        assert!(
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: f64::NAN })
                .is_err()
        );
        assert!(NeighborList::from_positions(&pos, &cell, NeighborSpec::Nearest { k: 2 }).is_err());
        let bad = vec![[0.0; 3], [f64::NAN, 0.0, 0.0]];
        assert!(
            NeighborList::from_positions(&bad, &cell, NeighborSpec::Cutoff { r: 1.0 }).is_err()
        );
    }
}

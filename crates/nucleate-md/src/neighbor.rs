//! Verlet neighbour lists for the force loop: half lists (each pair once, Newton's third law)
//! of all pairs within cutoff + skin, found through a cell grid, kept until some atom has moved
//! more than half the skin.
//!
//! Periodic images are pairs `(j, image)`: the neighbour sits at `x_j + h * image` (h the cell
//! matrix), so any box shape, boxes smaller than the cutoff and any mix of periodic and open
//! axes need no ghost atoms. The list for the core crate's analysis (full, sorted by distance)
//! is a different tool; this one is built for speed and rebuilt every few steps.

use glam::DVec3;
use nucleate_core::SimBox;
use rayon::prelude::*;

/// Bins per list radius along each axis. Bins of half the radius (as LAMMPS' default) scan
/// a 5 x 5 x 5 stencil of volume 15.6 r^3 instead of 27 r^3 for cells one radius wide.
const BINS_PER_RADIUS: f64 = 2.0;

/// A cell grid over the atoms in fractional coordinates, cells at least `r / BINS_PER_RADIUS`
/// wide, with the reach that covers a radius `r`.
struct Grid {
    n: [usize; 3],
    /// Offsets to scan per axis.
    reach: [i64; 3],
    /// Fractional lower edge and cells per unit fractional coordinate, per axis.
    lo: [f64; 3],
    scale: [f64; 3],
    periodic: [bool; 3],
}

impl Grid {
    fn new(frac: &[[f64; 3]], cell: &SimBox, r: f64) -> Self {
        let bin = r / BINS_PER_RADIUS;
        let widths = cell.perpendicular_widths();
        let periodic = cell.periodic();
        let mut n = [1usize; 3];
        let mut reach = [1i64; 3];
        let mut lo = [0.0; 3];
        let mut scale = [1.0; 3];
        for d in 0..3 {
            if periodic[d] {
                let nd = ((widths[d] / bin).floor() as usize).clamp(1, 1024);
                n[d] = nd;
                scale[d] = nd as f64;
                reach[d] = (r / (widths[d] / nd as f64)).ceil().max(1.0) as i64;
            } else {
                let (mut a, mut b) = (f64::INFINITY, f64::NEG_INFINITY);
                for s in frac {
                    a = a.min(s[d]);
                    b = b.max(s[d]);
                }
                if !(a.is_finite() && b.is_finite()) {
                    a = 0.0;
                    b = 0.0;
                }
                lo[d] = a;
                // Cells of width `bin` along an open axis: fractional size bin / width.
                scale[d] = widths[d] / bin;
                n[d] = (((b - a) * scale[d]).floor() as usize + 1).min(1024);
                // (Atoms past a capped grid share its last cell, which keeps them found.)
                reach[d] = BINS_PER_RADIUS.ceil() as i64;
            }
        }
        Self {
            n,
            reach,
            lo,
            scale,
            periodic,
        }
    }

    #[inline]
    fn coords(&self, s: &[f64; 3]) -> [usize; 3] {
        let mut c = [0usize; 3];
        for d in 0..3 {
            let v = ((s[d] - self.lo[d]) * self.scale[d]).floor();
            c[d] = if v.is_nan() || v < 0.0 {
                0
            } else {
                (v as usize).min(self.n[d] - 1)
            };
        }
        c
    }

    #[inline]
    fn index(&self, c: [usize; 3]) -> usize {
        (c[2] * self.n[1] + c[1]) * self.n[0] + c[0]
    }

    fn len(&self) -> usize {
        self.n[0] * self.n[1] * self.n[2]
    }
}

/// A half Verlet list in CSR form, each atom's pairs in two parts: "home" pairs, whose
/// neighbour is the atom itself (image 0, most pairs in a large box: 4 bytes each, no shift
/// to add), and "wrapped" pairs, whose neighbour is a periodic image of an atom.
#[derive(Debug, Clone, Default)]
pub struct VerletList {
    cutoff: f64,
    skin: f64,
    /// Atom i's home neighbours are `home[home_offsets[i]..home_offsets[i + 1]]`.
    home_offsets: Vec<usize>,
    home: Vec<u32>,
    /// Atom i's wrapped neighbours, (index, image index into `images`).
    wrap_offsets: Vec<usize>,
    wrap: Vec<(u32, u32)>,
    images: Vec<[i32; 3]>,
    /// Positions at the last build (A).
    reference: Vec<[f64; 3]>,
    /// Box at the last build.
    reference_box: Option<SimBox>,
    builds: u64,
}

/// An order of atoms that puts neighbours in space next to each other in memory (sorted by
/// grid cell, stable), so the force loop reads memory mostly in order.
pub fn spatial_order(positions: &[[f64; 3]], cell: &SimBox, r: f64) -> Vec<usize> {
    let frac: Vec<[f64; 3]> = positions.iter().map(|&p| cell.to_fractional(p)).collect();
    let grid = Grid::new(&frac, cell, r);
    let keys: Vec<usize> = frac.iter().map(|s| grid.index(grid.coords(s))).collect();
    let (_, members) = counting_sort(&keys, grid.len());
    members.into_iter().map(|i| i as usize).collect()
}

/// Atoms sorted by cell key (stable): where each cell starts, and the atoms in cell order.
fn counting_sort(keys: &[usize], cells: usize) -> (Vec<usize>, Vec<u32>) {
    let mut start = vec![0usize; cells + 1];
    for &k in keys {
        start[k + 1] += 1;
    }
    for c in 0..cells {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut members = vec![0u32; keys.len()];
    for (i, &k) in keys.iter().enumerate() {
        members[fill[k]] = i as u32;
        fill[k] += 1;
    }
    (start, members)
}

impl VerletList {
    /// An empty list for a potential cutoff and a skin (A).
    pub fn new(cutoff: f64, skin: f64) -> Self {
        Self {
            cutoff,
            skin,
            ..Default::default()
        }
    }

    /// Potential cutoff (A).
    pub fn cutoff(&self) -> f64 {
        self.cutoff
    }

    /// Skin (A).
    pub fn skin(&self) -> f64 {
        self.skin
    }

    /// Number of builds so far.
    pub fn builds(&self) -> u64 {
        self.builds
    }

    /// Number of atoms the list was built for.
    pub fn len(&self) -> usize {
        self.home_offsets.len().saturating_sub(1)
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of stored pairs.
    pub fn n_pairs(&self) -> usize {
        self.home.len() + self.wrap.len()
    }

    /// Pairs listed for atoms before atom `i` (`i` up to the atom count).
    #[inline]
    pub fn pairs_before(&self, i: usize) -> usize {
        self.home_offsets[i] + self.wrap_offsets[i]
    }

    /// Atom i's neighbours j with image 0 (at x_j itself).
    #[inline]
    pub fn home(&self, i: usize) -> &[u32] {
        &self.home[self.home_offsets[i]..self.home_offsets[i + 1]]
    }

    /// Atom i's neighbours at periodic images: `(j, image index)`, the neighbour at
    /// `x_j + h * images()[image]`.
    #[inline]
    pub fn wrapped(&self, i: usize) -> &[(u32, u32)] {
        &self.wrap[self.wrap_offsets[i]..self.wrap_offsets[i + 1]]
    }

    /// Image shifts (in cell vectors) by index.
    pub fn images(&self) -> &[[i32; 3]] {
        &self.images
    }

    /// Positions at the last build (A).
    pub fn reference(&self) -> &[[f64; 3]] {
        &self.reference
    }

    /// Box at the last build.
    pub fn reference_box(&self) -> Option<SimBox> {
        self.reference_box
    }

    /// Whether a rebuild is due: never built, atom count or periodicity changed, or some atom
    /// moved more than half the skin since the last build.
    pub fn needs_rebuild(&self, positions: &[[f64; 3]], cell: &SimBox) -> bool {
        if self.reference.len() != positions.len()
            || self.reference_box.map(|b| b.periodic()) != Some(cell.periodic())
        {
            return true;
        }
        let limit = 0.25 * self.skin * self.skin;
        let moved = |p: &[[f64; 3]], q: &[[f64; 3]]| {
            p.iter().zip(q).any(|(p, q)| {
                let d = [p[0] - q[0], p[1] - q[1], p[2] - q[2]];
                d[0] * d[0] + d[1] * d[1] + d[2] * d[2] > limit
            })
        };
        if positions.len() < PARALLEL_MIN_ATOMS || rayon::current_num_threads() == 1 {
            return moved(positions, &self.reference);
        }
        let chunk = positions.len().div_ceil(rayon::current_num_threads());
        positions
            .par_chunks(chunk)
            .zip(self.reference.par_chunks(chunk))
            .any(|(p, q)| moved(p, q))
    }

    /// Build the list of all pairs closer than cutoff + skin. Positions should be wrapped
    /// into the box along periodic axes (the list stays correct otherwise, only slower).
    ///
    /// Each pair is found once through a half stencil: from atom i, the cells at offsets
    /// after 0 in (z, y, x) order, and in i's own cell the atoms after i. A pair reached at
    /// offset o from one atom is reached at -o from the other, so exactly one of them lists
    /// it, whatever the order of the atoms.
    pub fn build(&mut self, positions: &[[f64; 3]], cell: &SimBox) {
        let n = positions.len();
        let r = self.cutoff + self.skin;
        let r2 = r * r;
        let frac: Vec<[f64; 3]> = positions.iter().map(|&p| cell.to_fractional(p)).collect();
        let grid = Grid::new(&frac, cell, r);
        let keys: Vec<usize> = frac.iter().map(|s| grid.index(grid.coords(s))).collect();
        let (start, members) = counting_sort(&keys, grid.len());
        let reach = grid.reach;
        let span = [2 * reach[0] + 1, 2 * reach[1] + 1, 2 * reach[2] + 1];
        // Image counts along an axis reach as far as the stencil wraps the grid.
        let wraps: [i64; 3] = std::array::from_fn(|d| {
            if grid.periodic[d] {
                (reach[d] + grid.n[d] as i64 - 1) / grid.n[d] as i64
            } else {
                0
            }
        });
        let wspan = [2 * wraps[0] + 1, 2 * wraps[1] + 1, 2 * wraps[2] + 1];
        let mut images = Vec::with_capacity((wspan[0] * wspan[1] * wspan[2]) as usize);
        for iz in -wraps[2]..=wraps[2] {
            for iy in -wraps[1]..=wraps[1] {
                for ix in -wraps[0]..=wraps[0] {
                    images.push([ix as i32, iy as i32, iz as i32]);
                }
            }
        }
        let image_index = |img: [i64; 3]| -> u32 {
            (((img[2] + wraps[2]) * wspan[1] + img[1] + wraps[1]) * wspan[0] + img[0] + wraps[0])
                as u32
        };
        let shift: Vec<DVec3> = images.iter().map(|&s| cell.shift_vector(s)).collect();
        // Per axis, the cell at each offset from each cell with its image count (`None` off
        // an open axis), looked up instead of divided out for every atom.
        let g = &grid;
        let axes: [Vec<Option<(usize, i64)>>; 3] = std::array::from_fn(|d| {
            (0..g.n[d])
                .flat_map(|c| (-reach[d]..=reach[d]).map(move |o| axis_cell(g, d, c, o)))
                .collect()
        });
        // The half stencil: offsets after (0, 0, 0) in (z, y, x) order, as indices into the
        // per-axis tables.
        let mut stencil = Vec::new();
        for oz in -reach[2]..=reach[2] {
            for oy in -reach[1]..=reach[1] {
                for ox in -reach[0]..=reach[0] {
                    if [oz, oy, ox] > [0, 0, 0] {
                        stencil.push(
                            [ox + reach[0], oy + reach[1], oz + reach[2]].map(|v| v as usize),
                        );
                    }
                }
            }
        }
        let pos: Vec<DVec3> = positions.iter().map(|&p| DVec3::from_array(p)).collect();
        let home_image = image_index([0, 0, 0]);

        // Atoms in fixed chunks; each chunk's lists are appended in order, so the result does
        // not depend on the thread count.
        let chunk = 256;
        let parts: Vec<Part> = (0..n.div_ceil(chunk))
            .into_par_iter()
            .map(|c| {
                let mut part = Part::default();
                let mut buf: Vec<u32> = Vec::new();
                for i in c * chunk..((c + 1) * chunk).min(n) {
                    let (home0, wrap0) = (part.home.len(), part.wrap.len());
                    let ci = grid.coords(&frac[i]);
                    let xi = pos[i];
                    // Own cell: the atoms after i (members are in increasing order).
                    let own = &members[start[keys[i]]..start[keys[i] + 1]];
                    let from = own.partition_point(|&j| (j as usize) <= i);
                    scan(&mut part.home, &own[from..], &pos, xi, r2);
                    for o in &stencil {
                        let (Some((cx, ix)), Some((cy, iy)), Some((cz, iz))) = (
                            axes[0][ci[0] * span[0] as usize + o[0]],
                            axes[1][ci[1] * span[1] as usize + o[1]],
                            axes[2][ci[2] * span[2] as usize + o[2]],
                        ) else {
                            continue;
                        };
                        let k = grid.index([cx, cy, cz]);
                        let in_cell = &members[start[k]..start[k + 1]];
                        let s = image_index([ix, iy, iz]);
                        if s == home_image {
                            scan(&mut part.home, in_cell, &pos, xi, r2);
                        } else {
                            let before = buf.len();
                            scan(&mut buf, in_cell, &pos, xi - shift[s as usize], r2);
                            part.wrap.extend(buf.drain(before..).map(|j| (j, s)));
                        }
                    }
                    part.home_counts.push(part.home.len() - home0);
                    part.wrap_counts.push(part.wrap.len() - wrap0);
                }
                part
            })
            .collect();
        let total = |f: fn(&Part) -> usize| parts.iter().map(f).sum::<usize>();
        self.home_offsets.clear();
        self.home_offsets.reserve(n + 1);
        self.home_offsets.push(0);
        self.wrap_offsets.clear();
        self.wrap_offsets.reserve(n + 1);
        self.wrap_offsets.push(0);
        self.home.clear();
        self.home.reserve(total(|p| p.home.len()));
        self.wrap.clear();
        self.wrap.reserve(total(|p| p.wrap.len()));
        for p in parts {
            for (&h, &w) in p.home_counts.iter().zip(&p.wrap_counts) {
                self.home_offsets
                    .push(self.home_offsets[self.home_offsets.len() - 1] + h);
                self.wrap_offsets
                    .push(self.wrap_offsets[self.wrap_offsets.len() - 1] + w);
            }
            self.home.extend_from_slice(&p.home);
            self.wrap.extend_from_slice(&p.wrap);
        }
        self.images = images;
        self.reference.clear();
        self.reference.extend_from_slice(positions);
        self.reference_box = Some(*cell);
        self.builds += 1;
    }
}

/// Below this many atoms the per-atom loops outside the force passes run on one thread.
pub const PARALLEL_MIN_ATOMS: usize = 1024;

/// One chunk's share of a list build.
#[derive(Default)]
struct Part {
    home_counts: Vec<usize>,
    home: Vec<u32>,
    wrap_counts: Vec<usize>,
    wrap: Vec<(u32, u32)>,
}

/// Append to `out` the atoms of `cands` closer than sqrt(r2) to `xi` (A). Every candidate
/// is written and kept only inside the radius: no branch on a test that goes either way.
#[inline]
fn scan(out: &mut Vec<u32>, cands: &[u32], pos: &[DVec3], xi: DVec3, r2: f64) {
    let base = out.len();
    out.resize(base + cands.len(), 0);
    let slots = &mut out[base..];
    let mut kept = 0;
    for &j in cands {
        let d = xi - pos[j as usize];
        slots[kept] = j;
        kept += usize::from(d.length_squared() < r2);
    }
    out.truncate(base + kept);
}

/// The cell along axis `d` at offset `o` from cell `c`, with its image count; `None` off the
/// grid of an open axis.
#[inline]
fn axis_cell(grid: &Grid, d: usize, c: usize, o: i64) -> Option<(usize, i64)> {
    let n = grid.n[d] as i64;
    let t = c as i64 + o;
    if grid.periodic[d] {
        Some((t.rem_euclid(n) as usize, t.div_euclid(n)))
    } else if (0..n).contains(&t) {
        Some((t as usize, 0))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn brute(pos: &[[f64; 3]], cell: &SimBox, r: f64) -> Vec<(usize, usize, [i32; 3])> {
        // All (i <= j, image) pairs within r, images up to 3 cells away.
        let mut out = Vec::new();
        let per = cell.periodic();
        let range = |d: usize| if per[d] { -3..=3 } else { 0..=0 };
        for i in 0..pos.len() {
            for j in i..pos.len() {
                for a in range(0) {
                    for b in range(1) {
                        for c in range(2) {
                            let img = [a, b, c];
                            if j == i && img <= [0, 0, 0] {
                                continue;
                            }
                            let x = DVec3::from_array(pos[j]) + cell.shift_vector(img);
                            if (DVec3::from_array(pos[i]) - x).length_squared() < r * r {
                                out.push((i, j, img));
                            }
                        }
                    }
                }
            }
        }
        out.sort();
        out
    }

    fn listed(list: &VerletList) -> Vec<(usize, usize, [i32; 3])> {
        let mut out = Vec::new();
        // Each pair as (smaller index, larger, image from the first to the second); a pair of
        // an atom with its own image in the direction the brute-force list takes.
        let mut push = |i: usize, j: usize, img: [i32; 3]| {
            let neg = img.map(|v| -v);
            out.push(if i < j || (i == j && img > neg) {
                (i, j, img)
            } else {
                (j, i, neg)
            });
        };
        for i in 0..list.len() {
            for &j in list.home(i) {
                push(i, j as usize, [0; 3]);
            }
            for &(j, s) in list.wrapped(i) {
                push(i, j as usize, list.images()[s as usize]);
            }
        }
        out.sort();
        out
    }

    #[test]
    fn matches_brute_force_for_boxes_of_every_kind() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let boxes = [
            SimBox::orthorhombic([9.0, 10.0, 11.0], [true; 3]).unwrap(),
            // Smaller than the list radius along x: several images of the same atom.
            SimBox::orthorhombic([4.0, 14.0, 12.0], [true; 3]).unwrap(),
            SimBox::from_lammps([0.0; 3], [12.0, 11.0, 10.0], [3.0, -2.0, 1.5], [true; 3]).unwrap(),
            SimBox::orthorhombic([12.0; 3], [true, false, true]).unwrap(),
            SimBox::orthorhombic([30.0; 3], [false; 3]).unwrap(),
        ];
        for cell in boxes {
            let pos: Vec<[f64; 3]> = (0..60)
                .map(|_| {
                    let s = [rng.gen::<f64>(), rng.gen::<f64>(), rng.gen::<f64>()];
                    cell.to_cartesian(s)
                })
                .collect();
            let mut list = VerletList::new(4.0, 1.0);
            list.build(&pos, &cell);
            assert_eq!(listed(&list), brute(&pos, &cell, 5.0), "{cell:?}");
        }
    }
}

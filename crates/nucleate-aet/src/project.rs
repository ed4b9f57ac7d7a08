//! The forward model: Gaussian atoms -> projections (used by `simulate`, `refine` and the
//! tests), and the linear projector of a voxel volume with its exact transpose (used by SIRT
//! and SART, alignment, and to compute R1 of any reconstruction). Both follow
//! [`TiltGeometry`].
//!
//! The projector is voxel-driven with linear interpolation on the detector. Since the tilt
//! axis is y, a voxel's detector column u does not depend on its row, so the work is laid out
//! in [`Slabs`] of 16 rows with the row fastest: one voxel column of a slab lands on two
//! detector columns with one pair of weights, i.e. two vector multiply-adds. The kernels are
//! compiled for AVX-512 and AVX2 besides the baseline and picked at run time (no fused
//! multiply-add, so every version gives the same bits).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};
use rayon::prelude::*;

use crate::geometry::TiltGeometry;
use crate::series::Volume;

/// Width (standard deviation, A) of an atom with Debye-Waller B factor `b_a2` (A^2):
/// sigma^2 = B / (8 pi^2).
pub fn sigma_from_b(b_a2: f64) -> f64 {
    (b_a2.max(0.0) / (8.0 * std::f64::consts::PI * std::f64::consts::PI)).sqrt()
}

/// B factor (A^2) of a Gaussian of standard deviation `sigma_a` (A).
pub fn b_from_sigma(sigma_a: f64) -> f64 {
    8.0 * std::f64::consts::PI * std::f64::consts::PI * sigma_a * sigma_a
}

/// One atom of the forward model: a 3D Gaussian integrating to `counts` in every projection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianAtom {
    /// Centre (A, volume frame).
    pub pos_a: [f64; 3],
    /// Integrated intensity per projection (counts).
    pub counts: f64,
    /// Standard deviation (A).
    pub sigma_a: f64,
}

/// How far (in standard deviations) an atom's image is evaluated; beyond it the Gaussian is
/// below 3e-7 of its peak.
const REACH_SIGMA: f64 = 5.0;

const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

#[inline]
fn phi(t: f64) -> f64 {
    INV_SQRT_2PI * (-0.5 * t * t).exp()
}

#[inline]
fn cdf(t: f64) -> f64 {
    0.5 * (1.0 + libm::erf(t * std::f64::consts::FRAC_1_SQRT_2))
}

/// The 1D pixel-integrated profile of a unit Gaussian along one image axis, with its
/// derivatives by the centre and by the width (both in pixels).
#[derive(Debug, Clone, Default)]
pub struct Profile1D {
    /// First pixel index covered.
    pub start: usize,
    /// Fraction of the Gaussian in each pixel from `start`.
    pub value: Vec<f64>,
    /// d value / d centre (1/pixel).
    pub d_centre: Vec<f64>,
    /// d value / d sigma (1/pixel).
    pub d_sigma: Vec<f64>,
}

impl Profile1D {
    /// Pixel-integrated unit Gaussian centred at `centre_px` with width `sigma_px`, clipped to
    /// `0..n`. Pixel i spans [i - 1/2, i + 1/2].
    pub fn new(centre_px: f64, sigma_px: f64, n: usize, with_derivatives: bool) -> Self {
        let reach = REACH_SIGMA * sigma_px + 1.0;
        let lo = (centre_px - reach).floor().max(0.0);
        let hi = (centre_px + reach).ceil().min(n as f64 - 1.0);
        if hi < lo || hi.is_nan() || lo.is_nan() || !centre_px.is_finite() {
            return Self::default();
        }
        let (lo, hi) = (lo as usize, hi as usize);
        let len = hi - lo + 1;
        let mut p = Self {
            start: lo,
            value: Vec::with_capacity(len),
            d_centre: Vec::new(),
            d_sigma: Vec::new(),
        };
        let s = sigma_px.max(1e-6);
        let mut ta = (lo as f64 - 0.5 - centre_px) / s;
        let mut ca = cdf(ta);
        let mut pa = phi(ta);
        for i in lo..=hi {
            let tb = (i as f64 + 0.5 - centre_px) / s;
            let cb = cdf(tb);
            let pb = phi(tb);
            p.value.push(cb - ca);
            if with_derivatives {
                p.d_centre.push(-(pb - pa) / s);
                p.d_sigma.push(-(tb * pb - ta * pa) / s);
            }
            ta = tb;
            ca = cb;
            pa = pb;
        }
        p
    }
}

/// Noise-free projections of Gaussian atoms: [projection][row][column], counts per pixel.
pub fn project_atoms(atoms: &[GaussianAtom], geom: &TiltGeometry) -> Vec<f64> {
    let n = geom.n;
    let m = n * n;
    let mut out = vec![0.0; geom.n_angles() * m];
    out.par_chunks_mut(m).enumerate().for_each(|(k, img)| {
        for a in atoms {
            add_atom(img, geom, k, a, 1.0);
        }
    });
    out
}

/// Add `weight` x the image of atom `a` in projection `k` to `img` (one n x n image).
pub fn add_atom(img: &mut [f64], geom: &TiltGeometry, k: usize, a: &GaussianAtom, weight: f64) {
    let n = geom.n;
    let (u, v) = geom.project_point(k, a.pos_a);
    let s = a.sigma_a / geom.pixel_a;
    let pu = Profile1D::new(u, s, n, false);
    let pv = Profile1D::new(v, s, n, false);
    let c = a.counts * weight;
    for (j, fv) in pv.value.iter().enumerate() {
        let row = &mut img[(pv.start + j) * n + pu.start..];
        for (i, fu) in pu.value.iter().enumerate() {
            row[i] += c * fv * fu;
        }
    }
}

/// Detector noise of a simulated series.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Noise {
    /// Poisson (shot) noise on the counts.
    pub poisson: bool,
    /// Standard deviation of additive Gaussian read noise (counts).
    pub read_noise: f64,
    /// Seed of the random stream (each projection uses its own stream from it).
    pub seed: u64,
}

/// Apply Poisson counting noise and Gaussian read noise to projections, deterministically
/// for a seed whatever the thread count.
pub fn add_noise(images: &mut [f64], n: usize, noise: &Noise) {
    let m = n * n;
    images.par_chunks_mut(m).enumerate().for_each(|(k, img)| {
        let mut rng = ChaCha8Rng::seed_from_u64(noise.seed);
        rng.set_stream(k as u64 + 1);
        let read = Normal::new(0.0, noise.read_noise.max(0.0)).ok();
        for p in img.iter_mut() {
            if noise.poisson && *p > 0.0 {
                if let Ok(d) = Poisson::new(*p) {
                    *p = d.sample(&mut rng);
                }
            }
            if let Some(d) = read {
                if noise.read_noise > 0.0 {
                    *p += d.sample(&mut rng);
                }
            }
        }
    });
}

/// The linear (voxel-driven, linear-interpolation) projector of a volume:
/// [projection][row][column]. At 0 degrees it is exactly the sum over z.
pub fn project_volume(vol: &Volume, geom: &TiltGeometry) -> Vec<f32> {
    let all: Vec<usize> = (0..geom.n_angles()).collect();
    project_volume_at(vol, geom, &all)
}

/// [`project_volume`] for the projections `angles` only (indices into the geometry's
/// angles), in that order: [k in angles][row][column].
pub fn project_volume_at(vol: &Volume, geom: &TiltGeometry, angles: &[usize]) -> Vec<f32> {
    let n = vol.n;
    let slabs = Slabs::new(n);
    let vol_s = slabs.gather(&vol.data, n);
    let lines = Lines::new(geom);
    let na = angles.len();
    let parts: Vec<Vec<Row>> = (0..slabs.count() * na)
        .into_par_iter()
        .map(|t| {
            let (s, k) = (t / na, t % na);
            let mut img = vec![[0.0f32; SLAB]; n];
            project_slab(slabs.pages(&vol_s, s, n), &lines, angles[k], &mut img);
            img
        })
        .collect();
    let mut images = vec![0.0f32; na * n * n];
    for (t, img) in parts.iter().enumerate() {
        let (s, k) = (t / na, t % na);
        slabs.scatter_page(img, s, &mut images[k * n * n..(k + 1) * n * n]);
    }
    images
}

/// The exact transpose of [`project_volume`]: back-projection of images into a volume.
pub fn backproject(images: &[f32], geom: &TiltGeometry) -> Volume {
    let all: Vec<usize> = (0..geom.n_angles()).collect();
    backproject_at(images, geom, &all)
}

/// [`backproject`] of images taken at `angles` only ([k in angles][row][column]), the
/// transpose of [`project_volume_at`].
pub fn backproject_at(images: &[f32], geom: &TiltGeometry, angles: &[usize]) -> Volume {
    let n = geom.n;
    let slabs = Slabs::new(n);
    let images_s = slabs.gather(images, angles.len());
    let lines = Lines::new(geom);
    let parts: Vec<Vec<Row>> = (0..slabs.count() * n)
        .into_par_iter()
        .map(|t| {
            let (s, z) = (t / n, t % n);
            let mut plane = vec![[0.0f32; SLAB]; n];
            let imgs = slabs.pages(&images_s, s, angles.len());
            backproject_slab_plane(imgs, &lines, angles, z, &mut plane);
            plane
        })
        .collect();
    let mut vol = Volume::zeros(n);
    for (t, plane) in parts.iter().enumerate() {
        let (s, z) = (t / n, t % n);
        slabs.scatter_page(plane, s, &mut vol.data[z * n * n..(z + 1) * n * n]);
    }
    vol
}

/// Rows of the tilt axis per slab: one AVX-512 vector of f32.
pub const SLAB: usize = 16;

/// One detector or volume column of a slab: [`SLAB`] consecutive rows along the tilt axis.
pub type Row = [f32; SLAB];

/// The projector's memory layout. The tilt axis (y) is cut into slabs of [`SLAB`] rows
/// (the last one padded with zero rows); a slab of a volume is stored [z][x] and a slab of
/// images [k][column], each entry a [`Row`]. A voxel column along the axis lands on the same
/// detector bins in every row, so the innermost operations add whole rows (one vector) with
/// one pair of weights; and as the rows never mix, every slab is a reconstruction problem
/// of its own whose volume and images stay in the core's cache for a whole iteration.
#[derive(Debug, Clone, Copy)]
pub struct Slabs {
    n: usize,
}

impl Slabs {
    /// The slabs of an n^3 volume.
    pub fn new(n: usize) -> Self {
        Self { n }
    }

    /// Number of slabs.
    pub fn count(&self) -> usize {
        self.n.div_ceil(SLAB)
    }

    /// Rows of slab `s` that hold data (the rest of the last slab is padding).
    pub fn width(&self, s: usize) -> usize {
        SLAB.min(self.n - s * SLAB)
    }

    /// Slab `s` of data of `pages` n x n pages in slab layout ([page][x] rows).
    pub fn pages<'a>(&self, data: &'a [Row], s: usize, pages: usize) -> &'a [Row] {
        let len = self.n * pages;
        &data[s * len..(s + 1) * len]
    }

    /// `pages` pages [page][y][x] in slab layout [slab][page][x] of rows.
    pub fn gather(&self, data: &[f32], pages: usize) -> Vec<Row> {
        let n = self.n;
        let len = n * pages;
        let mut out = vec![[0.0f32; SLAB]; self.count() * len];
        out.par_chunks_mut(len).enumerate().for_each(|(s, dst)| {
            let y0 = s * SLAB;
            for p in 0..pages {
                for yy in 0..self.width(s) {
                    let row = &data[(p * n + y0 + yy) * n..(p * n + y0 + yy + 1) * n];
                    for (x, v) in row.iter().enumerate() {
                        dst[p * n + x][yy] = *v;
                    }
                }
            }
        });
        out
    }

    /// The inverse of [`Slabs::gather`]: pages [page][y][x].
    pub fn scatter(&self, data: &[Row], pages: usize) -> Vec<f32> {
        let n = self.n;
        let mut out = vec![0.0f32; n * n * pages];
        out.par_chunks_mut(n * n).enumerate().for_each(|(p, page)| {
            for s in 0..self.count() {
                self.scatter_page(&self.pages(data, s, pages)[p * n..(p + 1) * n], s, page);
            }
        });
        out
    }

    /// Write one page of slab `s` (n rows, [x]) into an n x n page [y][x].
    fn scatter_page(&self, src: &[Row], s: usize, page: &mut [f32]) {
        let n = self.n;
        for yy in 0..self.width(s) {
            let row = &mut page[(s * SLAB + yy) * n..(s * SLAB + yy + 1) * n];
            for (x, v) in row.iter_mut().enumerate() {
                *v = src[x][yy];
            }
        }
    }
}

/// Line z of projection a: the detector coordinate u = base + x cs of column x, and the
/// columns lo..hi whose two bins both lie on the detector (0 <= u < n - 1).
#[derive(Debug, Clone, Copy)]
pub struct Line {
    base: f64,
    cs: f64,
    lo: usize,
    hi: usize,
}

/// The [`Line`]s of every projection and depth of a geometry, computed once.
#[derive(Debug, Clone)]
pub struct Lines {
    n: usize,
    lines: Vec<Line>,
}

impl Lines {
    /// The lines of every angle of `geom`.
    pub fn new(geom: &TiltGeometry) -> Self {
        let n = geom.n;
        let c = geom.centre_px;
        let mut lines = Vec::with_capacity(geom.n_angles() * n);
        for a in 0..geom.n_angles() {
            let (cs, sn) = geom.cos_sin(a);
            for z in 0..n {
                let base = c + (z as f64 - c) * sn - c * cs;
                let (lo, hi) = interior(base, cs, n);
                lines.push(Line { base, cs, lo, hi });
            }
        }
        Self { n, lines }
    }

    #[inline]
    fn get(&self, a: usize, z: usize) -> Line {
        self.lines[a * self.n + z]
    }
}

/// The columns `lo..hi` of a volume line whose detector coordinate u = base + x cs has both
/// interpolation bins on the detector (0 <= u < n - 1), so the inner loops need no bounds
/// tests; the few columns outside go through [`edge`]. cs > 0 for tilts inside (-90, 90)
/// degrees, so u grows with x.
#[inline]
fn interior(base: f64, cs: f64, n: usize) -> (usize, usize) {
    if cs <= 0.0 || n < 2 {
        return (0, 0);
    }
    let ok = |x: usize| {
        let u = base + x as f64 * cs;
        u >= 0.0 && u < (n - 1) as f64
    };
    // First guesses from the line, then nudged until exact in floating point.
    let mut lo = ((-base / cs).ceil().max(0.0) as usize).min(n);
    while lo > 0 && ok(lo - 1) {
        lo -= 1;
    }
    while lo < n && !ok(lo) {
        lo += 1;
    }
    let mut hi = ((((n - 1) as f64 - base) / cs).ceil().max(0.0) as usize).clamp(lo, n);
    while hi > lo && !ok(hi - 1) {
        hi -= 1;
    }
    while hi < n && ok(hi) {
        hi += 1;
    }
    (lo, hi)
}

/// Column x outside the interior: its bins with their weights where they lie on the
/// detector.
#[inline]
fn edge(u: f64, n: usize) -> [Option<(usize, f32)>; 2] {
    let f = u.floor();
    let i = f as isize;
    let w = (u - f) as f32;
    let on = |j: isize| j >= 0 && j < n as isize;
    [
        on(i).then_some((i as usize, 1.0 - w)),
        on(i + 1).then_some(((i + 1) as usize, w)),
    ]
}

/// Projection `a` of one slab `vol_s` ([z][x]) added into `img` ([column]).
// Compiled for AVX2 and AVX-512 as well as the baseline: Rust never fuses a * x + y, so every
// version gives the same bits.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn project_slab(vol_s: &[Row], lines: &Lines, a: usize, img: &mut [Row]) {
    let n = lines.n;
    for z in 0..n {
        let plane = &vol_s[z * n..(z + 1) * n];
        let Line { base, cs, lo, hi } = lines.get(a, z);
        for x in (0..lo).chain(hi..n) {
            for (i, w) in edge(base + x as f64 * cs, n).into_iter().flatten() {
                axpy(&mut img[i], &plane[x], w);
            }
        }
        if lo >= hi {
            continue;
        }
        // u grows with x, so bins are visited in order: the two bins under the current
        // column are accumulated in registers and written when the column moves on.
        let mut cur = (base + lo as f64 * cs) as usize;
        let (mut a0, mut a1) = ([0.0f32; SLAB], [0.0f32; SLAB]);
        for (x, src) in plane.iter().enumerate().take(hi).skip(lo) {
            // u >= 0 on interior columns, so truncation is the floor.
            let u = base + x as f64 * cs;
            let i = u as usize;
            let w = (u - i as f64) as f32;
            if i != cur {
                add_into(&mut img[cur], &a0);
                if i == cur + 1 {
                    a0 = a1;
                } else {
                    add_into(&mut img[cur + 1], &a1);
                    a0 = [0.0; SLAB];
                }
                a1 = [0.0; SLAB];
                cur = i;
            }
            let s = *src;
            for j in 0..SLAB {
                a0[j] += (1.0 - w) * s[j];
                a1[j] += w * s[j];
            }
        }
        add_into(&mut img[cur], &a0);
        add_into(&mut img[cur + 1], &a1);
    }
}

/// Plane z of the back-projection of one slab of images `images_s` ([k in angles][column])
/// into `acc` ([x], overwritten).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn backproject_slab_plane(
    images_s: &[Row],
    lines: &Lines,
    angles: &[usize],
    z: usize,
    acc: &mut [Row],
) {
    let n = lines.n;
    acc.iter_mut().for_each(|v| *v = [0.0; SLAB]);
    for (k, &a) in angles.iter().enumerate() {
        let img = &images_s[k * n..(k + 1) * n];
        let Line { base, cs, lo, hi } = lines.get(a, z);
        for x in (0..lo).chain(hi..n) {
            for (i, w) in edge(base + x as f64 * cs, n).into_iter().flatten() {
                axpy(&mut acc[x], &img[i], w);
            }
        }
        for (x, dst) in acc.iter_mut().enumerate().take(hi).skip(lo) {
            let u = base + x as f64 * cs;
            let i = u as usize;
            let w = (u - i as f64) as f32;
            add2(dst, &img[i], &img[i + 1], 1.0 - w, w);
        }
    }
}

/// Weighted residuals of one slab of one projection: c <- r (b - c), returning sum |b - c|
/// and sum |b| (rows summed in f32, rows added in f64).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn weighted_residuals(calc: &mut [Row], b: &[Row], r: &[Row]) -> (f64, f64) {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for ((c, b), r) in calc.iter_mut().zip(b).zip(r) {
        let (mut t, b, r) = (*c, *b, *r);
        let (mut sn, mut sd) = (0.0f32, 0.0f32);
        for j in 0..SLAB {
            let d = b[j] - t[j];
            sn += d.abs();
            sd += b[j].abs();
            t[j] = d * r[j];
        }
        *c = t;
        num += sn as f64;
        den += sd as f64;
    }
    (num, den)
}

/// x <- max(0, x + lam c u) for rows of an estimate, its update and per-voxel weights c
/// (`None`: 1).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl", "x86_64+avx2"))]
pub fn positive_update(x: &mut [Row], u: &[Row], c: Option<&[Row]>, lam: f32) {
    // Flat slices and a plain comparison (NaN becomes 0) give one vector max per vector.
    let pos = |v: f32| if v > 0.0 { v } else { 0.0 };
    let (x, u) = (x.as_flattened_mut(), u.as_flattened());
    match c {
        Some(c) => {
            for ((x, u), c) in x.iter_mut().zip(u).zip(c.as_flattened()) {
                *x = pos(*x + lam * c * u);
            }
        }
        None => {
            for (x, u) in x.iter_mut().zip(u) {
                *x = pos(*x + lam * u);
            }
        }
    }
}

/// y += x.
#[inline(always)]
fn add_into(y: &mut Row, x: &Row) {
    let (mut t, s) = (*y, *x);
    for j in 0..SLAB {
        t[j] += s[j];
    }
    *y = t;
}

// The row helpers work on local copies: with the operands in registers the compiler emits
// one vector operation per row instead of proving that the rows do not overlap.

/// y += a x.
#[inline(always)]
fn axpy(y: &mut Row, x: &Row, a: f32) {
    let (mut t, s) = (*y, *x);
    for j in 0..SLAB {
        t[j] += a * s[j];
    }
    *y = t;
}

/// y += a p + b q.
#[inline(always)]
fn add2(y: &mut Row, p: &Row, q: &Row, a: f32, b: f32) {
    let (mut t, p, q) = (*y, *p, *q);
    for j in 0..SLAB {
        t[j] += a * p[j] + b * q[j];
    }
    *y = t;
}

/// R1 = sum |measured - calculated| / sum |measured|.
pub fn r1(measured: &[f32], calculated: &[f32]) -> f64 {
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (m, c) in measured.iter().zip(calculated) {
        num += (m - c).abs() as f64;
        den += m.abs() as f64;
    }
    if den > 0.0 {
        num / den
    } else {
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn splat(line: &mut [f32], u: f64, val: f32) {
        let f = u.floor();
        let i = f as isize;
        let w = (u - f) as f32;
        let n = line.len() as isize;
        if i >= 0 && i < n {
            line[i as usize] += (1.0 - w) * val;
        }
        if i + 1 >= 0 && i + 1 < n {
            line[(i + 1) as usize] += w * val;
        }
    }

    /// The projector with every voxel through a bounds-checked splat: the definition the
    /// fast loops must reproduce.
    fn project_checked(vol: &Volume, geom: &TiltGeometry) -> Vec<f32> {
        let n = vol.n;
        let c = geom.centre_px;
        let mut images = vec![0.0f32; geom.n_angles() * n * n];
        for k in 0..geom.n_angles() {
            let (cs, sn) = geom.cos_sin(k);
            for y in 0..n {
                let line = &mut images[(k * n + y) * n..(k * n + y + 1) * n];
                for z in 0..n {
                    let base = c + (z as f64 - c) * sn - c * cs;
                    for x in 0..n {
                        splat(line, base + x as f64 * cs, vol.data[(z * n + y) * n + x]);
                    }
                }
            }
        }
        images
    }

    #[test]
    fn fast_projector_equals_the_checked_one_and_backprojection_is_its_transpose() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        // Angles up to 89 degrees put most columns off the detector at the edges.
        let g =
            TiltGeometry::new(vec![-89.0, -61.3, -7.0, 0.0, 12.5, 45.0, 77.7], 21, 0.4).unwrap();
        let n = g.n;
        let vol = Volume {
            n,
            data: (0..n * n * n).map(|_| rng.gen::<f32>()).collect(),
        };
        let fast = project_volume(&vol, &g);
        let slow = project_checked(&vol, &g);
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{a} vs {b}");
        }
        // <P v, w> = <v, P^T w> (f32 sums: 1e-5 relative).
        let w: Vec<f32> = (0..fast.len()).map(|_| rng.gen::<f32>()).collect();
        let bp = backproject(&w, &g);
        let lhs: f64 = fast
            .iter()
            .zip(&w)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let rhs: f64 = vol
            .data
            .iter()
            .zip(&bp.data)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert!((lhs - rhs).abs() <= 1e-5 * lhs.abs(), "{lhs} vs {rhs}");
    }

    #[test]
    fn projector_and_sart_give_the_same_bits_for_any_thread_count() {
        use crate::reconstruct::{Method, Sart};
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        // 37 rows: two full slabs and a padded one.
        let g = TiltGeometry::new(vec![-60.0, -21.0, -5.0, 33.0, 70.0], 37, 0.4).unwrap();
        let n = g.n;
        let vol = Volume {
            n,
            data: (0..n * n * n).map(|_| rng.gen::<f32>()).collect(),
        };
        let imgs = project_volume(&vol, &g);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut sart = Sart::new(&imgs, &g, 1.0, 0, None);
                sart.step();
                sart.step();
                (
                    project_volume(&vol, &g),
                    backproject(&imgs, &g).data,
                    sart.volume().data,
                )
            })
        };
        assert!(run(1) == run(3));
    }

    #[test]
    fn an_atom_integrates_to_its_counts_and_lands_where_the_geometry_says() {
        let g = TiltGeometry::new(vec![-40.0, 0.0, 25.0], 48, 0.4).unwrap();
        let a = GaussianAtom {
            pos_a: [7.3, 9.1, 12.6],
            counts: 100.0,
            sigma_a: 0.6,
        };
        let imgs = project_atoms(&[a], &g);
        for k in 0..3 {
            let img = &imgs[k * 48 * 48..(k + 1) * 48 * 48];
            let total: f64 = img.iter().sum();
            assert!((total - 100.0).abs() < 1e-6, "{total}");
            let (mut cu, mut cv) = (0.0, 0.0);
            for (i, p) in img.iter().enumerate() {
                cu += (i % 48) as f64 * p;
                cv += (i / 48) as f64 * p;
            }
            let (u, v) = g.project_point(k, a.pos_a);
            // Pixel integration keeps the centroid exact.
            assert!((cu / total - u).abs() < 1e-6 && (cv / total - v).abs() < 1e-6);
        }
    }

    #[test]
    fn profile_derivatives_match_finite_differences() {
        let (c, s, h) = (10.3, 1.7, 1e-6);
        let p = Profile1D::new(c, s, 30, true);
        let pc = Profile1D::new(c + h, s, 30, false);
        let ps = Profile1D::new(c, s + h, 30, false);
        for i in 0..p.value.len() {
            let off = p.start - pc.start;
            assert!(((pc.value[i + off] - p.value[i]) / h - p.d_centre[i]).abs() < 1e-5);
            let off = p.start - ps.start;
            assert!(((ps.value[i + off] - p.value[i]) / h - p.d_sigma[i]).abs() < 1e-5);
        }
    }

    #[test]
    fn backprojection_is_the_transpose_of_projection() {
        let n = 12;
        let g = TiltGeometry::new(vec![-63.0, -10.0, 0.0, 37.0], n, 1.0).unwrap();
        let mut v = Volume::zeros(n);
        let mut imgs = vec![0.0f32; 4 * n * n];
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = ((i * 7919) % 101) as f32 / 101.0;
        }
        for (i, x) in imgs.iter_mut().enumerate() {
            *x = ((i * 104_729) % 97) as f32 / 97.0;
        }
        let av = project_volume(&v, &g);
        let atb = backproject(&imgs, &g);
        let lhs: f64 = av
            .iter()
            .zip(&imgs)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let rhs: f64 = v
            .data
            .iter()
            .zip(&atb.data)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert!((lhs - rhs).abs() < 1e-4 * lhs.abs(), "{lhs} {rhs}");
    }

    #[test]
    fn zero_degree_projection_is_the_sum_over_z() {
        let n = 10;
        let g = TiltGeometry::new(vec![0.0], n, 1.0).unwrap();
        let mut v = Volume::zeros(n);
        for (i, x) in v.data.iter_mut().enumerate() {
            *x = (i % 13) as f32;
        }
        let p = project_volume(&v, &g);
        for y in 0..n {
            for x in 0..n {
                let s: f32 = (0..n).map(|z| v.at(x, y, z)).sum();
                assert!((p[y * n + x] - s).abs() < 1e-3);
            }
        }
    }
}

/// Parameters of a simulated tilt series.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SimulateParams {
    /// Image edge (pixels).
    pub size: usize,
    /// Pixel size (A).
    pub pixel_a: f64,
    /// Integrated counts per atom per projection, by species.
    pub counts: Vec<(String, f64)>,
    /// B factor (A^2) by species.
    pub b_factors: Vec<(String, f64)>,
    /// Detector noise.
    pub noise: Noise,
}

/// The Gaussian atoms of a model under per-species counts and B factors. Fails on a species
/// missing from either table.
pub fn gaussian_atoms(
    frame: &nucleate_core::Frame,
    counts: &[(String, f64)],
    b_factors: &[(String, f64)],
) -> crate::Result<Vec<GaussianAtom>> {
    let find = |table: &[(String, f64)], what: &str, s: &str| {
        table
            .iter()
            .find(|(k, _)| k == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                crate::AetError::Invalid(format!(
                    "species `{s}` of the model has no {what} (given for: {})",
                    table
                        .iter()
                        .map(|(k, _)| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    };
    (0..frame.len())
        .map(|i| {
            let s = frame.species_of(i);
            Ok(GaussianAtom {
                pos_a: frame.positions[i],
                counts: find(counts, "counts", s)?,
                sigma_a: sigma_from_b(find(b_factors, "B factor", s)?),
            })
        })
        .collect()
}

/// Simulate a tilt series of `frame` at `angles_deg`: images [projection][row][column] and
/// the geometry (axis at pixel n/2).
pub fn simulate_series(
    frame: &nucleate_core::Frame,
    angles_deg: Vec<f64>,
    params: &SimulateParams,
) -> crate::Result<(Vec<f32>, TiltGeometry)> {
    if frame.is_empty() {
        return Err(crate::AetError::Invalid("the model has no atoms".into()));
    }
    let geom = TiltGeometry::new(angles_deg, params.size, params.pixel_a)?;
    let atoms = gaussian_atoms(frame, &params.counts, &params.b_factors)?;
    let mut imgs = project_atoms(&atoms, &geom);
    add_noise(&mut imgs, geom.n, &params.noise);
    Ok((imgs.into_iter().map(|v| v as f32).collect(), geom))
}

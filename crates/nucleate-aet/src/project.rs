//! The forward model: Gaussian atoms -> projections (used by `simulate`, `refine` and the
//! tests), and the linear projector of a voxel volume with its exact transpose (used by SIRT
//! and to compute R1 of any reconstruction). Both follow [`TiltGeometry`].

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
    let na = angles.len();
    let fp = Footprints::new(geom, angles);
    // Each row y of every projection depends only on the slice y of the volume.
    let rows: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|y| {
            let mut out = vec![0.0f32; na * n];
            for k in 0..na {
                let line = &mut out[k * n..(k + 1) * n];
                for z in 0..n {
                    let src = &vol.data[(z * n + y) * n..(z * n + y + 1) * n];
                    let (lo, hi, bins, weights) = fp.row(k, z);
                    let [left, right] = fp.edges(k, z);
                    for x in left {
                        splat(line, fp.u(k, z, x), src[x]);
                    }
                    if lo < hi {
                        // u grows with x, so bins are visited in order: the two bins under
                        // the current column are accumulated in registers and written when
                        // the column moves on (a store and reload of the same bin every
                        // column would chain each iteration to the previous one).
                        let mut cur = bins[lo] as usize;
                        let (mut a0, mut a1) = (0.0f32, 0.0f32);
                        for x in lo..hi {
                            let (i, w, val) = (bins[x] as usize, weights[x], src[x]);
                            if i != cur {
                                line[cur] += a0;
                                if i == cur + 1 {
                                    a0 = a1;
                                } else {
                                    line[cur + 1] += a1;
                                    a0 = 0.0;
                                }
                                a1 = 0.0;
                                cur = i;
                            }
                            a0 += (1.0 - w) * val;
                            a1 += w * val;
                        }
                        line[cur] += a0;
                        line[cur + 1] += a1;
                    }
                    for x in right {
                        splat(line, fp.u(k, z, x), src[x]);
                    }
                }
            }
            out
        })
        .collect();
    let mut images = vec![0.0f32; na * n * n];
    for (y, row) in rows.iter().enumerate() {
        for k in 0..na {
            images[(k * n + y) * n..(k * n + y + 1) * n].copy_from_slice(&row[k * n..(k + 1) * n]);
        }
    }
    images
}

/// Where the voxels of a volume row land on the detector, for every (projection, z): the
/// detector coordinate u = base + x cs does not depend on the row y, so bins and weights are
/// computed once per call and shared by all rows instead of once per voxel.
struct Footprints {
    n: usize,
    /// Per (k, z): base, cs, the interior columns lo..hi and the columns olo..ohi that touch
    /// the detector at all (outside them a voxel's weight is zero in this projection).
    lines: Vec<(f64, f64, usize, usize, usize, usize)>,
    /// Per (k, z, x): the left bin floor(u) and the weight u - floor(u) of the right one
    /// (interior columns only).
    bins: Vec<u32>,
    weights: Vec<f32>,
}

impl Footprints {
    fn new(geom: &TiltGeometry, angles: &[usize]) -> Self {
        let n = geom.n;
        let c = geom.centre_px;
        let mut lines = Vec::with_capacity(angles.len() * n);
        let mut bins = vec![0u32; angles.len() * n * n];
        let mut weights = vec![0.0f32; angles.len() * n * n];
        for (k, &a) in angles.iter().enumerate() {
            let (cs, sn) = geom.cos_sin(a);
            for z in 0..n {
                let base = c + (z as f64 - c) * sn - c * cs;
                let (lo, hi) = interior(base, cs, n);
                let at = (k * n + z) * n;
                for x in lo..hi {
                    let u = base + x as f64 * cs;
                    // u >= 0 on interior columns, so truncation is the floor.
                    let i = u as usize;
                    bins[at + x] = i as u32;
                    weights[at + x] = (u - i as f64) as f32;
                }
                // Columns with -1 < u < n reach a bin; the others contribute nothing.
                let touches = |x: usize| {
                    let u = base + x as f64 * cs;
                    u > -1.0 && u < n as f64
                };
                let olo = (0..lo).find(|&x| touches(x)).unwrap_or(lo);
                let ohi = (hi..n).rev().find(|&x| touches(x)).map_or(hi, |x| x + 1);
                lines.push((base, cs, lo, hi, olo, ohi));
            }
        }
        Self {
            n,
            lines,
            bins,
            weights,
        }
    }

    /// Interior columns lo..hi of (k, z) with the bins and weights of the whole row.
    #[inline]
    fn row(&self, k: usize, z: usize) -> (usize, usize, &[u32], &[f32]) {
        let (_, _, lo, hi, _, _) = self.lines[k * self.n + z];
        let at = (k * self.n + z) * self.n;
        (
            lo,
            hi,
            &self.bins[at..at + self.n],
            &self.weights[at..at + self.n],
        )
    }

    /// The edge columns of (k, z) that touch the detector: olo..lo and hi..ohi.
    #[inline]
    fn edges(&self, k: usize, z: usize) -> [std::ops::Range<usize>; 2] {
        let (_, _, lo, hi, olo, ohi) = self.lines[k * self.n + z];
        [olo..lo, hi..ohi]
    }

    /// Detector coordinate of column x (for the checked edge columns).
    #[inline]
    fn u(&self, k: usize, z: usize, x: usize) -> f64 {
        let (base, cs, ..) = self.lines[k * self.n + z];
        base + x as f64 * cs
    }
}

/// The columns `lo..hi` of a volume row whose detector coordinate u = base + x cs has both
/// interpolation bins on the detector (0 <= u < n - 1), so the inner loops need no bounds
/// tests; the few columns outside go through the checked [`splat`]/[`gather`]. cs > 0 for
/// tilts inside (-90, 90) degrees, so u grows with x.
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

#[inline]
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

#[inline]
fn gather(line: &[f32], u: f64) -> f32 {
    let f = u.floor();
    let i = f as isize;
    let w = (u - f) as f32;
    let n = line.len() as isize;
    let mut s = 0.0;
    if i >= 0 && i < n {
        s += (1.0 - w) * line[i as usize];
    }
    if i + 1 >= 0 && i + 1 < n {
        s += w * line[(i + 1) as usize];
    }
    s
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
    let fp = Footprints::new(geom, angles);
    let slices: Vec<Vec<f32>> = (0..n)
        .into_par_iter()
        .map(|y| {
            let mut slice = vec![0.0f32; n * n];
            for k in 0..angles.len() {
                let line = &images[(k * n + y) * n..(k * n + y + 1) * n];
                for z in 0..n {
                    let dst = &mut slice[z * n..(z + 1) * n];
                    let (lo, hi, bins, weights) = fp.row(k, z);
                    let [left, right] = fp.edges(k, z);
                    for x in left {
                        dst[x] += gather(line, fp.u(k, z, x));
                    }
                    for x in lo..hi {
                        let (i, w) = (bins[x] as usize, weights[x]);
                        dst[x] += (1.0 - w) * line[i] + w * line[i + 1];
                    }
                    for x in right {
                        dst[x] += gather(line, fp.u(k, z, x));
                    }
                }
            }
            slice
        })
        .collect();
    let mut vol = Volume::zeros(n);
    for (y, s) in slices.iter().enumerate() {
        for z in 0..n {
            vol.data[(z * n + y) * n..(z * n + y + 1) * n].copy_from_slice(&s[z * n..(z + 1) * n]);
        }
    }
    vol
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

    /// The projector with every column through the bounds-checked splat: the definition the
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

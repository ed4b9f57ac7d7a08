//! Chemical short-range order of binary fcc alloys such as FePt (atomistic-order.md).
//!
//! 1. [`map_lattice`]: fit the lattice constant, orientation and origin of one fcc lattice to
//!    the atoms (nearest-neighbour bonds of 12-coordinated atoms matched to the ideal fcc
//!    bonds by Kabsch, then a least-squares fit of scale, rotation and origin to the assigned
//!    sites), give each atom integer site coordinates (i, j, k) with i + j + k even and its
//!    sublattice; atoms farther than a tolerance (0.3 a) from every site are unmapped.
//! 2. [`KernelWeights`]: Gaussian weights w = exp(-r^2 / 2 sigma^2) (sigma = 0.75 a) between
//!    mapped atoms within 3 sigma, computed once and reused for any assignment of species
//!    (the null model shuffles species over the same sites).
//! 3. [`KernelWeights::order`]: the order S_j of the sixteen reference phases per atom and the
//!    phase of highest S.
//!
//! Phases, numbered as in the output column `phase` (A is the species that plays Fe, B the
//! one that plays Pt; see [`SpeciesPair`]):
//!
//! | phase | family | pattern |
//! | --- | --- | --- |
//! | 0, 1 | L1_0 | c along x; planes of even i hold A (0) or B (1) |
//! | 2, 3 | L1_0 | c along y; planes of even j hold A (2) or B (3) |
//! | 4, 5 | L1_0 | c along z; planes of even k hold A (4) or B (5) |
//! | 6-9 | L1_2 AB3 (FePt3) | sublattice 0-3 holds A, the other three B |
//! | 10-13 | L1_2 A3B (Fe3Pt) | sublattice 0-3 holds B, the other three A |
//! | 14 | A1 B-rich (Pt) | every site B |
//! | 15 | A1 A-rich (Fe) | every site A |
//!
//! Sublattices: 0 = (0,0,0), 1 = (1,1,0), 2 = (1,0,1), 3 = (0,1,1) as (i, j, k) mod 2.

use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

use nucleate_core::{CoreError, Frame, NeighborList, NeighborSpec, SimBox};

/// Number of reference phases.
pub const N_PHASES: usize = 16;

/// The four fcc sublattices as (i, j, k) mod 2.
pub const SUBLATTICES: [[i32; 3]; 4] = [[0, 0, 0], [1, 1, 0], [1, 0, 1], [0, 1, 1]];

/// Errors of the chemical-order computation.
#[derive(Debug, thiserror::Error)]
pub enum SroError {
    /// The atoms do not sit on one fcc lattice.
    #[error("not an fcc-like model: {0}")]
    NotFcc(String),
    /// The species are not a binary alloy.
    #[error("{0}")]
    Species(String),
    /// A parameter out of range.
    #[error("{0}")]
    Parameter(String),
    /// From the neighbour search.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Families of the reference phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Tetragonal AB (FePt).
    L10,
    /// Cubic AB3 or A3B (FePt3, Fe3Pt).
    L12,
    /// Disordered fcc of one species (pure-A or pure-B pattern).
    A1,
}

impl Family {
    /// All families, in the order of [`Family::index`].
    pub const ALL: [Family; 3] = [Family::L10, Family::L12, Family::A1];

    /// 0, 1, 2 for L1_0, L1_2, A1.
    pub fn index(self) -> usize {
        match self {
            Family::L10 => 0,
            Family::L12 => 1,
            Family::A1 => 2,
        }
    }

    /// `L1_0`, `L1_2` or `A1`.
    pub fn name(self) -> &'static str {
        match self {
            Family::L10 => "L1_0",
            Family::L12 => "L1_2",
            Family::A1 => "A1",
        }
    }
}

/// The family of phase `j` (0-15).
pub fn phase_family(j: usize) -> Family {
    match j {
        0..=5 => Family::L10,
        6..=13 => Family::L12,
        _ => Family::A1,
    }
}

/// The lattice axis (0 = x, 1 = y, 2 = z of the lattice frame) of the c axis of an L1_0 phase.
pub fn l10_c_axis(j: usize) -> Option<usize> {
    (j < 6).then_some(j / 2)
}

/// Whether sublattice `s` holds species A in phase `j`.
pub fn phase_pattern(j: usize) -> [bool; 4] {
    let mut p = [false; 4];
    for (s, site) in SUBLATTICES.iter().enumerate() {
        p[s] = match j {
            0..=5 => (site[j / 2] == 0) == j.is_multiple_of(2),
            6..=9 => s == j - 6,
            10..=13 => s != j - 10,
            14 => false,
            _ => true,
        };
    }
    p
}

/// Fraction of A sites of phase `j` (1/2, 1/4, 3/4, 0 or 1).
pub fn phase_fraction_a(j: usize) -> f64 {
    phase_pattern(j).iter().filter(|&&a| a).count() as f64 / 4.0
}

/// A readable name of phase `j` with the species names of `pair`, e.g. `L1_0 c||z Fe-even`.
pub fn phase_name(j: usize, a: &str, b: &str) -> String {
    match j {
        0..=5 => format!(
            "L1_0 c||{} {}-even",
            ["x", "y", "z"][j / 2],
            if j.is_multiple_of(2) { a } else { b }
        ),
        6..=9 => format!("L1_2 {a}{b}3 {a}@{}", j - 6),
        10..=13 => format!("L1_2 {a}3{b} {b}@{}", j - 10),
        14 => format!("A1 {b}-rich"),
        _ => format!("A1 {a}-rich"),
    }
}

/// Which two species of a frame play A (Fe) and B (Pt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpeciesPair {
    /// Species index (into `Frame::species_names`) of A.
    pub a: u16,
    /// Species index of B.
    pub b: u16,
    /// Name of A.
    pub a_name: String,
    /// Name of B.
    pub b_name: String,
}

impl SpeciesPair {
    /// The pair of `frame`: exactly two species must occur. With `names = Some((A, B))` those
    /// are used; otherwise Fe is A and Pt is B when both occur, else A is the alphabetically
    /// first name.
    pub fn of_frame(frame: &Frame, names: Option<(&str, &str)>) -> Result<Self, SroError> {
        let mut present = vec![0usize; frame.species_names.len()];
        for &s in &frame.species {
            present[s as usize] += 1;
        }
        let used: Vec<usize> = (0..present.len()).filter(|&k| present[k] > 0).collect();
        let list = used
            .iter()
            .map(|&k| format!("{} ({} atoms)", frame.species_names[k], present[k]))
            .collect::<Vec<_>>()
            .join(", ");
        if used.len() != 2 {
            return Err(SroError::Species(format!(
                "chemical order needs exactly two species, found {}{}{}",
                used.len(),
                if used.is_empty() { "" } else { ": " },
                list
            )));
        }
        let name = |k: usize| frame.species_names[k].as_str();
        let find = |n: &str| {
            used.iter().copied().find(|&k| name(k) == n).ok_or_else(|| {
                SroError::Species(format!(
                    "species `{n}` does not occur in the model (species: {list})"
                ))
            })
        };
        let (a, b) = match names {
            Some((na, nb)) => {
                if na == nb {
                    return Err(SroError::Species(format!(
                        "--species needs two different names, got {na},{nb}"
                    )));
                }
                (find(na)?, find(nb)?)
            }
            None => match (find("Fe"), find("Pt")) {
                (Ok(a), Ok(b)) => (a, b),
                _ => {
                    let (x, y) = (used[0], used[1]);
                    if name(x) <= name(y) {
                        (x, y)
                    } else {
                        (y, x)
                    }
                }
            },
        };
        Ok(Self {
            a: a as u16,
            b: b as u16,
            a_name: name(a).to_string(),
            b_name: name(b).to_string(),
        })
    }

    /// Whether each atom of `frame` is species A.
    pub fn is_a(&self, frame: &Frame) -> Vec<bool> {
        frame.species.iter().map(|&s| s == self.a).collect()
    }
}

/// Settings of [`map_lattice`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatticeParams {
    /// First guess of the lattice constant (Angstrom); the fit refines it.
    pub lattice_a: f64,
    /// Atoms farther than this fraction of a from their nearest site are unmapped.
    pub tolerance: f64,
    /// Fewer mapped atoms than this fraction means the model is not fcc-like (an error).
    pub min_mapped_fraction: f64,
}

impl Default for LatticeParams {
    fn default() -> Self {
        Self {
            lattice_a: 3.87,
            tolerance: 0.3,
            min_mapped_fraction: 0.5,
        }
    }
}

/// One fcc lattice fitted to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct LatticeMap {
    /// Fitted lattice constant (Angstrom).
    pub lattice_a: f64,
    /// Rotation from the lattice frame to the model frame: p = origin + (a/2) R n.
    /// Columns are the lattice axes [100], [010], [001] in model coordinates.
    pub rotation: [[f64; 3]; 3],
    /// Model position of site (0, 0, 0) (Angstrom).
    pub origin: [f64; 3],
    /// Site (i, j, k) of each atom, None if unmapped.
    pub sites: Vec<Option<[i32; 3]>>,
    /// Sublattice 0-3 of each atom, None if unmapped.
    pub sublattice: Vec<Option<u8>>,
    /// Distance of each atom from its nearest site (Angstrom).
    pub deviation: Vec<f64>,
    /// Number of unmapped atoms (too far from any site, or a second atom on an occupied site).
    pub n_unmapped: usize,
    /// Root-mean-square deviation of mapped atoms from their sites (Angstrom).
    pub rms_deviation: f64,
    /// Number of 12-coordinated atoms whose bonds fixed the orientation.
    pub n_oriented: usize,
}

impl LatticeMap {
    /// Whether atom `i` is mapped.
    pub fn is_mapped(&self, i: usize) -> bool {
        self.sites[i].is_some()
    }

    /// Model position (Angstrom) of site `n`.
    pub fn site_position(&self, n: [i32; 3]) -> [f64; 3] {
        let r = mat(&self.rotation);
        let h = 0.5 * self.lattice_a;
        let p = Vector3::from(self.origin)
            + h * r * Vector3::new(n[0] as f64, n[1] as f64, n[2] as f64);
        [p.x, p.y, p.z]
    }
}

fn mat(r: &[[f64; 3]; 3]) -> Matrix3<f64> {
    Matrix3::from_fn(|i, j| r[i][j])
}

fn unmat(m: &Matrix3<f64>) -> [[f64; 3]; 3] {
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = m[(i, j)];
        }
    }
    r
}

/// The 12 nearest-neighbour vectors of fcc in units of a/2.
fn fcc_bonds() -> [Vector3<f64>; 12] {
    let mut out = [Vector3::zeros(); 12];
    let mut k = 0;
    for (p, q) in [(0, 1), (0, 2), (1, 2)] {
        for sp in [1.0, -1.0] {
            for sq in [1.0, -1.0] {
                let mut v = Vector3::zeros();
                v[p] = sp;
                v[q] = sq;
                out[k] = v;
                k += 1;
            }
        }
    }
    out
}

/// Proper rotation R minimising sum |R x_k - y_k|^2 (Kabsch); `cov` = sum y_k x_k^T.
fn kabsch(cov: &Matrix3<f64>) -> Matrix3<f64> {
    let svd = cov.svd(true, true);
    let (u, vt) = match (svd.u, svd.v_t) {
        (Some(u), Some(vt)) => (u, vt),
        _ => return Matrix3::identity(),
    };
    let d = (u * vt).determinant().signum();
    u * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * vt
}

/// The orthonormal frame (columns) spanned by u and v (Gram-Schmidt).
fn frame_of(u: &Vector3<f64>, v: &Vector3<f64>) -> Option<Matrix3<f64>> {
    let e1 = u.try_normalize(1e-12)?;
    let e2 = (v - v.dot(&e1) * e1).try_normalize(1e-12)?;
    let e3 = e1.cross(&e2);
    Some(Matrix3::from_columns(&[e1, e2, e3]))
}

/// Sum over bonds of (1 - cos) to the nearest rotated ideal bond, and the Kabsch covariance of
/// the assignment (ideal unit vectors -> observed unit vectors) for bonds within 20 degrees.
fn assign(
    r: &Matrix3<f64>,
    bonds: &[Vector3<f64>],
    ideal: &[Vector3<f64>; 12],
) -> (f64, Matrix3<f64>, usize) {
    let rotated: Vec<Vector3<f64>> = ideal.iter().map(|e| r * e.normalize()).collect();
    let cos_max = 20f64.to_radians().cos();
    let mut cost = 0.0;
    let mut cov = Matrix3::zeros();
    let mut n = 0;
    for b in bonds {
        let Some(u) = b.try_normalize(1e-12) else {
            continue;
        };
        let (k, c) = rotated
            .iter()
            .enumerate()
            .map(|(k, e)| (k, e.dot(&u)))
            .fold(
                (0, f64::NEG_INFINITY),
                |acc, x| if x.1 > acc.1 { x } else { acc },
            );
        cost += 1.0 - c;
        if c >= cos_max {
            cov += u * ideal[k].normalize().transpose();
            n += 1;
        }
    }
    (cost, cov, n)
}

/// The orientation of one atom's 12 bonds: the best of the rotations that send two ideal
/// bonds 60 degrees apart onto the first bond and each bond about 60 degrees from it, refined
/// by Kabsch. Returns (rotation, mean 1 - cos of the bonds to their ideal directions).
fn orient_atom(bonds: &[Vector3<f64>], ideal: &[Vector3<f64>; 12]) -> Option<(Matrix3<f64>, f64)> {
    let v1 = bonds[0].try_normalize(1e-12)?;
    let ideal_frame = frame_of(&ideal[0], &ideal[4])?; // (1,1,0) and (1,0,1): 60 degrees
    let mut best: Option<(Matrix3<f64>, f64)> = None;
    for v2 in &bonds[1..] {
        let Some(u2) = v2.try_normalize(1e-12) else {
            continue;
        };
        if (v1.dot(&u2) - 0.5).abs() > 0.25 {
            continue;
        }
        let Some(f) = frame_of(&v1, &u2) else {
            continue;
        };
        let r0 = f * ideal_frame.transpose();
        let (_, cov, _) = assign(&r0, bonds, ideal);
        let r = kabsch(&cov);
        let (cost, _, _) = assign(&r, bonds, ideal);
        if best.as_ref().is_none_or(|b| cost < b.1) {
            best = Some((r, cost));
        }
    }
    best.map(|(r, c)| (r, c / bonds.len() as f64))
}

/// Of the 24 rotations R G (G a proper signed permutation, a symmetry of the cubic lattice)
/// that describe the same lattice, the one closest to the identity (largest trace), so that
/// lattice axes follow the model's axes as closely as possible.
fn canonical(r: &Matrix3<f64>) -> Matrix3<f64> {
    let mut best = *r;
    let mut best_trace = f64::NEG_INFINITY;
    for perm in [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ] {
        for signs in 0..8 {
            let mut g = Matrix3::zeros();
            for (row, &col) in perm.iter().enumerate() {
                g[(row, col)] = if signs & (1 << row) != 0 { -1.0 } else { 1.0 };
            }
            if g.determinant() < 0.0 {
                continue;
            }
            let c = r * g;
            if c.trace() > best_trace + 1e-12 {
                best_trace = c.trace();
                best = c;
            }
        }
    }
    best
}

/// The fcc site (integer coordinates, even sum) nearest to `x` (in units of a/2).
fn nearest_site(x: &Vector3<f64>) -> [i32; 3] {
    let mut f = [x.x.round(), x.y.round(), x.z.round()];
    if (f[0] + f[1] + f[2]).rem_euclid(2.0) != 0.0 {
        let k = (0..3)
            .max_by(|&p, &q| (x[p] - f[p]).abs().total_cmp(&(x[q] - f[q]).abs()))
            .unwrap_or(0);
        f[k] += if x[k] > f[k] { 1.0 } else { -1.0 };
    }
    [f[0] as i32, f[1] as i32, f[2] as i32]
}

/// Sublattice 0-3 of site `n`.
pub fn sublattice_of(n: [i32; 3]) -> u8 {
    let m = [n[0].rem_euclid(2), n[1].rem_euclid(2), n[2].rem_euclid(2)];
    SUBLATTICES.iter().position(|s| *s == m).unwrap_or(0) as u8
}

/// Fit one fcc lattice to `positions` (Angstrom) of a free particle (periodicity is ignored).
pub fn map_lattice(positions: &[[f64; 3]], params: &LatticeParams) -> Result<LatticeMap, SroError> {
    let a0 = params.lattice_a;
    if !(a0.is_finite() && a0 > 0.0) {
        return Err(SroError::Parameter(format!(
            "lattice constant must be positive, got {a0}"
        )));
    }
    if !(params.tolerance > 0.0 && params.tolerance < 0.5) {
        return Err(SroError::Parameter(format!(
            "mapping tolerance must lie in (0, 0.5) lattice constants, got {}",
            params.tolerance
        )));
    }
    let n = positions.len();
    if n < 13 {
        return Err(SroError::NotFcc(format!(
            "{n} atoms; an fcc lattice needs at least 13"
        )));
    }
    let cell = SimBox::enclosing(positions, 1.0)?;
    // Between the first (0.707 a) and second (1.0 a) neighbour shells.
    let list =
        NeighborList::from_positions(positions, &cell, NeighborSpec::Cutoff { r: 0.85 * a0 })?;
    let ideal = fcc_bonds();
    let bonds_of = |i: usize| -> Vec<Vector3<f64>> {
        list.vectors(i).iter().map(|v| Vector3::from(*v)).collect()
    };
    let well: Vec<usize> = (0..n).filter(|&i| list.count(i) == 12).collect();
    if well.is_empty() {
        return Err(SroError::NotFcc(format!(
            "no atom has 12 neighbours within {:.2} A (0.85 a for a = {a0} A)",
            0.85 * a0
        )));
    }
    // Reference orientation: the best-fitting of the 12-coordinated atoms nearest the centroid.
    let centroid = positions
        .iter()
        .fold(Vector3::zeros(), |s, p| s + Vector3::from(*p))
        / n as f64;
    let mut by_centre = well.clone();
    by_centre.sort_by(|&p, &q| {
        let dp = (Vector3::from(positions[p]) - centroid).norm_squared();
        let dq = (Vector3::from(positions[q]) - centroid).norm_squared();
        dp.total_cmp(&dq).then(p.cmp(&q))
    });
    let mut reference: Option<(usize, Matrix3<f64>, f64)> = None;
    for &i in by_centre.iter().take(16) {
        if let Some((r, cost)) = orient_atom(&bonds_of(i), &ideal) {
            if reference.as_ref().is_none_or(|b| cost < b.2) {
                reference = Some((i, r, cost));
            }
            if cost < 0.01 {
                break;
            }
        }
    }
    let Some((ref_atom, mut r, ref_cost)) = reference else {
        return Err(SroError::NotFcc(
            "no 12-coordinated atom has fcc-like bonds".into(),
        ));
    };
    // 1 - cos 20 deg: bonds further off than ~20 degrees on average are not fcc.
    if ref_cost > 0.06 {
        return Err(SroError::NotFcc(format!(
            "the best 12-coordinated atom's bonds deviate from fcc by {:.0} degrees on average",
            (1.0 - ref_cost).acos().to_degrees()
        )));
    }
    // Average orientation over every 12-coordinated atom, each bond assigned to the nearest
    // ideal direction of the current estimate (so no atom picks another of the 24 equivalent
    // orientations).
    let mut n_oriented = 0;
    for _ in 0..2 {
        let parts: Vec<(Matrix3<f64>, usize, f64, usize)> = well
            .par_iter()
            .map(|&i| {
                let b = bonds_of(i);
                let (cost, cov, k) = assign(&r, &b, &ideal);
                let len: f64 = b.iter().map(|v| v.norm()).sum();
                (cov, k, len, usize::from(cost / 12.0 < 0.06))
            })
            .collect();
        let cov = parts.iter().fold(Matrix3::zeros(), |s, p| s + p.0);
        n_oriented = parts.iter().map(|p| p.3).sum();
        r = kabsch(&cov);
    }
    r = canonical(&r);
    let bond_len: f64 = well
        .iter()
        .flat_map(|&i| list.distances(i).iter())
        .sum::<f64>()
        / (12 * well.len()) as f64;
    let mut h = bond_len / std::f64::consts::SQRT_2; // a / 2
    let mut origin = Vector3::from(positions[ref_atom]);

    // Sites, then a least-squares fit of scale, rotation and origin (Umeyama) to the mapped
    // atoms; repeated so that atoms near the tolerance settle.
    let mut sites: Vec<[i32; 3]> = vec![[0; 3]; n];
    let mut dev = vec![0.0; n];
    let tol = |h: f64| params.tolerance * 2.0 * h;
    for _ in 0..4 {
        let rt = r.transpose();
        for i in 0..n {
            let x = rt * (Vector3::from(positions[i]) - origin) / h;
            let s = nearest_site(&x);
            sites[i] = s;
            let q = Vector3::new(s[0] as f64, s[1] as f64, s[2] as f64);
            dev[i] = (h * (x - q)).norm();
        }
        let ok: Vec<usize> = (0..n).filter(|&i| dev[i] <= tol(h)).collect();
        if ok.len() < 4 {
            break;
        }
        let m = ok.len() as f64;
        let pbar = ok
            .iter()
            .fold(Vector3::zeros(), |s, &i| s + Vector3::from(positions[i]))
            / m;
        let site =
            |i: usize| Vector3::new(sites[i][0] as f64, sites[i][1] as f64, sites[i][2] as f64);
        let qbar = ok.iter().fold(Vector3::zeros(), |s, &i| s + site(i)) / m;
        let mut cov = Matrix3::zeros();
        let mut qq = 0.0;
        for &i in &ok {
            let q = site(i) - qbar;
            cov += (Vector3::from(positions[i]) - pbar) * q.transpose();
            qq += q.norm_squared();
        }
        r = kabsch(&cov);
        if qq > 0.0 {
            // Scale of p = h R q + t by least squares for the fitted R.
            h = (r.transpose() * cov).trace() / qq;
        }
        origin = pbar - h * r * qbar;
    }
    // Final assignment; a second atom on an occupied site is unmapped (the nearer one stays).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&p, &q| dev[p].total_cmp(&dev[q]).then(p.cmp(&q)));
    let mut taken = std::collections::HashSet::with_capacity(n);
    let mut out_sites = vec![None; n];
    let mut sub = vec![None; n];
    for &i in &order {
        if dev[i] <= tol(h) && taken.insert(sites[i]) {
            out_sites[i] = Some(sites[i]);
            sub[i] = Some(sublattice_of(sites[i]));
        }
    }
    let n_mapped = out_sites.iter().filter(|s| s.is_some()).count();
    if (n_mapped as f64) < params.min_mapped_fraction * n as f64 {
        return Err(SroError::NotFcc(format!(
            "only {n_mapped} of {n} atoms ({:.0}%) lie within {} a of a site of the fitted fcc lattice (a = {:.3} A); at least {:.0}% are needed",
            100.0 * n_mapped as f64 / n as f64,
            params.tolerance,
            2.0 * h,
            100.0 * params.min_mapped_fraction
        )));
    }
    let rms = (out_sites
        .iter()
        .zip(&dev)
        .filter(|(s, _)| s.is_some())
        .map(|(_, d)| d * d)
        .sum::<f64>()
        / n_mapped as f64)
        .sqrt();
    Ok(LatticeMap {
        lattice_a: 2.0 * h,
        rotation: unmat(&r),
        origin: [origin.x, origin.y, origin.z],
        sites: out_sites,
        sublattice: sub,
        deviation: dev,
        n_unmapped: n - n_mapped,
        rms_deviation: rms,
        n_oriented,
    })
}

/// Gaussian kernel weights between mapped atoms, computed once per model: everything of S that
/// does not depend on which species sits where.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelWeights {
    offsets: Vec<usize>,
    neighbor: Vec<u32>,
    weight: Vec<f64>,
    /// Per atom: total weight on each sublattice (self included).
    by_sublattice: Vec<[f64; 4]>,
    sublattice: Vec<u8>,
    mapped: Vec<bool>,
    /// Kernel width (Angstrom).
    pub sigma: f64,
}

impl KernelWeights {
    /// Weights w = exp(-r^2 / 2 sigma^2) (sigma in Angstrom) between mapped atoms within
    /// 3 sigma, the atom itself included (w = 1).
    pub fn build(positions: &[[f64; 3]], map: &LatticeMap, sigma: f64) -> Result<Self, SroError> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(SroError::Parameter(format!(
                "kernel width must be positive, got {sigma} A"
            )));
        }
        let n = positions.len();
        if map.sites.len() != n {
            return Err(SroError::Parameter(format!(
                "lattice map of {} atoms for {n} positions",
                map.sites.len()
            )));
        }
        let cell = SimBox::enclosing(positions, 1.0)?;
        let list = NeighborList::from_positions(
            positions,
            &cell,
            NeighborSpec::Cutoff { r: 3.0 * sigma },
        )?;
        let mapped: Vec<bool> = map.sites.iter().map(|s| s.is_some()).collect();
        let sublattice: Vec<u8> = map.sublattice.iter().map(|s| s.unwrap_or(0)).collect();
        let rows: Vec<(Vec<u32>, Vec<f64>, [f64; 4])> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut idx = Vec::new();
                let mut w = Vec::new();
                let mut by = [0.0; 4];
                if mapped[i] {
                    idx.push(i as u32);
                    w.push(1.0);
                    by[sublattice[i] as usize] += 1.0;
                    for (&j, &d) in list.neighbors(i).iter().zip(list.distances(i)) {
                        if mapped[j as usize] {
                            let wk = (-d * d / (2.0 * sigma * sigma)).exp();
                            idx.push(j);
                            w.push(wk);
                            by[sublattice[j as usize] as usize] += wk;
                        }
                    }
                }
                (idx, w, by)
            })
            .collect();
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0);
        let mut neighbor = Vec::new();
        let mut weight = Vec::new();
        let mut by_sublattice = Vec::with_capacity(n);
        for (idx, w, by) in rows {
            neighbor.extend(idx);
            weight.extend(w);
            offsets.push(neighbor.len());
            by_sublattice.push(by);
        }
        Ok(Self {
            offsets,
            neighbor,
            weight,
            by_sublattice,
            sublattice,
            mapped,
            sigma,
        })
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.mapped.len()
    }

    /// Whether there are no atoms.
    pub fn is_empty(&self) -> bool {
        self.mapped.is_empty()
    }

    /// Whether atom `i` is mapped to a site.
    pub fn is_mapped(&self, i: usize) -> bool {
        self.mapped[i]
    }

    /// Mean number of kernel neighbours (self included) of mapped atoms.
    pub fn mean_neighbors(&self) -> f64 {
        let m = self.mapped.iter().filter(|&&x| x).count().max(1);
        self.neighbor.len() as f64 / m as f64
    }

    /// Fraction of A among mapped atoms.
    pub fn fraction_a(&self, is_a: &[bool]) -> f64 {
        let (mut na, mut m) = (0usize, 0usize);
        for (i, &a) in is_a.iter().enumerate() {
            if self.mapped[i] {
                m += 1;
                na += usize::from(a);
            }
        }
        na as f64 / m.max(1) as f64
    }

    /// S_j of all sixteen phases for every atom (zeros for unmapped atoms), with species
    /// `is_a` (true = A). Fails unless both species occur among mapped atoms (otherwise
    /// 1 - f_rand vanishes for some phase).
    pub fn order(&self, is_a: &[bool]) -> Result<ChemicalOrder, SroError> {
        let f_all = self.check(is_a)?;
        let s: Vec<[f64; N_PHASES]> = (0..self.len())
            .into_par_iter()
            .map(|i| self.s_all(i, is_a, f_all))
            .collect();
        let (sro, phase) = s
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if self.mapped[i] {
                    let (j, v) = argmax(s);
                    (v, j as i16)
                } else {
                    (0.0, -1)
                }
            })
            .unzip();
        Ok(ChemicalOrder {
            s,
            sro,
            phase,
            fraction_a: f_all,
        })
    }

    /// Only the highest S and its phase (-1 = unmapped) per atom: what the null model needs.
    pub fn best_phase(&self, is_a: &[bool]) -> Result<(Vec<f64>, Vec<i16>), SroError> {
        let f_all = self.check(is_a)?;
        Ok((0..self.len())
            .map(|i| {
                if self.mapped[i] {
                    let (j, v) = argmax(&self.s_all(i, is_a, f_all));
                    (v, j as i16)
                } else {
                    (0.0, -1)
                }
            })
            .unzip())
    }

    fn check(&self, is_a: &[bool]) -> Result<f64, SroError> {
        if is_a.len() != self.len() {
            return Err(SroError::Parameter(format!(
                "{} species for {} atoms",
                is_a.len(),
                self.len()
            )));
        }
        let f = self.fraction_a(is_a);
        if f <= 0.0 || f >= 1.0 {
            return Err(SroError::Species(
                "chemical order needs both species among the mapped atoms".into(),
            ));
        }
        Ok(f)
    }

    fn s_all(&self, i: usize, is_a: &[bool], f_all: f64) -> [f64; N_PHASES] {
        let mut out = [0.0; N_PHASES];
        if !self.mapped[i] {
            return out;
        }
        let r = self.offsets[i]..self.offsets[i + 1];
        let mut wa = [0.0; 4];
        for (&j, &w) in self.neighbor[r.clone()].iter().zip(&self.weight[r]) {
            if is_a[j as usize] {
                wa[self.sublattice[j as usize] as usize] += w;
            }
        }
        let tot = &self.by_sublattice[i];
        let wsum: f64 = tot.iter().sum();
        for (j, o) in out.iter_mut().enumerate() {
            let pat = PATTERNS[j];
            let mut m = 0.0;
            for s in 0..4 {
                m += if pat[s] { wa[s] } else { tot[s] - wa[s] };
            }
            let f = m / wsum;
            let fj = FRACTION_A[j];
            let f_rand = 2.0 * fj * f_all - fj - f_all + 1.0;
            *o = (f - f_rand) / (1.0 - f_rand);
        }
        out
    }
}

const PATTERNS: [[bool; 4]; N_PHASES] = {
    let mut p = [[false; 4]; N_PHASES];
    let mut j = 0;
    while j < N_PHASES {
        let mut s = 0;
        while s < 4 {
            let site = SUBLATTICES[s];
            p[j][s] = if j < 6 {
                (site[j / 2] == 0) == (j % 2 == 0)
            } else if j < 10 {
                s == j - 6
            } else if j < 14 {
                s != j - 10
            } else {
                j == 15
            };
            s += 1;
        }
        j += 1;
    }
    p
};

const FRACTION_A: [f64; N_PHASES] = [
    0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.75, 0.0, 1.0,
];

/// Highest value and its index; ties go to the lower phase number.
fn argmax(s: &[f64; N_PHASES]) -> (usize, f64) {
    let mut best = (0, s[0]);
    for (j, &v) in s.iter().enumerate().skip(1) {
        if v > best.1 {
            best = (j, v);
        }
    }
    best
}

/// Chemical order of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChemicalOrder {
    /// S_j of the sixteen phases per atom (zeros for unmapped atoms).
    pub s: Vec<[f64; N_PHASES]>,
    /// Highest S per atom (0 for unmapped atoms): the order field of nuclei.
    pub sro: Vec<f64>,
    /// Phase of the highest S per atom, -1 for unmapped atoms.
    pub phase: Vec<i16>,
    /// Fraction of A among mapped atoms (f_all).
    pub fraction_a: f64,
}

impl ChemicalOrder {
    /// Number of atoms of each phase (index = phase).
    pub fn atoms_per_phase(&self) -> [usize; N_PHASES] {
        let mut c = [0; N_PHASES];
        for &p in &self.phase {
            if p >= 0 {
                c[p as usize] += 1;
            }
        }
        c
    }
}

/// Settings of [`AlloySro::compute`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SroParams {
    /// Lattice fit.
    pub lattice: LatticeParams,
    /// Kernel width in units of the fitted lattice constant (0.75).
    pub sigma_a: f64,
}

impl Default for SroParams {
    fn default() -> Self {
        Self {
            lattice: LatticeParams::default(),
            sigma_a: 0.75,
        }
    }
}

/// Lattice, kernel and chemical order of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct AlloySro {
    /// Which species is A and B.
    pub species: SpeciesPair,
    /// Whether each atom is A.
    pub is_a: Vec<bool>,
    /// The fitted lattice.
    pub lattice: LatticeMap,
    /// Kernel weights (reusable for shuffled species).
    pub weights: KernelWeights,
    /// S per phase, the highest S and its phase.
    pub order: ChemicalOrder,
}

impl AlloySro {
    /// Everything for `frame`; `species` names A and B explicitly (see [`SpeciesPair`]).
    pub fn compute(
        frame: &Frame,
        species: Option<(&str, &str)>,
        params: &SroParams,
    ) -> Result<Self, SroError> {
        if !(params.sigma_a.is_finite() && params.sigma_a > 0.0) {
            return Err(SroError::Parameter(format!(
                "kernel width must be a positive number of lattice constants, got {}",
                params.sigma_a
            )));
        }
        let pair = SpeciesPair::of_frame(frame, species)?;
        let lattice = map_lattice(&frame.positions, &params.lattice)?;
        let weights = KernelWeights::build(
            &frame.positions,
            &lattice,
            params.sigma_a * lattice.lattice_a,
        )?;
        let is_a = pair.is_a(frame);
        let order = weights.order(&is_a)?;
        Ok(Self {
            species: pair,
            is_a,
            lattice,
            weights,
            order,
        })
    }
}

/// Seeded FePt-like particles with planted nuclei, for tests and benchmarks.
pub mod synthetic {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    use nucleate_core::{Frame, SimBox};

    use super::{phase_pattern, sublattice_of};

    /// A diffuse ordered region: at a site a distance d from `centre`, the species follows the
    /// phase's pattern with probability S(d) = exp(-(d / lambda)^beta), else is drawn at
    /// random with the particle's composition.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct PlantedNucleus {
        /// Phase 0-15 (see the module table).
        pub phase: usize,
        /// Centre (Angstrom, particle frame: the particle is centred on the origin).
        pub centre: [f64; 3],
        /// Decay length (Angstrom).
        pub lambda: f64,
        /// Shape exponent.
        pub beta: f64,
    }

    /// A spherical fcc particle.
    #[derive(Debug, Clone, PartialEq)]
    pub struct ParticleSpec {
        /// Radius (Angstrom).
        pub radius: f64,
        /// Lattice constant (Angstrom).
        pub lattice_a: f64,
        /// Probability of species A at random sites.
        pub fraction_a: f64,
        /// Planted nuclei.
        pub nuclei: Vec<PlantedNucleus>,
        /// Gaussian position noise per coordinate (Angstrom), as in tomography.
        pub noise: f64,
        /// Seed of every random choice.
        pub seed: u64,
        /// Species names of A and B.
        pub names: (String, String),
    }

    impl ParticleSpec {
        /// A disordered (A1) Fe-Pt particle of `radius` Angstrom, a = 3.87 A, half Fe.
        pub fn fept(radius: f64, seed: u64) -> Self {
            Self {
                radius,
                lattice_a: 3.87,
                fraction_a: 0.5,
                nuclei: Vec::new(),
                noise: 0.0,
                seed,
                names: ("Fe".into(), "Pt".into()),
            }
        }
    }

    /// The particle: sites (i, j, k) with p = (a/2)(i, j, k) within the radius, lattice axes
    /// along x, y, z; returns the frame (open box) and the sites.
    pub fn particle(spec: &ParticleSpec) -> (Frame, Vec<[i32; 3]>) {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let h = 0.5 * spec.lattice_a;
        let m = (spec.radius / h).ceil() as i32 + 1;
        let noise = Normal::new(0.0, spec.noise.max(0.0)).ok();
        let mut pos = Vec::new();
        let mut species = Vec::new();
        let mut sites = Vec::new();
        for i in -m..=m {
            for j in -m..=m {
                for k in -m..=m {
                    if (i + j + k).rem_euclid(2) != 0 {
                        continue;
                    }
                    let p = [i as f64 * h, j as f64 * h, k as f64 * h];
                    if p.iter().map(|x| x * x).sum::<f64>() > spec.radius * spec.radius {
                        continue;
                    }
                    let sub = sublattice_of([i, j, k]) as usize;
                    // The nucleus that orders this site most strongly.
                    let mut best: Option<(f64, usize)> = None;
                    for nu in &spec.nuclei {
                        let d = (0..3)
                            .map(|c| (p[c] - nu.centre[c]).powi(2))
                            .sum::<f64>()
                            .sqrt();
                        let s = (-(d / nu.lambda).powf(nu.beta)).exp();
                        if best.is_none_or(|b| s > b.0) {
                            best = Some((s, nu.phase));
                        }
                    }
                    let u: f64 = rng.gen();
                    let v: f64 = rng.gen();
                    let is_a = match best {
                        Some((s, ph)) if u < s => phase_pattern(ph)[sub],
                        _ => v < spec.fraction_a,
                    };
                    let mut q = p;
                    if let Some(nz) = &noise {
                        if spec.noise > 0.0 {
                            for x in q.iter_mut() {
                                *x += nz.sample(&mut rng);
                            }
                        }
                    }
                    pos.push(q);
                    species.push(if is_a {
                        spec.names.0.as_str()
                    } else {
                        spec.names.1.as_str()
                    });
                    sites.push([i, j, k]);
                }
            }
        }
        let cell = SimBox::enclosing(&pos, 5.0).expect("a finite particle");
        let frame = Frame::new(pos, &species, cell).expect("one species per position");
        (frame, sites)
    }

    /// A perfectly ordered particle of phase `phase` (every site follows the pattern).
    pub fn ordered_particle(phase: usize, radius: f64, lattice_a: f64) -> (Frame, Vec<[i32; 3]>) {
        particle(&ParticleSpec {
            radius,
            lattice_a,
            fraction_a: 0.5,
            nuclei: vec![PlantedNucleus {
                phase,
                centre: [0.0; 3],
                lambda: 1e9,
                beta: 1.0,
            }],
            noise: 0.0,
            seed: 0,
            names: ("Fe".into(), "Pt".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_the_table() {
        for j in 0..N_PHASES {
            assert_eq!(PATTERNS[j], phase_pattern(j), "phase {j}");
            assert_eq!(FRACTION_A[j], phase_fraction_a(j), "phase {j}");
        }
        // L1_0 c||z, A on even k: sublattices (0,0,0) and (1,1,0).
        assert_eq!(phase_pattern(4), [true, true, false, false]);
        assert_eq!(phase_pattern(1), [false, true, true, false]);
        assert_eq!(l10_c_axis(5), Some(2));
        assert_eq!(phase_family(9), Family::L12);
    }

    #[test]
    fn nearest_site_has_even_sum() {
        let s = nearest_site(&Vector3::new(0.9, 0.1, 0.05));
        assert_eq!(s, [1, 1, 0]);
        let s = nearest_site(&Vector3::new(1.6, -0.1, 0.45));
        assert_eq!((s[0] + s[1] + s[2]).rem_euclid(2), 0);
    }
}

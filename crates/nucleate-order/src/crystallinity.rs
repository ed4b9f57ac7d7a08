//! Crystallinity of a particle per frame: the amorphous-to-crystalline ratio, the crystalline
//! fraction in radial shells and the core radius, and grains by local lattice orientation.
//!
//! - Crystalline atoms are a-CNA fcc, hcp or bcc; amorphous atoms are the rest. Surface atoms,
//!   with fewer than `surface_min_neighbors` neighbours within the first shell, are excluded
//!   from both. The first shell ends at r_1 = (1 + sqrt 2) / 2 x the median distance of each
//!   atom's 6th nearest neighbour (midway between the first and second shells of fcc, and still
//!   within the first shell for edge and vertex atoms) unless given.
//! - Radial profile: crystalline fraction of the non-surface atoms in shells of equal width
//!   around the centre of mass; the core radius is the outer radius of the last shell, counted
//!   from the centre, up to which every (non-empty) shell is more than half crystalline. In a
//!   periodic box the particle is first unwrapped through its first-shell bonds; a structure
//!   that spans the box (a bulk crystal) has no centre and no core radius.
//! - Local lattice orientation of a crystalline atom: the rotation that best maps the ideal
//!   neighbour directions (12 for fcc and hcp, 14 for bcc) onto its own (Kabsch fit after
//!   matching each neighbour to an ideal direction). Grains are clusters of crystalline
//!   neighbours whose orientations differ by less than `misorientation_deg`, with the lattice
//!   symmetry taken into account (the 24 proper rotations of the cube for fcc and bcc, those
//!   of them that keep the hcp neighbour shell for hcp). The hcp template is the fcc one with
//!   its close-packed (111) plane and the three neighbours above it kept and the three below
//!   mirrored, so an hcp stacking fault in an fcc grain has its grain's orientation. bcc never
//!   joins fcc or hcp.

use nalgebra::{Matrix3, Vector3};
use nucleate_core::{Frame, NeighborList, SimBox};

use crate::cna::Structure;
use crate::OrderError;

/// Settings of [`analyse_particle`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParticleParams {
    /// First-shell radius (Angstrom) for the surface test; `None`: automatic (module docs).
    pub shell_cutoff_a: Option<f64>,
    /// Atoms with fewer neighbours than this within the first shell are surface atoms.
    pub surface_min_neighbors: usize,
    /// Width of the radial shells (Angstrom).
    pub radial_shell_a: f64,
    /// Largest misorientation (degrees) between neighbours of one grain.
    pub misorientation_deg: f64,
    /// Smallest grain (atoms); smaller clusters get no grain.
    pub min_grain_atoms: usize,
}

impl Default for ParticleParams {
    fn default() -> Self {
        Self {
            shell_cutoff_a: None,
            surface_min_neighbors: 10,
            radial_shell_a: 2.0,
            misorientation_deg: 10.0,
            min_grain_atoms: 10,
        }
    }
}

/// One radial shell of the crystalline-fraction profile.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadialShell {
    /// Inner radius (Angstrom).
    pub r_inner_a: f64,
    /// Outer radius (Angstrom).
    pub r_outer_a: f64,
    /// Non-surface atoms in the shell.
    pub n_atoms: usize,
    /// Crystalline atoms among them.
    pub n_crystalline: usize,
}

impl RadialShell {
    /// Crystalline fraction; `None` for an empty shell.
    pub fn fraction(&self) -> Option<f64> {
        (self.n_atoms > 0).then(|| self.n_crystalline as f64 / self.n_atoms as f64)
    }
}

/// Crystallinity of one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticleStructure {
    /// First-shell radius used (Angstrom).
    pub shell_cutoff_a: f64,
    /// Surface atoms.
    pub surface: Vec<bool>,
    /// Crystalline non-surface atoms.
    pub n_crystalline: usize,
    /// Amorphous non-surface atoms.
    pub n_amorphous: usize,
    /// Radial profile from the centre of mass (empty when there is no centre).
    pub radial: Vec<RadialShell>,
    /// Core radius (Angstrom); `None` when the structure spans a periodic box.
    pub core_radius_a: Option<f64>,
    /// Grain of each atom, 0 = largest; -1 = none.
    pub grain: Vec<i64>,
    /// Number of grains.
    pub n_grains: usize,
    /// Local lattice orientation (rotation from the ideal template to the atom's neighbourhood)
    /// of each crystalline atom.
    pub orientation: Vec<Option<[[f64; 3]; 3]>>,
}

impl ParticleStructure {
    /// Amorphous-to-crystalline ratio A/C of the non-surface atoms (infinite without crystalline
    /// atoms, NaN without any).
    pub fn ac_ratio(&self) -> f64 {
        if self.n_crystalline == 0 && self.n_amorphous == 0 {
            f64::NAN
        } else {
            self.n_amorphous as f64 / self.n_crystalline as f64
        }
    }
}

/// Crystallinity of the atoms of `list` (a k-nearest list, k >= 14, the one a-CNA used) with
/// their a-CNA `types`, positions (Angstrom) and box.
pub fn analyse_particle(
    positions: &[[f64; 3]],
    cell: &SimBox,
    list: &NeighborList,
    types: &[Structure],
    params: &ParticleParams,
) -> Result<ParticleStructure, OrderError> {
    let n = positions.len();
    if list.len() != n || types.len() != n {
        return Err(OrderError::Mismatch(format!(
            "{n} positions, {} neighbour rows, {} structure types",
            list.len(),
            types.len()
        )));
    }
    if !(params.radial_shell_a.is_finite() && params.radial_shell_a > 0.0) {
        return Err(OrderError::Parameter(format!(
            "radial shell width must be positive, got {}",
            params.radial_shell_a
        )));
    }
    if !(params.misorientation_deg.is_finite() && params.misorientation_deg > 0.0) {
        return Err(OrderError::Parameter(format!(
            "misorientation threshold must be positive, got {}",
            params.misorientation_deg
        )));
    }
    if (0..n).any(|i| list.count(i) < 6) {
        return Err(OrderError::Parameter(
            "crystallinity needs at least 6 neighbours per atom (a k-nearest list)".into(),
        ));
    }
    let shell_cutoff_a = match params.shell_cutoff_a {
        Some(r) if r.is_finite() && r > 0.0 => r,
        Some(r) => {
            return Err(OrderError::Parameter(format!(
                "first-shell radius must be positive, got {r}"
            )))
        }
        None => {
            let mut d6: Vec<f64> = (0..n).map(|i| list.distances(i)[5]).collect();
            d6.sort_by(f64::total_cmp);
            let median = if n == 0 { 0.0 } else { d6[n / 2] };
            0.5 * (1.0 + 2f64.sqrt()) * median
        }
    };
    let first_shell = |i: usize| {
        list.distances(i)
            .iter()
            .take_while(|&&d| d <= shell_cutoff_a)
            .count()
    };
    let surface: Vec<bool> = (0..n)
        .map(|i| first_shell(i) < params.surface_min_neighbors)
        .collect();
    let n_crystalline = (0..n)
        .filter(|&i| !surface[i] && types[i].is_crystalline())
        .count();
    let n_amorphous = (0..n).filter(|&i| !surface[i]).count() - n_crystalline;

    // Centre and radial profile.
    let unwrapped = unwrap(positions, cell, list, shell_cutoff_a);
    let (radial, core_radius_a) = match unwrapped {
        Some(p) if n > 0 => {
            let mut c = [0.0; 3];
            for q in &p {
                for d in 0..3 {
                    c[d] += q[d] / n as f64;
                }
            }
            let w = params.radial_shell_a;
            let mut radial: Vec<RadialShell> = Vec::new();
            for i in 0..n {
                if surface[i] {
                    continue;
                }
                let r = (0..3).map(|d| (p[i][d] - c[d]).powi(2)).sum::<f64>().sqrt();
                let k = (r / w) as usize;
                while radial.len() <= k {
                    let m = radial.len() as f64;
                    radial.push(RadialShell {
                        r_inner_a: m * w,
                        r_outer_a: (m + 1.0) * w,
                        n_atoms: 0,
                        n_crystalline: 0,
                    });
                }
                radial[k].n_atoms += 1;
                radial[k].n_crystalline += types[i].is_crystalline() as usize;
            }
            let mut core = 0.0;
            for s in &radial {
                match s.fraction() {
                    None => continue,
                    Some(f) if f > 0.5 => core = s.r_outer_a,
                    Some(_) => break,
                }
            }
            (radial, Some(core))
        }
        _ => (Vec::new(), None),
    };

    // Orientations and grains.
    let templates = Templates::new();
    let orientation: Vec<Option<Matrix3<f64>>> = (0..n)
        .map(|i| templates.orientation(types[i], list.vectors(i)))
        .collect();
    let cos_max = (params.misorientation_deg.to_radians()).cos();
    let mut uf = UnionFind::new(n);
    for i in 0..n {
        let Some(ri) = orientation[i] else { continue };
        let m = shell_size(types[i]);
        for &j in &list.neighbors(i)[..m.min(list.count(i))] {
            let j = j as usize;
            if j == i {
                continue;
            }
            let Some(rj) = orientation[j] else { continue };
            let Some(group) = templates.joint_symmetry(types[i], types[j]) else {
                continue;
            };
            if cos_misorientation(&ri, &rj, group) > cos_max {
                uf.union(i, j);
            }
        }
    }
    let mut size = vec![0usize; n];
    for i in 0..n {
        if orientation[i].is_some() {
            size[uf.find(i)] += 1;
        }
    }
    let mut roots: Vec<usize> = (0..n)
        .filter(|&i| orientation[i].is_some() && uf.find(i) == i)
        .filter(|&i| size[i] >= params.min_grain_atoms.max(1))
        .collect();
    // Largest first; ties by the lowest atom index in the grain.
    let mut first = vec![usize::MAX; n];
    for i in (0..n).rev() {
        if orientation[i].is_some() {
            first[uf.find(i)] = i;
        }
    }
    roots.sort_by_key(|&r| (std::cmp::Reverse(size[r]), first[r]));
    let mut label = vec![-1i64; n];
    for (k, &r) in roots.iter().enumerate() {
        label[r] = k as i64;
    }
    let grain: Vec<i64> = (0..n)
        .map(|i| {
            if orientation[i].is_some() {
                label[uf.find(i)]
            } else {
                -1
            }
        })
        .collect();
    Ok(ParticleStructure {
        shell_cutoff_a,
        surface,
        n_crystalline,
        n_amorphous,
        radial,
        core_radius_a,
        grain,
        n_grains: roots.len(),
        orientation: orientation
            .iter()
            .map(|o| {
                o.map(|m| {
                    let mut a = [[0.0; 3]; 3];
                    for r in 0..3 {
                        for c in 0..3 {
                            a[r][c] = m[(r, c)];
                        }
                    }
                    a
                })
            })
            .collect(),
    })
}

/// The frame's total potential energy (eV) if its metadata carries one (extXYZ `energy_ev`,
/// `energy`, `Energy`, `potential_energy`, `pe`).
pub fn frame_energy_ev(frame: &Frame) -> Option<f64> {
    ["energy_ev", "energy", "Energy", "potential_energy", "pe"]
        .iter()
        .find_map(|k| frame.info_value(k).and_then(|v| v.trim().parse().ok()))
}

/// Neighbours of a structure's ideal shell.
fn shell_size(s: Structure) -> usize {
    if s == Structure::Bcc {
        14
    } else {
        12
    }
}

/// Positions unwrapped through first-shell bonds (free axes: as given); `None` when the
/// bonded structure wraps around a periodic box.
fn unwrap(
    positions: &[[f64; 3]],
    cell: &SimBox,
    list: &NeighborList,
    cutoff: f64,
) -> Option<Vec<[f64; 3]>> {
    if !cell.any_periodic() {
        return Some(positions.to_vec());
    }
    let n = positions.len();
    let mut out: Vec<Option<[f64; 3]>> = vec![None; n];
    let mut stack = Vec::new();
    for s in 0..n {
        if out[s].is_some() {
            continue;
        }
        out[s] = Some(cell.wrap(positions[s]));
        stack.push(s);
        while let Some(i) = stack.pop() {
            let pi = out[i]?;
            for ((&j, v), &d) in list
                .neighbors(i)
                .iter()
                .zip(list.vectors(i))
                .zip(list.distances(i))
            {
                if d > cutoff {
                    break;
                }
                let want = [pi[0] + v[0], pi[1] + v[1], pi[2] + v[2]];
                match out[j as usize] {
                    None => {
                        out[j as usize] = Some(want);
                        stack.push(j as usize);
                    }
                    Some(p) => {
                        // A loop of bonds that comes back shifted by a box vector.
                        if (0..3).any(|k| (p[k] - want[k]).abs() > 1e-6 * (1.0 + cutoff)) {
                            return None;
                        }
                    }
                }
            }
        }
    }
    out.into_iter().collect()
}

/// Ideal neighbour directions and symmetry groups.
struct Templates {
    fcc: Vec<Vector3<f64>>,
    hcp: Vec<Vector3<f64>>,
    bcc: Vec<Vector3<f64>>,
    cubic: Vec<Matrix3<f64>>,
    hexagonal: Vec<Matrix3<f64>>,
    mixed: Vec<Matrix3<f64>>,
    mixed_inverse: Vec<Matrix3<f64>>,
}

impl Templates {
    fn new() -> Self {
        let mut fcc = Vec::new();
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            for s in [-1.0, 1.0] {
                for t in [-1.0, 1.0] {
                    let mut v = Vector3::zeros();
                    v[a] = s;
                    v[b] = t;
                    fcc.push(v.normalize());
                }
            }
        }
        let normal = Vector3::new(1.0, 1.0, 1.0).normalize();
        let hcp: Vec<Vector3<f64>> = fcc
            .iter()
            .map(|v| {
                if v.dot(&normal) < -1e-9 {
                    // the fcc neighbour below is the mirror image of one above
                    let above = -v;
                    above - 2.0 * above.dot(&normal) * normal
                } else {
                    *v
                }
            })
            .collect();
        let mut bcc = Vec::new();
        for s in [-1.0, 1.0] {
            for t in [-1.0, 1.0] {
                for u in [-1.0, 1.0] {
                    bcc.push(Vector3::new(s, t, u).normalize());
                }
            }
        }
        for k in 0..3 {
            for s in [-1.0, 1.0] {
                let mut v = Vector3::zeros();
                v[k] = s;
                bcc.push(v);
            }
        }
        // The 24 proper rotations of the cube: signed permutation matrices with det +1.
        let mut cubic = Vec::new();
        let perms = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for p in perms {
            for signs in 0..8 {
                let mut m = Matrix3::zeros();
                for r in 0..3 {
                    m[(r, p[r])] = if signs >> r & 1 == 1 { -1.0 } else { 1.0 };
                }
                if m.determinant() > 0.0 {
                    cubic.push(m);
                }
            }
        }
        let keeps = |m: &Matrix3<f64>, set: &[Vector3<f64>]| {
            set.iter()
                .all(|v| set.iter().any(|w| (m * v - w).norm() < 1e-9))
        };
        // Rotations of the hcp shell: those mapping one pair of its directions onto another
        // pair at the same angle and keeping the whole shell.
        let mut hexagonal: Vec<Matrix3<f64>> = Vec::new();
        let (a, b) = (
            hcp[0],
            hcp[1..]
                .iter()
                .find(|v| v.dot(&hcp[0]).abs() < 0.9)
                .copied(),
        );
        if let Some(from) = b.and_then(|b| triad(&a, &b)) {
            let angle = a.dot(&b.unwrap_or(a));
            for c in &hcp {
                for d in &hcp {
                    if (c.dot(d) - angle).abs() > 1e-9 {
                        continue;
                    }
                    let Some(to) = triad(c, d) else { continue };
                    let r = to * from.transpose();
                    if keeps(&r, &hcp) && !hexagonal.iter().any(|h| (h - r).norm() < 1e-9) {
                        hexagonal.push(r);
                    }
                }
            }
        }
        // fcc against hcp: R_fcc S1 against R_hcp S2, i.e. R_fcc^T R_hcp against S1 S2^T.
        let mut mixed: Vec<Matrix3<f64>> = Vec::new();
        for s1 in &cubic {
            for s2 in &hexagonal {
                let r = s2 * s1.transpose();
                if !mixed.iter().any(|h| (h - r).norm() < 1e-9) {
                    mixed.push(r);
                }
            }
        }
        Self {
            fcc,
            hcp,
            bcc,
            cubic,
            hexagonal,
            mixed_inverse: mixed.iter().map(|m| m.transpose()).collect(),
            mixed,
        }
    }

    /// The symmetry group for comparing two structures, or None if they never share a grain.
    fn joint_symmetry(&self, a: Structure, b: Structure) -> Option<&[Matrix3<f64>]> {
        use Structure::*;
        match (a, b) {
            (Hcp, Hcp) => Some(&self.hexagonal),
            (Fcc, Fcc) | (Bcc, Bcc) => Some(&self.cubic),
            (Fcc, Hcp) => Some(&self.mixed),
            (Hcp, Fcc) => Some(&self.mixed_inverse),
            _ => None,
        }
    }

    /// Rotation R with neighbour directions ~ R x template, for a crystalline atom.
    fn orientation(&self, s: Structure, vectors: &[[f64; 3]]) -> Option<Matrix3<f64>> {
        let template = match s {
            Structure::Fcc => &self.fcc,
            Structure::Hcp => &self.hcp,
            Structure::Bcc => &self.bcc,
            _ => return None,
        };
        let m = template.len();
        if vectors.len() < m {
            return None;
        }
        let u: Vec<Vector3<f64>> = vectors[..m]
            .iter()
            .map(|v| Vector3::new(v[0], v[1], v[2]).normalize())
            .collect();
        // Two non-collinear neighbours fix a trial rotation for each pair of template
        // directions at the same angle; the first trial that matches every neighbour to a
        // distinct template direction gives the correspondence.
        let n0 = u[0];
        let n1 = *u[1..].iter().find(|v| v.dot(&n0).abs() < 0.9)?;
        let angle = n0.dot(&n1);
        let lab = triad(&n0, &n1)?;
        for ta in template {
            for tb in template {
                if (ta.dot(tb) - angle).abs() > 0.2 {
                    continue;
                }
                let Some(t) = triad(ta, tb) else { continue };
                let r = lab * t.transpose();
                if let Some(map) = assign(&r, template, &u) {
                    return Some(kabsch(template, &u, &map));
                }
            }
        }
        None
    }
}

/// Orthonormal frame (as columns) built from two non-collinear vectors.
fn triad(a: &Vector3<f64>, b: &Vector3<f64>) -> Option<Matrix3<f64>> {
    let e1 = a.normalize();
    let c = a.cross(b);
    if c.norm() < 1e-6 {
        return None;
    }
    let e3 = c.normalize();
    let e2 = e3.cross(&e1);
    Some(Matrix3::from_columns(&[e1, e2, e3]))
}

/// Each neighbour matched to the nearest rotated template direction; None unless one-to-one.
fn assign(r: &Matrix3<f64>, template: &[Vector3<f64>], u: &[Vector3<f64>]) -> Option<Vec<usize>> {
    let rotated: Vec<Vector3<f64>> = template.iter().map(|t| r * t).collect();
    let mut used = vec![false; template.len()];
    let mut map = Vec::with_capacity(u.len());
    for v in u {
        let (best, cos) = rotated
            .iter()
            .enumerate()
            .map(|(k, t)| (k, t.dot(v)))
            .fold((0, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a });
        // within about 25 degrees of its ideal direction
        if used[best] || cos < 0.9 {
            return None;
        }
        used[best] = true;
        map.push(best);
    }
    Some(map)
}

/// Least-squares rotation R (det +1) minimising sum |R t_map(k) - u_k|^2 (Kabsch).
fn kabsch(template: &[Vector3<f64>], u: &[Vector3<f64>], map: &[usize]) -> Matrix3<f64> {
    let mut h = Matrix3::zeros();
    for (v, &k) in u.iter().zip(map) {
        h += v * template[k].transpose();
    }
    let svd = h.svd(true, true);
    let (Some(uu), Some(vt)) = (svd.u, svd.v_t) else {
        return Matrix3::identity();
    };
    let d = (uu * vt).determinant().signum();
    uu * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * vt
}

/// cos of the smallest rotation angle between two orientations under a symmetry group.
fn cos_misorientation(a: &Matrix3<f64>, b: &Matrix3<f64>, group: &[Matrix3<f64>]) -> f64 {
    let delta = a.transpose() * b;
    let best = group
        .iter()
        .map(|s| (delta * s).trace())
        .fold(f64::NEG_INFINITY, f64::max);
    ((best - 1.0) / 2.0).clamp(-1.0, 1.0)
}

/// Misorientation angle (degrees) between two lattice orientations of the same cubic lattice.
pub fn cubic_misorientation_deg(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> f64 {
    let m = |x: &[[f64; 3]; 3]| Matrix3::from_fn(|r, c| x[r][c]);
    let t = Templates::new();
    cos_misorientation(&m(a), &m(b), &t.cubic)
        .acos()
        .to_degrees()
}

struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
        }
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // the smaller index becomes the root: labels independent of visiting order
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_have_the_expected_orders() {
        let t = Templates::new();
        assert_eq!(t.cubic.len(), 24);
        // D3: the threefold axis along [111] and three twofold axes in the close-packed plane,
        // of which only the threefold rotations are also rotations of the cube.
        assert_eq!(t.hexagonal.len(), 6);
        let shared = t
            .hexagonal
            .iter()
            .filter(|h| t.cubic.iter().any(|c| (*h - c).norm() < 1e-9))
            .count();
        assert_eq!(shared, 3);
        // The hcp template is a real hcp shell: six in plane, three above, three mirrored below.
        let nrm = Vector3::new(1.0, 1.0, 1.0).normalize();
        let above = t.hcp.iter().filter(|v| v.dot(&nrm) > 0.1).count();
        let below = t.hcp.iter().filter(|v| v.dot(&nrm) < -0.1).count();
        assert_eq!((above, below), (3, 3));
    }
}

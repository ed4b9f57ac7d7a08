//! Comparing two models of one particle (aet.md): rigid alignment (Kabsch, iterated with
//! one-to-one pairing), affine refinement, pairing within a distance, and the consistency
//! and precision measures. [`pair_models`] is the pairing that nuclei tracking reuses.

use std::collections::HashMap;

use nalgebra::{Matrix3, Matrix4, Vector3, Vector4};
use nucleate_core::Frame;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{AetError, Result};
use crate::model::random_rotation;

/// One pair: index in A, index in B, distance (A).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pair {
    /// Atom index in model A.
    pub index_a: usize,
    /// Atom index in model B.
    pub index_b: usize,
    /// Distance after alignment (A).
    pub distance_a: f64,
}

/// An affine map x -> M x + t (a rigid one when M is a rotation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Transform {
    /// Linear part, row-major.
    pub matrix: [[f64; 3]; 3],
    /// Translation (A).
    pub translation: [f64; 3],
}

impl Transform {
    /// The identity.
    pub fn identity() -> Self {
        Self {
            matrix: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            translation: [0.0; 3],
        }
    }

    /// Apply to a point.
    pub fn apply(&self, p: [f64; 3]) -> [f64; 3] {
        let m = &self.matrix;
        let mut q = self.translation;
        for r in 0..3 {
            q[r] += m[r][0] * p[0] + m[r][1] * p[1] + m[r][2] * p[2];
        }
        q
    }

    /// Rotation angle (degrees) of the linear part, for rigid transforms.
    pub fn rotation_angle_deg(&self) -> f64 {
        let tr = self.matrix[0][0] + self.matrix[1][1] + self.matrix[2][2];
        ((tr - 1.0) / 2.0).clamp(-1.0, 1.0).acos().to_degrees()
    }
}

fn dist2(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum()
}

/// One-to-one pairs of points of `a` and `b` closer than `max_distance_a`, closest first
/// (greedy on the sorted candidate list, so each atom keeps its nearest free partner).
pub fn pair_models(a: &[[f64; 3]], b: &[[f64; 3]], max_distance_a: f64) -> Vec<Pair> {
    let cell = max_distance_a.max(1e-6);
    let key = |p: [f64; 3]| {
        [
            (p[0] / cell).floor() as i64,
            (p[1] / cell).floor() as i64,
            (p[2] / cell).floor() as i64,
        ]
    };
    let mut grid: HashMap<[i64; 3], Vec<usize>> = HashMap::new();
    for (j, p) in b.iter().enumerate() {
        grid.entry(key(*p)).or_default().push(j);
    }
    let r2 = max_distance_a * max_distance_a;
    let mut cand = Vec::new();
    for (i, p) in a.iter().enumerate() {
        let k = key(*p);
        for dz in -1..=1 {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    if let Some(list) = grid.get(&[k[0] + dx, k[1] + dy, k[2] + dz]) {
                        for &j in list {
                            let d2 = dist2(*p, b[j]);
                            if d2 <= r2 {
                                cand.push((d2, i, j));
                            }
                        }
                    }
                }
            }
        }
    }
    cand.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
    let mut used_a = vec![false; a.len()];
    let mut used_b = vec![false; b.len()];
    let mut pairs = Vec::new();
    for (d2, i, j) in cand {
        if !used_a[i] && !used_b[j] {
            used_a[i] = true;
            used_b[j] = true;
            pairs.push(Pair {
                index_a: i,
                index_b: j,
                distance_a: d2.sqrt(),
            });
        }
    }
    pairs.sort_by_key(|p| p.index_a);
    pairs
}

/// The rotation and translation minimising sum |R q_i + t - p_i|^2 (Kabsch, by SVD).
pub fn kabsch(p: &[[f64; 3]], q: &[[f64; 3]]) -> Transform {
    let n = p.len().min(q.len()).max(1) as f64;
    let cp = p
        .iter()
        .fold(Vector3::zeros(), |s, v| s + Vector3::from(*v))
        / n;
    let cq = q
        .iter()
        .fold(Vector3::zeros(), |s, v| s + Vector3::from(*v))
        / n;
    let mut h = Matrix3::zeros();
    for (a, b) in p.iter().zip(q) {
        h += (Vector3::from(*b) - cq) * (Vector3::from(*a) - cp).transpose();
    }
    let svd = h.svd(true, true);
    let (Some(u), Some(vt)) = (svd.u, svd.v_t) else {
        return Transform::identity();
    };
    let v = vt.transpose();
    let d = (v * u.transpose()).determinant().signum();
    let r = v * Matrix3::from_diagonal(&Vector3::new(1.0, 1.0, d)) * u.transpose();
    let t = cp - r * cq;
    to_transform(&r, &t)
}

fn to_transform(r: &Matrix3<f64>, t: &Vector3<f64>) -> Transform {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = r[(i, j)];
        }
    }
    Transform {
        matrix: m,
        translation: [t[0], t[1], t[2]],
    }
}

/// The affine map minimising sum |M q_i + t - p_i|^2 (linear least squares).
pub fn fit_affine(p: &[[f64; 3]], q: &[[f64; 3]]) -> Option<Transform> {
    let mut ata = Matrix4::<f64>::zeros();
    let mut atb = [Vector4::<f64>::zeros(); 3];
    for (a, b) in p.iter().zip(q) {
        let x = Vector4::new(b[0], b[1], b[2], 1.0);
        ata += x * x.transpose();
        for r in 0..3 {
            atb[r] += x * a[r];
        }
    }
    let inv = ata.try_inverse()?;
    let mut t = Transform::identity();
    for r in 0..3 {
        let s = inv * atb[r];
        t.matrix[r] = [s[0], s[1], s[2]];
        t.translation[r] = s[3];
    }
    Some(t)
}

/// Alignment parameters.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CompareParams {
    /// Pairing distance (A).
    pub pair_distance_a: f64,
    /// Random starting rotations tried besides the identity (for particles that moved).
    pub start_rotations: usize,
    /// Refine with an affine map after the rigid alignment.
    pub affine: bool,
    /// Seed of the starting rotations.
    pub seed: u64,
}

impl Default for CompareParams {
    fn default() -> Self {
        Self {
            pair_distance_a: 1.4,
            start_rotations: 300,
            affine: true,
            seed: 1,
        }
    }
}

/// Result of comparing two models.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// Atoms in A.
    pub n_a: usize,
    /// Atoms in B.
    pub n_b: usize,
    /// One-to-one pairs after the final alignment.
    pub pairs: Vec<Pair>,
    /// Whether each pair has the same species.
    pub same_species: Vec<bool>,
    /// The rigid map that takes B onto A.
    pub rigid: Transform,
    /// The final (affine, or rigid) map that takes B onto A.
    pub transform: Transform,
    /// B's positions after the final map.
    pub b_aligned: Vec<[f64; 3]>,
}

impl Comparison {
    /// Number of pairs.
    pub fn paired(&self) -> usize {
        self.pairs.len()
    }
    /// 2 x paired / (N_a + N_b).
    pub fn consistent_fraction(&self) -> f64 {
        2.0 * self.paired() as f64 / (self.n_a + self.n_b).max(1) as f64
    }
    /// Fraction of pairs with the same species.
    pub fn species_agreement(&self) -> f64 {
        self.same_species.iter().filter(|&&s| s).count() as f64 / self.paired().max(1) as f64
    }
    /// Mean pair distance (A).
    pub fn mean_deviation_a(&self) -> f64 {
        self.pairs.iter().map(|p| p.distance_a).sum::<f64>() / self.paired().max(1) as f64
    }
    /// Precision of one model: mean deviation / sqrt(2) (A).
    pub fn precision_a(&self) -> f64 {
        self.mean_deviation_a() / 2f64.sqrt()
    }
}

fn centroid(p: &[[f64; 3]]) -> [f64; 3] {
    let n = p.len().max(1) as f64;
    let mut c = [0.0; 3];
    for q in p {
        for k in 0..3 {
            c[k] += q[k] / n;
        }
    }
    c
}

/// Score of an alignment: (pairs of the same species, pairs). Species break the symmetry
/// of a faceted fcc particle, whose 24 cubic rotations pair the sites equally well.
fn score(a: &Frame, b: &Frame, moved: &[[f64; 3]], dist: f64) -> (usize, usize) {
    let pairs = pair_models(&a.positions, moved, dist);
    let same = pairs
        .iter()
        .filter(|p| a.species_of(p.index_a) == b.species_of(p.index_b))
        .count();
    (same, pairs.len())
}

/// Iterated closest-pair Kabsch from `start`; returns the map and its final score.
fn icp(fa: &Frame, fb: &Frame, start: Transform, dist: f64) -> (Transform, (usize, usize)) {
    let (a, b) = (&fa.positions[..], &fb.positions[..]);
    let mut t = start;
    let mut last = 0;
    for round in 0..50 {
        let moved: Vec<[f64; 3]> = b.iter().map(|p| t.apply(*p)).collect();
        // Looser pairing first to pull in, then the requested distance.
        let d = if round < 5 { 2.0 * dist } else { dist };
        let pairs = pair_models(a, &moved, d);
        if pairs.len() < 3 {
            return (t, (0, pairs.len()));
        }
        let pa: Vec<[f64; 3]> = pairs.iter().map(|p| a[p.index_a]).collect();
        let pb: Vec<[f64; 3]> = pairs.iter().map(|p| b[p.index_b]).collect();
        let next = kabsch(&pa, &pb);
        let shift: f64 = b
            .iter()
            .take(50)
            .map(|p| dist2(next.apply(*p), t.apply(*p)))
            .sum();
        t = next;
        if round >= 5 && pairs.len() == last && shift < 1e-16 {
            break;
        }
        last = pairs.len();
    }
    let moved: Vec<[f64; 3]> = b.iter().map(|p| t.apply(*p)).collect();
    (t, score(fa, fb, &moved, dist))
}

/// Align B onto A and pair the two models.
pub fn compare_models(a: &Frame, b: &Frame, params: &CompareParams) -> Result<Comparison> {
    if a.is_empty() || b.is_empty() {
        return Err(AetError::Invalid(
            "both models need atoms to be compared".into(),
        ));
    }
    let (pa, pb) = (&a.positions, &b.positions);
    let (ca, cb) = (centroid(pa), centroid(pb));
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let mut rotations = vec![Transform::identity().matrix];
    for _ in 0..params.start_rotations {
        rotations.push(random_rotation(&mut rng));
    }
    // Score each starting rotation (about B's centroid, onto A's) by pairs at 1.5 x distance.
    let mut scored: Vec<((usize, usize), Transform)> = rotations
        .iter()
        .map(|m| {
            let mut t = Transform {
                matrix: *m,
                translation: [0.0; 3],
            };
            let rc = t.apply(cb);
            t.translation = [ca[0] - rc[0], ca[1] - rc[1], ca[2] - rc[2]];
            let moved: Vec<[f64; 3]> = pb.iter().map(|p| t.apply(*p)).collect();
            (score(a, b, &moved, 1.5 * params.pair_distance_a), t)
        })
        .collect();
    // Rank starts by geometric fit (pairs), the identity first among equals so models in one
    // frame stay unrotated; the species then pick among symmetric equivalents after ICP.
    scored.sort_by_key(|s| std::cmp::Reverse(s.0 .1));
    let mut starts: Vec<Transform> = scored.iter().take(10).map(|s| s.1).collect();
    scored.sort_by_key(|s| std::cmp::Reverse(s.0 .0));
    starts.extend(scored.iter().take(10).map(|s| s.1));
    let mut best = (Transform::identity(), (0usize, 0usize));
    for start in &starts {
        let (t, n) = icp(a, b, *start, params.pair_distance_a);
        if n > best.1 {
            best = (t, n);
        }
    }
    let rigid = best.0;
    let mut transform = rigid;
    if params.affine {
        for _ in 0..5 {
            let moved: Vec<[f64; 3]> = pb.iter().map(|p| transform.apply(*p)).collect();
            let pairs = pair_models(pa, &moved, params.pair_distance_a);
            if pairs.len() < 12 {
                break;
            }
            let qa: Vec<[f64; 3]> = pairs.iter().map(|p| pa[p.index_a]).collect();
            let qb: Vec<[f64; 3]> = pairs.iter().map(|p| pb[p.index_b]).collect();
            match fit_affine(&qa, &qb) {
                Some(t) => transform = t,
                None => break,
            }
        }
    }
    let b_aligned: Vec<[f64; 3]> = pb.iter().map(|p| transform.apply(*p)).collect();
    let pairs = pair_models(pa, &b_aligned, params.pair_distance_a);
    let same_species = pairs
        .iter()
        .map(|p| a.species_of(p.index_a) == b.species_of(p.index_b))
        .collect();
    Ok(Comparison {
        n_a: a.len(),
        n_b: b.len(),
        pairs,
        same_species,
        rigid,
        transform,
        b_aligned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_is_one_to_one_and_closest_first() {
        let a = [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]];
        let b = [[0.9, 0.0, 0.0], [0.2, 0.0, 0.0], [5.0, 0.0, 0.0]];
        let p = pair_models(&a, &b, 1.4);
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].index_a, p[0].index_b), (0, 1));
        assert_eq!((p[1].index_a, p[1].index_b), (1, 0));
    }

    #[test]
    fn kabsch_recovers_a_rotation() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let r = random_rotation(&mut rng);
        let t = Transform {
            matrix: r,
            translation: [1.0, -2.0, 0.5],
        };
        let q: Vec<[f64; 3]> = (0..10)
            .map(|i| [i as f64, (i * i) as f64 * 0.3, (i as f64).sin() * 4.0])
            .collect();
        let p: Vec<[f64; 3]> = q.iter().map(|x| t.apply(*x)).collect();
        let k = kabsch(&p, &q);
        for i in 0..3 {
            for j in 0..3 {
                assert!((k.matrix[i][j] - r[i][j]).abs() < 1e-9);
            }
            assert!((k.translation[i] - t.translation[i]).abs() < 1e-9);
        }
    }
}

/// Scores of a model against the truth in the same frame (no alignment): pairs within
/// `max_distance_a`, per species of the truth.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TruthScore {
    /// Species name ("all" for every atom).
    pub species: String,
    /// Truth atoms of this species.
    pub n_truth: usize,
    /// Fraction of truth atoms with a partner within the distance.
    pub found_fraction: f64,
    /// Fraction of model atoms (of this species) without a truth partner.
    pub false_positive_fraction: f64,
    /// Fraction of paired truth atoms whose partner has the same species.
    pub species_accuracy: f64,
    /// RMS distance of the pairs (A).
    pub rms_error_a: f64,
}

/// Score `model` against `truth` (both in A in one frame).
pub fn score_against_truth(truth: &Frame, model: &Frame, max_distance_a: f64) -> Vec<TruthScore> {
    let pairs = pair_models(&truth.positions, &model.positions, max_distance_a);
    let mut names: Vec<String> = vec!["all".into()];
    names.extend(truth.species_names.iter().cloned());
    names
        .iter()
        .map(|s| {
            let in_t = |i: usize| s == "all" || truth.species_of(i) == s;
            let in_m = |j: usize| s == "all" || model.species_of(j) == s;
            let n_truth = (0..truth.len()).filter(|&i| in_t(i)).count();
            let n_model = (0..model.len()).filter(|&j| in_m(j)).count();
            let mine: Vec<&Pair> = pairs.iter().filter(|p| in_t(p.index_a)).collect();
            let paired_model = pairs.iter().filter(|p| in_m(p.index_b)).count();
            let same = mine
                .iter()
                .filter(|p| truth.species_of(p.index_a) == model.species_of(p.index_b))
                .count();
            let ms =
                mine.iter().map(|p| p.distance_a.powi(2)).sum::<f64>() / mine.len().max(1) as f64;
            TruthScore {
                species: s.clone(),
                n_truth,
                found_fraction: mine.len() as f64 / n_truth.max(1) as f64,
                false_positive_fraction: (n_model - paired_model) as f64 / n_model.max(1) as f64,
                species_accuracy: same as f64 / mine.len().max(1) as f64,
                rms_error_a: ms.sqrt(),
            }
        })
        .collect()
}

//! Unsupervised classes of traced peaks: 1D k-means on integrated intensities (non-atom,
//! then species in increasing intensity), and local re-classification by comparing each
//! atom's intensity blob with the average blobs of each species around it.

/// Result of 1D k-means: centres sorted ascending, and a class per value.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans1D {
    /// Class centres, ascending.
    pub centres: Vec<f64>,
    /// Class of each value (index into `centres`).
    pub labels: Vec<usize>,
}

impl KMeans1D {
    /// Boundaries between consecutive classes (midpoints of the centres).
    pub fn boundaries(&self) -> Vec<f64> {
        self.centres
            .windows(2)
            .map(|w| 0.5 * (w[0] + w[1]))
            .collect()
    }
}

/// Lloyd's k-means in 1D, started from evenly spaced quantiles; deterministic.
pub fn kmeans_1d(values: &[f64], k: usize) -> KMeans1D {
    let k = k.max(1).min(values.len().max(1));
    if values.is_empty() {
        return KMeans1D {
            centres: vec![0.0; k],
            labels: Vec::new(),
        };
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut centres: Vec<f64> = (0..k)
        .map(|i| sorted[((i as f64 + 0.5) / k as f64 * sorted.len() as f64) as usize])
        .collect();
    let mut labels = vec![0; values.len()];
    for _ in 0..200 {
        let mut changed = false;
        for (l, v) in labels.iter_mut().zip(values) {
            let best = nearest(&centres, *v);
            if best != *l {
                *l = best;
                changed = true;
            }
        }
        let mut sum = vec![0.0; k];
        let mut cnt = vec![0usize; k];
        for (l, v) in labels.iter().zip(values) {
            sum[*l] += v;
            cnt[*l] += 1;
        }
        for c in 0..k {
            if cnt[c] > 0 {
                centres[c] = sum[c] / cnt[c] as f64;
            }
        }
        if !changed {
            break;
        }
    }
    // Keep centres ascending (quantile starts already are; empty classes may not be).
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| centres[a].total_cmp(&centres[b]));
    let mut rank = vec![0; k];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r;
    }
    KMeans1D {
        centres: order.iter().map(|&c| centres[c]).collect(),
        labels: labels.iter().map(|&l| rank[l]).collect(),
    }
}

fn nearest(centres: &[f64], v: f64) -> usize {
    let mut best = 0;
    for (c, x) in centres.iter().enumerate() {
        if (x - v).abs() < (centres[best] - v).abs() {
            best = c;
        }
    }
    best
}

/// Local re-classification: each atom takes the species whose average blob among atoms
/// within `radius_a` (itself included) is closest in L2 to its own blob; repeated until no
/// atom changes (at most `max_rounds`). `species[i]` is an index into the species; returns
/// the number of atoms that changed.
pub fn reclassify_locally(
    positions: &[[f64; 3]],
    blobs: &[Vec<f64>],
    species: &mut [usize],
    n_species: usize,
    radius_a: f64,
    max_rounds: usize,
) -> usize {
    let n = positions.len();
    let r2 = radius_a * radius_a;
    let neighbours: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| {
                    let d: f64 = (0..3)
                        .map(|a| (positions[i][a] - positions[j][a]).powi(2))
                        .sum();
                    d <= r2
                })
                .collect()
        })
        .collect();
    let len = blobs.first().map_or(0, Vec::len);
    let mut changed_total = 0;
    for _ in 0..max_rounds {
        let mut next = species.to_vec();
        for i in 0..n {
            let mut avg = vec![vec![0.0; len]; n_species];
            let mut cnt = vec![0usize; n_species];
            for &j in &neighbours[i] {
                let s = species[j];
                cnt[s] += 1;
                for (a, b) in avg[s].iter_mut().zip(&blobs[j]) {
                    *a += b;
                }
            }
            let mut best = species[i];
            let mut best_d = f64::INFINITY;
            for s in 0..n_species {
                if cnt[s] == 0 {
                    continue;
                }
                let d: f64 = avg[s]
                    .iter()
                    .zip(&blobs[i])
                    .map(|(a, b)| (a / cnt[s] as f64 - b).powi(2))
                    .sum();
                if d < best_d {
                    best_d = d;
                    best = s;
                }
            }
            next[i] = best;
        }
        let changed = next
            .iter()
            .zip(species.iter())
            .filter(|(a, b)| a != b)
            .count();
        species.copy_from_slice(&next);
        changed_total += changed;
        if changed == 0 {
            break;
        }
    }
    changed_total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kmeans_separates_three_populations() {
        let mut v = Vec::new();
        for i in 0..30 {
            v.push(5.0 + (i % 5) as f64);
            v.push(100.0 + (i % 7) as f64);
            v.push(400.0 + (i % 9) as f64);
        }
        let km = kmeans_1d(&v, 3);
        // Centres are the population means.
        for (c, (lo, hi)) in [(0.0, 50.0), (50.0, 300.0), (300.0, 1e9)]
            .iter()
            .enumerate()
        {
            let pop: Vec<f64> = v.iter().copied().filter(|x| x >= lo && x < hi).collect();
            let mean = pop.iter().sum::<f64>() / pop.len() as f64;
            assert!((km.centres[c] - mean).abs() < 1e-9);
        }
        for (l, x) in km.labels.iter().zip(&v) {
            assert_eq!(
                *l,
                if *x < 50.0 {
                    0
                } else if *x < 300.0 {
                    1
                } else {
                    2
                }
            );
        }
    }

    #[test]
    fn local_reclassification_fixes_an_outlier_label() {
        // Atoms on a line; blobs [1,1] (light) or [5,5] (heavy); atom 2 mislabelled.
        let pos: Vec<[f64; 3]> = (0..6).map(|i| [i as f64 * 2.5, 0.0, 0.0]).collect();
        let blobs: Vec<Vec<f64>> = [1.0, 5.0, 5.0, 1.0, 5.0, 1.0]
            .iter()
            .map(|&b| vec![b, b])
            .collect();
        let mut sp = vec![0, 1, 0, 0, 1, 0];
        let changed = reclassify_locally(&pos, &blobs, &mut sp, 2, 6.76, 10);
        assert_eq!(sp, vec![0, 1, 1, 0, 1, 0]);
        assert!(changed >= 1);
    }
}

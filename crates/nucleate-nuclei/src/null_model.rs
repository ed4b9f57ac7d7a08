//! Is a nucleus real? A null model that keeps everything but the order (nuclei.md): the
//! species are shuffled over the same sites (composition and shape kept), the order field and
//! the nuclei are recomputed, and the largest N_eff per family is recorded per shuffle. A
//! nucleus' p-value is the fraction of shuffles whose largest nucleus of its family reaches
//! its N_eff.
//!
//! The order field is recomputed by a caller-supplied function of the shuffled species, so this
//! module needs nothing of how the order is defined; the caller should make that function cheap
//! (precomputed kernel weights), since it runs once per shuffle. Shuffles run in parallel, each
//! with its own ChaCha8 stream (seed, shuffle index), so results do not depend on the number of
//! threads.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use nucleate_core::{Frame, NeighborList};

use crate::identify::{identify, ClimbParams};
use crate::NucleiError;

/// Which atoms exchange species in a shuffle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShuffleScope {
    /// Any eligible atom with any other.
    Whole,
    /// Only atoms in the same radial shell (width in Angstrom, from the centroid of the
    /// eligible atoms): keeps a composition gradient such as a Pt-rich core.
    RadialShells {
        /// Shell width (Angstrom).
        width_a: f64,
    },
}

/// Settings of [`species_shuffle`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NullParams {
    /// Number of shuffles.
    pub shuffles: usize,
    /// Seed of the shuffles.
    pub seed: u64,
    /// What is shuffled with what.
    pub scope: ShuffleScope,
}

impl Default for NullParams {
    fn default() -> Self {
        Self {
            shuffles: 100,
            seed: 0,
            scope: ShuffleScope::Whole,
        }
    }
}

/// Largest N_eff per family in each shuffled particle.
#[derive(Debug, Clone, PartialEq)]
pub struct NullDistribution {
    /// `largest[s][f]`: the largest N_eff of a nucleus of family f in shuffle s (0 if none).
    pub largest: Vec<Vec<f64>>,
    /// Number of families.
    pub n_families: usize,
}

impl NullDistribution {
    /// Number of shuffles.
    pub fn len(&self) -> usize {
        self.largest.len()
    }

    /// Whether no shuffle was made.
    pub fn is_empty(&self) -> bool {
        self.largest.is_empty()
    }

    /// Fraction of shuffles whose largest nucleus of `family` has N_eff >= `n_eff`
    /// (None without shuffles).
    pub fn p_value(&self, family: usize, n_eff: f64) -> Option<f64> {
        if self.largest.is_empty() || family >= self.n_families {
            return None;
        }
        let hits = self.largest.iter().filter(|l| l[family] >= n_eff).count();
        Some(hits as f64 / self.largest.len() as f64)
    }

    /// The q-quantile (0..=1, nearest rank) of the largest N_eff of `family` over shuffles.
    pub fn quantile(&self, family: usize, q: f64) -> Option<f64> {
        if self.largest.is_empty() || family >= self.n_families {
            return None;
        }
        let mut v: Vec<f64> = self.largest.iter().map(|l| l[family]).collect();
        v.sort_by(f64::total_cmp);
        let k = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        Some(v[k])
    }
}

/// Groups of atoms that exchange species.
fn groups(frame: &Frame, eligible: &[bool], scope: ShuffleScope) -> Vec<Vec<usize>> {
    let idx: Vec<usize> = (0..eligible.len()).filter(|&i| eligible[i]).collect();
    match scope {
        ShuffleScope::Whole => vec![idx],
        ShuffleScope::RadialShells { width_a } => {
            let m = idx.len().max(1) as f64;
            let mut c = [0.0; 3];
            for &i in &idx {
                for d in 0..3 {
                    c[d] += frame.positions[i][d] / m;
                }
            }
            let mut shells: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
            for &i in &idx {
                let p = frame.positions[i];
                let r =
                    ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
                shells.entry((r / width_a) as usize).or_default().push(i);
            }
            shells.into_values().collect()
        }
    }
}

/// The species of `species` with the values of each group permuted at random (stream `stream`
/// of `seed`).
pub fn shuffled_species(
    species: &[u16],
    groups: &[Vec<usize>],
    seed: u64,
    stream: u64,
) -> Vec<u16> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    let mut out = species.to_vec();
    for g in groups {
        let mut vals: Vec<u16> = g.iter().map(|&i| species[i]).collect();
        vals.shuffle(&mut rng);
        for (&i, v) in g.iter().zip(vals) {
            out[i] = v;
        }
    }
    out
}

/// Shuffle `species` over the `eligible` atoms `params.shuffles` times; for each shuffle
/// compute the order field and phases with `field`, identify nuclei with `climb` on `list` (a
/// cutoff list of radius >= R), and record the largest N_eff per family (`family_of` maps a
/// phase to a family index < `n_families`, None for phases that are not nuclei, such as an
/// "unmapped" label).
#[allow(clippy::too_many_arguments)]
pub fn species_shuffle<F>(
    frame: &Frame,
    list: &NeighborList,
    species: &[u16],
    eligible: &[bool],
    climb: &ClimbParams,
    params: &NullParams,
    n_families: usize,
    family_of: &(dyn Fn(u16) -> Option<usize> + Sync),
    field: F,
) -> Result<NullDistribution, NucleiError>
where
    F: Fn(&[u16]) -> Result<(Vec<f64>, Vec<u16>), String> + Sync,
{
    climb.validate()?;
    let n = frame.len();
    if species.len() != n || eligible.len() != n {
        return Err(NucleiError::Mismatch(format!(
            "{n} atoms, {} species, {} eligibility flags",
            species.len(),
            eligible.len()
        )));
    }
    if let ShuffleScope::RadialShells { width_a } = params.scope {
        if !(width_a.is_finite() && width_a > 0.0) {
            return Err(NucleiError::Parameter(format!(
                "shell width must be positive, got {width_a} A"
            )));
        }
    }
    let groups = groups(frame, eligible, params.scope);
    let largest = (0..params.shuffles)
        .into_par_iter()
        .map(|s| {
            let sp = shuffled_species(species, &groups, params.seed, s as u64);
            let (order, phase) = field(&sp).map_err(NucleiError::Parameter)?;
            let ident = identify(frame, list, &order, &phase, climb)?;
            let mut best = vec![0.0; n_families];
            for nu in &ident.nuclei {
                if let Some(f) = family_of(phase[nu.peak as usize]) {
                    let n_eff: f64 = nu.members.iter().map(|&m| ident.order[m as usize]).sum();
                    if f < n_families && n_eff > best[f] {
                        best[f] = n_eff;
                    }
                }
            }
            Ok(best)
        })
        .collect::<Result<Vec<_>, NucleiError>>()?;
    Ok(NullDistribution {
        largest,
        n_families,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_value_and_quantile_count_shuffles() {
        let d = NullDistribution {
            largest: vec![vec![1.0], vec![5.0], vec![3.0], vec![0.0]],
            n_families: 1,
        };
        assert_eq!(d.p_value(0, 3.0), Some(0.5));
        assert_eq!(d.p_value(0, 6.0), Some(0.0));
        assert_eq!(d.p_value(0, 0.0), Some(1.0));
        assert_eq!(d.quantile(0, 0.5), Some(1.0));
        assert_eq!(d.quantile(0, 1.0), Some(5.0));
        assert_eq!(d.p_value(1, 1.0), None);
    }

    #[test]
    fn shuffles_keep_composition_within_groups() {
        let species: Vec<u16> = (0..40).map(|i| (i % 3 == 0) as u16).collect();
        let g = vec![(0..20).collect::<Vec<_>>(), (20..40).collect()];
        let a = shuffled_species(&species, &g, 9, 1);
        let b = shuffled_species(&species, &g, 9, 1);
        let c = shuffled_species(&species, &g, 9, 2);
        assert_eq!(a, b);
        assert_ne!(a, c);
        for grp in &g {
            let count = |v: &[u16]| grp.iter().filter(|&&i| v[i] == 1).count();
            assert_eq!(count(&a), count(&species));
        }
    }
}

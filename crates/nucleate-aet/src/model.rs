//! Test particles with known truth: faceted fcc binary nanoparticles (seeded).

use nucleate_core::{Frame, SimBox};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::error::{AetError, Result};

/// A faceted fcc particle: {111} facets at `radius_a`, {100} facets at 0.9 x `radius_a`
/// (a truncated octahedron), species drawn per site from a radial composition profile.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParticleParams {
    /// Distance of the {111} facets from the centre (A); the diameter is about twice this.
    pub radius_a: f64,
    /// fcc lattice constant (A); 3.87 for FePt.
    pub lattice_a: f64,
    /// Light and heavy species names (e.g. Fe, Pt).
    pub species: [String; 2],
    /// Fraction of heavy atoms at the centre.
    pub heavy_fraction_core: f64,
    /// Fraction of heavy atoms at the surface (linear in radius between the two).
    pub heavy_fraction_surface: f64,
    /// RMS static displacement per coordinate (A).
    pub displacement_rms_a: f64,
    /// Rotate the lattice by a uniformly random rotation.
    pub random_orientation: bool,
    /// Particle centre (A).
    pub centre_a: [f64; 3],
    /// Seed.
    pub seed: u64,
}

impl Default for ParticleParams {
    fn default() -> Self {
        Self {
            radius_a: 10.0,
            lattice_a: 3.87,
            species: ["Fe".into(), "Pt".into()],
            heavy_fraction_core: 0.5,
            heavy_fraction_surface: 0.5,
            displacement_rms_a: 0.0,
            random_orientation: true,
            centre_a: [0.0; 3],
            seed: 1,
        }
    }
}

/// A uniformly random rotation matrix (from a random unit quaternion).
pub fn random_rotation(rng: &mut impl Rng) -> [[f64; 3]; 3] {
    let n = Normal::new(0.0, 1.0).unwrap_or_else(|_| unreachable!());
    let mut q = [0.0f64; 4];
    let mut norm = 0.0;
    while norm < 1e-6 {
        for v in q.iter_mut() {
            *v = n.sample(rng);
        }
        norm = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    }
    let [w, x, y, z] = q.map(|v| v / norm);
    [
        [
            1.0 - 2.0 * (y * y + z * z),
            2.0 * (x * y - w * z),
            2.0 * (x * z + w * y),
        ],
        [
            2.0 * (x * y + w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z - w * x),
        ],
        [
            2.0 * (x * z - w * y),
            2.0 * (y * z + w * x),
            1.0 - 2.0 * (x * x + y * y),
        ],
    ]
}

/// Generate the particle as a frame in an open box `box_a` wide (A) on each side.
pub fn faceted_particle(p: &ParticleParams, box_a: f64) -> Result<Frame> {
    if !(p.radius_a > 0.0 && p.lattice_a > 0.0) {
        return Err(AetError::Invalid(
            "particle radius and lattice constant must be positive".into(),
        ));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let rot = if p.random_orientation {
        random_rotation(&mut rng)
    } else {
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    };
    let disp = Normal::new(0.0, p.displacement_rms_a.max(0.0)).unwrap_or_else(|_| unreachable!());
    let basis = [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
    ];
    let cells = (p.radius_a / p.lattice_a).ceil() as i64 + 1;
    let mut pos = Vec::new();
    let mut species = Vec::new();
    for i in -cells..=cells {
        for j in -cells..=cells {
            for k in -cells..=cells {
                for b in &basis {
                    let r = [
                        (i as f64 + b[0]) * p.lattice_a,
                        (j as f64 + b[1]) * p.lattice_a,
                        (k as f64 + b[2]) * p.lattice_a,
                    ];
                    let s111 = (r[0].abs() + r[1].abs() + r[2].abs()) / 3f64.sqrt();
                    let s100 = r.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                    if s111 > p.radius_a + 1e-9 || s100 > 0.9 * p.radius_a + 1e-9 {
                        continue;
                    }
                    let rr = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt() / p.radius_a;
                    let f = p.heavy_fraction_core
                        + (p.heavy_fraction_surface - p.heavy_fraction_core) * rr.min(1.0);
                    let heavy = rng.gen::<f64>() < f;
                    let mut q = [0.0; 3];
                    for a in 0..3 {
                        q[a] =
                            p.centre_a[a] + rot[a][0] * r[0] + rot[a][1] * r[1] + rot[a][2] * r[2];
                        if p.displacement_rms_a > 0.0 {
                            q[a] += disp.sample(&mut rng);
                        }
                    }
                    pos.push(q);
                    species.push(if heavy {
                        p.species[1].as_str()
                    } else {
                        p.species[0].as_str()
                    });
                }
            }
        }
    }
    let cell = SimBox::orthorhombic([box_a; 3], [false; 3])?;
    Ok(Frame::new(pos, &species, cell)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn particle_is_fcc_seeded_and_faceted() {
        let p = ParticleParams {
            radius_a: 9.0,
            centre_a: [20.0; 3],
            ..Default::default()
        };
        let f = faceted_particle(&p, 40.0).unwrap();
        let g = faceted_particle(&p, 40.0).unwrap();
        assert_eq!(f, g);
        assert!(f.len() > 100);
        // Nearest-neighbour distance of fcc: a / sqrt(2).
        let d0 = 3.87 / 2f64.sqrt();
        for i in 0..f.len().min(20) {
            let mut best = f64::INFINITY;
            for j in 0..f.len() {
                if i != j {
                    let d: f64 = (0..3)
                        .map(|a| (f.positions[i][a] - f.positions[j][a]).powi(2))
                        .sum();
                    best = best.min(d.sqrt());
                }
            }
            assert!((best - d0).abs() < 1e-9);
        }
        let heavy = f
            .species
            .iter()
            .filter(|&&s| f.species_names[s as usize] == "Pt")
            .count();
        let frac = heavy as f64 / f.len() as f64;
        assert!((frac - 0.5).abs() < 0.1, "{frac}");
    }
}

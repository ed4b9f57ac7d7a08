//! Comparing two models of one particle: noise realisations and a rigid move, against the
//! known truth.

use nucleate_aet::compare::{compare_models, CompareParams, Transform};
use nucleate_aet::model::{faceted_particle, ParticleParams};
use nucleate_core::Frame;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

fn particle() -> Frame {
    faceted_particle(
        &ParticleParams {
            radius_a: 9.0,
            centre_a: [20.0; 3],
            ..Default::default()
        },
        40.0,
    )
    .unwrap()
}

fn jitter(f: &Frame, sigma: f64, seed: u64) -> Frame {
    let mut g = f.clone();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let d = Normal::new(0.0, sigma).unwrap();
    for p in &mut g.positions {
        for v in p.iter_mut() {
            *v += d.sample(&mut rng);
        }
    }
    g
}

/// Two measurements with independent errors sigma per coordinate: the pair distance follows
/// a Maxwell distribution of scale sigma sqrt(2), mean 4 sigma / sqrt(pi), so the precision
/// mean / sqrt(2) is 2 sqrt(2) sigma / sqrt(pi) = 1.596 sigma.
fn expected_precision(sigma: f64) -> f64 {
    2.0 * 2f64.sqrt() * sigma / std::f64::consts::PI.sqrt()
}

#[test]
fn two_noise_realisations_give_the_expected_precision() {
    let truth = particle();
    let sigma = 0.1;
    let a = jitter(&truth, sigma, 1);
    let b = jitter(&truth, sigma, 2);
    let c = compare_models(&a, &b, &CompareParams::default()).unwrap();
    assert_eq!(c.paired(), truth.len());
    assert!((c.consistent_fraction() - 1.0).abs() < 1e-12);
    assert!((c.species_agreement() - 1.0).abs() < 1e-12);
    // The rigid map stays near the identity: no rotation, no shift.
    assert!(c.rigid.rotation_angle_deg() < 0.5);
    assert!(c.rigid.translation.iter().all(|t| t.abs() < 0.2));
    // Sampling error of the mean over ~300 pairs is ~3%; alignment absorbs a little more.
    let want = expected_precision(sigma);
    assert!(
        (c.precision_a() - want).abs() < 0.12 * want,
        "{} vs {want}",
        c.precision_a()
    );
}

#[test]
fn a_rigidly_moved_particle_is_found_and_its_move_recovered() {
    let truth = particle();
    let a = jitter(&truth, 0.05, 3);
    // 10 degrees about an oblique axis: a particle that turned a little between measurements.
    let (ax, ang) = ([0.48f64, -0.6, 0.64], 10f64.to_radians());
    let norm = ax.iter().map(|v| v * v).sum::<f64>().sqrt();
    let [x, y, z] = ax.map(|v| v / norm);
    let (c, s) = (ang.cos(), ang.sin());
    let rot = [
        [
            c + x * x * (1.0 - c),
            x * y * (1.0 - c) - z * s,
            x * z * (1.0 - c) + y * s,
        ],
        [
            y * x * (1.0 - c) + z * s,
            c + y * y * (1.0 - c),
            y * z * (1.0 - c) - x * s,
        ],
        [
            z * x * (1.0 - c) - y * s,
            z * y * (1.0 - c) + x * s,
            c + z * z * (1.0 - c),
        ],
    ];
    let mv = Transform {
        matrix: rot,
        translation: [3.0, -2.0, 1.5],
    };
    let mut b = jitter(&truth, 0.05, 4);
    for p in &mut b.positions {
        *p = mv.apply(*p);
    }
    let c = compare_models(&a, &b, &CompareParams::default()).unwrap();
    assert!(
        c.consistent_fraction() > 0.99,
        "{}",
        c.consistent_fraction()
    );
    // The recovered rigid map is the inverse move: R^T and -R^T t.
    for i in 0..3 {
        for j in 0..3 {
            assert!(
                (c.rigid.matrix[i][j] - rot[j][i]).abs() < 0.01,
                "{:?} vs {rot:?}",
                c.rigid.matrix
            );
        }
    }
    let back = c.rigid.apply(mv.apply([20.0; 3]));
    assert!(back.iter().all(|v| (v - 20.0).abs() < 0.05), "{back:?}");
    let want = expected_precision(0.05);
    assert!(
        (c.precision_a() - want).abs() < 0.15 * want,
        "{} vs {want}",
        c.precision_a()
    );
}

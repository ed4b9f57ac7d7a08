//! The Monte Carlo size-distribution fit on curves of known multimodal distributions.

use nucleate_reactor::saxs::{
    bragg_peaks, mesophase, monte_carlo_fit, sphere_form_factor, synthetic_curve, McParams,
    SaxsData,
};

/// Two populations (mean radius nm, sd nm, volume fraction), volume-weighted Gaussians.
const TRUE: [(f64, f64, f64); 2] = [(2.5, 0.25, 0.004), (7.0, 0.7, 0.006)];

fn curve(seed: u64) -> SaxsData {
    // 150 log-spaced q from 0.05 to 3 1/nm, 1 % Gaussian noise, flat background 1e-4 1/cm.
    let q: Vec<f64> = (0..150)
        .map(|i| 0.05 * (3.0f64 / 0.05).powf(i as f64 / 149.0))
        .collect();
    synthetic_curve(&q, &TRUE, 1e-4, 0.01, seed)
}

#[test]
fn form_factor_limits() {
    assert!((sphere_form_factor(1e-9, 5.0) - 1.0).abs() < 1e-12);
    // First zero of the sphere amplitude at qr = 4.4934.
    assert!(sphere_form_factor(4.493_409_457_9 / 5.0, 5.0) < 1e-18);
    // Series and closed form agree across the switch at qr = 1e-3.
    let (a, b) = (
        sphere_form_factor(0.999e-3, 1.0),
        sphere_form_factor(1.001e-3, 1.0),
    );
    assert!((a - b).abs() < 1e-9);
}

#[test]
fn recovers_bimodal_populations() {
    let data = curve(7);
    let params = McParams {
        r_min_nm: 1.0,
        r_max_nm: 12.0,
        contributions: 150,
        repetitions: 4,
        max_iterations: 40_000,
        bins: 44,
        seed: 11,
        ..McParams::default()
    };
    let fit = monte_carlo_fit(&data, &params).unwrap();
    // The noise is 1 % and the sigma floor 1 %: a correct model reaches chi^2_red ~ 1.
    let chi2 = fit.chi2_reduced();
    assert!(chi2 < 1.15, "reduced chi^2 {chi2}");
    for (range, truth) in [((1.0, 4.5), TRUE[0]), ((4.5, 12.0), TRUE[1])] {
        let pop = fit.population(range.0, range.1);
        let (mean, phi) = (pop.mean_r_nm[0], pop.volume_fraction[0]);
        assert!(
            (mean - truth.0).abs() <= 0.05 * truth.0,
            "mean radius {mean} vs {}",
            truth.0
        );
        assert!(
            (phi - truth.2).abs() <= 0.10 * truth.2,
            "volume fraction {phi} vs {}",
            truth.2
        );
    }
    // The histogram sums to the total volume fraction (each bin is a volume fraction).
    let total: f64 = fit.volume_fraction.iter().sum();
    let expected = TRUE[0].2 + TRUE[1].2;
    assert!((total - expected).abs() <= 0.1 * expected, "total {total}");
    // Automatic population split finds the two modes.
    assert_eq!(
        fit.auto_populations(0.05).len(),
        2,
        "{:?}",
        fit.auto_populations(0.05)
    );
}

#[test]
fn absolute_scale_is_phi_drho_squared_v_in_per_cm() {
    // I(q -> 0) of dilute spheres is phi drho^2 V. In CGS: drho = 1e10 cm^-2 (contrast 1,
    // = 1e-6 1/A^2), r = 5 nm = 5e-7 cm, phi = 0.01: I(0) = 0.01 * 1e20 * (4/3 pi (5e-7)^3)
    // = 0.52360 1/cm. A volume-weighted width of 0.005 nm raises <V> by 3 (sd/r)^2 = 3e-6.
    let v_cm3 = 4.0 / 3.0 * std::f64::consts::PI * 5e-7f64.powi(3);
    let expected = 0.01 * 1e10f64.powi(2) * v_cm3;
    let i0 = synthetic_curve(&[1e-6], &[(5.0, 0.005, 0.01)], 0.0, 0.0, 1).intensity[0];
    assert!(
        (i0 / expected - 1.0).abs() < 1e-5,
        "I(0) {i0} vs {expected}"
    );
    // sasmodels 1.1.0 `sphere` (its own units: A, 1/A, 1/cm), radius 25 A, sld 2, sld_solvent
    // 1, scale 0.004, q = 1e-5 1/A gives 0.026179938 1/cm; here r = 2.5 nm, q = 1e-4 1/nm.
    let i0 = synthetic_curve(&[1e-4], &[(2.5, 1e-4, 0.004)], 0.0, 0.0, 1).intensity[0];
    assert!((i0 / 0.026_179_938 - 1.0).abs() < 1e-6, "I(0) {i0}");
}

#[test]
fn volume_fraction_scales_as_inverse_contrast_squared() {
    // The same curve at contrast 2 has 4 times the intensity; fitted with contrast 2 it must
    // give the same volume fractions. Scaling by 4 is exact in binary floating point, so the
    // whole Monte Carlo path, and the result, are identical.
    let data = curve(5);
    let params = McParams {
        r_min_nm: 1.0,
        r_max_nm: 12.0,
        contributions: 40,
        repetitions: 1,
        max_iterations: 1_000,
        seed: 2,
        ..McParams::default()
    };
    let quadrupled = SaxsData {
        q_nm: data.q_nm.clone(),
        intensity: data.intensity.iter().map(|i| 4.0 * i).collect(),
        sigma: data.sigma.iter().map(|s| 4.0 * s).collect(),
    };
    let a = monte_carlo_fit(&data, &params).unwrap();
    let b = monte_carlo_fit(
        &quadrupled,
        &McParams {
            contrast: 2.0,
            ..params.clone()
        },
    )
    .unwrap();
    assert_eq!(a.runs[0].radii_nm, b.runs[0].radii_nm);
    for (x, y) in a.volume_fraction.iter().zip(&b.volume_fraction) {
        assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-30), "{x} vs {y}");
    }
}

#[test]
fn repetitions_are_reproducible_for_a_seed() {
    let data = curve(3);
    let params = McParams {
        r_min_nm: 1.0,
        r_max_nm: 12.0,
        contributions: 50,
        repetitions: 2,
        max_iterations: 2_000,
        seed: 5,
        ..McParams::default()
    };
    let a = monte_carlo_fit(&data, &params).unwrap();
    let b = monte_carlo_fit(&data, &params).unwrap();
    assert_eq!(a.runs[1].radii_nm, b.runs[1].radii_nm);
    assert_ne!(a.runs[0].radii_nm, a.runs[1].radii_nm);
}

#[test]
fn bragg_peaks_name_the_mesophase() {
    // Power-law background with Gaussian reflections at q1 * ratios.
    let q: Vec<f64> = (0..400).map(|i| 0.2 + i as f64 * 0.01).collect();
    for (ratios, name) in [
        (vec![1.0, 2.0, 3.0], "lamellar"),
        (vec![1.0, 3f64.sqrt(), 2.0], "hexagonal"),
    ] {
        let q1 = 1.0;
        let intensity: Vec<f64> = q
            .iter()
            .map(|&x| {
                let bg = 0.1 * x.powf(-3.0);
                bg * (1.0
                    + ratios
                        .iter()
                        .map(|r| 2.0 * (-0.5 * ((x - q1 * r) / 0.015).powi(2)).exp())
                        .sum::<f64>())
            })
            .collect();
        let data = SaxsData {
            q_nm: q.clone(),
            sigma: intensity.iter().map(|i| 0.01 * i).collect(),
            intensity,
        };
        let peaks = bragg_peaks(&data, 31, 0.2);
        assert_eq!(peaks.len(), ratios.len(), "{peaks:?}");
        for (p, r) in peaks.iter().zip(&ratios) {
            assert!((p.q_nm - q1 * r).abs() < 0.005, "{p:?}");
            assert!((p.d_nm - 2.0 * std::f64::consts::PI / (q1 * r)).abs() < 0.05);
        }
        assert_eq!(mesophase(&peaks, 0.02), Some(name));
    }
}

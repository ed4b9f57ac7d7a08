//! Peak picking on generated spectra with known peaks.

use nucleate_reactor::uvvis::{analyse, synthetic_spectrum, PeakKind, Spectra, SpectraParams};

/// MSC families planted in every spectrum: (centre nm, FWHM nm). FWHMs of 10-16 nm are
/// typical of CdSe magic-size clusters.
const FAMILIES: [(f64, f64); 3] = [(380.0, 12.0), (403.0, 14.0), (437.0, 16.0)];

fn series() -> (Spectra, Vec<f64>) {
    let wl: Vec<f64> = (0..=700).map(|i| 300.0 + 0.5 * i as f64).collect(); // 300-650 nm
                                                                            // An NC population whose broad (40 nm) excitonic peak shifts to the red, and MSC
                                                                            // heights that change from spectrum to spectrum; scattering 0.05 (L/400)^-4; noise 3e-4.
    let nc_centres = vec![500.0, 520.0, 540.0, 560.0];
    let absorbance = nc_centres
        .iter()
        .enumerate()
        .map(|(k, &c)| {
            let mut peaks: Vec<(f64, f64, f64)> = FAMILIES
                .iter()
                .enumerate()
                .map(|(j, &(x, w))| (x, w, 0.2 + 0.1 * ((j + k) % 3) as f64))
                .collect();
            peaks.push((c, 40.0, 0.3));
            synthetic_spectrum(&wl, &peaks, (0.05, 4.0), 3e-4, k as u64)
        })
        .collect();
    (
        Spectra {
            wavelength_nm: wl,
            names: (0..4).map(|k| format!("t{k}")).collect(),
            absorbance,
        },
        nc_centres,
    )
}

#[test]
fn finds_every_planted_family_within_1_nm_and_fwhm_within_10_percent() {
    let (spectra, nc_centres) = series();
    let params = SpectraParams {
        // The long-wave side beyond the NC peaks is transparent: fit scattering there.
        baseline: nucleate_reactor::uvvis::Baseline::PowerLaw {
            from_nm: Some(620.0),
        },
        ..SpectraParams::default()
    };
    let (_, peaks) = analyse(&spectra, &params);
    for (k, &nc) in nc_centres.iter().enumerate() {
        for &(x, w) in &FAMILIES {
            let p = peaks
                .iter()
                .filter(|p| p.spectrum == k && p.kind == PeakKind::Msc)
                .find(|p| (p.wavelength_nm - x).abs() <= 1.0)
                .unwrap_or_else(|| {
                    panic!("spectrum {k}: no MSC peak within 1 nm of {x}: {peaks:#?}")
                });
            assert!(
                (p.fwhm_nm - w).abs() <= 0.1 * w,
                "spectrum {k}, family {x}: FWHM {} vs {w}",
                p.fwhm_nm
            );
            assert_eq!(p.family.as_deref(), Some(format!("CdSe-{x:.0}").as_str()));
        }
        // The shifting NC peak is found and classified as a nanocrystal population.
        assert!(
            peaks.iter().any(|p| p.spectrum == k
                && p.kind == PeakKind::Nc
                && (p.wavelength_nm - nc).abs() < 3.0),
            "spectrum {k}: NC peak near {nc} missing"
        );
        // No MSC label on anything that was not planted as a family.
        for p in peaks
            .iter()
            .filter(|p| p.spectrum == k && p.kind == PeakKind::Msc)
        {
            assert!(
                FAMILIES
                    .iter()
                    .any(|&(x, _)| (p.wavelength_nm - x).abs() <= 1.0),
                "{p:?}"
            );
        }
    }
}

#[test]
fn peaks_carry_sizes_from_the_sizing_curve() {
    let (spectra, _) = series();
    let (_, peaks) = analyse(&spectra, &SpectraParams::default());
    for p in &peaks {
        let s = nucleate_reactor::sizing::Material::CdSe.size(p.wavelength_nm);
        assert_eq!(p.diameter_nm, s.diameter_nm);
        assert!(
            (p.concentration_um - p.absorbance / s.extinction_per_m_per_cm * 1e6).abs() < 1e-12
        );
    }
}

#[test]
fn savitzky_golay_is_exact_on_polynomials() {
    // A quartic is reproduced exactly by an order-4 filter, and its second derivative too.
    let x: Vec<f64> = (0..60).map(|i| i as f64 * 0.5).collect();
    let y: Vec<f64> = x
        .iter()
        .map(|t| 1.0 + 0.3 * t - 0.02 * t * t + 1e-3 * t.powi(3) - 1e-5 * t.powi(4))
        .collect();
    let d2: Vec<f64> = x.iter().map(|t| -0.04 + 6e-3 * t - 12e-5 * t * t).collect();
    let s = nucleate_reactor::uvvis::savitzky_golay(&y, 5, 4, 0, 0.5);
    let s2 = nucleate_reactor::uvvis::savitzky_golay(&y, 5, 4, 2, 0.5);
    for i in 0..x.len() {
        assert!((s[i] - y[i]).abs() < 1e-9, "{i}");
        assert!((s2[i] - d2[i]).abs() < 1e-8, "{i}: {} vs {}", s2[i], d2[i]);
    }
}

#[test]
fn default_baseline_finds_every_family_when_the_nc_peak_reaches_the_red_end() {
    // The NC peaks (FWHM 40 nm, up to 560 nm) reach well into the longest 20 % of the
    // 300-650 nm range (580-650 nm); the default baseline must still give every planted
    // family within 1 nm (the grid step is 0.5 nm, refined to a fraction of it).
    let (spectra, _) = series();
    let (_, peaks) = analyse(&spectra, &SpectraParams::default());
    for k in 0..spectra.names.len() {
        for &(x, _) in &FAMILIES {
            assert!(
                peaks.iter().any(|p| p.spectrum == k
                    && p.kind == PeakKind::Msc
                    && (p.wavelength_nm - x).abs() <= 1.0),
                "spectrum {k}: no MSC peak within 1 nm of {x}: {peaks:#?}"
            );
        }
    }
}

#[test]
fn default_baseline_starts_beyond_the_reddest_peak() {
    // One Gaussian at 560 nm, FWHM 40 nm (sigma 17 nm), on 0.05 (L/400)^-4: the fitted
    // region must start near the peak's 4-sigma tail (628 nm; sigma is estimated from the
    // smoothed second derivative's zero crossing, within 10 %) and leave room to fit.
    let wl: Vec<f64> = (0..=700).map(|i| 300.0 + 0.5 * i as f64).collect();
    let y = synthetic_spectrum(&wl, &[(560.0, 40.0, 0.3)], (0.05, 4.0), 3e-4, 7);
    let from = nucleate_reactor::uvvis::transparent_from_nm(&wl, &y);
    assert!((621.0..=640.0).contains(&from), "fit starts at {from} nm");
    // Corrected absorbance on the transparent side is zero to within a few noise sigmas.
    let corrected = nucleate_reactor::uvvis::remove_baseline(
        &wl,
        &y,
        nucleate_reactor::uvvis::Baseline::PowerLaw { from_nm: None },
    );
    let peak_at = |l: f64| corrected[((l - 300.0) / 0.5) as usize];
    assert!((peak_at(560.0) - 0.3).abs() < 0.01, "{}", peak_at(560.0));
}

#[test]
fn shipped_example_gives_all_families_with_defaults() {
    // examples/reactor/spectra.csv plants CdSe-380/403/437 in four spectra with an NC peak
    // shifting 500 -> 560 nm (see examples/make_examples.rs).
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/reactor/spectra.csv");
    let spectra = nucleate_reactor::uvvis::read_spectra(&path).unwrap();
    let (_, peaks) = analyse(&spectra, &SpectraParams::default());
    let msc: Vec<_> = peaks.iter().filter(|p| p.kind == PeakKind::Msc).collect();
    assert_eq!(msc.len(), 12, "{msc:#?}");
    for p in msc {
        assert!(
            FAMILIES
                .iter()
                .any(|&(x, _)| (p.wavelength_nm - x).abs() <= 1.0),
            "{p:?}"
        );
    }
}

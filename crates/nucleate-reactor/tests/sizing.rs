//! Sizing curves and aggregation numbers against numbers worked out by hand from the
//! published formulas (Yu, Qu, Guo, Peng, Chem. Mater. 15, 2854 (2003)) and bulk constants:
//! CdSe rho = 5.81 g/cm^3, M = 191.37 g/mol, N_A = 6.02214076e23 /mol.

use nucleate_reactor::sizing::{concentration_um, Material};

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn cdse_550_nm_is_about_3_nm() {
    // 1.6122e-9*550^4 - 2.6575e-6*550^3 + 1.6242e-3*550^2 - 0.4277*550 + 41.57
    //   = 147.5274 - 442.1416 + 491.3205 - 235.235 + 41.57 = 3.04031 nm
    let d = Material::CdSe.diameter_nm(550.0);
    assert!(close(d, 3.040_314, 1e-6), "{d}");
}

#[test]
fn cdte_and_cds_curves() {
    // CdTe at 600 nm: 9.8127e-7*600^3 - 1.7147e-3*600^2 + 1.0064*600 - 194.84 = 3.66232 nm
    assert!(close(Material::CdTe.diameter_nm(600.0), 3.662_32, 1e-6));
    // CdS at 400 nm: -6.6521e-8*400^3 + 1.9557e-4*400^2 - 9.2352e-2*400 + 13.29 = 3.383056 nm
    assert!(close(Material::CdS.diameter_nm(400.0), 3.383_056, 1e-6));
}

#[test]
fn aggregation_number_of_a_3_nm_cdse_sphere() {
    // V = pi/6 (3e-7 cm)^3 = 1.41372e-20 cm^3; m = 5.81 V = 8.21369e-20 g;
    // N = m / 191.37 * 6.02214076e23 = 258.473 formula units.
    let n = Material::CdSe.aggregation_number(3.0);
    assert!(close(n, 258.473, 1e-5), "{n}");
    // Scales as D^3.
    assert!(close(
        Material::CdSe.aggregation_number(6.0),
        8.0 * n,
        1e-12
    ));
}

#[test]
fn extinction_and_beer_lambert() {
    // eps = 5857 * 3^2.65 = 1.07658e5 M^-1 cm^-1.
    let eps = Material::CdSe.extinction_per_m_per_cm(3.0);
    assert!(close(eps, 107_658.06, 1e-6), "{eps}");
    // A = 0.5 over 1 cm: c = 0.5 / 1.07658e5 M = 4.6443 uM; over 0.2 cm, five times more.
    assert!(close(concentration_um(0.5, eps, 1.0), 4.644_30, 1e-5));
    assert!(close(concentration_um(0.5, eps, 0.2), 5.0 * 4.644_30, 1e-5));
    // CdTe 10043 D^2.12 and CdS 21536 D^2.3 at D = 2 nm.
    assert!(close(
        Material::CdTe.extinction_per_m_per_cm(2.0),
        10043.0 * 2f64.powf(2.12),
        1e-12
    ));
    assert!(close(
        Material::CdS.extinction_per_m_per_cm(2.0),
        21536.0 * 2f64.powf(2.3),
        1e-12
    ));
}

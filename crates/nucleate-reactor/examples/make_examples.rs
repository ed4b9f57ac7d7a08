//! Writes the synthetic inputs of examples/reactor/ from the library's generators:
//! `cargo run -p nucleate-reactor --example make_examples -- examples/reactor`.

use nucleate_reactor::saxs::synthetic_curve;
use nucleate_reactor::uvvis::synthetic_spectrum;
use std::fmt::Write;

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "examples/reactor".into()),
    );
    std::fs::create_dir_all(&dir).expect("output folder");

    // UV-Vis: CdSe-380/403/437 families at fixed positions, an NC peak shifting 500 -> 560 nm,
    // scattering 0.05 (L/400)^-4, noise 3e-4; 300-650 nm every 0.5 nm.
    let wl: Vec<f64> = (0..=700).map(|i| 300.0 + 0.5 * i as f64).collect();
    let times = [1.5, 3.0, 6.0, 14.0];
    let cols: Vec<Vec<f64>> = times
        .iter()
        .enumerate()
        .map(|(k, _)| {
            let peaks = [
                (380.0, 12.0, 0.30 - 0.05 * k as f64),
                (403.0, 14.0, 0.20 + 0.05 * k as f64),
                (437.0, 16.0, 0.10 + 0.04 * k as f64),
                (500.0 + 20.0 * k as f64, 40.0, 0.3),
            ];
            synthetic_spectrum(&wl, &peaks, (0.05, 4.0), 3e-4, k as u64)
        })
        .collect();
    let mut s = String::from("wavelength_nm");
    for t in times {
        write!(s, ",t{t}s").unwrap();
    }
    s.push('\n');
    for (i, l) in wl.iter().enumerate() {
        write!(s, "{l}").unwrap();
        for c in &cols {
            write!(s, ",{:.6}", c[i]).unwrap();
        }
        s.push('\n');
    }
    std::fs::write(dir.join("spectra.csv"), s).expect("spectra.csv");

    // SAXS: spheres of 2.5 +- 0.25 nm (volume fraction 0.004) and 7 +- 0.7 nm (0.006),
    // background 1e-4 1/cm, 1 % noise; 200 log-spaced q from 0.05 to 3 1/nm.
    let q: Vec<f64> = (0..200)
        .map(|i| 0.05 * (3.0f64 / 0.05).powf(i as f64 / 199.0))
        .collect();
    let d = synthetic_curve(&q, &[(2.5, 0.25, 0.004), (7.0, 0.7, 0.006)], 1e-4, 0.01, 1);
    let mut s = String::from("# spheres 2.5+-0.25 nm (phi 0.004) and 7+-0.7 nm (phi 0.006), contrast 1e10 cm^-2; q in 1/nm, I and sigma in 1/cm\nq,I,sigma\n");
    for i in 0..q.len() {
        writeln!(
            s,
            "{:.6e},{:.6e},{:.6e}",
            d.q_nm[i], d.intensity[i], d.sigma[i]
        )
        .unwrap();
    }
    std::fs::write(dir.join("saxs-bimodal.csv"), s).expect("saxs-bimodal.csv");
}

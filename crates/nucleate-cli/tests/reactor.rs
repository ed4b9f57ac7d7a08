//! `nucleate spectra | size | saxs | kinetics`: outputs as cli.md names them, and bad input
//! rejected with the file and line, exit code 1.

mod common;
use common::nucleate;

use std::path::{Path, PathBuf};
use std::process::Output;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/reactor")
        .join(name)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// The command fails with exit code 1 and one stderr line naming `file:line` and `what`.
fn fails_at(out: &Output, file: &str, line: usize, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{file}:{line}:")),
        "no {file}:{line} in: {err}"
    );
    assert!(err.contains(what), "no '{what}' in: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn size_prints_the_sizing_curve() {
    let out = nucleate(&["size", "--material", "CdSe", "--wavelength-nm", "550"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Yu et al. 2003 at 550 nm: D = 3.04031 nm (worked out in the library's sizing tests).
    assert!((v["diameter_nm"].as_f64().unwrap() - 3.040_314).abs() < 1e-5);
    assert!(v["aggregation_number"].as_f64().unwrap() > 0.0);
    assert!(v["extinction_per_m_per_cm"].as_f64().unwrap() > 0.0);
    let bad = nucleate(&["size", "--material", "GaAs", "--wavelength-nm", "550"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn spectra_writes_peaks_with_the_contract_columns() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let input = example("spectra.csv");
    let out = nucleate(&[
        "spectra",
        input.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--baseline-from-nm",
        "620",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(out_dir.join("peaks.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "spectrum,wavelength_nm,fwhm_nm,kind,family,diameter_nm,aggregation_number,concentration_um"
    );
    // Every spectrum of the example carries the three planted families (380, 403, 437 nm).
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for family in ["CdSe-380", "CdSe-403", "CdSe-437"] {
        assert_eq!(
            rows.iter()
                .filter(|r| r[4] == family && r[3] == "msc")
                .count(),
            4,
            "{csv}"
        );
    }
    assert_eq!(rows.iter().filter(|r| r[3] == "nc").count(), 4, "{csv}");
    assert!(out_dir.join("spectra.svg").exists());
}

#[test]
fn spectra_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    let o = o.to_str().unwrap();
    let rows = |f: &dyn Fn(usize) -> String| (0..20).map(f).collect::<Vec<_>>().join("\n");
    let f = write(
        dir.path(),
        "names.csv",
        &format!("lambda,a\n{}", rows(&|i| format!("{},0.1", 400 + i))),
    );
    fails_at(&nucleate(&["spectra", &f, "-o", o]), &f, 1, "wavelength_nm");
    let f = write(
        dir.path(),
        "order.csv",
        &format!(
            "wavelength_nm,a\n{}\n405,0.1\n",
            rows(&|i| format!("{},0.1", 400 + i))
        ),
    );
    fails_at(
        &nucleate(&["spectra", &f, "-o", o]),
        &f,
        22,
        "not strictly monotonic",
    );
    let f = write(
        dir.path(),
        "nan.csv",
        &format!(
            "wavelength_nm,a\n{}\n500,NaN\n",
            rows(&|i| format!("{},0.1", 400 + i))
        ),
    );
    fails_at(&nucleate(&["spectra", &f, "-o", o]), &f, 22, "not finite");
}

#[test]
fn saxs_writes_distribution_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let input = example("saxs-bimodal.csv");
    let out = nucleate(&[
        "saxs",
        input.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--r-min-nm",
        "1",
        "--r-max-nm",
        "12",
        "--repetitions",
        "3",
        "--contributions",
        "100",
        "--seed",
        "4",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(out_dir.join("distribution.csv")).unwrap();
    assert_eq!(csv.lines().next().unwrap(), "r_nm,volume_fraction,std");
    // The column sums to the total volume fraction: 0.004 + 0.006 planted (within 10 %).
    let total: f64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((total - 0.010).abs() < 0.001, "{total}");
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap())
            .unwrap();
    assert!(s["chi2_reduced"].as_f64().unwrap() < 1.2);
    assert!(s["populations"].as_array().unwrap().len() >= 2);
    assert!(out_dir.join("fit.svg").exists() && out_dir.join("distribution.svg").exists());
}

#[test]
fn saxs_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    let o = o.to_str().unwrap();
    let good = |i: usize| {
        format!(
            "{},{},{}",
            0.1 + 0.01 * i as f64,
            10.0 / (1.0 + i as f64),
            0.1
        )
    };
    let body = (0..10).map(good).collect::<Vec<_>>().join("\n");
    let f = write(
        dir.path(),
        "cols.csv",
        &format!("q,intensity,weight\n{body}\n"),
    );
    fails_at(&nucleate(&["saxs", &f, "-o", o]), &f, 1, "sigma");
    let f = write(
        dir.path(),
        "q.csv",
        &format!("q,I,sigma\n{body}\n0.15,1,0.1\n"),
    );
    fails_at(
        &nucleate(&["saxs", &f, "-o", o]),
        &f,
        12,
        "not strictly monotonic",
    );
    let f = write(
        dir.path(),
        "neg.dat",
        &format!("# q I sigma\n{body}\n0.3 -2.0 0.1\n").replace(',', " "),
    );
    fails_at(
        &nucleate(&["saxs", &f, "-o", o]),
        &f,
        12,
        "negative intensity",
    );
    let f = write(
        dir.path(),
        "nan.csv",
        &format!("q,I,sigma\n{body}\n0.3,nan,0.1\n"),
    );
    fails_at(&nucleate(&["saxs", &f, "-o", o]), &f, 12, "not finite");
    let out = nucleate(&["saxs", "/nonexistent/curve.csv", "-o", o]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/curve.csv"));
}

#[test]
fn kinetics_writes_concentrations_and_map() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let model = example("msc-kinetics.toml");
    let out = nucleate(&[
        "kinetics",
        model.to_str().unwrap(),
        "-o",
        out_dir.to_str().unwrap(),
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(out_dir.join("concentrations.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "t_s,P,M,Nucl,CdSe-350,CdSe-380,CdSe-403,CdSe-437,CdSe-465,NC,NC_units"
    );
    assert_eq!(csv.lines().count(), 1 + 141);
    assert!(out_dir.join("map.csv").exists() && out_dir.join("concentrations.svg").exists());
}

#[test]
fn kinetics_bad_model() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    let o = o.to_str().unwrap();
    let text = std::fs::read_to_string(example("msc-kinetics.toml")).unwrap();
    let f = write(
        dir.path(),
        "typo.toml",
        &text.replace("nucleus_size", "nucleus_sise"),
    );
    let line = text
        .lines()
        .position(|l| l.contains("nucleus_size"))
        .unwrap()
        + 1;
    fails_at(
        &nucleate(&["kinetics", &f, "-o", o]),
        &f,
        line,
        "nucleus_sise",
    );
    let f = write(
        dir.path(),
        "growth.toml",
        &text.replacen("  { a = 1.2e7, ea_kj_mol = 40 },\n", "", 1),
    );
    let out = nucleate(&["kinetics", &f, "-o", o]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rates.growth has 4 entries"));
}

//! `nucleate energy`, `simulate` and `bench md` end to end.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nucleate"))
}

fn md_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../nucleate-md")
        .join(name)
}

#[test]
fn energy_matches_lammps_and_writes_forces() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("f.extxyz");
    let o = bin()
        .arg("energy")
        .arg(md_data("tests/data/fcc_perturbed_500.extxyz"))
        .args(["--potential"])
        .arg(md_data("data/Pt_u3.eam"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // LAMMPS: energy_ev = -2868.4233... (reference file's comment line), within 1e-11 eV/atom.
    let text = std::fs::read_to_string(md_data("tests/data/fcc_perturbed_500.extxyz")).unwrap();
    let e_ref: f64 = text
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .find_map(|t| t.strip_prefix("energy_ev="))
        .unwrap()
        .parse()
        .unwrap();
    assert!((v["energy_ev"].as_f64().unwrap() - e_ref).abs() < 500.0 * 1e-11);
    assert_eq!(v["virial_ev"].as_array().unwrap().len(), 6);
    assert!(v["pressure_bar"].is_f64());
    let written = std::fs::read_to_string(&out).unwrap();
    assert!(written.contains("forces:R:3") && written.contains("energies:R:1"));
}

#[test]
fn energy_reports_bad_potential_with_line() {
    let tmp = tempfile::tempdir().unwrap();
    let pot = tmp.path().join("bad.eam");
    std::fs::write(
        &pot,
        "c\n78 195.09\n5 0.1 5 0.1 0.4\n1 2 3 4 5\n1 2 oops 4 5\n",
    )
    .unwrap();
    let o = bin()
        .arg("energy")
        .arg(md_data("tests/data/fcc_perturbed_500.extxyz"))
        .arg("--potential")
        .arg(&pot)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.eam") && err.contains("line 5") && err.contains("oops"),
        "{err}"
    );
    let o = bin()
        .args(["energy", "x.extxyz", "--potential", "builtin:nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn simulate_writes_outputs_and_exports_lammps() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("s.toml");
    std::fs::write(
        &study,
        "potential = \"builtin:sutton-chen-pt\"\n[structure]\nkind = \"fcc-sphere\"\nradius_a = 5.0\nlattice_a = 3.92\n\
         [output]\ndump_every_ps = 0.02\nthermo_every_ps = 0.02\n[[stage]]\nkind = \"hold\"\ntemperature_k = 500\nduration_ps = 0.04\n",
    )
    .unwrap();
    let out = tmp.path().join("run");
    let o = bin()
        .arg("simulate")
        .arg(&study)
        .arg("-o")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let thermo = std::fs::read_to_string(out.join("thermo.csv")).unwrap();
    assert!(thermo.starts_with(
        "step,time_ps,temp_k,pe_ev_per_atom,etotal_ev_per_atom,press_bar,volume_a3\n"
    ));
    assert_eq!(thermo.lines().count(), 4);
    assert!(out.join("traj.dump.gz").exists() && out.join("checkpoint.json").exists());

    // The analytic potential has no LAMMPS file: a clear error; the preset exports.
    let deck = tmp.path().join("deck");
    let o = bin()
        .arg("simulate")
        .arg(&study)
        .arg("-o")
        .arg(&out)
        .arg("--export-lammps")
        .arg(&deck)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let preset =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/md/pt-droplet.toml");
    let o = bin()
        .arg("simulate")
        .arg(&preset)
        .arg("-o")
        .arg(&out)
        .arg("--export-lammps")
        .arg(&deck)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let inp = std::fs::read_to_string(deck.join("in.lammps")).unwrap();
    assert!(inp.contains("pair_style eam") && inp.contains("boundary s s s"));
    assert!(deck.join("Pt_u3.eam").exists() && deck.join("data.lammps").exists());
}

#[test]
fn bad_study_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let study = tmp.path().join("bad.toml");
    std::fs::write(&study, "potential = \"builtin:pt-u3\"\nseedd = 3\n").unwrap();
    let o = bin()
        .arg("simulate")
        .arg(&study)
        .arg("-o")
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.toml") && err.contains("line 2"), "{err}");
}

#[test]
fn bench_md_prints_json() {
    let o = bin()
        .args([
            "bench",
            "md",
            "--cells",
            "2",
            "--steps",
            "5",
            "--threads",
            "1",
            "--temperature",
            "300",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["atoms"], 32);
    assert_eq!(v["steps"], 5);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    assert!(v["atom_steps_per_s"].as_f64().unwrap() > 0.0);
}

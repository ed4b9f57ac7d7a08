//! `nucleate aet ...`: the chain on a tiny particle, and bad input (exit 1, file named).

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nucleate"))
}

/// A small fcc cluster (43 sites within 5 A), species alternating by site, centred in a
/// 32 x 0.5 A box off the pixel grid.
fn write_model(dir: &Path) -> PathBuf {
    let a = 3.87;
    let basis = [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
    ];
    let mut lines = Vec::new();
    for i in -2i32..=2 {
        for j in -2i32..=2 {
            for k in -2i32..=2 {
                for b in &basis {
                    let p = [
                        (i as f64 + b[0]) * a,
                        (j as f64 + b[1]) * a,
                        (k as f64 + b[2]) * a,
                    ];
                    if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() <= 5.0 {
                        let s = if (i + j + k) % 2 == 0 { "Pt" } else { "Fe" };
                        lines.push(format!(
                            "{s} {} {} {}",
                            p[0] + 8.1,
                            p[1] + 7.95,
                            p[2] + 8.13
                        ));
                    }
                }
            }
        }
    }
    let path = dir.join("model.extxyz");
    let text = format!(
        "{}\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\n{}\n",
        lines.len(),
        lines.join("\n")
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs a command that must fail with exit 1 and a message naming `name`.
fn fails_naming(cmd: &mut Command, name: &str, what: &str) {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(name), "message should name {name}: {err}");
    assert!(err.contains(what), "message should say `{what}`: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A little-endian TIFF of float32 pages of the given (width, height), each pixel `value`.
fn write_tiff(path: &Path, pages: &[(u32, u32)], value: f32) {
    let mut buf: Vec<u8> = b"II\x2a\x00".to_vec();
    buf.extend_from_slice(&0u32.to_le_bytes());
    let mut link = 4usize;
    for &(w, h) in pages {
        let data_off = buf.len() as u32;
        for _ in 0..w * h {
            buf.extend_from_slice(&value.to_le_bytes());
        }
        let ifd = buf.len();
        buf[link..link + 4].copy_from_slice(&(ifd as u32).to_le_bytes());
        let entries: [(u16, u16, u32); 10] = [
            (256, 4, w),
            (257, 4, h),
            (258, 3, 32),
            (259, 3, 1),
            (262, 3, 1),
            (273, 4, data_off),
            (277, 3, 1),
            (278, 4, h),
            (279, 4, w * h * 4),
            (339, 3, 3),
        ];
        buf.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, typ, v) in entries {
            buf.extend_from_slice(&tag.to_le_bytes());
            buf.extend_from_slice(&typ.to_le_bytes());
            buf.extend_from_slice(&1u32.to_le_bytes());
            if typ == 3 {
                buf.extend_from_slice(&(v as u16).to_le_bytes());
                buf.extend_from_slice(&[0, 0]);
            } else {
                buf.extend_from_slice(&v.to_le_bytes());
            }
        }
        link = buf.len();
        buf.extend_from_slice(&0u32.to_le_bytes());
    }
    std::fs::write(path, buf).unwrap();
}

#[test]
fn chain_simulate_reconstruct_trace_refine_compare_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = write_model(d);
    let sim = d.join("sim");
    ok(bin()
        .args(["aet", "simulate"])
        .arg(&model)
        .arg("-o")
        .arg(&sim)
        .args([
            "--angles=-60:60:10",
            "--size",
            "32",
            "--pixel-a",
            "0.5",
            "--seed",
            "4",
            "-q",
        ]));
    for f in ["tilts.tif", "angles.csv", "meta.json"] {
        assert!(sim.join(f).exists(), "{f}");
    }
    assert_eq!(
        json(&sim.join("meta.json"))["angles_deg"]
            .as_array()
            .unwrap()
            .len(),
        13
    );
    let series = |c: &mut Command| {
        c.arg(sim.join("tilts.tif"))
            .arg("--angles")
            .arg(sim.join("angles.csv"))
            .args(["--pixel-a", "0.5", "-q"]);
    };
    let rec = d.join("rec");
    let mut c = bin();
    c.args(["aet", "reconstruct"]);
    series(&mut c);
    ok(c.arg("-o").arg(&rec).args(["--iterations", "15"]));
    let s = json(&rec.join("summary.json"));
    assert_eq!(s["method"], "sart");
    assert!(s["r1"].as_f64().unwrap() < 0.5, "{s}");
    assert!(rec.join("orthoslices.png").exists());
    // The penalised reconstruction on the same series.
    let mbir = d.join("mbir");
    let mut c = bin();
    c.args(["aet", "reconstruct"]);
    series(&mut c);
    ok(c.arg("-o")
        .arg(&mbir)
        .args(["--method", "mbir", "--iterations", "10"]));
    let s = json(&mbir.join("summary.json"));
    assert_eq!(s["method"], "mbir");
    assert!(s["r1"].as_f64().unwrap() < 0.5, "{s}");
    let tr = d.join("trace");
    ok(bin()
        .args(["aet", "trace"])
        .arg(rec.join("volume.tif"))
        .args(["--pixel-a", "0.5", "-q", "-o"])
        .arg(&tr));
    let t = json(&tr.join("summary.json"));
    // 43 atoms in the model: tracing finds (nearly) all of them.
    let n = t["n_atoms"].as_u64().unwrap();
    assert!((40..=46).contains(&n), "{t}");
    assert!(tr.join("histogram.svg").exists());
    let refd = d.join("refine");
    let mut c = bin();
    c.args(["aet", "refine"]).arg(tr.join("atoms.extxyz"));
    series(&mut c);
    ok(c.arg("-o").arg(&refd).args(["--iterations", "2"]));
    let r = json(&refd.join("summary.json"));
    assert!(
        r["r1_after"].as_f64().unwrap() <= r["r1_before"].as_f64().unwrap(),
        "{r}"
    );
    assert!(r["added"].is_u64() && r["removed"].is_u64(), "{r}");
    // Per-projection shifts and angles fitted with the atoms: one correction per projection.
    let corr = d.join("refine-corr");
    let mut c = bin();
    c.args(["aet", "refine"]).arg(tr.join("atoms.extxyz"));
    series(&mut c);
    ok(c.arg("-o")
        .arg(&corr)
        .args(["--iterations", "3", "--refine-shifts", "--refine-angles"]));
    let r = json(&corr.join("summary.json"));
    let pc = r["projection_corrections"].as_array().unwrap();
    assert_eq!(pc.len(), 13, "{r}");
    assert!(
        pc.iter()
            .all(|c| c["angle_deg"].as_f64().unwrap().abs() < 1.0),
        "{r}"
    );
    let mut c = bin();
    c.args(["aet", "refine"]).arg(tr.join("atoms.extxyz"));
    series(&mut c);
    fails_naming(
        c.arg("-o").arg(d.join("bad")).arg("--evidence-chi2=-1"),
        "--evidence-chi2",
        "non-negative",
    );
    let cmp = d.join("cmp");
    ok(bin()
        .args(["aet", "compare"])
        .arg(&model)
        .arg(refd.join("atoms.extxyz"))
        .arg("-o")
        .arg(&cmp)
        .arg("-q"));
    let c = json(&cmp.join("summary.json"));
    assert!(c["consistent_fraction"].as_f64().unwrap() > 0.9, "{c}");
    assert!(c["precision_a"].as_f64().unwrap() < 0.3, "{c}");
    let pairs = std::fs::read_to_string(cmp.join("pairs.csv")).unwrap();
    assert!(pairs.starts_with("index_a,index_b,distance_a,same_species\n"));
    let run = d.join("run");
    let mut c = bin();
    c.args(["aet", "run"]);
    series(&mut c);
    ok(c.arg("-o")
        .arg(&run)
        .args(["--iterations", "10", "--refine-iterations", "1"]));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("orthoslices_atoms.png") && !html.contains("src=\"/"));
    for f in [
        "volume.tif",
        "atoms.extxyz",
        "summary.json",
        "orthoslices_atoms.png",
        "residuals.svg",
        "trace/histogram.svg",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
}

#[test]
fn bad_input_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = write_model(d);
    let sim = d.join("sim");
    ok(bin()
        .args(["aet", "simulate"])
        .arg(&model)
        .arg("-o")
        .arg(&sim)
        .args([
            "--angles=-30:30:30",
            "--size",
            "16",
            "--pixel-a",
            "1.0",
            "-q",
        ]));
    let tilts = sim.join("tilts.tif");
    let rec = |tilts: &Path, angles: &Path| {
        let mut c = bin();
        c.args(["aet", "reconstruct"])
            .arg(tilts)
            .arg("--angles")
            .arg(angles)
            .args(["--pixel-a", "1", "--iterations", "1", "-o"])
            .arg(d.join("out"));
        c
    };
    // Angle count different from the page count.
    let two = d.join("two.csv");
    std::fs::write(&two, "index,angle_deg\n0,-10\n1,10\n").unwrap();
    fails_naming(&mut rec(&tilts, &two), "tilts.tif", "3 pages but 2 angles");
    // Angles outside (-90, 90).
    let far = d.join("far.csv");
    std::fs::write(&far, "index,angle_deg\n0,-10\n1,90\n2,10\n").unwrap();
    fails_naming(&mut rec(&tilts, &far), "far.csv", "line 3");
    let three = d.join("three.csv");
    std::fs::write(&three, "index,angle_deg\n0,-10\n1,0\n2,10\n").unwrap();
    // Non-square pages, and pages of different sizes.
    let rect = d.join("rect.tif");
    write_tiff(&rect, &[(16, 12), (16, 12), (16, 12)], 1.0);
    fails_naming(&mut rec(&rect, &three), "rect.tif", "square");
    let mixed = d.join("mixed.tif");
    write_tiff(&mixed, &[(16, 16), (16, 16), (8, 8)], 1.0);
    fails_naming(&mut rec(&mixed, &three), "mixed.tif", "page 2");
    // NaN pixels.
    let nan = d.join("nan.tif");
    write_tiff(&nan, &[(8, 8), (8, 8), (8, 8)], f32::NAN);
    fails_naming(&mut rec(&nan, &three), "nan.tif", "not a finite number");
    // An all-zero tilt series and an all-zero volume.
    let zero = d.join("zero.tif");
    write_tiff(&zero, &[(8, 8), (8, 8), (8, 8)], 0.0);
    fails_naming(&mut rec(&zero, &three), "zero.tif", "zero");
    let vol = d.join("zerovol.tif");
    write_tiff(&vol, &[(4, 4); 4], 0.0);
    fails_naming(
        bin()
            .args(["aet", "trace"])
            .arg(&vol)
            .args(["--pixel-a", "1", "-o"])
            .arg(d.join("t")),
        "zerovol.tif",
        "empty",
    );
    // A model without species.
    let nospec = d.join("nospec.extxyz");
    std::fs::write(&nospec, "2\nProperties=pos:R:3\n1 2 3\n4 5 6\n").unwrap();
    fails_naming(
        bin()
            .args(["aet", "simulate"])
            .arg(&nospec)
            .args(["--angles=0:0:1", "-o"])
            .arg(d.join("s")),
        "nospec.extxyz",
        "species",
    );
    // A species without counts.
    fails_naming(
        bin()
            .args(["aet", "simulate"])
            .arg(&model)
            .args(["--angles=0:0:1", "--counts", "Fe=100", "-o"])
            .arg(d.join("s")),
        "model.extxyz",
        "Pt",
    );
}

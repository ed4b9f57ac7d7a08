//! `nucleate aet reconstruct|run` on tilt series as instruments write them: an int16 MRC
//! stack with an extended header, a detector offset, the tilt axis along x and off centre,
//! drift, IMOD angle files; and the errors on broken ones (exit 1, file named).

use std::path::{Path, PathBuf};
use std::process::Command;

use nucleate_aet::align::fit_cos_sin;
use nucleate_aet::geometry::TiltGeometry;
use nucleate_aet::project::{add_noise, project_atoms, GaussianAtom, Noise};

const N: usize = 48;
const PIXEL: f64 = 0.4;

/// Uniform numbers in [lo, hi) from a fixed sequence (splitmix64), so the series is the same
/// on every run.
struct Uniform(u64);

impl Uniform {
    fn gen_range(&mut self, r: std::ops::Range<f64>) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        r.start + (r.end - r.start) * (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nucleate"))
}

/// An MRC header (mode, sizes, pixel size in the cell, extended header length), little endian.
fn header(n: usize, pages: usize, mode: i32, pixel: f64, ext: usize) -> Vec<u8> {
    let mut h = vec![0u8; 1024];
    let mut put = |i: usize, b: [u8; 4]| h[4 * i..4 * i + 4].copy_from_slice(&b);
    put(0, (n as i32).to_le_bytes());
    put(1, (n as i32).to_le_bytes());
    put(2, (pages as i32).to_le_bytes());
    put(3, mode.to_le_bytes());
    put(7, (n as i32).to_le_bytes());
    put(8, (n as i32).to_le_bytes());
    put(9, 1i32.to_le_bytes());
    put(10, ((n as f64 * pixel) as f32).to_le_bytes());
    put(11, ((n as f64 * pixel) as f32).to_le_bytes());
    put(12, (pixel as f32).to_le_bytes());
    put(23, (ext as i32).to_le_bytes());
    h[208..212].copy_from_slice(b"MAP ");
    h[212..216].copy_from_slice(&[0x44, 0x44, 0, 0]);
    h.extend(vec![7u8; ext]);
    h
}

struct Made {
    st: PathBuf,
    tlt: PathBuf,
    angles: Vec<f64>,
    axis_offset: f64,
    drift: Vec<[f64; 2]>,
}

/// 24 atoms in a 10 A ball, imaged with the axis 4 px off centre and random drift of up to
/// 2.5 px both ways, written transposed (axis along the file's x) as int16 with -32000 offset.
fn make_series(dir: &Path) -> Made {
    let mut rng = Uniform(4);
    let c = N as f64 * PIXEL / 2.0;
    let mut atoms: Vec<GaussianAtom> = Vec::new();
    while atoms.len() < 24 {
        let p = [0, 1, 2].map(|_| c + rng.gen_range(-5.0..5.0));
        if atoms.iter().all(|a| {
            (0..3)
                .map(|d| (a.pos_a[d] - p[d]).powi(2))
                .sum::<f64>()
                .sqrt()
                > 2.2
        }) {
            atoms.push(GaussianAtom {
                pos_a: p,
                counts: if atoms.len().is_multiple_of(3) {
                    600.0
                } else {
                    200.0
                },
                sigma_a: 0.55,
            });
        }
    }
    let angles: Vec<f64> = (0..19).map(|i| -63.0 + i as f64 * 7.0).collect();
    let axis_offset = 4.0;
    let drift: Vec<[f64; 2]> = angles
        .iter()
        .map(|_| [rng.gen_range(-2.5..2.5), rng.gen_range(-2.5..2.5)])
        .collect();
    let mut imgs = Vec::new();
    for (k, &t) in angles.iter().enumerate() {
        let g = TiltGeometry::new(vec![t], N, PIXEL)
            .unwrap()
            .with_centre_px(N as f64 / 2.0 + axis_offset)
            .unwrap();
        let (cs, sn) = (t.to_radians().cos(), t.to_radians().sin());
        let moved: Vec<GaussianAtom> = atoms
            .iter()
            .map(|a| {
                let mut a = *a;
                a.pos_a[0] += drift[k][0] * cs * PIXEL;
                a.pos_a[1] += drift[k][1] * PIXEL;
                a.pos_a[2] += drift[k][0] * sn * PIXEL;
                a
            })
            .collect();
        imgs.extend(project_atoms(&moved, &g));
    }
    add_noise(
        &mut imgs,
        N,
        &Noise {
            poisson: true,
            read_noise: 2.0,
            seed: 9,
        },
    );
    let mut bytes = header(N, angles.len(), 1, PIXEL, 1536);
    for k in 0..angles.len() {
        // File row r, column c holds volume-frame row c, column r.
        for r in 0..N {
            for col in 0..N {
                let v = imgs[(k * N + col) * N + r] - 32000.0;
                bytes.extend_from_slice(&(v.round() as i16).to_le_bytes());
            }
        }
    }
    let st = dir.join("particle.st");
    std::fs::write(&st, bytes).unwrap();
    let tlt = dir.join("particle.rawtlt");
    let text: String = angles.iter().map(|a| format!("{a:.2}\n")).collect();
    std::fs::write(&tlt, text).unwrap();
    Made {
        st,
        tlt,
        angles,
        axis_offset,
        drift,
    }
}

fn ok(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn reconstruct_align_recovers_drift_and_axis_from_an_int16_mrc() {
    let dir = tempfile::tempdir().unwrap();
    let m = make_series(dir.path());
    let (plain, al) = (dir.path().join("plain"), dir.path().join("al"));
    let base = |out: &Path| {
        let mut c = bin();
        c.arg("aet")
            .arg("reconstruct")
            .arg(&m.st)
            .arg("--angles")
            .arg(&m.tlt)
            .args(["--tilt-axis", "x", "--subtract-background"])
            .args(["--method", "sirt", "--iterations", "30", "--quiet", "-o"])
            .arg(out);
        c
    };
    ok(&mut base(&plain));
    ok(base(&al).arg("--align"));
    let sp = json(&plain.join("summary.json"));
    let sa = json(&al.join("summary.json"));
    // The pixel size came from the header (no --pixel-a given).
    assert!((sa["pixel_a"].as_f64().unwrap() - PIXEL).abs() < 1e-6);
    assert!((sa["input"]["background_levels"][0].as_f64().unwrap() + 32000.0).abs() < 2.0);
    let (r_plain, r_al) = (sp["r1"].as_f64().unwrap(), sa["r1"].as_f64().unwrap());
    // Aligned, the series is consistent: R1 drops by well over a third.
    assert!(
        r_al < 0.65 * r_plain,
        "R1 {r_plain} unaligned, {r_al} aligned"
    );
    let rounds = sa["alignment"]["rounds"].as_array().unwrap();
    assert!(rounds.len() >= 3, "{rounds:?}");
    let shifts: Vec<[f64; 2]> = sa["alignment"]["shifts_px"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| [v[0].as_f64().unwrap(), v[1].as_f64().unwrap()])
        .collect();
    // Up to a translation of the object (alpha cos + beta sin across, a constant along),
    // shifts undo axis offset and drift.
    let na = m.angles.len();
    let eu: Vec<f64> = (0..na)
        .map(|k| shifts[k][0] + m.axis_offset + m.drift[k][0])
        .collect();
    let ev: Vec<f64> = (0..na).map(|k| shifts[k][1] + m.drift[k][1]).collect();
    let (coef, ru) = fit_cos_sin(&m.angles, &eu);
    let evm = ev.iter().sum::<f64>() / na as f64;
    let rms = ((ru.iter().map(|r| r * r).sum::<f64>()
        + ev.iter().map(|e| (e - evm).powi(2)).sum::<f64>())
        / na as f64)
        .sqrt();
    // With the constant free, the fit may absorb part of an axis error: bound it too.
    assert!(rms <= 0.3 && coef[0].abs() < 0.5, "rms {rms} px, {coef:?}");
    for f in [
        "shifts.csv",
        "alignment.svg",
        "aligned_tilts.tif",
        "volume.tif",
    ] {
        assert!(al.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(al.join("shifts.csv")).unwrap();
    assert_eq!(csv.lines().count(), na + 1);

    // `aet run --align` without a background option: the border median is subtracted (the
    // -32000 offset would otherwise swamp the centre of mass) and the chain reports the rounds.
    let run = dir.path().join("run");
    ok(bin()
        .args(["aet", "run"])
        .arg(&m.st)
        .arg("--angles")
        .arg(&m.tlt)
        .args(["--tilt-axis", "x", "--align", "--align-rounds", "2"])
        .args([
            "--iterations",
            "10",
            "--refine-iterations",
            "1",
            "--quiet",
            "-o",
        ])
        .arg(&run));
    let sr = json(&run.join("summary.json"));
    assert_eq!(sr["input"]["background"], "median");
    let rr = sr["alignment"]["rounds"].as_array().unwrap();
    let (first, last) = (
        rr[0]["r1"].as_f64().unwrap(),
        rr[rr.len() - 1]["r1"].as_f64().unwrap(),
    );
    assert!(last < 0.8 * first, "R1 by round {rr:?}");
    assert!(run.join("alignment.svg").exists() && run.join("atoms.extxyz").exists());
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("alignment.svg"));
}

fn fails_naming(cmd: &mut Command, name: &str, what: &str) {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(name) && err.contains(what), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn broken_series_are_rejected_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut good = header(8, 3, 2, 0.5, 0);
    good.extend((0..3 * 64).flat_map(|i| (i as f32).to_le_bytes()));
    let tlt = d.join("a.tlt");
    std::fs::write(&tlt, "-30\n0\n30\n").unwrap();
    let rec = |tilts: &Path, angles: &Path| {
        let mut c = bin();
        c.args(["aet", "reconstruct"])
            .arg(tilts)
            .arg("--angles")
            .arg(angles)
            .args(["--iterations", "2", "-o"])
            .arg(d.join("out"));
        c
    };
    let cut = d.join("cut.mrc");
    std::fs::write(&cut, &good[..good.len() - 10]).unwrap();
    fails_naming(&mut rec(&cut, &tlt), "cut.mrc", "truncated");
    let mut cplx = header(8, 3, 4, 0.5, 0);
    cplx.extend(vec![0u8; 3 * 64 * 8]);
    let cp = d.join("complex.mrc");
    std::fs::write(&cp, cplx).unwrap();
    fails_naming(&mut rec(&cp, &tlt), "complex.mrc", "mode 4");
    let st = d.join("ok.st");
    std::fs::write(&st, &good).unwrap();
    let two = d.join("two.tlt");
    std::fs::write(&two, "-30\n30\n").unwrap();
    fails_naming(&mut rec(&st, &two), "two.tlt", "3 pages but 2 angles");
    let nan = d.join("nan.tlt");
    std::fs::write(&nan, "-30\nNaN\n30\n").unwrap();
    fails_naming(&mut rec(&st, &nan), "nan.tlt", "line 2");
    // No pixel size in the header nor on the command line.
    let mut nopix = header(8, 3, 2, 0.0, 0);
    nopix.extend((0..3 * 64).flat_map(|i| (i as f32).to_le_bytes()));
    let np = d.join("nopix.mrc");
    std::fs::write(&np, nopix).unwrap();
    fails_naming(&mut rec(&np, &tlt), "nopix.mrc", "--pixel-a");
    // A usage error is exit 2.
    let out = rec(&st, &tlt).args(["--tilt-axis", "z"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

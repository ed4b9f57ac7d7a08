//! `nucleate movie`, `nucleate movie simulate` and `nucleate crystallinity` end to end, and
//! their errors on bad input (exit 1, one line naming the file and the frame).

use std::path::Path;
use std::process::{Command, Output};

use nucleate_imaging::image::Image;
use nucleate_imaging::movie::io::{write_tiff, TiffSample};

fn nucleate(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nucleate"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn simulate_then_analyse_recovers_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = nucleate(
        &[
            "movie", "simulate", "-o", "sim", "--seed", "5", "--cycles", "2", "--quiet",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // Pixel size and frame interval come from the sidecar sim/movie.json.
    let o = nucleate(&["movie", "sim/movie.tif", "-o", "out", "--quiet"], d);
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("out/series.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "frame,t_s,area_nm2,mean_grey,core_area_nm2,cloud_area_nm2,cx_nm,cy_nm,diameter_nm"
    );
    assert_eq!(lines.count(), 60);
    let events: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/events.json")).unwrap()).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("sim/truth.json")).unwrap()).unwrap();
    let frame = |v: &serde_json::Value, k: &str| v[k].as_i64().unwrap();
    for k in ["start_frame", "end_frame"] {
        let (a, b) = (
            frame(&events["condensation"], k),
            frame(&truth["condensation"], k),
        );
        assert!((a - b).abs() <= 2, "{k}: {a} vs {b}");
    }
    assert!(events["condensation"]["relative_drop"].as_f64().unwrap() > 0.3);
    let cycles = events["cycles"].as_array().unwrap();
    let kinds: Vec<&str> = cycles.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["out", "in", "out", "in"]);
    assert!(d.join("out/series.svg").is_file());
}

#[test]
fn flags_override_and_bright_polarity() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = nucleate(
        &[
            "movie",
            "simulate",
            "-o",
            "sim",
            "--polarity",
            "bright",
            "--cycles",
            "1",
            "--seed",
            "9",
            "-q",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(d.join("sim/movie.json")).unwrap();
    let o = nucleate(
        &[
            "movie",
            "sim/movie.tif",
            "-o",
            "out",
            "--pixel-nm",
            "0.5",
            "--dt-s",
            "0.5",
            "--polarity",
            "bright",
            "--seed-point",
            "64,64",
            "-q",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let events: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/events.json")).unwrap()).unwrap();
    assert_eq!(events["n_cycles"], 1);
}

#[test]
fn crystallinity_of_a_simulated_hrtem_series() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = nucleate(
        &[
            "movie", "simulate", "--hrtem", "-o", "hr", "--grains", "3", "--frames", "3", "--size",
            "128", "-q",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = nucleate(
        &[
            "crystallinity",
            "hr/hrtem.tif",
            "-o",
            "c.csv",
            "--spacing-nm",
            "0.2246",
            "-q",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let csv = std::fs::read_to_string(d.join("c.csv")).unwrap();
    let rows: Vec<Vec<String>> = csv
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(
        rows[0],
        ["frame", "herman_f", "n_orientations", "spacing_nm"]
    );
    assert_eq!(rows.len(), 4);
    // Frames have 3, 2, 1 grains (well separated): counted exactly; the last is one crystal.
    for (row, k) in rows[1..].iter().zip([3, 2, 1]) {
        assert_eq!(row[2], k.to_string(), "{row:?}");
    }
    let f_last: f64 = rows[3][1].parse().unwrap();
    assert!(f_last > 0.95, "{f_last}");
    assert!(d.join("c.svg").is_file());
}

/// A minimal little-endian RGB 8-bit TIFF (one strip), written byte by byte.
fn rgb_tiff(w: u16, h: u16) -> Vec<u8> {
    let pixels = (w as usize) * (h as usize) * 3;
    let mut b = b"II*\0".to_vec();
    b.extend(8u32.to_le_bytes());
    let entries: [(u16, u16, u32, u32); 9] = [
        (256, 3, 1, w as u32),
        (257, 3, 1, h as u32),
        (258, 3, 3, 0), // bits per sample: offset patched below
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, 0), // strip offset: patched below
        (277, 3, 1, 3),
        (278, 3, 1, h as u32),
        (279, 4, 1, pixels as u32),
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let bits_at = 8 + ifd_len as u32;
    let data_at = bits_at + 6;
    b.extend((entries.len() as u16).to_le_bytes());
    for (tag, typ, count, value) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(typ.to_le_bytes());
        b.extend(count.to_le_bytes());
        let v = match tag {
            258 => bits_at,
            273 => data_at,
            _ => value,
        };
        if typ == 3 && count == 1 {
            b.extend((v as u16).to_le_bytes());
            b.extend([0, 0]);
        } else {
            b.extend(v.to_le_bytes());
        }
    }
    b.extend(0u32.to_le_bytes());
    for _ in 0..3 {
        b.extend(8u16.to_le_bytes());
    }
    b.extend(vec![100u8; pixels]);
    b
}

#[test]
fn unsupported_tiff_layout_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rgb.tif"), rgb_tiff(8, 4)).unwrap();
    let o = nucleate(
        &[
            "movie",
            "rgb.tif",
            "-o",
            "out",
            "--pixel-nm",
            "1",
            "--dt-s",
            "1",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("rgb.tif") && e.contains("frame 0") && e.contains("RGB"),
        "{e}"
    );
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    let o = nucleate(
        &[
            "crystallinity",
            "rgb.tif",
            "-o",
            "c.csv",
            "--pixel-nm",
            "0.02",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rgb.tif"), "{}", stderr(&o));
    assert!(!d.join("c.csv").exists());
}

#[test]
fn not_a_tiff_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("junk.tif"), b"this is not an image").unwrap();
    let o = nucleate(
        &[
            "movie",
            "junk.tif",
            "-o",
            "out",
            "--pixel-nm",
            "1",
            "--dt-s",
            "1",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("junk.tif"), "{}", stderr(&o));
    assert!(!d.join("out/series.csv").exists());
}

#[test]
fn mismatched_frame_sizes_name_file_and_frame() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let frames = d.join("frames");
    let img = |w, h| Image::filled(w, h, 100.0);
    write_tiff(&frames.join("f000.tif"), &[img(32, 32)], TiffSample::U16).unwrap();
    write_tiff(&frames.join("f001.tif"), &[img(32, 32)], TiffSample::U16).unwrap();
    write_tiff(&frames.join("f002.tif"), &[img(40, 32)], TiffSample::U16).unwrap();
    let o = nucleate(
        &[
            "movie",
            "frames",
            "-o",
            "out",
            "--pixel-nm",
            "1",
            "--dt-s",
            "1",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("f002.tif") && e.contains("frame 2") && e.contains("40x32"),
        "{e}"
    );
    // The same inside a multi-page TIFF.
    write_tiff(
        &d.join("m.tif"),
        &[img(32, 32), img(32, 30)],
        TiffSample::F32,
    )
    .unwrap();
    let o = nucleate(
        &[
            "movie",
            "m.tif",
            "-o",
            "out",
            "--pixel-nm",
            "1",
            "--dt-s",
            "1",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("m.tif") && e.contains("frame 1"), "{e}");
}

#[test]
fn missing_metadata_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_tiff(
        &d.join("m.tif"),
        &[Image::filled(32, 32, 1.0)],
        TiffSample::U16,
    )
    .unwrap();
    let o = nucleate(&["movie", "m.tif", "-o", "out", "--dt-s", "1"], d);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("m.tif") && e.contains("--pixel-nm") && e.contains("m.json"),
        "{e}"
    );
    let o = nucleate(&["movie", "m.tif", "-o", "out", "--pixel-nm", "1"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--dt-s"), "{}", stderr(&o));
    let o = nucleate(&["crystallinity", "m.tif", "-o", "c.csv"], d);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--pixel-nm"), "{}", stderr(&o));
    // A broken sidecar is reported with its line and column.
    std::fs::write(d.join("m.json"), "{\"pixel_nm\": 0.5,\n \"dt_s\": }").unwrap();
    let o = nucleate(&["movie", "m.tif", "-o", "out"], d);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("m.json") && e.contains("line 2"), "{e}");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for args in [
        &["movie", "x.tif", "-o", "out", "--seed-point", "abc"][..],
        &["movie", "x.tif", "-o", "out", "--threshold", "bogus"][..],
        &["movie", "x.tif"][..],
        &["crystallinity", "x.tif"][..],
    ] {
        let o = nucleate(args, d);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

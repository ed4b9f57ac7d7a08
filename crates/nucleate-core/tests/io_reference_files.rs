//! Files written by ASE and LAMMPS read as their text says (tests/data/README.md names where
//! each came from). Expected numbers are the literal values of the files: parsing a decimal
//! literal in Rust and in the reader must give the same f64, so comparisons are exact.

// Literals are copied digit for digit from the files (LAMMPS prints 17 digits).
#![allow(clippy::excessive_precision)]

use std::path::PathBuf;

use nucleate_core::io::{open_trajectory, read_frame, FrameSelection, ReadOptions};
use nucleate_core::{Frame, PropertyValues, SimBox};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(name: &str) -> Frame {
    read_frame(data(name), &ReadOptions::default()).unwrap()
}

fn all(name: &str, options: &ReadOptions) -> Vec<Frame> {
    open_trajectory(data(name), options)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn ase_triclinic_cell() {
    let f = read("fcc_triclinic_s1.extxyz");
    assert_eq!(f.len(), 216);
    assert_eq!(
        f.cell.edges(),
        [
            [0.0, 11.76, 11.76],
            [11.76, 0.0, 11.76],
            [11.76, 11.76, 0.0]
        ]
    );
    assert_eq!(f.cell.origin(), [0.0; 3]);
    assert_eq!(f.cell.periodic(), [true; 3]);
    assert_eq!(f.positions[0], [11.77942635, 11.82334148, 0.10834965]);
    assert_eq!(f.positions[1], [2.10244521, 13.78754173, 11.70201498]);
    assert_eq!(f.species_names, vec!["Pt"]);
    assert!(f.ids.is_none());
    assert!(f.properties.is_empty());
}

#[test]
fn ase_hcp_cell_with_negative_component() {
    let f = read("hcp_perfect.extxyz");
    assert_eq!(f.len(), 288);
    assert_eq!(
        f.cell.edges()[1],
        [-8.3155757467538, 14.402999687565085, 0.0]
    );
    assert_eq!(f.positions[1], [0.0, 1.60033330, 2.26321306]);
}

#[test]
fn free_icosahedron_is_open_with_integer_tags() {
    let f = read("icosahedron_147.extxyz");
    assert_eq!(f.len(), 147);
    assert_eq!(f.cell.periodic(), [false; 3]);
    assert_eq!(f.cell.edges()[0], [60.0, 0.0, 0.0]);
    assert_eq!(f.positions[1], [32.35788374, 30.0, 28.54274770]);
    let tags = f.property("tags").unwrap();
    assert_eq!(tags.ncols, 1);
    match &tags.values {
        PropertyValues::Int(v) => assert_eq!(&v[..2], &[1, 2]),
        other => panic!("tags should be integers, got {other:?}"),
    }
}

#[test]
fn lammps_results_keep_properties_and_info() {
    let f = read("nanoparticle_free.extxyz");
    assert_eq!(f.len(), 784);
    assert_eq!(f.cell.periodic(), [false; 3]);
    let (forces, nc) = f.real_property("forces").unwrap();
    assert_eq!(nc, 3);
    assert_eq!(&forces[..3], &[1.76614993, 1.16564685, 0.11444047]);
    let (energies, nc) = f.real_property("energies").unwrap();
    assert_eq!(nc, 1);
    assert_eq!(energies[1], -4.27437902);
    assert_eq!(f.positions[0], [27.23617862, 35.13139535, 36.91625668]);
    assert_eq!(f.info_value("energy_ev"), Some("-4193.314447856674"));
    assert_eq!(
        f.info_value("virial_ev"),
        Some("-684.4495021503767 -683.0061103562763 -679.8974890462523 -0.011621212679060024 -3.47642402529128 3.0347527996501777")
    );
    // Lattice, Properties and pbc describe the frame itself and are not repeated in info.
    assert!(f.info_value("Lattice").is_none() && f.info_value("pbc").is_none());

    let p = read("fcc_perturbed_500.extxyz");
    assert_eq!(p.len(), 500);
    assert_eq!(p.cell.periodic(), [true; 3]);
    assert_eq!(p.positions[0], [19.43961632, 0.00640999, 0.07408913]);
}

#[test]
fn lammps_droplet_dump_gz() {
    let frames = all("pt_droplet_950K_2frames.dump.gz", &ReadOptions::default());
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].timestep, Some(0));
    assert_eq!(frames[1].timestep, Some(500));
    for f in &frames {
        assert_eq!(f.len(), 1601);
        assert_eq!(f.cell.periodic(), [false; 3], "ff boundaries are open");
        assert_eq!(f.cell.origin(), [-62.72; 3]);
        // hi - lo of the file's bounds (-62.72 .. 62.72).
        assert_eq!(f.cell.edges()[0][0], 62.72 - -62.72);
        let ids = f.ids.as_ref().unwrap();
        assert!(ids.iter().enumerate().all(|(i, &id)| id == i as i64 + 1));
        // Without type names a LAMMPS type is named by its number.
        assert_eq!(f.species_names, vec!["1"]);
    }
    assert_eq!(frames[0].positions[0], [8.46385, -5.50805, -10.4297]);
    assert_eq!(frames[0].positions[799], [7.45396, -7.12669, -2.2746]);
    assert_eq!(frames[1].positions[1600], [4.90373, 10.5695, -0.151936]);

    let named = ReadOptions {
        types: Some(vec!["Pt".into()]),
        frames: FrameSelection::parse("last").unwrap(),
    };
    let last = all("pt_droplet_950K_2frames.dump.gz", &named);
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].timestep, Some(500));
    assert_eq!(last[0].species_of(0), "Pt");
}

#[test]
fn lammps_bulk_dump_is_periodic() {
    let f = read("pt_bulk_1000K_frame0.dump.gz");
    assert_eq!(f.len(), 4000);
    assert_eq!(f.cell.periodic(), [true; 3]);
    let lo = -2.9198302837376744e-01;
    let hi = 3.9491983028374193e+01;
    assert_eq!(f.cell.origin(), [lo; 3]);
    assert_eq!(f.cell.edges()[2], [0.0, 0.0, hi - lo]);
    assert_eq!(f.positions[0], [38.073, 36.4341, 5.30169]);
    assert_eq!(f.positions[3999], [8.42204, 37.6342, 34.0299]);
}

/// The box LAMMPS reported for `lammps_triclinic/tri.in`.
fn lammps_tri_box() -> SimBox {
    SimBox::from_lammps(
        [0.0, -1.0, 0.5],
        [10.0, 8.0, 8.5],
        [2.5, -1.5, 1.0],
        [true, true, false],
    )
    .unwrap()
}

#[test]
fn lammps_triclinic_dump_box_is_exact() {
    for name in [
        "lammps_triclinic/tri.dump",
        "lammps_triclinic/tri_precise.dump",
    ] {
        let f = read(name);
        assert_eq!(f.len(), 20);
        assert_eq!(f.cell, lammps_tri_box(), "{name}");
        assert_eq!(f.species_names, vec!["1", "2"]);
        // Extra position columns are kept as properties.
        assert!(f.real_property("xs").is_some());
    }
    let f = read("lammps_triclinic/tri_precise.dump");
    assert_eq!(
        f.positions[0],
        [5.8000541149173177, 6.1496495824072719, 3.8284252152444913]
    );
}

/// Scaled coordinates map through the tilted cell: positions from `xs ys zs` agree with the
/// `x y z` LAMMPS computed itself. Tolerance: both are 17-digit prints of doubles, and
/// r = lo + h s loses at most a few ulps of the 13 A box.
#[test]
fn scaled_columns_use_the_tilted_cell() {
    let text = std::fs::read_to_string(data("lammps_triclinic/tri_precise.dump")).unwrap();
    // Drop the Cartesian columns so that the reader must use xs ys zs.
    let mut scaled = String::new();
    for line in text.lines() {
        if line.starts_with("ITEM: ATOMS") {
            scaled.push_str("ITEM: ATOMS id type xs ys zs\n");
        } else if line.split_whitespace().count() == 8 {
            let w: Vec<&str> = line.split_whitespace().collect();
            scaled.push_str(&format!("{} {} {} {} {}\n", w[0], w[1], w[5], w[6], w[7]));
        } else {
            scaled.push_str(line);
            scaled.push('\n');
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scaled.dump");
    std::fs::write(&path, scaled).unwrap();
    let from_scaled = read_frame(&path, &ReadOptions::default()).unwrap();
    let cartesian = read("lammps_triclinic/tri_precise.dump");
    assert_eq!(from_scaled.cell, cartesian.cell);
    for (a, b) in from_scaled.positions.iter().zip(&cartesian.positions) {
        for d in 0..3 {
            assert!((a[d] - b[d]).abs() < 1e-13, "{a:?} vs {b:?}");
        }
    }
}

#[test]
fn type_names_map_lammps_types() {
    let opts = ReadOptions {
        types: Some(vec!["Fe".into(), "Pt".into()]),
        ..Default::default()
    };
    let f = read_frame(data("lammps_triclinic/tri.dump"), &opts).unwrap();
    let text = std::fs::read_to_string(data("lammps_triclinic/tri.dump")).unwrap();
    // Row k of the file (sorted by id) has the type in its second column.
    for (row, line) in text.lines().skip(9).enumerate() {
        let t: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        assert_eq!(f.species_of(row), ["Fe", "Pt"][t - 1]);
    }
    let too_few = ReadOptions {
        types: Some(vec!["Fe".into()]),
        ..Default::default()
    };
    let err = read_frame(data("lammps_triclinic/tri.dump"), &too_few)
        .unwrap_err()
        .to_string();
    assert!(err.contains("atom type 2 has no name"), "{err}");
    assert!(err.contains("tri.dump") && err.contains("line "), "{err}");
}

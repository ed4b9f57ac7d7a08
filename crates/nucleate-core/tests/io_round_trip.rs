//! Files written by nucleate read back to the same frame, bit for bit; hand-made LAMMPS files
//! (triclinic dump, data file with image flags) read as the LAMMPS documentation defines them.

use std::path::{Path, PathBuf};

use nucleate_core::io::{
    create_trajectory, open_trajectory, read_frame, write_frame, FrameSelection, FrameSource,
    ReadOptions,
};
use nucleate_core::{Frame, PropertyValues, SimBox};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read_all(path: &Path, frames: &str) -> Vec<(usize, Frame)> {
    let opts = ReadOptions {
        types: None,
        frames: FrameSelection::parse(frames).unwrap(),
    };
    open_trajectory(path, &opts)
        .unwrap()
        .indexed()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Random frame with values spanning many magnitudes, ids in order, and one property of each
/// kind a format can hold.
fn random_frame(rng: &mut ChaCha8Rng, n: usize, cell: SimBox, all_kinds: bool) -> Frame {
    let mut positions = Vec::with_capacity(n);
    for _ in 0..n {
        let mut p = [0.0; 3];
        for x in &mut p {
            let scale = 10f64.powi(rng.gen_range(-12..4));
            *x = rng.gen_range(-1.0..1.0) * scale;
        }
        positions.push(p);
    }
    let species: Vec<&str> = (0..n).map(|i| ["Pt", "Fe", "Pd"][i % 3]).collect();
    let mut f = Frame::new(positions, &species, cell).unwrap();
    f.ids = Some((0..n as i64).map(|i| 3 * i + 7).collect());
    let forces: Vec<f64> = (0..3 * n).map(|_| rng.gen::<f64>() * 1e3 - 5e2).collect();
    f.set_property("forces", 3, PropertyValues::Real(forces))
        .unwrap();
    let q6: Vec<f64> = (0..n).map(|_| rng.gen::<f64>()).collect();
    f.set_property("q6", 1, PropertyValues::Real(q6)).unwrap();
    if all_kinds {
        let label: Vec<i64> = (0..n).map(|_| rng.gen_range(-5..1000)).collect();
        f.set_property("label", 1, PropertyValues::Int(label))
            .unwrap();
        let solid: Vec<bool> = (0..2 * n).map(|_| rng.gen()).collect();
        f.set_property("solid", 2, PropertyValues::Bool(solid))
            .unwrap();
        let tag: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        f.set_property("tag", 1, PropertyValues::Str(tag)).unwrap();
    }
    f
}

fn triclinic_cell() -> SimBox {
    SimBox::new(
        [[12.25, 0.0, 0.0], [-3.5, 11.0, 0.0], [1.75, 2.25, 9.5]],
        [0.0; 3],
        [true, false, true],
    )
    .unwrap()
}

#[test]
fn extxyz_round_trip_is_bit_identical() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.extxyz");
    // A general cell with an origin (OVITO's Origin=) and irrational-looking vectors.
    let cell = SimBox::new(
        [
            [10.123456789012345, 0.1, -0.2],
            [1.0 / 3.0, 9.87654321, 0.0],
            [0.5, -0.25, 11.0 + 1e-9],
        ],
        [-1.5, 2.0 / 7.0, 0.0],
        [true, true, false],
    )
    .unwrap();
    let mut frames = Vec::new();
    let mut w = create_trajectory(&path).unwrap();
    for k in 0..3 {
        let mut f = random_frame(&mut rng, 40, cell, true);
        f.timestep = Some(1000 * k);
        f.info = vec![
            ("energy_ev".into(), "-1.25".into()),
            ("note".into(), "two words and \"quotes\"".into()),
            ("Timestep".into(), (1000 * k).to_string()),
        ];
        w.write_frame(&f).unwrap();
        frames.push(f);
    }
    w.finish().unwrap();
    let back: Vec<Frame> = read_all(&path, ":").into_iter().map(|(_, f)| f).collect();
    assert_eq!(back, frames);
}

#[test]
fn extxyz_reference_files_survive_rewriting() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "fcc_triclinic_s1.extxyz",
        "icosahedron_147.extxyz",
        "nanoparticle_free.extxyz",
        "hcp_perfect.extxyz",
    ] {
        let f = read_frame(data(name), &ReadOptions::default()).unwrap();
        let out = dir.path().join(name);
        write_frame(&out, &f).unwrap();
        let back = read_frame(&out, &ReadOptions::default()).unwrap();
        assert_eq!(back, f, "{name}");
    }
}

#[test]
fn dump_round_trip_plain_and_gz() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let dir = tempfile::tempdir().unwrap();
    let ortho = SimBox::orthorhombic([20.5, 18.25, 30.0], [true, true, false]).unwrap();
    for name in ["t.dump", "t.lammpstrj.gz"] {
        let path = dir.path().join(name);
        let mut frames = Vec::new();
        let mut w = create_trajectory(&path).unwrap();
        for k in 0..4u64 {
            let cell = if k % 2 == 0 { ortho } else { triclinic_cell() };
            let mut f = random_frame(&mut rng, 30, cell, false);
            f.timestep = Some(k * 250);
            w.write_frame(&f).unwrap();
            frames.push(f);
        }
        w.finish().unwrap();
        let back: Vec<Frame> = read_all(&path, ":").into_iter().map(|(_, f)| f).collect();
        assert_eq!(back, frames, "{name}");
    }
}

#[test]
fn dump_reference_frame_survives_rewriting() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "pt_bulk_1000K_frame0.dump.gz",
        "lammps_triclinic/tri_precise.dump",
    ] {
        let f = read_frame(data(name), &ReadOptions::default()).unwrap();
        let out = dir.path().join("again.dump");
        write_frame(&out, &f).unwrap();
        let back = read_frame(&out, &ReadOptions::default()).unwrap();
        assert_eq!(back, f, "{name}");
    }
}

/// A box that is not in LAMMPS' restricted form goes to a dump as general triclinic
/// (`abc origin`) and comes back unchanged.
#[test]
fn dump_general_triclinic_round_trip() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let f0 = read_frame(data("fcc_triclinic_s1.extxyz"), &ReadOptions::default()).unwrap();
    assert!(!f0.cell.is_lammps_form());
    let mut f = random_frame(&mut rng, 10, f0.cell, false);
    f.timestep = Some(3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("general.dump");
    write_frame(&path, &f).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("ITEM: BOX BOUNDS abc origin pp pp pp"));
    assert_eq!(read_frame(&path, &ReadOptions::default()).unwrap(), f);
}

/// A triclinic dump written by hand the way the LAMMPS `dump` documentation defines it:
/// xlo_bound = xlo + min(0, xy, xz, xy + xz), xhi_bound = xhi + max(0, xy, xz, xy + xz),
/// ylo_bound = ylo + min(0, yz), yhi_bound = yhi + max(0, yz). All values are exact binary
/// fractions, so the recovered box must be exact.
#[test]
fn hand_written_triclinic_dump() {
    let (lo, hi) = ([-1.25, 0.5, 2.0], [8.75, 9.5, 12.0]);
    let (xy, xz, yz) = (-2.5, 1.75, -0.5);
    let xlo_b = lo[0]
        + [0.0, xy, xz, xy + xz]
            .into_iter()
            .fold(f64::INFINITY, f64::min);
    let xhi_b = hi[0]
        + [0.0, xy, xz, xy + xz]
            .into_iter()
            .fold(f64::NEG_INFINITY, f64::max);
    let ylo_b = lo[1] + f64::min(0.0, yz);
    let yhi_b = hi[1] + f64::max(0.0, yz);
    let text = format!(
        "ITEM: TIMESTEP\n42\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS xy xz yz pp pp pp\n\
         {xlo_b} {xhi_b} {xy}\n{ylo_b} {yhi_b} {xz}\n{} {} {yz}\n\
         ITEM: ATOMS id type xs ys zs\n2 1 0.5 0.25 0.75\n1 1 0 0 0\n",
        lo[2], hi[2]
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hand.dump");
    std::fs::write(&path, text).unwrap();
    let f = read_frame(&path, &ReadOptions::default()).unwrap();
    assert_eq!(f.timestep, Some(42));
    assert_eq!(
        f.cell.edges(),
        [[10.0, 0.0, 0.0], [xy, 9.0, 0.0], [xz, yz, 10.0]]
    );
    assert_eq!(f.cell.origin(), lo);
    // Sorted by id: atom 1 at the origin corner, atom 2 at lo + 0.5 a + 0.25 b + 0.75 c.
    assert_eq!(f.ids, Some(vec![1, 2]));
    assert_eq!(f.positions[0], lo);
    let want = [
        lo[0] + 0.5 * 10.0 + 0.25 * xy + 0.75 * xz,
        lo[1] + 0.25 * 9.0 + 0.75 * yz,
        lo[2] + 0.75 * 10.0,
    ];
    assert_eq!(f.positions[1], want);
}

#[test]
fn data_round_trip_with_labels_and_masses() {
    let mut rng = ChaCha8Rng::seed_from_u64(14);
    let dir = tempfile::tempdir().unwrap();
    let cell = SimBox::from_lammps(
        [0.0, 0.0, 0.0],
        [12.25, 11.0, 9.5],
        [-3.5, 1.75, 2.25],
        [true; 3],
    )
    .unwrap();
    let mut f = random_frame(&mut rng, 25, cell, false);
    f.properties.clear();
    let path = dir.path().join("labels.data");
    write_frame(&path, &f).unwrap();
    assert_eq!(read_frame(&path, &ReadOptions::default()).unwrap(), f);

    let path = dir.path().join("masses.lmp");
    let mut w = create_trajectory(&path).unwrap();
    w.set_masses(vec![195.084, 55.845, 106.42]);
    w.write_frame(&f).unwrap();
    assert!(w.write_frame(&f).is_err(), "a data file holds one frame");
    w.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("1 195.084 # Pt"));
    assert_eq!(read_frame(&path, &ReadOptions::default()).unwrap(), f);

    // Not in LAMMPS form: a clear error, no file.
    let tri = read_frame(data("fcc_triclinic_s1.extxyz"), &ReadOptions::default()).unwrap();
    let out = dir.path().join("tri.data");
    let err = write_frame(&out, &tri).unwrap_err().to_string();
    assert!(err.contains("restricted triclinic form"), "{err}");
    assert!(!out.exists());
}

/// Image flags move atoms by whole cell vectors: r + ix a + iy b + iz c.
#[test]
fn data_image_flags_unwrap() {
    let text = "LAMMPS data\n\n3 atoms\n2 atom types\n\n0 10 xlo xhi\n0 8 ylo yhi\n0 6 zlo zhi\n\
                2 1 0.5 xy xz yz\n\nMasses\n\n1 195.084 # Pt\n2 55.845 # Fe\n\n\
                Atoms # atomic\n\n3 2 1 1 1 0 0 0\n1 1 1 2 3 1 -1 2\n2 1 0.5 0.5 0.5 0 1 0\n\n\
                Velocities\n\n1 0 0 0\n2 0 0 0\n3 0 0 0\n";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.data");
    std::fs::write(&path, text).unwrap();
    let f = read_frame(&path, &ReadOptions::default()).unwrap();
    assert_eq!(f.ids, Some(vec![1, 2, 3]));
    // a = (10,0,0), b = (2,8,0), c = (1,0.5,6); atom 1: (1,2,3) + a - b + 2c.
    assert_eq!(
        f.positions[0],
        [1.0 + 10.0 - 2.0 + 2.0, 2.0 - 8.0 + 1.0, 3.0 + 12.0]
    );
    assert_eq!(f.positions[1], [2.5, 8.5, 0.5]);
    assert_eq!(f.species_of(0), "Pt");
    assert_eq!(f.species_of(2), "Fe");
    assert_eq!(f.cell.periodic(), [true; 3]);

    // `Atoms # charge`: id type q x y z.
    let charge = "title\n2 atoms\n1 atom types\n0 5 xlo xhi\n0 5 ylo yhi\n0 5 zlo zhi\n\n\
                  Atoms # charge\n\n2 1 -0.5 1 1 1\n1 1 0.5 2 2 2\n";
    std::fs::write(&path, charge).unwrap();
    let types = ReadOptions {
        types: Some(vec!["O".into()]),
        ..Default::default()
    };
    let f = read_frame(&path, &types).unwrap();
    assert_eq!(f.real_property("q").unwrap().0, &[0.5, -0.5]);
    assert_eq!(f.positions[0], [2.0, 2.0, 2.0]);
    assert_eq!(f.species_of(0), "O");
}

#[test]
fn frame_selection_plain_and_gz() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let dir = tempfile::tempdir().unwrap();
    let cell = SimBox::orthorhombic([15.0; 3], [true; 3]).unwrap();
    for name in ["sel.dump", "sel.dump.gz", "sel.extxyz", "sel.extxyz.gz"] {
        let path = dir.path().join(name);
        let mut w = create_trajectory(&path).unwrap();
        for k in 0..12u64 {
            let mut f = random_frame(&mut rng, 5 + k as usize, cell, false);
            f.timestep = Some(10 * k);
            w.write_frame(&f).unwrap();
        }
        w.finish().unwrap();
        for (spec, want) in [
            (":", (0..12).collect::<Vec<usize>>()),
            ("0:10:3", vec![0, 3, 6, 9]),
            ("last", vec![11]),
            ("-3:", vec![9, 10, 11]),
            ("-1,0,5", vec![0, 5, 11]),
            ("7,2", vec![2, 7]),
            ("::5", vec![0, 5, 10]),
            ("20", vec![]),
        ] {
            let got = read_all(&path, spec);
            let idx: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
            assert_eq!(idx, want, "{name} {spec}");
            for (i, f) in &got {
                assert_eq!(f.timestep, Some(10 * *i as u64), "{name} {spec}");
                assert_eq!(f.len(), 5 + i, "{name} {spec}");
            }
        }
    }
}

#[test]
fn format_is_detected_from_content() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read(data("lammps_triclinic/tri.dump")).unwrap();
    let path = dir.path().join("trajectory.out");
    std::fs::write(&path, src).unwrap();
    let mut t = open_trajectory(&path, &ReadOptions::default()).unwrap();
    assert_eq!(t.next_frame().unwrap().unwrap().len(), 20);
    assert!(t.next_frame().is_none());
    let xyz = std::fs::read(data("icosahedron_147.extxyz")).unwrap();
    let path = dir.path().join("model.txt");
    std::fs::write(&path, xyz).unwrap();
    assert_eq!(
        read_frame(&path, &ReadOptions::default()).unwrap().len(),
        147
    );
}

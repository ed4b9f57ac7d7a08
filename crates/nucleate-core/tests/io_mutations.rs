//! Random byte mutations of valid files never make a reader panic: every outcome is frames or
//! an error. 200 cases per format keep this fast; the cargo-fuzz targets in `fuzz/` search
//! deeper.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use nucleate_core::io::extxyz::ExtXyzReader;
use nucleate_core::io::lammps_data::parse_data;
use nucleate_core::io::lammps_dump::DumpReader;
use proptest::prelude::*;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name),
    )
    .unwrap()
}

const DUMP: &str =
    "ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n3\nITEM: BOX BOUNDS xy xz yz pp pp ff\n\
-1.5 12.5 2.5\n-1 9 -1.5\n0.5 8.5 1\nITEM: ATOMS id type x y z xs c_f[1] c_f[2]\n\
3 1 1.0 2.0 3.0 0.1 5 6\n1 2 0.5 0.5 0.5 0.2 7 8\n2 1 4 5 6 0.3 9 1e3\n\
ITEM: TIMESTEP\n10\nITEM: NUMBER OF ATOMS\n1\nITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n\
ITEM: ATOMS id element xsu ysu zsu\n1 Pt 0.5 0.5 0.5\n";

const XYZ: &str = "2\nLattice=\"10 0 0 1 10 0 0 0 10\" Properties=species:S:1:pos:R:3:id:I:1:f:R:3:ok:L:1:tag:S:1 \
pbc=\"T F T\" Timestep=5 note=\"a b\" flag\nPt 0 0 0 2 1 2 3 T x\nFe 1 1 1 1 4 5 6 F y\n\
1\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\nAu 1 2 3\n";

const DATA: &str = "title\n\n3 atoms\n2 atom types\n\n0 10 xlo xhi\n0 8 ylo yhi\n0 6 zlo zhi\n\
2 1 0.5 xy xz yz\n\nMasses\n\n1 195.084 # Pt\n2 55.845 # Fe\n\nAtoms # atomic\n\n\
3 2 1 1 1 0 0 0\n1 1 1 2 3 1 -1 2\n2 1 0.5 0.5 0.5 0 1 0\n";

/// Tokens that steer a parser into its rarer branches.
const SNIPPETS: [&[u8]; 12] = [
    b"\n",
    b" ",
    b"nan",
    b"-",
    b"ITEM: ",
    b"\"",
    b"=",
    b":",
    b"99999999999999999999",
    b"#",
    b"1e308",
    b"[",
];

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, usize),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), 0..SNIPPETS.len()).prop_map(|(i, k)| Mutation::Insert(i, k)),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn mutate(base: &[u8], muts: &[Mutation]) -> Vec<u8> {
    let mut v = base.to_vec();
    for m in muts {
        let len = v.len().max(1);
        match *m {
            Mutation::Replace(i, b) => {
                if !v.is_empty() {
                    v[i % len] = b;
                }
            }
            Mutation::Insert(i, k) => {
                let at = i % (v.len() + 1);
                v.splice(at..at, SNIPPETS[k].iter().copied());
            }
            Mutation::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(v.len());
                if at < end {
                    v.drain(at..end);
                }
            }
        }
    }
    v
}

/// Read every frame (parsing and skipping alternately) and stop at the first error.
fn exercise(bytes: &[u8]) {
    let path = Path::new("mutated");
    let mut dump = DumpReader::new(Cursor::new(bytes.to_vec()), path, Some(vec!["Pt".into()]));
    for _ in 0..4 {
        if dump.read_frame().is_none() {
            break;
        }
        if dump.skip_frame().is_none() {
            break;
        }
    }
    let mut dump = DumpReader::new(Cursor::new(bytes.to_vec()), path, None);
    while let Some(Ok(_)) = dump.read_frame() {}
    let mut xyz = ExtXyzReader::new(Cursor::new(bytes.to_vec()), path);
    while let Some(Ok(_)) = xyz.read_frame() {}
    let mut xyz = ExtXyzReader::new(Cursor::new(bytes.to_vec()), path);
    while let Some(Ok(())) = xyz.skip_frame() {}
    let _ = parse_data(Cursor::new(bytes.to_vec()), path, None);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn mutated_dump_never_panics(muts in prop::collection::vec(mutation(), 1..8)) {
        exercise(&mutate(DUMP.as_bytes(), &muts));
    }

    #[test]
    fn mutated_extxyz_never_panics(muts in prop::collection::vec(mutation(), 1..8)) {
        exercise(&mutate(XYZ.as_bytes(), &muts));
    }

    #[test]
    fn mutated_data_never_panics(muts in prop::collection::vec(mutation(), 1..8)) {
        exercise(&mutate(DATA.as_bytes(), &muts));
    }

    #[test]
    fn mutated_reference_file_never_panics(muts in prop::collection::vec(mutation(), 1..8)) {
        let base = data("lammps_triclinic/tri.dump");
        exercise(&mutate(&base, &muts));
    }
}

/// The unmutated inputs are valid, so the mutations start from files that parse.
#[test]
fn seeds_are_valid() {
    let path = Path::new("seed");
    let frames: Vec<_> = DumpReader::new(Cursor::new(DUMP.as_bytes().to_vec()), path, None)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].ids, Some(vec![1, 2, 3]));
    assert_eq!(frames[0].real_property("c_f").unwrap().1, 2);
    assert_eq!(frames[1].species_of(0), "Pt");
    let frames: Vec<_> = ExtXyzReader::new(Cursor::new(XYZ.as_bytes().to_vec()), path)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[0].timestep, Some(5));
    assert_eq!(frames[0].cell.periodic(), [true, false, true]);
    assert_eq!(frames[0].info_value("note"), Some("a b"));
    assert_eq!(frames[0].info_value("flag"), Some("T"));
    assert_eq!(frames[1].cell.periodic(), [false; 3]);
    let f = parse_data(Cursor::new(DATA.as_bytes().to_vec()), path, None).unwrap();
    assert_eq!(f.len(), 3);
}

/// Inputs the fuzzer found: a Properties column count of 91 million (once allocated up front)
/// and a data file declaring 44798 atom types (once quadratic in the type count).
#[test]
fn fuzzer_findings_stay_fixed() {
    let path = Path::new("found");
    let xyz = "147\nLattice=\"60.0 0.0 0.0 0.0 60.0 0.0 0.0 0.0 60.0\" \
               Properties=species:S:1:pos:R:3:tags:I:91450459\nPt 27.8 34.7 1\n";
    let err = ExtXyzReader::new(Cursor::new(xyz.as_bytes().to_vec()), path)
        .read_frame()
        .unwrap()
        .unwrap_err()
        .to_string();
    assert!(err.contains("column count `91450459`"), "{err}");

    // An atom count of u64::MAX when the frame is skipped.
    let huge = format!("{}\nLat\nPt 0 0 0\n", u64::MAX);
    let mut r = ExtXyzReader::new(Cursor::new(huge.into_bytes()), path);
    assert!(r.skip_frame().unwrap().is_err());

    // No Lattice and positions whose bounding box has no finite volume.
    let far = "2\nProperties=species:S:1:pos:R:3\nPt 1e300 0 0\nPt -1e300 1e200 1e200\n";
    let mut r = ExtXyzReader::new(Cursor::new(far.as_bytes().to_vec()), path);
    let err = r.read_frame().unwrap().unwrap_err().to_string();
    assert!(err.contains("too large a region"), "{err}");

    let data = "t\n\n3 atoms\n44798 atom types\n\n0 10 xlo xhi\n0 10 ylo yhi\n0 10 zlo zhi\n\n\
                Atoms # atomic\n\n1 1 0.5 0.5 0.5\n2 2 1.5 0.5 0.5\n3 44798 0.5 1.5 0.5\n";
    let f = parse_data(Cursor::new(data.as_bytes().to_vec()), path, None).unwrap();
    assert_eq!(f.species_names.len(), 44798);
    assert_eq!(f.species_of(2), "44798");
}

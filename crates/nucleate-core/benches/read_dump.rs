//! Reading speed of the text readers on in-memory files (no disk, no decompression):
//! a 4000-atom x 10-frame LAMMPS dump with shuffled ids, and the same frames as extended XYZ.
//! `benches/read_dump_vs_ase.py` compares the dump reader with ASE on a 32,000 x 50 file.

use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nucleate_core::io::extxyz::{self, ExtXyzReader};
use nucleate_core::io::lammps_dump::{self, DumpReader};
use nucleate_core::{Frame, SimBox};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn frames() -> Vec<Frame> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n_cells = 10;
    let a = 3.92;
    let cell = SimBox::orthorhombic([n_cells as f64 * a; 3], [true; 3]).unwrap();
    let basis = [
        [0.0, 0.0, 0.0],
        [0.5, 0.5, 0.0],
        [0.5, 0.0, 0.5],
        [0.0, 0.5, 0.5],
    ];
    let mut out = Vec::new();
    for k in 0..10 {
        let mut pos = Vec::new();
        for i in 0..n_cells {
            for j in 0..n_cells {
                for l in 0..n_cells {
                    for b in basis {
                        pos.push([
                            (i as f64 + b[0]) * a + rng.gen_range(-0.1..0.1),
                            (j as f64 + b[1]) * a + rng.gen_range(-0.1..0.1),
                            (l as f64 + b[2]) * a + rng.gen_range(-0.1..0.1),
                        ]);
                    }
                }
            }
        }
        let n = pos.len();
        let mut f = Frame::new(pos, &vec!["Pt"; n], cell).unwrap();
        let mut ids: Vec<i64> = (1..=n as i64).collect();
        ids.shuffle(&mut rng);
        f.ids = Some(ids);
        f.timestep = Some(k * 500);
        out.push(f);
    }
    out
}

fn bench(c: &mut Criterion) {
    let frames = frames();
    let mut dump = Vec::new();
    let mut xyz = Vec::new();
    for (k, f) in frames.iter().enumerate() {
        lammps_dump::format_frame(&mut dump, f, k as u64).unwrap();
        extxyz::format_frame(&mut xyz, f).unwrap();
    }
    let mut g = c.benchmark_group("read");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(dump.len() as u64));
    g.bench_function("lammps_dump_4000x10", |b| {
        b.iter(|| {
            let r = DumpReader::new(Cursor::new(&dump[..]), "bench.dump", None);
            r.map(|f| f.unwrap().len()).sum::<usize>()
        })
    });
    g.throughput(Throughput::Bytes(xyz.len() as u64));
    g.bench_function("extxyz_4000x10", |b| {
        b.iter(|| {
            let r = ExtXyzReader::new(Cursor::new(&xyz[..]), "bench.extxyz");
            r.map(|f| f.unwrap().len()).sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

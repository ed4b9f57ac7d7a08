//! The `nucleate bench md` benchmark without the command-line crate, for
//! `benches/md_vs_lammps.py --bench-example`:
//! `bench_md CELLS TEMPERATURE_K STEPS THREADS POTENTIAL` prints the result as JSON.
//! Build with `cargo bench -p nucleate-md --bench bench_md --no-run`.

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 6 {
        eprintln!("usage: bench_md CELLS TEMPERATURE_K STEPS THREADS POTENTIAL");
        std::process::exit(2);
    }
    let cells: usize = a[1].parse().expect("CELLS");
    let temperature: f64 = a[2].parse().expect("TEMPERATURE_K");
    let steps: u64 = a[3].parse().expect("STEPS");
    let threads: usize = a[4].parse().expect("THREADS");
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("thread pool");
    let potential = nucleate_md::Potential::load(&a[5]).expect("potential");
    let r = nucleate_md::bench::bench_md(potential, cells, temperature, steps, 1).expect("bench");
    println!("{}", serde_json::to_string(&r).expect("json"));
}

//! Throughput of the MD engine: `bench_md CELLS TEMPERATURE STEPS THREADS [POTENTIAL]`.
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let cells: usize = a.get(1).map_or(10, |s| s.parse().unwrap());
    let t: f64 = a.get(2).map_or(300.0, |s| s.parse().unwrap());
    let steps: u64 = a.get(3).map_or(200, |s| s.parse().unwrap());
    let threads: usize = a.get(4).map_or(1, |s| s.parse().unwrap());
    let pot = a.get(5).map_or("builtin:pt-u3", |s| s.as_str());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();
    let p = nucleate_md::Potential::load(pot).unwrap();
    let r = nucleate_md::bench::bench_md(p, cells, t, steps, 1).unwrap();
    println!("{}", serde_json::to_string(&r).unwrap());
}

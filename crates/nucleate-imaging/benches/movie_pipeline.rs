//! Speed of the per-frame movie pipeline (read, denoise, flatten, threshold, label,
//! measure) and of the FFT crystallinity per frame, for side-by-side comparison with
//! `movie_vs_skimage.py` (scikit-image / numpy).
//!
//! Usage (release build):
//!   cargo bench -p nucleate-imaging --bench movie_pipeline -- [FRAMES] [DIR]
//! writes (once) DIR/bench_movie_FRAMES.tif (1024 x 1024 x FRAMES, default 200) and
//! DIR/bench_hrtem.tif (512 x 512 x 20), then prints one JSON line of timings: wall clock
//! and the process's CPU time (user + system, all threads), which is what to compare on a
//! loaded machine. The thread count is rayon's (`RAYON_NUM_THREADS`). The Python script
//! reads the same files.

use std::path::PathBuf;
use std::time::Instant;

use nucleate_imaging::fft::{crystallinity_of_movie, CrystallinityParams};
use nucleate_imaging::movie::io::{write_tiff, MovieMeta, TiffSample};
use nucleate_imaging::movie::{
    analyse_movie, detect_events, Background, CoreThreshold, EventParams, MovieParams,
};
use nucleate_imaging::simulate::{simulate_hrtem, simulate_movie, HrtemSimParams, MovieSimParams};

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let frames: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let dir = PathBuf::from(
        args.get(1)
            .cloned()
            .unwrap_or_else(|| "/tmp/nucleate-bench".into()),
    );
    std::fs::create_dir_all(&dir).unwrap();
    let movie = dir.join(format!("bench_movie_{frames}.tif"));
    if !movie.exists() {
        let sim = MovieSimParams {
            width: 1024,
            height: 1024,
            frames,
            condense_frame: frames / 4,
            cycles: usize::from(frames >= 40),
            cloud_radius_px: 240.0,
            particle_radius_px: 110.0,
            cloud_width_px: 80.0,
            seed: 1,
            ..Default::default()
        };
        let (imgs, _) = simulate_movie(&sim).unwrap();
        write_tiff(&movie, &imgs, TiffSample::U16).unwrap();
    }
    let hrtem = dir.join("bench_hrtem.tif");
    if !hrtem.exists() {
        let imgs: Vec<_> = (0..20)
            .map(|s| {
                simulate_hrtem(&HrtemSimParams {
                    size: 512,
                    grains: 1 + s % 4,
                    seed: s as u64,
                    ..Default::default()
                })
                .unwrap()
                .0
            })
            .collect();
        write_tiff(&hrtem, &imgs, TiffSample::F32).unwrap();
    }
    // The same steps as the Python peer: Gaussian denoising (sigma 1.5 px), Gaussian
    // background (sigma 64 px) subtracted, Otsu threshold, label (8-connectivity), measure
    // the object (area, centroid, mean grey). The pipeline does more besides: the loose
    // (cloud) level from the median and MAD, the cloud gathered around the object, the
    // core as the largest part above Otsu's level, and tracking between frames.
    let params = MovieParams {
        background: Some(Background::Gaussian { sigma_px: 64.0 }),
        core_threshold: CoreThreshold::Otsu,
        ..Default::default()
    };
    let meta = MovieMeta {
        pixel_nm: 0.5,
        dt_s: 0.5,
    };
    let (t, cpu) = (Instant::now(), cpu_s());
    let series = analyse_movie(&movie, meta, &params).unwrap();
    let _ = detect_events(&series, &EventParams::default());
    let movie_s = t.elapsed().as_secs_f64();
    let movie_cpu_s = cpu_s() - cpu;
    let t = Instant::now();
    let cryst = crystallinity_of_movie(
        &hrtem,
        &CrystallinityParams {
            pixel_nm: 0.025,
            spacing_nm: Some(0.2246),
            ..Default::default()
        },
    )
    .unwrap();
    let fft_s = t.elapsed().as_secs_f64();
    let n = series.records.len() as f64;
    println!(
        "{{\"threads\": {}, \"frames\": {}, \"movie_s\": {movie_s:.3}, \"movie_ms_per_frame\": {:.2}, \
         \"movie_cpu_ms_per_frame\": {:.2}, \"fft_frames\": {}, \"fft_ms_per_frame\": {:.2}}}",
        rayon::current_num_threads(),
        series.records.len(),
        1e3 * movie_s / n,
        1e3 * movie_cpu_s / n,
        cryst.len(),
        1e3 * fft_s / cryst.len() as f64
    );
}

/// CPU time (user + system, s) of this process so far, from /proc/self/stat (Linux; NaN
/// elsewhere).
fn cpu_s() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the line, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    if f.len() == 2 {
        (f[0] + f[1]) / 100.0
    } else {
        f64::NAN
    }
}

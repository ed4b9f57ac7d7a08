//! Per-frame pre-processing (polarity, denoising, background flattening), thresholds
//! (Otsu) and connected components.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::image::{bin_values, median_mad_sigma, Image};
use crate::movie::Polarity;

/// How the large-scale background (uneven illumination) is removed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Background {
    /// No flattening.
    None,
    /// Subtract a smooth polynomial surface of total degree `order` in x and y (order 2: a
    /// tilt and a bowl, the usual shape of uneven illumination), fitted by least squares
    /// with the object masked out (pixels more than 2.5 noise sigma on the particle's side
    /// of the fit get zero weight, iterated three times). No edge artefacts, which a
    /// Gaussian background has on a tilt. Fitted on a copy binned to at most 64 x 64.
    Polynomial {
        /// Total degree (0..=4).
        order: usize,
    },
    /// Subtract a Gaussian-smoothed background of standard deviation `sigma_px` (px),
    /// computed by normalised convolution with the object masked out (pixels more than
    /// 2.5 noise sigma on the particle's side of the background are given zero weight,
    /// iterated three times), so a large particle or cloud does not sink into its own
    /// background. Computed on a binned copy (bin = sigma / 4), which changes a smooth
    /// background by far less than the noise and makes the cost independent of sigma.
    Gaussian {
        /// Standard deviation of the background (px).
        sigma_px: f64,
    },
}

/// Denoising applied before thresholding.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Denoise {
    /// No denoising.
    None,
    /// Gaussian smoothing of standard deviation `sigma_px` (px).
    Gaussian {
        /// Standard deviation (px).
        sigma_px: f64,
    },
    /// Median over a (2 r + 1)^2 square.
    Median {
        /// Half-width r (px).
        radius_px: usize,
    },
}

/// A frame after pre-processing: the signal is the flattened, denoised grey value turned so
/// that particles are positive ("density"), in grey units of the input.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Flattened, denoised, polarity-corrected image.
    pub signal: Image,
    /// Median of the signal over the frame (the background level).
    pub background_level: f64,
    /// Robust noise (1.4826 MAD) of the signal over the frame.
    pub noise_sigma: f64,
}

/// Every `step`-th value: enough pixels for robust statistics of a large frame at a fraction
/// of the cost of selecting over all of them.
fn subsample<T: Copy + Into<f64>>(data: &[T], max_samples: usize) -> Vec<f64> {
    let step = (data.len() / max_samples.max(1)).max(1);
    data.iter().step_by(step).map(|v| (*v).into()).collect()
}

/// Normalised convolution: Gaussian of `img * weight` divided by the Gaussian of `weight`.
fn masked_gaussian(img: &Image, weight: &[f64], sigma: f64) -> Image {
    let num = Image::from_vec(
        img.width,
        img.height,
        img.data.iter().zip(weight).map(|(v, w)| v * w).collect(),
    )
    .gaussian(sigma);
    let den = Image::from_vec(img.width, img.height, weight.to_vec()).gaussian(sigma);
    let total_w: f64 = weight.iter().sum();
    let fallback = if total_w > 0.0 {
        img.data.iter().zip(weight).map(|(v, w)| v * w).sum::<f64>() / total_w
    } else {
        img.data.iter().sum::<f64>() / img.len().max(1) as f64
    };
    let data = num
        .data
        .iter()
        .zip(&den.data)
        .map(|(n, d)| if *d > 1e-3 { n / d } else { fallback })
        .collect();
    Image::from_vec(img.width, img.height, data)
}

/// Bin factor of the Gaussian background: sigma / 4, so the binned sigma is about 4 px.
fn gaussian_bin_factor(sigma_px: f64) -> usize {
    ((sigma_px / 4.0).floor() as usize).max(1)
}

/// The masked normalised Gaussian background of an already binned image (binned sigma
/// `sigma` px).
fn binned_background(binned: &Image, sigma: f64) -> Image {
    let mut weight = vec![1.0; binned.len()];
    let mut bg = binned.gaussian(sigma);
    for _ in 0..3 {
        let resid: Vec<f64> = binned
            .data
            .iter()
            .zip(&bg.data)
            .map(|(v, b)| v - b)
            .collect();
        let (_, s) = median_mad_sigma(&resid);
        let cut = 2.5 * s.max(1e-12);
        weight
            .iter_mut()
            .zip(&resid)
            .for_each(|(w, r)| *w = if *r > cut { 0.0 } else { 1.0 });
        bg = masked_gaussian(binned, &weight, sigma);
    }
    bg
}

/// The smooth background of `img` (particles positive) by masked normalised Gaussian
/// smoothing on a binned copy.
pub fn background(img: &Image, sigma_px: f64) -> Image {
    let factor = gaussian_bin_factor(sigma_px);
    binned_background(&img.bin(factor), sigma_px / factor as f64)
        .unbin(factor, img.width, img.height)
}

/// Subtract from `signal` (`width` x `height`) the bilinear resampling of the binned
/// background `bg` (as [`Image::unbin`] computes it), one row at a time.
fn subtract_unbinned(signal: &mut [f32], width: usize, height: usize, bg: &Image, factor: usize) {
    let coord = |p: usize, n: usize| crate::image::unbin_coord(p, n, factor);
    let xs: Vec<_> = (0..width).map(|x| coord(x, bg.width)).collect();
    let mut line = vec![0.0f64; bg.width];
    for (y, row) in signal.chunks_exact_mut(width).enumerate().take(height) {
        let (y0, y1, ty) = coord(y, bg.height);
        let (r0, r1) = (
            &bg.data[y0 * bg.width..(y0 + 1) * bg.width],
            &bg.data[y1 * bg.width..(y1 + 1) * bg.width],
        );
        for ((l, a), b) in line.iter_mut().zip(r0).zip(r1) {
            *l = a * (1.0 - ty) + b * ty;
        }
        for (v, &(x0, x1, tx)) in row.iter_mut().zip(&xs) {
            *v -= (line[x0] * (1.0 - tx) + line[x1] * tx) as f32;
        }
    }
}

/// Solve the small dense system `a x = b` (n <= 15) by Gaussian elimination with partial
/// pivoting; `None` when singular. Hand-written: one tiny solve per frame does not justify a
/// linear-algebra dependency.
#[allow(clippy::needless_range_loop)] // index form mirrors the textbook elimination
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|i, j| a[*i][col].abs().total_cmp(&a[*j][col].abs()))?;
        if a[piv][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, piv);
        b.swap(col, piv);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            for k in col..n {
                a[row][k] -= f * a[col][k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// Monomials x^i y^j with i + j <= order at normalised coordinates (-1..1).
fn monomials(x: f64, y: f64, order: usize, out: &mut Vec<f64>) {
    out.clear();
    for total in 0..=order {
        for j in 0..=total {
            out.push(x.powi((total - j) as i32) * y.powi(j as i32));
        }
    }
}

/// A polynomial surface of total degree `order` over a `width` x `height` frame, in the
/// basis of [`monomials`] at normalised coordinates.
struct Surface {
    order: usize,
    coef: Vec<f64>,
    width: usize,
    height: usize,
}

impl Surface {
    /// The surface along row `y` into `out` (`width` values): the coefficients of the
    /// powers of x are gathered once per row, then Horner's rule per pixel.
    fn row(&self, y: usize, out: &mut [f64]) {
        let ny = 2.0 * y as f64 / self.height as f64 - 1.0;
        let mut cx = [0.0f64; 5];
        let mut k = 0;
        for total in 0..=self.order {
            for j in 0..=total {
                cx[total - j] += self.coef[k] * ny.powi(j as i32);
                k += 1;
            }
        }
        let sx = 2.0 / self.width as f64;
        for (x, v) in out.iter_mut().enumerate() {
            let nx = sx * x as f64 - 1.0;
            *v = cx[..=self.order]
                .iter()
                .rev()
                .fold(0.0, |acc, c| acc * nx + c);
        }
    }
}

/// Bin factor of the polynomial fit: at most 64 x 64 binned pixels.
fn polynomial_bin_factor(width: usize, height: usize) -> usize {
    width.max(height).div_ceil(64).max(1)
}

/// Fit the polynomial background to the frame binned by `factor` (`binned`), with the
/// object masked out.
#[allow(clippy::needless_range_loop)] // symmetric fill of the normal matrix
fn fit_surface(
    binned: &Image,
    factor: usize,
    width: usize,
    height: usize,
    order: usize,
) -> Surface {
    let order = order.min(4);
    let (bw, bh) = (binned.width, binned.height);
    // Normalised coordinates of a full-resolution pixel position.
    let nx = |x: f64| 2.0 * x / width as f64 - 1.0;
    let ny = |y: f64| 2.0 * y / height as f64 - 1.0;
    let centre = |i: usize, n: usize| {
        ((i * factor) as f64 + (factor as f64 - 1.0) / 2.0).min(n as f64 - 1.0)
    };
    let mut basis = Vec::new();
    let rows: Vec<Vec<f64>> = (0..bw * bh)
        .map(|i| {
            monomials(
                nx(centre(i % bw, width)),
                ny(centre(i / bw, height)),
                order,
                &mut basis,
            );
            basis.clone()
        })
        .collect();
    let m = rows[0].len();
    let mut weight = vec![1.0; bw * bh];
    let mut coef = vec![0.0; m];
    coef[0] = crate::image::quantile(&binned.data, 0.5);
    for _ in 0..4 {
        let mut ata = vec![vec![0.0; m]; m];
        let mut atb = vec![0.0; m];
        for ((r, v), w) in rows.iter().zip(&binned.data).zip(&weight) {
            if *w == 0.0 {
                continue;
            }
            for a in 0..m {
                atb[a] += r[a] * v;
                for b in a..m {
                    ata[a][b] += r[a] * r[b];
                }
            }
        }
        for a in 0..m {
            for b in 0..a {
                ata[a][b] = ata[b][a];
            }
        }
        match solve(ata, atb) {
            Some(c) => coef = c,
            None => break,
        }
        let resid: Vec<f64> = rows
            .iter()
            .zip(&binned.data)
            .map(|(r, v)| v - r.iter().zip(&coef).map(|(a, c)| a * c).sum::<f64>())
            .collect();
        let kept: Vec<f64> = resid
            .iter()
            .zip(&weight)
            .filter(|(_, w)| **w > 0.0)
            .map(|(r, _)| *r)
            .collect();
        let (_, s) = median_mad_sigma(&kept);
        let cut = 2.5 * s.max(1e-12);
        weight.iter_mut().zip(&resid).for_each(|(w, r)| {
            *w = if *r > cut || *r < -2.0 * cut {
                0.0
            } else {
                1.0
            }
        });
    }
    Surface {
        order,
        coef,
        width,
        height,
    }
}

/// The smooth polynomial background of `img` (particles positive), fitted with the object
/// masked out.
pub fn polynomial_background(img: &Image, order: usize) -> Image {
    let factor = polynomial_bin_factor(img.width, img.height);
    let surface = fit_surface(&img.bin(factor), factor, img.width, img.height, order);
    let mut out = vec![0.0; img.len()];
    out.par_chunks_mut(img.width)
        .enumerate()
        .for_each(|(y, row)| surface.row(y, row));
    Image::from_vec(img.width, img.height, out)
}

/// Turn, denoise and flatten one raw frame (`width` x `height`, row-major) into `signal`;
/// returns the background level and the noise sigma of the signal. Sequential: movies
/// run frames in parallel.
pub(crate) fn prepare_into(
    raw: &[f32],
    width: usize,
    height: usize,
    polarity: Polarity,
    denoise: Denoise,
    bg: Background,
    signal: &mut Vec<f32>,
) -> (f64, f64) {
    let sign = match polarity {
        Polarity::Dark => -1.0,
        Polarity::Bright => 1.0,
    };
    // Every path below writes every pixel, so a reused buffer needs no clearing.
    signal.resize(width * height, 0.0);
    match denoise {
        Denoise::Gaussian { sigma_px } if sigma_px > 0.0 && !raw.is_empty() => {
            // The polarity is folded into the column pass (a sign change is exact).
            let kernel: Vec<f32> = crate::image::kernel_of(sigma_px);
            let sign = sign as f32;
            crate::image::gaussian_rows(raw, width, height, &kernel, sign, 0..height, signal);
        }
        Denoise::Median { radius_px } if radius_px > 0 => {
            let turned = Image::from_vec(
                width,
                height,
                raw.iter().map(|v| sign * f64::from(*v)).collect(),
            );
            let m = turned.median(radius_px);
            signal
                .iter_mut()
                .zip(&m.data)
                .for_each(|(s, v)| *s = *v as f32);
        }
        _ => {
            let sign = sign as f32;
            signal.iter_mut().zip(raw).for_each(|(s, v)| *s = sign * *v);
        }
    }
    match bg {
        Background::None => {}
        Background::Gaussian { sigma_px } => {
            let factor = gaussian_bin_factor(sigma_px);
            let binned = bin_values(signal, width, height, factor);
            let b = binned_background(&binned, sigma_px / factor as f64);
            subtract_unbinned(signal, width, height, &b, factor);
        }
        Background::Polynomial { order } => {
            let factor = polynomial_bin_factor(width, height);
            let binned = bin_values(signal, width, height, factor);
            let surface = fit_surface(&binned, factor, width, height, order);
            let mut line = vec![0.0; width];
            for (y, row) in signal.chunks_exact_mut(width).enumerate() {
                surface.row(y, &mut line);
                row.iter_mut()
                    .zip(&line)
                    .for_each(|(v, b)| *v = (f64::from(*v) - b) as f32);
            }
        }
    }
    median_mad_sigma(&subsample(signal, 1 << 16))
}

/// Turn, denoise and flatten one raw frame.
pub fn prepare(raw: &Image, polarity: Polarity, denoise: Denoise, bg: Background) -> Prepared {
    let raw32: Vec<f32> = raw.data.iter().map(|v| *v as f32).collect();
    let mut signal = Vec::new();
    let (background_level, noise_sigma) = prepare_into(
        &raw32,
        raw.width,
        raw.height,
        polarity,
        denoise,
        bg,
        &mut signal,
    );
    Prepared {
        signal: Image::from_vec(
            raw.width,
            raw.height,
            signal.into_iter().map(f64::from).collect(),
        ),
        background_level,
        noise_sigma,
    }
}

/// Otsu's threshold: the level that maximises the between-class variance of a 256-bin
/// histogram of `values` (returned at the upper edge of the last bin of the lower class).
/// NaN for no values; the single value for a constant input.
pub fn otsu(values: &[f64]) -> f64 {
    otsu_of(values)
}

/// [`otsu`] of any sample type.
pub(crate) fn otsu_of<T: Copy + Into<f64>>(values: &[T]) -> f64 {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            let v: f64 = (*v).into();
            (a.min(v), b.max(v))
        });
    let Some((lo, width)) = otsu_range(lo, hi) else {
        return if lo.is_finite() { lo } else { f64::NAN };
    };
    let inv = 1.0 / width;
    let mut counts = [0u32; OTSU_BINS];
    for v in values {
        counts[((((*v).into() - lo) * inv) as usize).min(OTSU_BINS - 1)] += 1;
    }
    otsu_level(&counts, lo, width)
}

/// [`otsu`] of an `f32` frame, written so that the extremes and the bin indices vectorise
/// (the bins computed in `f32`: a value within `f32` rounding of a bin edge may fall in
/// the neighbouring bin).
pub(crate) fn otsu_f32(values: &[f32]) -> f64 {
    // Eight independent lanes for the extremes (NaN is skipped, as `f32::min` does).
    let (mut lo8, mut hi8) = ([f32::INFINITY; 8], [f32::NEG_INFINITY; 8]);
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            lo8[k] = lo8[k].min(c[k]);
            hi8[k] = hi8[k].max(c[k]);
        }
    }
    for v in tail {
        lo8[0] = lo8[0].min(*v);
        hi8[0] = hi8[0].max(*v);
    }
    let lo = f64::from(lo8.iter().fold(f32::INFINITY, |a, v| a.min(*v)));
    let hi = f64::from(hi8.iter().fold(f32::NEG_INFINITY, |a, v| a.max(*v)));
    let Some((lo, width)) = otsu_range(lo, hi) else {
        return if lo.is_finite() { lo } else { f64::NAN };
    };
    let (lo32, inv) = (lo as f32, (1.0 / width) as f32);
    let top = (OTSU_BINS - 1) as f32;
    // Bin indices sixteen at a time (vectorised), then four sub-histograms so that runs of
    // pixels in one bin do not serialise on a single counter.
    let mut counts = [[0u32; OTSU_BINS]; 4];
    let mut idx = [0u32; 16];
    let blocks = values.chunks_exact(16);
    let tail = blocks.remainder();
    for c in blocks {
        for (i, v) in idx.iter_mut().zip(c) {
            *i = ((*v - lo32) * inv).clamp(0.0, top) as u32;
        }
        for (k, i) in idx.iter().enumerate() {
            counts[k % 4][*i as usize] += 1;
        }
    }
    for v in tail {
        counts[0][((*v - lo32) * inv).clamp(0.0, top) as usize] += 1;
    }
    let counts: [u32; OTSU_BINS] =
        std::array::from_fn(|b| counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b]);
    otsu_level(&counts, lo, width)
}

const OTSU_BINS: usize = 256;

/// The lower edge and bin width of Otsu's histogram over `lo..=hi`; `None` for no values
/// or a constant input.
fn otsu_range(lo: f64, hi: f64) -> Option<(f64, f64)> {
    (lo.is_finite() && hi > lo).then(|| (lo, (hi - lo) / OTSU_BINS as f64))
}

/// The level that maximises the between-class variance of the histogram `counts`.
fn otsu_level(counts: &[u32; OTSU_BINS], lo: f64, width: f64) -> f64 {
    const BINS: usize = OTSU_BINS;
    let hist = counts.map(f64::from);
    let total: f64 = hist.iter().sum();
    let centre = |b: usize| lo + (b as f64 + 0.5) * width;
    let sum_all: f64 = hist.iter().enumerate().map(|(b, h)| h * centre(b)).sum();
    let (mut w0, mut sum0) = (0.0, 0.0);
    let (mut best, mut best_b) = (-1.0, 0);
    for (b, h) in hist.iter().enumerate().take(BINS - 1) {
        w0 += h;
        sum0 += h * centre(b);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let m0 = sum0 / w0;
        let m1 = (sum_all - sum0) / w1;
        let between = w0 * w1 * (m0 - m1).powi(2);
        if between > best {
            best = between;
            best_b = b;
        }
    }
    lo + (best_b + 1) as f64 * width
}

/// A horizontal run of pixels `x0..x1` (end exclusive) on row `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Run {
    /// Row (px from the top).
    pub y: u32,
    /// First column (px from the left).
    pub x0: u32,
    /// One past the last column.
    pub x1: u32,
}

impl Run {
    /// Number of pixels.
    #[inline]
    pub fn len(&self) -> usize {
        (self.x1 - self.x0) as usize
    }

    /// True for a run without pixels.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.x1 <= self.x0
    }
}

/// The runs of `row` (row index `y`) where `keep` holds, appended to `runs`.
#[inline]
fn push_runs<T: Copy>(row: &[T], y: u32, keep: impl Fn(T) -> bool + Copy, runs: &mut Vec<Run>) {
    let n = row.len();
    let mut x = 0;
    while x < n {
        // Skip eight pixels at a time while none is kept (a branch-free test per block).
        while x + 8 <= n && !row[x..x + 8].iter().fold(false, |a, v| a | keep(*v)) {
            x += 8;
        }
        while x < n && !keep(row[x]) {
            x += 1;
        }
        if x == n {
            break;
        }
        let s = x;
        while x < n && keep(row[x]) {
            x += 1;
        }
        runs.push(Run {
            y,
            x0: s as u32,
            x1: x as u32,
        });
    }
}

/// Root of `i` with path halving.
#[inline]
fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let g = parent[parent[i as usize] as usize];
        parent[i as usize] = g;
        i = g;
    }
    i
}

/// Connected components (8-connectivity) of a mask, held as runs: labelling merges runs
/// of adjacent rows with a union-find (one pass over the runs, not the pixels), and the
/// size and centroid sums come from the runs in closed form.
#[derive(Debug, Clone)]
pub struct Components {
    /// Width of the labelled image (px).
    pub width: usize,
    /// Height of the labelled image (px).
    pub height: usize,
    /// Pixel count of each component (index = label - 1).
    pub sizes: Vec<usize>,
    /// Sum of x and of y over each component's pixels (px).
    pub sums: Vec<(f64, f64)>,
    /// The runs, by row then column.
    runs: Vec<Run>,
    /// Label (1..=n) of each run.
    run_label: Vec<u32>,
    /// Runs of row `y` are `runs[row_start[y]..row_start[y + 1]]`.
    row_start: Vec<u32>,
    /// Run indices grouped by label: label `l` owns `by_label[label_start[l - 1]..label_start[l]]`.
    by_label: Vec<u32>,
    label_start: Vec<u32>,
}

impl Components {
    /// Label the pixels where `mask` is true.
    pub fn label(mask: &[bool], width: usize, height: usize) -> Self {
        let mut runs = Vec::new();
        for (y, row) in mask.chunks_exact(width.max(1)).enumerate().take(height) {
            push_runs(row, y as u32, |m| m, &mut runs);
        }
        Self::from_runs(runs, width, height)
    }

    /// Label the pixels of `values` (`width` x `height`, row-major) above `level`.
    pub(crate) fn above(values: &[f32], width: usize, height: usize, level: f64) -> Self {
        let mut runs = Vec::new();
        for (y, row) in values.chunks_exact(width.max(1)).enumerate().take(height) {
            push_runs(row, y as u32, |v| f64::from(v) > level, &mut runs);
        }
        Self::from_runs(runs, width, height)
    }

    /// Components of `runs` (sorted by row, then column; disjoint) in a `width` x `height`
    /// frame. Labels are numbered in raster order of each component's first pixel.
    pub fn from_runs(runs: Vec<Run>, width: usize, height: usize) -> Self {
        let n = runs.len();
        let mut row_start = vec![0u32; height + 1];
        for r in &runs {
            row_start[r.y as usize + 1] += 1;
        }
        for y in 0..height {
            row_start[y + 1] += row_start[y];
        }
        let mut parent: Vec<u32> = (0..n as u32).collect();
        for y in 1..height {
            let (a0, a1) = (row_start[y - 1] as usize, row_start[y] as usize);
            let (b0, b1) = (row_start[y] as usize, row_start[y + 1] as usize);
            let mut i = a0;
            for b in b0..b1 {
                let cur = runs[b];
                // Runs above that end left of this one's left neighbour touch neither it
                // nor any later run of the row.
                while i < a1 && runs[i].x1 < cur.x0 {
                    i += 1;
                }
                let mut k = i;
                while k < a1 && runs[k].x0 <= cur.x1 {
                    let (ra, rb) = (find(&mut parent, k as u32), find(&mut parent, b as u32));
                    // The smaller run index stays the root: the root is the first run.
                    if ra < rb {
                        parent[rb as usize] = ra;
                    } else if rb < ra {
                        parent[ra as usize] = rb;
                    }
                    k += 1;
                }
            }
        }
        let mut run_label = vec![0u32; n];
        let mut sizes = Vec::new();
        let mut sums = Vec::new();
        for i in 0..n {
            let root = find(&mut parent, i as u32) as usize;
            let label = if root == i {
                sizes.push(0);
                sums.push((0.0, 0.0));
                sizes.len() as u32
            } else {
                run_label[root]
            };
            run_label[i] = label;
            let r = runs[i];
            let len = r.len();
            let k = label as usize - 1;
            sizes[k] += len;
            sums[k].0 += (r.x0 as f64 + r.x1 as f64 - 1.0) * len as f64 / 2.0;
            sums[k].1 += r.y as f64 * len as f64;
        }
        let mut label_start = vec![0u32; sizes.len() + 1];
        for &l in &run_label {
            label_start[l as usize] += 1;
        }
        for l in 0..sizes.len() {
            label_start[l + 1] += label_start[l];
        }
        let mut fill = label_start.clone();
        let mut by_label = vec![0u32; n];
        for (i, &l) in run_label.iter().enumerate() {
            let slot = &mut fill[l as usize - 1];
            by_label[*slot as usize] = i as u32;
            *slot += 1;
        }
        Self {
            width,
            height,
            sizes,
            sums,
            runs,
            run_label,
            row_start,
            by_label,
            label_start,
        }
    }

    /// Number of components.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// True when there is no component.
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// Centroid (x, y) of component `label` (px).
    pub fn centroid(&self, label: u32) -> (f64, f64) {
        let i = label as usize - 1;
        let n = self.sizes[i] as f64;
        (self.sums[i].0 / n, self.sums[i].1 / n)
    }

    /// The label of the largest component (the first on ties), if any.
    pub fn largest(&self) -> Option<u32> {
        let mut best: Option<(usize, u32)> = None;
        for (i, &n) in self.sizes.iter().enumerate() {
            if best.is_none_or(|(m, _)| n > m) {
                best = Some((n, i as u32 + 1));
            }
        }
        best.map(|(_, l)| l)
    }

    /// The runs of row `y` with their labels.
    pub fn row(&self, y: usize) -> impl Iterator<Item = (Run, u32)> + '_ {
        let (a, b) = (self.row_start[y] as usize, self.row_start[y + 1] as usize);
        self.runs[a..b]
            .iter()
            .copied()
            .zip(self.run_label[a..b].iter().copied())
    }

    /// The runs of row `y` (with labels) that overlap the columns `x0..x1`.
    pub fn row_overlapping(
        &self,
        y: usize,
        x0: usize,
        x1: usize,
    ) -> impl Iterator<Item = (Run, u32)> + '_ {
        let (a, b) = (self.row_start[y] as usize, self.row_start[y + 1] as usize);
        let first = a + self.runs[a..b].partition_point(|r| (r.x1 as usize) <= x0);
        self.runs[first..b]
            .iter()
            .copied()
            .zip(self.run_label[first..b].iter().copied())
            .take_while(move |(r, _)| (r.x0 as usize) < x1)
    }

    /// Label at pixel (x, y); 0 for the background.
    pub fn label_at(&self, x: usize, y: usize) -> u32 {
        self.row_overlapping(y, x, x + 1)
            .next()
            .map_or(0, |(_, l)| l)
    }

    /// The runs of component `label`, by row then column.
    pub fn runs_of(&self, label: u32) -> impl Iterator<Item = Run> + '_ {
        let l = label as usize;
        self.by_label[self.label_start[l - 1] as usize..self.label_start[l] as usize]
            .iter()
            .map(|i| self.runs[*i as usize])
    }

    /// Pixel indices of component `label`, in raster order.
    pub fn pixels(&self, label: u32) -> Vec<usize> {
        let w = self.width;
        self.runs_of(label)
            .flat_map(|r| (r.x0 as usize..r.x1 as usize).map(move |x| r.y as usize * w + x))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_splits_two_populations_between_them() {
        let mut v = vec![10.0; 900];
        v.extend(vec![50.0; 100]);
        let t = otsu(&v);
        assert!(t > 10.0 && t < 50.0, "{t}");
        // Two equal Gaussian-free clusters: the threshold is their midpoint within a bin.
        let v: Vec<f64> = (0..1000)
            .map(|i| if i % 2 == 0 { 0.0 } else { 1.0 })
            .collect();
        let t = otsu(&v);
        assert!(t > 0.0 && t <= 1.0);
    }

    /// Flood fill with an explicit stack, pixel by pixel: the plain definition of
    /// 8-connected components, labels in raster order of first pixels.
    fn flood_labels(mask: &[bool], w: usize, h: usize) -> Vec<u32> {
        let mut labels = vec![0u32; mask.len()];
        let mut next = 0;
        for start in 0..mask.len() {
            if !mask[start] || labels[start] != 0 {
                continue;
            }
            next += 1;
            labels[start] = next;
            let mut stack = vec![start];
            while let Some(i) = stack.pop() {
                let (x, y) = ((i % w) as isize, (i / w) as isize);
                for (dx, dy) in (-1..=1).flat_map(|a| (-1..=1).map(move |b| (a, b))) {
                    let (xx, yy) = (x + dx, y + dy);
                    if xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h {
                        let j = yy as usize * w + xx as usize;
                        if mask[j] && labels[j] == 0 {
                            labels[j] = next;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        labels
    }

    #[test]
    fn run_labels_equal_flood_fill_on_random_masks() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for (w, h, p) in [
            (37, 23, 0.3),
            (64, 40, 0.5),
            (1, 9, 0.5),
            (11, 1, 0.6),
            (50, 50, 0.7),
        ] {
            let mask: Vec<bool> = (0..w * h).map(|_| rng.gen_bool(p)).collect();
            let truth = flood_labels(&mask, w, h);
            let c = Components::label(&mask, w, h);
            let n = truth.iter().copied().max().unwrap_or(0) as usize;
            assert_eq!(c.len(), n, "{w}x{h}");
            for y in 0..h {
                for x in 0..w {
                    assert_eq!(c.label_at(x, y), truth[y * w + x], "({x}, {y}) in {w}x{h}");
                }
            }
            for l in 1..=n as u32 {
                let px: Vec<usize> = (0..w * h).filter(|i| truth[*i] == l).collect();
                assert_eq!(c.pixels(l), px);
                assert_eq!(c.sizes[l as usize - 1], px.len());
                let sx: f64 = px.iter().map(|i| (i % w) as f64).sum();
                let sy: f64 = px.iter().map(|i| (i / w) as f64).sum();
                assert_eq!(c.sums[l as usize - 1], (sx, sy));
            }
        }
    }

    #[test]
    fn otsu_of_f32_frames_agrees_with_the_f64_threshold() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Normal};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (a, b) = (
            Normal::new(-20.0, 4.0).unwrap(),
            Normal::new(35.0, 6.0).unwrap(),
        );
        let v32: Vec<f32> = (0..10_001)
            .map(|i| if i % 5 == 0 { b.sample(&mut rng) } else { a.sample(&mut rng) } as f32)
            .collect();
        let v64: Vec<f64> = v32.iter().map(|v| f64::from(*v)).collect();
        let (lo, hi) = v64
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
                (l.min(*v), h.max(*v))
            });
        // Equal but for values within f32 rounding of a bin edge: at most one bin apart.
        let (t32, t64) = (otsu_f32(&v32), otsu(&v64));
        assert!((t32 - t64).abs() <= (hi - lo) / 256.0 + 1e-9, "{t32} {t64}");
        assert!(t64 > -10.0 && t64 < 25.0, "{t64}");
        assert_eq!(otsu_f32(&[2.5; 7]), 2.5);
        assert!(otsu_f32(&[]).is_nan());
    }

    #[test]
    fn labels_with_eight_connectivity() {
        // Two diagonal pixels touch (8-connectivity); a third, apart, is its own component.
        #[rustfmt::skip]
        let mask = [
            true,  false, false, false,
            false, true,  false, false,
            false, false, false, true,
        ];
        let c = Components::label(&mask, 4, 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.sizes, vec![2, 1]);
        assert_eq!(c.largest(), Some(1));
        assert_eq!(c.centroid(1), (0.5, 0.5));
        assert_eq!(c.pixels(2), vec![11]);
    }

    #[test]
    fn polynomial_flattening_removes_a_tilt_but_keeps_a_particle() {
        let (w, h) = (96, 96);
        let mut data = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let tilt = 100.0 + 0.5 * x as f64 + 0.3 * y as f64;
                let r2 = (x as f64 - 48.0).powi(2) + (y as f64 - 48.0).powi(2);
                let particle = if r2 < 100.0 { 40.0 } else { 0.0 };
                data[y * w + x] = tilt + particle;
            }
        }
        let p = prepare(
            &Image::from_vec(w, h, data),
            Polarity::Bright,
            Denoise::None,
            Background::Polynomial { order: 2 },
        );
        // Background flat to within a few percent of the particle contrast, particle kept.
        let corner = p.signal.get(5, 5);
        let far = p.signal.get(90, 90);
        assert!(corner.abs() < 2.0 && far.abs() < 2.0, "{corner} {far}");
        assert!(
            (p.signal.get(48, 48) - 40.0).abs() < 4.0,
            "{}",
            p.signal.get(48, 48)
        );
    }
}

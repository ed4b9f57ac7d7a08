//! Per-frame pre-processing (polarity, denoising, background flattening), thresholds
//! (Otsu) and connected components.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::image::{median_mad_sigma, Image};
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
fn subsample(data: &[f64], max_samples: usize) -> Vec<f64> {
    let step = (data.len() / max_samples.max(1)).max(1);
    data.iter().step_by(step).copied().collect()
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

/// The smooth background of `img` (particles positive) by masked normalised Gaussian
/// smoothing on a binned copy.
pub fn background(img: &Image, sigma_px: f64) -> Image {
    let factor = ((sigma_px / 4.0).floor() as usize).max(1);
    let binned = img.bin(factor);
    let sigma = sigma_px / factor as f64;
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
        bg = masked_gaussian(&binned, &weight, sigma);
    }
    bg.unbin(factor, img.width, img.height)
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

/// The smooth polynomial background of `img` (particles positive), fitted with the object
/// masked out.
#[allow(clippy::needless_range_loop)] // symmetric fill of the normal matrix
pub fn polynomial_background(img: &Image, order: usize) -> Image {
    let order = order.min(4);
    let factor = img.width.max(img.height).div_ceil(64).max(1);
    let binned = img.bin(factor);
    let (bw, bh) = (binned.width, binned.height);
    // Normalised coordinates of a full-resolution pixel position.
    let nx = |x: f64| 2.0 * x / img.width as f64 - 1.0;
    let ny = |y: f64| 2.0 * y / img.height as f64 - 1.0;
    let centre = |i: usize, n: usize| {
        ((i * factor) as f64 + (factor as f64 - 1.0) / 2.0).min(n as f64 - 1.0)
    };
    let mut basis = Vec::new();
    let rows: Vec<Vec<f64>> = (0..bw * bh)
        .map(|i| {
            monomials(
                nx(centre(i % bw, img.width)),
                ny(centre(i / bw, img.height)),
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
    let mut out = vec![0.0; img.len()];
    out.par_chunks_mut(img.width)
        .enumerate()
        .for_each(|(y, row)| {
            let mut basis = Vec::new();
            for (x, v) in row.iter_mut().enumerate() {
                monomials(nx(x as f64), ny(y as f64), order, &mut basis);
                *v = basis.iter().zip(&coef).map(|(a, c)| a * c).sum();
            }
        });
    Image::from_vec(img.width, img.height, out)
}

/// Turn, denoise and flatten one raw frame.
pub fn prepare(raw: &Image, polarity: Polarity, denoise: Denoise, bg: Background) -> Prepared {
    let sign = match polarity {
        Polarity::Dark => -1.0,
        Polarity::Bright => 1.0,
    };
    let turned = Image::from_vec(
        raw.width,
        raw.height,
        raw.data.iter().map(|v| sign * v).collect(),
    );
    let smooth = match denoise {
        Denoise::None => turned,
        Denoise::Gaussian { sigma_px } => turned.gaussian(sigma_px),
        Denoise::Median { radius_px } => turned.median(radius_px),
    };
    let signal = match bg {
        Background::None => smooth,
        Background::Gaussian { .. } | Background::Polynomial { .. } => {
            let b = match bg {
                Background::Gaussian { sigma_px } => background(&smooth, sigma_px),
                Background::Polynomial { order } => polynomial_background(&smooth, order),
                Background::None => unreachable!("handled above"),
            };
            let data = smooth
                .data
                .iter()
                .zip(&b.data)
                .map(|(v, b)| v - b)
                .collect();
            Image::from_vec(smooth.width, smooth.height, data)
        }
    };
    let (background_level, noise_sigma) = median_mad_sigma(&subsample(&signal.data, 1 << 16));
    Prepared {
        signal,
        background_level,
        noise_sigma,
    }
}

/// Otsu's threshold: the level that maximises the between-class variance of a 256-bin
/// histogram of `values` (returned at the upper edge of the last bin of the lower class).
/// NaN for no values; the single value for a constant input.
pub fn otsu(values: &[f64]) -> f64 {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if !lo.is_finite() {
        return f64::NAN;
    }
    if hi <= lo {
        return lo;
    }
    const BINS: usize = 256;
    let width = (hi - lo) / BINS as f64;
    let mut hist = [0.0f64; BINS];
    for v in values {
        let b = (((v - lo) / width) as usize).min(BINS - 1);
        hist[b] += 1.0;
    }
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

/// Connected components (8-connectivity) of a mask.
#[derive(Debug, Clone)]
pub struct Components {
    /// Width of the labelled image (px).
    pub width: usize,
    /// Label per pixel: 0 = background, 1..=n = component.
    pub labels: Vec<u32>,
    /// Pixel count of each component (index = label - 1).
    pub sizes: Vec<usize>,
    /// Sum of x and of y over each component's pixels (px).
    pub sums: Vec<(f64, f64)>,
}

impl Components {
    /// Label the pixels where `mask` is true.
    pub fn label(mask: &[bool], width: usize, height: usize) -> Self {
        let mut labels = vec![0u32; mask.len()];
        let mut sizes = Vec::new();
        let mut sums = Vec::new();
        let mut stack = Vec::new();
        for start in 0..mask.len() {
            if !mask[start] || labels[start] != 0 {
                continue;
            }
            let label = sizes.len() as u32 + 1;
            labels[start] = label;
            stack.push(start);
            let (mut n, mut sx, mut sy) = (0usize, 0.0, 0.0);
            while let Some(i) = stack.pop() {
                let (x, y) = (i % width, i / width);
                n += 1;
                sx += x as f64;
                sy += y as f64;
                let (x0, x1) = (x.saturating_sub(1), (x + 1).min(width - 1));
                let (y0, y1) = (y.saturating_sub(1), (y + 1).min(height - 1));
                for yy in y0..=y1 {
                    for xx in x0..=x1 {
                        let j = yy * width + xx;
                        if mask[j] && labels[j] == 0 {
                            labels[j] = label;
                            stack.push(j);
                        }
                    }
                }
            }
            sizes.push(n);
            sums.push((sx, sy));
        }
        Self {
            width,
            labels,
            sizes,
            sums,
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

    /// Pixel indices of component `label`.
    pub fn pixels(&self, label: u32) -> Vec<usize> {
        self.labels
            .par_iter()
            .enumerate()
            .filter(|(_, l)| **l == label)
            .map(|(i, _)| i)
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

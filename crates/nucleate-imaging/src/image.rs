//! A grey image of `f64` values and the filters the pipelines share.

use rayon::prelude::*;

/// A grey image, row-major: pixel (x, y) is `data[y * width + x]`, x to the right, y down,
/// from the top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width (px).
    pub width: usize,
    /// Height (px).
    pub height: usize,
    /// Pixel values, `width * height` of them.
    pub data: Vec<f64>,
}

/// Mirror an index into `0..n` the way scipy's `reflect` mode does (d c b a | a b c d).
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    if n == 1 {
        return 0;
    }
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// Normalised Gaussian kernel truncated at 4 sigma (as scipy.ndimage does).
fn gaussian_kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5).floor().max(1.0) as isize;
    let mut k: Vec<f64> = (-radius..=radius)
        .map(|i| (-0.5 * (i as f64 / sigma).powi(2)).exp())
        .collect();
    let s: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    k
}

/// Convolve one line with a symmetric kernel, reflecting at the ends.
fn convolve_line(src: &[f64], dst: &mut [f64], kernel: &[f64]) {
    let n = src.len();
    let r = (kernel.len() / 2) as isize;
    let ru = r as usize;
    for (i, out) in dst.iter_mut().enumerate() {
        let mut acc = 0.0;
        if i >= ru && i + ru < n {
            // Interior: no boundary handling, so the compiler can vectorise it.
            let window = &src[i - ru..=i + ru];
            for (a, b) in window.iter().zip(kernel) {
                acc += a * b;
            }
        } else {
            for (k, w) in kernel.iter().enumerate() {
                acc += w * src[reflect(i as isize + k as isize - r, n)];
            }
        }
        *out = acc;
    }
}

impl Image {
    /// A `width` x `height` image filled with `value`.
    pub fn filled(width: usize, height: usize, value: f64) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// Wrap `data` (row-major, `width * height` values).
    ///
    /// # Panics
    /// If `data.len() != width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<f64>) -> Self {
        assert_eq!(data.len(), width * height, "image data length");
        Self {
            width,
            height,
            data,
        }
    }

    /// Value at (x, y).
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f64 {
        self.data[y * self.width + x]
    }

    /// Number of pixels.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True for an image without pixels.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Gaussian smoothing with standard deviation `sigma` (px), separable, truncated at
    /// 4 sigma, reflecting boundaries. `sigma <= 0` returns a copy.
    pub fn gaussian(&self, sigma: f64) -> Image {
        if sigma <= 0.0 || self.is_empty() {
            return self.clone();
        }
        let kernel = gaussian_kernel(sigma);
        let (w, h) = (self.width, self.height);
        let mut tmp = vec![0.0; w * h];
        tmp.par_chunks_mut(w)
            .zip(self.data.par_chunks(w))
            .for_each(|(dst, src)| convolve_line(src, dst, &kernel));
        // Columns: transpose blocks into a line buffer per column for cache-friendly access.
        let mut out = vec![0.0; w * h];
        let columns: Vec<Vec<f64>> = (0..w)
            .into_par_iter()
            .map(|x| {
                let col: Vec<f64> = (0..h).map(|y| tmp[y * w + x]).collect();
                let mut res = vec![0.0; h];
                convolve_line(&col, &mut res, &kernel);
                res
            })
            .collect();
        for (x, col) in columns.iter().enumerate() {
            for (y, v) in col.iter().enumerate() {
                out[y * w + x] = *v;
            }
        }
        Image::from_vec(w, h, out)
    }

    /// Median filter over a (2r+1) x (2r+1) square, reflecting boundaries.
    pub fn median(&self, radius: usize) -> Image {
        if radius == 0 || self.is_empty() {
            return self.clone();
        }
        let (w, h) = (self.width, self.height);
        let r = radius as isize;
        let mut out = vec![0.0; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            let mut window = Vec::with_capacity((2 * radius + 1).pow(2));
            for (x, v) in row.iter_mut().enumerate() {
                window.clear();
                for dy in -r..=r {
                    let yy = reflect(y as isize + dy, h);
                    for dx in -r..=r {
                        window.push(self.data[yy * w + reflect(x as isize + dx, w)]);
                    }
                }
                let mid = window.len() / 2;
                let (_, m, _) = window.select_nth_unstable_by(mid, |a, b| a.total_cmp(b));
                *v = *m;
            }
        });
        Image::from_vec(w, h, out)
    }

    /// Block means over `factor` x `factor` blocks (the last partial blocks average what
    /// they hold).
    pub fn bin(&self, factor: usize) -> Image {
        if factor <= 1 {
            return self.clone();
        }
        let bw = self.width.div_ceil(factor);
        let bh = self.height.div_ceil(factor);
        let mut sum = vec![0.0; bw * bh];
        let mut count = vec![0.0; bw * bh];
        for y in 0..self.height {
            let by = y / factor;
            for x in 0..self.width {
                let i = by * bw + x / factor;
                sum[i] += self.data[y * self.width + x];
                count[i] += 1.0;
            }
        }
        sum.iter_mut().zip(&count).for_each(|(s, c)| *s /= c);
        Image::from_vec(bw, bh, sum)
    }

    /// Bilinear resampling of a binned image (block centres at `(i + 0.5) * factor`) back
    /// to `width` x `height`.
    pub fn unbin(&self, factor: usize, width: usize, height: usize) -> Image {
        if factor <= 1 && self.width == width && self.height == height {
            return self.clone();
        }
        let f = factor as f64;
        let coord = |p: usize, n: usize| -> (usize, usize, f64) {
            let u = ((p as f64 + 0.5) / f - 0.5).clamp(0.0, (n - 1) as f64);
            let i0 = u.floor() as usize;
            let i1 = (i0 + 1).min(n - 1);
            (i0, i1, u - i0 as f64)
        };
        let xs: Vec<_> = (0..width).map(|x| coord(x, self.width)).collect();
        let mut out = vec![0.0; width * height];
        out.par_chunks_mut(width).enumerate().for_each(|(y, row)| {
            let (y0, y1, ty) = coord(y, self.height);
            for (x, v) in row.iter_mut().enumerate() {
                let (x0, x1, tx) = xs[x];
                let a = self.get(x0, y0) * (1.0 - tx) + self.get(x1, y0) * tx;
                let b = self.get(x0, y1) * (1.0 - tx) + self.get(x1, y1) * tx;
                *v = a * (1.0 - ty) + b * ty;
            }
        });
        Image::from_vec(width, height, out)
    }
}

/// The `q`-quantile (0..=1) of `values` by selection (no full sort); NaN for no values.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, m, _) = v.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *m
}

/// Median and the robust standard deviation 1.4826 * MAD of `values`.
pub fn median_mad_sigma(values: &[f64]) -> (f64, f64) {
    let med = quantile(values, 0.5);
    let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    (med, 1.4826 * quantile(&dev, 0.5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_preserves_constant_and_mass() {
        let img = Image::filled(17, 9, 3.5);
        let g = img.gaussian(2.0);
        assert!(g.data.iter().all(|v| (v - 3.5).abs() < 1e-12));
        // A central delta keeps its mass (it is far from the edges at sigma 1).
        let mut d = Image::filled(21, 21, 0.0);
        d.data[10 * 21 + 10] = 1.0;
        let g = d.gaussian(1.0);
        let s: f64 = g.data.iter().sum();
        assert!((s - 1.0).abs() < 1e-9);
        // Second moment along x equals sigma^2 (within truncation error).
        let m2: f64 = (0..21)
            .flat_map(|y| (0..21).map(move |x| (x, y)))
            .map(|(x, y)| g.get(x, y) * (x as f64 - 10.0).powi(2))
            .sum();
        assert!((m2 - 1.0).abs() < 1e-3, "{m2}");
    }

    #[test]
    fn median_removes_salt() {
        let mut img = Image::filled(9, 9, 1.0);
        img.data[40] = 100.0;
        let m = img.median(1);
        assert!(m.data.iter().all(|v| *v == 1.0));
    }

    #[test]
    fn bin_unbin_keeps_linear_ramp_inside() {
        let img = Image::from_vec(16, 16, (0..256).map(|i| (i % 16) as f64).collect());
        let b = img.bin(4);
        assert_eq!((b.width, b.height), (4, 4));
        assert!((b.get(0, 0) - 1.5).abs() < 1e-12);
        let u = b.unbin(4, 16, 16);
        // Between the first and last block centres bilinear interpolation of a ramp is exact.
        for x in 2..14 {
            assert!((u.get(x, 5) - x as f64).abs() < 1e-9);
        }
    }

    #[test]
    fn quantiles() {
        let v: Vec<f64> = (0..101).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 50.0);
        assert_eq!(quantile(&v, 0.9), 90.0);
        let (m, s) = median_mad_sigma(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(m, 3.0);
        assert!((s - 1.4826).abs() < 1e-12);
    }
}

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

/// The pixel types the separable filters run on: `f64` for the public [`Image`], `f32`
/// for the per-frame movie buffers (grey values of at most 16-bit precision, where half
/// the memory traffic doubles the filter speed).
pub(crate) trait Sample:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self> + Send + Sync
{
    /// The value nearest to `v`.
    fn of(v: f64) -> Self;
}

impl Sample for f32 {
    #[inline]
    fn of(v: f64) -> Self {
        v as f32
    }
}

impl Sample for f64 {
    #[inline]
    fn of(v: f64) -> Self {
        v
    }
}

/// Convolve one line with a symmetric kernel of `2 r + 1` taps, reflecting at the ends.
/// `pad` is scratch. Written as `r + 1` shifted multiply-adds over whole slices, which the
/// compiler vectorises.
fn convolve_line<T: Sample>(src: &[T], dst: &mut [T], kernel: &[T], pad: &mut Vec<T>) {
    let n = src.len();
    let r = kernel.len() / 2;
    pad.clear();
    pad.extend((0..r).map(|i| src[reflect(i as isize - r as isize, n)]));
    pad.extend_from_slice(src);
    pad.extend((0..r).map(|i| src[reflect((n + i) as isize, n)]));
    let kc = kernel[r];
    for (d, s) in dst.iter_mut().zip(&pad[r..r + n]) {
        *d = kc * *s;
    }
    for (j, &k) in kernel.iter().enumerate().take(r) {
        let (a, b) = (&pad[j..j + n], &pad[2 * r - j..2 * r - j + n]);
        for ((d, x), y) in dst.iter_mut().zip(a).zip(b) {
            *d = *d + k * (*x + *y);
        }
    }
}

/// Separable Gaussian (normalised `kernel`, `2 r + 1` taps), times `scale`, of the rows
/// `rows` of a `width` x `height` image into `out` (those rows only). The column pass combines whole
/// row-filtered rows, kept in a ring of `2 r + 1` rows, so the image is read once and no
/// full-size intermediate or transpose is needed.
pub(crate) fn gaussian_rows<T: Sample>(
    src: &[T],
    width: usize,
    height: usize,
    kernel: &[T],
    scale: T,
    rows: std::ops::Range<usize>,
    out: &mut [T],
) {
    let r = kernel.len() / 2;
    let column: Vec<T> = kernel.iter().map(|k| *k * scale).collect();
    let n = 2 * r + 1;
    let w = width;
    let mut ring = vec![T::default(); n * w];
    // The source rows needed for one output row lie in a range of at most n consecutive
    // rows, so `row % n` gives them distinct slots.
    let mut held = vec![usize::MAX; n];
    let mut pad = Vec::with_capacity(w + 2 * r);
    let kc = column[r];
    for (y, o) in rows.zip(out.chunks_exact_mut(w)) {
        let src_row = |j: usize| reflect(y as isize + j as isize - r as isize, height);
        for j in 0..n {
            let sy = src_row(j);
            let slot = sy % n;
            if held[slot] != sy {
                convolve_line(
                    &src[sy * w..(sy + 1) * w],
                    &mut ring[slot * w..(slot + 1) * w],
                    kernel,
                    &mut pad,
                );
                held[slot] = sy;
            }
        }
        let line = |sy: usize| &ring[(sy % n) * w..(sy % n + 1) * w];
        for (d, s) in o.iter_mut().zip(line(src_row(r))) {
            *d = kc * *s;
        }
        for (j, &k) in column.iter().enumerate().take(r) {
            let (a, b) = (line(src_row(j)), line(src_row(2 * r - j)));
            for ((d, x), y) in o.iter_mut().zip(a).zip(b) {
                *d = *d + k * (*x + *y);
            }
        }
    }
}

/// The Gaussian kernel of [`Image::gaussian`] in the pixel type.
pub(crate) fn kernel_of<T: Sample>(sigma: f64) -> Vec<T> {
    gaussian_kernel(sigma).into_iter().map(T::of).collect()
}

/// Block means over `factor` x `factor` blocks of a `width` x `height` image (the last
/// partial blocks average what they hold), summed in `f64`.
pub(crate) fn bin_values<T: Copy + Into<f64>>(
    data: &[T],
    width: usize,
    height: usize,
    factor: usize,
) -> Image {
    let factor = factor.max(1);
    let bw = width.div_ceil(factor);
    let bh = height.div_ceil(factor);
    let mut sum = vec![0.0; bw * bh];
    // Column sums over each band of `factor` rows first (independent per column, so they
    // vectorise), then the blocks of each band's sums.
    let mut line = vec![0.0f64; width];
    for (by, band) in data.chunks(factor * width).take(bh).enumerate() {
        line.fill(0.0);
        for row in band.chunks_exact(width) {
            for (l, v) in line.iter_mut().zip(row) {
                *l += (*v).into();
            }
        }
        for (d, block) in sum[by * bw..(by + 1) * bw]
            .iter_mut()
            .zip(line.chunks(factor))
        {
            *d = block.iter().sum::<f64>();
        }
    }
    for (i, s) in sum.iter_mut().enumerate() {
        let (bx, by) = (i % bw, i / bw);
        let cw = (width - bx * factor).min(factor);
        let ch = (height - by * factor).min(factor);
        *s /= (cw * ch) as f64;
    }
    Image::from_vec(bw, bh, sum)
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
        let kernel: Vec<f64> = kernel_of(sigma);
        let (w, h) = (self.width, self.height);
        let mut out = vec![0.0; w * h];
        // Bands of rows in parallel for large images (each band re-filters the 2 r rows
        // around its edges); one band for small ones.
        let band = if w * h >= 1 << 16 { 64 } else { h };
        out.par_chunks_mut(band * w).enumerate().for_each(|(b, o)| {
            let y0 = b * band;
            gaussian_rows(&self.data, w, h, &kernel, 1.0, y0..(y0 + band).min(h), o);
        });
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
        bin_values(&self.data, self.width, self.height, factor)
    }

    /// Bilinear resampling of a binned image (block centres at `(i + 0.5) * factor`) back
    /// to `width` x `height`.
    pub fn unbin(&self, factor: usize, width: usize, height: usize) -> Image {
        if factor <= 1 && self.width == width && self.height == height {
            return self.clone();
        }
        let coord = |p: usize, n: usize| unbin_coord(p, n, factor);
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

/// Where full-resolution pixel `p` falls among `n` binned pixels of `factor` (block centres at
/// `(i + 0.5) * factor`): the two neighbouring bins and the weight of the second, clamped at
/// the edges. Shared by [`Image::unbin`] and the fused background subtraction of movies.
pub(crate) fn unbin_coord(p: usize, n: usize, factor: usize) -> (usize, usize, f64) {
    let u = ((p as f64 + 0.5) / factor as f64 - 0.5).clamp(0.0, (n - 1) as f64);
    let i0 = u.floor() as usize;
    let i1 = (i0 + 1).min(n - 1);
    (i0, i1, u - i0 as f64)
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
    fn separable_gaussian_equals_direct_reflected_convolution() {
        // Sizes below, at and above the kernel radius (8 px at sigma 2), so the reflection
        // wraps more than once on the smallest.
        for (w, h) in [(5, 3), (9, 17), (23, 12)] {
            let img = Image::from_vec(
                w,
                h,
                (0..w * h).map(|i| ((i * 7919) % 101) as f64).collect(),
            );
            let k = gaussian_kernel(2.0);
            let r = (k.len() / 2) as isize;
            let g = img.gaussian(2.0);
            let g32 = {
                let src: Vec<f32> = img.data.iter().map(|v| *v as f32).collect();
                let mut out = vec![0.0f32; w * h];
                gaussian_rows(&src, w, h, &kernel_of::<f32>(2.0), -1.0, 0..h, &mut out);
                out
            };
            for y in 0..h {
                for x in 0..w {
                    let mut direct = 0.0;
                    for (j, kj) in k.iter().enumerate() {
                        for (i, ki) in k.iter().enumerate() {
                            let yy = reflect(y as isize + j as isize - r, h);
                            let xx = reflect(x as isize + i as isize - r, w);
                            direct += kj * ki * img.get(xx, yy);
                        }
                    }
                    assert!((g.get(x, y) - direct).abs() < 1e-9, "{w}x{h} ({x}, {y})");
                    // f32 with the sign folded in: within f32 rounding of values <= 100.
                    let v = f64::from(g32[y * w + x]);
                    assert!((v + direct).abs() < 1e-4, "{w}x{h} ({x}, {y})");
                }
            }
        }
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

//! Real-to-complex 3D FFT of a cube, [z][y][x], f32, parallel over lines.
//!
//! rustfft/realfft do the 1D transforms; this file only moves lines of the cube through them
//! (contiguous rows for x, gathered columns for y within a plane, and blocks of rows across
//! planes for z so that every parallel task writes a disjoint slice).

use std::sync::Arc;

use rayon::prelude::*;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Plans for an N^3 real cube and its N x N x (N/2 + 1) half spectrum.
pub struct Fft3 {
    /// Cube edge.
    pub n: usize,
    /// Half-spectrum x length, N/2 + 1.
    pub nh: usize,
    r2c: Arc<dyn RealToComplex<f32>>,
    c2r: Arc<dyn ComplexToReal<f32>>,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
}

impl Fft3 {
    /// Plan transforms of edge `n`.
    pub fn new(n: usize) -> Self {
        let mut rp = RealFftPlanner::<f32>::new();
        let mut cp = FftPlanner::<f32>::new();
        Self {
            n,
            nh: n / 2 + 1,
            r2c: rp.plan_fft_forward(n),
            c2r: rp.plan_fft_inverse(n),
            fwd: cp.plan_fft_forward(n),
            inv: cp.plan_fft_inverse(n),
        }
    }

    /// Forward transform (unnormalised) of `real` (N^3) into `spec` (N * N * nh).
    pub fn forward(&self, real: &mut [f32], spec: &mut [Complex32]) {
        let (n, nh) = (self.n, self.nh);
        real.par_chunks_mut(n)
            .zip(spec.par_chunks_mut(nh))
            .for_each_init(
                || self.r2c.make_scratch_vec(),
                |scratch, (row, out)| {
                    let _ = self.r2c.process_with_scratch(row, out, scratch);
                },
            );
        self.along_y(spec, &self.fwd);
        self.along_z(spec, &self.fwd);
    }

    /// Inverse transform (unnormalised: the result is N^3 x the input's inverse) of `spec`
    /// into `real`; `spec` is overwritten.
    pub fn inverse(&self, spec: &mut [Complex32], real: &mut [f32]) {
        let (n, nh) = (self.n, self.nh);
        self.along_z(spec, &self.inv);
        self.along_y(spec, &self.inv);
        spec.par_chunks_mut(nh)
            .zip(real.par_chunks_mut(n))
            .for_each_init(
                || self.c2r.make_scratch_vec(),
                |scratch, (row, out)| {
                    // A Hermitian spectrum has real DC and Nyquist bins; drop rounding residue.
                    row[0].im = 0.0;
                    if n % 2 == 0 {
                        row[nh - 1].im = 0.0;
                    }
                    let _ = self.c2r.process_with_scratch(row, out, scratch);
                },
            );
    }

    fn along_y(&self, spec: &mut [Complex32], fft: &Arc<dyn Fft<f32>>) {
        let (n, nh) = (self.n, self.nh);
        const BLOCK: usize = 16;
        spec.par_chunks_mut(n * nh).for_each(|plane| {
            let mut buf = vec![Complex32::default(); BLOCK * n];
            let mut scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
            let mut x0 = 0;
            while x0 < nh {
                let b = BLOCK.min(nh - x0);
                for y in 0..n {
                    for j in 0..b {
                        buf[j * n + y] = plane[y * nh + x0 + j];
                    }
                }
                fft.process_with_scratch(&mut buf[..b * n], &mut scratch);
                for y in 0..n {
                    for j in 0..b {
                        plane[y * nh + x0 + j] = buf[j * n + y];
                    }
                }
                x0 += b;
            }
        });
    }

    fn along_z(&self, spec: &mut [Complex32], fft: &Arc<dyn Fft<f32>>) {
        let (n, nh) = (self.n, self.nh);
        // Rows y0..y0+rows of every plane are transformed together: gather (read-only,
        // parallel over rows), transform, then scatter (parallel over planes).
        let rows = (4 << 20) / (nh * n * 8).max(1);
        let rows = rows.clamp(1, n);
        let mut y0 = 0;
        while y0 < n {
            let r = rows.min(n - y0);
            let spec_ro: &[Complex32] = spec;
            let lines: Vec<Vec<Complex32>> = (y0..y0 + r)
                .into_par_iter()
                .map(|y| {
                    let mut buf = vec![Complex32::default(); nh * n];
                    for z in 0..n {
                        let src = &spec_ro[(z * n + y) * nh..(z * n + y + 1) * nh];
                        for (x, v) in src.iter().enumerate() {
                            buf[x * n + z] = *v;
                        }
                    }
                    let mut scratch = vec![Complex32::default(); fft.get_inplace_scratch_len()];
                    fft.process_with_scratch(&mut buf, &mut scratch);
                    buf
                })
                .collect();
            spec.par_chunks_mut(n * nh)
                .enumerate()
                .for_each(|(z, plane)| {
                    for (j, buf) in lines.iter().enumerate() {
                        let dst = &mut plane[(y0 + j) * nh..(y0 + j + 1) * nh];
                        for (x, d) in dst.iter_mut().enumerate() {
                            *d = buf[x * n + z];
                        }
                    }
                });
            y0 += r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_direct_dft_and_inverts() {
        let n = 6;
        let f = Fft3::new(n);
        let orig: Vec<f32> = (0..n * n * n)
            .map(|i| ((i * 37) % 11) as f32 - 4.0)
            .collect();
        let mut real = orig.clone();
        let mut spec = vec![Complex32::default(); n * n * f.nh];
        f.forward(&mut real, &mut spec);
        for &(kx, ky, kz) in &[(0usize, 0usize, 0usize), (1, 2, 3), (3, 5, 1), (2, 0, 4)] {
            let mut s = rustfft::num_complex::Complex64::default();
            for z in 0..n {
                for y in 0..n {
                    for x in 0..n {
                        let ph = -2.0 * std::f64::consts::PI * ((kx * x + ky * y + kz * z) as f64)
                            / n as f64;
                        s += rustfft::num_complex::Complex64::from_polar(1.0, ph)
                            * orig[(z * n + y) * n + x] as f64;
                    }
                }
            }
            let got = spec[(kz * n + ky) * f.nh + kx];
            assert!((got.re as f64 - s.re).abs() < 1e-3 && (got.im as f64 - s.im).abs() < 1e-3);
        }
        let mut back = vec![0.0; n * n * n];
        f.inverse(&mut spec, &mut back);
        for (a, b) in orig.iter().zip(&back) {
            assert!((a - b / (n * n * n) as f32).abs() < 1e-4);
        }
    }
}

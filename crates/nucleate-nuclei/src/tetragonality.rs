//! Tetragonality c/a of ordered (L1_0) nuclei from their member atoms' lattice spacings.
//!
//! The members' positions p are fitted by least squares to p = t + B n, n their integer fcc
//! site coordinates (units of a/2): column k of B is half the lattice vector along lattice axis
//! k, so the spacing along that axis is 2 |B e_k| whatever the orientation. c is the spacing
//! along the variant's c axis, a the mean of the other two.

use nalgebra::{Matrix3, Vector3};

/// Lattice constants (Angstrom) along the three lattice axes fitted to `positions` (unwrapped,
/// Angstrom) on `sites` (integer fcc coordinates, units of a/2). None when the sites do not
/// span three dimensions.
pub fn lattice_spacings(positions: &[[f64; 3]], sites: &[[i32; 3]]) -> Option<[f64; 3]> {
    let m = positions.len().min(sites.len());
    if m < 4 {
        return None;
    }
    let n_of = |i: usize| Vector3::new(sites[i][0] as f64, sites[i][1] as f64, sites[i][2] as f64);
    let pbar = (0..m).fold(Vector3::zeros(), |s, i| s + Vector3::from(positions[i])) / m as f64;
    let nbar = (0..m).fold(Vector3::zeros(), |s, i| s + n_of(i)) / m as f64;
    let mut xx = Matrix3::zeros();
    let mut yx = Matrix3::zeros();
    for i in 0..m {
        let x = n_of(i) - nbar;
        let y = Vector3::from(positions[i]) - pbar;
        xx += x * x.transpose();
        yx += y * x.transpose();
    }
    // A flat or linear set of sites leaves some lattice direction undetermined.
    let eig = xx.symmetric_eigenvalues();
    if eig.min() < 1e-6 * eig.max().max(1e-300) {
        return None;
    }
    let b = yx * xx.try_inverse()?;
    Some([
        2.0 * b.column(0).norm(),
        2.0 * b.column(1).norm(),
        2.0 * b.column(2).norm(),
    ])
}

/// c/a of a nucleus whose c axis is lattice axis `c_axis` (0, 1, 2).
pub fn c_over_a(positions: &[[f64; 3]], sites: &[[i32; 3]], c_axis: usize) -> Option<f64> {
    let s = lattice_spacings(positions, sites)?;
    if c_axis > 2 {
        return None;
    }
    let a = (0..3).filter(|&k| k != c_axis).map(|k| s[k]).sum::<f64>() / 2.0;
    Some(s[c_axis] / a)
}

/// Weighted mean and standard deviation (population form) of `(value, weight)` pairs; None
/// when the weights sum to zero.
pub fn weighted_mean_std(values: &[(f64, f64)]) -> Option<(f64, f64)> {
    let w: f64 = values.iter().map(|v| v.1).sum();
    if w <= 0.0 {
        return None;
    }
    let mean = values.iter().map(|v| v.0 * v.1).sum::<f64>() / w;
    let var = values
        .iter()
        .map(|v| v.1 * (v.0 - mean).powi(2))
        .sum::<f64>()
        / w;
    Some((mean, var.sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block of fcc sites stretched to a = 3.9, c = 3.7 along z and rotated: c/a = 3.7/3.9.
    #[test]
    fn tetragonal_block_gives_its_c_over_a() {
        let (a, c) = (3.9, 3.7);
        let (s, co) = (0.4f64.sin(), 0.4f64.cos());
        let mut pos = Vec::new();
        let mut sites = Vec::new();
        for i in -2..=2 {
            for j in -2..=2 {
                for k in -2..=2 {
                    if (i + j + k) % 2 != 0 {
                        continue;
                    }
                    let p = [i as f64 * a / 2.0, j as f64 * a / 2.0, k as f64 * c / 2.0];
                    pos.push([co * p[0] - s * p[1] + 5.0, s * p[0] + co * p[1], p[2] - 2.0]);
                    sites.push([i, j, k]);
                }
            }
        }
        let r = c_over_a(&pos, &sites, 2).unwrap();
        assert!((r - c / a).abs() < 1e-12, "{r}");
        let sp = lattice_spacings(&pos, &sites).unwrap();
        assert!((sp[0] - a).abs() < 1e-12 && (sp[2] - c).abs() < 1e-12);
        // A single plane of sites does not fix the spacing normal to it.
        let flat: Vec<usize> = (0..sites.len()).filter(|&i| sites[i][2] == 0).collect();
        let fp: Vec<[f64; 3]> = flat.iter().map(|&i| pos[i]).collect();
        let fs: Vec<[i32; 3]> = flat.iter().map(|&i| sites[i]).collect();
        assert!(lattice_spacings(&fp, &fs).is_none());
    }

    #[test]
    fn weighted_statistics() {
        let (m, s) = weighted_mean_std(&[(1.0, 1.0), (3.0, 3.0)]).unwrap();
        assert!((m - 2.5).abs() < 1e-12);
        assert!((s - (0.75f64).sqrt()).abs() < 1e-12);
        assert!(weighted_mean_std(&[]).is_none());
    }
}

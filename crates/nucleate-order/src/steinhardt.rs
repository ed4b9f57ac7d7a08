//! Steinhardt bond-orientational order q_l and its Lechner-Dellago average qbar_l.
//!
//! For atom i with neighbours N(i), n_i = |N(i)| (periodic images of one atom count once each):
//!
//!   q_lm(i) = (1 / n_i) sum_{j in N(i)} Y_lm(r_ij / |r_ij|)
//!   q_l(i)  = sqrt( 4 pi / (2l + 1) sum_{m=-l..l} |q_lm(i)|^2 )
//!
//!   qbar_lm(i) = (1 / (n_i + 1)) sum_{k in {i} U N(i)} q_lm(k)       (the atom itself included)
//!   qbar_l(i)  = sqrt( 4 pi / (2l + 1) sum_m |qbar_lm(i)|^2 )
//!
//! (Steinhardt, Nelson, Ronchetti, Phys. Rev. B 28, 784 (1983); Lechner and Dellago,
//! J. Chem. Phys. 129, 114707 (2008)). Only m >= 0 is stored: q_{l,-m} = (-1)^m conj(q_lm)
//! holds for q_lm and, by linearity, for qbar_lm. Atoms without neighbours get q_lm = 0.

use num_complex::Complex64;
use rayon::prelude::*;

use nucleate_core::NeighborList;

use crate::ylm::{tri, YlmTable};
use crate::OrderError;

/// The complex vector q_lm (m = 0..=l) of every atom for one l.
#[derive(Debug, Clone, PartialEq)]
pub struct Qlm {
    l: usize,
    /// Row-major: atom i holds `values[i * (l + 1) .. (i + 1) * (l + 1)]`.
    values: Vec<Complex64>,
}

impl Qlm {
    /// The degree l.
    pub fn l(&self) -> usize {
        self.l
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.values.len() / (self.l + 1)
    }

    /// Whether there are no atoms.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// q_lm for m = 0..=l of atom `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[Complex64] {
        let w = self.l + 1;
        &self.values[i * w..(i + 1) * w]
    }

    /// sum_{m=-l..l} |q_lm|^2 of atom `i`.
    #[inline]
    pub fn norm_sqr(&self, i: usize) -> f64 {
        let row = self.row(i);
        row[0].norm_sqr() + 2.0 * row[1..].iter().map(|c| c.norm_sqr()).sum::<f64>()
    }

    /// Re sum_{m=-l..l} q_lm(i) conj(q_lm(j)).
    #[inline]
    pub fn dot(&self, i: usize, j: usize) -> f64 {
        let (a, b) = (self.row(i), self.row(j));
        let mut s = 0.0;
        for m in 1..=self.l {
            s += (a[m] * b[m].conj()).re;
        }
        (a[0] * b[0].conj()).re + 2.0 * s
    }

    /// The rotational invariant q_l = sqrt(4 pi / (2l + 1) sum_m |q_lm|^2) of every atom.
    pub fn magnitudes(&self) -> Vec<f64> {
        let f = 4.0 * std::f64::consts::PI / (2 * self.l + 1) as f64;
        (0..self.len())
            .into_par_iter()
            .map(|i| (f * self.norm_sqr(i)).sqrt())
            .collect()
    }

    /// The Lechner-Dellago average over each atom and its neighbours in `list`.
    pub fn averaged(&self, list: &NeighborList) -> Result<Qlm, OrderError> {
        check_len(list, self.len())?;
        let w = self.l + 1;
        let mut values = vec![Complex64::new(0.0, 0.0); self.values.len()];
        values.par_chunks_mut(w).enumerate().for_each(|(i, out)| {
            out.copy_from_slice(self.row(i));
            for &k in list.neighbors(i) {
                for (o, v) in out.iter_mut().zip(self.row(k as usize)) {
                    *o += v;
                }
            }
            let inv = 1.0 / (list.count(i) + 1) as f64;
            for o in out.iter_mut() {
                *o *= inv;
            }
        });
        Ok(Qlm { l: self.l, values })
    }
}

fn check_len(list: &NeighborList, n: usize) -> Result<(), OrderError> {
    if list.len() != n {
        return Err(OrderError::Mismatch(format!(
            "neighbour list of {} atoms for {} atoms",
            list.len(),
            n
        )));
    }
    Ok(())
}

/// q_lm of every atom for each l in `ls`, in one pass over the bonds of `list`.
///
/// Fails when two atoms coincide (a bond of zero length has no direction).
pub fn qlm(list: &NeighborList, ls: &[usize]) -> Result<Vec<Qlm>, OrderError> {
    let Some(&lmax) = ls.iter().max() else {
        return Ok(Vec::new());
    };
    let n = list.len();
    let table = YlmTable::new(lmax);
    // All requested l of one atom side by side, so one parallel pass writes everything.
    let stride: usize = ls.iter().map(|l| l + 1).sum();
    let mut packed = vec![Complex64::new(0.0, 0.0); n * stride];
    let ntri = tri(lmax, lmax) + 1;
    let bad = packed
        .par_chunks_mut(stride)
        .enumerate()
        .map_init(
            || {
                (
                    vec![0.0f64; ntri],
                    vec![Complex64::new(0.0, 0.0); ntri],
                    vec![Complex64::new(0.0, 0.0); ntri],
                )
            },
            |(q, y, acc), (i, out)| {
                acc.iter_mut().for_each(|c| *c = Complex64::new(0.0, 0.0));
                for (v, &d) in list.vectors(i).iter().zip(list.distances(i)) {
                    if d <= 0.0 {
                        return Some(i);
                    }
                    table.eval(*v, q, y);
                    for (a, b) in acc.iter_mut().zip(y.iter()) {
                        *a += b;
                    }
                }
                let count = list.count(i);
                let inv = if count > 0 { 1.0 / count as f64 } else { 0.0 };
                let mut at = 0;
                for &l in ls {
                    for m in 0..=l {
                        out[at + m] = acc[tri(l, m)] * inv;
                    }
                    at += l + 1;
                }
                None
            },
        )
        .find_map_first(|x| x);
    if let Some(i) = bad {
        return Err(OrderError::Coincident(i));
    }
    let mut result = Vec::with_capacity(ls.len());
    let mut at = 0;
    for &l in ls {
        let mut values = Vec::with_capacity(n * (l + 1));
        for i in 0..n {
            values.extend_from_slice(&packed[i * stride + at..i * stride + at + l + 1]);
        }
        result.push(Qlm { l, values });
        at += l + 1;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nucleate_core::{NeighborSpec, SimBox};

    fn fcc_cell(a: f64) -> (Vec<[f64; 3]>, SimBox) {
        let h = a / 2.0;
        (
            vec![[0.0; 3], [0.0, h, h], [h, 0.0, h], [h, h, 0.0]],
            SimBox::orthorhombic([a; 3], [true; 3]).unwrap(),
        )
    }

    #[test]
    fn ideal_fcc_values() {
        let (pos, cell) = fcc_cell(3.92);
        let list =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap();
        let q = qlm(&list, &[4, 6]).unwrap();
        let q4 = q[0].magnitudes();
        let q6 = q[1].magnitudes();
        for i in 0..4 {
            assert!((q4[i] - 0.190940654).abs() < 1e-8);
            assert!((q6[i] - 0.574524259).abs() < 1e-8);
        }
        let qb = q[1].averaged(&list).unwrap().magnitudes();
        assert!((qb[0] - q6[0]).abs() < 1e-12);
    }

    #[test]
    fn any_l_works_and_odd_l_vanish_with_inversion_symmetry() {
        let (pos, cell) = fcc_cell(3.92);
        let list =
            NeighborList::from_positions(&pos, &cell, NeighborSpec::Cutoff { r: 3.8 }).unwrap();
        let q = qlm(&list, &[0, 3, 12]).unwrap();
        let q0 = q[0].magnitudes();
        assert!(
            (q0[0] - 1.0).abs() < 1e-12,
            "q_0 is 1 for any neighbourhood"
        );
        assert!(q[1].magnitudes()[0] < 1e-12);
        assert!(q[2].magnitudes()[0] > 0.1);
    }
}

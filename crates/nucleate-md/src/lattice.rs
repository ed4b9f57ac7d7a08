//! Starting structures: fcc blocks with periodic boundaries and spheres cut from fcc (free
//! nanoparticles, no periodicity).

use nucleate_core::SimBox;

use crate::error::MdError;

/// The four basis sites of the conventional fcc cell, in units of the lattice constant.
const FCC_BASIS: [[f64; 3]; 4] = [
    [0.0, 0.0, 0.0],
    [0.5, 0.5, 0.0],
    [0.5, 0.0, 0.5],
    [0.0, 0.5, 0.5],
];

/// An `n[0] x n[1] x n[2]`-cell fcc block of lattice constant `a` (A) in a periodic box from
/// the origin, atoms ordered cell by cell as LAMMPS' `create_atoms` does (x fastest).
pub fn fcc_block(n: [usize; 3], a: f64) -> Result<(Vec<[f64; 3]>, SimBox), MdError> {
    if n.contains(&0) || !(a > 0.0 && a.is_finite()) {
        return Err(MdError::Invalid(format!(
            "an fcc block needs at least one cell per axis and a positive lattice constant (got {n:?}, a = {a})"
        )));
    }
    let mut pos = Vec::with_capacity(4 * n[0] * n[1] * n[2]);
    for k in 0..n[2] {
        for j in 0..n[1] {
            for i in 0..n[0] {
                for b in FCC_BASIS {
                    pos.push([
                        (i as f64 + b[0]) * a,
                        (j as f64 + b[1]) * a,
                        (k as f64 + b[2]) * a,
                    ]);
                }
            }
        }
    }
    let cell = SimBox::orthorhombic(
        [n[0] as f64 * a, n[1] as f64 * a, n[2] as f64 * a],
        [true; 3],
    )?;
    Ok((pos, cell))
}

/// Atoms of an fcc lattice (constant `a`, A) within `radius` (A) of a lattice site at the
/// centre of a non-periodic container with `vacuum` (A) of space on every side.
pub fn fcc_sphere(radius: f64, a: f64, vacuum: f64) -> Result<(Vec<[f64; 3]>, SimBox), MdError> {
    if !(radius > 0.0 && a > 0.0 && radius.is_finite() && a.is_finite()) {
        return Err(MdError::Invalid(format!(
            "a sphere needs a positive radius and lattice constant (got R = {radius}, a = {a})"
        )));
    }
    let m = (radius / a).ceil() as i64 + 1;
    let half = radius + vacuum.max(0.0);
    let mut pos = Vec::new();
    for k in -m..=m {
        for j in -m..=m {
            for i in -m..=m {
                for b in FCC_BASIS {
                    let p = [
                        (i as f64 + b[0]) * a,
                        (j as f64 + b[1]) * a,
                        (k as f64 + b[2]) * a,
                    ];
                    if p[0] * p[0] + p[1] * p[1] + p[2] * p[2] <= radius * radius {
                        pos.push([p[0] + half, p[1] + half, p[2] + half]);
                    }
                }
            }
        }
    }
    if pos.is_empty() {
        return Err(MdError::Invalid(format!(
            "a sphere of radius {radius} A holds no atom"
        )));
    }
    let cell = SimBox::orthorhombic([2.0 * half; 3], [false; 3])?;
    Ok((pos, cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_numbers_of_small_spheres() {
        // Shells of fcc around a site: 1, 12, 6, 24 atoms at 0, a/sqrt2, a, a sqrt(3/2).
        let a = 3.92;
        assert_eq!(fcc_sphere(0.1, a, 5.0).unwrap().0.len(), 1);
        assert_eq!(fcc_sphere(2.8, a, 5.0).unwrap().0.len(), 13);
        assert_eq!(fcc_sphere(3.93, a, 5.0).unwrap().0.len(), 19);
        assert_eq!(fcc_sphere(4.81, a, 5.0).unwrap().0.len(), 43);
        assert_eq!(fcc_block([2, 3, 4], a).unwrap().0.len(), 96);
    }
}

//! Metrics of a nucleus as the OPG picture needs them.
//!
//! - N_eff = sum of member orders.
//! - A_eff = integral |grad alpha| dV over the nucleus' region (its basin), estimated per atom
//!   by a least-squares gradient over the first shell, g_i minimising
//!   sum_j (a_j - a_i - g . r_ij)^2, times the volume per atom. By the coarea formula this is the
//!   mean area of the iso-surfaces alpha = c, c in (0, 1]: 4 pi R^2 for a uniform sphere.
//! - Sphericity psi = pi^(1/3) (6 V)^(2/3) / A of the iso-surface at the threshold of the
//!   members' order smoothed onto a grid (surface nets for A, voxel count for V).
//! - Gyration tensor of the unwrapped members: radius of gyration, asphericity and relative
//!   shape anisotropy (0 for a sphere, 1 for a rod).
//! - Site in a free particle: distance from the core to the nearest surface atom, and the
//!   class of that surface by the coordination of its atoms (fcc: 9 {111}, 8 {100}, 7 edge,
//!   6 or fewer corner).

use fast_surface_nets::ndshape::{RuntimeShape, Shape};
use fast_surface_nets::{surface_nets, SurfaceNetsBuffer};
use glam::{DMat3, DVec3};
use rayon::prelude::*;

use nucleate_core::{Frame, NeighborList};

use crate::identify::Nucleus;

/// Least-squares gradient of `field` at every atom over its neighbours within `shell`
/// (Angstrom). Atoms whose neighbours do not span three dimensions get the minimum-norm
/// solution of the degenerate system (zero along the missing directions).
pub fn gradients(list: &NeighborList, field: &[f64], shell: f64) -> Vec<[f64; 3]> {
    (0..list.len())
        .into_par_iter()
        .map(|i| {
            let mut m = DMat3::ZERO;
            let mut b = DVec3::ZERO;
            for ((&j, v), &d) in list
                .neighbors(i)
                .iter()
                .zip(list.vectors(i))
                .zip(list.distances(i))
            {
                if d > shell {
                    break;
                }
                let r = DVec3::from_array(*v);
                m += DMat3::from_cols(r * r.x, r * r.y, r * r.z);
                b += (field[j as usize] - field[i]) * r;
            }
            solve_symmetric(m, b).to_array()
        })
        .collect()
}

/// Solve M g = b for a symmetric positive semi-definite 3x3 M, by eigen-decomposition so that
/// directions without data (zero eigenvalues) get no gradient.
fn solve_symmetric(m: DMat3, b: DVec3) -> DVec3 {
    let det = m.determinant();
    let scale = m.x_axis.x + m.y_axis.y + m.z_axis.z;
    if scale <= 0.0 {
        return DVec3::ZERO;
    }
    if det.abs() > 1e-9 * scale.powi(3) {
        return m.inverse() * b;
    }
    let na = nalgebra::Matrix3::from_fn(|r, c| m.col(c)[r]);
    let eig = na.symmetric_eigen();
    let nb = nalgebra::Vector3::new(b.x, b.y, b.z);
    let mut g = nalgebra::Vector3::zeros();
    for k in 0..3 {
        let lam = eig.eigenvalues[k];
        if lam > 1e-9 * scale {
            let v = eig.eigenvectors.column(k);
            g += v * (v.dot(&nb) / lam);
        }
    }
    DVec3::new(g.x, g.y, g.z)
}

/// Shape descriptors from the gyration tensor of a set of points (Angstrom).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gyration {
    /// Radius of gyration (Angstrom).
    pub radius: f64,
    /// Eigenvalues of the gyration tensor, largest first (Angstrom^2).
    pub eigenvalues: [f64; 3],
    /// Asphericity b = l1 - (l2 + l3) / 2 (Angstrom^2).
    pub asphericity: f64,
    /// Relative shape anisotropy kappa^2 in [0, 1].
    pub anisotropy: f64,
}

/// Gyration tensor descriptors of `points`.
pub fn gyration(points: &[[f64; 3]]) -> Gyration {
    let n = points.len().max(1) as f64;
    let c = points
        .iter()
        .fold(DVec3::ZERO, |a, p| a + DVec3::from_array(*p))
        / n;
    let mut t = nalgebra::Matrix3::<f64>::zeros();
    for p in points {
        let d = DVec3::from_array(*p) - c;
        let d = nalgebra::Vector3::new(d.x, d.y, d.z);
        t += d * d.transpose();
    }
    t /= n;
    let mut ev: Vec<f64> = t
        .symmetric_eigenvalues()
        .iter()
        .map(|x| x.max(0.0))
        .collect();
    ev.sort_by(|a, b| b.total_cmp(a));
    let tr = ev[0] + ev[1] + ev[2];
    let anisotropy = if tr > 0.0 {
        1.0 - 3.0 * (ev[0] * ev[1] + ev[1] * ev[2] + ev[2] * ev[0]) / (tr * tr)
    } else {
        0.0
    };
    Gyration {
        radius: tr.sqrt(),
        eigenvalues: [ev[0], ev[1], ev[2]],
        asphericity: ev[0] - 0.5 * (ev[1] + ev[2]),
        anisotropy,
    }
}

/// Area (Angstrom^2), volume (Angstrom^3) and sphericity of the iso-surface `iso` of the
/// order of `points` (unwrapped member positions with their orders) smoothed onto a grid.
///
/// The field is sum_i o_i G_sigma(x - r_i) / rho, a Gaussian-smoothed order density divided by
/// the atomic number density `1 / v_atom`: about o inside a uniform region, 0 outside.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsoSurface {
    /// Area of the iso-surface (Angstrom^2).
    pub area: f64,
    /// Enclosed volume (Angstrom^3).
    pub volume: f64,
    /// pi^(1/3) (6 V)^(2/3) / A: 1 for a sphere.
    pub sphericity: f64,
}

/// Grid settings of [`iso_surface`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridSpec {
    /// Voxel edge (Angstrom).
    pub spacing: f64,
    /// Gaussian width of each atom (Angstrom).
    pub sigma: f64,
}

impl Default for GridSpec {
    fn default() -> Self {
        Self {
            spacing: 0.4,
            sigma: 1.2,
        }
    }
}

/// The iso-surface of the smoothed order of `points` at level `iso`; None when nothing
/// reaches the level.
pub fn iso_surface(
    points: &[[f64; 3]],
    orders: &[f64],
    v_atom: f64,
    iso: f64,
    grid: GridSpec,
) -> Option<IsoSurface> {
    if points.is_empty() {
        return None;
    }
    let h = grid.spacing;
    let reach = 3.0 * grid.sigma;
    let mut lo = DVec3::splat(f64::INFINITY);
    let mut hi = DVec3::splat(f64::NEG_INFINITY);
    for p in points {
        let p = DVec3::from_array(*p);
        lo = lo.min(p);
        hi = hi.max(p);
    }
    // One empty voxel layer beyond the kernel's reach keeps the surface closed.
    lo -= DVec3::splat(reach + 2.0 * h);
    hi += DVec3::splat(reach + 2.0 * h);
    let dims = ((hi - lo) / h).ceil().as_uvec3() + glam::UVec3::ONE;
    let (nx, ny, nz) = (dims.x as usize, dims.y as usize, dims.z as usize);
    if nx * ny * nz > 64_000_000 {
        return None;
    }
    let norm = v_atom / ((2.0 * std::f64::consts::PI).powf(1.5) * grid.sigma.powi(3));
    let inv2s2 = 1.0 / (2.0 * grid.sigma * grid.sigma);
    let kr = (reach / h).ceil() as i64;
    // The Gaussian is separable: per atom, 1D weights along x and y are computed once; each
    // z plane (in parallel) then only multiplies and adds.
    let width = (2 * kr + 1) as usize;
    let axis_weights = |c: f64, origin: f64, n: usize| -> (i64, Vec<f32>) {
        let centre = ((c - origin) / h).round() as i64;
        let start = (centre - kr).max(0);
        let end = (centre + kr).min(n as i64 - 1);
        let w = (start..=end)
            .map(|i| {
                let d = c - (origin + i as f64 * h);
                (-d * d * inv2s2).exp() as f32
            })
            .collect();
        (start, w)
    };
    // (z, amplitude, first x voxel and x weights, first y voxel and y weights)
    type Splat = (f64, f32, (i64, Vec<f32>), (i64, Vec<f32>));
    let splats: Vec<Splat> = points
        .par_iter()
        .zip(orders.par_iter())
        .filter(|(_, &o)| o != 0.0)
        .map(|(p, &o)| {
            (
                p[2],
                (o * norm) as f32,
                axis_weights(p[0], lo.x, nx),
                axis_weights(p[1], lo.y, ny),
            )
        })
        .collect();
    debug_assert!(splats
        .iter()
        .all(|s| s.2 .1.len() <= width && s.3 .1.len() <= width));
    let mut field = vec![0.0f32; nx * ny * nz];
    field
        .par_chunks_mut(nx * ny)
        .enumerate()
        .for_each(|(iz, plane)| {
            let z = lo.z + iz as f64 * h;
            for (pz, amp, (x0, wx), (y0, wy)) in &splats {
                let dz = pz - z;
                if dz.abs() > reach {
                    continue;
                }
                let wz = amp * (-dz * dz * inv2s2).exp() as f32;
                for (j, &wyj) in wy.iter().enumerate() {
                    let row = (*y0 as usize + j) * nx + *x0 as usize;
                    let wzy = wz * wyj;
                    for (cell, &wxi) in plane[row..row + wx.len()].iter_mut().zip(wx) {
                        *cell += wzy * wxi;
                    }
                }
            }
        });
    let inside = field.iter().filter(|&&f| f as f64 >= iso).count();
    if inside == 0 {
        return None;
    }
    // Surface nets wants negative inside; its layout is x fastest, as ours.
    let sdf: Vec<f32> = field.iter().map(|&f| iso as f32 - f).collect();
    let shape = RuntimeShape::<u32, 3>::new([nx as u32, ny as u32, nz as u32]);
    debug_assert_eq!(shape.linearize([1, 0, 0]), 1);
    let mut buffer = SurfaceNetsBuffer::default();
    surface_nets(
        &sdf,
        &shape,
        [0; 3],
        [nx as u32 - 1, ny as u32 - 1, nz as u32 - 1],
        &mut buffer,
    );
    let mut area = 0.0;
    for tri in buffer.indices.chunks_exact(3) {
        let v = |k: u32| {
            let p = buffer.positions[k as usize];
            DVec3::new(p[0] as f64, p[1] as f64, p[2] as f64)
        };
        let (a, b, c) = (v(tri[0]), v(tri[1]), v(tri[2]));
        area += 0.5 * (b - a).cross(c - a).length();
    }
    area *= h * h;
    let volume = inside as f64 * h * h * h;
    if area <= 0.0 {
        return None;
    }
    let sphericity = std::f64::consts::PI.cbrt() * (6.0 * volume).powf(2.0 / 3.0) / area;
    Some(IsoSurface {
        area,
        volume,
        sphericity,
    })
}

/// Where a nucleus sits in a free particle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Distance from the core to the nearest surface atom (Angstrom).
    pub surface_distance: f64,
    /// Whether that distance is below one lattice constant.
    pub at_surface: bool,
    /// Median coordination of the surface atoms nearest to the core.
    pub surface_coordination: u32,
}

impl Site {
    /// `surface_111`, `subsurface_100`, `surface_edge`, ... (fcc coordination classes).
    pub fn label(&self) -> String {
        let place = if self.at_surface {
            "surface"
        } else {
            "subsurface"
        };
        let kind = match self.surface_coordination {
            c if c >= 9 => "111",
            8 => "100",
            7 => "edge",
            _ => "corner",
        };
        format!("{place}_{kind}")
    }
}

/// Surface atoms of a particle: fewer than `max_surface_coordination + 1` first-shell
/// neighbours.
pub fn surface_atoms(coordination: &[u32], max_surface_coordination: u32) -> Vec<u32> {
    (0..coordination.len() as u32)
        .filter(|&i| coordination[i as usize] <= max_surface_coordination)
        .collect()
}

/// The site of a nucleus whose core is at `core` among `surface` atoms of `frame`.
/// `lattice_a` (Angstrom) separates "surface" from "sub-surface".
pub fn site(
    frame: &Frame,
    core: [f64; 3],
    surface: &[u32],
    coordination: &[u32],
    lattice_a: f64,
) -> Option<Site> {
    if surface.is_empty() {
        return None;
    }
    let mut by_distance: Vec<(f64, u32)> = surface
        .iter()
        .map(|&s| {
            let p = frame.positions[s as usize];
            let d = frame
                .cell
                .minimum_image([p[0] - core[0], p[1] - core[1], p[2] - core[2]]);
            (DVec3::from_array(d).length(), s)
        })
        .collect();
    by_distance.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let nearest = by_distance[0].0;
    // The patch of surface facing the core: the few nearest surface atoms.
    let mut coords: Vec<u32> = by_distance
        .iter()
        .take(7)
        .map(|&(_, s)| coordination[s as usize])
        .collect();
    coords.sort_unstable();
    Some(Site {
        surface_distance: nearest,
        at_surface: nearest < lattice_a,
        surface_coordination: coords[coords.len() / 2],
    })
}

/// Volume per atom (Angstrom^3): the box volume over the atom count for a fully periodic
/// frame, else `fallback` (a^3 / 4 of the fcc metal).
pub fn volume_per_atom(frame: &Frame, fallback: f64) -> f64 {
    if frame.cell.periodic().iter().all(|&p| p) && !frame.is_empty() {
        frame.cell.volume() / frame.len() as f64
    } else {
        fallback
    }
}

/// A_eff (Angstrom^2) of a nucleus: sum over its basin of |g_i| v_atom.
pub fn effective_area(nucleus: &Nucleus, grads: &[[f64; 3]], v_atom: f64) -> f64 {
    nucleus
        .basin
        .iter()
        .map(|&i| DVec3::from_array(grads[i as usize]).length())
        .sum::<f64>()
        * v_atom
}

/// N_eff: the sum of member orders.
pub fn effective_atoms(nucleus: &Nucleus, order: &[f64]) -> f64 {
    nucleus.members.iter().map(|&i| order[i as usize]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gyration_of_a_rod_and_a_cube() {
        let rod: Vec<[f64; 3]> = (0..50).map(|k| [k as f64, 0.0, 0.0]).collect();
        let g = gyration(&rod);
        assert!((g.anisotropy - 1.0).abs() < 1e-9);
        let mut cube = vec![];
        for x in 0..4 {
            for y in 0..4 {
                for z in 0..4 {
                    cube.push([x as f64, y as f64, z as f64]);
                }
            }
        }
        let g = gyration(&cube);
        assert!(g.anisotropy.abs() < 1e-12 && g.asphericity.abs() < 1e-12);
        // Rg^2 of a 4-point line with unit spacing is 1.25 per axis.
        assert!((g.radius - (3.0f64 * 1.25).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn iso_surface_of_a_dense_sphere_is_spherical() {
        // Simple cubic points (v_atom = 1) inside a sphere of radius 8.
        let mut pts = vec![];
        for x in -10..=10 {
            for y in -10..=10 {
                for z in -10..=10 {
                    let p = [x as f64, y as f64, z as f64];
                    if (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt() <= 8.0 {
                        pts.push(p);
                    }
                }
            }
        }
        let o = vec![1.0; pts.len()];
        let s = iso_surface(
            &pts,
            &o,
            1.0,
            0.5,
            GridSpec {
                spacing: 0.3,
                sigma: 0.6,
            },
        )
        .unwrap();
        let r = (3.0 * s.volume / (4.0 * std::f64::consts::PI)).cbrt();
        assert!((r - 8.2).abs() < 0.5, "equivalent radius {r}");
        assert!(
            s.sphericity > 0.95 && s.sphericity <= 1.02,
            "sphericity {}",
            s.sphericity
        );
    }
}

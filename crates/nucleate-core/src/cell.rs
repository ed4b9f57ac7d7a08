//! The simulation box: orthorhombic or triclinic, periodic or open along each axis.

use glam::{DMat3, DVec3};

use crate::error::CoreError;

/// A parallelepiped cell spanned by three edge vectors `a`, `b`, `c` (Angstrom) from `origin`,
/// periodic or open along each of them.
///
/// LAMMPS' restricted triclinic boxes (`a = (lx,0,0)`, `b = (xy,ly,0)`, `c = (xz,yz,lz)`) and the
/// general cells of extended XYZ (`Lattice="ax ay az bx by bz cx cy cz"`) are both represented.
/// Along an open axis the cell only records a container: atoms may lie outside it and no
/// images are made (a free nanoparticle has no periodicity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimBox {
    /// Columns are the edge vectors a, b, c (Angstrom).
    h: DMat3,
    h_inv: DMat3,
    origin: DVec3,
    periodic: [bool; 3],
}

impl SimBox {
    /// A cell from its three edge vectors (Angstrom), its origin and periodic flags.
    /// Fails when the vectors are not finite or span no volume.
    pub fn new(
        edges: [[f64; 3]; 3],
        origin: [f64; 3],
        periodic: [bool; 3],
    ) -> Result<Self, CoreError> {
        let h = DMat3::from_cols(
            DVec3::from_array(edges[0]),
            DVec3::from_array(edges[1]),
            DVec3::from_array(edges[2]),
        );
        if !edges
            .iter()
            .flatten()
            .chain(origin.iter())
            .all(|x| x.is_finite())
        {
            return Err(CoreError::InvalidBox(
                "cell vectors or origin are not finite".into(),
            ));
        }
        let det = h.determinant();
        let scale = h.x_axis.length() * h.y_axis.length() * h.z_axis.length();
        if det.is_nan() || det.abs() <= 1e-12 * scale.max(1e-300) {
            return Err(CoreError::InvalidBox(format!(
                "cell vectors {edges:?} span no volume (determinant {det:e})"
            )));
        }
        Ok(Self {
            h,
            h_inv: h.inverse(),
            origin: DVec3::from_array(origin),
            periodic,
        })
    }

    /// An orthorhombic box with edge lengths `lengths` (Angstrom) from the origin.
    pub fn orthorhombic(lengths: [f64; 3], periodic: [bool; 3]) -> Result<Self, CoreError> {
        Self::new(
            [
                [lengths[0], 0.0, 0.0],
                [0.0, lengths[1], 0.0],
                [0.0, 0.0, lengths[2]],
            ],
            [0.0; 3],
            periodic,
        )
    }

    /// An open (non-periodic) orthorhombic container around `positions`, padded by `pad`
    /// Angstrom on every side: what a frame without a cell (plain XYZ, a free particle) gets.
    /// Fails when the positions span more than a finite volume (e.g. +-1e300).
    pub fn enclosing(positions: &[[f64; 3]], pad: f64) -> Result<Self, CoreError> {
        let mut lo = [f64::INFINITY; 3];
        let mut hi = [f64::NEG_INFINITY; 3];
        for p in positions {
            for d in 0..3 {
                lo[d] = lo[d].min(p[d]);
                hi[d] = hi[d].max(p[d]);
            }
        }
        if positions.is_empty() || !lo.iter().chain(hi.iter()).all(|x| x.is_finite()) {
            lo = [0.0; 3];
            hi = [0.0; 3];
        }
        let edges = [
            [hi[0] - lo[0] + 2.0 * pad.max(0.5), 0.0, 0.0],
            [0.0, hi[1] - lo[1] + 2.0 * pad.max(0.5), 0.0],
            [0.0, 0.0, hi[2] - lo[2] + 2.0 * pad.max(0.5)],
        ];
        let origin = [
            lo[0] - pad.max(0.5),
            lo[1] - pad.max(0.5),
            lo[2] - pad.max(0.5),
        ];
        Self::new(edges, origin, [false; 3])
    }

    /// LAMMPS box from `xlo xhi ylo yhi zlo zhi` and tilts `xy xz yz` (the box itself, not
    /// the `_bound` values of a dump: see [`crate::io::lammps_dump`]).
    pub fn from_lammps(
        lo: [f64; 3],
        hi: [f64; 3],
        tilt: [f64; 3],
        periodic: [bool; 3],
    ) -> Result<Self, CoreError> {
        let [xy, xz, yz] = tilt;
        Self::new(
            [
                [hi[0] - lo[0], 0.0, 0.0],
                [xy, hi[1] - lo[1], 0.0],
                [xz, yz, hi[2] - lo[2]],
            ],
            lo,
            periodic,
        )
    }

    /// Edge vectors a, b, c (Angstrom).
    pub fn edges(&self) -> [[f64; 3]; 3] {
        [
            self.h.x_axis.to_array(),
            self.h.y_axis.to_array(),
            self.h.z_axis.to_array(),
        ]
    }

    /// Edge vector `d` (0 = a, 1 = b, 2 = c).
    pub fn edge(&self, d: usize) -> DVec3 {
        self.h.col(d)
    }

    /// Origin (Angstrom): the corner the edge vectors start from.
    pub fn origin(&self) -> [f64; 3] {
        self.origin.to_array()
    }

    /// Periodic flags along a, b, c.
    pub fn periodic(&self) -> [bool; 3] {
        self.periodic
    }

    /// Set the periodic flags.
    pub fn with_periodic(mut self, periodic: [bool; 3]) -> Self {
        self.periodic = periodic;
        self
    }

    /// Whether any axis is periodic.
    pub fn any_periodic(&self) -> bool {
        self.periodic.iter().any(|&p| p)
    }

    /// Cell matrix with the edge vectors as columns.
    pub fn matrix(&self) -> DMat3 {
        self.h
    }

    /// Volume (Angstrom^3).
    pub fn volume(&self) -> f64 {
        self.h.determinant().abs()
    }

    /// Whether the cell is LAMMPS' restricted triclinic form (a along x, b in the xy plane)
    /// and has no tilt at all.
    pub fn is_orthorhombic(&self) -> bool {
        let e = self.edges();
        e[0][1] == 0.0
            && e[0][2] == 0.0
            && e[1][0] == 0.0
            && e[1][2] == 0.0
            && e[2][0] == 0.0
            && e[2][1] == 0.0
    }

    /// Whether the cell is in LAMMPS' restricted triclinic form (a along x, b in the xy plane,
    /// positive diagonal), so it can be written to a LAMMPS file without rotating the atoms.
    pub fn is_lammps_form(&self) -> bool {
        let e = self.edges();
        e[0][1] == 0.0
            && e[0][2] == 0.0
            && e[1][2] == 0.0
            && e[0][0] > 0.0
            && e[1][1] > 0.0
            && e[2][2] > 0.0
    }

    /// Distances between opposite faces (Angstrom): V / |b x c|, V / |c x a|, V / |a x b|.
    /// Images needed within a cutoff follow from these, whatever the shear.
    pub fn perpendicular_widths(&self) -> [f64; 3] {
        let (a, b, c) = (self.h.x_axis, self.h.y_axis, self.h.z_axis);
        let v = self.volume();
        [
            v / b.cross(c).length(),
            v / c.cross(a).length(),
            v / a.cross(b).length(),
        ]
    }

    /// Fractional coordinates of a Cartesian position (Angstrom).
    #[inline]
    pub fn to_fractional(&self, r: [f64; 3]) -> [f64; 3] {
        (self.h_inv * (DVec3::from_array(r) - self.origin)).to_array()
    }

    /// Cartesian position (Angstrom) of fractional coordinates.
    #[inline]
    pub fn to_cartesian(&self, s: [f64; 3]) -> [f64; 3] {
        (self.h * DVec3::from_array(s) + self.origin).to_array()
    }

    /// The position mapped into the cell along periodic axes (fractional coordinate in
    /// [0, 1)); open axes are left as they are.
    pub fn wrap(&self, r: [f64; 3]) -> [f64; 3] {
        if !self.any_periodic() {
            return r;
        }
        let mut out = DVec3::from_array(r);
        // Whole cell vectors are added to the position itself (components along open axes
        // stay bit-exact); a second pass catches rounding that lands exactly on 1.0.
        for _ in 0..2 {
            let s = self.h_inv * (out - self.origin);
            let mut n = [0i32; 3];
            for d in 0..3 {
                if self.periodic[d] {
                    n[d] = -(s[d].floor() as i32);
                }
            }
            if n == [0; 3] {
                break;
            }
            out += self.shift_vector(n);
        }
        out.to_array()
    }

    /// Integer image counts of a position: how many cell vectors it lies outside the cell
    /// along each periodic axis (0 along open axes).
    pub fn image_of(&self, r: [f64; 3]) -> [i32; 3] {
        let s = self.to_fractional(r);
        let mut img = [0; 3];
        for d in 0..3 {
            if self.periodic[d] {
                img[d] = s[d].floor() as i32;
            }
        }
        img
    }

    /// Cartesian displacement of an integer image shift (Angstrom).
    #[inline]
    pub fn shift_vector(&self, shift: [i32; 3]) -> DVec3 {
        self.h * DVec3::new(shift[0] as f64, shift[1] as f64, shift[2] as f64)
    }

    /// The shortest periodic image of the separation `d` (Angstrom). Along open axes the
    /// separation is left as it is. Exact for any shear: after rounding the fractional
    /// separation, the neighbouring images are compared too.
    pub fn minimum_image(&self, d: [f64; 3]) -> [f64; 3] {
        if !self.any_periodic() {
            return d;
        }
        // Subtract whole cell vectors from the separation itself rather than rebuilding it
        // from fractional coordinates: components along open axes stay bit-exact.
        let s = self.h_inv * DVec3::from_array(d);
        let mut n = [0i32; 3];
        for k in 0..3 {
            if self.periodic[k] {
                n[k] = -(s[k].round() as i32);
            }
        }
        let base = DVec3::from_array(d) + self.shift_vector(n);
        let mut best = base;
        let mut best_len = base.length_squared();
        let range = |k: usize| if self.periodic[k] { -1..=1 } else { 0..=0 };
        for i in range(0) {
            for j in range(1) {
                for k in range(2) {
                    if i == 0 && j == 0 && k == 0 {
                        continue;
                    }
                    let cand = base + self.shift_vector([i, j, k]);
                    let l = cand.length_squared();
                    if l < best_len {
                        best = cand;
                        best_len = l;
                    }
                }
            }
        }
        best.to_array()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tri() -> SimBox {
        SimBox::from_lammps(
            [0.0, -1.0, 2.0],
            [10.0, 9.0, 14.0],
            [3.0, -2.0, 1.5],
            [true; 3],
        )
        .unwrap()
    }

    #[test]
    fn fractional_round_trip() {
        let b = tri();
        let r = [1.3, 4.2, -7.7];
        let back = b.to_cartesian(b.to_fractional(r));
        for d in 0..3 {
            assert!((back[d] - r[d]).abs() < 1e-12);
        }
    }

    #[test]
    fn wrap_lands_inside_and_keeps_images_equivalent() {
        let b = tri();
        let r = [25.3, -14.2, 37.7];
        let w = b.wrap(r);
        let s = b.to_fractional(w);
        assert!(s.iter().all(|&x| (0.0..1.0).contains(&x)));
        let d = b.minimum_image([r[0] - w[0], r[1] - w[1], r[2] - w[2]]);
        assert!(d.iter().all(|x| x.abs() < 1e-9));
    }

    #[test]
    fn minimum_image_is_shortest_of_all_images() {
        // Strongly sheared cell: naive rounding of fractional coordinates is not enough.
        let b =
            SimBox::from_lammps([0.0; 3], [10.0, 10.0, 10.0], [4.9, 4.9, 4.9], [true; 3]).unwrap();
        let d = [4.0, 7.0, 6.5];
        let m = b.minimum_image(d);
        let ml = DVec3::from_array(m).length();
        for i in -3..=3 {
            for j in -3..=3 {
                for k in -3..=3 {
                    let c = DVec3::from_array(d) + b.shift_vector([i, j, k]);
                    assert!(ml <= c.length() + 1e-12);
                }
            }
        }
    }

    #[test]
    fn open_axes_are_not_wrapped() {
        let b = SimBox::orthorhombic([10.0; 3], [true, false, true]).unwrap();
        assert_eq!(b.minimum_image([6.0, 6.0, 6.0]), [-4.0, 6.0, -4.0]);
        let w = b.wrap([11.0, 12.0, -1.0]);
        assert!((w[0] - 1.0).abs() < 1e-12 && w[1] == 12.0 && (w[2] - 9.0).abs() < 1e-12);
    }

    #[test]
    fn perpendicular_widths_of_sheared_cell() {
        let b =
            SimBox::from_lammps([0.0; 3], [10.0, 8.0, 6.0], [5.0, 0.0, 0.0], [true; 3]).unwrap();
        let w = b.perpendicular_widths();
        let expect_a = 10.0 * 8.0 / (8.0f64.powi(2) + 5.0f64.powi(2)).sqrt();
        assert!((w[0] - expect_a).abs() < 1e-12);
        assert!((w[1] - 8.0).abs() < 1e-12);
        assert!((w[2] - 6.0).abs() < 1e-12);
    }

    #[test]
    fn degenerate_cells_are_rejected() {
        assert!(SimBox::new(
            [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
            [0.0; 3],
            [true; 3]
        )
        .is_err());
        assert!(SimBox::orthorhombic([f64::NAN, 1.0, 1.0], [true; 3]).is_err());
    }
}

//! The one tilt geometry every command shares (aet.md, "Geometry and units").
//!
//! Volume: n^3 voxels stored [z, y, x]; voxel (ix, iy, iz) is centred at (ix, iy, iz) x pixel
//! (A). Images: n x n, row = y, column = x. Tilt axis: y, through x = z = c (default
//! c = n/2 pixels). Angle theta: rotate the object by +theta about +y and integrate along z,
//! so an atom at (x, y, z) lands at column u = c + (x - c) cos theta + (z - c) sin theta,
//! row v = y.

use crate::error::{AetError, Result};

/// Direction of the tilt axis in the image files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TiltAxis {
    /// The axis runs along image rows (y): the convention of the volume frame.
    #[default]
    Y,
    /// The axis runs along image columns: each image is transposed on reading.
    X,
}

/// Angles, image size, pixel size and tilt-axis position: everything the forward model and
/// every reconstruction method need to agree on.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TiltGeometry {
    /// Tilt angles (degrees), in page order.
    pub angles_deg: Vec<f64>,
    /// Image (and volume) edge in pixels.
    pub n: usize,
    /// Pixel (and voxel) size (A).
    pub pixel_a: f64,
    /// Position of the tilt axis along x and z (pixels); n/2 by default.
    pub centre_px: f64,
}

impl TiltGeometry {
    /// A geometry with the axis at pixel n/2. Fails on angles outside (-90, 90) degrees, a
    /// non-positive pixel or an empty image.
    pub fn new(angles_deg: Vec<f64>, n: usize, pixel_a: f64) -> Result<Self> {
        let g = Self {
            angles_deg,
            n,
            pixel_a,
            centre_px: n as f64 / 2.0,
        };
        g.validate()?;
        Ok(g)
    }

    /// The same geometry with the axis at `centre_px` pixels.
    pub fn with_centre_px(mut self, centre_px: f64) -> Result<Self> {
        self.centre_px = centre_px;
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<()> {
        if self.n < 2 {
            return Err(AetError::Invalid(format!(
                "image size {} is too small (at least 2 pixels)",
                self.n
            )));
        }
        if !(self.pixel_a.is_finite() && self.pixel_a > 0.0) {
            return Err(AetError::Invalid(format!(
                "pixel size {} A must be positive",
                self.pixel_a
            )));
        }
        if !self.centre_px.is_finite() {
            return Err(AetError::Invalid("tilt-axis centre is not finite".into()));
        }
        if self.angles_deg.is_empty() {
            return Err(AetError::Invalid("no tilt angles".into()));
        }
        for (i, a) in self.angles_deg.iter().enumerate() {
            if !(a.is_finite() && *a > -90.0 && *a < 90.0) {
                return Err(AetError::Invalid(format!(
                    "angle {i} is {a} degrees; tilt angles must lie in (-90, 90)"
                )));
            }
        }
        Ok(())
    }

    /// Number of projections.
    pub fn n_angles(&self) -> usize {
        self.angles_deg.len()
    }

    /// The tilt axis position along x and z (A).
    pub fn centre_a(&self) -> f64 {
        self.centre_px * self.pixel_a
    }

    /// (cos theta, sin theta) of projection `k`.
    pub fn cos_sin(&self, k: usize) -> (f64, f64) {
        let t = self.angles_deg[k].to_radians();
        (t.cos(), t.sin())
    }

    /// Where a point (A, volume frame) lands in projection `k`: (column u, row v) in pixels.
    pub fn project_point(&self, k: usize, pos_a: [f64; 3]) -> (f64, f64) {
        let (c, s) = self.cos_sin(k);
        let ca = self.centre_a();
        let u = ca + (pos_a[0] - ca) * c + (pos_a[2] - ca) * s;
        (u / self.pixel_a, pos_a[1] / self.pixel_a)
    }
}

/// Parse an angle range `MIN:MAX:STEP` (degrees, MAX included when it falls on the grid).
pub fn parse_angle_range(text: &str) -> Option<Vec<f64>> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 3 {
        return None;
    }
    let v: Vec<f64> = parts
        .iter()
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    let (lo, hi, step) = (v[0], v[1], v[2]);
    if !(step > 0.0 && hi >= lo && lo.is_finite() && hi.is_finite()) {
        return None;
    }
    let count = ((hi - lo) / step + 1e-9).floor() as usize + 1;
    Some((0..count).map(|i| lo + i as f64 * step).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_tilt_is_the_identity_on_x_and_y() {
        let g = TiltGeometry::new(vec![0.0, 90.0 - 1e-9], 64, 0.5).unwrap();
        let (u, v) = g.project_point(0, [3.0, 7.5, 20.0]);
        assert!((u - 6.0).abs() < 1e-12 && (v - 15.0).abs() < 1e-12);
        // Near +90 degrees the column follows z: u = c + (z - c).
        let (u, _) = g.project_point(1, [3.0, 7.5, 20.0]);
        assert!((u - 40.0).abs() < 1e-6);
    }

    #[test]
    fn angles_outside_the_open_interval_are_rejected() {
        assert!(TiltGeometry::new(vec![-90.0], 8, 1.0).is_err());
        assert!(TiltGeometry::new(vec![f64::NAN], 8, 1.0).is_err());
        assert!(TiltGeometry::new(vec![89.0], 8, 1.0).is_ok());
    }

    #[test]
    fn ranges_include_the_end() {
        assert_eq!(
            parse_angle_range("-60:60:30").unwrap(),
            vec![-60.0, -30.0, 0.0, 30.0, 60.0]
        );
        assert!(parse_angle_range("1:0:1").is_none());
        assert!(parse_angle_range("0:1").is_none());
    }
}

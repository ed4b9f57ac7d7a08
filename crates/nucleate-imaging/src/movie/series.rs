//! The per-frame series of a movie and its CSV form.

use std::path::Path;

use serde::Serialize;

use crate::error::{ImagingError, Result};
use crate::movie::MovieMeta;

/// One frame's measurement of the followed object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameRecord {
    /// 0-based frame index.
    pub frame: usize,
    /// Time (s) = frame * dt.
    pub t_s: f64,
    /// Projected area of the object, core and cloud (nm^2).
    pub area_nm2: f64,
    /// Mean raw grey value over the object (input units); NaN without an object.
    pub mean_grey: f64,
    /// Area of the dense core (nm^2).
    pub core_area_nm2: f64,
    /// Area of the cloud: the object minus its core (nm^2).
    pub cloud_area_nm2: f64,
    /// Centroid x (nm from the left edge, drift-corrected when drift correction is on).
    pub cx_nm: f64,
    /// Centroid y (nm from the top edge, drift-corrected when drift correction is on).
    pub cy_nm: f64,
    /// Equivalent diameter sqrt(4 area / pi) (nm).
    pub diameter_nm: f64,
    /// Mean flattened signal over the object above the background, positive toward the
    /// particle whatever the polarity ("density", grey units). Not written to the CSV.
    #[serde(skip)]
    pub density: f64,
    /// Cumulative drift x of this frame relative to the first (px). Not written.
    #[serde(skip)]
    pub drift_x_px: f64,
    /// Cumulative drift y (px). Not written.
    #[serde(skip)]
    pub drift_y_px: f64,
}

impl FrameRecord {
    /// A frame where no object was found.
    pub fn empty(frame: usize, t_s: f64, drift: (f64, f64)) -> Self {
        Self {
            frame,
            t_s,
            area_nm2: 0.0,
            mean_grey: f64::NAN,
            core_area_nm2: 0.0,
            cloud_area_nm2: 0.0,
            cx_nm: f64::NAN,
            cy_nm: f64::NAN,
            diameter_nm: 0.0,
            density: f64::NAN,
            drift_x_px: drift.0,
            drift_y_px: drift.1,
        }
    }
}

/// The series of a movie.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Pixel size and frame interval.
    pub meta: MovieMeta,
    /// One record per frame, in order.
    pub records: Vec<FrameRecord>,
}

/// The exact header of `series.csv` (cli.md).
pub const SERIES_COLUMNS: [&str; 9] = [
    "frame",
    "t_s",
    "area_nm2",
    "mean_grey",
    "core_area_nm2",
    "cloud_area_nm2",
    "cx_nm",
    "cy_nm",
    "diameter_nm",
];

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

impl Series {
    /// Column of values picked by `f`.
    pub fn column(&self, f: impl Fn(&FrameRecord) -> f64) -> Vec<f64> {
        self.records.iter().map(f).collect()
    }

    /// Write `series.csv` (missing values as empty cells); the file appears only complete.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let file =
            nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
        let mut w = csv::Writer::from_writer(file);
        let err = |e: csv::Error| ImagingError::write(path, e);
        w.write_record(SERIES_COLUMNS).map_err(err)?;
        for r in &self.records {
            w.write_record([
                r.frame.to_string(),
                num(r.t_s),
                num(r.area_nm2),
                num(r.mean_grey),
                num(r.core_area_nm2),
                num(r.cloud_area_nm2),
                num(r.cx_nm),
                num(r.cy_nm),
                num(r.diameter_nm),
            ])
            .map_err(err)?;
        }
        let file = w.into_inner().map_err(|e| ImagingError::write(path, e))?;
        file.commit().map_err(|e| ImagingError::io(path, e))
    }
}

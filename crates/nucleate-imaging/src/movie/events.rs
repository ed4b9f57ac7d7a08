//! Events in a movie's series: the condensation of the cloud into a particle (an abrupt
//! area drop while the density rises) and the out-and-in cycles that follow (core shrinks
//! while the cloud grows, then the reverse).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ImagingError, Result};
use crate::image::{median_mad_sigma, quantile};
use crate::movie::series::Series;

/// Parameters of event detection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventParams {
    /// A frame-to-frame area step counts as part of a drop when it falls by more than this
    /// many robust sigmas of all steps.
    pub drop_sigmas: f64,
    /// Smallest relative area drop reported as a condensation.
    pub min_relative_drop: f64,
    /// Smallest core-area swing, relative to the median core area after condensation, that
    /// makes an out or in interval (the hysteresis of the turning-point search).
    pub min_cycle_amplitude: f64,
    /// An interval starts where the core has moved this fraction of the swing away from its
    /// turning point, and ends where it is within this fraction of the next one (so that
    /// plateaus between intervals are not counted in them).
    pub edge_fraction: f64,
}

impl Default for EventParams {
    fn default() -> Self {
        Self {
            drop_sigmas: 4.0,
            min_relative_drop: 0.2,
            min_cycle_amplitude: 0.15,
            edge_fraction: 0.1,
        }
    }
}

/// The condensation interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condensation {
    /// Last frame before the area falls.
    pub start_frame: usize,
    /// First frame after the fall.
    pub end_frame: usize,
    /// (area before - area after) / area before.
    pub relative_drop: f64,
    /// Time of `start_frame` (s).
    pub start_t_s: f64,
    /// Time of `end_frame` (s).
    pub end_t_s: f64,
    /// Relative rise of the density (mean flattened signal over the object) across it.
    pub density_rise: f64,
}

/// Out (core shrinks, cloud grows) or in (the reverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CycleKind {
    /// Core shrinks while the cloud grows.
    Out,
    /// Core grows while the cloud is re-absorbed.
    In,
}

/// One out or in interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cycle {
    /// Out or in.
    pub kind: CycleKind,
    /// First frame of the interval.
    pub start_frame: usize,
    /// Last frame of the interval.
    pub end_frame: usize,
    /// (end - start) * dt (s).
    pub duration_s: f64,
    /// Relative change of the core area: |core(end) - core(start)| / core(start).
    pub amplitude: f64,
    /// Change of the cloud area over the interval (nm^2).
    pub cloud_change_nm2: f64,
}

/// Everything `events.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Events {
    /// The condensation, if one was found.
    pub condensation: Option<Condensation>,
    /// Out and in intervals in time order.
    pub cycles: Vec<Cycle>,
    /// Number of out intervals directly followed by an in interval.
    pub n_cycles: usize,
}

impl Events {
    /// Write `events.json`; the file appears only complete.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let mut f =
            nucleate_core::io::AtomicFile::create(path).map_err(|e| ImagingError::io(path, e))?;
        let text = serde_json::to_string_pretty(self).map_err(|e| ImagingError::write(path, e))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .map_err(|e| ImagingError::io(path, e))?;
        f.commit().map_err(|e| ImagingError::io(path, e))
    }
}

/// Running median over 3 values (ends kept): removes single-frame outliers and keeps
/// steps and ramps where they are.
pub fn median3(v: &[f64]) -> Vec<f64> {
    let mut out = v.to_vec();
    for i in 1..v.len().saturating_sub(1) {
        let mut w = [v[i - 1], v[i], v[i + 1]];
        w.sort_by(f64::total_cmp);
        out[i] = w[1];
    }
    out
}

/// Missing values (NaN) replaced by the previous finite one (or the next for a leading
/// gap; 0 when there is none at all).
fn fill(v: &[f64]) -> Vec<f64> {
    let first = v.iter().copied().find(|x| x.is_finite()).unwrap_or(0.0);
    let mut last = first;
    v.iter()
        .map(|x| {
            if x.is_finite() {
                last = *x;
            }
            last
        })
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// The condensation: among the runs of significant frame-to-frame area drops (a step below
/// `-drop_sigmas` robust sigmas of all steps, runs bridged over one non-rising step), the one
/// with the largest drop across it, provided the density rises across it and the relative
/// drop reaches `min_relative_drop`.
pub fn detect_condensation(
    area: &[f64],
    density: &[f64],
    dt_s: f64,
    params: &EventParams,
) -> Option<Condensation> {
    let n = area.len();
    if n < 3 {
        return None;
    }
    let a = median3(&fill(area));
    let rho = median3(&fill(density));
    let steps: Vec<f64> = a.windows(2).map(|w| w[1] - w[0]).collect();
    let (med, sigma) = median_mad_sigma(&steps);
    let scale = quantile(&a, 0.5).abs().max(1e-300);
    // Never call a step significant below 1 % of the typical area (a noise-free series).
    let cut = (params.drop_sigmas * sigma).max(0.01 * scale);
    let significant: Vec<bool> = steps.iter().map(|d| d - med < -cut).collect();
    let mut best: Option<(f64, Condensation)> = None;
    let mut i = 0;
    while i < steps.len() {
        if !significant[i] {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        let mut j = i + 1;
        while j < steps.len() {
            if significant[j] {
                end = j;
                j += 1;
            } else if j + 1 < steps.len() && steps[j] <= 0.0 && significant[j + 1] {
                j += 1;
            } else {
                break;
            }
        }
        i = end + 1;
        let (s, e) = (start, end + 1);
        let before = mean(&a[s.saturating_sub(2)..=s]);
        let after = mean(&a[e..(e + 3).min(n)]);
        let rho_before = mean(&rho[s.saturating_sub(2)..=s]);
        let rho_after = mean(&rho[e..(e + 3).min(n)]);
        if before <= 0.0 || rho_after <= rho_before {
            continue;
        }
        let drop = before - after;
        let relative_drop = drop / before;
        if relative_drop < params.min_relative_drop {
            continue;
        }
        if best.as_ref().is_none_or(|(d, _)| drop > *d) {
            best = Some((
                drop,
                Condensation {
                    start_frame: s,
                    end_frame: e,
                    relative_drop,
                    start_t_s: s as f64 * dt_s,
                    end_t_s: e as f64 * dt_s,
                    density_rise: (rho_after - rho_before) / rho_before.abs().max(1e-300),
                },
            ));
        }
    }
    best.map(|(_, c)| c)
}

/// Turning points of `v` with hysteresis `delta`: indices of alternating maxima and minima
/// each at least `delta` from the previous one (the ends included when a move of `delta`
/// leaves or reaches them).
pub fn turning_points(v: &[f64], delta: f64) -> Vec<usize> {
    if v.is_empty() {
        return Vec::new();
    }
    let mut pivots = Vec::new();
    let (mut lo, mut hi) = (0usize, 0usize);
    let mut trend = 0i8;
    let mut cand = 0usize;
    for i in 1..v.len() {
        match trend {
            0 => {
                if v[i] < v[lo] {
                    lo = i;
                }
                if v[i] > v[hi] {
                    hi = i;
                }
                if v[i] - v[lo] >= delta {
                    pivots.push(lo);
                    trend = 1;
                    cand = i;
                } else if v[hi] - v[i] >= delta {
                    pivots.push(hi);
                    trend = -1;
                    cand = i;
                }
            }
            1 => {
                if v[i] >= v[cand] {
                    cand = i;
                } else if v[cand] - v[i] >= delta {
                    pivots.push(cand);
                    trend = -1;
                    cand = i;
                }
            }
            _ => {
                if v[i] <= v[cand] {
                    cand = i;
                } else if v[i] - v[cand] >= delta {
                    pivots.push(cand);
                    trend = 1;
                    cand = i;
                }
            }
        }
    }
    if trend != 0 {
        pivots.push(cand);
    }
    pivots
}

/// Out and in intervals of the core area from frame `from` on: legs between turning
/// points of the median-smoothed core area (hysteresis `min_cycle_amplitude` times its
/// median), trimmed to where the core actually moves, kept when the cloud changes the other
/// way (or stays put).
pub fn detect_cycles(
    core: &[f64],
    cloud: &[f64],
    from: usize,
    dt_s: f64,
    params: &EventParams,
) -> Vec<Cycle> {
    if from + 2 >= core.len() {
        return Vec::new();
    }
    let c = median3(&fill(&core[from..]));
    let cl = median3(&fill(&cloud[from..]));
    let delta = params.min_cycle_amplitude * quantile(&c, 0.5).abs();
    if delta <= 0.0 {
        return Vec::new();
    }
    let pivots = turning_points(&c, delta);
    let mut cycles = Vec::new();
    for leg in pivots.windows(2) {
        let (p, q) = (leg[0], leg[1]);
        let swing = c[q] - c[p];
        let edge = params.edge_fraction * swing.abs();
        let moved = |i: usize| (c[i] - c[p]).abs() > edge;
        let arrived = |i: usize| (c[i] - c[q]).abs() <= edge;
        let mut s = p;
        while s + 1 < q && !moved(s + 1) {
            s += 1;
        }
        let mut e = q;
        while e > s + 1 && arrived(e - 1) {
            e -= 1;
        }
        let cloud_change = cl[e] - cl[s];
        // An out needs the cloud not to shrink with the core (and an in, not to grow).
        if cloud_change * swing > 0.0 && cloud_change.abs() > 0.1 * swing.abs() {
            continue;
        }
        cycles.push(Cycle {
            kind: if swing < 0.0 {
                CycleKind::Out
            } else {
                CycleKind::In
            },
            start_frame: s + from,
            end_frame: e + from,
            duration_s: (e - s) as f64 * dt_s,
            amplitude: swing.abs() / c[s].abs().max(1e-300),
            cloud_change_nm2: cloud_change,
        });
    }
    cycles
}

/// Condensation and cycles of a series.
pub fn detect_events(series: &Series, params: &EventParams) -> Events {
    let dt = series.meta.dt_s;
    let area = series.column(|r| r.area_nm2);
    let density = series.column(|r| r.density);
    let condensation = detect_condensation(&area, &density, dt, params);
    let from = condensation.as_ref().map_or(0, |c| c.end_frame + 1);
    let cycles = detect_cycles(
        &series.column(|r| r.core_area_nm2),
        &series.column(|r| r.cloud_area_nm2),
        from,
        dt,
        params,
    );
    let n_cycles = cycles
        .windows(2)
        .filter(|w| w[0].kind == CycleKind::Out && w[1].kind == CycleKind::In)
        .count();
    Events {
        condensation,
        cycles,
        n_cycles,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_drop_found_exactly() {
        // Area 100 until frame 9, ramps down to 30 at frame 13; density rises with it.
        let area: Vec<f64> = (0..30)
            .map(|i| match i {
                0..=9 => 100.0 + (i % 3) as f64,
                10..=12 => 100.0 - 17.5 * (i - 9) as f64,
                _ => 30.0 + (i % 2) as f64,
            })
            .collect();
        let density: Vec<f64> = area.iter().map(|a| 3000.0 / a).collect();
        let c = detect_condensation(&area, &density, 0.5, &EventParams::default()).unwrap();
        assert_eq!((c.start_frame, c.end_frame), (9, 13));
        assert!((c.relative_drop - 0.7).abs() < 0.02, "{}", c.relative_drop);
        // Without a rising density it is not a condensation.
        let flat = vec![1.0; 30];
        assert!(detect_condensation(&area, &flat, 0.5, &EventParams::default()).is_none());
    }

    #[test]
    fn zigzag_turning_points() {
        let v = [0.0, 1.0, 5.0, 4.0, 0.5, 0.0, 3.0, 6.0, 5.5];
        assert_eq!(turning_points(&v, 2.0), vec![0, 2, 5, 7]);
        assert!(turning_points(&[1.0, 1.5, 1.2], 2.0).is_empty());
    }

    #[test]
    fn two_cycles_counted_with_trimmed_intervals() {
        // Core 100 with plateaus, two dips to 60 (out) and back (in); cloud mirrors it.
        let mut core = vec![100.0; 10];
        for _ in 0..2 {
            core.extend([
                90.0, 75.0, 60.0, 60.0, 60.0, 75.0, 90.0, 100.0, 100.0, 100.0,
            ]);
        }
        let cloud: Vec<f64> = core.iter().map(|c| 120.0 - c).collect();
        let cycles = detect_cycles(&core, &cloud, 0, 1.0, &EventParams::default());
        let kinds: Vec<CycleKind> = cycles.iter().map(|c| c.kind).collect();
        use CycleKind::*;
        assert_eq!(kinds, vec![Out, In, Out, In]);
        assert_eq!((cycles[0].start_frame, cycles[0].end_frame), (9, 12));
        assert_eq!((cycles[1].start_frame, cycles[1].end_frame), (14, 17));
        assert!((cycles[0].amplitude - 0.4).abs() < 1e-12);
        // A shrink with a shrinking cloud is not an "out".
        let cloud_down: Vec<f64> = core.iter().map(|c| c * 0.5).collect();
        assert!(detect_cycles(&core, &cloud_down, 0, 1.0, &EventParams::default()).is_empty());
    }
}

//! Frame selection (`--frames`): Python-style indices and slices.
//!
//! Syntax: a comma-separated list of items, each
//! - an index `5`, or from the end `-1`;
//! - `last` (the same as `-1`);
//! - a slice `start:stop[:step]` with optional parts (`:`, `10:`, `:100`, `::10`, `-20:`),
//!   half-open like Python's, step positive.
//!
//! Frames are always delivered in file order, each at most once, whatever the order of the
//! items (a trajectory is a stream). Indices past the end select nothing.

use std::fmt;

use crate::error::CoreError;

/// One item of a frame selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    /// A single index (negative: from the end).
    Index(i64),
    /// A half-open slice with a positive step.
    Slice {
        start: Option<i64>,
        stop: Option<i64>,
        step: u64,
    },
}

/// Which frames of a trajectory to read: all, or a list of indices and slices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FrameSelection {
    items: Vec<Item>,
    text: String,
}

impl FrameSelection {
    /// Every frame.
    pub fn all() -> Self {
        Self::default()
    }

    /// Parse the `--frames` syntax (see the module documentation).
    pub fn parse(spec: &str) -> Result<Self, CoreError> {
        let bad = |what: &str| {
            CoreError::InvalidArgument(format!(
                "invalid frame selection `{spec}`: {what} (expected e.g. `0:100:10`, `last`, `-1`, `0,5,10`)"
            ))
        };
        let trimmed = spec.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        let mut items = Vec::new();
        for part in trimmed.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(bad("empty item"));
            }
            if part.eq_ignore_ascii_case("last") {
                items.push(Item::Index(-1));
                continue;
            }
            let fields: Vec<&str> = part.split(':').map(str::trim).collect();
            let int = |s: &str| -> Result<Option<i64>, CoreError> {
                if s.is_empty() {
                    Ok(None)
                } else {
                    s.parse::<i64>()
                        .map(Some)
                        .map_err(|_| bad(&format!("`{s}` is not an integer")))
                }
            };
            match fields.len() {
                1 => items.push(Item::Index(
                    int(fields[0])?.ok_or_else(|| bad("empty item"))?,
                )),
                2 | 3 => {
                    let step = if fields.len() == 3 {
                        int(fields[2])?
                    } else {
                        None
                    };
                    let step =
                        match step {
                            None => 1,
                            Some(s) if s > 0 => s as u64,
                            Some(0) => return Err(bad("slice step cannot be zero")),
                            Some(_) => return Err(bad(
                                "negative steps are not supported: frames are read in file order",
                            )),
                        };
                    items.push(Item::Slice {
                        start: int(fields[0])?,
                        stop: int(fields[1])?,
                        step,
                    });
                }
                _ => return Err(bad(&format!("`{part}` has too many `:`"))),
            }
        }
        Ok(Self {
            items,
            text: trimmed.to_string(),
        })
    }

    /// Whether every frame is selected (no items, or the slice `:`/`::1`).
    pub fn is_all(&self) -> bool {
        self.items.is_empty()
            || self.items.iter().any(|it| {
                matches!(
                    it,
                    Item::Slice {
                        start: None | Some(0),
                        stop: None,
                        step: 1
                    }
                )
            })
    }

    /// Whether resolving the selection needs the number of frames (an index or slice bound
    /// counted from the end). Otherwise frames can be selected while streaming.
    pub fn needs_count(&self) -> bool {
        !self.is_all()
            && self.items.iter().any(|it| match *it {
                Item::Index(i) => i < 0,
                Item::Slice { start, stop, .. } => {
                    start.is_some_and(|s| s < 0) || stop.is_some_and(|s| s < 0)
                }
            })
    }

    /// Whether frame `i` is selected; valid when [`FrameSelection::needs_count`] is false.
    pub fn contains_streaming(&self, i: usize) -> bool {
        if self.is_all() {
            return true;
        }
        let i = i as i64;
        self.items.iter().any(|it| match *it {
            Item::Index(k) => k == i,
            Item::Slice { start, stop, step } => {
                let s = start.unwrap_or(0);
                i >= s && stop.is_none_or(|e| i < e) && ((i - s) as u64).is_multiple_of(step)
            }
        })
    }

    /// One past the largest selected index when that is known without the frame count
    /// (`None`: the selection runs to the end of the file). Valid when `needs_count` is false.
    pub fn end_streaming(&self) -> Option<usize> {
        if self.is_all() {
            return None;
        }
        let mut end = 0usize;
        for it in &self.items {
            match *it {
                Item::Index(k) => end = end.max(k as usize + 1),
                Item::Slice { stop: None, .. } => return None,
                Item::Slice { stop: Some(e), .. } => end = end.max(e.max(0) as usize),
            }
        }
        Some(end)
    }

    /// The selected indices of a trajectory of `n_frames` frames, sorted and distinct.
    pub fn resolve(&self, n_frames: usize) -> Vec<usize> {
        if self.is_all() {
            return (0..n_frames).collect();
        }
        let n = n_frames as i64;
        let norm = |k: i64| if k < 0 { k + n } else { k };
        let mut out = Vec::new();
        for it in &self.items {
            match *it {
                Item::Index(k) => {
                    let k = norm(k);
                    if (0..n).contains(&k) {
                        out.push(k as usize);
                    }
                }
                Item::Slice { start, stop, step } => {
                    let s = start.map_or(0, |s| norm(s).clamp(0, n));
                    let e = stop.map_or(n, |e| norm(e).clamp(0, n));
                    let mut k = s;
                    while k < e {
                        out.push(k as usize);
                        k += step as i64;
                    }
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl fmt::Display for FrameSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.items.is_empty() {
            write!(f, ":")
        } else {
            write!(f, "{}", self.text)
        }
    }
}

impl std::str::FromStr for FrameSelection {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str) -> FrameSelection {
        FrameSelection::parse(s).unwrap()
    }

    /// Python's `list(range(n))[start:stop:step]` written out by hand.
    #[test]
    fn slices_follow_python() {
        assert_eq!(sel("0:10:3").resolve(20), vec![0, 3, 6, 9]);
        assert_eq!(sel("::5").resolve(12), vec![0, 5, 10]);
        assert_eq!(sel("-3:").resolve(10), vec![7, 8, 9]);
        assert_eq!(sel(":-8").resolve(10), vec![0, 1]);
        assert_eq!(sel("5:100").resolve(8), vec![5, 6, 7]);
        assert_eq!(sel("-100:2").resolve(5), vec![0, 1]);
        assert_eq!(sel("7:3").resolve(10), Vec::<usize>::new());
    }

    #[test]
    fn indices_lists_and_last() {
        assert_eq!(sel("last").resolve(4), vec![3]);
        assert_eq!(sel("-1").resolve(4), vec![3]);
        assert_eq!(sel("10,0,5,5").resolve(11), vec![0, 5, 10]);
        assert_eq!(sel("0,99").resolve(3), vec![0]);
        assert_eq!(sel("-9").resolve(3), Vec::<usize>::new());
        assert_eq!(sel("1:3, last").resolve(10), vec![1, 2, 9]);
    }

    #[test]
    fn streaming_agrees_with_resolve() {
        for spec in ["0:100:10", "3", "0,5,10", "2:", "::4", ":7", "1:9:2,4"] {
            let s = sel(spec);
            assert!(!s.needs_count(), "{spec}");
            let want = s.resolve(50);
            let got: Vec<usize> = (0..50).filter(|&i| s.contains_streaming(i)).collect();
            assert_eq!(got, want, "{spec}");
            if let Some(end) = s.end_streaming() {
                assert!(want.iter().all(|&i| i < end), "{spec}");
            }
        }
        assert!(sel("last").needs_count());
        assert!(sel("-5:").needs_count());
        assert!(!sel(":").needs_count());
        assert!(sel(":").is_all());
    }

    #[test]
    fn bad_specs_are_rejected() {
        for spec in ["", "a", "1:2:3:4", "::0", "::-1", "1,,2", "1.5"] {
            let err = FrameSelection::parse(spec).unwrap_err().to_string();
            assert!(err.contains("invalid frame selection"), "{spec}: {err}");
        }
    }
}

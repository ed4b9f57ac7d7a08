//! The same nuclei followed through time.
//!
//! Nuclei of successive frames are linked when they share more than `min_overlap` (50%) of the
//! atoms of the smaller one, atoms being identified by their ids. Linked nuclei form connected
//! groups: one-to-one continues a track; many-to-one is a merge and one-to-many a division, both
//! recorded as events that end the parent tracks and start new ones (no arbitrary choice of a
//! "main" branch); a nucleus without a partner in the next frame dissolves, one without a
//! partner in the previous frame appears.
//!
//! The tracker is a fold over frames that keeps only the previous frame's nuclei and a small
//! table per track (its N_eff series), so memory does not grow with the atoms of past frames.
//!
//! Classification of a track present at two or more frames, from its N_eff series s with
//! tolerance tol = max(`tol_atoms`, `tol_fraction` x max s):
//! - dissolving: it ends by dissolving (falls below the nucleus definition and disappears), or
//!   its net change s_last - s_first is below -tol;
//! - growing: net change above tol and no fall (largest drop from an earlier value) above tol;
//! - fluctuating: rises and falls by more than tol;
//! - stable: changes within tol. With only two frames a track is growing (net >= 0) or
//!   dissolving. Tracks seen in one frame only are transient.

use std::collections::HashMap;

use petgraph::unionfind::UnionFind;

/// One nucleus of one frame, as the tracker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Nucleus index within its frame.
    pub nucleus: usize,
    /// Atom ids of its members, ascending.
    pub ids: Vec<i64>,
    /// Effective number of atoms.
    pub n_eff: f64,
    /// Effective surface (Angstrom^2).
    pub a_eff: f64,
}

/// Tracking settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackParams {
    /// Minimum shared fraction of the smaller nucleus for a link (exclusive).
    pub min_overlap: f64,
    /// Absolute tolerance of the classification (atoms of N_eff).
    pub tol_atoms: f64,
    /// Relative tolerance of the classification (fraction of the track's largest N_eff).
    pub tol_fraction: f64,
}

impl Default for TrackParams {
    fn default() -> Self {
        Self {
            min_overlap: 0.5,
            tol_atoms: 5.0,
            tol_fraction: 0.2,
        }
    }
}

/// A row of the track table: one nucleus of one frame on one track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    /// Track number (0-based, in order of appearance).
    pub track: usize,
    /// Frame index.
    pub frame: usize,
    /// Time (ps).
    pub time_ps: f64,
    /// Nucleus index within the frame.
    pub nucleus: usize,
    /// Members.
    pub n_atoms: usize,
    /// Effective number of atoms.
    pub n_eff: f64,
    /// Effective surface (Angstrom^2).
    pub a_eff: f64,
}

/// Kinds of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A nucleus without a predecessor.
    Appear,
    /// Several nuclei became one.
    Merge,
    /// One nucleus became several.
    Divide,
    /// A nucleus without a successor.
    Dissolve,
}

impl EventKind {
    /// The word written to events.csv.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Appear => "appear",
            EventKind::Merge => "merge",
            EventKind::Divide => "divide",
            EventKind::Dissolve => "dissolve",
        }
    }
}

/// An event between the previous frame and `frame`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Frame at which it is seen.
    pub frame: usize,
    /// Its time (ps).
    pub time_ps: f64,
    /// What happened.
    pub kind: EventKind,
    /// Tracks before (empty for appear).
    pub from: Vec<usize>,
    /// Tracks after (empty for dissolve).
    pub to: Vec<usize>,
}

impl Event {
    /// `1;2->5` style text of the tracks involved.
    pub fn tracks_text(&self) -> String {
        let j = |v: &[usize]| {
            v.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(";")
        };
        match self.kind {
            EventKind::Appear => j(&self.to),
            EventKind::Dissolve => j(&self.from),
            _ => format!("{}->{}", j(&self.from), j(&self.to)),
        }
    }
}

/// Class of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackClass {
    /// Net rise, no significant fall.
    Growing,
    /// Rises and falls beyond the tolerance.
    Fluctuating,
    /// Disappears, or falls overall.
    Dissolving,
    /// Changes within the tolerance.
    Stable,
    /// Seen in one frame only.
    Transient,
}

impl TrackClass {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            TrackClass::Growing => "growing",
            TrackClass::Fluctuating => "fluctuating",
            TrackClass::Dissolving => "dissolving",
            TrackClass::Stable => "stable",
            TrackClass::Transient => "transient",
        }
    }
}

/// How a track ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackEnd {
    /// Still present in the last frame.
    Open,
    /// No successor.
    Dissolved,
    /// Merged into another nucleus.
    Merged,
    /// Divided into several.
    Divided,
}

/// What is kept per track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    /// Frames where it is present.
    pub frames: Vec<usize>,
    /// Its N_eff in those frames.
    pub n_eff: Vec<f64>,
    /// How it ended.
    pub end: TrackEnd,
}

/// Follows nuclei frame by frame.
#[derive(Debug, Clone)]
pub struct Tracker {
    params: TrackParams,
    /// Previous frame: (track, ids) per nucleus.
    prev: Vec<(usize, Vec<i64>)>,
    tracks: Vec<TrackInfo>,
    events: Vec<Event>,
}

impl Tracker {
    /// An empty tracker.
    pub fn new(params: TrackParams) -> Self {
        Self {
            params,
            prev: Vec::new(),
            tracks: Vec::new(),
            events: Vec::new(),
        }
    }

    fn new_track(&mut self, frame: usize, n_eff: f64) -> usize {
        self.tracks.push(TrackInfo {
            frames: vec![frame],
            n_eff: vec![n_eff],
            end: TrackEnd::Open,
        });
        self.tracks.len() - 1
    }

    /// Link the nuclei of `frame` to the previous frame's. Returns the track rows of this
    /// frame and the events seen at it.
    pub fn push(
        &mut self,
        frame: usize,
        time_ps: f64,
        nuclei: &[Snapshot],
    ) -> (Vec<TrackRow>, Vec<Event>) {
        let np = self.prev.len();
        let nc = nuclei.len();
        // Which previous nucleus each id belonged to.
        let mut owner: HashMap<i64, usize> = HashMap::new();
        for (k, (_, ids)) in self.prev.iter().enumerate() {
            for &id in ids {
                owner.insert(id, k);
            }
        }
        let mut uf = UnionFind::<usize>::new(np + nc);
        for (m, s) in nuclei.iter().enumerate() {
            let mut shared: HashMap<usize, usize> = HashMap::new();
            for id in &s.ids {
                if let Some(&k) = owner.get(id) {
                    *shared.entry(k).or_default() += 1;
                }
            }
            for (k, count) in shared {
                let smaller = self.prev[k].1.len().min(s.ids.len()).max(1);
                if count as f64 / smaller as f64 > self.params.min_overlap {
                    uf.union(k, np + m);
                }
            }
        }
        // Group linked nuclei by component, components ordered by their first member.
        let mut groups: HashMap<usize, (Vec<usize>, Vec<usize>)> = HashMap::new();
        for k in 0..np {
            groups.entry(uf.find(k)).or_default().0.push(k);
        }
        for m in 0..nc {
            groups.entry(uf.find(np + m)).or_default().1.push(m);
        }
        let mut groups: Vec<(Vec<usize>, Vec<usize>)> = groups.into_values().collect();
        groups.sort_by_key(|(p, c)| {
            (
                c.first().copied().unwrap_or(usize::MAX),
                p.first().copied().unwrap_or(usize::MAX),
            )
        });

        let mut track_of = vec![usize::MAX; nc];
        let mut events = Vec::new();
        for (ps, cs) in groups {
            let from: Vec<usize> = ps.iter().map(|&k| self.prev[k].0).collect();
            match (ps.len(), cs.len()) {
                (0, _) => {
                    for &m in &cs {
                        let t = self.new_track(frame, nuclei[m].n_eff);
                        track_of[m] = t;
                        events.push(Event {
                            frame,
                            time_ps,
                            kind: EventKind::Appear,
                            from: vec![],
                            to: vec![t],
                        });
                    }
                }
                (_, 0) => {
                    for &t in &from {
                        self.tracks[t].end = TrackEnd::Dissolved;
                        events.push(Event {
                            frame,
                            time_ps,
                            kind: EventKind::Dissolve,
                            from: vec![t],
                            to: vec![],
                        });
                    }
                }
                (1, 1) => {
                    let t = from[0];
                    let m = cs[0];
                    self.tracks[t].frames.push(frame);
                    self.tracks[t].n_eff.push(nuclei[m].n_eff);
                    track_of[m] = t;
                }
                (p, c) => {
                    let to: Vec<usize> = cs
                        .iter()
                        .map(|&m| {
                            let t = self.new_track(frame, nuclei[m].n_eff);
                            track_of[m] = t;
                            t
                        })
                        .collect();
                    for &t in &from {
                        self.tracks[t].end = if p > 1 {
                            TrackEnd::Merged
                        } else {
                            TrackEnd::Divided
                        };
                    }
                    if p > 1 {
                        events.push(Event {
                            frame,
                            time_ps,
                            kind: EventKind::Merge,
                            from: from.clone(),
                            to: to.clone(),
                        });
                    }
                    if c > 1 {
                        events.push(Event {
                            frame,
                            time_ps,
                            kind: EventKind::Divide,
                            from,
                            to,
                        });
                    }
                }
            }
        }
        let rows = nuclei
            .iter()
            .enumerate()
            .map(|(m, s)| TrackRow {
                track: track_of[m],
                frame,
                time_ps,
                nucleus: s.nucleus,
                n_atoms: s.ids.len(),
                n_eff: s.n_eff,
                a_eff: s.a_eff,
            })
            .collect();
        self.prev = nuclei
            .iter()
            .enumerate()
            .map(|(m, s)| (track_of[m], s.ids.clone()))
            .collect();
        self.events.extend(events.iter().cloned());
        (rows, events)
    }

    /// All tracks so far.
    pub fn tracks(&self) -> &[TrackInfo] {
        &self.tracks
    }

    /// All events so far.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Class of track `t`.
    pub fn classify(&self, t: usize) -> TrackClass {
        classify(&self.tracks[t], &self.params)
    }
}

/// Classify one track (see the module documentation).
pub fn classify(track: &TrackInfo, params: &TrackParams) -> TrackClass {
    let s = &track.n_eff;
    if s.len() < 2 {
        return if track.end == TrackEnd::Dissolved {
            TrackClass::Dissolving
        } else {
            TrackClass::Transient
        };
    }
    let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let tol = params.tol_atoms.max(params.tol_fraction * max);
    let net = s[s.len() - 1] - s[0];
    if track.end == TrackEnd::Dissolved {
        return TrackClass::Dissolving;
    }
    if s.len() == 2 {
        return if net >= 0.0 {
            TrackClass::Growing
        } else {
            TrackClass::Dissolving
        };
    }
    let (mut lo, mut hi) = (s[0], s[0]);
    let (mut rise, mut fall) = (0.0f64, 0.0f64);
    for &x in &s[1..] {
        rise = rise.max(x - lo);
        fall = fall.max(hi - x);
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if net < -tol {
        TrackClass::Dissolving
    } else if net > tol && fall <= tol {
        TrackClass::Growing
    } else if rise > tol && fall > tol {
        TrackClass::Fluctuating
    } else if net > tol {
        TrackClass::Growing
    } else {
        TrackClass::Stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(nucleus: usize, ids: std::ops::Range<i64>) -> Snapshot {
        let ids: Vec<i64> = ids.collect();
        Snapshot {
            nucleus,
            n_eff: ids.len() as f64,
            a_eff: 0.0,
            ids,
        }
    }

    #[test]
    fn merge_divide_appear_dissolve() {
        let mut t = Tracker::new(TrackParams::default());
        t.push(0, 0.0, &[snap(0, 0..40), snap(1, 100..140)]);
        // Both grow into one nucleus: a merge.
        let (rows, ev) = t.push(1, 1.0, &[snap(0, 0..140)]);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, EventKind::Merge);
        assert_eq!(ev[0].tracks_text(), "0;1->2");
        assert_eq!(rows[0].track, 2);
        // It splits in two: a division.
        let (_, ev) = t.push(2, 2.0, &[snap(0, 0..70), snap(1, 70..140)]);
        assert_eq!(
            ev.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::Divide]
        );
        assert_eq!(ev[0].to, [3, 4]);
        // One dissolves, a new one appears.
        let (_, ev) = t.push(3, 3.0, &[snap(0, 0..70), snap(1, 500..540)]);
        let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&EventKind::Dissolve) && kinds.contains(&EventKind::Appear));
        assert_eq!(t.tracks()[4].end, TrackEnd::Dissolved);
        assert_eq!(t.classify(4), TrackClass::Dissolving);
    }

    #[test]
    fn overlap_is_relative_to_the_smaller_nucleus() {
        let mut t = Tracker::new(TrackParams::default());
        t.push(0, 0.0, &[snap(0, 0..20)]);
        // 11 of the small one's 20 atoms are in the new big one: linked (55% > 50%).
        let (rows, ev) = t.push(1, 1.0, &[snap(0, 9..400)]);
        assert!(ev.is_empty());
        assert_eq!(rows[0].track, 0);
        // 10 of 20 is not more than half: a new track.
        let mut t = Tracker::new(TrackParams::default());
        t.push(0, 0.0, &[snap(0, 0..20)]);
        let (rows, _) = t.push(1, 1.0, &[snap(0, 10..400)]);
        assert_eq!(rows[0].track, 1);
    }

    #[test]
    fn classes() {
        let p = TrackParams::default();
        let info = |s: &[f64], end| TrackInfo {
            frames: (0..s.len()).collect(),
            n_eff: s.to_vec(),
            end,
        };
        assert_eq!(
            classify(&info(&[40.0, 60.0, 80.0, 120.0], TrackEnd::Open), &p),
            TrackClass::Growing
        );
        assert_eq!(
            classify(&info(&[40.0, 80.0, 40.0, 80.0], TrackEnd::Open), &p),
            TrackClass::Fluctuating
        );
        assert_eq!(
            classify(&info(&[80.0, 60.0, 40.0], TrackEnd::Dissolved), &p),
            TrackClass::Dissolving
        );
        assert_eq!(
            classify(&info(&[80.0, 82.0, 79.0], TrackEnd::Open), &p),
            TrackClass::Stable
        );
        assert_eq!(
            classify(&info(&[80.0, 70.0], TrackEnd::Open), &p),
            TrackClass::Dissolving
        );
        assert_eq!(
            classify(&info(&[80.0], TrackEnd::Open), &p),
            TrackClass::Transient
        );
    }
}

//! Radial distribution function g(r), total and partial, and its peaks.
//!
//! g_ab(r) = counts_ab(shell) / (N_a N_b / V x shell volume), where counts_ab counts ordered
//! pairs (i of species a, j of species b, j != i, every periodic image) with
//! r_k <= |r_ij| < r_k+1 and the shell volume is 4/3 pi (r_k+1^3 - r_k^3); the total g(r) is the
//! same with N^2. These are freud's `density.RDF` conventions (normalisation mode "exact": N^2,
//! not N(N - 1), so g tends to (N - 1)/N at large r), and the partials sum to the total with
//! weights c_a c_b (c = N_a / N).
//!
//! The volume V is the box volume for a fully periodic frame. A free particle (no periodic axis)
//! has no box to speak of: V is then the particle's own volume, that of the uniform sphere with
//! its radius of gyration, 4/3 pi (sqrt(5/3) R_g)^3 ([`Normalisation::Particle`]). Frames periodic
//! along some axes only are refused.

use nucleate_core::{Frame, NeighborList, NeighborSpec, SimBox};
use rayon::prelude::*;

use crate::OrderError;

/// Histogram settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RdfParams {
    /// Largest distance (Angstrom); pairs at r >= r_max are not counted.
    pub r_max: f64,
    /// Number of equal bins on [0, r_max).
    pub bins: usize,
}

impl Default for RdfParams {
    fn default() -> Self {
        Self {
            r_max: 10.0,
            bins: 200,
        }
    }
}

/// Which g(r) to compute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pair {
    /// All atoms with all atoms.
    Total,
    /// Atoms of species `.0` around atoms of species `.1` (symmetric: A-B equals B-A).
    Species(String, String),
}

impl Pair {
    /// `A-B` (or `total`), as written in `--pairs`.
    pub fn label(&self) -> String {
        match self {
            Pair::Total => "total".into(),
            Pair::Species(a, b) => format!("{a}-{b}"),
        }
    }

    /// CSV column name: `g_total` or `g_A_B`.
    pub fn column(&self) -> String {
        match self {
            Pair::Total => "g_total".into(),
            Pair::Species(a, b) => format!("g_{a}_{b}"),
        }
    }

    /// Parse `A-B` or `total`.
    pub fn parse(text: &str) -> Result<Self, OrderError> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("total") {
            return Ok(Pair::Total);
        }
        match t.split_once('-') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() && !b.contains('-') => {
                Ok(Pair::Species(a.to_string(), b.to_string()))
            }
            _ => Err(OrderError::Parameter(format!(
                "pair `{t}` is not of the form A-B (e.g. Pd-O) or `total`"
            ))),
        }
    }

    /// Every unordered species pair of `frame` (in species order), with the total first when
    /// there is more than one species.
    pub fn all_of(frame: &Frame) -> Vec<Pair> {
        let names = present_species(frame);
        let mut out = Vec::new();
        if names.len() > 1 {
            out.push(Pair::Total);
        }
        for (k, a) in names.iter().enumerate() {
            for b in &names[k..] {
                out.push(Pair::Species(a.clone(), b.clone()));
            }
        }
        out
    }
}

/// Species names that have at least one atom, in the frame's species order.
fn present_species(frame: &Frame) -> Vec<String> {
    let mut seen = vec![false; frame.species_names.len()];
    for &s in &frame.species {
        seen[s as usize] = true;
    }
    frame
        .species_names
        .iter()
        .zip(seen)
        .filter(|(_, s)| *s)
        .map(|(n, _)| n.clone())
        .collect()
}

/// The volume g(r) is normalised by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Normalisation {
    /// The periodic box (Angstrom^3).
    Box {
        /// Box volume (Angstrom^3).
        volume_a3: f64,
    },
    /// A free particle's own volume: the uniform sphere of its radius of gyration.
    Particle {
        /// 4/3 pi R^3 (Angstrom^3).
        volume_a3: f64,
        /// R = sqrt(5/3) R_g (Angstrom).
        radius_a: f64,
    },
}

impl Normalisation {
    /// The volume (Angstrom^3).
    pub fn volume_a3(&self) -> f64 {
        match *self {
            Normalisation::Box { volume_a3 } | Normalisation::Particle { volume_a3, .. } => {
                volume_a3
            }
        }
    }

    /// One line saying what the density is.
    pub fn describe(&self, n_atoms: usize) -> String {
        match *self {
            Normalisation::Box { volume_a3 } => format!(
                "box density: {n_atoms} atoms in the periodic box of {volume_a3:.6} A^3 ({:.6} A^-3)",
                n_atoms as f64 / volume_a3
            ),
            Normalisation::Particle {
                volume_a3,
                radius_a,
            } => format!(
                "particle density: {n_atoms} atoms in the particle's own volume {volume_a3:.6} A^3 \
                 (sphere of radius sqrt(5/3) R_g = {radius_a:.6} A; {:.6} A^-3)",
                n_atoms as f64 / volume_a3
            ),
        }
    }
}

/// g(r) of one frame, or the mean over a window of frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Rdf {
    /// Bin edges (Angstrom), `bins + 1` values.
    pub edges: Vec<f64>,
    /// Bin centres (Angstrom).
    pub r: Vec<f64>,
    /// The pairs, in the order of `g`.
    pub pairs: Vec<Pair>,
    /// g(r) per pair.
    pub g: Vec<Vec<f64>>,
    /// The normalisation (of the last frame added, for a window).
    pub normalisation: Normalisation,
    /// Atoms in the frame.
    pub n_atoms: usize,
    /// Frames averaged.
    pub n_frames: usize,
}

/// g(r) of `frame` for `pairs`.
pub fn rdf(frame: &Frame, pairs: &[Pair], params: &RdfParams) -> Result<Rdf, OrderError> {
    if !(params.r_max.is_finite() && params.r_max > 0.0) {
        return Err(OrderError::Parameter(format!(
            "r_max must be a positive number of Angstrom, got {}",
            params.r_max
        )));
    }
    if params.bins == 0 {
        return Err(OrderError::Parameter("g(r) needs at least one bin".into()));
    }
    if pairs.is_empty() {
        return Err(OrderError::Parameter("no pair asked for".into()));
    }
    let n = frame.len();
    if n < 2 {
        return Err(OrderError::Parameter(format!(
            "g(r) needs at least 2 atoms, the frame has {n}"
        )));
    }
    let names = &frame.species_names;
    let ns = names.len();
    // Species indices of each pair, checked before any counting.
    let mut resolved = Vec::with_capacity(pairs.len());
    for p in pairs {
        resolved.push(match p {
            Pair::Total => None,
            Pair::Species(a, b) => {
                let find = |s: &str| {
                    names.iter().position(|x| x == s).ok_or_else(|| {
                        OrderError::Parameter(format!(
                            "unknown species `{s}` in pair {}: the frame has {}",
                            p.label(),
                            names.join(", ")
                        ))
                    })
                };
                Some((find(a)?, find(b)?))
            }
        });
    }
    let normalisation = normalisation(frame)?;
    let counts = pair_counts(&frame.positions, &frame.species, ns, &frame.cell, params)?;
    let mut n_of = vec![0usize; ns];
    for &s in &frame.species {
        n_of[s as usize] += 1;
    }
    let bins = params.bins;
    let dr = params.r_max / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|k| k as f64 * dr).collect();
    let r: Vec<f64> = (0..bins).map(|k| (k as f64 + 0.5) * dr).collect();
    let shell: Vec<f64> = (0..bins)
        .map(|k| 4.0 / 3.0 * std::f64::consts::PI * (edges[k + 1].powi(3) - edges[k].powi(3)))
        .collect();
    let volume = normalisation.volume_a3();
    let mut g = Vec::with_capacity(pairs.len());
    for res in &resolved {
        let (na, nb, sum): (usize, usize, Vec<u64>) = match *res {
            None => {
                let mut s = vec![0u64; bins];
                for c in counts.chunks(bins) {
                    for k in 0..bins {
                        s[k] += c[k];
                    }
                }
                (n, n, s)
            }
            Some((a, b)) => (
                n_of[a],
                n_of[b],
                counts[(a * ns + b) * bins..(a * ns + b + 1) * bins].to_vec(),
            ),
        };
        let norm = na as f64 * nb as f64 / volume;
        g.push(
            (0..bins)
                .map(|k| {
                    if norm > 0.0 {
                        sum[k] as f64 / (norm * shell[k])
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
    }
    Ok(Rdf {
        edges,
        r,
        pairs: pairs.to_vec(),
        g,
        normalisation,
        n_atoms: n,
        n_frames: 1,
    })
}

/// The density normalisation of a frame.
pub fn normalisation(frame: &Frame) -> Result<Normalisation, OrderError> {
    let periodic = frame.cell.periodic();
    if periodic.iter().all(|&p| p) {
        return Ok(Normalisation::Box {
            volume_a3: frame.cell.volume(),
        });
    }
    if periodic.iter().any(|&p| p) {
        return Err(OrderError::Parameter(
            "g(r) of a frame periodic along some axes only (a slab or a wire) has no density \
             to normalise by: make it fully periodic or free"
                .into(),
        ));
    }
    let (_, radius_a) = equivalent_sphere(&frame.positions);
    if radius_a <= 0.0 {
        return Err(OrderError::Parameter(
            "all atoms of the free frame coincide: no particle volume".into(),
        ));
    }
    Ok(Normalisation::Particle {
        volume_a3: 4.0 / 3.0 * std::f64::consts::PI * radius_a.powi(3),
        radius_a,
    })
}

/// Ordered pair counts `[a][b][bin]` (flattened) for species a around b.
fn pair_counts(
    positions: &[[f64; 3]],
    species: &[u16],
    ns: usize,
    cell: &SimBox,
    params: &RdfParams,
) -> Result<Vec<u64>, OrderError> {
    let bins = params.bins;
    let inv_dr = bins as f64 / params.r_max;
    let r2max = params.r_max * params.r_max;
    let size = ns * ns * bins;
    let add = |h: &mut [u64], a: u16, b: u16, d2: f64| {
        if d2 < r2max {
            let k = ((d2.sqrt() * inv_dr) as usize).min(bins - 1);
            h[(a as usize * ns + b as usize) * bins + k] += 1;
        }
    };
    let Some(grid) = PairGrid::new(positions, species, cell, params.r_max) else {
        // Periodic boxes thinner than 3 r_max: the general neighbour search enumerates every
        // image (slower, more memory, but exact).
        let list = NeighborList::from_positions(
            positions,
            cell,
            NeighborSpec::Cutoff {
                r: params.r_max * (1.0 + 1e-12),
            },
        )?;
        let mut h = vec![0u64; size];
        for i in 0..positions.len() {
            for (&j, &d) in list.neighbors(i).iter().zip(list.distances(i)) {
                add(&mut h, species[i], species[j as usize], d * d);
            }
        }
        return Ok(h);
    };
    let nbins = grid.start.len() - 1;
    let h = (0..nbins)
        .into_par_iter()
        .fold(
            || vec![0u64; size],
            |mut h, b| {
                let own = grid.start[b]..grid.start[b + 1];
                for (other, shift) in grid.stencil(b) {
                    let others = grid.start[other]..grid.start[other + 1];
                    for i in own.clone() {
                        let base = [
                            shift[0] - grid.pos[i][0],
                            shift[1] - grid.pos[i][1],
                            shift[2] - grid.pos[i][2],
                        ];
                        let si = grid.species[i];
                        let same = other == b && shift == [0.0; 3];
                        for j in others.clone() {
                            if same && j == i {
                                continue;
                            }
                            let p = grid.pos[j];
                            let v = [p[0] + base[0], p[1] + base[1], p[2] + base[2]];
                            add(
                                &mut h,
                                si,
                                grid.species[j],
                                v[0] * v[0] + v[1] * v[1] + v[2] * v[2],
                            );
                        }
                    }
                }
                h
            },
        )
        .reduce(
            || vec![0u64; size],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        );
    Ok(h)
}

/// Atoms sorted into bins at least r_max thick, so that every pair within r_max lies in
/// neighbouring bins (27 of them), each a distinct bin or image.
struct PairGrid {
    n: [usize; 3],
    periodic: [bool; 3],
    start: Vec<usize>,
    pos: Vec<[f64; 3]>,
    species: Vec<u16>,
    cell: SimBox,
}

impl PairGrid {
    /// None when a periodic axis has fewer than three bins of thickness r_max.
    fn new(positions: &[[f64; 3]], species: &[u16], cell: &SimBox, r_max: f64) -> Option<Self> {
        let periodic = cell.periodic();
        let widths = cell.perpendicular_widths();
        let wrapped: Vec<[f64; 3]> = positions.iter().map(|&p| cell.wrap(p)).collect();
        let frac: Vec<[f64; 3]> = wrapped.iter().map(|&p| cell.to_fractional(p)).collect();
        let mut lo = [0.0; 3];
        let mut span = [1.0; 3];
        let mut n = [1usize; 3];
        for d in 0..3 {
            if periodic[d] {
                let k = (widths[d] / r_max).floor();
                if k < 3.0 {
                    return None;
                }
                n[d] = (k as usize).min(1 << 10);
            } else {
                let (a, b) = frac
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                        (a.min(s[d]), b.max(s[d]))
                    });
                lo[d] = a;
                span[d] = b - a;
                n[d] = ((span[d] * widths[d] / r_max).floor() as usize).clamp(1, 1 << 10);
            }
        }
        // Keep the number of bins reasonable for sparse frames.
        while n[0] * n[1] * n[2] > 8 * positions.len() + 27 {
            let d = (0..3).max_by_key(|&d| n[d]).unwrap_or(0);
            if periodic[d] && n[d] <= 3 {
                break;
            }
            n[d] = (n[d] / 2).max(if periodic[d] { 3 } else { 1 });
        }
        let bin_of = |s: &[f64; 3]| -> usize {
            let mut b = [0usize; 3];
            for d in 0..3 {
                let x = if span[d] > 0.0 {
                    (s[d] - lo[d]) / span[d]
                } else {
                    0.0
                };
                b[d] = ((x * n[d] as f64).floor().max(0.0) as usize).min(n[d] - 1);
            }
            (b[0] * n[1] + b[1]) * n[2] + b[2]
        };
        let nbins = n[0] * n[1] * n[2];
        let bins: Vec<usize> = frac.iter().map(bin_of).collect();
        let mut start = vec![0usize; nbins + 1];
        for &b in &bins {
            start[b + 1] += 1;
        }
        for k in 0..nbins {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        let mut order = vec![0usize; positions.len()];
        for (i, &b) in bins.iter().enumerate() {
            order[fill[b]] = i;
            fill[b] += 1;
        }
        Some(Self {
            n,
            periodic,
            start,
            pos: order.iter().map(|&i| wrapped[i]).collect(),
            species: order.iter().map(|&i| species[i]).collect(),
            cell: *cell,
        })
    }

    /// Neighbouring bins of bin `b` with the Cartesian shift of their image.
    fn stencil(&self, b: usize) -> Vec<(usize, [f64; 3])> {
        let n = self.n;
        let idx = [b / (n[1] * n[2]), (b / n[2]) % n[1], b % n[2]];
        let mut out = Vec::with_capacity(27);
        for o0 in -1i64..=1 {
            for o1 in -1i64..=1 {
                for o2 in -1i64..=1 {
                    let mut t = [0usize; 3];
                    let mut shift = [0i32; 3];
                    let mut ok = true;
                    for (d, o) in [o0, o1, o2].into_iter().enumerate() {
                        let x = idx[d] as i64 + o;
                        let nd = n[d] as i64;
                        if self.periodic[d] {
                            t[d] = x.rem_euclid(nd) as usize;
                            shift[d] = x.div_euclid(nd) as i32;
                        } else if (0..nd).contains(&x) {
                            t[d] = x as usize;
                        } else {
                            ok = false;
                        }
                    }
                    if ok {
                        let s = if shift == [0; 3] {
                            [0.0; 3]
                        } else {
                            self.cell.shift_vector(shift).to_array()
                        };
                        out.push(((t[0] * n[1] + t[1]) * n[2] + t[2], s));
                    }
                }
            }
        }
        out
    }
}

/// Mean of g(r) over a window of frames (each frame normalised by its own density).
#[derive(Debug, Clone, Default)]
pub struct RdfWindow {
    sum: Option<Rdf>,
}

impl RdfWindow {
    /// An empty window.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one frame's g(r) (same pairs and bins as the others).
    pub fn add(&mut self, rdf: Rdf) -> Result<(), OrderError> {
        match &mut self.sum {
            None => self.sum = Some(rdf),
            Some(s) => {
                if s.pairs != rdf.pairs || s.edges != rdf.edges {
                    return Err(OrderError::Mismatch(
                        "g(r) of different pairs or bins cannot be averaged".into(),
                    ));
                }
                for (a, b) in s.g.iter_mut().zip(&rdf.g) {
                    for (x, y) in a.iter_mut().zip(b) {
                        *x += y;
                    }
                }
                s.n_frames += 1;
                s.normalisation = rdf.normalisation;
                s.n_atoms = rdf.n_atoms;
            }
        }
        Ok(())
    }

    /// Frames added so far.
    pub fn len(&self) -> usize {
        self.sum.as_ref().map_or(0, |s| s.n_frames)
    }

    /// Whether no frame was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mean g(r), or None for an empty window; the window is emptied.
    pub fn take_mean(&mut self) -> Option<Rdf> {
        let mut s = self.sum.take()?;
        let f = s.n_frames as f64;
        for g in &mut s.g {
            for x in g.iter_mut() {
                *x /= f;
            }
        }
        Some(s)
    }
}

/// A peak of g(r).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    /// Position (Angstrom), refined by the parabola through the maximum bin and its neighbours.
    pub r_a: f64,
    /// Height of that parabola's vertex.
    pub height: f64,
    /// Prominence: height above the higher of the two minima separating it from higher ground.
    pub prominence: f64,
}

/// Local maxima of g(r) whose prominence is at least `min_prominence_fraction` of the largest
/// value of g, nearest first. Sampled at bin centres `r`.
pub fn peaks(r: &[f64], g: &[f64], min_prominence_fraction: f64) -> Vec<Peak> {
    let n = g.len().min(r.len());
    let g_max = g[..n].iter().cloned().fold(0.0, f64::max);
    if n < 3 || g_max <= 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i + 1 < n {
        // A maximum may be a plateau of equal values: take its first bin and step past it.
        if g[i] > g[i - 1] {
            let mut k = i;
            while k + 1 < n && g[k + 1] == g[i] {
                k += 1;
            }
            if k + 1 < n && g[k + 1] < g[i] {
                let left = (0..i)
                    .rev()
                    .take_while(|&j| g[j] <= g[i])
                    .map(|j| g[j])
                    .fold(g[i], f64::min);
                let right = (k + 1..n)
                    .take_while(|&j| g[j] <= g[i])
                    .map(|j| g[j])
                    .fold(g[i], f64::min);
                let prominence = g[i] - left.max(right);
                if prominence >= min_prominence_fraction * g_max {
                    let (y0, y1, y2) = (g[i - 1], g[i], g[i + 1]);
                    let curv = y0 - 2.0 * y1 + y2;
                    let (delta, height) = if k == i && curv < 0.0 {
                        let d = 0.5 * (y0 - y2) / curv;
                        (d, y1 - 0.25 * (y0 - y2) * d)
                    } else {
                        ((k - i) as f64 / 2.0, y1)
                    };
                    let dr = r[1] - r[0];
                    out.push(Peak {
                        r_a: r[i] + delta * dr,
                        height,
                        prominence,
                    });
                }
            }
            i = k + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Centre (A) and radius (A) of the uniform sphere with the same centre and radius of
/// gyration as `positions`: sqrt(5/3) R_g, since a uniform sphere of radius R has
/// R_g^2 = 3/5 R^2. Radius 0 for no atoms.
pub fn equivalent_sphere(positions: &[[f64; 3]]) -> ([f64; 3], f64) {
    if positions.is_empty() {
        return ([0.0; 3], 0.0);
    }
    let n = positions.len() as f64;
    let mut c = [0.0; 3];
    for p in positions {
        for d in 0..3 {
            c[d] += p[d] / n;
        }
    }
    let rg2 = positions
        .iter()
        .map(|p| (0..3).map(|d| (p[d] - c[d]).powi(2)).sum::<f64>())
        .sum::<f64>()
        / n;
    (c, (5.0 / 3.0 * rg2).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_parsing() {
        assert_eq!(
            Pair::parse("Pd-O").unwrap(),
            Pair::Species("Pd".into(), "O".into())
        );
        assert_eq!(Pair::parse("total").unwrap(), Pair::Total);
        assert!(Pair::parse("PdO").is_err());
        assert!(Pair::parse("Pd-").is_err());
        assert_eq!(Pair::Species("Pd".into(), "O".into()).column(), "g_Pd_O");
    }

    #[test]
    fn peak_of_a_parabola_is_its_vertex() {
        let r: Vec<f64> = (0..50).map(|k| 0.1 * k as f64 + 0.05).collect();
        let g: Vec<f64> = r
            .iter()
            .map(|&x| (4.0 - (x - 2.33).powi(2)).max(0.0))
            .collect();
        let p = peaks(&r, &g, 0.05);
        assert_eq!(p.len(), 1);
        assert!((p[0].r_a - 2.33).abs() < 1e-9, "{:?}", p);
        assert!((p[0].height - 4.0).abs() < 1e-9);
    }
}

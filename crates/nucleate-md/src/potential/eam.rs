//! Tabulated EAM potentials from LAMMPS `funcfl` (`*.eam`) and `setfl` (`*.eam.alloy`) files,
//! interpolated exactly as LAMMPS' `pair_style eam` does, in its stages: parse the file, put
//! the functions on one grid (`file2array`), turn each table into cubic pieces
//! (`array2spline`), look values up during the force loop.
//!
//! Tables are kept 1-based (`table[m]` for `1 <= m <= n`, entry 0 unused) so the indices read
//! as in the published description of the scheme. Each grid point holds seven coefficients:
//! `[0..3]` the derivative's quadratic (per physical unit), `[3..7]` the value's cubic in the
//! local coordinate `p` in [0, 1].

use std::path::{Path, PathBuf};

use crate::error::MdError;
use crate::potential::{EamModel, Element};

/// LAMMPS' Hartree * Bohr product (eV * A) that turns funcfl effective charges into r * phi(r).
/// It is the rounded 27.2 * 0.529, not the CODATA value, so energies match LAMMPS.
const HARTREE_BOHR: f64 = 27.2 * 0.529;

type Spline = Vec<[f64; 7]>;

/// An EAM potential on LAMMPS' tables and splines.
#[derive(Debug, Clone)]
pub struct EamTables {
    elements: Vec<Element>,
    nrho: usize,
    nr: usize,
    rdr: f64,
    rdrho: f64,
    rhomax: f64,
    cut: f64,
    /// Embedding function F(rho) per element.
    frho: Vec<Spline>,
    /// The value cubic of the electron density f(r) contributed by an atom of each element,
    /// `[3..7]` of its spline, at `element * (nr + 1) + m`: all the density pass reads.
    rho_value: Vec<[f64; 4]>,
    /// What the force pass reads at one grid point of one element pair, packed together so a
    /// lookup touches two cache lines; at `pair_index(i, j) * (nr + 1) + m`.
    pair_coeffs: Vec<PairCoeffs>,
    /// The derivative quadratic of each element's density, `[0..3]` of its spline, at
    /// `element * (nr + 1) + m` (for pairs of unlike elements).
    rho_slope: Vec<[f64; 3]>,
}

/// The spline pieces of one element pair (a >= b) at one grid point of r: derivative and
/// value of r * phi(r), and the derivative of the density of a (all a pair of like atoms
/// needs). 80 bytes, so the table of a one-element potential stays small in cache.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct PairCoeffs {
    z2_slope: [f64; 3],
    z2: [f64; 4],
    rho_slope: [f64; 3],
}

/// Value of the cubic `[c3, c4, c5, c6]` of a spline piece at local coordinate p.
#[inline(always)]
fn cubic(c: &[f64; 4], p: f64) -> f64 {
    ((c[0] * p + c[1]) * p + c[2]) * p + c[3]
}

/// Value of the quadratic `[c0, c1, c2]` (the derivative) of a spline piece at p.
#[inline(always)]
fn quadratic(c: &[f64; 3], p: f64) -> f64 {
    (c[0] * p + c[1]) * p + c[2]
}

/// Index of the unordered pair (i, j) in the packed lower triangle.
#[inline]
fn pair_index(i: usize, j: usize) -> usize {
    let (a, b) = if i >= j { (i, j) } else { (j, i) };
    a * (a + 1) / 2 + b
}

/// A whitespace-separated number stream over the lines of a potential file, with line numbers
/// for messages.
struct Lines<'a> {
    path: &'a Path,
    lines: std::iter::Enumerate<std::str::Lines<'a>>,
    line: usize,
}

impl<'a> Lines<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            path,
            lines: text.lines().enumerate(),
            line: 0,
        }
    }

    fn err(&self, message: impl Into<String>) -> MdError {
        MdError::format(self.path, Some(self.line.max(1)), message)
    }

    fn next_line(&mut self, what: &str) -> Result<&'a str, MdError> {
        match self.lines.next() {
            Some((k, l)) => {
                self.line = k + 1;
                Ok(l)
            }
            None => Err(self.err(format!("file ends before {what}"))),
        }
    }

    /// Exactly `n` numbers read from whole lines (a section starts on a fresh line).
    fn values(&mut self, n: usize, what: &str) -> Result<Vec<f64>, MdError> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let line = self.next_line(&format!(
                "all {n} values of {what} were read ({} so far)",
                out.len()
            ))?;
            for tok in line.split_whitespace() {
                if out.len() == n {
                    return Err(self.err(format!(
                        "more values than the {n} of {what} on this line (`{tok}`)"
                    )));
                }
                out.push(parse_f64(tok).map_err(|m| self.err(format!("{what}: {m}")))?);
            }
        }
        Ok(out)
    }
}

fn parse_f64(tok: &str) -> Result<f64, String> {
    // Fortran-style exponents (1.0D+00) appear in old potential files.
    let t = tok.replace(['D', 'd'], "e");
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("expected a number, found `{tok}`")),
    }
}

/// Grid parameters `nrho drho nr dr cutoff` of a header line.
fn grid_line(lines: &mut Lines) -> Result<(usize, f64, usize, f64, f64), MdError> {
    let l = lines.next_line("the grid line `Nrho drho Nr dr cutoff`")?;
    let t: Vec<&str> = l.split_whitespace().collect();
    if t.len() < 5 {
        return Err(lines.err(format!(
            "expected `Nrho drho Nr dr cutoff`, found `{}`",
            l.trim()
        )));
    }
    let count = |s: &str, name: &str| -> Result<usize, MdError> {
        match s.parse::<usize>() {
            // The force loop indexes the grid through i32.
            Ok(n) if (5..i32::MAX as usize).contains(&n) => Ok(n),
            _ => Err(lines.err(format!(
                "{name} must be an integer from 5 to {}, found `{s}`",
                i32::MAX - 1
            ))),
        }
    };
    let real = |s: &str, name: &str| -> Result<f64, MdError> {
        match parse_f64(s) {
            Ok(v) if v > 0.0 => Ok(v),
            _ => Err(lines.err(format!("{name} must be a positive number, found `{s}`"))),
        }
    };
    Ok((
        count(t[0], "Nrho")?,
        real(t[1], "drho")?,
        count(t[2], "Nr")?,
        real(t[3], "dr")?,
        real(t[4], "cutoff")?,
    ))
}

/// LAMMPS' `interpolate`: five-point slopes and cubic Hermite pieces of a 1-based table
/// `f[1..=n]` on a grid of spacing `delta`.
fn spline(f: &[f64], delta: f64) -> Spline {
    let n = f.len() - 1;
    let mut s = vec![[0.0f64; 7]; n + 1];
    for m in 1..=n {
        s[m][6] = f[m];
    }
    s[1][5] = s[2][6] - s[1][6];
    s[2][5] = 0.5 * (s[3][6] - s[1][6]);
    s[n - 1][5] = 0.5 * (s[n][6] - s[n - 2][6]);
    s[n][5] = s[n][6] - s[n - 1][6];
    for m in 3..=n - 2 {
        s[m][5] = ((s[m - 2][6] - s[m + 2][6]) + 8.0 * (s[m + 1][6] - s[m - 1][6])) / 12.0;
    }
    for m in 1..n {
        s[m][4] = 3.0 * (s[m + 1][6] - s[m][6]) - 2.0 * s[m][5] - s[m + 1][5];
        s[m][3] = s[m][5] + s[m + 1][5] - 2.0 * (s[m + 1][6] - s[m][6]);
    }
    s[n][4] = 0.0;
    s[n][3] = 0.0;
    for m in 1..=n {
        s[m][2] = s[m][5] / delta;
        s[m][1] = 2.0 * s[m][4] / delta;
        s[m][0] = 3.0 * s[m][3] / delta;
    }
    s
}

/// LAMMPS' four-point Lagrange resampling of a funcfl table `g[1..=n_file]` (spacing
/// `d_file`) onto `n` points of spacing `d`. On the file's own grid it returns the file's
/// values (up to the rounding of `(m - 1) d / d_file`).
fn resample(g: &[f64], d_file: f64, n: usize, d: f64) -> Vec<f64> {
    let n_file = g.len() - 1;
    let sixth = 1.0 / 6.0;
    let mut out = vec![0.0; n + 1];
    for m in 1..=n {
        let r = (m - 1) as f64 * d;
        let mut p = r / d_file + 1.0;
        let mut k = p as i64;
        k = k.min(n_file as i64 - 2);
        k = k.max(2);
        p -= k as f64;
        p = p.min(2.0);
        let cof1 = -sixth * p * (p - 1.0) * (p - 2.0);
        let cof2 = 0.5 * (p * p - 1.0) * (p - 2.0);
        let cof3 = -0.5 * p * (p + 1.0) * (p - 2.0);
        let cof4 = sixth * p * (p * p - 1.0);
        let k = k as usize;
        out[m] = cof1 * g[k - 1] + cof2 * g[k] + cof3 * g[k + 1] + cof4 * g[k + 2];
    }
    out
}

/// A 1-based copy of `v` (entry 0 unused).
fn one_based(v: Vec<f64>) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len() + 1);
    out.push(0.0);
    out.extend(v);
    out
}

/// Chemical symbol of an atomic number, for the elements EAM files commonly describe.
pub fn symbol_of(z: u32) -> Option<&'static str> {
    const SYMBOLS: [&str; 84] = [
        "", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
        "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga",
        "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd",
        "Ag", "Cd", "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm",
        "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os",
        "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi",
    ];
    SYMBOLS.get(z as usize).copied().filter(|s| !s.is_empty())
}

impl EamTables {
    /// Read a potential file: `setfl` when the name ends in `.alloy` or `.setfl`, `funcfl`
    /// otherwise.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, MdError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| MdError::io(path, e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".alloy") || name.ends_with(".setfl") {
            Self::parse_setfl(path, &text)
        } else {
            Self::parse_funcfl(path, &text)
        }
    }

    /// A single-element `funcfl` file: comment line; `Z mass [a lattice]`; `Nrho drho Nr dr
    /// cutoff`; then F(rho) (Nrho values), Z(r) (Nr values), rho(r) (Nr values).
    pub fn parse_funcfl(path: &Path, text: &str) -> Result<Self, MdError> {
        let mut lines = Lines::new(path, text);
        lines.next_line("the comment line")?;
        let l = lines.next_line("the line `Z mass`")?;
        let t: Vec<&str> = l.split_whitespace().collect();
        if t.len() < 2 {
            return Err(lines.err(format!("expected `Z mass`, found `{}`", l.trim())));
        }
        let z: u32 = t[0].parse().map_err(|_| {
            lines.err(format!(
                "atomic number: expected an integer, found `{}`",
                t[0]
            ))
        })?;
        let mass = match parse_f64(t[1]) {
            Ok(m) if m > 0.0 => m,
            _ => return Err(lines.err(format!("mass must be positive, found `{}`", t[1]))),
        };
        let (nrho_f, drho_f, nr_f, dr_f, cut) = grid_line(&mut lines)?;
        let frho_f = one_based(lines.values(nrho_f, "F(rho)")?);
        let zr_f = one_based(lines.values(nr_f, "Z(r)")?);
        let rhor_f = one_based(lines.values(nr_f, "rho(r)")?);
        if let Some(rest) = lines.lines.find(|(_, l)| !l.trim().is_empty()) {
            return Err(MdError::format(
                path,
                Some(rest.0 + 1),
                "unexpected content after the tables",
            ));
        }

        // file2array: grid of the (single) file, with LAMMPS' rounding of the point counts;
        // this drops the file's last point, as LAMMPS does.
        let rmax = (nr_f - 1) as f64 * dr_f;
        let rhomax = (nrho_f - 1) as f64 * drho_f;
        let nr = (rmax / dr_f + 0.5) as usize;
        let nrho = (rhomax / drho_f + 0.5) as usize;
        let frho = resample(&frho_f, drho_f, nrho, drho_f);
        let rhor = resample(&rhor_f, dr_f, nr, dr_f);
        let zr = resample(&zr_f, dr_f, nr, dr_f);
        let z2r: Vec<f64> = zr.iter().map(|&z| HARTREE_BOHR * z * z).collect();
        let name = symbol_of(z)
            .map(str::to_string)
            .unwrap_or_else(|| format!("Z{z}"));
        Ok(Self::from_arrays(
            vec![Element {
                name,
                atomic_number: z,
                mass,
            }],
            (nrho, drho_f, nr, dr_f, cut, rhomax),
            vec![frho],
            vec![rhor],
            vec![z2r],
        ))
    }

    /// A `setfl` file: three comment lines; `N El1 .. ElN`; `Nrho drho Nr dr cutoff`; per
    /// element a line `Z mass a lattice`, F(rho) and rho(r); then r * phi(r) for each pair
    /// (i, j <= i).
    pub fn parse_setfl(path: &Path, text: &str) -> Result<Self, MdError> {
        let mut lines = Lines::new(path, text);
        for _ in 0..3 {
            lines.next_line("the three comment lines")?;
        }
        let l = lines.next_line("the element line `N El1 El2 ...`")?;
        let t: Vec<&str> = l.split_whitespace().collect();
        let n: usize = t
            .first()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| lines.err(format!("expected `N El1 ... ElN`, found `{}`", l.trim())))?;
        if t.len() != n + 1 {
            return Err(lines.err(format!(
                "{n} elements announced but {} names given",
                t.len() - 1
            )));
        }
        let names: Vec<String> = t[1..].iter().map(|s| s.to_string()).collect();
        let (nrho, drho, nr, dr, cut) = grid_line(&mut lines)?;
        let mut elements = Vec::new();
        let mut frho = Vec::new();
        let mut rhor = Vec::new();
        for name in &names {
            let l = lines.next_line(&format!("the header line of element {name}"))?;
            let t: Vec<&str> = l.split_whitespace().collect();
            let z = t.first().and_then(|s| s.parse::<u32>().ok());
            let mass = t
                .get(1)
                .and_then(|s| parse_f64(s).ok())
                .filter(|&m| m > 0.0);
            let (Some(z), Some(mass)) = (z, mass) else {
                return Err(lines.err(format!(
                    "element {name}: expected `Z mass a lattice`, found `{}`",
                    l.trim()
                )));
            };
            elements.push(Element {
                name: name.clone(),
                atomic_number: z,
                mass,
            });
            frho.push(one_based(lines.values(nrho, &format!("F(rho) of {name}"))?));
            rhor.push(one_based(lines.values(nr, &format!("rho(r) of {name}"))?));
        }
        let mut z2r = Vec::new();
        for i in 0..n {
            for j in 0..=i {
                z2r.push(one_based(
                    lines.values(nr, &format!("r*phi(r) of {}-{}", names[i], names[j]))?,
                ));
            }
        }
        let rhomax = (nrho - 1) as f64 * drho;
        Ok(Self::from_arrays(
            elements,
            (nrho, drho, nr, dr, cut, rhomax),
            frho,
            rhor,
            z2r,
        ))
    }

    /// array2spline.
    fn from_arrays(
        elements: Vec<Element>,
        (nrho, drho, nr, dr, cut, rhomax): (usize, f64, usize, f64, f64, f64),
        frho: Vec<Vec<f64>>,
        rhor: Vec<Vec<f64>>,
        z2r: Vec<Vec<f64>>,
    ) -> Self {
        let rhor: Vec<Spline> = rhor.iter().map(|f| spline(f, dr)).collect();
        let z2r: Vec<Spline> = z2r.iter().map(|f| spline(f, dr)).collect();
        let value = |c: &[f64; 7]| [c[3], c[4], c[5], c[6]];
        let slope = |c: &[f64; 7]| [c[0], c[1], c[2]];
        let rho_value = rhor.iter().flat_map(|s| s.iter().map(value)).collect();
        let rho_slope = rhor.iter().flat_map(|s| s.iter().map(slope)).collect();
        let mut pair_coeffs = vec![PairCoeffs::default(); z2r.len() * (nr + 1)];
        for a in 0..elements.len() {
            for b in 0..=a {
                let k = pair_index(a, b);
                for m in 0..=nr {
                    pair_coeffs[k * (nr + 1) + m] = PairCoeffs {
                        z2_slope: slope(&z2r[k][m]),
                        z2: value(&z2r[k][m]),
                        rho_slope: slope(&rhor[a][m]),
                    };
                }
            }
        }
        Self {
            elements,
            nrho,
            nr,
            rdr: 1.0 / dr,
            rdrho: 1.0 / drho,
            rhomax,
            cut,
            frho: frho.iter().map(|f| spline(f, drho)).collect(),
            rho_value,
            pair_coeffs,
            rho_slope,
        }
    }

    /// Grid index and local coordinate of a distance r (A).
    #[inline(always)]
    fn locate_r(&self, r: f64) -> (usize, f64) {
        let p = r * self.rdr + 1.0;
        // Through i32: a cheaper saturating conversion than to usize; r >= 0 and the grid
        // has fewer than 2^31 points, so the index is the same.
        let m = (p as i32).min(self.nr as i32 - 1) as usize;
        (m, (p - m as f64).min(1.0))
    }
}

impl EamModel for EamTables {
    fn elements(&self) -> &[Element] {
        &self.elements
    }

    fn cutoff(&self) -> f64 {
        self.cut
    }

    #[inline(always)]
    fn density(&self, si: usize, sj: usize, r: f64) -> (f64, f64) {
        let (m, p) = self.locate_r(r);
        let row = self.nr + 1;
        let from_j = cubic(&self.rho_value[sj * row + m], p);
        if si == sj {
            return (from_j, from_j);
        }
        (from_j, cubic(&self.rho_value[si * row + m], p))
    }

    #[inline(always)]
    fn embed(&self, s: usize, rho: f64, energy: bool) -> (f64, f64) {
        let p = rho * self.rdrho + 1.0;
        let m = (p as i64).clamp(1, self.nrho as i64 - 1) as usize;
        let p = (p - m as f64).min(1.0);
        let c = &self.frho[s][m];
        let fp = (c[0] * p + c[1]) * p + c[2];
        if !energy {
            return (0.0, fp);
        }
        let mut f = ((c[3] * p + c[4]) * p + c[5]) * p + c[6];
        if rho > self.rhomax {
            f += fp * (rho - self.rhomax);
        }
        (f, fp)
    }

    #[inline(always)]
    fn pair(&self, si: usize, sj: usize, r: f64) -> [f64; 4] {
        let (m, p) = self.locate_r(r);
        let c = &self.pair_coeffs[pair_index(si, sj) * (self.nr + 1) + m];
        let (rhoip, rhojp) = if si == sj {
            let s = quadratic(&c.rho_slope, p);
            (s, s)
        } else {
            let row = self.nr + 1;
            (
                quadratic(&self.rho_slope[si * row + m], p),
                quadratic(&self.rho_slope[sj * row + m], p),
            )
        };
        let z2p = quadratic(&c.z2_slope, p);
        let z2 = cubic(&c.z2, p);
        let recip = 1.0 / r;
        let phi = z2 * recip;
        let phip = z2p * recip - phi * recip;
        [rhojp, rhoip, phi, phip]
    }
}

/// Where a tabulated potential came from, for messages and exports.
#[derive(Debug, Clone)]
pub struct EamSource {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    /// The file's text (written into LAMMPS input decks).
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spline_reproduces_a_cubic_inside() {
        // Five-point slopes are exact for cubics, so interior pieces reproduce a cubic.
        let d = 0.1;
        let g = |x: f64| 0.3 * x * x * x - x * x + 2.0 * x - 1.0;
        let dg = |x: f64| 0.9 * x * x - 2.0 * x + 2.0;
        let f: Vec<f64> = std::iter::once(0.0)
            .chain((1..=30).map(|m| g((m - 1) as f64 * d)))
            .collect();
        let s = spline(&f, d);
        for &x in &[0.55, 1.234, 2.0] {
            let p = x / d + 1.0;
            let m = p as usize;
            let p = p - m as f64;
            let c = s[m];
            let v = ((c[3] * p + c[4]) * p + c[5]) * p + c[6];
            let dv = (c[0] * p + c[1]) * p + c[2];
            assert!((v - g(x)).abs() < 1e-12, "{v} vs {}", g(x));
            assert!((dv - dg(x)).abs() < 1e-11);
        }
    }

    #[test]
    fn resample_on_own_grid_returns_values() {
        let g: Vec<f64> = std::iter::once(0.0)
            .chain((1..=50).map(|m| ((m as f64) * 0.37).sin()))
            .collect();
        let out = resample(&g, 0.01, 49, 0.01);
        for m in 1..=49 {
            assert!((out[m] - g[m]).abs() < 1e-14);
        }
    }

    #[test]
    fn truncated_file_names_the_line() {
        let text = "comment\n78 195.09 3.92 FCC\n5 0.1 5 0.1 0.4\n1 2 3 4 5\n1 2 3\n";
        let e = EamTables::parse_funcfl(Path::new("x.eam"), text).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("x.eam") && msg.contains("Z(r)"), "{msg}");
        let text = "comment\n78 195.09\n5 0.1 5 0.1 0.4\n1 2 3 4 5\n1 2 x 4 5\n";
        let msg = EamTables::parse_funcfl(Path::new("x.eam"), text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 5") && msg.contains("`x`"), "{msg}");
    }
}

//! Kinetics of monomer-driven quantised growth of magic-size clusters (MSCs).
//!
//! Species (mol/L): precursor P, monomer M, nuclei Nucl (n_0 formula units), MSC families
//! C_1..C_K (n_1 < ... < n_K formula units), nanocrystal particles NC and the formula units
//! held in nanocrystals NC_units. Reactions, each with an Arrhenius constant
//! k(T) = A exp(-Ea / RT):
//!
//! | reaction | rate |
//! | --- | --- |
//! | P -> M (supply) | k_P [P] |
//! | n_0 M -> Nucl (nucleation) | k_nuc [M]^order |
//! | Nucl + (n_1 - n_0) M -> C_1, C_i + (n_{i+1} - n_i) M -> C_{i+1} | k_i [C_{i-1}][M] |
//! | C_K + (n_NC - n_K) M -> NC | k_NC [C_K][M] |
//! | Nucl + (n_NC - n_0) M -> NC (direct, high T) | k_dir [Nucl][M] |
//! | NC + M -> NC (one more unit in NC_units) | k_g [NC][M] |
//! | C_i -> C_{i-1} + (n_i - n_{i-1}) M, Nucl -> n_0 M | kd_i [C_i] s(M) |
//!
//! Dissolution acts "when the monomer is depleted" through s(M) = M_s / (M_s + [M]), which is
//! 1 at [M] << M_s and vanishes at [M] >> M_s (M_s = `monomer_saturation`; infinite gives
//! s = 1). Every reaction conserves formula units
//! W = [P] + [M] + n_0 [Nucl] + sum n_i [C_i] + [NC_units].
//!
//! The system is stiff (fast monomer exchange against slow supply), so it is integrated with
//! the linearly implicit Rosenbrock method of Shampine and Reichelt (SIAM J. Sci. Comput. 18,
//! 1 (1997), MATLAB's ode23s: order 2, embedded order-3 error estimate, L-stable) with the
//! exact Jacobian. Written here rather than taken from a crate: the well-kept Rust crates
//! with stiff solvers either need system BLAS/LAPACK and sparse solvers (`russell_ode`) or
//! change their trait-heavy API with every minor release (`diffsol`); a dense 10-species
//! system needs only the method itself. With the exact Jacobian, w^T J = 0 for the
//! conservation vector w, and every Rosenbrock stage keeps w^T y to rounding error.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Gas constant (J / mol / K).
pub const GAS_CONSTANT: f64 = 8.314_462_618;

/// An Arrhenius rate constant k(T) = a exp(-ea / RT).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Arrhenius {
    /// Pre-exponential factor (units of the rate law).
    pub a: f64,
    /// Activation energy (kJ/mol).
    #[serde(default)]
    pub ea_kj_mol: f64,
}

impl Arrhenius {
    /// The constant at `temperature_c` (Celsius).
    pub fn at(&self, temperature_c: f64) -> f64 {
        let t = temperature_c + 273.15;
        self.a * (-self.ea_kj_mol * 1e3 / (GAS_CONSTANT * t)).exp()
    }
}

/// Nucleation n_0 M -> Nucl at rate k [M]^order.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Nucleation {
    /// Pre-exponential factor ((mol/L)^(1-order) / s).
    pub a: f64,
    /// Activation energy (kJ/mol).
    #[serde(default)]
    pub ea_kj_mol: f64,
    /// Reaction order in monomer.
    pub order: f64,
}

/// An MSC family.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    /// Name (the output column), e.g. `CdSe-350`.
    pub name: String,
    /// Formula units per cluster.
    pub size: u32,
}

/// Sizes of the species.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Species {
    /// Formula units in a nucleus.
    pub nucleus_size: u32,
    /// MSC families in increasing size.
    pub families: Vec<Family>,
    /// Formula units of a newly formed nanocrystal.
    pub nc_size: u32,
}

/// Rate constants.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rates {
    /// P -> M (1/s).
    pub supply: Arrhenius,
    /// n_0 M -> Nucl.
    pub nucleation: Nucleation,
    /// One per family: Nucl -> C_1, C_1 -> C_2, ... (L/mol/s).
    pub growth: Vec<Arrhenius>,
    /// C_K -> NC (L/mol/s).
    pub nc_formation: Arrhenius,
    /// Nucl -> NC directly (L/mol/s); absent means never.
    #[serde(default)]
    pub nc_direct: Option<Arrhenius>,
    /// NC + M -> NC (L/mol/s); absent means nanocrystals do not grow further.
    #[serde(default)]
    pub nc_growth: Option<Arrhenius>,
    /// Dissolution of Nucl, C_1, ..., C_K one step back (1/s): K + 1 entries, or none.
    #[serde(default)]
    pub dissolution: Vec<Arrhenius>,
    /// Monomer level M_s (mol/L) below which dissolution runs; absent means always.
    #[serde(default)]
    pub monomer_saturation: Option<f64>,
}

/// Initial concentrations (mol/L); absent species start at zero.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Initial {
    /// Precursor.
    #[serde(default)]
    pub precursor: f64,
    /// Monomer.
    #[serde(default)]
    pub monomer: f64,
    /// Nuclei.
    #[serde(default)]
    pub nuclei: f64,
    /// Clusters per family, in family order.
    #[serde(default)]
    pub clusters: Vec<f64>,
}

/// One stage of the temperature program.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    /// Duration (s).
    pub duration_s: f64,
    /// Temperature (Celsius), constant over the stage.
    pub temperature_c: f64,
    /// Name of the stage (e.g. "nucleation chamber", "growth oven").
    #[serde(default)]
    pub name: Option<String>,
}

/// Output times and solver tolerances.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Explicit output times (s); otherwise `points` evenly spaced over the program.
    #[serde(default)]
    pub times_s: Option<Vec<f64>>,
    /// Number of evenly spaced outputs.
    #[serde(default = "default_points")]
    pub points: usize,
    /// Relative tolerance of the solver.
    #[serde(default = "default_rtol")]
    pub rtol: f64,
    /// Absolute tolerance (mol/L).
    #[serde(default = "default_atol")]
    pub atol: f64,
}

fn default_points() -> usize {
    200
}
fn default_rtol() -> f64 {
    1e-6
}
fn default_atol() -> f64 {
    1e-12
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            times_s: None,
            points: default_points(),
            rtol: default_rtol(),
            atol: default_atol(),
        }
    }
}

/// A (temperature x time) accumulation map.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MapSpec {
    /// Temperatures (Celsius) of the varied stages.
    pub temperatures_c: Vec<f64>,
    /// Program stages (0-based) set to the map temperature; absent means every stage
    /// (isothermal map). `[1]` varies the growth oven behind a fixed nucleation chamber.
    #[serde(default)]
    pub stages: Option<Vec<usize>>,
    /// Reaction times (s) from the start of the program.
    pub times_s: Vec<f64>,
    /// MSC share of the solid formula units above which MSCs count as accumulated.
    #[serde(default = "default_threshold")]
    pub threshold: f64,
}

fn default_threshold() -> f64 {
    0.5
}

/// Rate parameters to fit to a measured series.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FitSpec {
    /// CSV with `t_s` and columns named like species (relative to the model file).
    pub data: String,
    /// Parameters, e.g. `supply.a`, `growth.0.a`, `nucleation.ea_kj_mol`. Pre-exponential
    /// factors are fitted on a log scale.
    pub parameters: Vec<String>,
}

/// A kinetic model with its temperature program.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    /// Species sizes.
    pub species: Species,
    /// Rate constants.
    pub rates: Rates,
    /// Initial state.
    pub initial: Initial,
    /// Temperature program, in order.
    pub program: Vec<Segment>,
    /// Output options.
    #[serde(default)]
    pub output: OutputSpec,
    /// Optional accumulation map.
    #[serde(default)]
    pub map: Option<MapSpec>,
    /// Optional fit.
    #[serde(default)]
    pub fit: Option<FitSpec>,
}

impl Model {
    /// Parse and validate a TOML model.
    pub fn from_toml(path: &Path, text: &str) -> Result<Model> {
        let model: Model = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            Error::Input {
                file: path.to_path_buf(),
                line,
                message: e.message().to_string(),
            }
        })?;
        model
            .validate()
            .map_err(|m| Error::Invalid(format!("{}: {m}", path.display())))?;
        Ok(model)
    }

    /// Read a TOML model file.
    pub fn read(path: &Path) -> Result<Model> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(path, &text)
    }

    /// Check sizes, counts and signs.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let s = &self.species;
        let k = s.families.len();
        let mut prev = s.nucleus_size;
        if prev == 0 {
            return Err("species.nucleus_size must be at least 1".into());
        }
        for f in &s.families {
            if f.size <= prev {
                return Err(format!(
                    "family '{}' ({} units) must be larger than the species before it ({prev})",
                    f.name, f.size
                ));
            }
            prev = f.size;
        }
        if s.nc_size <= prev {
            return Err(format!(
                "species.nc_size ({}) must exceed the largest cluster ({prev})",
                s.nc_size
            ));
        }
        if self.rates.growth.len() != k {
            return Err(format!(
                "rates.growth has {} entries; one per family ({k}) is needed",
                self.rates.growth.len()
            ));
        }
        if !self.rates.dissolution.is_empty() && self.rates.dissolution.len() != k + 1 {
            return Err(format!(
                "rates.dissolution has {} entries; nuclei plus one per family ({}) are needed",
                self.rates.dissolution.len(),
                k + 1
            ));
        }
        if !self.initial.clusters.is_empty() && self.initial.clusters.len() != k {
            return Err(format!(
                "initial.clusters has {} entries for {k} families",
                self.initial.clusters.len()
            ));
        }
        if self.program.is_empty() {
            return Err("the temperature program ([[program]]) is empty".into());
        }
        for (i, seg) in self.program.iter().enumerate() {
            if !(seg.duration_s > 0.0 && seg.duration_s.is_finite()) {
                return Err(format!("program stage {i}: duration_s must be positive"));
            }
            if seg.temperature_c.is_nan() || seg.temperature_c <= -273.15 {
                return Err(format!(
                    "program stage {i}: temperature below absolute zero"
                ));
            }
        }
        let init = [
            self.initial.precursor,
            self.initial.monomer,
            self.initial.nuclei,
        ];
        if init
            .iter()
            .chain(&self.initial.clusters)
            .any(|v| !(*v >= 0.0 && v.is_finite()))
        {
            return Err("initial concentrations must be finite and non-negative".into());
        }
        if !(self.output.rtol > 0.0 && self.output.atol > 0.0) {
            return Err("output.rtol and output.atol must be positive".into());
        }
        if let Some(m) = self.rates.monomer_saturation {
            if m.is_nan() || m <= 0.0 {
                return Err("rates.monomer_saturation must be positive".into());
            }
        }
        Ok(())
    }

    /// Names of the state variables, in state order (the CSV columns after `t_s`).
    pub fn species_names(&self) -> Vec<String> {
        let mut v = vec!["P".to_string(), "M".into(), "Nucl".into()];
        v.extend(self.species.families.iter().map(|f| f.name.clone()));
        v.push("NC".into());
        v.push("NC_units".into());
        v
    }

    /// Formula units carried by one unit of each state variable (the conservation vector w).
    pub fn formula_units(&self) -> Vec<f64> {
        let mut w = vec![1.0, 1.0, self.species.nucleus_size as f64];
        w.extend(self.species.families.iter().map(|f| f.size as f64));
        w.push(0.0);
        w.push(1.0);
        w
    }

    /// The initial state vector.
    pub fn initial_state(&self) -> Vec<f64> {
        let k = self.species.families.len();
        let mut y = vec![0.0; k + 5];
        y[0] = self.initial.precursor;
        y[1] = self.initial.monomer;
        y[2] = self.initial.nuclei;
        for (i, c) in self.initial.clusters.iter().enumerate() {
            y[3 + i] = *c;
        }
        y
    }

    /// Total duration of the program (s).
    pub fn duration_s(&self) -> f64 {
        self.program.iter().map(|s| s.duration_s).sum()
    }

    /// The reaction network at `temperature_c`.
    pub fn network(&self, temperature_c: f64) -> Network {
        let k = self.species.families.len();
        let (m, nucl, nc, ncu) = (1, 2, 3 + k, 4 + k);
        let n = |i: usize| -> f64 {
            if i == 0 {
                self.species.nucleus_size as f64
            } else {
                self.species.families[i - 1].size as f64
            }
        };
        let nc_size = self.species.nc_size as f64;
        let r = &self.rates;
        let mut reactions = vec![
            Reaction {
                k: r.supply.at(temperature_c),
                reactants: vec![(0, 1.0)],
                switch: false,
                stoich: vec![(0, -1.0), (m, 1.0)],
            },
            Reaction {
                k: Arrhenius {
                    a: r.nucleation.a,
                    ea_kj_mol: r.nucleation.ea_kj_mol,
                }
                .at(temperature_c),
                reactants: vec![(m, r.nucleation.order)],
                switch: false,
                stoich: vec![(m, -n(0)), (nucl, 1.0)],
            },
        ];
        for i in 0..k {
            let from = if i == 0 { nucl } else { 2 + i };
            reactions.push(Reaction {
                k: r.growth[i].at(temperature_c),
                reactants: vec![(from, 1.0), (m, 1.0)],
                switch: false,
                stoich: vec![(from, -1.0), (m, -(n(i + 1) - n(i))), (3 + i, 1.0)],
            });
        }
        let last = if k == 0 { nucl } else { 2 + k };
        reactions.push(Reaction {
            k: r.nc_formation.at(temperature_c),
            reactants: vec![(last, 1.0), (m, 1.0)],
            switch: false,
            stoich: vec![
                (last, -1.0),
                (m, -(nc_size - n(k))),
                (nc, 1.0),
                (ncu, nc_size),
            ],
        });
        if let Some(d) = &r.nc_direct {
            if k > 0 {
                reactions.push(Reaction {
                    k: d.at(temperature_c),
                    reactants: vec![(nucl, 1.0), (m, 1.0)],
                    switch: false,
                    stoich: vec![
                        (nucl, -1.0),
                        (m, -(nc_size - n(0))),
                        (nc, 1.0),
                        (ncu, nc_size),
                    ],
                });
            }
        }
        if let Some(g) = &r.nc_growth {
            reactions.push(Reaction {
                k: g.at(temperature_c),
                reactants: vec![(nc, 1.0), (m, 1.0)],
                switch: false,
                stoich: vec![(m, -1.0), (ncu, 1.0)],
            });
        }
        for (i, d) in r.dissolution.iter().enumerate() {
            let (this, back, released) = if i == 0 {
                (nucl, None, n(0))
            } else {
                let back = if i == 1 { nucl } else { 1 + i };
                (2 + i, Some(back), n(i) - n(i - 1))
            };
            let mut stoich = vec![(this, -1.0), (m, released)];
            if let Some(b) = back {
                stoich.push((b, 1.0));
            }
            reactions.push(Reaction {
                k: d.at(temperature_c),
                reactants: vec![(this, 1.0)],
                switch: true,
                stoich,
            });
        }
        Network {
            size: k + 5,
            monomer: m,
            monomer_saturation: r.monomer_saturation,
            reactions,
        }
    }
}

/// One reaction: rate k prod y_j^order_j (times s(M) if `switch`), stoichiometry `stoich`.
#[derive(Debug, Clone)]
pub struct Reaction {
    /// Rate constant at the network's temperature.
    pub k: f64,
    /// (species, order) of the rate law.
    pub reactants: Vec<(usize, f64)>,
    /// Whether the rate is multiplied by the dissolution switch s(M).
    pub switch: bool,
    /// (species, change per event).
    pub stoich: Vec<(usize, f64)>,
}

/// The reaction network at one temperature: right-hand side and exact Jacobian.
#[derive(Debug, Clone)]
pub struct Network {
    /// Number of state variables.
    pub size: usize,
    /// Index of the monomer.
    pub monomer: usize,
    /// M_s of the dissolution switch.
    pub monomer_saturation: Option<f64>,
    /// The reactions.
    pub reactions: Vec<Reaction>,
}

fn pow_pos(y: f64, order: f64) -> f64 {
    if y <= 0.0 {
        0.0
    } else if order == 1.0 {
        y
    } else {
        y.powf(order)
    }
}

fn dpow_pos(y: f64, order: f64) -> f64 {
    if y <= 0.0 {
        0.0
    } else if order == 1.0 {
        1.0
    } else {
        order * y.powf(order - 1.0)
    }
}

impl Network {
    fn switch(&self, y: &[f64]) -> (f64, f64) {
        match self.monomer_saturation {
            None => (1.0, 0.0),
            Some(ms) => {
                let m = y[self.monomer].max(0.0);
                let s = ms / (ms + m);
                let ds = if y[self.monomer] > 0.0 {
                    -ms / (ms + m).powi(2)
                } else {
                    0.0
                };
                (s, ds)
            }
        }
    }

    /// dy/dt (mol/L/s).
    pub fn rhs(&self, y: &[f64], dy: &mut [f64]) {
        dy.iter_mut().for_each(|v| *v = 0.0);
        let (s, _) = self.switch(y);
        for r in &self.reactions {
            let mut rate = r.k;
            for &(j, o) in &r.reactants {
                rate *= pow_pos(y[j], o);
            }
            if r.switch {
                rate *= s;
            }
            for &(j, c) in &r.stoich {
                dy[j] += c * rate;
            }
        }
    }

    /// Exact Jacobian d(dy/dt)/dy.
    pub fn jacobian(&self, y: &[f64]) -> DMatrix<f64> {
        let n = self.size;
        let mut jac = DMatrix::zeros(n, n);
        let (s, ds) = self.switch(y);
        for r in &self.reactions {
            let factor = if r.switch { s } else { 1.0 };
            for (a, &(ja, oa)) in r.reactants.iter().enumerate() {
                let mut d = r.k * dpow_pos(y[ja], oa) * factor;
                for (b, &(jb, ob)) in r.reactants.iter().enumerate() {
                    if a != b {
                        d *= pow_pos(y[jb], ob);
                    }
                }
                for &(j, c) in &r.stoich {
                    jac[(j, ja)] += c * d;
                }
            }
            if r.switch && ds != 0.0 {
                let mut rate = r.k * ds;
                for &(j, o) in &r.reactants {
                    rate *= pow_pos(y[j], o);
                }
                for &(j, c) in &r.stoich {
                    jac[(j, self.monomer)] += c * rate;
                }
            }
        }
        jac
    }
}

/// Concentrations at the output times.
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Species names (columns).
    pub names: Vec<String>,
    /// Output times (s).
    pub t_s: Vec<f64>,
    /// State at each output time.
    pub y: Vec<Vec<f64>>,
    /// Largest relative deviation of the formula units from their initial total.
    pub max_conservation_error: f64,
    /// Accepted solver steps.
    pub steps: usize,
}

/// Integrate `net` from `t0` to `t1` with the Rosenbrock method, starting from `y` (updated
/// in place), with initial step `h` (updated to the last good step). Returns accepted steps.
pub fn rosenbrock(
    net: &Network,
    y: &mut [f64],
    t0: f64,
    t1: f64,
    h: &mut f64,
    rtol: f64,
    atol: f64,
) -> Result<usize> {
    let n = y.len();
    let d = 1.0 / (2.0 + std::f64::consts::SQRT_2);
    let e32 = 6.0 + std::f64::consts::SQRT_2;
    let mut t = t0;
    let mut steps = 0;
    let (mut f0, mut f1, mut f2) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut tmp = vec![0.0; n];
    let mut ynew = vec![0.0; n];
    let span = t1 - t0;
    if span <= 0.0 {
        return Ok(0);
    }
    if h.is_nan() || *h <= 0.0 || *h > span {
        *h = span.min(1e-6 * span.max(1e-300).max(1.0));
    }
    let h_min = 1e-14 * t1.abs().max(span);
    while t < t1 {
        let hh = h.min(t1 - t);
        let last = hh >= t1 - t;
        net.rhs(y, &mut f0);
        let jac = net.jacobian(y);
        let w = DMatrix::identity(n, n) - jac * (hh * d);
        let lu = w.lu();
        let solve = |b: &[f64]| -> Option<Vec<f64>> {
            lu.solve(&DVector::from_column_slice(b))
                .map(|v| v.as_slice().to_vec())
        };
        let Some(k1) = solve(&f0) else {
            *h = hh / 4.0;
            if *h < h_min {
                return Err(Error::Invalid(format!(
                    "solver: singular iteration matrix at t = {t} s"
                )));
            }
            continue;
        };
        for i in 0..n {
            tmp[i] = y[i] + 0.5 * hh * k1[i];
        }
        net.rhs(&tmp, &mut f1);
        for i in 0..n {
            tmp[i] = f1[i] - k1[i];
        }
        let k2: Vec<f64> = solve(&tmp)
            .unwrap_or_else(|| vec![f64::NAN; n])
            .iter()
            .zip(&k1)
            .map(|(a, b)| a + b)
            .collect();
        for i in 0..n {
            ynew[i] = y[i] + hh * k2[i];
        }
        net.rhs(&ynew, &mut f2);
        for i in 0..n {
            tmp[i] = f2[i] - e32 * (k2[i] - f1[i]) - 2.0 * (k1[i] - f0[i]);
        }
        let k3 = solve(&tmp).unwrap_or_else(|| vec![f64::NAN; n]);
        let mut err = 0.0;
        let mut negative = false;
        for i in 0..n {
            let e = hh / 6.0 * (k1[i] - 2.0 * k2[i] + k3[i]);
            let sc = atol + rtol * y[i].abs().max(ynew[i].abs());
            err += (e / sc).powi(2);
            if ynew[i] < -10.0 * atol {
                negative = true;
            }
        }
        let err = (err / n as f64).sqrt();
        if err.is_nan() || err > 1.0 || negative {
            let fac = if err.is_finite() && !negative {
                (0.8 * err.powf(-1.0 / 3.0)).max(0.1)
            } else {
                0.25
            };
            *h = hh * fac;
            if *h < h_min {
                return Err(Error::Invalid(format!(
                    "solver: step size underflow at t = {t} s (the model may be ill-posed)"
                )));
            }
            continue;
        }
        y.copy_from_slice(&ynew);
        steps += 1;
        t = if last { t1 } else { t + hh };
        let grow = if err > 0.0 {
            (0.8 * err.powf(-1.0 / 3.0)).min(5.0)
        } else {
            5.0
        };
        // Keep the step proposed by the error control even when the last step was cut to
        // land on t1.
        *h = if last { h.max(hh * grow) } else { hh * grow };
    }
    Ok(steps)
}

/// Simulate the temperature program, reporting the state at `times_s` (sorted, within the
/// program). The total formula units are checked at every output: a relative drift above
/// 1e-6 is an error.
pub fn simulate_at(model: &Model, program: &[Segment], times_s: &[f64]) -> Result<Trajectory> {
    let w = model.formula_units();
    let mut y = model.initial_state();
    let total = |y: &[f64]| y.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>();
    let w0 = total(&y);
    let mut out = Trajectory {
        names: model.species_names(),
        t_s: Vec::with_capacity(times_s.len()),
        y: Vec::with_capacity(times_s.len()),
        max_conservation_error: 0.0,
        steps: 0,
    };
    let (rtol, atol) = (model.output.rtol, model.output.atol);
    let mut t = 0.0;
    let mut seg_start = 0.0;
    let mut h = 0.0;
    let mut next = 0;
    for seg in program {
        let net = model.network(seg.temperature_c);
        let seg_end = seg_start + seg.duration_s;
        while next < times_s.len() && times_s[next] <= seg_end * (1.0 + 1e-12) {
            let target = times_s[next].min(seg_end);
            out.steps += rosenbrock(&net, &mut y, t, target, &mut h, rtol, atol)?;
            t = target;
            let rel = if w0 > 0.0 {
                (total(&y) - w0).abs() / w0
            } else {
                total(&y).abs()
            };
            out.max_conservation_error = out.max_conservation_error.max(rel);
            if rel > 1e-6 {
                return Err(Error::Invalid(format!(
                    "formula units not conserved at t = {} s (relative drift {rel:.2e})",
                    times_s[next]
                )));
            }
            out.t_s.push(times_s[next]);
            out.y.push(y.clone());
            next += 1;
        }
        if next < times_s.len() {
            out.steps += rosenbrock(&net, &mut y, t, seg_end, &mut h, rtol, atol)?;
            t = seg_end;
        }
        seg_start = seg_end;
    }
    Ok(out)
}

/// The output times of a model: `output.times_s`, or `output.points` evenly spaced.
pub fn output_times(model: &Model) -> Vec<f64> {
    match &model.output.times_s {
        Some(t) => t.clone(),
        None => {
            let n = model.output.points.max(2);
            let end = model.duration_s();
            (0..n).map(|i| end * i as f64 / (n - 1) as f64).collect()
        }
    }
}

/// Simulate the model's own program at its output times.
pub fn simulate(model: &Model) -> Result<Trajectory> {
    let times = output_times(model);
    let end = model.duration_s();
    if times.windows(2).any(|w| w[1] < w[0])
        || times.iter().any(|&t| t < 0.0 || t > end * (1.0 + 1e-12))
    {
        return Err(Error::Invalid(format!(
            "output.times_s must be sorted and within the program (0 .. {end} s)"
        )));
    }
    simulate_at(model, &model.program, &times)
}

/// Formula-unit shares of one state: (precursor, monomer, nuclei, MSCs, NCs) over W.
pub fn shares(model: &Model, y: &[f64]) -> [f64; 5] {
    let k = model.species.families.len();
    let w = model.formula_units();
    let total: f64 = y.iter().zip(&w).map(|(a, b)| a * b).sum();
    let msc: f64 = (0..k).map(|i| y[3 + i] * w[3 + i]).sum();
    let v = [y[0], y[1], y[2] * w[2], msc, y[4 + k]];
    v.map(|x| if total > 0.0 { x / total } else { 0.0 })
}

/// One cell of the accumulation map.
#[derive(Debug, Clone, Serialize)]
pub struct MapCell {
    /// Temperature of the last stage (Celsius).
    pub temperature_c: f64,
    /// Reaction time (s).
    pub t_s: f64,
    /// MSC share of the formula units in solids (nuclei, MSCs, NCs).
    pub msc_fraction: f64,
    /// NC share of the formula units in solids.
    pub nc_fraction: f64,
    /// The class holding the most formula units: precursor, monomer, nuclei, msc or nc.
    pub dominant: &'static str,
    /// Whether MSCs hold more than the threshold of the solid formula units.
    pub msc_accumulated: bool,
}

/// The (temperature x time) map: which species accumulate.
pub fn accumulation_map(model: &Model, spec: &MapSpec) -> Result<Vec<MapCell>> {
    use rayon::prelude::*;
    let mut times = spec.times_s.clone();
    times.sort_by(f64::total_cmp);
    let rows: Vec<Result<Vec<MapCell>>> = spec
        .temperatures_c
        .par_iter()
        .map(|&temp| {
            let mut program = model.program.clone();
            for (i, seg) in program.iter_mut().enumerate() {
                if spec.stages.as_ref().is_none_or(|s| s.contains(&i)) {
                    seg.temperature_c = temp;
                }
            }
            let end: f64 = program.iter().map(|s| s.duration_s).sum();
            if let Some(&t) = times.iter().find(|&&t| t > end * (1.0 + 1e-12) || t < 0.0) {
                return Err(Error::Invalid(format!(
                    "map time {t} s is outside the program (0 .. {end} s)"
                )));
            }
            let traj = simulate_at(model, &program, &times)?;
            Ok(traj
                .t_s
                .iter()
                .zip(&traj.y)
                .map(|(&t, y)| {
                    let s = shares(model, y);
                    let solids = s[2] + s[3] + s[4];
                    let (msc, nc) = if solids > 0.0 {
                        (s[3] / solids, s[4] / solids)
                    } else {
                        (0.0, 0.0)
                    };
                    let names = ["precursor", "monomer", "nuclei", "msc", "nc"];
                    let best = (0..5).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(0);
                    MapCell {
                        temperature_c: temp,
                        t_s: t,
                        msc_fraction: msc,
                        nc_fraction: nc,
                        dominant: names[best],
                        msc_accumulated: msc > spec.threshold,
                    }
                })
                .collect())
        })
        .collect();
    let mut cells = Vec::new();
    for r in rows {
        cells.extend(r?);
    }
    Ok(cells)
}

/// A measured time series: times and named columns.
#[derive(Debug, Clone)]
pub struct Series {
    /// Times (s).
    pub t_s: Vec<f64>,
    /// (species name, values) per measured column.
    pub columns: Vec<(String, Vec<f64>)>,
}

/// Read a measured series: `t_s` then columns named like the model's species.
pub fn read_series(path: &Path, model: &Model) -> Result<Series> {
    let table = crate::table::Table::read(path)?;
    let header = table.header.clone().ok_or_else(|| Error::Input {
        file: path.to_path_buf(),
        line: table.lines[0],
        message: "missing header: expected 't_s' and species columns".into(),
    })?;
    let bad = |message: String| Error::Input {
        file: path.to_path_buf(),
        line: table.header_line,
        message,
    };
    if header[0] != "t_s" {
        return Err(bad(format!(
            "first column must be 't_s', found '{}'",
            header[0]
        )));
    }
    let names = model.species_names();
    let mut columns = Vec::new();
    for (c, name) in header.iter().enumerate().skip(1) {
        if !names.contains(name) {
            return Err(bad(format!(
                "column '{name}' is not a species of the model ({})",
                names.join(", ")
            )));
        }
        columns.push((name.clone(), table.column(c)));
    }
    let t = table.column(0);
    for i in 1..t.len() {
        if t[i] <= t[i - 1] {
            return Err(table.error_at(
                i,
                format!("t_s is not increasing ({} after {})", t[i], t[i - 1]),
            ));
        }
    }
    Ok(Series { t_s: t, columns })
}

/// Read or write the parameter `path` (`supply.a`, `growth.1.ea_kj_mol`, `nucleation.order`,
/// `rates.monomer_saturation` is `monomer_saturation`).
fn parameter<'a>(rates: &'a mut Rates, path: &str) -> Option<&'a mut f64> {
    let parts: Vec<&str> = path.split('.').collect();
    let field = |a: &'a mut Arrhenius, f: &str| -> Option<&'a mut f64> {
        match f {
            "a" => Some(&mut a.a),
            "ea_kj_mol" => Some(&mut a.ea_kj_mol),
            _ => None,
        }
    };
    match parts.as_slice() {
        ["supply", f] => field(&mut rates.supply, f),
        ["nc_formation", f] => field(&mut rates.nc_formation, f),
        ["nc_direct", f] => rates.nc_direct.as_mut().and_then(|a| field(a, f)),
        ["nc_growth", f] => rates.nc_growth.as_mut().and_then(|a| field(a, f)),
        ["nucleation", "a"] => Some(&mut rates.nucleation.a),
        ["nucleation", "ea_kj_mol"] => Some(&mut rates.nucleation.ea_kj_mol),
        ["nucleation", "order"] => Some(&mut rates.nucleation.order),
        ["growth", i, f] => rates
            .growth
            .get_mut(i.parse::<usize>().ok()?)
            .and_then(|a| field(a, f)),
        ["dissolution", i, f] => rates
            .dissolution
            .get_mut(i.parse::<usize>().ok()?)
            .and_then(|a| field(a, f)),
        ["monomer_saturation"] => rates.monomer_saturation.as_mut(),
        _ => None,
    }
}

/// Result of a rate fit.
#[derive(Debug, Clone, Serialize)]
pub struct FitResult {
    /// Fitted parameter names.
    pub parameters: Vec<String>,
    /// Fitted values.
    pub values: Vec<f64>,
    /// Root-mean-square of the scaled residuals at the start.
    pub rms_before: f64,
    /// ... and at the end.
    pub rms_after: f64,
    /// Model evaluations used.
    pub evaluations: usize,
    /// Why the optimiser stopped.
    pub termination: String,
}

/// Pre-exponential factors and the dissolution level are fitted as logarithms (they span
/// decades and must stay positive); energies and orders as they are.
fn is_log_parameter(name: &str) -> bool {
    name.ends_with(".a") || name == "monomer_saturation"
}

struct FitProblem<'a> {
    model: Model,
    names: &'a [String],
    series: &'a Series,
    scales: Vec<f64>,
    x: DVector<f64>,
    evaluations: std::cell::Cell<usize>,
}

impl FitProblem<'_> {
    fn apply(&self, x: &DVector<f64>) -> Model {
        let mut m = self.model.clone();
        for (name, v) in self.names.iter().zip(x.iter()) {
            if let Some(p) = parameter(&mut m.rates, name) {
                *p = if is_log_parameter(name) { v.exp() } else { *v };
            }
        }
        m
    }

    fn residuals_at(&self, x: &DVector<f64>) -> Option<DVector<f64>> {
        self.evaluations.set(self.evaluations.get() + 1);
        let m = self.apply(x);
        let traj = simulate_at(&m, &m.program, &self.series.t_s).ok()?;
        let names = m.species_names();
        let mut r = Vec::new();
        for ((name, values), scale) in self.series.columns.iter().zip(&self.scales) {
            let j = names.iter().position(|n| n == name)?;
            for (y, v) in traj.y.iter().zip(values) {
                r.push((y[j] - v) / scale);
            }
        }
        Some(DVector::from_vec(r))
    }
}

impl levenberg_marquardt::LeastSquaresProblem<f64, nalgebra::Dyn, nalgebra::Dyn>
    for FitProblem<'_>
{
    type ResidualStorage = nalgebra::VecStorage<f64, nalgebra::Dyn, nalgebra::U1>;
    type JacobianStorage = nalgebra::VecStorage<f64, nalgebra::Dyn, nalgebra::Dyn>;
    type ParameterStorage = nalgebra::VecStorage<f64, nalgebra::Dyn, nalgebra::U1>;

    fn set_params(&mut self, x: &DVector<f64>) {
        self.x.copy_from(x);
    }
    fn params(&self) -> DVector<f64> {
        self.x.clone()
    }
    fn residuals(&self) -> Option<DVector<f64>> {
        self.residuals_at(&self.x)
    }
    fn jacobian(&self) -> Option<DMatrix<f64>> {
        // Central differences: each column costs two simulations.
        let r0 = self.residuals_at(&self.x)?;
        let mut jac = DMatrix::zeros(r0.len(), self.x.len());
        for p in 0..self.x.len() {
            let step = 1e-5 * self.x[p].abs().max(1.0);
            let mut xp = self.x.clone();
            xp[p] += step;
            let rp = self.residuals_at(&xp)?;
            xp[p] -= 2.0 * step;
            let rm = self.residuals_at(&xp)?;
            jac.set_column(p, &((rp - rm) / (2.0 * step)));
        }
        Some(jac)
    }
}

/// Fit the named rate parameters of `model` to `series` by Levenberg-Marquardt; residuals
/// are scaled per column by the column's largest value.
pub fn fit_rates(model: &Model, series: &Series, names: &[String]) -> Result<(Model, FitResult)> {
    let mut m = model.clone();
    let mut x0 = Vec::new();
    for name in names {
        let p = parameter(&mut m.rates, name)
            .ok_or_else(|| Error::Invalid(format!("unknown or absent rate parameter '{name}'")))?;
        if is_log_parameter(name) && *p <= 0.0 {
            return Err(Error::Invalid(format!(
                "parameter '{name}' must be positive to fit"
            )));
        }
        x0.push(if is_log_parameter(name) { p.ln() } else { *p });
    }
    let end = model.duration_s();
    if series
        .t_s
        .iter()
        .any(|&t| t < 0.0 || t > end * (1.0 + 1e-12))
    {
        return Err(Error::Invalid(format!(
            "measured times must lie within the program (0 .. {end} s)"
        )));
    }
    let scales = series
        .columns
        .iter()
        .map(|(_, v)| v.iter().fold(0.0_f64, |a, b| a.max(b.abs())).max(1e-300))
        .collect();
    let problem = FitProblem {
        model: model.clone(),
        names,
        series,
        scales,
        x: DVector::from_vec(x0.clone()),
        evaluations: std::cell::Cell::new(0),
    };
    let rms = |r: Option<DVector<f64>>| {
        r.map_or(f64::NAN, |r| {
            (r.norm_squared() / r.len().max(1) as f64).sqrt()
        })
    };
    let rms_before = rms(problem.residuals_at(&DVector::from_vec(x0)));
    let (problem, report) = levenberg_marquardt::LevenbergMarquardt::new()
        .with_patience(50)
        .minimize(problem);
    let x = problem.x.clone();
    let rms_after = rms(problem.residuals_at(&x));
    let fitted = problem.apply(&x);
    let values = names
        .iter()
        .zip(x.iter())
        .map(|(n, v)| if is_log_parameter(n) { v.exp() } else { *v })
        .collect();
    Ok((
        fitted,
        FitResult {
            parameters: names.to_vec(),
            values,
            rms_before,
            rms_after,
            evaluations: problem.evaluations.get(),
            termination: format!("{:?}", report.termination),
        },
    ))
}

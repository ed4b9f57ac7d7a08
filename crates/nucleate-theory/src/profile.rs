//! Radial order-parameter profiles alpha(r, r') of a nucleus of radius r, and their two
//! integrals: the volume term int alpha dV and the effective area int |grad alpha| dV.

use std::f64::consts::PI;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use crate::cnt::positive;
use crate::error::{Error, Result, Warning};
use crate::numerics::{derivative_on_unit, integrate};

/// Dimension of the nucleus: a slab (1), a disc (2) or a sphere (3), radius measured from
/// its centre. The sphere is the physical case; the others show how dimension enters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// A slab of half-width r (per unit cross-section; its two faces are its surface).
    One,
    /// A disc of radius r (per unit thickness).
    Two,
    /// A sphere of radius r.
    Three,
}

impl Dimension {
    /// d in dV = S_d r^(d-1) dr.
    pub fn d(self) -> i32 {
        match self {
            Dimension::One => 1,
            Dimension::Two => 2,
            Dimension::Three => 3,
        }
    }

    /// Measure of the unit sphere S_d: 2 (two faces), 2 pi, 4 pi.
    pub fn surface(self) -> f64 {
        match self {
            Dimension::One => 2.0,
            Dimension::Two => 2.0 * PI,
            Dimension::Three => 4.0 * PI,
        }
    }
}

/// The two integrals of a nucleus profile.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Terms {
    /// int alpha dV (length^d): the volume of the new phase the nucleus holds.
    pub volume: f64,
    /// A_eff = int |grad alpha| dV, jumps counted by their height times the area at which
    /// they happen (length^(d-1)); by the coarea formula the mean iso-surface area.
    pub area: f64,
}

impl Terms {
    /// dG = -dg int alpha dV + gamma A_eff (energy).
    pub fn dg(&self, gamma: f64, dg: f64) -> f64 {
        -dg * self.volume + gamma * self.area
    }
}

type ShapeFn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// A user shape phi(x) on x = r'/r in [0, 1], phi continuous on [0, 1) (a drop at x = 1 is
/// the nucleus edge and counts as a jump). Its derivative is taken by finite differences
/// unless given; kinks should be declared as breakpoints so the quadrature splits there.
#[derive(Clone)]
pub struct CustomShape {
    phi: ShapeFn,
    dphi: Option<ShapeFn>,
    breakpoints: Vec<f64>,
}

impl CustomShape {
    /// A shape from phi alone.
    pub fn new(phi: impl Fn(f64) -> f64 + Send + Sync + 'static) -> Self {
        Self {
            phi: Arc::new(phi),
            dphi: None,
            breakpoints: Vec::new(),
        }
    }

    /// Give the derivative phi'(x) (more accurate than finite differences).
    pub fn with_derivative(mut self, dphi: impl Fn(f64) -> f64 + Send + Sync + 'static) -> Self {
        self.dphi = Some(Arc::new(dphi));
        self
    }

    /// Points in (0, 1) where phi has a kink.
    pub fn with_breakpoints(mut self, xs: &[f64]) -> Self {
        self.breakpoints = xs.to_vec();
        self
    }
}

impl fmt::Debug for CustomShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomShape(breakpoints: {:?})", self.breakpoints)
    }
}

/// Shape phi(x), x = r'/r, of a self-similar profile alpha(r, r') = alpha0 phi(r'/r).
#[derive(Debug, Clone)]
pub enum Shape {
    /// phi = 1 for x <= 1: the sharp interface of CNT.
    Step,
    /// phi = 1 - x.
    Linear,
    /// phi = 1 - x^2, above the linear profile.
    ParabolicAbove,
    /// phi = (1 - x)^2, below the linear profile.
    ParabolicBelow,
    /// Any shape, integrated numerically.
    Custom(CustomShape),
}

impl Shape {
    /// phi(x) for x in [0, 1].
    pub fn phi(&self, x: f64) -> f64 {
        match self {
            Shape::Step => 1.0,
            Shape::Linear => 1.0 - x,
            Shape::ParabolicAbove => 1.0 - x * x,
            Shape::ParabolicBelow => (1.0 - x) * (1.0 - x),
            Shape::Custom(c) => (c.phi)(x),
        }
    }

    /// phi'(x) for x in [0, 1] (the edge jump of the step is not included).
    pub fn dphi(&self, x: f64) -> f64 {
        match self {
            Shape::Step => 0.0,
            Shape::Linear => -1.0,
            Shape::ParabolicAbove => -2.0 * x,
            Shape::ParabolicBelow => -2.0 * (1.0 - x),
            Shape::Custom(c) => match &c.dphi {
                Some(d) => d(x),
                None => derivative_on_unit(&*c.phi, x),
            },
        }
    }

    fn breakpoints(&self) -> &[f64] {
        match self {
            Shape::Custom(c) => &c.breakpoints,
            _ => &[],
        }
    }

    /// Volume moment m_V = int_0^1 phi(x) x^(d-1) dx. Closed forms, with
    /// int_0^1 x^(k+d-1) dx = 1/(k+d):
    /// step 1/d; linear 1/d - 1/(d+1); 1 - x^2: 1/d - 1/(d+2);
    /// (1 - x)^2: 1/d - 2/(d+1) + 1/(d+2). For d = 3: 1/3, 1/12, 2/15, 1/30.
    pub fn volume_moment(&self, dim: Dimension) -> f64 {
        let d = f64::from(dim.d());
        match self {
            Shape::Step => 1.0 / d,
            Shape::Linear => 1.0 / d - 1.0 / (d + 1.0),
            Shape::ParabolicAbove => 1.0 / d - 1.0 / (d + 2.0),
            Shape::ParabolicBelow => 1.0 / d - 2.0 / (d + 1.0) + 1.0 / (d + 2.0),
            Shape::Custom(_) => {
                let di = dim.d() - 1;
                integrate(
                    &|x: f64| self.phi(x) * x.powi(di),
                    0.0,
                    1.0,
                    self.breakpoints(),
                )
            }
        }
    }

    /// Gradient moment m_A = int_0^1 |phi'(x)| x^(d-1) dx + phi(1), the last term being the
    /// jump at the nucleus edge. Closed forms: step 0 + 1; linear int x^(d-1) = 1/d;
    /// 1 - x^2: int 2x x^(d-1) = 2/(d+1); (1 - x)^2: int 2(1-x) x^(d-1) = 2/d - 2/(d+1).
    /// For d = 3: 1, 1/3, 1/2, 1/6.
    pub fn gradient_moment(&self, dim: Dimension) -> f64 {
        let d = f64::from(dim.d());
        match self {
            Shape::Step => 1.0,
            Shape::Linear => 1.0 / d,
            Shape::ParabolicAbove => 2.0 / (d + 1.0),
            Shape::ParabolicBelow => 2.0 / d - 2.0 / (d + 1.0),
            Shape::Custom(_) => {
                let di = dim.d() - 1;
                integrate(
                    &|x: f64| self.dphi(x).abs() * x.powi(di),
                    0.0,
                    1.0,
                    self.breakpoints(),
                ) + self.phi(1.0).abs()
            }
        }
    }

    /// The name used on the command line, or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Step => "step",
            Shape::Linear => "linear",
            Shape::ParabolicAbove => "parabolic-above",
            Shape::ParabolicBelow => "parabolic-below",
            Shape::Custom(_) => "custom",
        }
    }
}

/// A measured profile alpha(r'), linearly interpolated between its points, constant
/// (= its first value) inside its first radius; a nucleus of radius r keeps alpha(r') for
/// r' <= r and has alpha = 0 beyond, so r ranges over (0, last radius].
#[derive(Debug, Clone)]
pub struct TabulatedProfile {
    r: Vec<f64>,
    alpha: Vec<f64>,
    source_name: String,
    warnings: Vec<Warning>,
}

impl TabulatedProfile {
    /// A profile from points, radii strictly increasing and >= 0, at least two points.
    /// Non-monotone alpha or alpha outside [0, 1] give warnings, not errors.
    pub fn new(r: Vec<f64>, alpha: Vec<f64>) -> Result<Self> {
        let places = (0..r.len()).map(|i| format!("point {i}")).collect();
        Self::build(r, alpha, "table".to_string(), places)
    }

    fn build(
        r: Vec<f64>,
        alpha: Vec<f64>,
        source_name: String,
        places: Vec<String>,
    ) -> Result<Self> {
        let err = |place: &str, message: String| Error::Table {
            source_name: source_name.clone(),
            place: place.to_string(),
            message,
        };
        if r.len() != alpha.len() {
            return Err(err(
                "all",
                format!("{} radii but {} alpha values", r.len(), alpha.len()),
            ));
        }
        if r.len() < 2 {
            return Err(err(
                "all",
                format!("a profile needs at least 2 points, found {}", r.len()),
            ));
        }
        for i in 0..r.len() {
            if !r[i].is_finite() || !alpha[i].is_finite() {
                return Err(err(&places[i], "values must be finite".to_string()));
            }
            if r[i] < 0.0 {
                return Err(err(&places[i], format!("radius {} is negative", r[i])));
            }
            if i > 0 && r[i] <= r[i - 1] {
                return Err(err(
                    &places[i],
                    format!("radii must increase strictly ({} after {})", r[i], r[i - 1]),
                ));
            }
        }
        let mut warnings = Vec::new();
        if let Some(i) = (1..r.len()).find(|&i| alpha[i] > alpha[i - 1]) {
            warnings.push(Warning::NonMonotone {
                source_name: source_name.clone(),
                place: places[i].clone(),
            });
        }
        if let Some(i) = (0..r.len()).find(|&i| !(0.0..=1.0).contains(&alpha[i])) {
            warnings.push(Warning::OutOfRange {
                source_name: source_name.clone(),
                place: places[i].clone(),
                value: alpha[i],
            });
        }
        Ok(Self {
            r,
            alpha,
            source_name,
            warnings,
        })
    }

    /// Read a CSV with header `r,alpha` (blank lines and lines starting with `#` skipped).
    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = std::fs::File::open(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_csv_reader(file, &path.display().to_string())
    }

    /// Read a CSV with header `r,alpha` from any reader; `source_name` names it in messages.
    pub fn from_csv_reader(reader: impl Read, source_name: &str) -> Result<Self> {
        let err = |line: u64, message: String| Error::Table {
            source_name: source_name.to_string(),
            place: format!("line {line}"),
            message,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(reader);
        let header = rdr
            .headers()
            .map_err(|e| csv_error(source_name, &e))?
            .clone();
        let names: Vec<&str> = header.iter().collect();
        if names != ["r", "alpha"] {
            let line = header.position().map_or(1, |p| p.line());
            return Err(err(
                line,
                format!("expected the header `r,alpha`, found `{}`", names.join(",")),
            ));
        }
        let (mut r, mut alpha, mut places) = (Vec::new(), Vec::new(), Vec::new());
        for record in rdr.records() {
            let record = record.map_err(|e| csv_error(source_name, &e))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.len() != 2 {
                return Err(err(
                    line,
                    format!("expected 2 values (r,alpha), found {}", record.len()),
                ));
            }
            let mut values = [0.0; 2];
            for (col, (name, v)) in ["r", "alpha"].iter().zip(values.iter_mut()).enumerate() {
                let text = &record[col];
                if text.is_empty() {
                    return Err(err(
                        line,
                        format!("missing value in column {} ({name})", col + 1),
                    ));
                }
                *v = text.parse::<f64>().map_err(|_| {
                    err(
                        line,
                        format!("column {} ({name}): `{text}` is not a number", col + 1),
                    )
                })?;
            }
            r.push(values[0]);
            alpha.push(values[1]);
            places.push(format!("line {line}"));
        }
        Self::build(r, alpha, source_name.to_string(), places)
    }

    /// The radii (length).
    pub fn radii(&self) -> &[f64] {
        &self.r
    }

    /// The order parameter at each radius.
    pub fn alphas(&self) -> &[f64] {
        &self.alpha
    }

    /// Where the table came from (file name or `table`).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Warnings found when the table was read.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Largest radius of the table.
    pub fn r_max(&self) -> f64 {
        self.r[self.r.len() - 1]
    }

    /// alpha(r') by linear interpolation; the first value inside the first radius, 0 beyond
    /// the last.
    pub fn alpha_at(&self, x: f64) -> f64 {
        let n = self.r.len();
        if x <= self.r[0] {
            return self.alpha[0];
        }
        if x > self.r[n - 1] {
            return 0.0;
        }
        let i = self.r.partition_point(|&ri| ri < x).max(1);
        let t = (x - self.r[i - 1]) / (self.r[i] - self.r[i - 1]);
        self.alpha[i - 1] + t * (self.alpha[i] - self.alpha[i - 1])
    }

    /// Both integrals of the table truncated at `r`, exact: on each segment alpha = c + b x
    /// is linear, so int (c + b x) x^(d-1) dx and int |b| x^(d-1) dx are polynomials.
    pub fn terms(&self, r: f64, dim: Dimension) -> Terms {
        if r <= 0.0 {
            return Terms::default();
        }
        let di = dim.d();
        let d = f64::from(di);
        let pw = |x: f64, k: i32| x.powi(k);
        let r0 = self.r[0];
        let core = r.min(r0);
        let mut volume = self.alpha[0] * pw(core, di) / d;
        let mut area = 0.0;
        for i in 0..self.r.len() - 1 {
            let lo = self.r[i];
            if lo >= r {
                break;
            }
            let hi = self.r[i + 1].min(r);
            let b = (self.alpha[i + 1] - self.alpha[i]) / (self.r[i + 1] - self.r[i]);
            let c = self.alpha[i] - b * lo;
            let shell = (pw(hi, di) - pw(lo, di)) / d;
            volume += c * shell + b * (pw(hi, di + 1) - pw(lo, di + 1)) / (d + 1.0);
            area += b.abs() * shell;
        }
        let r_eff = r.min(self.r_max());
        area += self.alpha_at(r_eff).abs() * pw(r_eff, di - 1);
        Terms {
            volume: dim.surface() * volume,
            area: dim.surface() * area,
        }
    }
}

fn csv_error(source_name: &str, e: &csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line());
    Error::Table {
        source_name: source_name.to_string(),
        place: format!("line {line}"),
        message: e.to_string(),
    }
}

/// A nucleus profile alpha(r, r'), zero for r' > r.
#[derive(Debug, Clone)]
pub enum Profile {
    /// alpha = amplitude * phi(r'/r).
    SelfSimilar {
        /// phi.
        shape: Shape,
        /// alpha0 (dimensionless, 1 = fully ordered core).
        amplitude: f64,
    },
    /// alpha = amplitude * exp(-(r'/lambda)^beta), truncated at r.
    GeneralizedGaussian {
        /// alpha0.
        amplitude: f64,
        /// Width lambda (length).
        lambda: f64,
        /// Sharpness beta (beta -> infinity: a step at lambda).
        beta: f64,
    },
    /// A measured alpha(r'), truncated at r.
    Tabulated(TabulatedProfile),
}

impl Profile {
    /// A self-similar profile; the amplitude must be positive.
    pub fn self_similar(shape: Shape, amplitude: f64) -> Result<Self> {
        positive("amplitude", amplitude)?;
        Ok(Profile::SelfSimilar { shape, amplitude })
    }

    /// A generalized Gaussian; all parameters must be positive.
    pub fn generalized_gaussian(amplitude: f64, lambda: f64, beta: f64) -> Result<Self> {
        positive("amplitude", amplitude)?;
        positive("lambda", lambda)?;
        positive("beta", beta)?;
        Ok(Profile::GeneralizedGaussian {
            amplitude,
            lambda,
            beta,
        })
    }

    /// Parse a command-line profile: `step`, `linear`, `parabolic-above`, `parabolic-below`,
    /// `gengauss:LAMBDA,BETA` or a path to a CSV `r,alpha`. `amplitude` (alpha0, default 1)
    /// applies to the named families only: a table carries its own alpha.
    pub fn parse(spec: &str, amplitude: Option<f64>) -> Result<Self> {
        let a0 = amplitude.unwrap_or(1.0);
        let named = match spec {
            "step" => Some(Shape::Step),
            "linear" => Some(Shape::Linear),
            "parabolic-above" => Some(Shape::ParabolicAbove),
            "parabolic-below" => Some(Shape::ParabolicBelow),
            _ => None,
        };
        if let Some(shape) = named {
            return Self::self_similar(shape, a0);
        }
        if let Some(params) = spec.strip_prefix("gengauss:") {
            let bad = |message: String| Error::ProfileSpec {
                spec: spec.to_string(),
                message,
            };
            let parts: Vec<&str> = params.split(',').map(str::trim).collect();
            if parts.len() != 2 {
                return Err(bad(
                    "expected gengauss:LAMBDA,BETA (two numbers)".to_string()
                ));
            }
            let num = |name: &str, t: &str| {
                t.parse::<f64>()
                    .map_err(|_| bad(format!("{name} `{t}` is not a number")))
            };
            let lambda = num("LAMBDA", parts[0])?;
            let beta = num("BETA", parts[1])?;
            return Self::generalized_gaussian(a0, lambda, beta);
        }
        let path = Path::new(spec);
        if path.is_file() {
            if amplitude.is_some() {
                return Err(Error::ProfileSpec {
                    spec: spec.to_string(),
                    message:
                        "--amplitude applies to named profiles only; a table gives alpha itself"
                            .to_string(),
                });
            }
            return Ok(Profile::Tabulated(TabulatedProfile::from_csv_path(path)?));
        }
        Err(Error::UnknownProfile(spec.to_string()))
    }

    /// alpha(r, r') of a nucleus of radius `r` at distance `r_prime` from its centre.
    pub fn alpha(&self, r: f64, r_prime: f64) -> f64 {
        if r_prime > r || r <= 0.0 {
            return 0.0;
        }
        match self {
            Profile::SelfSimilar { shape, amplitude } => amplitude * shape.phi(r_prime / r),
            Profile::GeneralizedGaussian {
                amplitude,
                lambda,
                beta,
            } => amplitude * (-(r_prime / lambda).powf(*beta)).exp(),
            Profile::Tabulated(t) => t.alpha_at(r_prime),
        }
    }

    /// Volume term and effective area of the nucleus of radius `r`. Named self-similar
    /// shapes use their closed-form moments; custom shapes and the generalized Gaussian are
    /// integrated numerically over r' in [0, r]; tables exactly, segment by segment.
    pub fn terms(&self, r: f64, dim: Dimension) -> Terms {
        if r <= 0.0 {
            return Terms::default();
        }
        let s = dim.surface();
        let di = dim.d();
        match self {
            Profile::SelfSimilar {
                shape: shape @ Shape::Custom(c),
                amplitude,
            } => {
                let brk: Vec<f64> = c.breakpoints.iter().map(|x| x * r).collect();
                let volume = integrate(&|x: f64| shape.phi(x / r) * x.powi(di - 1), 0.0, r, &brk);
                let gradient = integrate(
                    &|x: f64| shape.dphi(x / r).abs() / r * x.powi(di - 1),
                    0.0,
                    r,
                    &brk,
                );
                let edge = shape.phi(1.0).abs() * r.powi(di - 1);
                Terms {
                    volume: s * amplitude * volume,
                    area: s * amplitude * (gradient + edge),
                }
            }
            Profile::SelfSimilar { shape, amplitude } => Terms {
                volume: s * amplitude * shape.volume_moment(dim) * r.powi(di),
                area: s * amplitude * shape.gradient_moment(dim) * r.powi(di - 1),
            },
            Profile::GeneralizedGaussian {
                amplitude,
                lambda,
                beta,
            } => {
                let (l, b) = (*lambda, *beta);
                let phi = |x: f64| (-(x / l).powf(b)).exp();
                let volume = integrate(&|x: f64| phi(x) * x.powi(di - 1), 0.0, r, &[l]);
                // |phi'| = (beta/lambda) (x/lambda)^(beta-1) phi; its x^(beta-1) cusp at 0
                // (beta < 1) is what tanh-sinh handles well.
                let gradient = integrate(
                    &|x: f64| b / l * (x / l).powf(b - 1.0) * phi(x) * x.powi(di - 1),
                    0.0,
                    r,
                    &[l],
                );
                let edge = phi(r) * r.powi(di - 1);
                Terms {
                    volume: s * amplitude * volume,
                    area: s * amplitude * (gradient + edge),
                }
            }
            Profile::Tabulated(t) => t.terms(r, dim),
        }
    }

    /// Largest radius the profile describes (tables), or `None` (unbounded).
    pub fn r_max(&self) -> Option<f64> {
        match self {
            Profile::Tabulated(t) => Some(t.r_max()),
            _ => None,
        }
    }

    /// Radii where dG(r) may have a kink (table points), added to the search grid.
    pub fn nodes(&self) -> Vec<f64> {
        match self {
            Profile::Tabulated(t) => t.r.clone(),
            Profile::GeneralizedGaussian { lambda, .. } => vec![*lambda],
            Profile::SelfSimilar { .. } => Vec::new(),
        }
    }

    /// Warnings about the profile itself (non-monotone, alpha outside [0, 1]).
    pub fn warnings(&self) -> Vec<Warning> {
        match self {
            Profile::Tabulated(t) => t.warnings.clone(),
            Profile::SelfSimilar { amplitude, .. }
            | Profile::GeneralizedGaussian { amplitude, .. }
                if *amplitude > 1.0 =>
            {
                vec![Warning::OutOfRange {
                    source_name: "profile".to_string(),
                    place: "amplitude".to_string(),
                    value: *amplitude,
                }]
            }
            _ => Vec::new(),
        }
    }
}

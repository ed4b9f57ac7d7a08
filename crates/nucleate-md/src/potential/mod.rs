//! Interatomic potentials of the embedded-atom form, E = sum_i F_i(rho_i) + 1/2 sum_{i != j}
//! phi_ij(r_ij), rho_i = sum_{j != i} f_j(r_ij): tabulated LAMMPS files ([`eam`]) and analytic
//! forms ([`sutton_chen`]). Every model answers the same three questions the force loop asks
//! ([`EamModel`]), so one loop serves them all.

pub mod eam;
pub mod sutton_chen;

use std::path::Path;

use crate::error::MdError;
pub use eam::EamTables;
pub use sutton_chen::SuttonChen;

/// An element of a potential.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Chemical symbol.
    pub name: String,
    /// Atomic number.
    pub atomic_number: u32,
    /// Mass (amu).
    pub mass: f64,
}

/// The functions of an EAM model, as the force loop needs them. Species are indices into
/// [`EamModel::elements`].
pub trait EamModel: Sync + Send {
    /// The elements, in the model's order.
    fn elements(&self) -> &[Element];
    /// Pairs interact when r^2 < cutoff^2 (A).
    fn cutoff(&self) -> f64;
    /// Densities (f_sj(r) contributed by j at i, f_si(r) by i at j).
    fn density(&self, si: usize, sj: usize, r: f64) -> (f64, f64);
    /// Embedding energy F(rho) (eV; 0 unless `energy`) and dF/drho.
    fn embed(&self, s: usize, rho: f64, energy: bool) -> (f64, f64);
    /// `[df_sj/dr, df_si/dr, phi, dphi/dr]` at distance r (eV, A).
    fn pair(&self, si: usize, sj: usize, r: f64) -> [f64; 4];
}

/// Where the potential comes from and its data.
#[derive(Debug, Clone)]
pub enum Potential {
    /// A LAMMPS funcfl or setfl table; `text` is the file's content (for LAMMPS exports) and
    /// `file_name` its name.
    Tabulated {
        /// Tables and splines.
        tables: Box<EamTables>,
        /// The file's text.
        text: String,
        /// The file's name (or the built-in's).
        file_name: String,
        /// Whether the file is setfl (`pair_style eam/alloy`) rather than funcfl.
        setfl: bool,
    },
    /// An analytic Sutton-Chen potential.
    SuttonChen(SuttonChen),
}

/// The Foiles-Baskes-Daw Pt EAM (LAMMPS `Pt_u3.eam`), shipped with the program.
const PT_U3: &str = include_str!("../../data/Pt_u3.eam");

/// Names accepted after `builtin:`.
pub const BUILTIN_NAMES: [&str; 3] = ["pt-u3", "sutton-chen-pt", "sutton-chen-pd"];

impl Potential {
    /// A potential from `builtin:NAME` (see [`BUILTIN_NAMES`]) or a file path (setfl when the
    /// name ends in `.alloy` or `.setfl`, funcfl otherwise).
    pub fn load(spec: &str) -> Result<Self, MdError> {
        if let Some(name) = spec.strip_prefix("builtin:") {
            return match name {
                "pt-u3" => {
                    let tables = EamTables::parse_funcfl(Path::new("builtin:pt-u3"), PT_U3)?;
                    Ok(Potential::Tabulated {
                        tables: Box::new(tables),
                        text: PT_U3.to_string(),
                        file_name: "Pt_u3.eam".into(),
                        setfl: false,
                    })
                }
                "sutton-chen-pt" => Ok(Potential::SuttonChen(SuttonChen::platinum())),
                "sutton-chen-pd" => Ok(Potential::SuttonChen(SuttonChen::palladium())),
                _ => Err(MdError::Invalid(format!(
                    "unknown built-in potential `{name}` (known: {})",
                    BUILTIN_NAMES.join(", ")
                ))),
            };
        }
        let path = Path::new(spec);
        let tables = EamTables::read(path)?;
        let text = std::fs::read_to_string(path).map_err(|e| MdError::io(path, e))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "potential.eam".into());
        let lower = file_name.to_ascii_lowercase();
        Ok(Potential::Tabulated {
            tables: Box::new(tables),
            text,
            file_name,
            setfl: lower.ends_with(".alloy") || lower.ends_with(".setfl"),
        })
    }

    /// The model behind the potential.
    pub fn model(&self) -> &dyn EamModel {
        match self {
            Potential::Tabulated { tables, .. } => tables.as_ref(),
            Potential::SuttonChen(sc) => sc,
        }
    }

    /// The elements.
    pub fn elements(&self) -> &[Element] {
        self.model().elements()
    }

    /// Cutoff (A).
    pub fn cutoff(&self) -> f64 {
        self.model().cutoff()
    }

    /// Element index of each species name of a configuration: by symbol, by LAMMPS type
    /// number (`1` is the first element), or, for a single-element potential and a single
    /// species, whatever its name.
    pub fn species_map(&self, species_names: &[String]) -> Result<Vec<usize>, MdError> {
        let el = self.elements();
        species_names
            .iter()
            .map(|name| {
                if let Some(k) = el.iter().position(|e| e.name.eq_ignore_ascii_case(name)) {
                    return Ok(k);
                }
                if let Ok(t) = name.parse::<usize>() {
                    if (1..=el.len()).contains(&t) {
                        return Ok(t - 1);
                    }
                }
                if el.len() == 1 && species_names.len() == 1 {
                    return Ok(0);
                }
                Err(MdError::Invalid(format!(
                    "species `{name}` is not an element of the potential ({})",
                    el.iter()
                        .map(|e| e.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            })
            .collect()
    }
}

//! nucleate-nuclei: nuclei in a per-atom order field.
//!
//! - [`identify`]: core climbing with persistence merging (nuclei.md);
//! - [`metrics`]: N_eff, A_eff, sphericity, gyration tensor, surface site;
//! - [`profile`]: radial order profiles and their generalized-Gaussian fit;
//! - [`track`]: the same nuclei followed through time by shared atom ids, with merge and
//!   divide events;
//! - [`analyse`]: all of it for one frame, as `nucleate nuclei` reports it.
//!
//! The order field is a plain `&[f64]` with phase labels, so the same code serves the alpha of
//! monatomic MD and the chemical order of alloys.

// Loops over the three axes index several arrays at once; iterators would hide that.
#![allow(clippy::needless_range_loop)]

pub mod identify;
pub mod metrics;
pub mod null_model;
pub mod profile;
pub mod tetragonality;
pub mod track;

use glam::DVec3;
use rayon::prelude::*;

use nucleate_core::{CoreError, Frame, NeighborList, NeighborSpec};

pub use identify::{identify, ClimbParams, Identification, Nucleus};
pub use metrics::{GridSpec, Gyration, IsoSurface, Site};
pub use profile::{fit_profile, radial_profile, ProfileFit, RadialProfile};

/// Errors of the nuclei pipeline.
#[derive(Debug, thiserror::Error)]
pub enum NucleiError {
    /// A parameter out of range.
    #[error("{0}")]
    Parameter(String),
    /// Inputs of different lengths.
    #[error("{0}")]
    Mismatch(String),
    /// From the neighbour search.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Settings of [`analyse`].
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisParams {
    /// Core-climbing parameters.
    pub climb: ClimbParams,
    /// Shell width of radial profiles (Angstrom).
    pub profile_bin: f64,
    /// Fit a constant background under the profile (MD).
    pub background: bool,
    /// Volume per atom (Angstrom^3) where the frame is not fully periodic (a^3 / 4 of fcc).
    pub v_atom: f64,
    /// Lattice constant (Angstrom): "surface" sites lie closer than this to the surface.
    pub lattice_a: f64,
    /// Grid of the iso-surface.
    pub grid: GridSpec,
    /// Atoms with at most this many first-shell neighbours are surface atoms of a particle.
    pub surface_max_coordination: u32,
}

impl Default for AnalysisParams {
    fn default() -> Self {
        Self {
            climb: ClimbParams::md(),
            profile_bin: 0.5,
            background: true,
            v_atom: 3.92f64.powi(3) / 4.0,
            lattice_a: 3.92,
            grid: GridSpec::default(),
            surface_max_coordination: 9,
        }
    }
}

/// Everything measured about one nucleus.
#[derive(Debug, Clone, PartialEq)]
pub struct NucleusRecord {
    /// Members, core atoms and positions.
    pub nucleus: Nucleus,
    /// Effective number of atoms (sum of member orders).
    pub n_eff: f64,
    /// Effective surface area (Angstrom^2).
    pub a_eff: f64,
    /// The iso-surface at the threshold (None if it could not be built).
    pub surface: Option<IsoSurface>,
    /// Gyration tensor descriptors of the members.
    pub gyration: Gyration,
    /// Radial order profile around the core.
    pub profile: RadialProfile,
    /// Its fit (None if it failed).
    pub fit: Option<ProfileFit>,
    /// Site in a particle (None in a fully periodic frame).
    pub site: Option<Site>,
    /// File ids of the members (row indices where the frame has no ids), ascending.
    pub ids: Vec<i64>,
}

/// Nuclei of one frame and their metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameNuclei {
    /// The identification (labels per atom).
    pub identification: Identification,
    /// One record per nucleus, in nucleus order.
    pub records: Vec<NucleusRecord>,
}

/// Identify and measure the nuclei of `frame` in the order field `order` with `phase` labels.
pub fn analyse(
    frame: &Frame,
    order: &[f64],
    phase: &[u16],
    params: &AnalysisParams,
) -> Result<FrameNuclei, NucleiError> {
    let c = &params.climb;
    c.validate()?;
    if !(params.profile_bin.is_finite() && params.profile_bin > 0.0) {
        return Err(NucleiError::Parameter(format!(
            "profile bin must be positive, got {}",
            params.profile_bin
        )));
    }
    let list = NeighborList::build(
        frame,
        NeighborSpec::Cutoff {
            r: c.radius.max(c.shell_radius),
        },
    )?;
    let ident = identify(frame, &list, order, phase, c)?;
    let grads = metrics::gradients(&list, &ident.order, c.shell_radius);
    let v_atom = metrics::volume_per_atom(frame, params.v_atom);
    let surface = if frame.cell.periodic().iter().all(|&p| p) {
        Vec::new()
    } else {
        metrics::surface_atoms(&ident.coordination, params.surface_max_coordination)
    };
    let records = ident
        .nuclei
        .par_iter()
        .map(|nucleus| {
            let member_orders: Vec<f64> = nucleus
                .members
                .iter()
                .map(|&m| ident.order[m as usize])
                .collect();
            let core = DVec3::from_array(frame.cell.wrap(nucleus.core_position));
            let extent = nucleus
                .unwrapped
                .iter()
                .map(|p| {
                    let d = frame
                        .cell
                        .minimum_image((DVec3::from_array(*p) - core).to_array());
                    DVec3::from_array(d).length()
                })
                .fold(0.0, f64::max);
            let r_max = (extent + 2.0 * c.radius).max(3.0 * c.radius);
            let profile = radial_profile(
                frame,
                &ident.order,
                nucleus.core_position,
                params.profile_bin,
                r_max,
                None,
            );
            let ids = match &frame.ids {
                Some(ids) => {
                    let mut v: Vec<i64> =
                        nucleus.members.iter().map(|&m| ids[m as usize]).collect();
                    v.sort_unstable();
                    v
                }
                None => nucleus.members.iter().map(|&m| m as i64).collect(),
            };
            NucleusRecord {
                n_eff: member_orders.iter().sum(),
                a_eff: metrics::effective_area(nucleus, &grads, v_atom),
                surface: metrics::iso_surface(
                    &nucleus.unwrapped,
                    &member_orders,
                    v_atom,
                    c.threshold,
                    params.grid,
                ),
                gyration: metrics::gyration(&nucleus.unwrapped),
                fit: fit_profile(&profile, params.background),
                profile,
                site: metrics::site(
                    frame,
                    nucleus.core_position,
                    &surface,
                    &ident.coordination,
                    params.lattice_a,
                ),
                ids,
                nucleus: nucleus.clone(),
            }
        })
        .collect();
    Ok(FrameNuclei {
        identification: ident,
        records,
    })
}

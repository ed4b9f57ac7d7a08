//! The EAM force loop over a half Verlet list, in LAMMPS' two passes: densities, then
//! embedding derivatives, then pair forces.
//!
//! Parallel scheme: the atoms are split into one contiguous block per worker thread, balanced
//! by pair count; each block accumulates densities and forces into its own buffers (a pair's
//! j may belong to another block), and the buffers are summed in block order. The result is
//! therefore the same for a fixed thread count, and with one thread it is the plain serial
//! half-list loop.

use glam::DVec3;
use nucleate_core::SimBox;
use rayon::prelude::*;

use crate::neighbor::VerletList;
use crate::potential::{EamModel, Potential};

/// What a force evaluation returns.
#[derive(Debug, Clone, Default)]
pub struct ForceResult {
    /// Forces (eV/A).
    pub forces: Vec<[f64; 3]>,
    /// Total potential energy (eV); computed when asked for.
    pub energy: f64,
    /// Per-atom potential energies (eV), when asked for: F_i + 1/2 sum_j phi_ij.
    pub per_atom: Vec<f64>,
    /// Virial sum_{pairs} r_ij (x) f_ij as xx, yy, zz, xy, xz, yz (eV).
    pub virial: [f64; 6],
}

/// What to compute besides forces and virial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyRequest {
    /// Forces and virial only (most MD steps).
    None,
    /// Also the total energy.
    Total,
    /// Also per-atom energies.
    PerAtom,
}

/// Scratch buffers reused between evaluations.
#[derive(Debug, Default)]
pub struct Workspace {
    rho: Vec<f64>,
    fp: Vec<f64>,
    blocks: Vec<Block>,
}

/// A listed pair found inside the cutoff by the density pass, kept for the force pass so it
/// neither tests the distance again nor takes its square root.
#[derive(Debug, Default, Clone, Copy)]
struct Near {
    j: u32,
    image: u32,
    /// The distance (A); the squared distance while the pair is a candidate.
    r: f64,
}

#[derive(Debug, Default, Clone)]
struct Block {
    rho: Vec<f64>,
    force: Vec<[f64; 3]>,
    energy_atom: Vec<f64>,
    energy: f64,
    virial: [f64; 6],
    /// Pairs inside the cutoff of the block's atoms, in list order, and where each atom's
    /// start (block-local atom index).
    near: Vec<Near>,
    near_offsets: Vec<usize>,
}

/// Evaluate energies, forces and virial of `positions` (A) with element indices `species`.
#[allow(clippy::too_many_arguments)]
pub fn compute(
    potential: &Potential,
    positions: &[[f64; 3]],
    species: &[usize],
    cell: &SimBox,
    list: &VerletList,
    request: EnergyRequest,
    work: &mut Workspace,
    out: &mut ForceResult,
) {
    match potential {
        Potential::Tabulated { tables, .. } => compute_with(
            tables.as_ref(),
            positions,
            species,
            cell,
            list,
            request,
            work,
            out,
        ),
        Potential::SuttonChen(sc) => {
            compute_with(sc, positions, species, cell, list, request, work, out)
        }
    }
}

/// Block boundaries over atoms, balanced by the number of listed pairs.
fn block_bounds(offsets: &[usize], blocks: usize) -> Vec<usize> {
    let n = offsets.len() - 1;
    let total = offsets[n];
    let mut b = vec![0usize; blocks + 1];
    for k in 1..blocks {
        let target = total * k / blocks;
        b[k] = offsets
            .partition_point(|&o| o < target)
            .min(n)
            .max(b[k - 1]);
    }
    b[blocks] = n;
    b
}

/// The force loop for one model (monomorphised, so model calls inline).
#[allow(clippy::too_many_arguments)]
pub fn compute_with<M: EamModel>(
    model: &M,
    positions: &[[f64; 3]],
    species: &[usize],
    cell: &SimBox,
    list: &VerletList,
    request: EnergyRequest,
    work: &mut Workspace,
    out: &mut ForceResult,
) {
    // One element: species lookups drop out of the loops.
    if model.elements().len() == 1 {
        compute_species::<M, true>(model, positions, species, cell, list, request, work, out)
    } else {
        compute_species::<M, false>(model, positions, species, cell, list, request, work, out)
    }
}

#[allow(clippy::too_many_arguments)]
fn compute_species<M: EamModel, const SINGLE: bool>(
    model: &M,
    positions: &[[f64; 3]],
    species: &[usize],
    cell: &SimBox,
    list: &VerletList,
    request: EnergyRequest,
    work: &mut Workspace,
    out: &mut ForceResult,
) {
    let n = positions.len();
    assert_eq!(list.len(), n, "neighbour list built for another system");
    assert!(SINGLE || species.len() == n, "one species per atom");
    let cutsq = model.cutoff() * model.cutoff();
    let element = |i: usize| if SINGLE { 0 } else { species[i] };
    let shifts: Vec<DVec3> = list
        .images()
        .iter()
        .map(|&s| cell.shift_vector(s))
        .collect();
    let offsets = list.offsets();
    let pairs = list.pairs();
    let nblocks = rayon::current_num_threads().max(1).min(n.max(1));
    let bounds = block_bounds(offsets, nblocks);
    let per_atom = request == EnergyRequest::PerAtom;
    let energy = request != EnergyRequest::None;

    work.blocks.resize_with(nblocks, Block::default);
    work.blocks.truncate(nblocks);
    let blocks = &mut work.blocks;

    // Pass 1: densities; the pairs inside the cutoff are kept with their distance.
    blocks.par_iter_mut().enumerate().for_each(|(b, blk)| {
        blk.rho.clear();
        blk.rho.resize(n, 0.0);
        // `near` only grows: slots are written before they are read, so it is never cleared.
        let listed_total = offsets[bounds[b + 1]] - offsets[bounds[b]];
        if blk.near.len() < listed_total {
            blk.near.resize(listed_total, Near::default());
        }
        blk.near_offsets.clear();
        blk.near_offsets.push(0);
        let rho = &mut blk.rho;
        let near = &mut blk.near[..listed_total];
        let mut end = 0;
        for i in bounds[b]..bounds[b + 1] {
            let xi = DVec3::from_array(positions[i]);
            let si = element(i);
            let listed = &pairs[offsets[i]..offsets[i + 1]];
            // Every listed pair is written and the slot kept when inside the cutoff: no
            // branch on the distance test, which goes either way at random.
            let start = end;
            let slots = &mut near[start..start + listed.len()];
            let mut kept = 0;
            for &(j, image) in listed {
                let d = xi - (DVec3::from_array(positions[j as usize]) + shifts[image as usize]);
                let rsq = d.length_squared();
                slots[kept] = Near { j, image, r: rsq };
                kept += usize::from(rsq < cutsq);
            }
            end = start + kept;
            let mut rho_i = 0.0;
            for e in &mut near[start..end] {
                let j = e.j as usize;
                let r = e.r.sqrt();
                e.r = r;
                let (at_i, at_j) = model.density(si, element(j), r);
                rho_i += at_i;
                rho[j] += at_j;
            }
            rho[i] += rho_i;
            blk.near_offsets.push(end);
        }
    });
    work.rho.resize(n, 0.0);
    reduce_scalar(&mut work.rho, blocks.iter().map(|b| b.rho.as_slice()));

    // Embedding energies and derivatives.
    work.fp.resize(n, 0.0);
    let rho = &work.rho;
    out.per_atom.clear();
    if per_atom {
        out.per_atom.resize(n, 0.0);
    }
    let mut embed_total = 0.0;
    for (i, (fp, &rho)) in work.fp.iter_mut().zip(rho).enumerate() {
        let (f, fpi) = model.embed(element(i), rho, energy);
        *fp = fpi;
        if energy {
            embed_total += f;
            if per_atom {
                out.per_atom[i] = f;
            }
        }
    }
    let fp = &work.fp[..n];

    // Pass 2: forces, pair energies, virial, over the kept pairs.
    blocks.par_iter_mut().enumerate().for_each(|(b, blk)| {
        blk.force.clear();
        blk.force.resize(n, [0.0; 3]);
        blk.energy_atom.clear();
        if per_atom {
            blk.energy_atom.resize(n, 0.0);
        }
        let force = &mut blk.force[..n];
        let mut e = 0.0;
        let mut v = [0.0f64; 6];
        let first = bounds[b];
        for (k, w) in blk.near_offsets.windows(2).enumerate() {
            let i = first + k;
            let xi = DVec3::from_array(positions[i]);
            let si = element(i);
            let fpi = fp[i];
            let mut fi = [0.0f64; 3];
            for p in &blk.near[w[0]..w[1]] {
                let j = p.j as usize;
                let d = xi - (DVec3::from_array(positions[j]) + shifts[p.image as usize]);
                let r = p.r;
                let [rhojp, rhoip, phi, phip] = model.pair(si, element(j), r);
                let recip = 1.0 / r;
                let psip = fpi * rhojp + fp[j] * rhoip + phip;
                let fpair = -psip * recip;
                let f = [d.x * fpair, d.y * fpair, d.z * fpair];
                fi[0] += f[0];
                fi[1] += f[1];
                fi[2] += f[2];
                let fj = &mut force[j];
                fj[0] -= f[0];
                fj[1] -= f[1];
                fj[2] -= f[2];
                v[0] += d.x * f[0];
                v[1] += d.y * f[1];
                v[2] += d.z * f[2];
                v[3] += d.x * f[1];
                v[4] += d.x * f[2];
                v[5] += d.y * f[2];
                if energy {
                    e += phi;
                    if per_atom {
                        blk.energy_atom[i] += 0.5 * phi;
                        blk.energy_atom[j] += 0.5 * phi;
                    }
                }
            }
            let f = &mut force[i];
            f[0] += fi[0];
            f[1] += fi[1];
            f[2] += fi[2];
        }
        blk.energy = e;
        blk.virial = v;
    });

    out.forces.resize(n, [0.0; 3]);
    reduce_vector(&mut out.forces, blocks.iter().map(|b| b.force.as_slice()));
    if per_atom {
        for blk in blocks.iter() {
            for (o, e) in out.per_atom.iter_mut().zip(&blk.energy_atom) {
                *o += e;
            }
        }
    }
    out.virial = [0.0; 6];
    out.energy = 0.0;
    for blk in blocks.iter() {
        for k in 0..6 {
            out.virial[k] += blk.virial[k];
        }
        out.energy += blk.energy;
    }
    out.energy = if energy {
        embed_total + out.energy
    } else {
        0.0
    };
}

/// `out[i] = sum_b parts[b][i]`, summed in block order.
fn reduce_scalar<'a>(out: &mut [f64], parts: impl Iterator<Item = &'a [f64]> + Clone) {
    let parts: Vec<&[f64]> = parts.collect();
    out.par_chunks_mut(4096).enumerate().for_each(|(c, o)| {
        let base = c * 4096;
        for (k, x) in o.iter_mut().enumerate() {
            let mut s = parts[0][base + k];
            for p in &parts[1..] {
                s += p[base + k];
            }
            *x = s;
        }
    });
}

fn reduce_vector<'a>(out: &mut [[f64; 3]], parts: impl Iterator<Item = &'a [[f64; 3]]>) {
    let parts: Vec<&[[f64; 3]]> = parts.collect();
    out.par_chunks_mut(4096).enumerate().for_each(|(c, o)| {
        let base = c * 4096;
        for (k, x) in o.iter_mut().enumerate() {
            let mut s = parts[0][base + k];
            for p in &parts[1..] {
                let q = p[base + k];
                s[0] += q[0];
                s[1] += q[1];
                s[2] += q[2];
            }
            *x = s;
        }
    });
}

/// Pressure (bar) from the kinetic energy 2 * KE (eV), the virial trace (eV) and the volume
/// (A^3): P = (2 KE + tr W) / (3 V), converted with LAMMPS' metal-units factor.
pub fn pressure_bar(twice_kinetic_ev: f64, virial: &[f64; 6], volume_a3: f64) -> f64 {
    (twice_kinetic_ev + virial[0] + virial[1] + virial[2]) / (3.0 * volume_a3)
        * crate::units::NKTV2P
}

/// A one-off evaluation of a configuration: builds its own list (no skin).
pub fn evaluate(
    potential: &Potential,
    positions: &[[f64; 3]],
    species: &[usize],
    cell: &SimBox,
    request: EnergyRequest,
) -> ForceResult {
    let mut list = VerletList::new(potential.cutoff(), 0.0);
    list.build(positions, cell);
    let mut work = Workspace::default();
    let mut out = ForceResult::default();
    compute(
        potential, positions, species, cell, &list, request, &mut work, &mut out,
    );
    out
}

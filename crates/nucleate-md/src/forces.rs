//! The EAM force loop over a half Verlet list, in LAMMPS' two passes: densities, then
//! embedding derivatives, then pair forces.
//!
//! Parallel scheme: the atoms are split into one contiguous block per worker thread, balanced
//! by pair count; each block accumulates densities and forces into its own buffers (a pair's
//! j may belong to another block), and the buffers are summed in block order. The result is
//! therefore the same for a fixed thread count, and with one thread it is the plain serial
//! half-list loop.
//!
//! The blocks run on a [`Team`] of threads that stay with the run (one per rayon thread),
//! meeting at spin barriers between the passes.
//!
//! The virial is not summed pair by pair: sum_pairs d_ij (x) f_ij = sum_i x_i (x) F_i minus,
//! for pairs with a periodic image, the image shift (x) f_ij. Only the (few) wrapped pairs
//! carry virial work; the rest is one pass over the atoms.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use glam::DVec3;
use nucleate_core::SimBox;

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

/// Scratch buffers reused between evaluations, and the worker threads that share them.
#[derive(Debug, Default)]
pub struct Workspace {
    fp: Vec<f64>,
    blocks: Vec<Block>,
    team: Option<Team>,
}

impl Workspace {
    /// The team of `threads` members (the calling thread and `threads - 1` workers), started
    /// on first use; `None` for one thread.
    pub(crate) fn team(&mut self, threads: usize) -> Option<&Team> {
        if threads <= 1 {
            self.team = None;
            return None;
        }
        if self.team.as_ref().map(Team::size) != Some(threads) {
            self.team = Some(Team::new(threads));
        }
        self.team.as_ref()
    }
}

/// One thread's share: its atoms' pairs inside the cutoff, and its contributions to every
/// atom's density, force and energy.
#[derive(Debug, Default, Clone)]
struct Block {
    rho: Vec<f64>,
    force: Vec<[f64; 3]>,
    energy_atom: Vec<f64>,
    energy: f64,
    /// -sum over wrapped pairs of shift (x) f (eV).
    virial_wrap: [f64; 6],
    /// The listed pairs found inside the cutoff by the density pass, kept for the force pass
    /// so it neither tests the distance again nor takes its square root: neighbour index,
    /// distance (A; the squared distance while a candidate), image index (wrapped pairs).
    near_j: Vec<u32>,
    near_r: Vec<f64>,
    near_image: Vec<u32>,
    /// Per atom of the block, where its home pairs end and where its wrapped pairs end (its
    /// pairs start where the previous atom's end).
    near_ends: Vec<[usize; 2]>,
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
fn block_bounds(list: &VerletList, blocks: usize) -> Vec<usize> {
    let n = list.len();
    let total = list.pairs_before(n);
    let mut b = vec![0usize; blocks + 1];
    for k in 1..blocks {
        let target = total * k / blocks;
        // First atom with at least `target` pairs before it.
        let (mut lo, mut hi) = (b[k - 1], n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if list.pairs_before(mid) < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        b[k] = lo;
    }
    b[blocks] = n;
    b
}

/// A fixed team of threads for the per-step loops: the caller is member 0, the workers wait
/// for work spinning (then parked), and the loop's phases meet at spin barriers. A step's
/// loops are too short (tens of microseconds at a few thousand atoms) for a scheduler that
/// puts idle threads to sleep between them: waking a thread costs as much as the work.
/// Member t always does part t, so results are the same for a fixed team size.
pub(crate) struct Team {
    shared: Arc<TeamShared>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

type Job = *const (dyn Fn(usize) + Sync);

struct TeamShared {
    size: usize,
    /// Bumped (Release) after `job` is written: the workers' signal to start.
    generation: AtomicU64,
    /// Workers finished with the current job.
    done: AtomicUsize,
    panicked: AtomicBool,
    exit: AtomicBool,
    job: std::cell::UnsafeCell<Option<Job>>,
    barrier_count: AtomicUsize,
    barrier_generation: AtomicUsize,
}

// The job pointer is written only while no worker runs (all have reported `done`) and read
// only after the generation bump that publishes it.
unsafe impl Sync for TeamShared {}
unsafe impl Send for TeamShared {}

impl std::fmt::Debug for Team {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Team({})", self.shared.size)
    }
}

/// Wait until `ready()`: spinning briefly, then yielding the core (a partner that was
/// descheduled gets it back at once), and after a few milliseconds sleeping in short naps.
/// On an idle machine the partner is ready within microseconds; on a crowded one nothing
/// burns a core for long.
/// `nap` is how long a nap lasts (unless the thread is unparked).
#[inline]
fn wait_until(ready: impl Fn() -> bool, nap: std::time::Duration) {
    for _ in 0..256 {
        if ready() {
            return;
        }
        std::hint::spin_loop();
    }
    let t0 = std::time::Instant::now();
    while !ready() {
        if t0.elapsed() < std::time::Duration::from_millis(2) {
            std::thread::yield_now();
        } else {
            std::thread::park_timeout(nap);
        }
    }
}

/// Naps while waiting for a partner that nobody will unpark.
const SHORT_NAP: std::time::Duration = std::time::Duration::from_micros(200);

impl Team {
    fn new(size: usize) -> Self {
        let shared = Arc::new(TeamShared {
            size,
            generation: AtomicU64::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            exit: AtomicBool::new(false),
            job: std::cell::UnsafeCell::new(None),
            barrier_count: AtomicUsize::new(0),
            barrier_generation: AtomicUsize::new(0),
        });
        let workers = (1..size)
            .map(|member| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("md-worker-{member}"))
                    .spawn(move || worker(&shared, member))
                    .expect("cannot start a worker thread")
            })
            .collect();
        Self { shared, workers }
    }

    /// Number of members.
    pub(crate) fn size(&self) -> usize {
        self.shared.size
    }

    /// Run `job(member)` on every member, the caller being member 0; returns when all are done.
    pub(crate) fn run(&self, job: &(dyn Fn(usize) + Sync)) {
        let sh = &*self.shared;
        // Erase the lifetime: the workers use the pointer only until they report `done`, and
        // this function does not return before that.
        let ptr: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), Job>(job) };
        sh.done.store(0, Ordering::Relaxed);
        unsafe { *sh.job.get() = Some(ptr) };
        sh.generation.fetch_add(1, Ordering::Release);
        for w in &self.workers {
            w.thread().unpark();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(0)));
        wait_until(|| sh.done.load(Ordering::Acquire) == sh.size - 1, SHORT_NAP);
        unsafe { *sh.job.get() = None };
        if let Err(e) = mine {
            std::panic::resume_unwind(e);
        }
        assert!(
            !sh.panicked.load(Ordering::Relaxed),
            "a worker thread panicked"
        );
    }

    /// Wait until every member has reached this point (inside a job run by all members).
    pub(crate) fn barrier(&self) {
        let sh = &*self.shared;
        let generation = sh.barrier_generation.load(Ordering::Acquire);
        if sh.barrier_count.fetch_add(1, Ordering::AcqRel) + 1 == sh.size {
            sh.barrier_count.store(0, Ordering::Relaxed);
            sh.barrier_generation.fetch_add(1, Ordering::Release);
        } else {
            wait_until(
                || sh.barrier_generation.load(Ordering::Acquire) != generation,
                SHORT_NAP,
            );
        }
    }

    /// Member t's share of `0..n`: contiguous, in member order.
    pub(crate) fn part(&self, n: usize, member: usize) -> std::ops::Range<usize> {
        let chunk = n.div_ceil(self.size());
        (member * chunk).min(n)..((member + 1) * chunk).min(n)
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.exit.store(true, Ordering::Release);
        for w in self.workers.drain(..) {
            w.thread().unpark();
            let _ = w.join();
        }
    }
}

fn worker(sh: &TeamShared, member: usize) {
    let mut seen = 0u64;
    loop {
        // Wait for the next job as for a barrier: a step's gap between loops is far shorter
        // than the few milliseconds after which the waiting turns into naps.
        // (`run` unparks the workers, so their naps can be long.)
        wait_until(
            || sh.generation.load(Ordering::Acquire) != seen || sh.exit.load(Ordering::Acquire),
            std::time::Duration::from_millis(20),
        );
        if sh.exit.load(Ordering::Acquire) {
            return;
        }
        seen = sh.generation.load(Ordering::Acquire);
        let job = unsafe { (*sh.job.get()).expect("a job is published with the generation") };
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*job)(member) }));
        if r.is_err() {
            sh.panicked.store(true, Ordering::Relaxed);
        }
        sh.done.fetch_add(1, Ordering::Release);
    }
}

/// Disjoint mutable parts of a slice handed to the members of a team.
pub(crate) struct Parts<T> {
    ptr: *mut T,
    len: usize,
}

unsafe impl<T: Send> Sync for Parts<T> {}

impl<T> Parts<T> {
    pub(crate) fn new(s: &mut [T]) -> Self {
        Self {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// The elements `range`.
    ///
    /// # Safety
    /// No other reference to these elements may be live while the result is.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get(&self, range: std::ops::Range<usize>) -> &mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.end - range.start)
    }

    /// All elements, shared.
    ///
    /// # Safety
    /// No mutable reference to any element may be live while the result is.
    pub(crate) unsafe fn all(&self) -> &[T] {
        std::slice::from_raw_parts(self.ptr, self.len)
    }
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
    let shifts: Vec<DVec3> = list
        .images()
        .iter()
        .map(|&s| cell.shift_vector(s))
        .collect();
    let threads = rayon::current_num_threads().max(1).min(n.max(1));
    let bounds = block_bounds(list, threads);
    let per_atom = request == EnergyRequest::PerAtom;
    let energy = request != EnergyRequest::None;
    // The virial sum_i (x_i - c) (x) F_i is taken about the box centre c (sum_i F_i = 0, so
    // any point would do; the centre keeps the terms small).
    let o = cell.origin();
    let e = cell.edges();
    let centre = DVec3::from_array(o)
        + 0.5 * (DVec3::from_array(e[0]) + DVec3::from_array(e[1]) + DVec3::from_array(e[2]));
    let ctx = Passes::<M, SINGLE> {
        model,
        positions,
        species,
        list,
        shifts: &shifts,
        bounds: &bounds,
        cutsq: model.cutoff() * model.cutoff(),
        energy,
        per_atom,
        centre,
    };

    work.blocks.resize_with(threads, Block::default);
    work.blocks.truncate(threads);
    work.fp.resize(n, 0.0);
    out.forces.resize(n, [0.0; 3]);
    // Per member: embedding energy and the virial of its atoms.
    let mut partial = vec![[0.0f64; 7]; threads];
    let Workspace { fp, blocks, team } = work;
    if threads == 1 {
        *team = None;
        ctx.pass1(0, &mut blocks[0]);
        partial[0][0] = ctx.embed(0..n, fp, blocks);
        ctx.pass2(0, &mut blocks[0], fp);
        partial[0][1..].copy_from_slice(&ctx.reduce(0..n, &mut out.forces, blocks));
    } else {
        if team.as_ref().map(Team::size) != Some(threads) {
            *team = Some(Team::new(threads));
        }
        let team = team.as_ref().expect("started above");
        let (blocks, fp) = (Parts::new(blocks), Parts::new(fp));
        let (forces, partial) = (Parts::new(&mut out.forces), Parts::new(&mut partial));
        // Member t: block t in the passes over pairs, part t of the atoms in between. At
        // each barrier the phase's mutable references have ended.
        team.run(&|t| unsafe {
            ctx.pass1(t, &mut blocks.get(t..t + 1)[0]);
            team.barrier();
            let atoms = team.part(n, t);
            let e = ctx.embed(atoms.clone(), fp.get(atoms.clone()), blocks.all());
            team.barrier();
            ctx.pass2(t, &mut blocks.get(t..t + 1)[0], fp.all());
            team.barrier();
            let v = ctx.reduce(atoms.clone(), forces.get(atoms), blocks.all());
            let p = &mut partial.get(t..t + 1)[0];
            p[0] = e;
            p[1..].copy_from_slice(&v);
        });
    }

    let blocks = &work.blocks;
    out.virial = [0.0; 6];
    for p in &partial {
        for k in 0..6 {
            out.virial[k] += p[1 + k];
        }
    }
    for b in blocks {
        for k in 0..6 {
            out.virial[k] += b.virial_wrap[k];
        }
    }
    out.per_atom.clear();
    if per_atom {
        out.per_atom.resize(n, 0.0);
        for (i, e) in out.per_atom.iter_mut().enumerate() {
            let mut rho = blocks[0].rho[i];
            for blk in &blocks[1..] {
                rho += blk.rho[i];
            }
            *e = model.embed(ctx.element(i), rho, true).0;
        }
        for blk in blocks {
            for (o, e) in out.per_atom.iter_mut().zip(&blk.energy_atom) {
                *o += e;
            }
        }
    }
    out.energy = if energy {
        partial.iter().map(|p| p[0]).sum::<f64>() + blocks.iter().map(|b| b.energy).sum::<f64>()
    } else {
        0.0
    };
}

/// The phases of one evaluation, each over one block of atoms or one part of them.
struct Passes<'a, M, const SINGLE: bool> {
    model: &'a M,
    positions: &'a [[f64; 3]],
    species: &'a [usize],
    list: &'a VerletList,
    shifts: &'a [DVec3],
    bounds: &'a [usize],
    cutsq: f64,
    energy: bool,
    per_atom: bool,
    centre: DVec3,
}

impl<M: EamModel, const SINGLE: bool> Passes<'_, M, SINGLE> {
    #[inline(always)]
    fn element(&self, i: usize) -> usize {
        if SINGLE {
            0
        } else {
            self.species[i]
        }
    }

    /// Pass 1 over block b: densities; the pairs inside the cutoff are kept with their
    /// distance.
    fn pass1(&self, b: usize, blk: &mut Block) {
        let (positions, list, shifts, cutsq) = (self.positions, self.list, self.shifts, self.cutsq);
        let n = positions.len();
        let (lo, hi) = (self.bounds[b], self.bounds[b + 1]);
        blk.rho.clear();
        blk.rho.resize(n, 0.0);
        // The near arrays only grow: slots are written before they are read.
        let listed = list.pairs_before(hi) - list.pairs_before(lo);
        if blk.near_j.len() < listed {
            blk.near_j.resize(listed, 0);
            blk.near_r.resize(listed, 0.0);
            blk.near_image.resize(listed, 0);
        }
        blk.near_ends.clear();
        let rho = &mut blk.rho;
        let mut end = 0;
        for i in lo..hi {
            let xi = DVec3::from_array(positions[i]);
            let si = self.element(i);
            let start = end;
            // Every listed pair is written and the slot kept when inside the cutoff: no
            // branch on the distance test, which goes either way at random.
            let home = list.home(i);
            let mut kept = 0;
            {
                let js = &mut blk.near_j[start..start + home.len()];
                let rs = &mut blk.near_r[start..start + home.len()];
                for &j in home {
                    let d = xi - DVec3::from_array(positions[j as usize]);
                    let rsq = d.length_squared();
                    js[kept] = j;
                    rs[kept] = rsq;
                    kept += usize::from(rsq < cutsq);
                }
            }
            let home_end = start + kept;
            let wrapped = list.wrapped(i);
            kept = 0;
            {
                let js = &mut blk.near_j[home_end..home_end + wrapped.len()];
                let rs = &mut blk.near_r[home_end..home_end + wrapped.len()];
                let ims = &mut blk.near_image[home_end..home_end + wrapped.len()];
                for &(j, image) in wrapped {
                    let d =
                        xi - (DVec3::from_array(positions[j as usize]) + shifts[image as usize]);
                    let rsq = d.length_squared();
                    js[kept] = j;
                    rs[kept] = rsq;
                    ims[kept] = image;
                    kept += usize::from(rsq < cutsq);
                }
            }
            end = home_end + kept;
            let mut rho_i = 0.0;
            for (&j, r) in blk.near_j[start..end]
                .iter()
                .zip(&mut blk.near_r[start..end])
            {
                let j = j as usize;
                *r = r.sqrt();
                let (at_i, at_j) = self.model.density(si, self.element(j), *r);
                rho_i += at_i;
                rho[j] += at_j;
            }
            rho[i] += rho_i;
            blk.near_ends.push([home_end, end]);
        }
    }

    /// Densities of `atoms` summed in block order, their embedding derivatives into `fp`
    /// (`fp[0]` is atom `atoms.start`); returns their embedding energy (0 unless asked for).
    fn embed(&self, atoms: std::ops::Range<usize>, fp: &mut [f64], blocks: &[Block]) -> f64 {
        let mut total = 0.0;
        for (i, fp) in atoms.zip(fp) {
            let mut rho = blocks[0].rho[i];
            for blk in &blocks[1..] {
                rho += blk.rho[i];
            }
            let (f, fpi) = self.model.embed(self.element(i), rho, self.energy);
            *fp = fpi;
            total += f;
        }
        total
    }

    /// Pass 2 over block b: forces and pair energies over the kept pairs.
    fn pass2(&self, b: usize, blk: &mut Block, fp: &[f64]) {
        let (positions, shifts) = (self.positions, self.shifts);
        let n = positions.len();
        let (energy, per_atom) = (self.energy, self.per_atom);
        blk.force.clear();
        blk.force.resize(n, [0.0; 3]);
        blk.energy_atom.clear();
        if per_atom {
            blk.energy_atom.resize(n, 0.0);
        }
        let mut acc = PairAcc {
            force: &mut blk.force[..n],
            energy_atom: &mut blk.energy_atom,
            energy: 0.0,
            virial: [0.0; 6],
        };
        let element = |i| self.element(i);
        let mut start = 0;
        for (k, &[home_end, end]) in blk.near_ends.iter().enumerate() {
            let i = self.bounds[b] + k;
            let xi = DVec3::from_array(positions[i]);
            let mut fi = DVec3::ZERO;
            let home = blk.near_j[start..home_end]
                .iter()
                .zip(&blk.near_r[start..home_end]);
            for (&j, &r) in home {
                let j = j as usize;
                let d = xi - DVec3::from_array(positions[j]);
                fi += acc.pair::<M, false, _>(
                    self.model,
                    element,
                    i,
                    j,
                    r,
                    d,
                    fp,
                    energy,
                    per_atom,
                    DVec3::ZERO,
                );
            }
            let wrapped = blk.near_j[home_end..end]
                .iter()
                .zip(&blk.near_r[home_end..end])
                .zip(&blk.near_image[home_end..end]);
            for ((&j, &r), &image) in wrapped {
                let j = j as usize;
                let s = shifts[image as usize];
                let d = xi - (DVec3::from_array(positions[j]) + s);
                fi += acc
                    .pair::<M, true, _>(self.model, element, i, j, r, d, fp, energy, per_atom, s);
            }
            let f = &mut acc.force[i];
            f[0] += fi.x;
            f[1] += fi.y;
            f[2] += fi.z;
            start = end;
        }
        blk.energy = acc.energy;
        blk.virial_wrap = acc.virial;
    }

    /// Forces on `atoms` summed in block order into `forces` (`forces[0]` is atom
    /// `atoms.start`); returns their sum (x_i - c) (x) F_i.
    fn reduce(
        &self,
        atoms: std::ops::Range<usize>,
        forces: &mut [[f64; 3]],
        blocks: &[Block],
    ) -> [f64; 6] {
        let mut v = [0.0f64; 6];
        for (i, out) in atoms.zip(forces) {
            let mut s = blocks[0].force[i];
            for blk in &blocks[1..] {
                let q = blk.force[i];
                s[0] += q[0];
                s[1] += q[1];
                s[2] += q[2];
            }
            *out = s;
            let x = DVec3::from_array(self.positions[i]) - self.centre;
            v[0] += x.x * s[0];
            v[1] += x.y * s[1];
            v[2] += x.z * s[2];
            v[3] += x.x * s[1];
            v[4] += x.x * s[2];
            v[5] += x.y * s[2];
        }
        v
    }
}

/// What the force pass accumulates in a block.
struct PairAcc<'a> {
    force: &'a mut [[f64; 3]],
    energy_atom: &'a mut [f64],
    energy: f64,
    virial: [f64; 6],
}

impl PairAcc<'_> {
    /// The pair (i, j) at separation `d` = x_i - x_j' (A), distance r: adds -f to j and
    /// returns f, the force on i. A wrapped pair (`WRAPPED`, shift s) also adds -s (x) f to
    /// the virial.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn pair<M: EamModel, const WRAPPED: bool, E: Fn(usize) -> usize>(
        &mut self,
        model: &M,
        element: E,
        i: usize,
        j: usize,
        r: f64,
        d: DVec3,
        fp: &[f64],
        energy: bool,
        per_atom: bool,
        s: DVec3,
    ) -> DVec3 {
        let [rhojp, rhoip, phi, phip] = model.pair(element(i), element(j), r);
        let recip = 1.0 / r;
        let psip = fp[i] * rhojp + fp[j] * rhoip + phip;
        let fpair = -psip * recip;
        let f = d * fpair;
        let fj = &mut self.force[j];
        fj[0] -= f.x;
        fj[1] -= f.y;
        fj[2] -= f.z;
        if WRAPPED {
            let v = &mut self.virial;
            v[0] -= s.x * f.x;
            v[1] -= s.y * f.y;
            v[2] -= s.z * f.z;
            v[3] -= s.x * f.y;
            v[4] -= s.x * f.z;
            v[5] -= s.y * f.z;
        }
        if energy {
            self.energy += phi;
            if per_atom {
                self.energy_atom[i] += 0.5 * phi;
                self.energy_atom[j] += 0.5 * phi;
            }
        }
        f
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member runs the job once per run; after a barrier each sees what all the others
    /// wrote before it; parts tile the range in order. Many runs, to give races a chance.
    #[test]
    fn team_runs_every_member_and_barriers_order_the_phases() {
        for size in [2, 3] {
            let team = Team::new(size);
            let mut slots = vec![0usize; size];
            let mut seen = vec![0usize; size];
            for round in 1..=500 {
                let (s, v) = (Parts::new(&mut slots), Parts::new(&mut seen));
                team.run(&|t| unsafe {
                    s.get(t..t + 1)[0] = round * 10 + t;
                    team.barrier();
                    v.get(t..t + 1)[0] = s.all().iter().sum();
                });
                let want: usize = (0..size).map(|t| round * 10 + t).sum();
                assert!(seen.iter().all(|&x| x == want), "{round}: {seen:?}");
            }
            let parts: Vec<_> = (0..size).map(|t| team.part(10, t)).collect();
            assert_eq!(parts.first().unwrap().start, 0);
            assert_eq!(parts.last().unwrap().end, 10);
            assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}

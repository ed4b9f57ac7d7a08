//! LAMMPS text dumps (`dump atom` / `dump custom`), read as a stream of frames and written.
//!
//! Reading:
//! - `ITEM: TIMESTEP`, `ITEM: TIME`, `ITEM: UNITS`, `ITEM: NUMBER OF ATOMS`, `ITEM: BOX BOUNDS`
//!   and `ITEM: ATOMS <columns>`; gzip is handled by [`Input`].
//! - Box bounds: orthogonal (`xlo xhi`), restricted triclinic (`xlo_bound xhi_bound xy`, with
//!   the tilt corrections of the LAMMPS `dump` documentation undone) and general triclinic
//!   (`abc origin`: `ax ay az originx` per line). A boundary flag pair `pp` is periodic; any
//!   other (`ff`, `fs`, `sm`, ...) is open.
//! - Positions from the first present of `x y z`, `xu yu zu`, `xs ys zs` (scaled, r = lo + h s)
//!   and `xsu ysu zsu`; other position columns become properties.
//! - Species from an `element` column, else from `type` through [`ReadOptions`]-style type
//!   names (`types[k - 1]` for type `k`), else the type number as text; without either column
//!   every atom is `X`.
//! - Every other column becomes a real per-atom property; columns `name[1] name[2] ...` in a
//!   row become one property `name` with that many columns.
//! - Atoms are ordered by `id`; a repeated id is an error naming file, frame and line.
//!
//! [`ReadOptions`]: crate::io::ReadOptions

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::cell::SimBox;
use crate::error::CoreError;
use crate::frame::{Frame, PropertyValues};
use crate::io::text::{
    is_blank, order_by_id, parse_f64, parse_i64, parse_u64, place, show, write_f64, BlockEnd,
    FrameCursor, Input, LineBlock, SpeciesTable, Tokens,
};

/// What a column of `ITEM: ATOMS` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Id,
    Type,
    Element,
    /// Position component `d` (Cartesian or scaled, see `Header::scaled`).
    Pos(usize),
    /// Column `col` of extra property `prop`.
    Extra {
        prop: usize,
        col: usize,
    },
}

/// The header of one frame.
struct Header {
    timestep: Option<u64>,
    n_atoms: usize,
    cell: SimBox,
    roles: Vec<Role>,
    /// Column names, for error messages.
    columns: Vec<String>,
    /// Extra properties: name and number of columns.
    extras: Vec<(String, usize)>,
    scaled: bool,
    info: Vec<(String, String)>,
}

/// A LAMMPS text dump read frame by frame; memory is bounded by one frame.
pub struct DumpReader<R = Input> {
    cur: FrameCursor<R>,
    /// The atom lines of the frame being read, in segments, reused from frame to frame.
    blocks: Vec<LineBlock>,
    types: Option<Vec<String>>,
}

impl DumpReader<Input> {
    /// Open a dump file (gzip or not, detected from its first bytes). `types` maps LAMMPS
    /// type `k` to species `types[k - 1]`.
    pub fn open(path: impl AsRef<Path>, types: Option<Vec<String>>) -> Result<Self, CoreError> {
        let path = path.as_ref();
        Ok(Self::new(Input::open(path)?, path, types))
    }
}

impl<R: BufRead> DumpReader<R> {
    /// A reader of `input`; `path` names it in error messages.
    pub fn new(input: R, path: impl Into<PathBuf>, types: Option<Vec<String>>) -> Self {
        Self {
            cur: FrameCursor::new(input, path.into()),
            blocks: Vec::new(),
            types,
        }
    }

    /// 0-based index of the next frame.
    pub fn frame_index(&self) -> usize {
        self.cur.frame
    }

    /// Byte offset and number of lines before the next frame.
    pub(crate) fn byte_position(&self) -> (u64, u64) {
        self.cur.byte_position()
    }

    pub(crate) fn input_mut(&mut self) -> &mut R {
        self.cur.lines.inner_mut()
    }

    pub(crate) fn set_position(&mut self, offset: u64, line: u64, frame: usize) {
        self.cur.set_position(offset, line, frame)
    }

    /// The next frame, `None` at the end of the file. After an error the reader stops.
    pub fn read_frame(&mut self) -> Option<Result<Frame, CoreError>> {
        if self.cur.failed {
            return None;
        }
        let out = match self.read_header() {
            Ok(None) => return None,
            Ok(Some(h)) => self.read_atoms(h),
            Err(e) => Err(e),
        };
        match out {
            Ok(f) => {
                self.cur.frame += 1;
                Some(Ok(f))
            }
            Err(e) => {
                self.cur.failed = true;
                Some(Err(e))
            }
        }
    }

    /// Skip the next frame: its header is read, its atom lines are passed over without being
    /// parsed. `None` at the end of the file.
    pub fn skip_frame(&mut self) -> Option<Result<(), CoreError>> {
        if self.cur.failed {
            return None;
        }
        let out = match self.read_header() {
            Ok(None) => return None,
            Ok(Some(h)) => match self.cur.lines.skip_lines(h.n_atoms as u64) {
                Ok(k) if k == h.n_atoms as u64 => Ok(()),
                Ok(k) => Err(self.cur.err(format!(
                    "truncated frame: NUMBER OF ATOMS is {} but the file ends after {k} atom lines",
                    h.n_atoms
                ))),
                Err(e) => Err(self.cur.io_err(e)),
            },
            Err(e) => Err(e),
        };
        match out {
            Ok(()) => {
                self.cur.frame += 1;
                Some(Ok(()))
            }
            Err(e) => {
                self.cur.failed = true;
                Some(Err(e))
            }
        }
    }

    /// The next non-blank line as an owned string, or `None` at the end of the file.
    fn owned_line(&mut self) -> Result<Option<String>, CoreError> {
        loop {
            match self.cur.lines.next_line() {
                Ok(None) => return Ok(None),
                Ok(Some(l)) if is_blank(l) => continue,
                Ok(Some(l)) => return Ok(Some(String::from_utf8_lossy(l).trim().to_string())),
                Err(e) => return Err(self.cur.io_err(e)),
            }
        }
    }

    /// The value line of an `ITEM:`; an error naming the item at the end of the file.
    fn value_line(&mut self, item: &str) -> Result<String, CoreError> {
        match self.owned_line()? {
            Some(l) if !l.starts_with("ITEM:") => Ok(l),
            _ => Err(self.cur.err(format!("`ITEM: {item}` has no value line"))),
        }
    }

    fn read_header(&mut self) -> Result<Option<Header>, CoreError> {
        let mut line = match self.owned_line()? {
            None => return Ok(None),
            Some(l) => l,
        };
        let mut timestep = None;
        let mut n_atoms = None;
        let mut cell = None;
        let mut info = Vec::new();
        loop {
            let Some(item) = line.strip_prefix("ITEM:") else {
                let hint = if self.cur.frame > 0 {
                    " (more atom lines than NUMBER OF ATOMS in the previous frame?)"
                } else {
                    ""
                };
                return Err(self.cur.err(format!(
                    "expected an `ITEM:` line, found `{}`{hint}",
                    show(line.as_bytes())
                )));
            };
            let item = item.trim();
            if item == "TIMESTEP" {
                let v = self.value_line(item)?;
                let tok = v.split_ascii_whitespace().next().unwrap_or("");
                timestep = Some(parse_u64(tok.as_bytes()).ok_or_else(|| {
                    self.cur.err(format!(
                        "TIMESTEP `{}` is not a non-negative integer",
                        show(tok.as_bytes())
                    ))
                })?);
            } else if item == "TIME" || item == "UNITS" {
                let v = self.value_line(item)?;
                info.push((item.to_ascii_lowercase(), v));
            } else if item == "NUMBER OF ATOMS" {
                let v = self.value_line(item)?;
                let n = parse_u64(v.as_bytes())
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        self.cur.err(format!(
                            "NUMBER OF ATOMS `{}` is not a non-negative integer",
                            show(v.as_bytes())
                        ))
                    })?;
                n_atoms = Some(n);
            } else if let Some(flags) = item.strip_prefix("BOX BOUNDS") {
                cell = Some(self.read_box(flags)?);
            } else if let Some(cols) = item.strip_prefix("ATOMS") {
                let n_atoms = n_atoms
                    .ok_or_else(|| self.cur.err("`ITEM: ATOMS` before `ITEM: NUMBER OF ATOMS`"))?;
                let cell =
                    cell.ok_or_else(|| self.cur.err("`ITEM: ATOMS` before `ITEM: BOX BOUNDS`"))?;
                let columns: Vec<String> =
                    cols.split_ascii_whitespace().map(String::from).collect();
                let (roles, extras, scaled) = self.assign_columns(&columns)?;
                return Ok(Some(Header {
                    timestep,
                    n_atoms,
                    cell,
                    roles,
                    columns,
                    extras,
                    scaled,
                    info,
                }));
            } else {
                return Err(self
                    .cur
                    .err(format!("unknown item `ITEM: {}`", show(item.as_bytes()))));
            }
            line = match self.owned_line()? {
                Some(l) => l,
                None => {
                    return Err(self
                        .cur
                        .err("truncated frame: the file ends before `ITEM: ATOMS`"))
                }
            };
        }
    }

    /// `ITEM: BOX BOUNDS [xy xz yz | abc origin] [flags]` and its three lines.
    fn read_box(&mut self, flags: &str) -> Result<SimBox, CoreError> {
        let mut words: Vec<&str> = flags.split_ascii_whitespace().collect();
        let mut kind = 0; // 0 orthogonal, 1 restricted triclinic, 2 general triclinic
        if words.len() >= 3 && words[..3] == ["xy", "xz", "yz"] {
            kind = 1;
            words.drain(..3);
        } else if words.len() >= 2 && words[..2] == ["abc", "origin"] {
            kind = 2;
            words.drain(..2);
        }
        let periodic = match words.len() {
            // Dumps of old LAMMPS versions carry no flags; their boxes were periodic.
            0 => [true; 3],
            3 => [words[0] == "pp", words[1] == "pp", words[2] == "pp"],
            _ => {
                return Err(self.cur.err(format!(
                    "BOX BOUNDS flags `{}`: expected three boundary flags like `pp pp ff`",
                    flags.trim()
                )))
            }
        };
        let want = [2, 3, 4][kind];
        let mut rows = [[0.0f64; 4]; 3];
        for (d, row) in rows.iter_mut().enumerate() {
            let line = match self.cur.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(self
                        .cur
                        .err("truncated frame: BOX BOUNDS needs three lines"));
                }
                Err(e) => return Err(self.cur.io_err(e)),
            };
            let mut n = 0;
            let mut bad = None;
            for tok in Tokens::new(line) {
                if n < 4 {
                    match parse_f64(tok) {
                        Some(v) if v.is_finite() => row[n] = v,
                        _ => bad = Some(show(tok)),
                    }
                }
                n += 1;
            }
            if let Some(tok) = bad {
                return Err(self
                    .cur
                    .err(format!("box bound `{tok}` is not a finite number")));
            }
            if n != want {
                return Err(self.cur.err(format!(
                    "BOX BOUNDS line {} has {n} numbers, expected {want}",
                    d + 1
                )));
            }
        }
        let result = match kind {
            0 => SimBox::from_lammps(
                [rows[0][0], rows[1][0], rows[2][0]],
                [rows[0][1], rows[1][1], rows[2][1]],
                [0.0; 3],
                periodic,
            ),
            1 => {
                let (xy, xz, yz) = (rows[0][2], rows[1][2], rows[2][2]);
                let (lo, hi) = bounds_to_box(
                    [rows[0][0], rows[0][1]],
                    [rows[1][0], rows[1][1]],
                    [rows[2][0], rows[2][1]],
                    [xy, xz, yz],
                );
                SimBox::from_lammps(lo, hi, [xy, xz, yz], periodic)
            }
            _ => SimBox::new(
                [
                    [rows[0][0], rows[0][1], rows[0][2]],
                    [rows[1][0], rows[1][1], rows[1][2]],
                    [rows[2][0], rows[2][1], rows[2][2]],
                ],
                [rows[0][3], rows[1][3], rows[2][3]],
                periodic,
            ),
        };
        result.map_err(|e| self.cur.err(format!("BOX BOUNDS: {e}")))
    }

    /// Roles of the `ITEM: ATOMS` columns, the extra properties, and whether positions are
    /// scaled.
    #[allow(clippy::type_complexity)]
    fn assign_columns(
        &self,
        columns: &[String],
    ) -> Result<(Vec<Role>, Vec<(String, usize)>, bool), CoreError> {
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].contains(c) {
                return Err(self
                    .cur
                    .err(format!("column `{c}` appears twice in `ITEM: ATOMS`")));
            }
        }
        const SETS: [([&str; 3], bool); 4] = [
            (["x", "y", "z"], false),
            (["xu", "yu", "zu"], false),
            (["xs", "ys", "zs"], true),
            (["xsu", "ysu", "zsu"], true),
        ];
        let pos_set = SETS
            .iter()
            .find(|(names, _)| names.iter().all(|n| columns.iter().any(|c| c == n)))
            .ok_or_else(|| {
                self.cur.err(
                    "no position columns in `ITEM: ATOMS` (need x y z, xu yu zu, xs ys zs or xsu ysu zsu)",
                )
            })?;
        let mut roles = Vec::with_capacity(columns.len());
        let mut extras: Vec<(String, usize)> = Vec::new();
        for c in columns {
            let role = if let Some(d) = pos_set.0.iter().position(|n| n == c) {
                Role::Pos(d)
            } else if c == "id" {
                Role::Id
            } else if c == "type" {
                Role::Type
            } else if c == "element" {
                Role::Element
            } else {
                // `name[k]` continuing `name[k-1]` of the previous column joins its property.
                let (base, k) = split_index(c);
                match (k, extras.last_mut(), roles.last()) {
                    (Some(k), Some((prev, ncols)), Some(Role::Extra { .. }))
                        if prev == base && *ncols + 1 == k =>
                    {
                        *ncols += 1;
                        Role::Extra {
                            prop: extras.len() - 1,
                            col: k - 1,
                        }
                    }
                    (Some(1), ..) => {
                        extras.push((base.to_string(), 1));
                        Role::Extra {
                            prop: extras.len() - 1,
                            col: 0,
                        }
                    }
                    _ => {
                        extras.push((c.clone(), 1));
                        Role::Extra {
                            prop: extras.len() - 1,
                            col: 0,
                        }
                    }
                }
            };
            roles.push(role);
        }
        // A lone `name[1]` stays a scalar property called `name[1]`, as written.
        for (p, (name, ncols)) in extras.iter_mut().enumerate() {
            if *ncols == 1 {
                if let Some(idx) = roles
                    .iter()
                    .position(|r| matches!(r, Role::Extra { prop, .. } if *prop == p))
                {
                    name.clone_from(&columns[idx]);
                }
            }
        }
        Ok((roles, extras, pos_set.1))
    }

    /// The `h.n_atoms` atom lines of a frame read and parsed. A large frame is read in
    /// segments of `seg` lines, each parsed by the thread pool while the next is read, so
    /// that reading (or decompressing) overlaps parsing; the result does not depend on `seg`
    /// or on the number of threads. Errors come in file order: a bad atom line before the
    /// place where reading stopped wins over the reason it stopped.
    fn read_atom_lines(&mut self, h: &Header, seg: usize) -> Result<AtomColumns, CoreError> {
        let n = h.n_atoms;
        let first_line = self.cur.lines.line() + 1;
        let seg = seg.max(1);
        let n_segs = n.div_ceil(seg).max(1);
        let mut blocks = std::mem::take(&mut self.blocks);
        if blocks.len() < n_segs {
            blocks.resize_with(n_segs, LineBlock::default);
        }
        let mut parsed: Vec<Option<Result<AtomColumns, LineError>>> = Vec::new();
        parsed.resize_with(n_segs, || None);
        let mut end = Ok(BlockEnd::Complete);
        let mut n_read = 0usize;
        let lines = &mut self.cur.lines;
        if n_segs == 1 {
            end = lines.read_block(n, b"ITEM:", &mut blocks[0]);
            n_read = blocks[0].len();
            parsed[0] = Some(parse_segment(&blocks[0], 0, h));
        } else {
            rayon::in_place_scope(|s| {
                for (k, (block, slot)) in blocks.iter_mut().zip(&mut parsed).enumerate() {
                    let read = lines.read_block(seg.min(n - k * seg), b"ITEM:", block);
                    let (block, first) = (&*block, n_read);
                    n_read += block.len();
                    s.spawn(move |_| *slot = Some(parse_segment(block, first, h)));
                    if !matches!(read, Ok(BlockEnd::Complete)) {
                        end = read;
                        break;
                    }
                }
            });
        }
        self.blocks = blocks;
        let mut parts = Vec::with_capacity(n_segs);
        for part in parsed.into_iter().flatten() {
            match part {
                Ok(c) => parts.push(c),
                Err((i, msg)) => {
                    return Err(CoreError::format(
                        place(
                            &self.cur.path,
                            Some(first_line + i as u64),
                            Some(self.cur.frame),
                        ),
                        msg,
                    ))
                }
            }
        }
        match end {
            Ok(BlockEnd::Complete) => {}
            Ok(BlockEnd::Eof) => {
                return Err(self.cur.err(format!(
                    "truncated frame: NUMBER OF ATOMS is {n} but the file ends after {n_read} atom lines"
                )))
            }
            Ok(BlockEnd::Stopped) => {
                return Err(self.cur.err(format!(
                    "NUMBER OF ATOMS is {n} but the ATOMS section has only {n_read} lines"
                )))
            }
            Err(e) => return Err(self.cur.io_err(e)),
        }
        let columns = join(parts, h.extras.len());
        if columns.element_names.len() > u16::MAX as usize {
            return Err(self.cur.err("more than 65535 distinct elements"));
        }
        Ok(columns)
    }

    fn read_atoms(&mut self, h: Header) -> Result<Frame, CoreError> {
        let n = h.n_atoms;
        let has = |r: Role| h.roles.contains(&r);
        let (has_id, has_type, has_element) = (has(Role::Id), has(Role::Type), has(Role::Element));
        let first_line = self.cur.lines.line() + 1;
        let AtomColumns {
            positions,
            ids,
            types,
            species,
            element_names,
            extras,
        } = self.read_atom_lines(&h, segment_lines(n))?;

        let mut frame = Frame {
            positions,
            species: Vec::new(),
            species_names: Vec::new(),
            ids: None,
            cell: h.cell,
            properties: Vec::with_capacity(h.extras.len()),
            timestep: h.timestep,
            info: h.info,
        };
        if h.scaled {
            for p in &mut frame.positions {
                *p = h.cell.to_cartesian(*p);
            }
            if let Some(i) = frame.first_non_finite() {
                return Err(CoreError::format(
                    place(
                        &self.cur.path,
                        Some(first_line + i as u64),
                        Some(self.cur.frame),
                    ),
                    "scaled position gives a non-finite Cartesian position",
                ));
            }
        }
        // Species: element names, else type names, else type numbers as text.
        if has_element {
            frame.species_names = element_names
                .iter()
                .map(|e| String::from_utf8_lossy(e).into_owned())
                .collect();
            frame.species = species;
        } else if has_type {
            frame.species = self.species_from_types(&mut frame, &types, first_line)?;
        } else {
            let name = match &self.types {
                Some(t) if t.len() == 1 => t[0].clone(),
                _ => "X".to_string(),
            };
            frame.species_names.push(name);
            frame.species = vec![0; n];
        }
        for ((name, ncols), values) in h.extras.iter().zip(extras) {
            frame
                .set_property(name, *ncols, PropertyValues::Real(values))
                .map_err(|e| self.cur.err(format!("column `{name}`: {e}")))?;
        }
        if has_id {
            frame.ids = Some(ids);
            if let Err((dup, a, b)) = order_by_id(&mut frame) {
                let (a, b) = (a as u64 + first_line, b as u64 + first_line);
                return Err(CoreError::format(
                    place(&self.cur.path, Some(b), Some(self.cur.frame)),
                    format!("duplicate atom id {dup} (lines {a} and {b})"),
                ));
            }
        }
        Ok(frame)
    }

    /// Species indices from LAMMPS type numbers.
    fn species_from_types(
        &self,
        frame: &mut Frame,
        types: &[i64],
        first_line: u64,
    ) -> Result<Vec<u16>, CoreError> {
        let bad_type = |row: usize, t: i64, why: String| {
            CoreError::format(
                place(
                    &self.cur.path,
                    Some(first_line + row as u64),
                    Some(self.cur.frame),
                ),
                format!("atom type {t} {why}"),
            )
        };
        // Few distinct types: collect them with a last-seen shortcut instead of sorting all.
        let mut distinct: Vec<i64> = Vec::new();
        let mut last = None;
        for &t in types {
            if last != Some(t) {
                last = Some(t);
                if !distinct.contains(&t) {
                    distinct.push(t);
                    if distinct.len() > 32 {
                        // Many types: sorting all is cheaper than searching the list.
                        distinct = types.to_vec();
                        distinct.sort_unstable();
                        distinct.dedup();
                        break;
                    }
                }
            }
        }
        distinct.sort_unstable();
        let mut table = SpeciesTable::default();
        let mut map: Vec<(i64, u16)> = Vec::with_capacity(distinct.len());
        for &t in &distinct {
            let name = match &self.types {
                Some(names) => {
                    if t < 1 || t as u64 > names.len() as u64 {
                        let row = types.iter().position(|&x| x == t).unwrap_or(0);
                        return Err(bad_type(
                            row,
                            t,
                            format!("has no name: {} type names given", names.len()),
                        ));
                    }
                    names[(t - 1) as usize].clone()
                }
                None => t.to_string(),
            };
            let k = table
                .intern(frame, name)
                .ok_or_else(|| bad_type(0, t, "is one type too many (65535 at most)".into()))?;
            map.push((t, k));
        }
        if let [(_, k)] = map[..] {
            return Ok(vec![k; types.len()]);
        }
        Ok(types
            .iter()
            .map(|t| {
                let i = map.partition_point(|(x, _)| x < t);
                map[i].1
            })
            .collect())
    }
}

impl<R: BufRead> Iterator for DumpReader<R> {
    type Item = Result<Frame, CoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.read_frame()
    }
}

/// Frames with at least this many atoms are parsed in parallel; below it the work is too
/// small to pay for handing it to other threads.
const PARALLEL_MIN_ATOMS: usize = 4096;

/// Smallest segment of lines given to one task.
const MIN_CHUNK_LINES: usize = 1024;

/// Lines per segment for a frame of `n` atoms (`n` or more: one segment, read then parsed
/// on this thread). A few segments per thread even out uneven progress; the result does not
/// depend on it.
fn segment_lines(n: usize) -> usize {
    let threads = rayon::current_num_threads();
    if n < PARALLEL_MIN_ATOMS || threads <= 1 {
        return n.max(1);
    }
    n.div_ceil(4 * threads).max(MIN_CHUNK_LINES)
}

/// Atom columns parsed from atom lines.
struct AtomColumns {
    positions: Vec<[f64; 3]>,
    ids: Vec<i64>,
    types: Vec<i64>,
    /// Indices into `element_names`.
    species: Vec<u16>,
    /// Element names in order of first appearance.
    element_names: Vec<Vec<u8>>,
    /// One vector per extra property, its columns interleaved by atom.
    extras: Vec<Vec<f64>>,
}

/// A bad atom line: its 0-based index among the frame's atom lines, and the message.
type LineError = (usize, String);

/// Where parsed values go: one row per atom line in each column present.
struct Rows<'a> {
    positions: &'a mut [[f64; 3]],
    ids: &'a mut [i64],
    types: &'a mut [i64],
    species: &'a mut [u16],
    extras: Vec<&'a mut [f64]>,
}

/// The lines of `block`, atom lines `first..` of the frame, parsed.
fn parse_segment(block: &LineBlock, first: usize, h: &Header) -> Result<AtomColumns, LineError> {
    let n = block.len();
    let has = |r: Role| h.roles.contains(&r);
    // Each good line fills exactly one row of every column present.
    let rows_if = |r: Role| if has(r) { n } else { 0 };
    let mut out = AtomColumns {
        positions: vec![[0.0; 3]; n],
        ids: vec![0; rows_if(Role::Id)],
        types: vec![0; rows_if(Role::Type)],
        species: vec![0; rows_if(Role::Element)],
        element_names: Vec::new(),
        extras: h.extras.iter().map(|(_, nc)| vec![0.0; n * nc]).collect(),
    };
    let mut rows = Rows {
        positions: &mut out.positions,
        ids: &mut out.ids,
        types: &mut out.types,
        species: &mut out.species,
        extras: out.extras.iter_mut().map(|v| &mut v[..]).collect(),
    };
    let names = parse_lines(block, 0..n, h, &mut rows).map_err(|(i, msg)| (first + i, msg))?;
    out.element_names = names;
    Ok(out)
}

/// Columns of consecutive segments joined in order; element names are merged in order of
/// first appearance and the segments' species indices renumbered.
fn join(mut parts: Vec<AtomColumns>, n_extras: usize) -> AtomColumns {
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return only;
        }
    }
    let total = |f: fn(&AtomColumns) -> usize| parts.iter().map(f).sum::<usize>();
    let mut out = AtomColumns {
        positions: Vec::with_capacity(total(|c| c.positions.len())),
        ids: Vec::with_capacity(total(|c| c.ids.len())),
        types: Vec::with_capacity(total(|c| c.types.len())),
        species: Vec::with_capacity(total(|c| c.species.len())),
        element_names: Vec::new(),
        extras: (0..n_extras)
            .map(|p| Vec::with_capacity(parts.iter().map(|c| c.extras[p].len()).sum()))
            .collect(),
    };
    for part in parts {
        out.positions.extend_from_slice(&part.positions);
        out.ids.extend_from_slice(&part.ids);
        out.types.extend_from_slice(&part.types);
        for (all, some) in out.extras.iter_mut().zip(&part.extras) {
            all.extend_from_slice(some);
        }
        let renumber: Vec<u16> = part
            .element_names
            .into_iter()
            .map(|name| {
                let names = &mut out.element_names;
                let idx = match names.iter().position(|e| *e == name) {
                    Some(idx) => idx,
                    None => {
                        names.push(name);
                        names.len() - 1
                    }
                };
                idx as u16
            })
            .collect();
        if renumber.iter().enumerate().all(|(i, &k)| k as usize == i) {
            out.species.extend_from_slice(&part.species);
        } else {
            out.species
                .extend(part.species.iter().map(|&s| renumber[s as usize]));
        }
    }
    out
}

/// Parse atom lines `range` of `block` into `rows`; the element names met, in order of
/// first appearance, with `rows.species` indexing them.
fn parse_lines(
    block: &LineBlock,
    range: std::ops::Range<usize>,
    h: &Header,
    rows: &mut Rows,
) -> Result<Vec<Vec<u8>>, LineError> {
    let mut names: Vec<Vec<u8>> = Vec::new();
    let ncols = h.roles.len();
    let first = range.start;
    for i in range {
        let row = i - first;
        let line = block.line(i);
        let mut toks = Tokens::new(line);
        let mut pos = [0.0f64; 3];
        let mut bad: Option<(usize, &[u8], &str)> = None;
        let mut k = 0;
        for tok in toks.by_ref() {
            if k == ncols {
                k += 1;
                break;
            }
            match h.roles[k] {
                Role::Pos(d) => match parse_f64(tok) {
                    Some(v) if v.is_finite() => pos[d] = v,
                    Some(_) => bad = bad.or(Some((k, tok, "is not finite"))),
                    None => bad = bad.or(Some((k, tok, "is not a number"))),
                },
                Role::Extra { prop, col } => match parse_f64(tok) {
                    Some(v) => {
                        let nc = h.extras[prop].1;
                        rows.extras[prop][row * nc + col] = v;
                    }
                    None => bad = bad.or(Some((k, tok, "is not a number"))),
                },
                Role::Id => match parse_i64(tok) {
                    Some(v) => rows.ids[row] = v,
                    None => bad = bad.or(Some((k, tok, "is not an integer"))),
                },
                Role::Type => match parse_i64(tok) {
                    Some(v) => rows.types[row] = v,
                    None => bad = bad.or(Some((k, tok, "is not an integer"))),
                },
                Role::Element => {
                    let idx = match names.iter().position(|e| e == tok) {
                        Some(idx) => idx,
                        None => {
                            names.push(tok.to_vec());
                            names.len() - 1
                        }
                    };
                    rows.species[row] = idx as u16;
                }
            }
            k += 1;
        }
        if let Some((col, tok, what)) = bad {
            let msg = format!("`{}` in column `{}` {what}", show(tok), h.columns[col]);
            return Err((i, msg));
        }
        if k != ncols {
            let found = if k > ncols { k + toks.count() } else { k };
            return Err((
                i,
                format!("atom line has {found} values, `ITEM: ATOMS` names {ncols} columns"),
            ));
        }
        rows.positions[row] = pos;
    }
    Ok(names)
}

/// `name[k]` -> (`name`, Some(k)); anything else -> (whole, None).
fn split_index(c: &str) -> (&str, Option<usize>) {
    if let Some(stripped) = c.strip_suffix(']') {
        if let Some(open) = stripped.rfind('[') {
            if let Ok(k) = stripped[open + 1..].parse::<usize>() {
                if open > 0 && k >= 1 {
                    return (&stripped[..open], Some(k));
                }
            }
        }
    }
    (c, None)
}

/// LAMMPS box `lo`, `hi` from the `_bound` values of a triclinic dump (LAMMPS `dump`
/// documentation: the bounds enclose the tilted box).
pub fn bounds_to_box(
    x_bound: [f64; 2],
    y_bound: [f64; 2],
    z_bound: [f64; 2],
    tilt: [f64; 3],
) -> ([f64; 3], [f64; 3]) {
    let [xy, xz, yz] = tilt;
    let xmin = 0.0f64.min(xy).min(xz).min(xy + xz);
    let xmax = 0.0f64.max(xy).max(xz).max(xy + xz);
    (
        [x_bound[0] - xmin, y_bound[0] - 0.0f64.min(yz), z_bound[0]],
        [x_bound[1] - xmax, y_bound[1] - 0.0f64.max(yz), z_bound[1]],
    )
}

/// The `_bound` values a triclinic dump writes for a box `lo`, `hi`, `tilt` (inverse of
/// [`bounds_to_box`]): `[[xlo_bound, xhi_bound], [ylo_bound, yhi_bound], [zlo, zhi]]`.
pub fn box_to_bounds(lo: [f64; 3], hi: [f64; 3], tilt: [f64; 3]) -> [[f64; 2]; 3] {
    let [xy, xz, yz] = tilt;
    let xmin = 0.0f64.min(xy).min(xz).min(xy + xz);
    let xmax = 0.0f64.max(xy).max(xz).max(xy + xz);
    [
        [lo[0] + xmin, hi[0] + xmax],
        [lo[1] + 0.0f64.min(yz), hi[1] + 0.0f64.max(yz)],
        [lo[2], hi[2]],
    ]
}

/// LAMMPS type numbers for a frame's species and whether an `element` column is needed:
/// species named by positive integers keep those numbers; otherwise type = species index + 1
/// and the names go into an `element` column.
pub(crate) fn lammps_types(frame: &Frame) -> (Vec<u64>, bool) {
    let numeric: Option<Vec<u64>> = frame
        .species_names
        .iter()
        .map(|s| {
            s.parse::<u64>()
                .ok()
                .filter(|&t| t >= 1 && t.to_string() == *s)
        })
        .collect();
    match numeric {
        Some(t) => (t, false),
        None => ((1..=frame.species_names.len() as u64).collect(), true),
    }
}

/// Append one frame in LAMMPS text dump format to `out`: `ITEM: ATOMS id type [element] x y z`
/// and every real or integer property (`name[1] name[2] ...` for several columns), floats with
/// shortest round-trip digits. `index` is the timestep written when the frame has none. Boxes
/// not in LAMMPS' restricted form are written as general triclinic (`abc origin`).
pub fn format_frame(out: &mut Vec<u8>, frame: &Frame, index: u64) -> Result<(), CoreError> {
    let n = frame.len();
    let mut cols = String::from("id type");
    let (type_numbers, with_element) = lammps_types(frame);
    if with_element {
        cols.push_str(" element");
    }
    cols.push_str(" x y z");
    for p in &frame.properties {
        match p.values {
            PropertyValues::Real(_) | PropertyValues::Int(_) => {}
            _ => {
                return Err(CoreError::InvalidArgument(format!(
                    "property `{}` holds {} values: a LAMMPS dump has numeric columns only",
                    p.name,
                    if matches!(p.values, PropertyValues::Bool(_)) {
                        "logical"
                    } else {
                        "string"
                    }
                )))
            }
        }
        if p.name.is_empty() || p.name.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(CoreError::InvalidArgument(format!(
                "property name `{}` cannot be a dump column",
                p.name
            )));
        }
        if p.ncols == 1 {
            cols.push(' ');
            cols.push_str(&p.name);
        } else {
            for k in 1..=p.ncols {
                cols.push_str(&format!(" {}[{k}]", p.name));
            }
        }
    }
    let cell = &frame.cell;
    let per = cell.periodic();
    let flag = |d: usize| if per[d] { "pp" } else { "ff" };
    let flags = format!("{} {} {}", flag(0), flag(1), flag(2));
    let e = cell.edges();
    let o = cell.origin();
    let ts = frame.timestep.unwrap_or(index);
    let _ = write!(
        out,
        "ITEM: TIMESTEP\n{ts}\nITEM: NUMBER OF ATOMS\n{n}\nITEM: BOX BOUNDS "
    );
    if cell.is_lammps_form() {
        let lo = o;
        let hi = [o[0] + e[0][0], o[1] + e[1][1], o[2] + e[2][2]];
        let tilt = [e[1][0], e[2][0], e[2][1]];
        if tilt == [0.0; 3] {
            out.extend_from_slice(flags.as_bytes());
            out.push(b'\n');
            for d in 0..3 {
                write_f64(out, lo[d]);
                out.push(b' ');
                write_f64(out, hi[d]);
                out.push(b'\n');
            }
        } else {
            let b = box_to_bounds(lo, hi, tilt);
            out.extend_from_slice(b"xy xz yz ");
            out.extend_from_slice(flags.as_bytes());
            out.push(b'\n');
            for d in 0..3 {
                write_f64(out, b[d][0]);
                out.push(b' ');
                write_f64(out, b[d][1]);
                out.push(b' ');
                write_f64(out, tilt[d]);
                out.push(b'\n');
            }
        }
    } else {
        out.extend_from_slice(b"abc origin ");
        out.extend_from_slice(flags.as_bytes());
        out.push(b'\n');
        for d in 0..3 {
            for v in e[d] {
                write_f64(out, v);
                out.push(b' ');
            }
            write_f64(out, o[d]);
            out.push(b'\n');
        }
    }
    let _ = writeln!(out, "ITEM: ATOMS {cols}");
    for i in 0..n {
        let id = frame.ids.as_ref().map_or(i as i64 + 1, |ids| ids[i]);
        let s = frame.species[i] as usize;
        let _ = write!(out, "{id} {}", type_numbers[s]);
        if with_element {
            out.push(b' ');
            out.extend_from_slice(frame.species_names[s].as_bytes());
        }
        for v in frame.positions[i] {
            out.push(b' ');
            write_f64(out, v);
        }
        for p in &frame.properties {
            let r = i * p.ncols..(i + 1) * p.ncols;
            match &p.values {
                PropertyValues::Real(v) => {
                    for &x in &v[r] {
                        out.push(b' ');
                        write_f64(out, x);
                    }
                }
                PropertyValues::Int(v) => {
                    for &x in &v[r] {
                        let _ = write!(out, " {x}");
                    }
                }
                _ => {}
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_invert_for_exact_values() {
        let (lo, hi, tilt) = ([-1.0, 2.0, 0.5], [10.0, 12.0, 9.5], [-2.5, 1.25, -0.75]);
        let b = box_to_bounds(lo, hi, tilt);
        // xy + xz = -1.25: min(0, xy, xz, xy+xz) = -2.5, max = 1.25.
        assert_eq!(b, [[-3.5, 11.25], [1.25, 12.0], [0.5, 9.5]]);
        assert_eq!(bounds_to_box(b[0], b[1], b[2], tilt), (lo, hi));
    }

    /// Atom row `i` of a synthetic frame of `n` atoms (`n` coprime to 7919): shuffled ids,
    /// element names first met in different runs of lines, values with exact decimal forms.
    fn row(i: usize, n: usize) -> (i64, &'static str, [f64; 3], [f64; 3]) {
        let id = (i * 7919 % n) as i64 + 1;
        let element = match i {
            _ if i == n - 1 => "Ni",
            _ if i < 3000 => "Pt",
            _ => ["Au", "Pt", "Cu"][i % 3],
        };
        let x = i as f64;
        let pos = [x * 0.001 + 0.1, -x / 7.0, 1e-3 * x];
        (id, element, pos, [1.5 * x, -x, 1.0 / (x + 1.0)])
    }

    /// Header lines before the first atom line of [`frame_text`].
    const HEADER_LINES: usize = 9;

    /// A frame declaring `n_declared` atoms, holding atom rows `rows` of [`row`].
    fn frame_text(n_declared: usize, rows: std::ops::Range<usize>, n: usize) -> Vec<String> {
        let mut lines = vec![
            "ITEM: TIMESTEP".to_string(),
            "0".into(),
            "ITEM: NUMBER OF ATOMS".into(),
            n_declared.to_string(),
            "ITEM: BOX BOUNDS pp pp pp".into(),
            "0 10".into(),
            "0 10".into(),
            "0 10".into(),
            "ITEM: ATOMS id type element x y z c_f[1] c_f[2] q".into(),
        ];
        assert_eq!(lines.len(), HEADER_LINES);
        for i in rows {
            let (id, el, p, e) = row(i, n);
            lines.push(format!(
                "{id} {} {el} {:?} {:?} {:?} {:?} {:?} {:?}",
                i % 3 + 1,
                p[0],
                p[1],
                p[2],
                e[0],
                e[1],
                e[2]
            ));
        }
        lines
    }

    fn reader(lines: &[String]) -> DumpReader<std::io::Cursor<Vec<u8>>> {
        let text = lines.join("\n") + "\n";
        DumpReader::new(std::io::Cursor::new(text.into_bytes()), "t.dump", None)
    }

    /// The atom lines of the first frame, read and parsed in segments of `seg` lines.
    fn read_in_segments(lines: &[String], seg: usize) -> Result<AtomColumns, String> {
        let mut r = reader(lines);
        let h = r.read_header().unwrap().unwrap();
        r.read_atom_lines(&h, seg).map_err(|e| e.to_string())
    }

    #[test]
    fn large_frame_reads_exact_values_in_file_species_order() {
        let n = 6000;
        assert!(n >= PARALLEL_MIN_ATOMS);
        let frame = reader(&frame_text(n, 0..n, n))
            .read_frame()
            .unwrap()
            .unwrap();
        assert_eq!(frame.species_names, ["Pt", "Au", "Cu", "Ni"]);
        assert_eq!(frame.ids, Some((1..=n as i64).collect()));
        let (f, fcols) = frame.real_property("c_f").unwrap();
        let (q, _) = frame.real_property("q").unwrap();
        assert_eq!(fcols, 2);
        for i in 0..n {
            let (id, el, p, e) = row(i, n);
            let a = id as usize - 1;
            assert_eq!(frame.positions[a], p, "row {i}");
            assert_eq!(frame.species_of(a), el, "row {i}");
            assert_eq!([f[2 * a], f[2 * a + 1], q[a]], e, "row {i}");
        }
    }

    /// Runs of any length give the columns of one run: same values, same species order.
    #[test]
    fn runs_of_any_length_agree() {
        let n = 6000;
        let lines = frame_text(n, 0..n, n);
        let one = read_in_segments(&lines, n).unwrap_or_else(|e| panic!("{e:?}"));
        for chunk in [1, 7, 1000, 2999, 5999] {
            let got = read_in_segments(&lines, chunk).unwrap_or_else(|e| panic!("{e:?}"));
            assert_eq!(got.positions, one.positions, "{chunk}");
            assert_eq!(got.ids, one.ids, "{chunk}");
            assert_eq!(got.types, one.types, "{chunk}");
            assert_eq!(got.species, one.species, "{chunk}");
            assert_eq!(got.element_names, one.element_names, "{chunk}");
            assert_eq!(got.extras, one.extras, "{chunk}");
        }
        assert_eq!(one.element_names, [&b"Pt"[..], b"Au", b"Cu", b"Ni"]);
    }

    /// Reading in segments of any length gives the error `err`.
    fn same_for_any_segments(lines: &[String], err: &str) {
        for seg in [1, 100, 1000, 4999, 6000] {
            assert_eq!(
                read_in_segments(lines, seg).err().as_deref(),
                Some(err),
                "{seg}"
            );
        }
    }

    fn first_error(lines: &[String]) -> String {
        let mut r = reader(lines);
        loop {
            match r.read_frame() {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return e.to_string(),
                None => panic!("no error"),
            }
        }
    }

    /// In a large frame the first bad line in the file is reported, before a later bad line
    /// and before a short frame, with the messages of the line-by-line reader.
    #[test]
    fn large_frame_reports_the_first_error_in_file_order() {
        let n = 6000;
        let line_of = |i: usize| HEADER_LINES + i + 1;
        let mut lines = frame_text(n, 0..n, n);
        lines[HEADER_LINES + 5500] = "1 1 Pt 0 0".into();
        lines[HEADER_LINES + 4500] = "1 1 Pt 0 abc 0 0 0 0".into();
        let err = first_error(&lines);
        let want = format!("line {}, frame 0", line_of(4500));
        assert!(err.contains(&want), "{err}");
        assert!(
            err.ends_with("`abc` in column `y` is not a number"),
            "{err}"
        );
        same_for_any_segments(&lines, &err);
        lines[HEADER_LINES + 4500] = frame_text(n, 4500..4501, n)[HEADER_LINES].clone();
        let err = first_error(&lines);
        assert!(err.contains(&format!("line {}", line_of(5500))), "{err}");
        assert!(
            err.ends_with("atom line has 5 values, `ITEM: ATOMS` names 9 columns"),
            "{err}"
        );
        same_for_any_segments(&lines, &err);

        // The file ends early: a bad line read before the end wins over the short frame.
        let mut lines = frame_text(n, 0..5000, n);
        let err = first_error(&lines);
        assert!(err.contains(&format!("line {}", line_of(4999))), "{err}");
        assert!(err.ends_with(&format!(
            "truncated frame: NUMBER OF ATOMS is {n} but the file ends after 5000 atom lines"
        )));
        same_for_any_segments(&lines, &err);
        lines[HEADER_LINES + 4999] += " 7";
        let err = first_error(&lines);
        assert!(err.contains(&format!("line {}", line_of(4999))), "{err}");
        assert!(err.ends_with("atom line has 10 values, `ITEM: ATOMS` names 9 columns"));
        same_for_any_segments(&lines, &err);

        // The next frame starts early: the `ITEM:` line is named, unless a bad line precedes.
        let mut lines = frame_text(n, 0..5000, n);
        lines.extend(frame_text(n, 0..n, n));
        let err = first_error(&lines);
        assert!(err.contains(&format!("line {}", line_of(5000))), "{err}");
        assert!(err.ends_with(&format!(
            "NUMBER OF ATOMS is {n} but the ATOMS section has only 5000 lines"
        )));
        same_for_any_segments(&lines, &err);
        lines[HEADER_LINES + 4200] = "1 1 Pt 0 0 inf 0 0 0".into();
        let err = first_error(&lines);
        assert!(err.contains(&format!("line {}", line_of(4200))), "{err}");
        assert!(err.ends_with("`inf` in column `z` is not finite"), "{err}");
        same_for_any_segments(&lines, &err);
    }

    #[test]
    fn bracketed_columns_group() {
        assert_eq!(split_index("c_f[2]"), ("c_f", Some(2)));
        assert_eq!(split_index("v_q"), ("v_q", None));
        assert_eq!(split_index("[1]"), ("[1]", None));
    }
}

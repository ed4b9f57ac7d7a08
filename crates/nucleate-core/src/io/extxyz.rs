//! Extended XYZ (as ASE and OVITO write it), read as a stream of frames and written.
//!
//! Each frame is an atom-count line, a comment line of `key=value` pairs and one line per
//! atom. Recognised keys:
//! - `Lattice="ax ay az bx by bz cx cy cz"`: the cell vectors a, b, c (Angstrom);
//! - `Origin="x y z"` (OVITO): the cell's corner;
//! - `Properties=name:T:n:...` with types `S` (string), `R` (real), `I` (integer), `L`
//!   (logical, `T`/`F`); `species:S:1:pos:R:3` when absent. `species` (or `Z`, atomic numbers)
//!   and `pos` are required; `id` (or `ids`) becomes the atom ids; every other column a
//!   per-atom property, in order;
//! - `pbc="T T F"`: periodicity per axis. A Lattice without `pbc` is periodic along all three
//!   axes (ASE's convention); without a Lattice the frame gets an open box around its atoms
//!   ([`SimBox::enclosing`]) and a periodic `pbc` is an error;
//! - `Timestep=` / `timestep=` sets [`Frame::timestep`].
//!
//! Every other pair is kept, in order, in [`Frame::info`] (quotes removed, escapes resolved;
//! a bare key gets the value `T`). Frames with ids are ordered by id.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::cell::SimBox;
use crate::error::CoreError;
use crate::frame::{Frame, PropertyValues};
use crate::io::text::{
    is_blank, order_by_id, parse_f64, parse_i64, parse_u64, place, show, write_f64, FrameCursor,
    Input, Tokens, MAX_PREALLOC,
};

/// Element symbols by atomic number (index 0 unused), for files that give `Z` instead of
/// species.
const SYMBOLS: [&str; 119] = [
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S",
    "Cl", "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge",
    "As", "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd",
    "In", "Sn", "Sb", "Te", "I", "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd",
    "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W", "Re", "Os", "Ir", "Pt", "Au", "Hg",
    "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th", "Pa", "U", "Np", "Pu", "Am", "Cm",
    "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn",
    "Nh", "Fl", "Mc", "Lv", "Ts", "Og",
];

/// Most columns one property may declare: bounds the memory a corrupt header can claim.
const MAX_COLUMNS: usize = 1 << 16;

/// Keys of the comment line that describe the frame itself rather than metadata.
const RESERVED: [&str; 4] = ["lattice", "properties", "pbc", "origin"];

/// Where the values of a `Properties` column go.
#[derive(Debug, Clone, Copy)]
enum Role {
    Species,
    Z,
    Pos(usize),
    Id,
    /// Property `prop` (index into the builders).
    Prop(usize),
}

/// Values of one property being read.
enum Builder {
    Real(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Str(Vec<String>),
}

/// An extended XYZ file read frame by frame.
pub struct ExtXyzReader<R = Input> {
    cur: FrameCursor<R>,
}

impl ExtXyzReader<Input> {
    /// Open an extended XYZ file (gzip or not).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CoreError> {
        let path = path.as_ref();
        Ok(Self::new(Input::open(path)?, path))
    }
}

impl<R: BufRead> ExtXyzReader<R> {
    /// A reader of `input`; `path` names it in error messages.
    pub fn new(input: R, path: impl Into<PathBuf>) -> Self {
        Self {
            cur: FrameCursor::new(input, path.into()),
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
        self.step(true).map(|r| r.map(|f| f.expect("parsed frame")))
    }

    /// Skip the next frame without parsing its atom lines. `None` at the end of the file.
    pub fn skip_frame(&mut self) -> Option<Result<(), CoreError>> {
        self.step(false).map(|r| r.map(|_| ()))
    }

    fn step(&mut self, parse: bool) -> Option<Result<Option<Frame>, CoreError>> {
        if self.cur.failed {
            return None;
        }
        let out = match self.read_count() {
            Ok(None) => return None,
            Ok(Some(n)) => {
                if parse {
                    self.read_body(n).map(Some)
                } else {
                    self.skip_body(n).map(|_| None)
                }
            }
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

    /// The atom-count line; `None` at the end of the file (blank lines before it are passed).
    fn read_count(&mut self) -> Result<Option<usize>, CoreError> {
        loop {
            let line = match self.cur.lines.next_line() {
                Ok(None) => return Ok(None),
                Ok(Some(l)) => l,
                Err(e) => return Err(self.cur.io_err(e)),
            };
            if is_blank(line) {
                continue;
            }
            let mut toks = Tokens::new(line);
            let tok = toks.next().unwrap_or(b"");
            let n = parse_u64(tok).and_then(|n| usize::try_from(n).ok());
            return match (n, toks.next()) {
                (Some(n), None) => Ok(Some(n)),
                _ => {
                    let shown = show(line);
                    Err(self.cur.err(format!(
                        "expected the number of atoms of a frame, found `{shown}`"
                    )))
                }
            };
        }
    }

    fn skip_body(&mut self, n: usize) -> Result<(), CoreError> {
        let want = (n as u64).saturating_add(1);
        match self.cur.lines.skip_lines(want) {
            Ok(k) if k == want => Ok(()),
            Ok(k) => Err(self.cur.err(format!(
                "truncated frame: {n} atoms announced but the file ends after {} atom lines",
                k.saturating_sub(1)
            ))),
            Err(e) => Err(self.cur.io_err(e)),
        }
    }

    fn read_body(&mut self, n: usize) -> Result<Frame, CoreError> {
        let comment = match self.cur.lines.next_line() {
            Ok(Some(l)) => String::from_utf8_lossy(l).into_owned(),
            Ok(None) => return Err(self.cur.err("truncated frame: the comment line is missing")),
            Err(e) => return Err(self.cur.io_err(e)),
        };
        let pairs = parse_comment(&comment).map_err(|m| self.cur.err(m))?;
        let mut lattice = None;
        let mut origin = [0.0; 3];
        let mut pbc = None;
        let mut properties = "species:S:1:pos:R:3".to_string();
        let mut info = Vec::with_capacity(pairs.len());
        let mut timestep = None;
        for (k, v) in pairs {
            match k.to_ascii_lowercase().as_str() {
                "lattice" => {
                    let x = numbers(&v)
                        .filter(|x| x.len() == 9 && x.iter().all(|v| v.is_finite()))
                        .ok_or_else(|| {
                            self.cur
                                .err(format!("Lattice `{v}` must be 9 finite numbers"))
                        })?;
                    lattice = Some([[x[0], x[1], x[2]], [x[3], x[4], x[5]], [x[6], x[7], x[8]]]);
                }
                "origin" => {
                    let x = numbers(&v)
                        .filter(|x| x.len() == 3 && x.iter().all(|v| v.is_finite()))
                        .ok_or_else(|| {
                            self.cur
                                .err(format!("Origin `{v}` must be 3 finite numbers"))
                        })?;
                    origin = [x[0], x[1], x[2]];
                }
                "pbc" => {
                    pbc = Some(parse_pbc(&v).ok_or_else(|| {
                        self.cur
                            .err(format!("pbc `{v}` must be three of T/F (e.g. \"T T F\")"))
                    })?);
                }
                "properties" => properties = v,
                lower => {
                    // Some writers use `timestep` for the integration step in time units;
                    // only an integer counts as the MD step number.
                    if lower == "timestep" && timestep.is_none() {
                        timestep = parse_u64(v.trim().as_bytes());
                    }
                    info.push((k, v));
                }
            }
        }
        let schema = parse_properties(&properties).map_err(|m| self.cur.err(m))?;

        // Atom lines.
        let cap = n.min(MAX_PREALLOC);
        let mut positions: Vec<[f64; 3]> = Vec::with_capacity(cap);
        let mut species: Vec<u16> = Vec::with_capacity(cap);
        let mut names: Vec<Vec<u8>> = Vec::new();
        let mut ids: Vec<i64> = Vec::new();
        let mut builders: Vec<Builder> = schema
            .props
            .iter()
            .map(|(_, t, nc)| {
                let c = cap.saturating_mul(*nc).min(MAX_PREALLOC);
                match t {
                    'R' => Builder::Real(Vec::with_capacity(c)),
                    'I' => Builder::Int(Vec::with_capacity(c)),
                    'L' => Builder::Bool(Vec::with_capacity(c)),
                    _ => Builder::Str(Vec::with_capacity(c)),
                }
            })
            .collect();
        let ncols = schema.roles.len();
        let first_line = self.cur.lines.line() + 1;
        for i in 0..n {
            let line = match self.cur.lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    return Err(self.cur.err(format!(
                    "truncated frame: {n} atoms announced but the file ends after {i} atom lines"
                )))
                }
                Err(e) => return Err(self.cur.io_err(e)),
            };
            let mut pos = [0.0; 3];
            let mut k = 0;
            let mut toks = Tokens::new(line);
            let mut bad: Option<(usize, &[u8], &str)> = None;
            for tok in toks.by_ref() {
                if k == ncols {
                    k += 1;
                    break;
                }
                match schema.roles[k] {
                    Role::Pos(d) => match parse_f64(tok) {
                        Some(v) if v.is_finite() => pos[d] = v,
                        Some(_) => bad = bad.or(Some((k, tok, "is not finite"))),
                        None => bad = bad.or(Some((k, tok, "is not a number"))),
                    },
                    Role::Species => {
                        let idx = match names.iter().position(|s| s == tok) {
                            Some(idx) => idx,
                            None => {
                                names.push(tok.to_vec());
                                names.len() - 1
                            }
                        };
                        species.push(idx as u16);
                    }
                    Role::Z => match parse_i64(tok) {
                        Some(z) if (1..SYMBOLS.len() as i64).contains(&z) => {
                            let sym = SYMBOLS[z as usize].as_bytes();
                            let idx = match names.iter().position(|s| s == sym) {
                                Some(idx) => idx,
                                None => {
                                    names.push(sym.to_vec());
                                    names.len() - 1
                                }
                            };
                            species.push(idx as u16);
                        }
                        _ => bad = bad.or(Some((k, tok, "is not an atomic number"))),
                    },
                    Role::Id => match parse_i64(tok) {
                        Some(v) => ids.push(v),
                        None => bad = bad.or(Some((k, tok, "is not an integer"))),
                    },
                    Role::Prop(p) => match &mut builders[p] {
                        Builder::Real(v) => match parse_f64(tok) {
                            Some(x) => v.push(x),
                            None => bad = bad.or(Some((k, tok, "is not a number"))),
                        },
                        Builder::Int(v) => match parse_i64(tok) {
                            Some(x) => v.push(x),
                            None => bad = bad.or(Some((k, tok, "is not an integer"))),
                        },
                        Builder::Bool(v) => match parse_bool(tok) {
                            Some(x) => v.push(x),
                            None => bad = bad.or(Some((k, tok, "is not T or F"))),
                        },
                        Builder::Str(v) => v.push(String::from_utf8_lossy(tok).into_owned()),
                    },
                }
                k += 1;
            }
            if let Some((col, tok, what)) = bad {
                let msg = format!(
                    "`{}` in column {} (`{}`) {what}",
                    show(tok),
                    col + 1,
                    schema.column_names[col]
                );
                return Err(self.cur.err(msg));
            }
            if k != ncols {
                let found = if k > ncols { k + toks.count() } else { k };
                return Err(self.cur.err(format!(
                    "atom line has {found} values, Properties `{properties}` names {ncols} columns"
                )));
            }
            if names.len() > u16::MAX as usize {
                return Err(self.cur.err("more than 65535 distinct species"));
            }
            positions.push(pos);
        }

        let periodic = pbc.unwrap_or(if lattice.is_some() {
            [true; 3]
        } else {
            [false; 3]
        });
        let cell = match lattice {
            Some(edges) => SimBox::new(edges, origin, periodic)
                .map_err(|e| self.err_at(first_line - 1, format!("Lattice: {e}")))?,
            None => {
                if periodic.iter().any(|&p| p) {
                    return Err(self.err_at(
                        first_line - 1,
                        "pbc has a periodic axis but the frame has no Lattice",
                    ));
                }
                // `SimBox::enclosing` needs a finite volume: positions spanning ~1e100 A
                // and more (never physical) would overflow it.
                let mut lo = [f64::INFINITY; 3];
                let mut hi = [f64::NEG_INFINITY; 3];
                for p in &positions {
                    for d in 0..3 {
                        lo[d] = lo[d].min(p[d]);
                        hi[d] = hi[d].max(p[d]);
                    }
                }
                let volume: f64 = (0..3).map(|d| (hi[d] - lo[d]).max(0.0) + 1.0).product();
                if !positions.is_empty() && !volume.is_finite() {
                    return Err(self.err_at(
                        first_line - 1,
                        "positions span too large a region for a box (no Lattice given)",
                    ));
                }
                SimBox::enclosing(&positions, 0.0)
                    .map_err(|e| self.err_at(first_line - 1, e.to_string()))?
            }
        };
        let mut frame = Frame {
            positions,
            species,
            species_names: names
                .into_iter()
                .map(|s| String::from_utf8_lossy(&s).into_owned())
                .collect(),
            ids: None,
            cell,
            properties: Vec::with_capacity(builders.len()),
            timestep,
            info,
        };
        for ((name, _, nc), b) in schema.props.iter().zip(builders) {
            let values = match b {
                Builder::Real(v) => PropertyValues::Real(v),
                Builder::Int(v) => PropertyValues::Int(v),
                Builder::Bool(v) => PropertyValues::Bool(v),
                Builder::Str(v) => PropertyValues::Str(v),
            };
            frame
                .set_property(name, *nc, values)
                .map_err(|e| self.err_at(first_line - 1, format!("Properties: {e}")))?;
        }
        if schema.roles.iter().any(|r| matches!(r, Role::Id)) {
            frame.ids = Some(ids);
            if let Err((dup, a, b)) = order_by_id(&mut frame) {
                let (a, b) = (a as u64 + first_line, b as u64 + first_line);
                return Err(self.err_at(b, format!("duplicate atom id {dup} (lines {a} and {b})")));
            }
        }
        Ok(frame)
    }

    fn err_at(&self, line: u64, message: impl Into<String>) -> CoreError {
        CoreError::format(
            place(&self.cur.path, Some(line), Some(self.cur.frame)),
            message,
        )
    }
}

impl<R: BufRead> Iterator for ExtXyzReader<R> {
    type Item = Result<Frame, CoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.read_frame()
    }
}

/// The columns a `Properties` string declares.
struct Schema {
    roles: Vec<Role>,
    column_names: Vec<String>,
    /// Free properties: name, type letter, number of columns.
    props: Vec<(String, char, usize)>,
}

fn parse_properties(s: &str) -> Result<Schema, String> {
    let fields: Vec<&str> = s.split(':').collect();
    if !fields.len().is_multiple_of(3) || s.trim().is_empty() {
        return Err(format!(
            "Properties `{s}` must be name:type:columns triples (e.g. species:S:1:pos:R:3)"
        ));
    }
    let mut schema = Schema {
        roles: Vec::new(),
        column_names: Vec::new(),
        props: Vec::new(),
    };
    let (mut has_species, mut has_pos) = (false, false);
    let mut seen: Vec<&str> = Vec::new();
    for t in fields.chunks(3) {
        let (name, ty, nc) = (t[0], t[1], t[2]);
        if name.is_empty() || seen.contains(&name) {
            return Err(format!(
                "Properties `{s}`: column name `{name}` is empty or repeated"
            ));
        }
        seen.push(name);
        let ty = match ty {
            "S" | "s" => 'S',
            "R" | "r" => 'R',
            "I" | "i" => 'I',
            "L" | "l" => 'L',
            _ => {
                return Err(format!(
                    "Properties `{s}`: type `{ty}` of `{name}` is not one of S, R, I, L"
                ))
            }
        };
        let nc: usize = match nc.parse() {
            Ok(k) if (1..=MAX_COLUMNS).contains(&k) && schema.roles.len() + k <= MAX_COLUMNS => {
                k
            }
            _ => {
                return Err(format!(
                    "Properties `{s}`: column count `{nc}` of `{name}` is not a positive integer, or the columns exceed {MAX_COLUMNS}"
                ))
            }
        };
        let expect = |want_ty: char, want_nc: usize| {
            if ty == want_ty && nc == want_nc {
                Ok(())
            } else {
                Err(format!(
                    "Properties `{s}`: `{name}` must be {name}:{want_ty}:{want_nc}"
                ))
            }
        };
        match name {
            "species" => {
                expect('S', 1)?;
                has_species = true;
                schema.roles.push(Role::Species);
            }
            "pos" => {
                expect('R', 3)?;
                has_pos = true;
                schema
                    .roles
                    .extend([Role::Pos(0), Role::Pos(1), Role::Pos(2)]);
            }
            "id" | "ids" => {
                expect('I', 1)?;
                schema.roles.push(Role::Id);
            }
            "Z" if !fields.chunks(3).any(|t| t[0] == "species") => {
                expect('I', 1)?;
                has_species = true;
                schema.roles.push(Role::Z);
            }
            _ => {
                let p = schema.props.len();
                schema.props.push((name.to_string(), ty, nc));
                schema.roles.extend(std::iter::repeat_n(Role::Prop(p), nc));
            }
        }
        for _ in 0..nc {
            schema.column_names.push(name.to_string());
        }
    }
    if !has_species || !has_pos {
        return Err(format!(
            "Properties `{s}` lacks {} (species:S:1 and pos:R:3 are required)",
            if has_pos { "species" } else { "pos" }
        ));
    }
    Ok(schema)
}

/// Split a comment line into `key=value` pairs (quoted values with `\"`, `\\`, `\n` escapes;
/// `{...}` / `[...]` values; a bare key has the value `T`).
pub fn parse_comment(line: &str) -> Result<Vec<(String, String)>, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let skip_ws = |i: &mut usize| {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
    };
    let read_word = |i: &mut usize, stop_at_eq: bool| -> Result<String, String> {
        let mut s = String::new();
        if *i < chars.len() && chars[*i] == '"' {
            *i += 1;
            loop {
                match chars.get(*i) {
                    None => return Err(format!("unterminated quote in comment line `{line}`")),
                    Some('"') => {
                        *i += 1;
                        break;
                    }
                    Some('\\') => {
                        match chars.get(*i + 1) {
                            Some('n') => s.push('\n'),
                            Some(&c @ ('"' | '\\')) => s.push(c),
                            Some(&c) => {
                                s.push('\\');
                                s.push(c);
                            }
                            None => {
                                return Err(format!("unterminated quote in comment line `{line}`"))
                            }
                        }
                        *i += 2;
                    }
                    Some(&c) => {
                        s.push(c);
                        *i += 1;
                    }
                }
            }
        } else if !stop_at_eq && *i < chars.len() && (chars[*i] == '{' || chars[*i] == '[') {
            let (open, close) = if chars[*i] == '{' {
                ('{', '}')
            } else {
                ('[', ']')
            };
            let mut depth = 0;
            loop {
                match chars.get(*i) {
                    None => return Err(format!("unmatched `{open}` in comment line `{line}`")),
                    Some(&c) => {
                        s.push(c);
                        *i += 1;
                        if c == open {
                            depth += 1;
                        } else if c == close {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                }
            }
        } else {
            while *i < chars.len()
                && !chars[*i].is_whitespace()
                && !(stop_at_eq && chars[*i] == '=')
            {
                s.push(chars[*i]);
                *i += 1;
            }
        }
        Ok(s)
    };
    loop {
        skip_ws(&mut i);
        if i >= chars.len() {
            break;
        }
        if chars[i] == '=' {
            return Err(format!("`=` without a key in comment line `{line}`"));
        }
        let key = read_word(&mut i, true)?;
        let mut j = i;
        skip_ws(&mut j);
        if j < chars.len() && chars[j] == '=' {
            j += 1;
            skip_ws(&mut j);
            i = j;
            let value = read_word(&mut i, false)?;
            out.push((key, value));
        } else {
            out.push((key, "T".to_string()));
        }
    }
    Ok(out)
}

/// Numbers of a Lattice/Origin value: separated by whitespace or commas, brackets ignored.
fn numbers(v: &str) -> Option<Vec<f64>> {
    v.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .map(|t| parse_f64(t.as_bytes()))
        .collect()
}

fn parse_bool(tok: &[u8]) -> Option<bool> {
    match tok {
        b"T" | b"True" | b"true" | b"TRUE" | b"1" => Some(true),
        b"F" | b"False" | b"false" | b"FALSE" | b"0" => Some(false),
        _ => None,
    }
}

fn parse_pbc(v: &str) -> Option<[bool; 3]> {
    let flags: Option<Vec<bool>> = v
        .split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']')
        .filter(|t| !t.is_empty())
        .map(|t| parse_bool(t.as_bytes()))
        .collect();
    match flags?.as_slice() {
        &[a, b, c] => Some([a, b, c]),
        _ => None,
    }
}

/// Whether a value can be written without quotes.
fn is_plain(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.+-:,/@%".contains(c))
}

fn quote(out: &mut Vec<u8>, s: &str) {
    if is_plain(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    out.push(b'"');
}

fn check_token(what: &str, s: &str) -> Result<(), CoreError> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace()) {
        return Err(CoreError::InvalidArgument(format!(
            "{what} `{s}` is empty or contains whitespace: it cannot be an extXYZ column value"
        )));
    }
    Ok(())
}

/// Append one frame in extended XYZ to `out`: `Lattice` (and `Origin` when not zero),
/// `Properties=species:S:1:pos:R:3[:id:I:1]` plus every property in order, `pbc`, then the
/// info pairs (with `Timestep=` from [`Frame::timestep`]). Reals are written with shortest
/// round-trip digits, so reading the file back gives the same bits.
pub fn format_frame(out: &mut Vec<u8>, frame: &Frame) -> Result<(), CoreError> {
    for s in &frame.species_names {
        check_token("species", s)?;
    }
    let mut props = String::from("species:S:1:pos:R:3");
    if frame.ids.is_some() {
        props.push_str(":id:I:1");
    }
    for p in &frame.properties {
        if p.name.is_empty() || p.name.contains(':') || p.name.chars().any(char::is_whitespace) {
            return Err(CoreError::InvalidArgument(format!(
                "property name `{}` cannot be written to extXYZ",
                p.name
            )));
        }
        if let PropertyValues::Str(v) = &p.values {
            for s in v {
                check_token(&format!("value of property `{}`", p.name), s)?;
            }
        }
        props.push_str(&format!(
            ":{}:{}:{}",
            p.name,
            p.values.type_letter(),
            p.ncols
        ));
    }
    let _ = writeln!(out, "{}", frame.len());
    let e = frame.cell.edges();
    out.extend_from_slice(b"Lattice=\"");
    for (k, v) in e.iter().flatten().enumerate() {
        if k > 0 {
            out.push(b' ');
        }
        write_f64(out, *v);
    }
    out.push(b'"');
    let o = frame.cell.origin();
    if o != [0.0; 3] {
        out.extend_from_slice(b" Origin=\"");
        for (k, v) in o.iter().enumerate() {
            if k > 0 {
                out.push(b' ');
            }
            write_f64(out, *v);
        }
        out.push(b'"');
    }
    let _ = write!(out, " Properties={props}");
    let p = frame.cell.periodic();
    let tf = |b: bool| if b { 'T' } else { 'F' };
    let _ = write!(out, " pbc=\"{} {} {}\"", tf(p[0]), tf(p[1]), tf(p[2]));
    let mut wrote_timestep = false;
    for (k, v) in &frame.info {
        let lower = k.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) || k.is_empty() {
            continue;
        }
        out.push(b' ');
        quote(out, k);
        out.push(b'=');
        match (lower.as_str(), frame.timestep) {
            ("timestep", Some(t)) if !wrote_timestep => {
                let _ = write!(out, "{t}");
                wrote_timestep = true;
            }
            _ => quote(out, v),
        }
    }
    if let (Some(t), false) = (frame.timestep, wrote_timestep) {
        let _ = write!(out, " Timestep={t}");
    }
    out.push(b'\n');
    for i in 0..frame.len() {
        out.extend_from_slice(frame.species_of(i).as_bytes());
        for v in frame.positions[i] {
            out.push(b' ');
            write_f64(out, v);
        }
        if let Some(ids) = &frame.ids {
            let _ = write!(out, " {}", ids[i]);
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
                PropertyValues::Bool(v) => {
                    for &x in &v[r] {
                        out.extend_from_slice(if x { b" T" } else { b" F" });
                    }
                }
                PropertyValues::Str(v) => {
                    for x in &v[r] {
                        out.push(b' ');
                        out.extend_from_slice(x.as_bytes());
                    }
                }
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
    fn comment_line_pairs() {
        let p =
            parse_comment(r#"Lattice="1 0 0 0 1 0 0 0 1" a=1 flag b = "x \"y\"" c={1 2} d=[3, 4]"#)
                .unwrap();
        let want = [
            ("Lattice", "1 0 0 0 1 0 0 0 1"),
            ("a", "1"),
            ("flag", "T"),
            ("b", "x \"y\""),
            ("c", "{1 2}"),
            ("d", "[3, 4]"),
        ];
        assert_eq!(p.len(), want.len());
        for ((k, v), (wk, wv)) in p.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert!(parse_comment(r#"a="open"#).is_err());
        assert!(parse_comment("=3").is_err());
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "two words",
            "q\"uote",
            "back\\slash",
            "",
            "a=b",
            "line\nbreak",
        ] {
            let mut out = Vec::new();
            out.extend_from_slice(b"k=");
            quote(&mut out, s);
            let p = parse_comment(std::str::from_utf8(&out).unwrap()).unwrap();
            assert_eq!(p, vec![("k".to_string(), s.to_string())], "{s}");
        }
    }

    #[test]
    fn properties_schema() {
        let s = parse_properties("species:S:1:pos:R:3:forces:R:3:tags:I:1:id:I:1").unwrap();
        assert_eq!(s.roles.len(), 9);
        assert_eq!(s.props.len(), 2);
        assert!(parse_properties("species:S:1").is_err());
        assert!(parse_properties("species:S:1:pos:R").is_err());
        assert!(parse_properties("species:S:1:pos:Q:3").is_err());
        assert!(parse_properties("species:S:1:pos:R:2").is_err());
        assert!(parse_properties("Z:I:1:pos:R:3").is_ok());
    }
}

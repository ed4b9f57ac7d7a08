//! LAMMPS data files (`read_data` / `write_data`), atomic style, one frame.
//!
//! Reading: the header (`N atoms`, `N atom types`, `xlo xhi`, `ylo yhi`, `zlo zhi`,
//! `xy xz yz`; other header lines are ignored), `Masses` (a `# Name` comment after a mass names
//! the type), `Atom Type Labels`, and `Atoms` in the style its `# style` comment names:
//! `atomic` (`id type x y z`, the default when there is no comment), `charge`
//! (`id type q x y z`), `molecular`/`bond`/`angle` (`id mol type x y z`) or `full`
//! (`id mol type q x y z`), each optionally followed by image flags `ix iy iz`, which are
//! unwrapped into the positions (r + ix a + iy b + iz c). Charges become property `q`,
//! molecule ids property `mol`. Other sections are skipped. A data file does not record
//! boundaries: the box is periodic along all axes, as LAMMPS' default.
//!
//! Writing: atomic style, restricted triclinic box (`xy xz yz` only when tilted), type names as
//! `Masses` comments when masses are given and as `Atom Type Labels` otherwise (unless the
//! species are type numbers already).

use std::io::{BufRead, Write};
use std::path::Path;

use crate::cell::SimBox;
use crate::error::CoreError;
use crate::frame::{Frame, PropertyValues};
use crate::io::lammps_dump::lammps_types;
use crate::io::text::{
    is_blank, order_by_id, parse_f64, parse_i64, parse_u64, place, show, write_f64, Input,
    LineReader, SpeciesTable, Tokens, MAX_PREALLOC,
};

/// Column layout of an `Atoms` section style: positions of mol, type, q and x.
#[derive(Debug, Clone, Copy)]
struct Style {
    name: &'static str,
    mol: Option<usize>,
    type_col: usize,
    q: Option<usize>,
    x: usize,
    ncols: usize,
}

const STYLES: [Style; 6] = [
    Style {
        name: "atomic",
        mol: None,
        type_col: 1,
        q: None,
        x: 2,
        ncols: 5,
    },
    Style {
        name: "charge",
        mol: None,
        type_col: 1,
        q: Some(2),
        x: 3,
        ncols: 6,
    },
    Style {
        name: "molecular",
        mol: Some(1),
        type_col: 2,
        q: None,
        x: 3,
        ncols: 6,
    },
    Style {
        name: "bond",
        mol: Some(1),
        type_col: 2,
        q: None,
        x: 3,
        ncols: 6,
    },
    Style {
        name: "angle",
        mol: Some(1),
        type_col: 2,
        q: None,
        x: 3,
        ncols: 6,
    },
    Style {
        name: "full",
        mol: Some(1),
        type_col: 2,
        q: Some(3),
        x: 4,
        ncols: 7,
    },
];

/// The rows of an `Atoms` section.
struct AtomsSection {
    positions: Vec<[f64; 3]>,
    ids: Vec<i64>,
    types: Vec<i64>,
    charges: Vec<f64>,
    molecules: Vec<i64>,
    /// Line of the first row.
    first_line: u64,
}

/// Read a LAMMPS data file (gzip or not). `types` names LAMMPS type `k` as `types[k - 1]` and
/// takes precedence over names found in the file.
pub fn read_data(path: impl AsRef<Path>, types: Option<&[String]>) -> Result<Frame, CoreError> {
    let path = path.as_ref();
    parse_data(Input::open(path)?, path, types)
}

/// Parse a LAMMPS data file from `input`; `path` names it in error messages.
pub fn parse_data<R: BufRead>(
    input: R,
    path: &Path,
    types: Option<&[String]>,
) -> Result<Frame, CoreError> {
    let mut lines = LineReader::new(input);
    let err_at = |line: u64, m: String| CoreError::format(place(path, Some(line), None), m);
    let io_err = |line: u64, e: std::io::Error| err_at(line + 1, format!("read error: {e}"));

    // The first line is a title, whatever it says.
    match lines.next_line() {
        Ok(Some(_)) => {}
        Ok(None) => return Err(err_at(1, "empty data file".into())),
        Err(e) => return Err(io_err(0, e)),
    }
    let mut n_atoms: Option<usize> = None;
    let mut n_types: usize = 0;
    let mut lo = [0.0; 3];
    let mut hi = [0.0; 3];
    let mut got = [false; 3];
    let mut tilt = [0.0; 3];
    // Header, up to the first section keyword.
    let mut section: Option<(String, String, u64)> = None;
    loop {
        let line = match lines.next_line() {
            Ok(Some(l)) => String::from_utf8_lossy(l).into_owned(),
            Ok(None) => break,
            Err(e) => return Err(io_err(lines.line(), e)),
        };
        let ln = lines.line();
        let (body, comment) = split_comment(&line);
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        let words: Vec<&str> = body.split_ascii_whitespace().collect();
        if words[0].as_bytes()[0].is_ascii_alphabetic() {
            section = Some((body.to_string(), comment.trim().to_string(), ln));
            break;
        }
        let num = |k: usize| -> Result<f64, CoreError> {
            words
                .get(k)
                .and_then(|w| parse_f64(w.as_bytes()))
                .filter(|v| v.is_finite())
                .ok_or_else(|| err_at(ln, format!("header line `{body}`: expected a number")))
        };
        let count = || -> Result<usize, CoreError> {
            parse_u64(words[0].as_bytes())
                .and_then(|v| usize::try_from(v).ok())
                .ok_or_else(|| err_at(ln, format!("header line `{body}`: bad count")))
        };
        match &words[1..] {
            ["atoms"] => n_atoms = Some(count()?),
            ["atom", "types"] => n_types = count()?,
            [_, "xlo", "xhi"] | [_, "ylo", "yhi"] | [_, "zlo", "zhi"] => {
                let d = (words[2].as_bytes()[0] - b'x') as usize;
                lo[d] = num(0)?;
                hi[d] = num(1)?;
                got[d] = true;
            }
            [_, _, "xy", "xz", "yz"] => tilt = [num(0)?, num(1)?, num(2)?],
            _ => {} // bonds, angles, extra ... per atom, ellipsoids: not needed here
        }
    }
    let n_atoms =
        n_atoms.ok_or_else(|| err_at(lines.line(), "header has no `N atoms` line".into()))?;
    if n_types > u16::MAX as usize {
        return Err(err_at(
            lines.line(),
            format!("{n_types} atom types: at most 65535 are supported"),
        ));
    }
    if !got.iter().all(|&g| g) {
        return Err(err_at(
            lines.line(),
            "header lacks one of the `xlo xhi`, `ylo yhi`, `zlo zhi` lines".into(),
        ));
    }
    let cell = SimBox::from_lammps(lo, hi, tilt, [true; 3])
        .map_err(|e| err_at(lines.line(), format!("box: {e}")))?;

    let mut type_names: Vec<Option<String>> = vec![None; n_types];
    let mut atoms: Option<AtomsSection> = None;
    while let Some((name, comment, header_line)) = section.take() {
        // The section body: lines up to the next blank line after the first non-blank one.
        let keyword = name.split_ascii_whitespace().collect::<Vec<_>>().join(" ");
        let mut body_started = false;
        let mut rows: u64 = 0;
        let mut first_line = 0;
        let cap = n_atoms.min(MAX_PREALLOC);
        let style = if keyword == "Atoms" {
            let hint = comment.split_ascii_whitespace().next().unwrap_or("");
            match hint {
                "" => None,
                h => Some(*STYLES.iter().find(|s| s.name == h).ok_or_else(|| {
                    err_at(
                        header_line,
                        format!("Atoms style `{h}` is not supported (atomic, charge, molecular, bond, angle, full)"),
                    )
                })?),
            }
        } else {
            None
        };
        let mut style = style;
        let (mut pos, mut ids, mut tys, mut qs, mut mols) = (
            Vec::with_capacity(if keyword == "Atoms" { cap } else { 0 }),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        loop {
            let ln = lines.line() + 1;
            let line = match lines.next_line() {
                Ok(Some(l)) => l,
                Ok(None) => break,
                Err(e) => return Err(io_err(ln - 1, e)),
            };
            if is_blank(line) {
                if body_started {
                    break;
                }
                continue;
            }
            if !body_started {
                first_line = ln;
            }
            body_started = true;
            rows += 1;
            let (data, comment) = split_comment_bytes(line);
            match keyword.as_str() {
                "Masses" | "Atom Type Labels" => {
                    let mut toks = Tokens::new(data);
                    let k = toks.next().and_then(parse_i64);
                    let second = toks.next();
                    let label = if keyword == "Masses" {
                        Tokens::new(comment).next()
                    } else {
                        second
                    };
                    match k {
                        Some(k) if k >= 1 && (k as usize) <= type_names.len() => {
                            if let Some(l) = label {
                                type_names[k as usize - 1] =
                                    Some(String::from_utf8_lossy(l).into_owned());
                            }
                        }
                        _ => {
                            return Err(err_at(
                                ln,
                                format!(
                                "{keyword} line `{}`: expected a type number from 1 to {n_types}",
                                show(data)
                            ),
                            ))
                        }
                    }
                }
                "Atoms" => {
                    let toks: Vec<&[u8]> = Tokens::new(data).collect();
                    let st = match style {
                        Some(s) => s,
                        None => {
                            if toks.len() == 5 || toks.len() == 8 {
                                style = Some(STYLES[0]);
                                STYLES[0]
                            } else {
                                return Err(err_at(
                                    ln,
                                    format!(
                                        "Atoms line has {} values: name the style as `Atoms # full` (atomic has 5, or 8 with image flags)",
                                        toks.len()
                                    ),
                                ));
                            }
                        }
                    };
                    if toks.len() != st.ncols && toks.len() != st.ncols + 3 {
                        return Err(err_at(
                            ln,
                            format!(
                                "Atoms line has {} values, style {} needs {} (or {} with image flags)",
                                toks.len(),
                                st.name,
                                st.ncols,
                                st.ncols + 3
                            ),
                        ));
                    }
                    let int = |k: usize, what: &str| {
                        parse_i64(toks[k]).ok_or_else(|| {
                            err_at(ln, format!("{what} `{}` is not an integer", show(toks[k])))
                        })
                    };
                    let real = |k: usize, what: &str| {
                        parse_f64(toks[k]).filter(|v| v.is_finite()).ok_or_else(|| {
                            err_at(
                                ln,
                                format!("{what} `{}` is not a finite number", show(toks[k])),
                            )
                        })
                    };
                    ids.push(int(0, "atom id")?);
                    tys.push(int(st.type_col, "atom type")?);
                    if let Some(m) = st.mol {
                        mols.push(int(m, "molecule id")?);
                    }
                    if let Some(q) = st.q {
                        qs.push(real(q, "charge")?);
                    }
                    let mut r = [real(st.x, "x")?, real(st.x + 1, "y")?, real(st.x + 2, "z")?];
                    if toks.len() == st.ncols + 3 {
                        let img = [
                            int(st.ncols, "image flag")?,
                            int(st.ncols + 1, "image flag")?,
                            int(st.ncols + 2, "image flag")?,
                        ];
                        if img != [0; 3] {
                            let e = cell.edges();
                            for (d, rd) in r.iter_mut().enumerate() {
                                *rd += img[0] as f64 * e[0][d]
                                    + img[1] as f64 * e[1][d]
                                    + img[2] as f64 * e[2][d];
                            }
                        }
                    }
                    pos.push(r);
                }
                _ => {}
            }
            // Peek ahead is not possible on a stream: a keyword line right after the body
            // without a blank line is not valid LAMMPS either.
        }
        if keyword == "Atoms" {
            if rows as usize != n_atoms {
                return Err(err_at(
                    lines.line(),
                    format!("Atoms section has {rows} lines, the header says {n_atoms} atoms"),
                ));
            }
            atoms = Some(AtomsSection {
                positions: pos,
                ids,
                types: tys,
                charges: qs,
                molecules: mols,
                first_line,
            });
        }
        // Next section keyword.
        loop {
            let line = match lines.next_line() {
                Ok(Some(l)) => String::from_utf8_lossy(l).into_owned(),
                Ok(None) => break,
                Err(e) => return Err(io_err(lines.line(), e)),
            };
            let (body, comment) = split_comment(&line);
            if body.trim().is_empty() {
                continue;
            }
            if !body.trim().as_bytes()[0].is_ascii_alphabetic() {
                return Err(err_at(
                    lines.line(),
                    format!(
                        "expected a section keyword, found `{}` (more lines than the section's count?)",
                        show(body.trim().as_bytes())
                    ),
                ));
            }
            section = Some((
                body.trim().to_string(),
                comment.trim().to_string(),
                lines.line(),
            ));
            break;
        }
    }
    let Some(AtomsSection {
        positions,
        ids,
        types: tys,
        charges: qs,
        molecules: mols,
        first_line,
    }) = atoms
    else {
        if n_atoms == 0 {
            let mut f = Frame::new(Vec::new(), &[], cell)?;
            f.ids = Some(Vec::new());
            return Ok(f);
        }
        return Err(err_at(lines.line(), "no Atoms section".into()));
    };

    let mut frame = Frame {
        positions,
        species: Vec::new(),
        species_names: Vec::new(),
        ids: None,
        cell,
        properties: Vec::new(),
        timestep: None,
        info: Vec::new(),
    };
    // Species in type order, so every frame of the same system numbers them alike.
    let name_of = |t: i64| -> Option<String> {
        match types {
            Some(names) => names.get((t - 1) as usize).cloned(),
            None => Some(
                type_names
                    .get((t - 1) as usize)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| t.to_string()),
            ),
        }
    };
    let mut map: Vec<(i64, u16)> = Vec::new();
    let mut distinct: Vec<i64> = (1..=n_types as i64).collect();
    distinct.extend(tys.iter().copied());
    distinct.sort_unstable();
    distinct.dedup();
    for (row, &t) in tys.iter().enumerate() {
        if t < 1 || t as usize > n_types {
            return Err(err_at(
                first_line + row as u64,
                format!("atom type {t} is outside 1..={n_types} (`atom types` in the header)"),
            ));
        }
    }
    let mut table = SpeciesTable::default();
    for t in distinct {
        let name = name_of(t).ok_or_else(|| {
            err_at(
                first_line,
                format!("atom type {t} has no name: too few type names given"),
            )
        })?;
        let k = table
            .intern(&mut frame, name)
            .ok_or_else(|| err_at(first_line, "more than 65535 species".into()))?;
        map.push((t, k));
    }
    frame.species = tys
        .iter()
        .map(|t| map[map.partition_point(|(x, _)| x < t)].1)
        .collect();
    if !qs.is_empty() {
        frame.set_property("q", 1, PropertyValues::Real(qs))?;
    }
    if !mols.is_empty() {
        frame.set_property("mol", 1, PropertyValues::Int(mols))?;
    }
    frame.ids = Some(ids);
    if let Err((dup, a, b)) = order_by_id(&mut frame) {
        let (a, b) = (a as u64 + first_line, b as u64 + first_line);
        return Err(err_at(
            b,
            format!("duplicate atom id {dup} (lines {a} and {b})"),
        ));
    }
    Ok(frame)
}

fn split_comment(line: &str) -> (&str, &str) {
    match line.find('#') {
        Some(k) => (&line[..k], &line[k + 1..]),
        None => (line, ""),
    }
}

fn split_comment_bytes(line: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b'#', line) {
        Some(k) => (&line[..k], &line[k + 1..]),
        None => (line, &[]),
    }
}

/// Append a LAMMPS data file (atomic style) of `frame` to `out`. `masses` (amu, one per
/// species in [`Frame::species_names`] order) adds a `Masses` section. Fails when the cell is
/// not in LAMMPS' restricted triclinic form (a along x, b in the xy plane): rotating a
/// structure into that form is left to the caller.
pub fn format_data(
    out: &mut Vec<u8>,
    frame: &Frame,
    masses: Option<&[f64]>,
) -> Result<(), CoreError> {
    let cell = &frame.cell;
    if !cell.is_lammps_form() {
        return Err(CoreError::InvalidArgument(format!(
            "cell {:?} is not in LAMMPS' restricted triclinic form (a along x, b in the xy plane, positive diagonal); rotate the structure first",
            cell.edges()
        )));
    }
    if let Some(m) = masses {
        if m.len() != frame.species_names.len() {
            return Err(CoreError::InvalidArgument(format!(
                "{} masses for {} species",
                m.len(),
                frame.species_names.len()
            )));
        }
    }
    let (type_numbers, named) = lammps_types(frame);
    let n_types = type_numbers.iter().copied().max().unwrap_or(1);
    let e = cell.edges();
    let o = cell.origin();
    let hi = [o[0] + e[0][0], o[1] + e[1][1], o[2] + e[2][2]];
    let tilt = [e[1][0], e[2][0], e[2][1]];
    let _ = write!(
        out,
        "LAMMPS data file (atomic style)\n\n{} atoms\n{n_types} atom types\n\n",
        frame.len()
    );
    for (d, axis) in ["x", "y", "z"].iter().enumerate() {
        write_f64(out, o[d]);
        out.push(b' ');
        write_f64(out, hi[d]);
        let _ = writeln!(out, " {axis}lo {axis}hi");
    }
    if tilt != [0.0; 3] {
        for t in tilt {
            write_f64(out, t);
            out.push(b' ');
        }
        out.extend_from_slice(b"xy xz yz\n");
    }
    if let Some(m) = masses {
        out.extend_from_slice(b"\nMasses\n\n");
        for (s, name) in frame.species_names.iter().enumerate() {
            let _ = write!(out, "{} ", type_numbers[s]);
            write_f64(out, m[s]);
            if named {
                let _ = write!(out, " # {name}");
            }
            out.push(b'\n');
        }
    } else if named {
        out.extend_from_slice(b"\nAtom Type Labels\n\n");
        for (s, name) in frame.species_names.iter().enumerate() {
            if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
                return Err(CoreError::InvalidArgument(format!(
                    "species `{name}` cannot be a LAMMPS type label"
                )));
            }
            let _ = writeln!(out, "{} {name}", type_numbers[s]);
        }
    }
    out.extend_from_slice(b"\nAtoms # atomic\n\n");
    for i in 0..frame.len() {
        let id = frame.ids.as_ref().map_or(i as i64 + 1, |ids| ids[i]);
        let _ = write!(out, "{id} {}", type_numbers[frame.species[i] as usize]);
        for v in frame.positions[i] {
            out.push(b' ');
            write_f64(out, v);
        }
        out.push(b'\n');
    }
    Ok(())
}

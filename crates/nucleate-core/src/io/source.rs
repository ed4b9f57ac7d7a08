//! Trajectories as streams of frames, whatever the format: [`open_trajectory`] picks the reader
//! from the file name (or, failing that, the content) and delivers the frames a
//! [`FrameSelection`] asks for; [`create_trajectory`] writes frames in the format the output
//! name says.
//!
//! Frame selection never reads more than one frame at a time into memory. Selections counted
//! from the end (`last`, `-10:`) need the number of frames: for an uncompressed file a byte
//! offset index of every frame start is built once by passing over the atom lines without
//! parsing them, and the reader then seeks straight to each selected frame; a gzip stream
//! cannot seek, so it is counted in one pass and read in a second, skipping unselected frames
//! (again without parsing their numbers).

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::CoreError;
use crate::frame::Frame;
use crate::io::extxyz::{self, ExtXyzReader};
use crate::io::lammps_data;
use crate::io::lammps_dump::{self, DumpReader};
use crate::io::select::FrameSelection;
use crate::io::sink::AtomicFile;
use crate::io::text::{is_blank, Input, LineReader, Tokens};

/// A trajectory file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Extended XYZ (`.extxyz`, `.xyz`).
    ExtXyz,
    /// LAMMPS text dump (`.dump`, `.lammpstrj`, `dump.*`).
    LammpsDump,
    /// LAMMPS data file (`.data`, `.lmp`, `data.*`), a single frame.
    LammpsData,
}

/// How to read a trajectory.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Species names of LAMMPS atom types: type `k` is `types[k - 1]` (`--types Fe,Pt`).
    /// Without it, a LAMMPS type is named by its number (or by the file's own labels).
    pub types: Option<Vec<String>>,
    /// Which frames to deliver (`--frames`); all by default.
    pub frames: FrameSelection,
}

/// A source of frames read one at a time.
pub trait FrameSource {
    /// The next selected frame with its 0-based index in the file; `None` when done. After an
    /// error the source ends.
    fn next_indexed(&mut self) -> Option<Result<(usize, Frame), CoreError>>;

    /// The next selected frame; `None` when done.
    fn next_frame(&mut self) -> Option<Result<Frame, CoreError>> {
        self.next_indexed().map(|r| r.map(|(_, f)| f))
    }
}

/// The format of `path` from its name: `.extxyz`/`.xyz`, `.dump`/`.lammpstrj`, `.data`/`.lmp`
/// (a trailing `.gz` ignored), or LAMMPS' `dump.NAME` / `data.NAME`. `None` if the name says
/// nothing.
pub fn format_from_name(path: &Path) -> Option<Format> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let stem = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = stem.rsplit_once('.').map(|(_, e)| e);
    match ext {
        Some("extxyz" | "xyz") => return Some(Format::ExtXyz),
        Some("dump" | "lammpstrj") => return Some(Format::LammpsDump),
        Some("data" | "lmp") => return Some(Format::LammpsData),
        _ => {}
    }
    if stem.starts_with("dump.") {
        Some(Format::LammpsDump)
    } else if stem.starts_with("data.") {
        Some(Format::LammpsData)
    } else {
        None
    }
}

/// The format of an existing file: from its name, else from its first non-blank line
/// (`ITEM:` is a dump, a lone integer an extended XYZ file, anything else a data file's
/// title).
pub fn detect_format(path: &Path) -> Result<Format, CoreError> {
    if let Some(f) = format_from_name(path) {
        return Ok(f);
    }
    let mut lines = LineReader::new(Input::open(path)?);
    loop {
        match lines.next_line() {
            Ok(None) => {
                return Err(CoreError::format(
                    crate::error::Place {
                        path: Some(path.to_path_buf()),
                        line: None,
                        frame: None,
                    },
                    "empty file: cannot tell its format",
                ))
            }
            Ok(Some(l)) if is_blank(l) => continue,
            Ok(Some(l)) => {
                if l.starts_with(b"ITEM:") {
                    return Ok(Format::LammpsDump);
                }
                let mut t = Tokens::new(l);
                let first = t.next().unwrap_or(b"");
                let lone_int = !first.is_empty()
                    && first.iter().all(|b| b.is_ascii_digit())
                    && t.next().is_none();
                return Ok(if lone_int {
                    Format::ExtXyz
                } else {
                    Format::LammpsData
                });
            }
            Err(e) => return Err(CoreError::io(path, e)),
        }
    }
}

/// The format-specific reader.
enum Reader {
    Dump(Box<DumpReader<Input>>),
    Xyz(Box<ExtXyzReader<Input>>),
    /// A data file: its one frame until taken.
    Data(Option<Box<Frame>>),
}

impl Reader {
    fn open(path: &Path, format: Format, types: &Option<Vec<String>>) -> Result<Self, CoreError> {
        Ok(match format {
            Format::LammpsDump => Reader::Dump(Box::new(DumpReader::open(path, types.clone())?)),
            Format::ExtXyz => Reader::Xyz(Box::new(ExtXyzReader::open(path)?)),
            Format::LammpsData => Reader::Data(Some(Box::new(lammps_data::read_data(
                path,
                types.as_deref(),
            )?))),
        })
    }

    fn frame_index(&self) -> usize {
        match self {
            Reader::Dump(r) => r.frame_index(),
            Reader::Xyz(r) => r.frame_index(),
            Reader::Data(f) => usize::from(f.is_none()),
        }
    }

    fn read(&mut self) -> Option<Result<Frame, CoreError>> {
        match self {
            Reader::Dump(r) => r.read_frame(),
            Reader::Xyz(r) => r.read_frame(),
            Reader::Data(f) => f.take().map(|f| Ok(*f)),
        }
    }

    fn skip(&mut self) -> Option<Result<(), CoreError>> {
        match self {
            Reader::Dump(r) => r.skip_frame(),
            Reader::Xyz(r) => r.skip_frame(),
            Reader::Data(f) => f.take().map(|_| Ok(())),
        }
    }

    /// Byte offset and lines read before the next frame.
    fn position(&self) -> (u64, u64) {
        match self {
            Reader::Dump(r) => r.byte_position(),
            Reader::Xyz(r) => r.byte_position(),
            Reader::Data(_) => (0, 0),
        }
    }

    fn seekable(&mut self) -> bool {
        match self {
            Reader::Dump(r) => r.input_mut().is_seekable(),
            Reader::Xyz(r) => r.input_mut().is_seekable(),
            Reader::Data(_) => false,
        }
    }

    /// Move to the start of frame `frame`, at `offset` after `line` lines.
    fn seek(&mut self, offset: u64, line: u64, frame: usize) -> std::io::Result<bool> {
        match self {
            Reader::Dump(r) => {
                let ok = r.input_mut().seek_to(offset)?;
                if ok {
                    r.set_position(offset, line, frame);
                }
                Ok(ok)
            }
            Reader::Xyz(r) => {
                let ok = r.input_mut().seek_to(offset)?;
                if ok {
                    r.set_position(offset, line, frame);
                }
                Ok(ok)
            }
            Reader::Data(_) => Ok(false),
        }
    }
}

/// Which frames are still to come.
enum Plan {
    /// Decided frame by frame; stop at `end` if known.
    Stream {
        selection: FrameSelection,
        end: Option<usize>,
    },
    /// A resolved list, with frame start offsets (offset, lines before) when the file is
    /// seekable.
    List {
        wanted: Vec<usize>,
        next: usize,
        index: Option<Vec<(u64, u64)>>,
    },
}

/// A trajectory file opened for reading: an iterator over the selected frames.
pub struct Trajectory {
    path: PathBuf,
    format: Format,
    reader: Reader,
    plan: Plan,
    done: bool,
}

/// Open `path` as a trajectory: the format from the name or content, gzip transparently,
/// frames as `options.frames` selects.
pub fn open_trajectory(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<Trajectory, CoreError> {
    let path = path.as_ref();
    let format = detect_format(path)?;
    let mut reader = Reader::open(path, format, &options.types)?;
    let sel = &options.frames;
    let plan = if format == Format::LammpsData {
        Plan::List {
            wanted: sel.resolve(1),
            next: 0,
            index: None,
        }
    } else if sel.needs_count() {
        let (count, index) = if reader.seekable() {
            let index = build_index(&mut reader)?;
            (index.len(), Some(index))
        } else {
            let mut counter = Reader::open(path, format, &options.types)?;
            let mut n = 0;
            while let Some(r) = counter.skip() {
                r?;
                n += 1;
            }
            (n, None)
        };
        Plan::List {
            wanted: sel.resolve(count),
            next: 0,
            index,
        }
    } else {
        Plan::Stream {
            selection: sel.clone(),
            end: sel.end_streaming(),
        }
    };
    Ok(Trajectory {
        path: path.to_path_buf(),
        format,
        reader,
        plan,
        done: false,
    })
}

/// Start offsets of every frame (offset, lines before it), then back to the first frame.
fn build_index(reader: &mut Reader) -> Result<Vec<(u64, u64)>, CoreError> {
    let mut index = Vec::new();
    loop {
        let pos = reader.position();
        match reader.skip() {
            None => break,
            Some(r) => {
                r?;
                index.push(pos);
            }
        }
    }
    // An empty file has no frames; the reader is simply at its end.
    if let Some(&(offset, line)) = index.first() {
        let _ = reader.seek(offset, line, 0);
    }
    Ok(index)
}

impl Trajectory {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// An iterator of `(index in file, frame)` pairs.
    pub fn indexed(self) -> Indexed {
        Indexed(self)
    }

    fn advance(&mut self) -> Option<Result<(usize, Frame), CoreError>> {
        match &mut self.plan {
            Plan::Stream { selection, end } => loop {
                let i = self.reader.frame_index();
                if end.is_some_and(|e| i >= e) {
                    return None;
                }
                if selection.contains_streaming(i) {
                    return self.reader.read().map(|r| r.map(|f| (i, f)));
                }
                match self.reader.skip()? {
                    Ok(()) => {}
                    Err(e) => return Some(Err(e)),
                }
            },
            Plan::List {
                wanted,
                next,
                index,
            } => {
                let &target = wanted.get(*next)?;
                *next += 1;
                let current = self.reader.frame_index();
                if current != target {
                    if let Some(&(offset, line)) = index.as_ref().and_then(|ix| ix.get(target)) {
                        match self.reader.seek(offset, line, target) {
                            Ok(_) => {}
                            Err(e) => return Some(Err(CoreError::io(&self.path, e))),
                        }
                    }
                }
                while self.reader.frame_index() < target {
                    match self.reader.skip()? {
                        Ok(()) => {}
                        Err(e) => return Some(Err(e)),
                    }
                }
                self.reader.read().map(|r| r.map(|f| (target, f)))
            }
        }
    }
}

impl FrameSource for Trajectory {
    fn next_indexed(&mut self) -> Option<Result<(usize, Frame), CoreError>> {
        if self.done {
            return None;
        }
        let out = self.advance();
        if !matches!(out, Some(Ok(_))) {
            self.done = true;
        }
        out
    }
}

impl Iterator for Trajectory {
    type Item = Result<Frame, CoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_frame()
    }
}

/// Frames with their 0-based index in the file (see [`Trajectory::indexed`]).
pub struct Indexed(Trajectory);

impl Iterator for Indexed {
    type Item = Result<(usize, Frame), CoreError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next_indexed()
    }
}

/// The first selected frame of `path` (a single configuration).
pub fn read_frame(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Frame, CoreError> {
    let path = path.as_ref();
    let mut t = open_trajectory(path, options)?;
    match t.next_frame() {
        Some(r) => r,
        None => Err(CoreError::format(
            crate::error::Place {
                path: Some(path.to_path_buf()),
                line: None,
                frame: None,
            },
            format!("no frame selected by `{}`", options.frames),
        )),
    }
}

enum Sink {
    Plain(AtomicFile),
    Gzip(GzEncoder<AtomicFile>),
}

/// Frames written to a file in the format its name says (`.extxyz`/`.xyz`, `.dump`/
/// `.lammpstrj`, `.data`/`.lmp`; `.gz` compresses). The file appears only on
/// [`TrajectoryWriter::finish`].
pub struct TrajectoryWriter {
    path: PathBuf,
    format: Format,
    sink: Sink,
    buf: Vec<u8>,
    written: u64,
    masses: Option<Vec<f64>>,
}

/// Start writing `path`; its format comes from the name.
pub fn create_trajectory(path: impl AsRef<Path>) -> Result<TrajectoryWriter, CoreError> {
    let path = path.as_ref();
    let format = format_from_name(path).ok_or_else(|| {
        CoreError::InvalidArgument(format!(
            "{}: cannot tell the output format from the name (use .extxyz, .xyz, .dump, .lammpstrj, .data or .lmp, optionally .gz)",
            path.display()
        ))
    })?;
    let file = AtomicFile::create(path).map_err(|e| CoreError::io(path, e))?;
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let sink = if gz {
        Sink::Gzip(GzEncoder::new(file, Compression::default()))
    } else {
        Sink::Plain(file)
    };
    Ok(TrajectoryWriter {
        path: path.to_path_buf(),
        format,
        sink,
        buf: Vec::with_capacity(1 << 16),
        written: 0,
        masses: None,
    })
}

impl TrajectoryWriter {
    /// Masses (amu) per species, written to the `Masses` section of a data file.
    pub fn set_masses(&mut self, masses: Vec<f64>) {
        self.masses = Some(masses);
    }

    /// The output format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Append a frame.
    pub fn write_frame(&mut self, frame: &Frame) -> Result<(), CoreError> {
        self.buf.clear();
        let context = |e: CoreError| match e {
            CoreError::InvalidArgument(m) => {
                CoreError::InvalidArgument(format!("{}: {m}", self.path.display()))
            }
            e => e,
        };
        match self.format {
            Format::ExtXyz => extxyz::format_frame(&mut self.buf, frame).map_err(context)?,
            Format::LammpsDump => {
                lammps_dump::format_frame(&mut self.buf, frame, self.written).map_err(context)?
            }
            Format::LammpsData => {
                if self.written > 0 {
                    return Err(CoreError::InvalidArgument(format!(
                        "{}: a LAMMPS data file holds one frame",
                        self.path.display()
                    )));
                }
                lammps_data::format_data(&mut self.buf, frame, self.masses.as_deref())
                    .map_err(context)?
            }
        }
        let r = match &mut self.sink {
            Sink::Plain(f) => f.write_all(&self.buf),
            Sink::Gzip(g) => g.write_all(&self.buf),
        };
        r.map_err(|e| CoreError::io(&self.path, e))?;
        self.written += 1;
        Ok(())
    }

    /// Complete the file and move it into place.
    pub fn finish(self) -> Result<(), CoreError> {
        let path = self.path;
        let file = match self.sink {
            Sink::Plain(f) => f,
            Sink::Gzip(g) => g.finish().map_err(|e| CoreError::io(&path, e))?,
        };
        file.commit().map_err(|e| CoreError::io(&path, e))
    }
}

/// Write one frame to `path` in the format its name says.
pub fn write_frame(path: impl AsRef<Path>, frame: &Frame) -> Result<(), CoreError> {
    let mut w = create_trajectory(path)?;
    w.write_frame(frame)?;
    w.finish()
}

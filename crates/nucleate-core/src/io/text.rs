//! Line-oriented input shared by the text readers: a reused line buffer with line numbers and
//! byte offsets, whitespace tokens, and number parsing straight from bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{CoreError, Place};

/// Read buffer size: large enough that `read_until` rarely refills mid-line.
const BUF_BYTES: usize = 1 << 20;

/// Upper bound on capacity reserved from a count read in a file, so that a corrupt count can
/// not make an allocation abort the process; vectors still grow past it when atoms arrive.
pub(crate) const MAX_PREALLOC: usize = 1 << 16;

/// A byte source for the readers: a plain file (seekable), a gzip stream (decompressed on
/// the fly, not seekable) or bytes in memory (seekable).
pub enum Input {
    /// An uncompressed file.
    Plain(BufReader<File>),
    /// A gzip file (one or several members), decompressed while reading.
    Gzip(Box<BufReader<MultiGzDecoder<File>>>),
    /// Bytes in memory.
    Memory(Cursor<Vec<u8>>),
}

impl Input {
    /// Open `path`, decompressing transparently when the file starts with the gzip magic bytes.
    pub fn open(path: &Path) -> Result<Self, CoreError> {
        let mut file = File::open(path).map_err(|e| CoreError::io(path, e))?;
        let mut magic = [0u8; 2];
        let mut got = 0;
        while got < 2 {
            match file.read(&mut magic[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CoreError::io(path, e)),
            }
        }
        file.seek(SeekFrom::Start(0))
            .map_err(|e| CoreError::io(path, e))?;
        if got == 2 && magic == [0x1f, 0x8b] {
            Ok(Input::Gzip(Box::new(BufReader::with_capacity(
                BUF_BYTES,
                MultiGzDecoder::new(file),
            ))))
        } else {
            Ok(Input::Plain(BufReader::with_capacity(BUF_BYTES, file)))
        }
    }

    /// Bytes in memory (tests, fuzzing, data already loaded).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Input::Memory(Cursor::new(bytes))
    }

    /// Whether [`Input::seek_to`] can jump.
    pub fn is_seekable(&self) -> bool {
        !matches!(self, Input::Gzip(_))
    }

    /// Jump to byte `offset` of the uncompressed content; `Ok(false)` for gzip streams.
    pub fn seek_to(&mut self, offset: u64) -> io::Result<bool> {
        match self {
            Input::Plain(r) => r.seek(SeekFrom::Start(offset)).map(|_| true),
            Input::Memory(c) => c.seek(SeekFrom::Start(offset)).map(|_| true),
            Input::Gzip(_) => Ok(false),
        }
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Input::Plain(r) => r.read(buf),
            Input::Gzip(r) => r.read(buf),
            Input::Memory(r) => r.read(buf),
        }
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Input::Plain(r) => r.fill_buf(),
            Input::Gzip(r) => r.fill_buf(),
            Input::Memory(r) => r.fill_buf(),
        }
    }
    fn consume(&mut self, amt: usize) {
        match self {
            Input::Plain(r) => r.consume(amt),
            Input::Gzip(r) => r.consume(amt),
            Input::Memory(r) => r.consume(amt),
        }
    }
}

/// Lines of a `BufRead` read into one reused buffer, with the 1-based number of the last
/// line returned and the byte offset of the next one.
pub(crate) struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line: u64,
    offset: u64,
    /// Bytes of the last line returned straight from the reader's buffer, consumed on the
    /// next call (lines are parsed in place, without copying, when they do not straddle a
    /// buffer refill).
    pending: usize,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(256),
            line: 0,
            offset: 0,
            pending: 0,
        }
    }

    fn settle(&mut self) {
        if self.pending > 0 {
            self.inner.consume(self.pending);
            self.pending = 0;
        }
    }

    /// 1-based number of the last line returned (0 before the first).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// Byte offset of the next line.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    pub(crate) fn inner_mut(&mut self) -> &mut R {
        self.settle();
        &mut self.inner
    }

    /// After the underlying reader was moved to `offset`, where line `line` + 1 starts.
    pub(crate) fn reset_position(&mut self, offset: u64, line: u64) {
        self.pending = 0;
        self.offset = offset;
        self.line = line;
    }

    /// The next line without its `\n` or `\r\n`; `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        self.settle();
        let found = {
            let available = loop {
                match self.inner.fill_buf() {
                    Ok(b) => break b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if available.is_empty() {
                return Ok(None);
            }
            memchr::memchr(b'\n', available)
        };
        let line: &[u8] = match found {
            Some(pos) => {
                // Same buffer as above: fill_buf does not read while data is buffered.
                let available = self.inner.fill_buf()?;
                self.pending = pos + 1;
                self.offset += pos as u64 + 1;
                &available[..pos]
            }
            None => {
                self.buf.clear();
                let n = self.inner.read_until(b'\n', &mut self.buf)?;
                self.offset += n as u64;
                let mut end = self.buf.len();
                if end > 0 && self.buf[end - 1] == b'\n' {
                    end -= 1;
                }
                &self.buf[..end]
            }
        };
        self.line += 1;
        Ok(Some(line.strip_suffix(b"\r").unwrap_or(line)))
    }

    /// Read up to `n` lines into `block` (cleared first), copying whole runs of lines from the
    /// reader's buffer instead of going line by line. Reading stops early at the end of the
    /// input or at a line starting with `stop`, so a wrong count in a file cannot pull the
    /// rest of it into memory. On an error `block` holds the complete lines read before it.
    pub(crate) fn read_block(
        &mut self,
        n: usize,
        stop: &[u8],
        block: &mut LineBlock,
    ) -> io::Result<BlockEnd> {
        self.settle();
        block.clear();
        // Start of the line being read, in `block.bytes` (bytes past it are a partial line).
        let mut line_start = 0usize;
        let mut count = 0usize;
        let end = loop {
            if count == n {
                break BlockEnd::Complete;
            }
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    block.bytes.truncate(line_start);
                    self.line += count as u64;
                    return Err(e);
                }
            };
            if available.is_empty() {
                if block.bytes.len() > line_start {
                    // A last line without a newline.
                    if block.bytes[line_start..].starts_with(stop) {
                        self.line += count as u64 + 1;
                        block.bytes.truncate(line_start);
                        return Ok(BlockEnd::Stopped);
                    }
                    block.bytes.push(b'\n');
                    block.starts.push(block.bytes.len());
                    count += 1;
                    if count == n {
                        break BlockEnd::Complete;
                    }
                }
                break BlockEnd::Eof;
            }
            let base = block.bytes.len();
            // End (in `available`) of the complete lines taken from this buffer.
            let mut used = 0usize;
            let mut stopped_at = None;
            for pos in memchr::memchr_iter(b'\n', available) {
                let is_stop = if used == 0 && base > line_start {
                    // The line began in an earlier buffer.
                    let head = &block.bytes[line_start..];
                    let k = head.len().min(stop.len());
                    head[..k] == stop[..k] && available[..pos].starts_with(&stop[k..])
                } else {
                    available[used..pos].starts_with(stop)
                };
                if is_stop {
                    stopped_at = Some(pos);
                    break;
                }
                used = pos + 1;
                count += 1;
                line_start = base + used;
                block.starts.push(line_start);
                if count == n {
                    break;
                }
            }
            let (copy, consume) = match stopped_at {
                Some(pos) => (used, pos + 1),
                // A partial line at the end of the buffer is copied too.
                None if count < n => (available.len(), available.len()),
                None => (used, used),
            };
            block.bytes.extend_from_slice(&available[..copy]);
            self.inner.consume(consume);
            self.offset += consume as u64;
            if stopped_at.is_some() {
                self.line += count as u64 + 1;
                block.bytes.truncate(line_start);
                return Ok(BlockEnd::Stopped);
            }
        };
        self.line += count as u64;
        Ok(end)
    }

    /// Skip `n` lines without copying them; returns how many were skipped (fewer at the end of
    /// the input).
    pub(crate) fn skip_lines(&mut self, n: u64) -> io::Result<u64> {
        self.settle();
        let mut skipped = 0;
        while skipped < n {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let mut used = available.len();
            let mut ended_line = false;
            for pos in memchr::memchr_iter(b'\n', available) {
                skipped += 1;
                if skipped == n {
                    used = pos + 1;
                    ended_line = true;
                    break;
                }
            }
            // A chunk ending without newline continues a line into the next chunk.
            let last_partial = !ended_line && available.last() != Some(&b'\n');
            self.inner.consume(used);
            self.offset += used as u64;
            if last_partial {
                // Peek whether the input ends here: then the partial line counts.
                let at_end = loop {
                    match self.inner.fill_buf() {
                        Ok(b) => break b.is_empty(),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                };
                if at_end {
                    skipped += 1;
                    break;
                }
            }
        }
        self.line += skipped;
        Ok(skipped)
    }
}

/// Lines copied into one contiguous buffer, reused from frame to frame: line `i` is
/// `bytes[starts[i]..starts[i + 1]]` and ends with `\n` (one is added to a last line that
/// has none).
#[derive(Default)]
pub(crate) struct LineBlock {
    bytes: Vec<u8>,
    /// `len() + 1` offsets into `bytes`.
    starts: Vec<usize>,
}

impl LineBlock {
    fn clear(&mut self) {
        self.bytes.clear();
        self.starts.clear();
        self.starts.push(0);
    }

    /// Number of lines held.
    pub(crate) fn len(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Line `i` without its `\n` or `\r\n`, as [`LineReader::next_line`] returns it.
    #[inline]
    pub(crate) fn line(&self, i: usize) -> &[u8] {
        let l = &self.bytes[self.starts[i]..self.starts[i + 1] - 1];
        l.strip_suffix(b"\r").unwrap_or(l)
    }
}

/// How [`LineReader::read_block`] ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BlockEnd {
    /// All requested lines were read.
    Complete,
    /// The input ended after the lines held.
    Eof,
    /// The line after those held starts with the stop prefix: it was consumed (and counted
    /// by [`LineReader::line`]) but not stored.
    Stopped,
}

/// Whitespace-separated tokens of a line (space and ASCII control characters separate).
#[derive(Clone)]
pub(crate) struct Tokens<'a> {
    rest: &'a [u8],
}

impl<'a> Tokens<'a> {
    #[inline]
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Self { rest: line }
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];
    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let s = self.rest;
        let mut i = 0;
        while i < s.len() && is_separator(s[i]) {
            i += 1;
        }
        if i == s.len() {
            self.rest = &s[s.len()..];
            return None;
        }
        let start = i;
        while i < s.len() && !is_separator(s[i]) {
            i += 1;
        }
        self.rest = &s[i..];
        Some(&s[start..i])
    }
}

/// Token separators: space and the ASCII control characters (tab, CR, LF, FF, ...).
#[inline(always)]
fn is_separator(b: u8) -> bool {
    b <= b' '
}

/// Parse a whole token as f64 (accepts `1`, `-2.5e-3`, `nan`, `inf`), correctly rounded.
#[inline]
pub(crate) fn parse_f64(tok: &[u8]) -> Option<f64> {
    if let Some(v) = parse_short_decimal(tok) {
        return Some(v);
    }
    match fast_float2::parse_partial::<f64, _>(tok) {
        Ok((v, n)) if n == tok.len() => Some(v),
        _ => None,
    }
}

/// Powers of ten exactly representable as f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Clinger's fast path for the plain decimals dumps are full of (`-12.3456`, `%g` output):
/// with at most 15 significant digits and no exponent, the digits as an integer m and the
/// power 10^k are both exact doubles, so the single division m / 10^k is correctly rounded.
/// Anything else (exponents, long mantissas, `nan`) returns `None` for the general parser.
#[inline]
fn parse_short_decimal(tok: &[u8]) -> Option<f64> {
    let (neg, digits) = match tok.first()? {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut m: u64 = 0;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    let mut n_digits = 0usize;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            m = m * 10 + d as u64;
            n_digits += 1;
            if seen_dot {
                frac_digits += 1;
            }
        } else if b == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            return None;
        }
    }
    if n_digits == 0 || n_digits > 15 {
        return None;
    }
    let v = m as f64 / POW10[frac_digits];
    Some(if neg { -v } else { v })
}

/// Parse a whole token as i64 (optional sign, decimal digits).
#[inline]
pub(crate) fn parse_i64(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok.first()? {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d as i64)?
        } else {
            v.checked_add(d as i64)?
        };
    }
    Some(v)
}

/// Parse a whole token as u64.
pub(crate) fn parse_u64(tok: &[u8]) -> Option<u64> {
    let digits = tok.strip_prefix(b"+").unwrap_or(tok);
    if digits.is_empty() {
        return None;
    }
    let mut v: u64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// A token shown in an error message: lossy UTF-8, cut to a readable length.
pub(crate) fn show(tok: &[u8]) -> String {
    let s = String::from_utf8_lossy(tok);
    if s.chars().count() > 40 {
        let cut: String = s.chars().take(40).collect();
        format!("{cut}...")
    } else {
        s.into_owned()
    }
}

/// Whether a line holds nothing but whitespace.
pub(crate) fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| b.is_ascii_whitespace())
}

/// Where a frame reader stands: its lines, the file named in messages, the index of the next
/// frame and whether an error has ended the stream. Shared by the extXYZ and dump readers.
pub(crate) struct FrameCursor<R> {
    pub(crate) lines: LineReader<R>,
    pub(crate) path: PathBuf,
    pub(crate) frame: usize,
    pub(crate) failed: bool,
}

impl<R: BufRead> FrameCursor<R> {
    pub(crate) fn new(input: R, path: PathBuf) -> Self {
        Self {
            lines: LineReader::new(input),
            path,
            frame: 0,
            failed: false,
        }
    }

    /// Byte offset and number of lines before the next frame.
    pub(crate) fn byte_position(&self) -> (u64, u64) {
        (self.lines.offset(), self.lines.line())
    }

    /// After the input was moved to the start of frame `frame` at `offset`, after `line` lines.
    pub(crate) fn set_position(&mut self, offset: u64, line: u64, frame: usize) {
        self.lines.reset_position(offset, line);
        self.frame = frame;
        self.failed = false;
    }

    /// A format error at the current line and frame.
    pub(crate) fn err(&self, message: impl Into<String>) -> CoreError {
        CoreError::format(
            place(&self.path, Some(self.lines.line()), Some(self.frame)),
            message,
        )
    }

    /// A read error of the next line.
    pub(crate) fn io_err(&self, e: std::io::Error) -> CoreError {
        CoreError::format(
            place(&self.path, Some(self.lines.line() + 1), Some(self.frame)),
            format!("read error: {e}"),
        )
    }
}

/// A place in a file.
pub(crate) fn place(path: &Path, line: Option<u64>, frame: Option<usize>) -> Place {
    Place {
        path: Some(path.to_path_buf()),
        line,
        frame,
    }
}

/// Species names interned into a frame's table with a hash map (a file may declare
/// thousands of types; `Frame::species_index` searches linearly).
#[derive(Default)]
pub(crate) struct SpeciesTable {
    index: std::collections::HashMap<String, u16>,
}

impl SpeciesTable {
    /// The index of `name` in `frame.species_names`, added if new; `None` past 65535 names.
    pub(crate) fn intern(&mut self, frame: &mut crate::frame::Frame, name: String) -> Option<u16> {
        if let Some(&k) = self.index.get(&name) {
            return Some(k);
        }
        let k = u16::try_from(frame.species_names.len()).ok()?;
        if k == u16::MAX {
            return None;
        }
        frame.species_names.push(name.clone());
        self.index.insert(name, k);
        Some(k)
    }
}

/// Order a frame's atoms by id. On a repeated id, the frame is left as it was and the id
/// with the two rows (0-based, file order) holding it is returned. Ids that fill a range
/// `min..min + n` (what LAMMPS writes) are placed directly, in linear time.
pub(crate) fn order_by_id(frame: &mut crate::frame::Frame) -> Result<(), (i64, usize, usize)> {
    let Some(ids) = frame.ids.as_deref() else {
        return Ok(());
    };
    if ids.windows(2).all(|w| w[0] < w[1]) {
        return Ok(());
    }
    let n = ids.len();
    let min = ids.iter().copied().min().unwrap_or(0);
    let max = ids.iter().copied().max().unwrap_or(0);
    fn dup(ids: &[i64], id: i64) -> (i64, usize, usize) {
        let mut rows = ids
            .iter()
            .enumerate()
            .filter(|(_, &v)| v == id)
            .map(|(i, _)| i);
        let a = rows.next().unwrap_or(0);
        (id, a, rows.next().unwrap_or(a))
    }
    if (max as i128 - min as i128) < n as i128 {
        // Dense ids: each id has its slot; a filled slot is a repeat.
        let mut order = vec![usize::MAX; n];
        for (row, &id) in ids.iter().enumerate() {
            let slot = &mut order[(id - min) as usize];
            if *slot != usize::MAX {
                return Err(dup(ids, id));
            }
            *slot = row;
        }
        frame.permute(&order);
        return Ok(());
    }
    match frame.sort_by_id() {
        Ok(()) => Ok(()),
        Err(id) => Err(dup(frame.ids.as_deref().unwrap_or(&[]), id)),
    }
}

/// Writes `x` so that parsing it gives back exactly `x` (shortest round-trip digits; `{:?}`
/// keeps a decimal point or exponent so the value reads as a real number everywhere).
#[inline]
pub(crate) fn write_f64(out: &mut Vec<u8>, x: f64) {
    use std::io::Write;
    let _ = write!(out, "{x:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_lines_counts_a_final_line_without_newline() {
        let mut r = LineReader::new(Cursor::new(b"a\nb\nc".to_vec()));
        assert_eq!(r.skip_lines(1).unwrap(), 1);
        assert_eq!(r.offset(), 2);
        assert_eq!(r.skip_lines(5).unwrap(), 2);
        assert_eq!(r.line(), 3);
        assert!(r.next_line().unwrap().is_none());
    }

    #[test]
    fn skip_lines_across_small_buffers() {
        let text = b"one\ntwo\nthree\nfour\n".to_vec();
        let mut r = LineReader::new(BufReader::with_capacity(3, Cursor::new(text)));
        assert_eq!(r.skip_lines(2).unwrap(), 2);
        assert_eq!(r.next_line().unwrap().unwrap(), b"three");
        assert_eq!(r.line(), 3);
        assert_eq!(r.offset(), 14);
    }

    #[test]
    fn read_block_across_small_buffers() {
        let text = b"a 1\nbb 2\r\nITEM: X\nc\n".to_vec();
        for cap in [1, 2, 3, 5, 64] {
            let mut r = LineReader::new(BufReader::with_capacity(cap, Cursor::new(text.clone())));
            let mut b = LineBlock::default();
            assert_eq!(
                r.read_block(2, b"ITEM:", &mut b).unwrap(),
                BlockEnd::Complete
            );
            assert_eq!(
                (b.len(), b.line(0), b.line(1)),
                (2, &b"a 1"[..], &b"bb 2"[..])
            );
            assert_eq!((r.line(), r.offset()), (2, 10));
            // The stop line is consumed and counted, not stored.
            assert_eq!(
                r.read_block(5, b"ITEM:", &mut b).unwrap(),
                BlockEnd::Stopped
            );
            assert_eq!((b.len(), r.line(), r.offset()), (0, 3, 18));
            assert_eq!(r.read_block(5, b"ITEM:", &mut b).unwrap(), BlockEnd::Eof);
            assert_eq!(
                (b.len(), b.line(0), r.line(), r.offset()),
                (1, &b"c"[..], 4, 20)
            );
            assert!(r.next_line().unwrap().is_none());
        }
    }

    #[test]
    fn read_block_last_line_without_newline() {
        for cap in [1, 2, 4, 64] {
            let open =
                |t: &[u8]| LineReader::new(BufReader::with_capacity(cap, Cursor::new(t.to_vec())));
            let mut b = LineBlock::default();
            let mut r = open(b"x\ny");
            assert_eq!(r.read_block(5, b"ITEM:", &mut b).unwrap(), BlockEnd::Eof);
            assert_eq!(
                (b.len(), b.line(1), r.line(), r.offset()),
                (2, &b"y"[..], 2, 3)
            );
            let mut r = open(b"x\ny");
            assert_eq!(
                r.read_block(2, b"ITEM:", &mut b).unwrap(),
                BlockEnd::Complete
            );
            let mut r = open(b"x\nITEM:");
            assert_eq!(
                r.read_block(5, b"ITEM:", &mut b).unwrap(),
                BlockEnd::Stopped
            );
            assert_eq!((b.len(), r.line()), (1, 2));
            let mut r = open(b"x\nIT");
            assert_eq!(r.read_block(5, b"ITEM:", &mut b).unwrap(), BlockEnd::Eof);
            assert_eq!((b.len(), b.line(1)), (2, &b"IT"[..]));
        }
    }

    /// A block read gives the lines, line count and offset that reading line by line gives,
    /// whatever the buffer size.
    #[test]
    fn read_block_agrees_with_next_line() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let pieces: [&[u8]; 6] = [b"a", b" 1.5", b"\r", b"\n", b"ITEM: B\n", b"IT"];
        for _ in 0..300 {
            let len = rng.gen_range(0..40);
            let text: Vec<u8> = (0..len)
                .flat_map(|_| pieces[rng.gen_range(0..pieces.len())].to_vec())
                .collect();
            let cap = rng.gen_range(1..9);
            let n = rng.gen_range(0..12);
            let mut by_line = LineReader::new(Cursor::new(text.clone()));
            let mut want: Vec<Vec<u8>> = Vec::new();
            let mut want_end = BlockEnd::Complete;
            while want.len() < n {
                match by_line.next_line().unwrap() {
                    None => {
                        want_end = BlockEnd::Eof;
                        break;
                    }
                    Some(l) if l.starts_with(b"ITEM:") => {
                        want_end = BlockEnd::Stopped;
                        break;
                    }
                    Some(l) => want.push(l.to_vec()),
                }
            }
            let mut r = LineReader::new(BufReader::with_capacity(cap, Cursor::new(text.clone())));
            let mut b = LineBlock::default();
            let end = r.read_block(n, b"ITEM:", &mut b).unwrap();
            let got: Vec<Vec<u8>> = (0..b.len()).map(|i| b.line(i).to_vec()).collect();
            let shown = String::from_utf8_lossy(&text);
            assert_eq!((end, &got), (want_end, &want), "{shown:?} n={n} cap={cap}");
            assert_eq!(r.line(), by_line.line(), "{shown:?}");
            if end != BlockEnd::Eof {
                assert_eq!(r.offset(), by_line.offset(), "{shown:?}");
                assert_eq!(r.next_line().unwrap(), by_line.next_line().unwrap());
            }
        }
    }

    #[test]
    fn numbers_parse_whole_tokens_only() {
        assert_eq!(parse_f64(b"-2.5e-3"), Some(-2.5e-3));
        assert_eq!(parse_f64(b"1.5x"), None);
        assert_eq!(parse_f64(b""), None);
        assert!(parse_f64(b"nan").unwrap().is_nan());
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"4.0"), None);
        assert_eq!(parse_i64(b"99999999999999999999"), None);
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"-1"), None);
    }

    /// The fast path must agree bit for bit with the standard library's correctly rounded
    /// parser, including the hard cases of halfway values and negative zero.
    #[test]
    fn short_decimals_match_std() {
        let cases = [
            "0",
            "-0",
            "-0.0",
            "1",
            "0.1",
            "0.3",
            "-12.3456",
            "8.46385",
            "123456789012345",
            "0.000000000000001",
            "9007199254740993",
            "1.",
            ".5",
            "3.141592653589793",
            "62.719999999999999",
            "2.2250738585072014",
            "999999999999999.9",
        ];
        for c in cases {
            let want: f64 = c.parse().unwrap();
            let got = parse_f64(c.as_bytes()).unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{c}");
        }
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..20000 {
            let digits = rng.gen_range(1..17);
            let mut s: String = (0..digits)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect();
            let dot = rng.gen_range(0..=digits);
            s.insert(dot, '.');
            if rng.gen() {
                s.insert(0, '-');
            }
            if s == "." || s == "-." {
                continue;
            }
            let want: f64 = s.parse().unwrap();
            assert_eq!(
                parse_f64(s.as_bytes()).unwrap().to_bits(),
                want.to_bits(),
                "{s}"
            );
        }
        assert_eq!(parse_short_decimal(b"."), None);
        assert_eq!(parse_short_decimal(b"1.2.3"), None);
        assert_eq!(parse_f64(b"1.2.3"), None);
    }

    #[test]
    fn order_by_id_dense_and_sparse() {
        use crate::{Frame, SimBox};
        let cell = SimBox::orthorhombic([10.0; 3], [true; 3]).unwrap();
        let mk = |ids: Vec<i64>| {
            let n = ids.len();
            let pos = (0..n).map(|i| [i as f64; 3]).collect();
            let mut f = Frame::new(pos, &vec!["Pt"; n], cell).unwrap();
            f.ids = Some(ids);
            f
        };
        let mut f = mk(vec![3, 1, 2]);
        order_by_id(&mut f).unwrap();
        assert_eq!(f.ids, Some(vec![1, 2, 3]));
        assert_eq!(f.positions[0], [1.0; 3]);
        let mut f = mk(vec![30, -4, 200]);
        order_by_id(&mut f).unwrap();
        assert_eq!(f.ids, Some(vec![-4, 30, 200]));
        assert_eq!(f.positions[2], [2.0; 3]);
        let mut f = mk(vec![2, 3, 1, 3]);
        assert_eq!(order_by_id(&mut f), Err((3, 1, 3)));
        let mut f = mk(vec![50, 7, 50]);
        assert_eq!(order_by_id(&mut f), Err((50, 0, 2)));
        assert_eq!(f.ids, Some(vec![50, 7, 50]));
    }

    #[test]
    fn tokens_split_on_any_ascii_whitespace() {
        let t: Vec<&[u8]> = Tokens::new(b"  a\tbb  c \r").collect();
        assert_eq!(t, vec![&b"a"[..], b"bb", b"c"]);
    }
}

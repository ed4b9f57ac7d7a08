//! Numeric column files: CSV, semicolon- or whitespace-separated, `#` comments.
//!
//! Written here rather than with the `csv` crate because SAXS `.dat` files separate columns
//! by runs of spaces, which `csv` cannot split, and both formats share one line-numbered
//! reader that reports NaN and malformed numbers by line and column.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A parsed table: an optional header and numeric rows with their 1-based line numbers.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file the table came from.
    pub file: PathBuf,
    /// Column names when the first data line is not numeric.
    pub header: Option<Vec<String>>,
    /// Line number of the header.
    pub header_line: usize,
    /// Rows of finite numbers, all of the header's (or the first row's) width.
    pub rows: Vec<Vec<f64>>,
    /// 1-based line of each row.
    pub lines: Vec<usize>,
}

fn split(line: &str) -> Vec<&str> {
    let line = line.trim();
    if line.contains(',') {
        line.split(',').map(str::trim).collect()
    } else if line.contains(';') {
        line.split(';').map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    }
}

impl Table {
    /// Read `path`. Every data field must parse as a finite number.
    pub fn read(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parse `text` as the contents of `path` (used for messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Table> {
        let file = path.to_path_buf();
        let err = |line: usize, message: String| Error::Input {
            file: file.clone(),
            line,
            message,
        };
        let mut header = None;
        let mut header_line = 0;
        let mut rows = Vec::new();
        let mut lines = Vec::new();
        let mut width = None;
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let trimmed = raw.trim().trim_start_matches('\u{feff}');
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let fields = split(trimmed);
            if header.is_none() && rows.is_empty() && fields[0].parse::<f64>().is_err() {
                header = Some(
                    fields
                        .iter()
                        .map(|s| s.trim_matches('"').to_string())
                        .collect::<Vec<_>>(),
                );
                header_line = lineno;
                width = Some(fields.len());
                continue;
            }
            let w = *width.get_or_insert(fields.len());
            if fields.len() != w {
                return Err(err(
                    lineno,
                    format!("expected {w} columns, found {}", fields.len()),
                ));
            }
            let mut row = Vec::with_capacity(w);
            for (c, f) in fields.iter().enumerate() {
                let name = header
                    .as_ref()
                    .and_then(|h: &Vec<String>| h.get(c).cloned())
                    .unwrap_or_else(|| format!("{}", c + 1));
                let v: f64 = f
                    .parse()
                    .map_err(|_| err(lineno, format!("column '{name}': '{f}' is not a number")))?;
                if !v.is_finite() {
                    return Err(err(
                        lineno,
                        format!("column '{name}': value {f} is not finite"),
                    ));
                }
                row.push(v);
            }
            rows.push(row);
            lines.push(lineno);
        }
        if rows.is_empty() {
            return Err(err(header_line.max(1), "no data rows".into()));
        }
        Ok(Table {
            file,
            header,
            header_line,
            rows,
            lines,
        })
    }

    /// An error at data row `row`.
    pub fn error_at(&self, row: usize, message: String) -> Error {
        Error::Input {
            file: self.file.clone(),
            line: self.lines[row],
            message,
        }
    }

    /// One column as a vector.
    pub fn column(&self, c: usize) -> Vec<f64> {
        self.rows.iter().map(|r| r[c]).collect()
    }
}

/// Check that `x` is strictly monotonic; returns true when increasing.
pub fn check_monotonic(table: &Table, x: &[f64], name: &str) -> Result<bool> {
    if x.len() < 2 {
        return Ok(true);
    }
    let increasing = x[1] > x[0];
    for i in 1..x.len() {
        let ok = if increasing {
            x[i] > x[i - 1]
        } else {
            x[i] < x[i - 1]
        };
        if !ok {
            return Err(table.error_at(
                i,
                format!(
                    "{name} is not strictly monotonic ({} after {})",
                    x[i],
                    x[i - 1]
                ),
            ));
        }
    }
    Ok(increasing)
}

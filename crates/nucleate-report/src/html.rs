//! A self-contained HTML report: inline CSS, figures linked by relative paths, no scripts.

use std::io::Write;
use std::path::Path;

use nucleate_core::io::AtomicFile;

use crate::ReportError;

/// Escape text for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

enum Block {
    Heading(String),
    Paragraph(String),
    Figure {
        src: String,
        caption: String,
    },
    Table {
        header: Vec<String>,
        rows: Vec<Vec<String>>,
    },
}

/// An HTML report built block by block.
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ccc}\
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #ddd}figcaption{color:#555;font-size:.9em}\
table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}\
th{background:#f0f0f0}";

impl Report {
    /// An empty report.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// A section heading.
    pub fn heading(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    /// A paragraph of plain text.
    pub fn paragraph(&mut self, text: &str) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// A figure: `src` is a path relative to the report.
    pub fn figure(&mut self, src: &str, caption: &str) -> &mut Self {
        self.blocks.push(Block::Figure {
            src: src.into(),
            caption: caption.into(),
        });
        self
    }

    /// A table.
    pub fn table(&mut self, header: &[&str], rows: Vec<Vec<String>>) -> &mut Self {
        self.blocks.push(Block::Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows,
        });
        self
    }

    /// The relative paths of every figure.
    pub fn figures(&self) -> Vec<&str> {
        self.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Figure { src, .. } => Some(src.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The HTML text.
    pub fn to_html(&self) -> String {
        let mut s = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
            t = escape(&self.title)
        );
        for b in &self.blocks {
            match b {
                Block::Heading(t) => s += &format!("<h2>{}</h2>\n", escape(t)),
                Block::Paragraph(t) => s += &format!("<p>{}</p>\n", escape(t)),
                Block::Figure { src, caption } => {
                    s += &format!(
                    "<figure><img src=\"{}\" alt=\"{c}\"><figcaption>{c}</figcaption></figure>\n",
                    escape(src),
                    c = escape(caption)
                )
                }
                Block::Table { header, rows } => {
                    s += "<table><thead><tr>";
                    for h in header {
                        s += &format!("<th>{}</th>", escape(h));
                    }
                    s += "</tr></thead><tbody>\n";
                    for r in rows {
                        s += "<tr>";
                        for c in r {
                            s += &format!("<td>{}</td>", escape(c));
                        }
                        s += "</tr>\n";
                    }
                    s += "</tbody></table>\n";
                }
            }
        }
        s += "</body></html>\n";
        s
    }

    /// Write the report to `path`; every figure must already exist beside it.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        for src in self.figures() {
            if !dir.join(src).exists() {
                return Err(ReportError::Io {
                    path: dir.join(src),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "figure missing"),
                });
            }
        }
        let io = |source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut f = AtomicFile::create(path).map_err(io)?;
        f.write_all(self.to_html().as_bytes()).map_err(io)?;
        f.commit().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_checks_figures() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Report::new("A <test>");
        r.heading("Nuclei")
            .paragraph("N_eff > 30 & rising")
            .table(&["a"], vec![vec!["1".into()]]);
        r.figure("plots/x.svg", "x");
        assert!(
            r.write(&dir.path().join("report.html")).is_err(),
            "missing figure"
        );
        std::fs::create_dir_all(dir.path().join("plots")).unwrap();
        std::fs::write(dir.path().join("plots/x.svg"), "<svg/>").unwrap();
        r.write(&dir.path().join("report.html")).unwrap();
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        assert!(
            html.contains("A &lt;test&gt;")
                && html.contains("&amp; rising")
                && html.contains("src=\"plots/x.svg\"")
        );
        assert!(!html.contains("http"));
    }
}

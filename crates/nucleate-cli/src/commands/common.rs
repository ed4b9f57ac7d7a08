//! Options and helpers shared by every subcommand.

use clap::Args;

/// Flags every command takes (cli.md).
#[derive(Args, Debug, Clone, Default)]
pub struct CommonArgs {
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

impl CommonArgs {
    /// Configure the global rayon pool. Called once, before any work.
    pub fn init_threads(&self) -> anyhow::Result<()> {
        if let Some(n) = self.threads {
            if n == 0 {
                anyhow::bail!("--threads must be at least 1");
            }
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build_global()
                .map_err(|e| anyhow::anyhow!("cannot start {n} threads: {e}"))?;
        }
        Ok(())
    }
}

/// Print an error as one line on stderr: the message and its causes, joined by ": ".
pub fn report_error(err: &anyhow::Error) {
    let mut line = String::from("error: ");
    let mut first = true;
    for cause in err.chain() {
        let text = cause.to_string();
        if !first {
            if line.contains(&text) {
                continue;
            }
            line.push_str(": ");
        }
        line.push_str(&text);
        first = false;
    }
    eprintln!("{}", line.replace('\n', " "));
}

/// A progress indicator on stderr: a spinner with a count, hidden with `--quiet` or when
/// stderr is not a terminal.
pub struct Progress {
    bar: indicatif::ProgressBar,
}

impl Progress {
    /// Count frames of a stream of unknown length.
    pub fn frames(stage: &str, quiet: bool) -> Self {
        use std::io::IsTerminal;
        let bar = if quiet || !std::io::stderr().is_terminal() {
            indicatif::ProgressBar::hidden()
        } else {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} {prefix}: {pos} frames [{elapsed_precise}, {per_sec}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
            );
            bar.set_prefix(stage.to_string());
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        };
        Self { bar }
    }

    /// One more frame done.
    pub fn tick(&self) {
        self.bar.inc(1);
    }

    /// Remove the indicator.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Parse a `--frames` value: `all` (or empty) or a selection of [`FrameSelection::parse`].
pub fn frame_selection(spec: &str) -> anyhow::Result<nucleate_core::io::FrameSelection> {
    use anyhow::Context;
    let spec = spec.trim();
    if spec.is_empty() || spec.eq_ignore_ascii_case("all") {
        return Ok(nucleate_core::io::FrameSelection::all());
    }
    nucleate_core::io::FrameSelection::parse(spec).context("--frames")
}

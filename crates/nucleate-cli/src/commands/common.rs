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

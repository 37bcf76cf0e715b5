//! The `seedream-mcp` binary: parse flags, log to stderr, run.

use std::process::ExitCode;

use clap::Parser;
use seedream_mcp::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    seedream_mcp::telemetry::init(std::io::stderr);
    // Over stdio there is one client, and the heavy work (previews, saving) already runs on
    // the blocking pool: one runtime thread serves it, starts sooner and keeps fewer
    // per-thread malloc arenas resident. HTTP serves many clients at once and gets a worker per core.
    let stdio = matches!(cli.command, None | Some(Command::Stdio));
    let mut builder = if stdio {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let result = match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(seedream_mcp::run(cli)),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("seedream-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

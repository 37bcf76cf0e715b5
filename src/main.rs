//! The `seedream-mcp` binary: parse flags, log to stderr, run.

use std::process::ExitCode;

use clap::Parser;
use seedream_mcp::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) => match seedream_mcp::cli::stdio_setting_error(&e) {
            Some(problem) => Err(problem),
            None => seedream_mcp::cli::exit_with(e),
        },
    };
    // The one-shot command is for people: they see its progress, result and errors, and INFO
    // lines would only repeat them.
    let default_level = match &cli {
        Ok(Cli {
            command: Some(Command::Generate(_)),
            ..
        }) => "warn",
        _ => "info",
    };
    seedream_mcp::telemetry::init(std::io::stderr, default_level);
    // Over stdio there is one client, and the heavy work (previews, saving) already runs on
    // the blocking pool: one runtime thread serves it, starts sooner and keeps fewer
    // per-thread malloc arenas resident. HTTP serves many clients at once and gets a worker per core.
    let stdio = match &cli {
        Ok(cli) => matches!(cli.command, None | Some(Command::Stdio)),
        Err(_) => true,
    };
    let mut builder = if stdio {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let result = match builder.enable_all().build() {
        Ok(runtime) => match cli {
            Ok(cli) => runtime.block_on(seedream_mcp::run(cli)),
            Err(problem) => runtime.block_on(seedream_mcp::cli::serve_misconfigured(problem)),
        },
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the async runtime")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Printed once, plainly: logging it as well would show it twice on the same stderr.
        Err(e) => {
            eprintln!("seedream-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

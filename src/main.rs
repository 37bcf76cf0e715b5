//! The `seedream-mcp` binary: parse flags, log to stderr, run.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = seedream_mcp::cli::Cli::parse();
    seedream_mcp::telemetry::init(std::io::stderr);
    match seedream_mcp::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("seedream-mcp: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! The `seedream-fake` binary: the fake Seedream API on a local port, for trying seedream-mcp
//! without an account (`cargo run --release -p seedream-fake`) and for the interop suite and
//! benchmarks.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::Parser;

/// Serves a local fake of the Seedream image API: CometAPI on `/v1`, Ark on `/api/v3`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (port 0 picks a free one; the log line names it).
    #[arg(long, default_value = "127.0.0.1:8790")]
    listen: SocketAddr,
    /// The API key the fake accepts: the key the server will send. Defaults to a published
    /// test key, shown at start.
    #[arg(long, env = "SEEDREAM_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let listener = seedream_fake::bind(args.listen)
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut config = seedream_fake::FakeConfig::default();
    // A chosen key may be a real one, so only the default is shown.
    let accepts = match args.api_key.filter(|k| !k.trim().is_empty()) {
        Some(key) => {
            config.api_key = Some(key);
            "the key given with --api-key or SEEDREAM_API_KEY".to_owned()
        }
        None => format!(
            "the API key {:?} (choose another with --api-key)",
            config.api_key.as_deref().unwrap_or_default()
        ),
    };
    tracing::info!(
        "fake Seedream API on http://{addr}/v1 (CometAPI) and http://{addr}/api/v3 (Ark); it accepts {accepts}"
    );
    seedream_fake::serve(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

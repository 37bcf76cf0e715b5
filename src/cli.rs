//! The command line: which mode to run, and its settings.

use std::net::SocketAddr;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::ServerArgs;
use crate::tools::ImageServer;
use crate::{fake_api, transport};

/// MCP server for ByteDance Seedream image generation (CometAPI, Volcengine Ark, BytePlus ModelArk).
#[derive(Parser)]
#[command(name = "seedream-mcp", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Subcommand)]
pub enum Command {
    /// Serve MCP over stdin/stdout (the default).
    Stdio,
    /// Serve MCP over streamable HTTP at /mcp (and /healthz).
    Http(crate::transport::http::HttpArgs),
    /// Generate images once, save them and print their paths (same code path as the tools).
    Generate(crate::oneshot::GenerateArgs),
    /// Run the local stand-in of the Seedream API, for trying the server without an account.
    FakeApi {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8790")]
        listen: SocketAddr,
    },
}

/// Runs the chosen mode to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Stdio) {
        Command::Stdio => {
            let server = match cli.server.into_config() {
                Ok(config) => {
                    if config.client.api_key.is_none() {
                        tracing::warn!(
                            "no API key: set SEEDREAM_API_KEY or COMETAPI_KEY; tools will report this when called"
                        );
                    }
                    ImageServer::new(config)?
                }
                // An MCP client shows a server that exits at start only as "Connection
                // closed": serve anyway, so every tool call can say what to fix.
                Err(e) => {
                    tracing::error!("{e}; serving anyway: every tool call will report this");
                    ImageServer::misconfigured(e.to_string())?
                }
            };
            transport::serve_stdio(server).await
        }
        Command::Http(http) => {
            http.validate()?;
            let mut server_args = cli.server;
            // A remote caller cannot read the server's disk: save only when asked to.
            server_args.save.get_or_insert(false);
            let server = ImageServer::new(server_args.into_config()?)?;
            transport::http::serve_http(server, http, shutdown_signal()).await?;
            Ok(())
        }
        Command::Generate(args) => crate::oneshot::run(cli.server, args).await,
        Command::FakeApi { listen } => {
            let listener =
                crate::tcp::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            tracing::info!(
                "stand-in API on http://{addr}/v1 (CometAPI) and http://{addr}/api/v3 (Ark)"
            );
            fake_api::serve(listener, fake_api::FakeConfig::default(), shutdown_signal()).await?;
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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

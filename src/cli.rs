//! The command line: which mode to run, and its settings.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, Parser, Subcommand};

use crate::config::ServerArgs;
use crate::tools::ImageServer;
use crate::transport;

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
    /// Print what a saved image's metadata says made it (prompt, model, size, seed, request id, time).
    Meta {
        /// An image this server saved.
        file: std::path::PathBuf,
    },
}

/// Runs the chosen mode to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Stdio) {
        Command::Stdio => {
            let mut server_args = cli.server;
            server_args.use_default_store();
            let server = match server_args.into_config() {
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
                Err(e) => return serve_misconfigured(e.to_string()).await,
            };
            transport::serve_stdio(server).await
        }
        Command::Http(http) => {
            http.validate()?;
            let mut server_args = cli.server;
            server_args.use_http_defaults();
            server_args.use_default_store();
            let server = ImageServer::new(server_args.into_config()?)?;
            transport::http::serve_http(server, http, shutdown_signal()).await?;
            Ok(())
        }
        Command::Generate(args) => crate::oneshot::generate(cli.server, args).await,
        Command::Meta { file } => print_meta(&file),
    }
}

/// `seedream-mcp meta FILE`: the file's provenance on stdout, or an error when it has none.
fn print_meta(file: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let made = crate::files::provenance::read_file(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let Some(made) = made else {
        anyhow::bail!(
            "{} carries no seedream-mcp provenance metadata (only PNG and JPEG files this server saved do)",
            file.display()
        );
    };
    let mut stdout = std::io::stdout().lock(); // stdout-ok: the meta command's output, not MCP mode
    stdout.write_all(made.describe().as_bytes())?;
    Ok(())
}

/// The problem to serve over stdio when the flags could not be parsed, or `None` to let clap
/// report it. Started with no flags (or just `stdio`), as MCP clients start servers, a parse
/// error can only come from an environment variable, which the client shows as nothing but
/// "Connection closed" if the server exits.
pub fn stdio_setting_error(error: &clap::Error) -> Option<String> {
    let mut flags = std::env::args_os().skip(1);
    let only_stdio = match (flags.next(), flags.next()) {
        (None, _) => true,
        (Some(first), None) => first == "stdio",
        _ => false,
    };
    if !only_stdio || shown(error) {
        return None;
    }
    let text = clap_text(error);
    Some(match refused_flag(error).and_then(|(_, env)| env) {
        Some(env) => format!("the environment variable {env} is invalid: {text}"),
        None => format!("a setting is invalid: {text}"),
    })
}

/// Reports a command line clap refused and exits. clap names only the flag; a value that came
/// from an environment variable is reported under the variable's name, which is where the
/// operator must fix it.
pub fn exit_with(error: clap::Error) -> ! {
    let from_env = refused_flag(&error).and_then(|(long, env)| {
        let given = std::env::args_os().skip(1).any(|a| {
            let a = a.to_string_lossy();
            a.strip_prefix("--")
                .is_some_and(|f| f == long || f.starts_with(&format!("{long}=")))
        });
        env.filter(|_| !given)
    });
    match from_env {
        Some(env) if !shown(&error) => {
            eprintln!(
                "seedream-mcp: the environment variable {env} is invalid: {}",
                clap_text(&error)
            );
            std::process::exit(2)
        }
        _ => error.exit(),
    }
}

/// Help and version are "errors" clap prints as asked.
fn shown(error: &clap::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    )
}

/// clap's own words ("invalid value 'yes' for '--save <SAVE>' [possible values: …]"),
/// without its "error:" prefix and usage hints.
fn clap_text(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let text: Vec<&str> = rendered
        .split("\n\n")
        .next()
        .unwrap_or("")
        .lines()
        .map(str::trim)
        .collect();
    let text = text.join(" ");
    text.strip_prefix("error: ").unwrap_or(&text).to_owned()
}

/// The long name of the flag whose value was refused, and its environment variable.
fn refused_flag(error: &clap::Error) -> Option<(String, Option<String>)> {
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let long = arg
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_start_matches('-')
        .to_owned();
    let env = Cli::command()
        .get_arguments()
        .find(|a| a.get_long() == Some(long.as_str()))
        .and_then(|a| a.get_env())
        .map(|v| v.to_string_lossy().into_owned());
    Some((long, env))
}

/// Serves over stdio a server that answers every tool call with `problem`.
pub async fn serve_misconfigured(problem: String) -> anyhow::Result<()> {
    tracing::error!("{problem}; serving anyway: every tool call will report this");
    transport::serve_stdio(ImageServer::misconfigured(problem)?).await
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

//! `seedream-mcp generate "prompt"`: the generation service without MCP, for people and scripts.
//! Prints one saved path (or URL, when not saved) per line on stdout; progress and errors go
//! to stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::config::ServerArgs;
use crate::delivery::EmbedMode;
use crate::generation::{Access, Generator, ImageRef, Options, Request, Unwatched};
use seedream::AspectRatio;

/// What to generate.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// What to draw.
    pub prompt: String,
    /// Shape, e.g. 16:9 (the size comes from --size).
    #[arg(long, value_parser = aspect_ratio)]
    pub aspect_ratio: Option<AspectRatio>,
    /// A reference image (path, URL or data URI); repeat for several. Makes it an edit.
    #[arg(long = "ref", value_name = "PATH_OR_URL", value_parser = reference)]
    pub refs: Vec<ImageRef>,
    /// How many images (more than 1 makes a sequence).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,
    /// Folder to save into (default: SEEDREAM_OUTPUT_DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Base name for the saved files.
    #[arg(long)]
    pub filename: Option<String>,
}

/// Runs one generation; `Err` carries the message to print before exiting non-zero.
pub async fn generate(mut server_args: ServerArgs, args: GenerateArgs) -> anyhow::Result<()> {
    if let Some(out) = &args.out {
        server_args.output_dir = Some(absolute(&std::env::current_dir()?, out));
        server_args.save = Some(true);
    }
    let config = server_args.into_config()?;
    let generator = Generator::new(seedream::Client::new(config.client.clone())?, &config);
    let access = Access {
        api_key: None,
        caller: crate::caller::Tenant::local().as_str().to_owned(),
        roots: generator.roots().clone(),
    };
    let generated = with_progress(generator.generate(request(args), access, &Unwatched)).await;
    let mut outcome = match generated {
        Ok(outcome) => outcome,
        Err(error) => anyhow::bail!("{error}"),
    };
    // Nobody keeps images for a command that has exited.
    outcome.delivery.drop_unheld();
    eprintln!("{}", crate::tools::summary_text(&outcome));
    let mut stdout = std::io::stdout().lock(); // stdout-ok: the one-shot command's output, not MCP mode
    for image in &outcome.delivery.images {
        match (&image.path, &image.url) {
            (Some(path), _) => writeln!(stdout, "{}", path.display())?,
            (None, Some(url)) => writeln!(stdout, "{url}")?,
            (None, None) => {}
        }
    }
    Ok(())
}

/// The flags as a request: several images make a sequence; images are not embedded, as
/// nobody would see them.
fn request(args: GenerateArgs) -> Request {
    Request {
        prompt: args.prompt,
        references: args.refs,
        max_images: (args.count > 1).then_some(args.count),
        options: Options {
            aspect_ratio: args.aspect_ratio,
            embed: Some(EmbedMode::None),
            filename: args.filename,
            ..Options::default()
        },
    }
}

/// Shows elapsed time on an interactive terminal while `work` runs.
async fn with_progress<F: std::future::Future<Output = T>, T>(work: F) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    let started = Instant::now();
    let ticker = tokio::spawn(async move {
        let mut interval = tokio::time::interval(std::time::Duration::from_millis(500));
        loop {
            interval.tick().await;
            eprint!("\rgenerating… {}s ", started.elapsed().as_secs());
        }
    });
    let out = work.await;
    ticker.abort();
    eprint!("\r\x1b[2K");
    out
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}

/// A `--ref`: relative paths are relative to where the person ran the command.
fn reference(raw: &str) -> Result<ImageRef, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot read the current folder: {e}"))?;
    ImageRef::from_command_line(raw, &cwd).map_err(|e| e.to_string())
}

/// An `--aspect-ratio`, spelled as in the tools' `aspect_ratio`.
fn aspect_ratio(raw: &str) -> Result<AspectRatio, String> {
    serde_json::from_value(serde_json::Value::String(raw.trim().to_owned()))
        .map_err(|e| e.to_string())
}

//! `seedream-mcp generate "prompt"`: the tools' code path without MCP, for people and scripts.
//! Prints one saved path (or URL, when not saved) per line on stdout; progress and errors go
//! to stderr.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rmcp::model::CallToolResult;
use serde_json::{Value, json};

use crate::config::ServerArgs;
use crate::tools::{ImageServer, ToolKind};

/// What to generate.
#[derive(Debug, Clone, clap::Args)]
pub struct GenerateArgs {
    /// What to draw.
    pub prompt: String,
    /// Shape, e.g. 16:9 (the size comes from --size).
    #[arg(long)]
    pub aspect_ratio: Option<String>,
    /// A reference image (path, URL or data URI); repeat for several. Makes it an edit.
    #[arg(long = "ref", value_name = "PATH_OR_URL")]
    pub refs: Vec<String>,
    /// How many images (more than 1 makes a sequence).
    #[arg(long, default_value_t = 1)]
    pub count: u32,
    /// Folder to save into (default: SEEDREAM_OUTPUT_DIR).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Base name for the saved files.
    #[arg(long)]
    pub filename: Option<String>,
}

/// Runs one generation; `Err` carries the message to print before exiting non-zero.
pub async fn run(mut server_args: ServerArgs, args: GenerateArgs) -> anyhow::Result<()> {
    let cwd = std::env::current_dir()?;
    if let Some(out) = &args.out {
        server_args.output_dir = Some(absolute(&cwd, out));
        server_args.save = Some(true);
    }
    let server = ImageServer::new(server_args.into_config()?)?;
    let refs: Vec<String> = args.refs.iter().map(|r| reference(&cwd, r)).collect();
    let (kind, mut arguments) = match (args.count, refs.is_empty()) {
        (0, _) => anyhow::bail!("--count must be at least 1"),
        (1, true) => (ToolKind::Generate, json!({ "prompt": args.prompt })),
        (1, false) => (
            ToolKind::Edit,
            json!({ "prompt": args.prompt, "images": refs }),
        ),
        (n, _) => (
            ToolKind::Sequence,
            json!({ "prompt": args.prompt, "max_images": n, "images": refs }),
        ),
    };
    if let Some(obj) = arguments.as_object_mut() {
        obj.insert("embed".into(), json!("none"));
        if let Some(r) = &args.aspect_ratio {
            obj.insert("aspect_ratio".into(), json!(r));
        }
        if let Some(f) = &args.filename {
            obj.insert("filename".into(), json!(f));
        }
    }
    let object = match arguments {
        Value::Object(o) => o,
        _ => anyhow::bail!("internal: arguments are not an object"),
    };
    let result = with_progress(server.call(kind, object)).await;
    report(&result)
}

fn report(result: &CallToolResult) -> anyhow::Result<()> {
    let text = result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default();
    if result.is_error == Some(true) {
        anyhow::bail!("{text}");
    }
    eprintln!("{text}");
    let images = result
        .structured_content
        .as_ref()
        .and_then(|s| s.get("images"))
        .and_then(Value::as_array);
    let mut stdout = std::io::stdout().lock(); // stdout-ok: the one-shot command's output, not MCP mode
    for image in images.into_iter().flatten() {
        if let Some(line) = image
            .get("path")
            .or_else(|| image.get("url"))
            .and_then(Value::as_str)
        {
            writeln!(stdout, "{line}")?;
        }
    }
    Ok(())
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

/// Relative paths are relative to where the person ran the command.
fn reference(cwd: &Path, raw: &str) -> String {
    let lower = raw.to_ascii_lowercase();
    let is_uri = ["http://", "https://", "data:", "file://", "~/"]
        .iter()
        .any(|p| lower.starts_with(p));
    if is_uri || raw.starts_with('/') {
        raw.to_owned()
    } else {
        cwd.join(raw).to_string_lossy().into_owned()
    }
}

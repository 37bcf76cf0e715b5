//! The path every tool call takes: typed params → validated request → upstream → result.

use rmcp::model::{CallToolResult, JsonObject};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::params::ImageOptions;
use secrecy::SecretString;

use std::sync::Arc;

use super::caller::Tenant;
use super::jobs::{JobRef, KeptImage};
use super::progress::Reporter;
use super::saved::{Access, SavedFiles};
use super::{args, edit, generate, references, render, sequence};
use crate::config::Defaults;
use crate::delivery::{self, DeliveryConfig, EmbedMode};
use seedream::{self, GenerationSpec, Profile, ResponseFormat};

/// What every tool needs; shared by all clones of the server.
#[derive(Debug)]
pub struct Context {
    pub client: seedream::Client,
    pub defaults: Defaults,
    pub profile: Profile,
    pub delivery: DeliveryConfig,
    /// Upstream requests in flight; further calls wait for a permit.
    pub slots: tokio::sync::Semaphore,
    pub max_concurrency: usize,
}

/// The tool-specific parts of a request.
pub struct Ask {
    pub prompt: String,
    pub images: Vec<String>,
    pub max_images: Option<u32>,
    pub options: ImageOptions,
}

/// The three generating tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Generate,
    Edit,
    Sequence,
}

impl ToolKind {
    pub fn name(self) -> &'static str {
        match self {
            ToolKind::Generate => "generate_image",
            ToolKind::Edit => "edit_image",
            ToolKind::Sequence => "generate_sequence",
        }
    }
}

/// Who a call is for, beyond its arguments.
pub struct Call {
    /// The caller's own upstream key (multi-tenant HTTP), used for this call only.
    pub caller_key: Option<SecretString>,
    /// Whose saved files and kept images these are.
    pub tenant: Tenant,
    /// Who saved which file; `None` where one operator owns everything (the one-shot command).
    pub saved: Option<Arc<SavedFiles>>,
    /// The call's job, which keeps the images nothing else holds.
    pub job: Option<JobRef>,
}

impl Call {
    /// The one-shot command: the local operator, no jobs.
    pub fn local() -> Call {
        Call {
            caller_key: None,
            tenant: Tenant::local(),
            saved: None,
            job: None,
        }
    }
}

/// Runs one tool call to its result.
pub async fn run(
    ctx: &Context,
    kind: ToolKind,
    args: JsonObject,
    reporter: &Reporter,
    call: Call,
) -> CallToolResult {
    let run = Run { reporter, call };
    match kind {
        ToolKind::Generate => parse_and_execute(ctx, kind.name(), args, generate::ask, run).await,
        ToolKind::Edit => parse_and_execute(ctx, kind.name(), args, edit::ask, run).await,
        ToolKind::Sequence => parse_and_execute(ctx, kind.name(), args, sequence::ask, run).await,
    }
}

/// Per-call things that are not arguments.
struct Run<'a> {
    reporter: &'a Reporter,
    call: Call,
}

/// Parses `args` as `P`, turns them into an [`Ask`] with `to_ask`, and runs it.
async fn parse_and_execute<P, F>(
    ctx: &Context,
    tool: &'static str,
    args: JsonObject,
    to_ask: F,
    run: Run<'_>,
) -> CallToolResult
where
    P: DeserializeOwned + JsonSchema,
    F: FnOnce(P) -> Result<Ask, String>,
{
    let ask = match args::parse::<P>(args).map_err(|e| e.0).and_then(to_ask) {
        Ok(ask) => ask,
        Err(message) => {
            tracing::info!(tool, %message, "refused arguments");
            return render::invalid(&message);
        }
    };
    execute(ctx, tool, ask, run).await
}

async fn execute(ctx: &Context, tool: &'static str, ask: Ask, run: Run<'_>) -> CallToolResult {
    let Run { reporter, call } = run;
    let o = ask.options;
    let response_format = o
        .response_format
        .map_or(ctx.defaults.response_format, Into::into);
    // Asking for the image data means wanting the image itself, where it fits.
    let embed = o
        .embed
        .unwrap_or(if response_format == ResponseFormat::B64Json {
            EmbedMode::Full
        } else {
            EmbedMode::Preview
        });
    let target = match ctx
        .delivery
        .target(o.filename.as_deref(), o.output_dir.as_deref(), embed)
    {
        Ok(t) => t,
        Err(e) => {
            return render::invalid(&format!("Invalid argument `{}`: {}.", e.param, e.message));
        }
    };
    // Everything that needs no reference read or decoded is checked first (prompt, size, model
    // rules, how many references), with placeholder URLs for the references, so a call that will be
    // refused anyway costs no decoding.
    let placeholders = (0..ask.images.len())
        .map(|i| format!("https://reference.invalid/{i}"))
        .collect();
    let mut spec = GenerationSpec {
        model: o
            .model
            .clone()
            .map_or_else(|| ctx.defaults.model.clone(), Into::into),
        prompt: ask.prompt,
        size: o.size.map(Into::into),
        aspect_ratio: o.aspect_ratio.map(Into::into),
        images: placeholders,
        max_images: ask.max_images,
        response_format,
        output_format: o.output_format.map(Into::into),
        watermark: o.watermark.unwrap_or(ctx.defaults.watermark),
        seed: o.seed,
        guidance_scale: o.guidance_scale,
    };
    let cheap = spec.clone();
    if let Err(e) = seedream::prepare(cheap, ctx.defaults.size, &ctx.profile) {
        tracing::info!(tool, error = %e, "refused request");
        return render::invalid(&format!("Invalid argument `{}`: {}.", e.param, e.message));
    }
    let roots = match readable_roots(ctx, &call, &ask.images) {
        Ok(roots) => roots,
        Err(message) => return render::invalid(&message),
    };
    let references = match references::materialize(ask.images, &roots, &ctx.profile).await {
        Ok(r) => r,
        Err(message) => {
            tracing::info!(tool, %message, "refused reference image");
            return render::invalid(&message);
        }
    };
    spec.images = references.images;
    let mut prepared = match seedream::prepare(spec, ctx.defaults.size, &ctx.profile) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(tool, error = %e, "refused request");
            return render::invalid(&format!("Invalid argument `{}`: {}.", e.param, e.message));
        }
    };
    prepared.notes.splice(0..0, references.notes);
    let request = &prepared.request;
    tracing::info!(
        tool,
        model = %request.model,
        size = ?request.size.map(|s| s.to_string()),
        references = request.image.len(),
        max_outputs = request.max_outputs(),
        prompt_chars = request.prompt.chars().count(),
        "generating"
    );
    let what = match request.max_outputs() {
        1 => "generating 1 image".to_owned(),
        n => format!("generating up to {n} images"),
    };
    let permit = match ctx.slots.try_acquire() {
        Ok(p) => p,
        Err(tokio::sync::TryAcquireError::Closed) => return shutting_down(),
        Err(tokio::sync::TryAcquireError::NoPermits) => {
            reporter.phase(format!(
                "queued: all {} upstream slots are busy",
                ctx.max_concurrency
            ));
            match ctx.slots.acquire().await {
                Ok(p) => p,
                Err(_) => return shutting_down(),
            }
        }
    };
    reporter.phase(format!("{what} with {}", request.model));
    reporter.sent_upstream();
    let total = request.max_outputs();
    let finished = std::sync::atomic::AtomicU32::new(0);
    let observe = |event: seedream::Event| {
        let seedream::Event::Image { ok, .. } = event;
        let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let outcome = if ok { "done" } else { "failed" };
        reporter.phase(format!(
            "image {n} of up to {total} {outcome}, {what} with {}",
            request.model
        ));
    };
    let generated = ctx
        .client
        .generate_observed(request, &observe, call.caller_key.as_ref())
        .await;
    drop(permit);
    match generated {
        Ok(generation) => {
            reporter.phase("downloading, saving and previewing the images");
            let delivery = delivery::deliver(
                &ctx.client,
                &ctx.delivery,
                &target,
                &request.prompt,
                &generation.response.data,
            )
            .await;
            let mut delivery = delivery;
            remember_saved(&call, &delivery);
            keep_unheld(&call, &mut delivery);
            render::success(request, &generation, &prepared.notes, &delivery)
        }
        Err(error) => {
            tracing::warn!(tool, %error, "generation failed");
            if call.caller_key.is_some()
                && matches!(error, seedream::Error::Api { status: 401, .. })
            {
                return render::caller_key_refused();
            }
            render::failure(&error)
        }
    }
}

/// Where this caller may read local reference images from: the operator's folders and the
/// files it saved itself, never a file another tenant saved.
fn readable_roots(
    ctx: &Context,
    call: &Call,
    images: &[String],
) -> Result<crate::files::AllowedRoots, String> {
    let Some(saved) = &call.saved else {
        return Ok(ctx.delivery.roots.clone());
    };
    for (i, raw) in images.iter().enumerate() {
        if !crate::files::local_ref::is_local(raw) {
            continue;
        }
        let Ok(path) = crate::files::local_ref::to_path(raw, None) else {
            continue;
        };
        if saved.access(&path, &call.tenant) == Access::Foreign {
            return Err(format!(
                "Invalid argument `images[{i}]`: `{}` does not exist or cannot be read: not found.",
                path.display()
            ));
        }
    }
    Ok(saved.roots_for(&ctx.delivery.roots, &call.tenant))
}

fn remember_saved(call: &Call, delivery: &delivery::Delivery) {
    if let Some(saved) = &call.saved {
        for path in delivery.images.iter().filter_map(|i| i.path.as_ref()) {
            saved.record(path, &call.tenant);
        }
    }
}

/// Hands the images nothing else holds to the job, which serves them as resources and
/// through `get_job` until it expires, and tells the caller where they are.
fn keep_unheld(call: &Call, delivery: &mut delivery::Delivery) {
    let unheld = std::mem::take(&mut delivery.unheld);
    let Some(job) = &call.job else {
        if !unheld.is_empty() {
            delivery.notes.push(
                "the full images arrived as data and were neither saved nor attached: ask for \
                 `response_format: \"url\"` or enable saving to keep them"
                    .to_owned(),
            );
        }
        return;
    };
    let mut kept = Vec::with_capacity(unheld.len());
    for (pos, bytes) in unheld {
        let Some(image) = delivery.images.get_mut(pos) else {
            continue;
        };
        let mime = image
            .format
            .map(|f| f.mime())
            .unwrap_or("application/octet-stream");
        image.kept = Some(crate::delivery::Kept {
            uri: render::kept_uri(&job.id, image.index),
            job_id: job.id.clone(),
            minutes: job.keep().as_secs().div_ceil(60),
        });
        kept.push(KeptImage {
            index: image.index,
            mime,
            bytes: Arc::new(bytes),
        });
    }
    job.keep_images(kept);
}

/// The answer to a call that came too late: the upstream-slot semaphore closes on shutdown.
fn shutting_down() -> CallToolResult {
    CallToolResult::error(vec![rmcp::model::ContentBlock::text(
        "The server is shutting down: nothing was sent to the image API and nothing was billed. \
         Retry the call on another instance, or after the server has restarted.",
    )])
}

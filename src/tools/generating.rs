//! A generating tool call in the MCP layer: arguments parsed into a [`Request`], run by the
//! [`Generator`], rendered as a result. Around the service it adds what belongs to tool
//! callers: whose saved files a reference may read, who saved what, and the job that keeps
//! the images nothing else holds.

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject};
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::history::{Entry, History};
use super::params::ImageOptions;
use super::saved::{Access as FileAccess, SavedFiles};
use super::{args, edit, generate, render, sequence};
use crate::caller::Tenant;
use crate::delivery::{Delivery, Kept};
use crate::files::AllowedRoots;
use crate::generation::{Access, Generator, ImageRef, Options, Progress, Request, ToolError};
use crate::jobs::progress::Reporter;
use crate::jobs::{JobRef, KeptImage};

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
    /// Who saved which file.
    pub saved: Arc<SavedFiles>,
    /// What was made, for `resources/list`.
    pub history: Arc<History>,
    /// The call's job, which keeps the images nothing else holds.
    pub job: JobRef,
}

impl Progress for Reporter {
    fn phase(&self, phase: String) {
        Reporter::phase(self, phase);
    }

    fn sent_upstream(&self) {
        Reporter::sent_upstream(self);
    }
}

/// Runs one generating tool call to its result.
pub async fn respond(
    generator: &Generator,
    kind: ToolKind,
    mut request: Request,
    reporter: &Reporter,
    call: Call,
) -> CallToolResult {
    request.options.job = Some(call.job.id.clone());
    let access = match access(generator, &call, &request) {
        Ok(access) => access,
        Err(error) => return error.into(),
    };
    match generator.generate(request, access, reporter).await {
        Ok(mut outcome) => {
            remember_saved(&call, &outcome.delivery);
            keep_unheld(&call.job, &mut outcome.delivery);
            let made = Entry::of(
                &outcome,
                kind.name(),
                &call.job.id,
                &call.tenant,
                call.job.keep(),
            );
            if let Some(entry) = made {
                call.history.record(entry);
            }
            render::success(&outcome)
        }
        Err(error) => error.into(),
    }
}

/// The tool's arguments as a [`Request`], read once before the call becomes a job.
pub fn parse(kind: ToolKind, args: JsonObject) -> Result<Request, ToolError> {
    let parsed = match kind {
        ToolKind::Generate => typed(args).and_then(generate::request),
        ToolKind::Edit => typed(args).and_then(edit::request),
        ToolKind::Sequence => typed(args).and_then(sequence::request),
    };
    parsed.inspect_err(|error| tracing::info!(tool = kind.name(), %error, "refused arguments"))
}

fn typed<P: DeserializeOwned + JsonSchema + 'static>(args: JsonObject) -> Result<P, ToolError> {
    args::parse::<P>(args).map_err(|e| ToolError::InvalidArguments(e.0))
}

/// The options every tool shares, for the service.
pub fn options(o: ImageOptions) -> Options {
    Options {
        size: o.size.map(Into::into),
        aspect_ratio: o.aspect_ratio.map(Into::into),
        model: o.model.map(Into::into),
        response_format: o.response_format.map(Into::into),
        output_format: o.output_format.map(Into::into),
        embed: o.embed,
        filename: o.filename,
        output_dir: o.output_dir,
        watermark: o.watermark,
        seed: o.seed,
        guidance_scale: o.guidance_scale,
        job: None,
        background: o.background.map(Into::into),
        prompt_mode: o.prompt_mode.map(Into::into),
        web_search: o.web_search,
    }
}

/// The `images` argument, each told apart once.
pub fn references(images: Vec<String>) -> Result<Vec<ImageRef>, ToolError> {
    images
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            ImageRef::parse(raw).map_err(|e| ToolError::invalid(format!("images[{i}]"), e))
        })
        .collect()
}

/// What this caller may use: its own key, and the operator's folders plus the files it saved
/// itself, never a file another tenant saved.
fn access(generator: &Generator, call: &Call, request: &Request) -> Result<Access, ToolError> {
    let local = request
        .references
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            ImageRef::Local(path) => Some((i, path)),
            _ => None,
        });
    for (i, path) in local {
        if call.saved.access(path, &call.tenant) == FileAccess::Foreign {
            return Err(ToolError::invalid(
                format!("images[{i}]"),
                format!(
                    "`{}` does not exist or cannot be read: not found",
                    path.display()
                ),
            ));
        }
    }
    let roots: AllowedRoots = call.saved.roots_for(generator.roots(), &call.tenant);
    Ok(Access {
        api_key: call.caller_key.clone(),
        caller: call.tenant.as_str().to_owned(),
        roots,
    })
}

fn remember_saved(call: &Call, delivery: &Delivery) {
    for path in delivery.images.iter().filter_map(|i| i.path.as_ref()) {
        call.saved.record(path, &call.tenant);
    }
    for url in delivery.images.iter().filter_map(|i| i.url.as_ref()) {
        call.saved.record_url(url, &call.tenant);
    }
}

/// Hands the images nothing else holds to the job, which serves them as resources and
/// through `get_job` until it expires, and tells the caller where they are.
fn keep_unheld(job: &JobRef, delivery: &mut Delivery) {
    let unheld = std::mem::take(&mut delivery.unheld);
    let mut kept = Vec::with_capacity(unheld.len());
    for (pos, bytes) in unheld {
        let Some(image) = delivery.images.get_mut(pos) else {
            continue;
        };
        let mime = image
            .format
            .map(|f| f.mime())
            .unwrap_or("application/octet-stream");
        image.kept = Some(Kept {
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

//! `get_job`: the result of a call that answered with a job id, in the shape the original tool
//! would have returned, or its progress so far.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;

use super::caller::Tenant;
use super::jobs::{Jobs, KeptImage, Lookup};
use super::params::GetJobParams;
use super::wait::{self, Outcome};
use super::{args, render};

pub async fn run(
    jobs: &Jobs,
    limit: Duration,
    raw: JsonObject,
    tenant: &Tenant,
    rc: &RequestContext<RoleServer>,
) -> CallToolResult {
    let params = match args::parse::<GetJobParams>(raw) {
        Ok(p) => p,
        Err(e) => return render::invalid(&e.0),
    };
    let wait_for = match params.wait_seconds {
        Some(s) if s.is_finite() && s >= 0.0 => Duration::from_secs_f64(s).min(limit),
        Some(_) => {
            return render::invalid(
                "Invalid argument `wait_seconds`: use 0 or more seconds, e.g. 30.",
            );
        }
        None => limit,
    };
    let (tool, state) = match jobs.lookup(&params.job_id, tenant) {
        Lookup::Unknown => return wait::unknown(&params.job_id, jobs.keep()),
        Lookup::Elsewhere { owner, here } => return wait::elsewhere(&params.job_id, &owner, &here),
        Lookup::Found { tool, state, .. } => (tool, state),
    };
    match wait::wait(state.clone(), rc, wait_for).await {
        Outcome::Finished(result) => {
            // Looked up again: the images are kept when the job finishes, maybe during the wait.
            let kept = match jobs.lookup(&params.job_id, tenant) {
                Lookup::Found { kept, .. } => kept,
                _ => Vec::new(),
            };
            with_kept_images(result, params.job_id.trim(), &kept)
        }
        Outcome::StillRunning => {
            wait::still_running(params.job_id.trim(), tool, &state.borrow().clone(), limit)
        }
        // This caller gave up waiting; the job itself goes on for whoever asks next.
        Outcome::Cancelled => {
            wait::still_running(params.job_id.trim(), tool, &state.borrow().clone(), limit)
        }
    }
}

/// The finished result with the full images the job keeps attached as embedded resources:
/// asking for the job is asking for its images.
fn with_kept_images(
    mut result: CallToolResult,
    job_id: &str,
    kept: &[KeptImage],
) -> CallToolResult {
    use base64::Engine;
    for image in kept {
        let uri = render::kept_uri(job_id, image.index);
        let data = base64::engine::general_purpose::STANDARD.encode(image.bytes.as_slice());
        result.content.push(rmcp::model::ContentBlock::resource(
            rmcp::model::ResourceContents::blob(data, uri).with_mime_type(image.mime),
        ));
    }
    result
}

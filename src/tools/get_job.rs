//! `get_job`: the result of a call that answered with a job id, in the shape the original tool
//! would have returned, or its progress so far.

use std::sync::Arc;
use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, JsonObject};
use rmcp::service::RequestContext;

use super::params::GetJobParams;
use super::wait::{self, Outcome, Pace};
use super::{args, render};
use crate::caller::Tenant;
use crate::generation::ToolError;
use crate::jobs::{Jobs, KeptImage, Lookup};

pub async fn respond(
    jobs: &Arc<Jobs>,
    pace: Pace,
    raw: JsonObject,
    tenant: &Tenant,
    rc: &RequestContext<RoleServer>,
) -> CallToolResult {
    let params = match args::parse::<GetJobParams>(raw) {
        Ok(p) => p,
        Err(e) => return ToolError::InvalidArguments(e.0).into(),
    };
    let limit = pace.limit;
    let wait_for = match wait_for(params.wait_seconds, limit) {
        Ok(d) => d,
        Err(message) => return ToolError::InvalidArguments(message.to_owned()).into(),
    };
    let (tool, state) = match jobs.lookup(&params.job_id, tenant) {
        Lookup::Unknown => return wait::unknown(&params.job_id, jobs.keep()),
        Lookup::Elsewhere { owner, here } => return wait::elsewhere(&params.job_id, &owner, &here),
        Lookup::Found {
            cancelled: true, ..
        } => return cancelled(&params.job_id),
        Lookup::Found { tool, state, .. } => (tool, state),
    };
    let pace = Pace {
        limit: wait_for,
        ..pace
    };
    match wait::wait(state.clone(), rc, pace).await {
        Outcome::Finished(result) => {
            // Looked up again: the images are kept when the job finishes, maybe during the wait.
            let kept = match jobs.lookup(&params.job_id, tenant) {
                Lookup::Found { kept, .. } => kept,
                _ => Vec::new(),
            };
            with_kept_images(result, params.job_id.trim(), &kept)
        }
        Outcome::StillRunning => {
            // The stored progress text is what a restart would report as the last one.
            jobs.refresh(params.job_id.trim()).await;
            wait::still_running(params.job_id.trim(), tool, &state.borrow().clone(), limit)
        }
        // Stopped during the wait by its owner's `tasks/cancel`.
        Outcome::Cancelled
            if matches!(
                jobs.lookup(&params.job_id, tenant),
                Lookup::Found {
                    cancelled: true,
                    ..
                }
            ) =>
        {
            cancelled(&params.job_id)
        }
        // This caller gave up waiting; the job itself goes on for whoever asks next.
        Outcome::Cancelled => {
            wait::still_running(params.job_id.trim(), tool, &state.borrow().clone(), limit)
        }
    }
}

fn cancelled(job_id: &str) -> CallToolResult {
    ToolError::JobCancelled {
        job_id: job_id.trim().to_owned(),
    }
    .into()
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

/// How long this `get_job` call waits: the caller's `wait_seconds`, capped by the server's
/// limit before it becomes a `Duration` (which panics past ~1.8e19 seconds).
fn wait_for(requested: Option<f64>, limit: Duration) -> Result<Duration, &'static str> {
    match requested {
        None => Ok(limit),
        Some(s) if s.is_finite() && s >= 0.0 => {
            if s >= limit.as_secs_f64() {
                Ok(limit)
            } else {
                // Only -0.0 can fail here; it means no wait.
                Ok(Duration::try_from_secs_f64(s).unwrap_or(Duration::ZERO))
            }
        }
        Some(_) => Err("Invalid argument `wait_seconds`: use 0 or more seconds, e.g. 30."),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const LIMIT: Duration = Duration::from_secs(50);

    #[test]
    fn a_huge_wait_is_capped_at_the_server_limit_instead_of_panicking() {
        for s in [1e20, 1e300, f64::MAX, 1.8446744073709552e19, 50.000_000_1] {
            assert_eq!(wait_for(Some(s), LIMIT), Ok(LIMIT), "{s}");
        }
    }

    #[test]
    fn negative_and_non_finite_waits_are_refused_and_fractions_kept() {
        for s in [-1.0, -1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(wait_for(Some(s), LIMIT).is_err(), "{s}");
        }
        assert_eq!(wait_for(Some(-0.0), LIMIT), Ok(Duration::ZERO));
        assert_eq!(wait_for(Some(0.25), LIMIT), Ok(Duration::from_millis(250)));
        assert_eq!(wait_for(None, LIMIT), Ok(LIMIT));
    }

    proptest! {
        #[test]
        fn any_wait_is_within_the_limit_or_refused(s in any::<f64>(), limit_ms in 0u64..10_000_000) {
            let limit = Duration::from_millis(limit_ms);
            if let Ok(d) = wait_for(Some(s), limit) {
                prop_assert!(d <= limit);
            }
        }
    }
}

//! Why a tool call ends without images: one error for the whole path from tool call to result.
//! Each variant's text is what the caller reads (the tools turn it into an `isError` result,
//! the one-shot command prints it), so it says what went wrong and what to change.

use std::sync::Arc;
use std::time::Duration;

/// Said after every refusal made before anything reached the upstream.
const NOTHING_SENT: &str =
    "Nothing was sent to the image API; fix the argument and call the tool again.";

/// A tool call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An argument that cannot work; `param` names it (`images[2]`, `output_dir`).
    #[error("Invalid argument `{param}`: {message}. {NOTHING_SENT}")]
    InvalidArgument { param: String, message: String },
    /// Arguments refused while being read (unknown or missing names, wrong types), already
    /// phrased with the argument they concern.
    #[error("{0} {NOTHING_SENT}")]
    InvalidArguments(String),
    /// The request as a whole cannot be taken (e.g. its id is in use).
    #[error("Invalid request: {0}. {NOTHING_SENT}")]
    InvalidRequest(String),
    /// The server bills each caller's own key, and this call brought none.
    #[error(
        "This server bills each caller's own API key: send it in the `X-Seedream-Api-Key` header of every \
         request (configure the header in your MCP client). The operator can let callers without a key use \
         the server's key with SEEDREAM_HTTP_SERVER_KEY_FALLBACK=true. {NOTHING_SENT}"
    )]
    CallerKeyMissing,
    /// The caller's own key (`X-Seedream-Api-Key`) was refused upstream: only the caller can fix it.
    #[error(
        "Image generation failed: the image API refused the API key sent in your `X-Seedream-Api-Key` header \
         (401). Nothing was generated or billed. Put a valid key in that header in your MCP client's configuration \
         and call the tool again."
    )]
    CallerKeyRefused,
    /// The upstream did not generate: what went wrong, and what to change.
    #[error("{}", upstream_text(.0))]
    Upstream(seedream::Error),
    /// The call came too late: the server is shutting down and sends nothing more upstream.
    #[error(
        "The server is shutting down: nothing was sent to the image API and nothing was billed. \
         Retry the call on another instance, or after the server has restarted."
    )]
    ShuttingDown,
    /// A call still running when the server stopped after its grace period.
    #[error(
        "The server shut down before this call finished (job {job_id}). The image API may already \
         have generated and billed the images: check your account's usage before calling again."
    )]
    ServerStopped { job_id: String },
    /// The caller cancelled the call.
    #[error("Cancelled.")]
    Cancelled,
    /// An expensive call the person was not asked about (the client cannot ask): the quote, and
    /// the argument that proceeds.
    #[error(
        "Not sent: this {tool} call may make {quote}, over {threshold}. Nothing was sent to the image API \
         and nothing was billed. Ask the person whether to spend that; if they agree, call {tool} again with \
         the same arguments plus `confirm_cost: true`. Otherwise ask for fewer images (max_images), a smaller \
         size or a cheaper model."
    )]
    CostNotConfirmed {
        tool: &'static str,
        quote: String,
        threshold: String,
    },
    /// The person said no when asked to confirm the cost.
    #[error(
        "Not sent: the person declined to spend {quote} on this {tool} call. Nothing was sent to the image \
         API and nothing was billed. Do not retry it unchanged; ask them what they want instead."
    )]
    CostDeclined { tool: &'static str, quote: String },
    /// The server was started with a setting that cannot work: the setting, its fix, and where to make it.
    #[error(
        "This server cannot generate images until its configuration is fixed: {0}. Correct \
         the setting where this server is configured (the \"env\" or \"args\" of its entry in the MCP \
         client's configuration), then restart the server. Nothing was sent to the image API."
    )]
    Misconfigured(Arc<str>),
    /// A tool panicked: a bug, reported rather than leaving the caller waiting.
    #[error(
        "Internal error in {tool}: {message}. This is a bug in seedream-mcp; please report it \
         with the arguments you sent. If an image was being generated, it may have been billed."
    )]
    Internal { tool: String, message: String },
    /// `get_job` for an id that is not (or no longer) known.
    #[error(
        "Unknown or expired job_id \"{}\": jobs are kept for {} minutes after they finish. Check the id, or start \
         a new call.",
        shortened(job_id),
        keep.as_secs() / 60
    )]
    UnknownJob { job_id: String, keep: Duration },
    /// `get_job` for a job its caller stopped (`tasks/cancel`).
    #[error(
        "Job \"{}\" was cancelled by its caller (tasks/cancel): its upstream request was dropped and \
         no images will arrive. Start a new call to generate them.",
        shortened(job_id)
    )]
    JobCancelled { job_id: String },
    /// `get_job` reached an instance other than the job's owner: a routing mistake the operator
    /// can fix, and the caller can retry (another attempt may be routed right).
    #[error(
        "Job \"{}\" is kept by server instance \"{owner}\", but this request reached \"{here}\". Call \
         get_job again with the same job_id; if this keeps happening, the load balancer must send get_job to the \
         instance the id names (route on the Mcp-Param-Job-Id header, or keep each client on one instance).",
        shortened(job_id)
    )]
    JobElsewhere {
        job_id: String,
        owner: String,
        here: String,
    },
}

impl ToolError {
    /// An argument that cannot work.
    pub fn invalid(param: impl Into<String>, message: impl std::fmt::Display) -> ToolError {
        ToolError::InvalidArgument {
            param: param.into(),
            message: message.to_string(),
        }
    }
}

impl From<seedream::ValidationError> for ToolError {
    fn from(e: seedream::ValidationError) -> Self {
        ToolError::invalid(e.param, e.message)
    }
}

fn upstream_text(error: &seedream::Error) -> String {
    crate::advice::generation_failed(error)
}

/// A job id as the caller sent it, cut short: it is echoed back.
fn shortened(job_id: &str) -> String {
    job_id.chars().take(80).collect()
}

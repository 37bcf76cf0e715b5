//! Waiting for a job on behalf of one request: progress notifications while it runs (they also
//! keep clients' timers alive), the result when it finishes, a job handle when the wait limit
//! comes first, and an abort when the caller cancels.

use std::time::Duration;

use rmcp::RoleServer;
use rmcp::model::{CallToolResult, ContentBlock, ProgressNotificationParam};
use rmcp::service::RequestContext;
use serde_json::json;
use tokio::sync::watch;

use crate::generation::ToolError;
use crate::jobs::progress::State;

/// How long a caller waits, and how often it hears that the job is alive.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The wait limit, after which the caller gets the job id instead.
    pub limit: Duration,
    /// How often progress is sent while nothing else happens (it keeps clients' timers alive).
    pub heartbeat: Duration,
}

impl Pace {
    /// A progress notification every 2 s.
    pub const HEARTBEAT: Duration = Duration::from_secs(2);
}

/// What ended the wait.
pub enum Outcome {
    Finished(CallToolResult),
    StillRunning,
    Cancelled,
}

/// Waits up to `pace.limit`, forwarding progress to the caller if it asked for it.
pub async fn wait(
    state: watch::Receiver<State>,
    ctx: &RequestContext<RoleServer>,
    pace: Pace,
) -> Outcome {
    let token = ctx.meta.get_progress_token();
    let send = |progress: f64, message: String| {
        let note = token
            .clone()
            .map(|token| ProgressNotificationParam::new(token, progress).with_message(message));
        async move {
            if let Some(note) = note
                && let Err(e) = ctx.peer.notify_progress(note).await
            {
                tracing::debug!(error = %e, "progress notification not delivered");
            }
        }
    };
    watch(state, ctx.ct.cancelled(), pace, send).await
}

/// The wait itself, apart from MCP: `send` gets each progress value and its message.
async fn watch<F, Fut>(
    mut state: watch::Receiver<State>,
    cancelled: impl Future<Output = ()>,
    pace: Pace,
    mut send: F,
) -> Outcome
where
    F: FnMut(f64, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + pace.limit;
    let mut heartbeat = tokio::time::interval(pace.heartbeat);
    let mut progress = Progress::default();
    tokio::pin!(cancelled);
    loop {
        if let Some(result) = state.borrow().result.clone() {
            return Outcome::Finished(result);
        }
        tokio::select! {
            () = &mut cancelled => return Outcome::Cancelled,
            () = tokio::time::sleep_until(deadline) => return Outcome::StillRunning,
            changed = state.changed() => {
                if changed.is_err() {
                    // The job's tokio task ended without a result: it was aborted.
                    return Outcome::Cancelled;
                }
                if state.borrow().result.is_some() {
                    continue;
                }
            }
            _ = heartbeat.tick() => {}
        }
        let updates = progress.next(&state.borrow());
        for (value, message) in updates {
            send(value, message).await;
        }
    }
}

/// What has been reported so far.
#[derive(Default)]
struct Progress {
    /// Phases of the job's history already sent.
    phases: usize,
    /// The last progress value sent.
    last: f64,
}

impl Progress {
    /// Each phase not yet sent (watch coalesces quick updates), or else a heartbeat.
    fn next(&mut self, s: &State) -> Vec<(f64, String)> {
        let secs = s.started.elapsed().as_secs();
        let mut messages: Vec<String> = s
            .history
            .iter()
            .skip(self.phases)
            .map(|p| format!("{p} — {secs} s"))
            .collect();
        self.phases = s.history.len();
        if messages.is_empty() {
            messages.push(s.message());
        }
        let elapsed = s.started.elapsed().as_secs_f64();
        messages
            .into_iter()
            .map(|message| {
                // Strictly increasing, as the protocol asks, even when two updates share a millisecond.
                self.last = elapsed.max(self.last + 0.001);
                (self.last, message)
            })
            .collect()
    }
}

/// The answer when the wait limit came first: how to collect the result.
pub fn still_running(job_id: &str, tool: &str, state: &State, limit: Duration) -> CallToolResult {
    let text = format!(
        "Still working after {} s ({}). Nothing is lost: the images are kept when they arrive. \
         Call get_job with job_id \"{job_id}\" to receive them (it waits up to {} s per call).",
        seconds(state.started.elapsed()),
        state.phase,
        seconds(limit)
    );
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content =
        Some(json!({ "job_id": job_id, "status": "running", "tool": tool, "phase": state.phase }));
    result
}

/// Whole seconds, or tenths below ten, so a short limit does not read as "0 s".
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 10.0 {
        format!("{}", (s * 10.0).round() / 10.0)
    } else {
        format!("{}", s.round())
    }
}

/// `get_job` for an id that is not (or no longer) known.
pub fn unknown(job_id: &str, keep: Duration) -> CallToolResult {
    ToolError::UnknownJob {
        job_id: job_id.to_owned(),
        keep,
    }
    .into()
}

/// `get_job` that reached an instance other than the job's owner.
pub fn elsewhere(job_id: &str, owner: &str, here: &str) -> CallToolResult {
    ToolError::JobElsewhere {
        job_id: job_id.to_owned(),
        owner: owner.to_owned(),
        here: here.to_owned(),
    }
    .into()
}

/// The answer to a call still running when the server stopped after its grace period.
pub fn server_stopped(job_id: &str) -> CallToolResult {
    ToolError::ServerStopped {
        job_id: job_id.to_owned(),
    }
    .into()
}

#[cfg(test)]
mod tests;

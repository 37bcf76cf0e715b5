//! The MCP Tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`): a second view of the
//! same jobs `get_job` reads. A generating call from a client that declared the extension and
//! that is still running after `--task-after-seconds` (1 s by default) answers with a task whose id is the job id;
//! `tasks/get`, `tasks/update` and `tasks/cancel` read and stop that job.
//!
//! rmcp's `TaskManager` is not used: it keeps its own in-memory table and runs its own futures,
//! while a task here must be the job itself (one cancellation path, one concurrency limit, one
//! owner check, and one store for the durable job records), so these handlers read [`Jobs`].

use std::time::{Duration, SystemTime};

use rmcp::ErrorData;
use rmcp::model::{
    CallToolResult, CreateTaskResult, DetailedTask, ErrorCode, GetTaskResult, JsonObject, Task,
    TaskPayload, TaskStatus,
};
use tokio::sync::watch;

use crate::caller::Tenant;
use crate::jobs::progress::State;
use crate::jobs::{Cancel, Jobs, Lookup};

/// How often a client should poll: generations take 10-60 s and progress moves in whole images.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The answer to a `tools/call` whose job is still running: the job, as a task.
pub fn created(id: &str, state: &State, keep: Duration) -> CreateTaskResult {
    CreateTaskResult::new(task(id, state, TaskStatus::Working, keep))
}

/// `tasks/get`: the job's status, its progress as the status message, and, once it has
/// finished, its result exactly as the tool call would have answered it.
pub fn get(jobs: &Jobs, id: &str, owner: &Tenant) -> Result<GetTaskResult, ErrorData> {
    let Lookup::Found {
        state, cancelled, ..
    } = jobs.lookup(id, owner)
    else {
        return Err(not_found(id));
    };
    Ok(GetTaskResult::new(detailed(
        id.trim(),
        &state,
        cancelled,
        jobs.keep(),
    )))
}

/// `tasks/update`: this server never asks for input, so no response is ever outstanding and
/// the extension says to ignore them; the task must still exist.
pub fn update(jobs: &Jobs, id: &str, owner: &Tenant) -> Result<(), ErrorData> {
    match jobs.lookup(id, owner) {
        Lookup::Found { .. } => Ok(()),
        _ => Err(not_found(id)),
    }
}

/// `tasks/cancel`: a real cancel, like an explicit `notifications/cancelled` of the call: the
/// job stops and its upstream request is dropped. A finished task stays as it is.
pub fn cancel(jobs: &Jobs, id: &str, owner: &Tenant) -> Result<(), ErrorData> {
    match jobs.cancel(id, owner) {
        Cancel::Unknown => Err(not_found(id)),
        Cancel::Stopped => {
            tracing::info!(job = %id.trim(), "cancelled by tasks/cancel");
            Ok(())
        }
        Cancel::Finished => Ok(()),
    }
}

/// The job's state as a task with its payload.
fn detailed(
    id: &str,
    state: &watch::Receiver<State>,
    cancelled: bool,
    keep: Duration,
) -> DetailedTask {
    let s = state.borrow().clone();
    let payload = match (&s.result, cancelled) {
        (_, true) => TaskPayload::Cancelled,
        (Some(result), false) => TaskPayload::Completed {
            result: as_object(result),
        },
        // The job's tokio task ended without a result and nobody cancelled it: it was aborted
        // from outside (the runtime shutting down). A protocol-level failure, per the extension.
        (None, false) if state.has_changed().is_err() => TaskPayload::Failed {
            error: error_object(
                ErrorCode::INTERNAL_ERROR,
                "the job stopped without a result",
            ),
        },
        (None, false) => TaskPayload::Working,
    };
    let mut task = task(id, &s, payload.status(), keep);
    task.status_message = Some(match &payload {
        TaskPayload::Cancelled => "cancelled by the client".to_owned(),
        TaskPayload::Failed { .. } => "the job stopped without a result".to_owned(),
        _ => s.message(),
    });
    DetailedTask::new(task, payload)
}

/// The task fields every answer carries. `ttlMs` counts from creation while the job keeps a
/// result for `keep` after it ends, so it grows with a running job and is fixed once it ended.
fn task(id: &str, s: &State, status: TaskStatus, keep: Duration) -> Task {
    let lived = if status.is_terminal() {
        s.updated_at
            .duration_since(s.created_at)
            .unwrap_or_default()
    } else {
        s.started.elapsed()
    };
    let ttl = u64::try_from((lived + keep).as_millis()).unwrap_or(u64::MAX);
    let mut task = Task::new(id, status, rfc3339(s.created_at), rfc3339(s.updated_at))
        .with_ttl_ms(ttl)
        .with_poll_interval_ms(POLL_INTERVAL.as_millis() as u64);
    if status == TaskStatus::Working {
        task.status_message = Some(s.message());
    }
    task
}

/// The tool result as the JSON object the task's `result` carries: the same serialization as a
/// `tools/call` answer.
fn as_object(result: &CallToolResult) -> JsonObject {
    match serde_json::to_value(result) {
        Ok(serde_json::Value::Object(o)) => o,
        // A CallToolResult always serializes to an object; nothing else can reach here.
        _ => JsonObject::new(),
    }
}

fn error_object(code: ErrorCode, message: &str) -> JsonObject {
    let mut o = JsonObject::new();
    o.insert("code".into(), code.0.into());
    o.insert("message".into(), message.into());
    o
}

/// The extension's answer for an id that is unknown, expired, or another caller's: all alike,
/// so a guessed or stolen id reveals nothing.
fn not_found(id: &str) -> ErrorData {
    let shown: String = id.trim().chars().take(80).collect();
    ErrorData::invalid_params(
        format!(
            "Failed to retrieve task: task \"{shown}\" not found (unknown, expired, or not yours)"
        ),
        None,
    )
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;

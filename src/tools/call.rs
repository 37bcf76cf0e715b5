//! One generating `tools/call`: it pays with the key its caller's context names, registers for
//! cancellations, runs as a job and waits for it up to the wait limit; a call that ends first
//! is settled (its job stops, or goes on for `get_job`). A client that declared the tasks
//! extension gets the job as a task after a short wait instead (`tasks.rs`).

use std::ops::ControlFlow;
use std::sync::Arc;

use rmcp::RoleServer;
use rmcp::model::{CallToolResponse, CallToolResult, JsonObject, ProtocolVersion};
use rmcp::service::RequestContext;

use secrecy::SecretString;

use super::generating::{self, ToolKind};
use super::wait::{self, Outcome, Pace};
use super::{ImageServer, confirm, inflight, tasks};
use crate::caller::{Payer, Tenant};
use crate::generation::{Request, ToolError};
use crate::jobs;

/// Never a task to a client that did not declare the extension in a 2026-07-28 request's own
/// `_meta`. SEP-2663 belongs to that revision: 2025-11-25 clients list it at `initialize` and
/// then read a task answer as an empty result (the Inspector does, and over stdio exits, losing
/// the images), so sessions of older revisions get a job id.
fn declares_tasks(rc: &RequestContext<RoleServer>) -> bool {
    rc.protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
        && rc
            .client_capabilities()
            .is_some_and(|caps| caps.supports_tasks())
}

impl ImageServer {
    /// Runs a tool call as a job and waits for it up to the wait limit, or, for a client that
    /// declared the tasks extension, up to `task_after` (1 s by default) before answering with a task.
    pub(super) async fn start(
        &self,
        kind: ToolKind,
        args: JsonObject,
        retry: confirm::Retry,
        rc: RequestContext<RoleServer>,
    ) -> CallToolResponse {
        let caller = self.caller(&rc.extensions);
        let caller_key = match &caller.payer {
            Payer::Server => None,
            Payer::Own(key) => Some(key.clone()),
            Payer::Missing => return CallToolResult::from(ToolError::CallerKeyMissing).into(),
        };
        let request = match self.confirmed(kind, args, retry, &rc).await {
            ControlFlow::Continue(request) => request,
            ControlFlow::Break(answer) => return answer,
        };
        let as_task = declares_tasks(&rc);
        let pace = self.pace_for(as_task);
        // Fired by the request's own cancellation, or by one that reached us another way.
        let stop = rc.ct.child_token();
        let registration =
            match self
                .calls
                .register(caller.scope.clone(), rc.id.to_string(), stop.clone())
            {
                Ok(r) => r,
                Err(in_use) => {
                    return CallToolResult::from(ToolError::InvalidRequest(in_use.to_string()))
                        .into();
                }
            };
        let handle = self.spawn_job(kind, request, caller_key, caller.tenant);
        let mut waiter = rc.clone();
        waiter.ct = stop;
        let outcome = tokio::select! {
            outcome = wait::wait(handle.state.clone(), &waiter, pace) => outcome,
            () = self.grace_over.cancelled() => {
                tracing::warn!(job = %handle.id, tool = kind.name(), "still running when the server stopped");
                // The answer names the job: after a restart it says it was interrupted.
                self.jobs.handed_out(&handle.id).await;
                return wait::server_stopped(&handle.id).into();
            }
        };
        match outcome {
            Outcome::Finished(result) => {
                // Delivered on the spot: nobody will ask for it by id, so it need not be kept
                // (unless it holds images nothing else does).
                self.jobs.delivered(&handle.id);
                result.into()
            }
            Outcome::StillRunning if as_task => {
                tracing::info!(job = %handle.id, tool = kind.name(), "answering with a task");
                // SEP-2663: the task exists durably before its handle is returned.
                self.jobs.handed_out(&handle.id).await;
                let state = handle.state.borrow().clone();
                match state.result {
                    // It finished during that write: the result itself spares a round of polling.
                    Some(result) => result.into(),
                    None => tasks::created(&handle.id, &state, self.jobs.keep()).into(),
                }
            }
            Outcome::StillRunning => {
                tracing::info!(job = %handle.id, tool = kind.name(), "answering with a job id");
                // Durable before the id leaves: the id must name a record that outlives us.
                self.jobs.handed_out(&handle.id).await;
                let state = handle.state.borrow().clone();
                wait::still_running(&handle.id, kind.name(), &state, self.pace.limit).into()
            }
            Outcome::Cancelled => self
                .settle_cancelled(kind, &handle, &registration)
                .await
                .into(),
        }
    }

    /// A task-declaring call waits only `task_after` before it answers with a task.
    fn pace_for(&self, as_task: bool) -> Pace {
        if as_task {
            Pace {
                limit: self.pace.limit.min(self.task_after),
                ..self.pace
            }
        } else {
            self.pace
        }
    }

    /// The call's arguments read, and the person's yes when it costs enough to ask (nothing is
    /// sent before it); or the answer to send instead.
    async fn confirmed(
        &self,
        kind: ToolKind,
        mut args: JsonObject,
        retry: confirm::Retry,
        rc: &RequestContext<RoleServer>,
    ) -> ControlFlow<CallToolResponse, Request> {
        let refused = |e: ToolError| ControlFlow::Break(CallToolResult::from(e).into());
        let confirmed = match confirm::take_flag(&mut args) {
            Ok(confirmed) => confirmed,
            Err(e) => return refused(e),
        };
        let request = match generating::parse(kind, args) {
            Ok(request) => request,
            Err(e) => return refused(e),
        };
        if !confirmed && let Some(quote) = self.generator.quote(&request) {
            confirm::ask(&quote, kind, rc, retry).await?;
        }
        ControlFlow::Continue(request)
    }

    /// The call's work, started as a job of the caller's tenant.
    fn spawn_job(
        &self,
        kind: ToolKind,
        request: Request,
        caller_key: Option<SecretString>,
        tenant: Tenant,
    ) -> jobs::Handle {
        let generator = Arc::clone(&self.generator);
        let saved = Arc::clone(&self.saved);
        let history = Arc::clone(&self.history);
        let owner = tenant.clone();
        self.jobs
            .spawn(kind.name(), owner, move |reporter, job| async move {
                let call = generating::Call {
                    caller_key,
                    tenant,
                    saved,
                    history,
                    job,
                };
                generating::respond(&generator, kind, request, &reporter, call).await
            })
    }

    /// Settles a call whose request was cancelled or whose stream closed: the job stops, or
    /// goes on for `get_job` when the caller still wants its images.
    async fn settle_cancelled(
        &self,
        kind: ToolKind,
        handle: &jobs::Handle,
        registration: &inflight::Registration,
    ) -> CallToolResult {
        let why = registration.settled_cancellation().await;
        let sent = handle.state.borrow().sent_upstream;
        if why.keeps_job(sent) {
            tracing::info!(job = %handle.id, tool = kind.name(), "caller timed out or went away; the job goes on");
        } else {
            tracing::info!(job = %handle.id, tool = kind.name(), ?why, sent_upstream = sent, "cancelled by the caller");
            self.jobs.remove(&handle.id);
        }
        ToolError::Cancelled.into()
    }
}

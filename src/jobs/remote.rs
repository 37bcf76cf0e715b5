//! Jobs across instances that share a Redis store: one instance runs a job, any instance
//! answers for it. The running instance writes the job's progress as it changes and watches
//! for a cancel asked elsewhere; a reading instance turns the stored record into a live view
//! that follows the store until the job ends, so `get_job` waits, progress and `tasks/get`
//! work on it exactly as on a local job.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::CallToolResult;
use tokio::sync::watch;

use super::durable::interrupted;
use super::progress::State;
use super::store::{Record, Records, Shared, Status};
use super::{Cancel, Jobs};
use crate::caller::Tenant;

/// How often a running job looks for a cancel asked through another instance, and a reading
/// instance rereads a job another one runs: well under a client's 2 s poll interval.
const POLL: Duration = Duration::from_millis(500);

impl Jobs {
    /// A handed-out job on a shared store: its progress goes to the store as it changes, and a
    /// cancel asked through another instance stops it here.
    pub(super) fn follow_for_others(self: &Arc<Self>, id: &str) {
        let Some((mut state, owner)) = self
            .lock()
            .get(id)
            .map(|e| (e.state.clone(), e.owner.clone()))
        else {
            return;
        };
        let jobs = Arc::clone(self);
        let id = id.to_owned();
        tokio::spawn(async move {
            // Not at once: the id was handed out a moment ago, nobody has asked to cancel yet.
            let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + POLL, POLL);
            loop {
                tokio::select! {
                    changed = state.changed() => {
                        // Ended: its last state is written by `persist_finished`.
                        if changed.is_err() || state.borrow_and_update().result.is_some() {
                            return;
                        }
                        jobs.persist(&id).await;
                    }
                    _ = poll.tick() => {
                        if jobs.cancel_asked(&id).await {
                            jobs.cancel(&id, &owner);
                            return;
                        }
                    }
                }
            }
        });
    }

    async fn cancel_asked(self: &Arc<Self>, id: &str) -> bool {
        let jobs = Arc::clone(self);
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || {
            jobs.store
                .shared()
                .is_some_and(|s| s.cancel_requested(&id).unwrap_or(false))
        })
        .await
        .unwrap_or(false)
    }

    /// `owner`'s job that another instance runs: asks that instance to stop it, and records
    /// it as cancelled at once, so every instance reads it so.
    pub(super) fn cancel_elsewhere(&self, id: &str, owner: &Tenant) -> Cancel {
        let Some(shared) = self.store.shared() else {
            return Cancel::Unknown;
        };
        let mut record = match shared.get(id) {
            Ok(Some(r)) if r.owner == owner.as_str() => r,
            Ok(_) => return Cancel::Unknown,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "cannot read the job store to cancel");
                return Cancel::Unknown;
            }
        };
        if record.status != Status::Running {
            return Cancel::Finished;
        }
        record.status = Status::Cancelled;
        record.finished = Some(shared.now());
        record.runner = None;
        let asked = shared
            .request_cancel(id)
            .and_then(|()| shared.put(&record, &[]));
        if let Err(e) = asked {
            tracing::warn!(job = %id, error = %e, "cancel not recorded in the job store");
        }
        Cancel::Stopped
    }

    /// Whether a running record is being run by a live instance (not this one, which holds its
    /// own jobs in memory). An unreadable heartbeat counts as alive: the view that follows
    /// asks again.
    pub(super) fn runs_elsewhere(&self, record: &Record) -> bool {
        let (Some(shared), Some(runner)) = (self.store.shared(), &record.runner) else {
            return false;
        };
        runner != shared.runner() && shared.is_alive(runner).unwrap_or(true)
    }

    /// A live view of a job another instance runs: it follows the store until the job ends
    /// there, or until nobody is looking.
    pub(super) fn follow_remote(&self, record: &Record, tx: watch::Sender<State>) {
        let store = Arc::clone(&self.store);
        let (id, tool) = (record.id.clone(), super::durable::tool_name(&record.tool));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(POLL).await;
                if tx.is_closed() {
                    return;
                }
                let read = {
                    let (store, id) = (Arc::clone(&store), id.clone());
                    tokio::task::spawn_blocking(move || next(store.shared(), &id, tool)).await
                };
                match read {
                    Ok(Next::Running { phase, sent }) => tx.send_if_modified(|s| {
                        let changed = s.phase != phase || s.sent_upstream != sent;
                        s.sent_upstream = sent;
                        if changed && s.history.len() < super::progress::MAX_HISTORY {
                            s.history.push(phase.clone());
                        }
                        if changed {
                            s.phase = phase;
                        }
                        changed
                    }),
                    Ok(Next::Ended(result)) => {
                        tx.send_modify(|s| s.result = Some(result));
                        return;
                    }
                    Ok(Next::Gone) | Err(_) => return,
                    Ok(Next::Unreadable) => false,
                };
            }
        });
    }
}

/// What a reading instance finds when it rereads a job another one runs.
enum Next {
    Running {
        phase: String,
        sent: bool,
    },
    /// Its result, or what to say about a job whose runner died.
    Ended(CallToolResult),
    /// Expired or removed, or cancelled: the view ends without a result.
    Gone,
    /// Redis did not answer this time.
    Unreadable,
}

fn next(shared: Option<&Shared>, id: &str, tool: &str) -> Next {
    let Some(shared) = shared else {
        return Next::Gone;
    };
    let record = match shared.get(id) {
        Ok(Some(r)) => r,
        Ok(None) => return Next::Gone,
        Err(_) => return Next::Unreadable,
    };
    match record.status {
        Status::Running => {
            let alive = record
                .runner
                .as_deref()
                .is_some_and(|r| shared.is_alive(r).unwrap_or(true));
            if alive {
                Next::Running {
                    phase: record.phase,
                    sent: record.sent_upstream,
                }
            } else {
                Next::Ended(interrupted(&record, tool))
            }
        }
        Status::Finished => Next::Ended(super::durable::finished(&record)),
        Status::Interrupted => Next::Ended(interrupted(&record, tool)),
        Status::Cancelled => Next::Gone,
    }
}

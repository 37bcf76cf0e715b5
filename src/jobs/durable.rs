//! The jobs' durable side: when records are written to the [`Store`], and how a job the memory
//! table no longer holds (the server restarted) is answered from it.
//!
//! When: a call delivered on the spot writes nothing (its result went to the only one who will
//! ask, and the per-call cost must not grow). A job is written, durably, (1) when its id is
//! handed to the client (the wait limit's answer), before that answer leaves, so the id always
//! names a record; and (2) when a job that was handed out, or that keeps images nothing else
//! holds, finishes — after its waiter has the result, so the write is off that call's path.
//! Writes are serialised so a late "running" snapshot cannot overwrite a "finished" one.
//!
//! After a restart, a finished record answers with its stored result and kept images until it
//! expires; a record still "running" was interrupted, and says whether it may have been billed.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rmcp::model::{CallToolResult, ContentBlock};
use tokio::sync::watch;

use super::progress::State;
use super::store::{Record, Status, Store};
use super::{Jobs, KeptImage};
use crate::caller::Tenant;
use crate::config::StoreAt;

/// How often handing out a job id also sweeps expired records (seconds).
const SWEEP_EVERY: u64 = 60;

/// A job read back from the store.
pub(super) struct Restored {
    pub tool: &'static str,
    pub state: watch::Receiver<State>,
    pub kept: Vec<KeptImage>,
    pub cancelled: bool,
}

/// Opens the configured store; a file another server holds, one that cannot be read, or a Redis
/// that does not answer leaves this server on memory with a warning rather than refusing to
/// start.
pub fn open(at: Option<&StoreAt>, keep: std::time::Duration, max_bytes: u64) -> Store {
    let store = open_or_memory(at, keep, max_bytes);
    if store.is_memory() {
        // Whoever waits for the store's tenant key (`caller::tenant_key_from_store`) gets a
        // fresh one instead.
        crate::caller::adopt_tenant_key(crate::caller::fresh_tenant_key());
    }
    store
}

fn open_or_memory(at: Option<&StoreAt>, keep: std::time::Duration, max_bytes: u64) -> Store {
    let opened = match at {
        None => return Store::Memory,
        Some(StoreAt::File(path)) => Store::open(path, keep, max_bytes),
        Some(StoreAt::Redis(url)) => Store::open_shared(url, keep),
    };
    match opened {
        Ok(store) => {
            adopt_tenant_key(&store);
            tracing::info!(store = ?at, "job store opened");
            store
        }
        Err(e) if e.is_locked() => {
            tracing::warn!(error = %e, "the job store is in use by another seedream-mcp server: this one keeps its jobs in memory only (they do not survive a restart); give it its own file with --store / SEEDREAM_STORE, or share jobs through redis://");
            Store::Memory
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot use the job store: jobs are kept in memory only; fix or move it, or point --store / SEEDREAM_STORE elsewhere");
            Store::Memory
        }
    }
}

fn adopt_tenant_key(store: &Store) {
    let Some(e) = store.records() else { return };
    match e.tenant_key(crate::caller::fresh_tenant_key()) {
        Ok(key) if crate::caller::adopt_tenant_key(key) => {}
        Ok(_) => tracing::warn!(
            "tenants were already hashed with another key in this process: jobs stored earlier may not match their owners"
        ),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the job store's tenant key");
            crate::caller::adopt_tenant_key(crate::caller::fresh_tenant_key());
        }
    }
}

impl Jobs {
    /// The job's id is about to be handed to its caller: record it durably first.
    pub async fn handed_out(self: &Arc<Self>, id: &str) {
        if self.store.is_memory() {
            return;
        }
        if let Some(e) = self.lock().get_mut(id) {
            e.durable = true;
        }
        self.persist(id).await;
        if self.store.shared().is_some() {
            self.follow_for_others(id);
        } else {
            self.persist_when_sent(id);
        }
        self.sweep_store_now_and_then().await;
    }

    /// Brings a handed-out job's stored progress up to date (`get_job` found it still running).
    pub async fn refresh(self: &Arc<Self>, id: &str) {
        if !self.lock().get(id).is_some_and(|e| e.durable) || self.store.is_memory() {
            return;
        }
        self.persist(id).await;
    }

    /// Records the moment a handed-out job's request goes upstream: after a restart, that
    /// decides between "call again" and "you may have been billed".
    fn persist_when_sent(self: &Arc<Self>, id: &str) {
        let Some(mut state) = self.lock().get(id).map(|e| e.state.clone()) else {
            return;
        };
        if state.borrow().sent_upstream || state.borrow().result.is_some() {
            return;
        }
        let jobs = Arc::clone(self);
        let id = id.to_owned();
        tokio::spawn(async move {
            let sent = state
                .wait_for(|s| s.sent_upstream || s.result.is_some())
                .await
                .is_ok_and(|s| s.result.is_none());
            if sent {
                jobs.persist(&id).await;
            }
        });
    }

    /// Forgets a job its caller gave up on, off the caller's path.
    pub(super) fn unstore(&self, id: &str) {
        let store = Arc::clone(&self.store);
        let id = id.to_owned();
        tokio::task::spawn_blocking(move || {
            if let Some(Err(e)) = store.records().map(|s| s.remove(&id)) {
                tracing::warn!(job = %id, error = %e, "job not removed from the store");
            }
        });
    }

    /// A handed-out job its owner cancelled: recorded as cancelled, so it reads so after a
    /// restart and from other instances.
    pub(super) fn store_cancelled(&self, id: &str) {
        let Some((record, _)) = self.snapshot(id) else {
            return;
        };
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || {
            if let Some(Err(e)) = store.records().map(|s| s.put(&record, &[])) {
                tracing::warn!(job = %record.id, error = %e, "cancelled job not recorded in the store");
            }
        });
    }

    /// A job finished: record it if its id was handed out or it keeps images.
    pub(super) async fn persist_finished(self: &Arc<Self>, id: &str) {
        // Asked first: most jobs are neither, and asking the store would open it.
        let wanted = self
            .lock()
            .get(id)
            .is_some_and(|e| e.durable || !e.kept.is_empty());
        if wanted && !self.store.is_memory() {
            self.persist(id).await;
        }
    }

    pub(super) async fn persist(self: &Arc<Self>, id: &str) {
        let _in_order = self.writes.lock().await;
        let Some((record, kept)) = self.snapshot(id) else {
            return;
        };
        let jobs = Arc::clone(self);
        let written = tokio::task::spawn_blocking(move || {
            let images: Vec<(usize, &[u8])> =
                kept.iter().map(|k| (k.index, k.bytes.as_slice())).collect();
            match jobs.store.records() {
                Some(store) => store.put(&record, &images),
                None => Ok(()),
            }
        })
        .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(job = %id, error = %e, "job not written to the store"),
            Err(e) => tracing::warn!(job = %id, error = %e, "job store write did not run"),
        }
    }

    fn snapshot(&self, id: &str) -> Option<(Record, Vec<KeptImage>)> {
        let store = self.store.records()?;
        let table = self.lock();
        let e = table.get(id)?;
        let state = e.state.borrow();
        let result = state
            .result
            .as_ref()
            .and_then(|r| serde_json::to_value(r).ok());
        let record = Record {
            id: id.to_owned(),
            owner: e.owner.as_str().to_owned(),
            tool: e.tool.to_owned(),
            created: store
                .now()
                .saturating_sub(state.started.elapsed().as_secs()),
            // A cancelled job has ended too: its record expires like a finished one.
            finished: (result.is_some() || e.cancelled).then(|| store.now()),
            status: match (e.cancelled, &result) {
                (true, _) => Status::Cancelled,
                (false, Some(_)) => Status::Finished,
                (false, None) => Status::Running,
            },
            sent_upstream: state.sent_upstream,
            phase: state.phase.clone(),
            result,
            runner: (state.result.is_none() && !e.cancelled)
                .then(|| self.store.shared().map(|s| s.runner().to_owned()))
                .flatten(),
            images: e
                .kept
                .iter()
                .map(|k| super::store::ImageMeta {
                    index: k.index,
                    mime: k.mime.to_owned(),
                    len: k.bytes.len() as u64,
                })
                .collect(),
        };
        Some((record, e.kept.clone()))
    }

    async fn sweep_store_now_and_then(self: &Arc<Self>) {
        let Some(store) = self.store.records() else {
            return;
        };
        let now = store.now();
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_EVERY {
            return;
        }
        self.last_sweep.store(now, Ordering::Relaxed);
        let jobs = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            if let Some(Err(e)) = jobs.store.records().map(|s| s.sweep()) {
                tracing::warn!(error = %e, "job store sweep failed");
            }
        });
    }

    /// A job of `owner` that only the store holds: finished, cancelled, interrupted, or (on a
    /// shared store) running on another instance, then followed there.
    pub(super) fn restore(&self, id: &str, owner: &Tenant) -> Option<Restored> {
        let store = self.store.records()?;
        let record = match store.get(id) {
            Ok(r) => r?,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "cannot read the job store");
                return None;
            }
        };
        if record.owner != owner.as_str() {
            return None;
        }
        let tool = tool_name(&record.tool);
        let elsewhere = record.status == Status::Running && self.runs_elsewhere(&record);
        let result = match record.status {
            Status::Cancelled => None,
            Status::Running if elsewhere => None,
            Status::Finished => Some(finished(&record)),
            Status::Running | Status::Interrupted => Some(interrupted(&record, tool)),
        };
        let kept = self.stored_images(&record);
        let age = store.now().saturating_sub(record.created);
        let now = tokio::time::Instant::now();
        let (tx, state) = watch::channel(State {
            phase: record.phase.clone(),
            history: Vec::new(),
            started: now.checked_sub(Duration::from_secs(age)).unwrap_or(now),
            sent_upstream: record.sent_upstream,
            result,
            created_at: unix_time(record.created),
            updated_at: unix_time(record.finished.unwrap_or(record.created)),
        });
        if elsewhere {
            self.follow_remote(&record, tx);
        }
        Some(Restored {
            tool,
            state,
            kept,
            cancelled: record.status == Status::Cancelled,
        })
    }

    fn stored_images(&self, record: &Record) -> Vec<KeptImage> {
        let Some(store) = self.store.records() else {
            return Vec::new();
        };
        record
            .images
            .iter()
            .filter_map(|meta| {
                let bytes = store.image(&record.id, meta.index).ok().flatten()?;
                Some(KeptImage {
                    index: meta.index,
                    mime: mime_name(&meta.mime),
                    bytes: Arc::new(bytes),
                })
            })
            .collect()
    }

    /// One kept image of `owner`'s job, from the store.
    /// Reads that image alone, not the whole job.
    pub(super) fn stored_image(&self, id: &str, index: usize, owner: &Tenant) -> Option<KeptImage> {
        let store = self.store.records()?;
        let record = store.get(id).ok()??;
        let meta = record
            .images
            .iter()
            .find(|m| m.index == index)
            .filter(|_| record.owner == owner.as_str())?;
        let bytes = store.image(id, index).ok()??;
        Some(KeptImage {
            index,
            mime: mime_name(&meta.mime),
            bytes: Arc::new(bytes),
        })
    }
}

/// A finished record's result as the tool answered it.
pub(super) fn finished(record: &Record) -> CallToolResult {
    match record.result.clone().map(serde_json::from_value) {
        Some(Ok(result)) => result,
        _ => unreadable(&record.id),
    }
}

/// What a job running when its server stopped answers after the restart.
pub(super) fn interrupted(record: &Record, tool: &str) -> CallToolResult {
    let billing = if record.sent_upstream {
        format!(
            "Its request had already been sent to Seedream, so it may have been billed although its images never reached this server: check your usage with the provider before calling {tool} again."
        )
    } else {
        format!(
            "Its request had not been sent to Seedream yet, so nothing was billed: call {tool} again."
        )
    };
    CallToolResult::error(vec![ContentBlock::text(format!(
        "Job {} was interrupted: the server stopped while it was running (last progress: {}). {billing}",
        record.id, record.phase
    ))])
}

fn unreadable(id: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "Job {id} finished, but its stored result cannot be read back: call the tool again."
    ))])
}

/// The tool names are static everywhere else; a stored name maps back onto them.
pub(super) fn tool_name(stored: &str) -> &'static str {
    match stored {
        "generate_image" => "generate_image",
        "edit_image" => "edit_image",
        "generate_sequence" => "generate_sequence",
        _ => "the tool",
    }
}

fn mime_name(stored: &str) -> &'static str {
    match stored {
        "image/png" => "image/png",
        "image/jpeg" => "image/jpeg",
        "image/webp" => "image/webp",
        "image/gif" => "image/gif",
        _ => "application/octet-stream",
    }
}

/// A stored Unix time as a `SystemTime` (the task timestamps of a restored job).
fn unix_time(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

//! Jobs: a generation that may outlive the call that started it. Every generating call runs
//! as a job; a call (one `tools/call` request) still running at the wait limit answers with
//! the job's id, and `get_job` hands over the result later, so a client's timeout never loses
//! paid images. A job belongs to the tenant that started it: to anyone else its id is unknown.
//! A finished job also keeps the images nothing else holds (base64 answers when saving is
//! off), so the full images stay readable as resources and through `get_job` until it expires.
//!
//! Jobs whose id was handed out, or that keep images, are also written to a durable store
//! (`store`, `durable`), so their results survive a restart; see `durable` for when.
//!
//! Nothing here is MCP-specific beyond the result type: the tools are one view of the jobs
//! (the MCP Tasks extension can be another).

mod durable;
mod id;
mod opening;
pub mod progress;
mod remote;
pub mod store;
#[cfg(test)]
mod store_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::CallToolResult;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::caller::Tenant;
pub use durable::open as open_store;
pub use id::owner_of;
use progress::{Reporter, State};

/// Kept image bytes above this, in all jobs together, push out the oldest jobs' images: they
/// live in memory, and a server must not grow without bound however many calls it serves.
const MAX_KEPT_BYTES: usize = 1 << 30;

/// Running and finished jobs, by unguessable id.
#[derive(Debug)]
pub struct Jobs {
    table: Mutex<HashMap<String, Entry>>,
    /// How long a finished job's result is kept.
    keep: Duration,
    /// This instance's name, put in its job ids when several instances share a load balancer.
    instance: Option<String>,
    max_kept_bytes: usize,
    /// Where handed-out and image-keeping jobs outlive the process.
    store: Arc<opening::StoreCell>,
    /// Orders store writes, so a late "running" snapshot never overwrites a "finished" one.
    writes: tokio::sync::Mutex<()>,
    /// When the store was last swept (its unix seconds).
    last_sweep: AtomicU64,
}

#[derive(Debug)]
struct Entry {
    state: watch::Receiver<State>,
    abort: AbortHandle,
    tool: &'static str,
    owner: Tenant,
    finished_at: Option<Instant>,
    kept: Vec<KeptImage>,
    /// Stopped by its owner (`tasks/cancel`): remembered until it expires, so it reads as
    /// cancelled rather than unknown.
    cancelled: bool,
    /// Its id was handed out, so it is in the store.
    durable: bool,
}

/// A full image that only this job holds.
#[derive(Clone)]
pub struct KeptImage {
    /// 1-based position in the call's answer.
    pub index: usize,
    pub mime: &'static str,
    pub bytes: Arc<Vec<u8>>,
}

impl std::fmt::Debug for KeptImage {
    // Never the bytes: a log line must not carry megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeptImage")
            .field("index", &self.index)
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// The work's view of its own job: its id, and where to keep images.
#[derive(Debug, Clone)]
pub struct JobRef {
    pub id: String,
    jobs: Arc<Jobs>,
}

impl JobRef {
    /// Keeps images with the job until it expires.
    pub fn keep_images(&self, images: Vec<KeptImage>) {
        if images.is_empty() {
            return;
        }
        let mut table = self.jobs.lock();
        if let Some(e) = table.get_mut(&self.id) {
            e.kept.extend(images);
        }
        self.jobs.bound_kept(&mut table, &self.id);
    }

    /// How long a finished job stays available.
    pub fn keep(&self) -> Duration {
        self.jobs.keep
    }
}

/// A job as seen by a waiter.
pub struct Handle {
    pub id: String,
    pub state: watch::Receiver<State>,
}

/// What `get_job` finds.
pub enum Lookup {
    Unknown,
    /// The id names another instance: the load balancer sent `get_job` to the wrong one.
    Elsewhere {
        owner: String,
        here: String,
    },
    Found {
        tool: &'static str,
        state: watch::Receiver<State>,
        kept: Vec<KeptImage>,
        /// Its owner stopped it before it finished; `state` holds its last phase.
        cancelled: bool,
    },
}

/// What [`Jobs::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    Unknown,
    /// It had already finished (or was cancelled before): nothing to stop.
    Finished,
    /// Stopped now: its upstream request is dropped.
    Stopped,
}

impl Jobs {
    pub fn new(keep: Duration, instance: Option<String>) -> Jobs {
        Jobs::with_store(keep, instance, store::Store::Memory)
    }

    /// Jobs whose handed-out records live in `store` too.
    pub fn with_store(keep: Duration, instance: Option<String>, store: store::Store) -> Jobs {
        Jobs::with_store_cell(keep, instance, opening::StoreCell::ready(store))
    }

    /// Jobs whose store `open` opens when first needed, so a server that never hands out a
    /// job id never pays for it (see [`opening`]).
    pub fn opening_store(
        keep: Duration,
        instance: Option<String>,
        open: impl FnOnce() -> store::Store + Send + 'static,
    ) -> Jobs {
        Jobs::with_store_cell(keep, instance, opening::StoreCell::lazy(open))
    }

    fn with_store_cell(
        keep: Duration,
        instance: Option<String>,
        store: Arc<opening::StoreCell>,
    ) -> Jobs {
        Jobs {
            table: Mutex::new(HashMap::new()),
            keep,
            instance,
            max_kept_bytes: MAX_KEPT_BYTES,
            store,
            writes: tokio::sync::Mutex::new(()),
            last_sweep: AtomicU64::new(0),
        }
    }

    /// Runs `work` as a job of `owner`; it reports through the [`Reporter`] it is given.
    pub fn spawn<F, Fut>(self: &Arc<Self>, tool: &'static str, owner: Tenant, work: F) -> Handle
    where
        F: FnOnce(Reporter, JobRef) -> Fut,
        Fut: std::future::Future<Output = CallToolResult> + Send + 'static,
    {
        let (reporter, state) = Reporter::new();
        let id = id::new_id(self.instance.as_deref());
        let mut table = self.lock();
        self.sweep(&mut table);
        let job = JobRef {
            id: id.clone(),
            jobs: Arc::clone(self),
        };
        let fut = work(reporter.clone(), job);
        let jobs = Arc::clone(self);
        let job_id = id.clone();
        // Entered before the tokio task starts, so the work finds its own entry to keep images in.
        let task = tokio::spawn(async move {
            // A panicking job still hands its waiter a result, rather than looking cancelled.
            let result = crate::tools::guarded(tool, fut).await;
            reporter.finish(result);
            jobs.mark_finished(&job_id);
            jobs.persist_finished(&job_id).await;
        });
        table.insert(
            id.clone(),
            Entry {
                state: state.clone(),
                abort: task.abort_handle(),
                tool,
                owner,
                finished_at: None,
                kept: Vec::new(),
                cancelled: false,
                durable: false,
            },
        );
        Handle { id, state }
    }

    /// Opens the store now if nothing has yet (the first tenant hashed needs its key).
    pub fn open_store_now(&self) {
        let _ = self.store.is_memory();
    }

    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    pub fn keep(&self) -> Duration {
        self.keep
    }

    /// Finds a job of `owner`. Another tenant's job is as unknown as a job that never was.
    /// A job this process does not hold may be in the store (the server restarted).
    pub fn lookup(&self, id: &str, owner: &Tenant) -> Lookup {
        let id = id.trim();
        {
            let mut table = self.lock();
            self.sweep(&mut table);
            match table.get(id) {
                Some(e) if &e.owner == owner => {
                    return Lookup::Found {
                        tool: e.tool,
                        state: e.state.clone(),
                        kept: e.kept.clone(),
                        cancelled: e.cancelled,
                    };
                }
                Some(_) => return Lookup::Unknown,
                None => {}
            }
        }
        match (owner_of(id), &self.instance) {
            // With a shared store every instance answers for every job.
            (Some(owner), Some(here)) if owner != here && self.store.shared().is_none() => {
                Lookup::Elsewhere {
                    owner: owner.to_owned(),
                    here: here.clone(),
                }
            }
            // Read outside the table's lock: a disk read must not hold up other calls.
            _ => match self.restore(id, owner) {
                Some(r) => Lookup::Found {
                    tool: r.tool,
                    state: r.state,
                    kept: r.kept,
                    cancelled: r.cancelled,
                },
                None => Lookup::Unknown,
            },
        }
    }

    /// One kept image of `owner`'s job, by its 1-based index.
    pub fn kept_image(&self, id: &str, index: usize, owner: &Tenant) -> Option<KeptImage> {
        let mut table = self.lock();
        self.sweep(&mut table);
        match table.get(id) {
            Some(entry) if &entry.owner == owner => {
                entry.kept.iter().find(|k| k.index == index).cloned()
            }
            Some(_) => None,
            None => {
                drop(table);
                self.stored_image(id, index, owner)
            }
        }
    }

    /// Stops `owner`'s job and remembers that it was cancelled until it expires. Aborting its
    /// tokio task drops the upstream request, as an explicit cancel of the call does.
    pub fn cancel(&self, id: &str, owner: &Tenant) -> Cancel {
        let mut table = self.lock();
        self.sweep(&mut table);
        if !table.contains_key(id.trim()) {
            drop(table);
            return self.cancel_elsewhere(id.trim(), owner);
        }
        let Some(e) = table.get_mut(id.trim()).filter(|e| &e.owner == owner) else {
            return Cancel::Unknown;
        };
        if e.cancelled || e.state.borrow().result.is_some() {
            return Cancel::Finished;
        }
        e.abort.abort();
        e.cancelled = true;
        e.finished_at = Some(Instant::now());
        // Its stored record would say "interrupted" after a restart: it says cancelled.
        let durable = e.durable;
        drop(table);
        if durable {
            self.store_cancelled(id.trim());
        }
        Cancel::Stopped
    }

    /// Forgets a job whose caller cancelled it.
    pub fn remove(&self, id: &str) {
        let removed = self.lock().remove(id);
        if let Some(e) = removed {
            e.abort.abort();
            if e.durable {
                self.unstore(id);
            }
        }
    }

    /// Forgets a job whose result was handed over on the spot, unless it keeps images that
    /// only it holds (the result points to them).
    pub fn delivered(&self, id: &str) {
        let mut table = self.lock();
        if table.get(id).is_some_and(|e| e.kept.is_empty()) {
            table.remove(id);
        }
    }

    /// Drops the kept images of the oldest jobs while the total is over the cap, never those
    /// of `newest`.
    fn bound_kept(&self, table: &mut HashMap<String, Entry>, newest: &str) {
        let mut total: usize = table
            .values()
            .flat_map(|e| &e.kept)
            .map(|k| k.bytes.len())
            .sum();
        while total > self.max_kept_bytes {
            let oldest = table
                .iter()
                .filter(|(id, e)| id.as_str() != newest && !e.kept.is_empty())
                .min_by_key(|(_, e)| e.state.borrow().started)
                .map(|(id, _)| id.clone());
            let Some(oldest) = oldest.and_then(|id| table.get_mut(&id)) else {
                break;
            };
            let freed: usize = oldest.kept.iter().map(|k| k.bytes.len()).sum();
            tracing::warn!(
                freed,
                "kept images over {} MB: dropping the oldest job's images",
                self.max_kept_bytes >> 20
            );
            oldest.kept.clear();
            total = total.saturating_sub(freed);
        }
    }

    fn mark_finished(&self, id: &str) {
        if let Some(e) = self.lock().get_mut(id) {
            e.finished_at = Some(Instant::now());
        }
    }

    fn sweep(&self, table: &mut HashMap<String, Entry>) {
        let keep = self.keep;
        for e in table.values_mut() {
            // A job can finish before it was entered in the table; its result tells.
            if e.finished_at.is_none() && e.state.borrow().result.is_some() {
                e.finished_at = Some(Instant::now());
            }
        }
        table.retain(|_, e| e.finished_at.is_none_or(|t| t.elapsed() < keep));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere; the table itself is still consistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

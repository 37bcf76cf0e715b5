//! History: the images this server saved or keeps, and the jobs that made them, listed with
//! `resources/list` (newest first, a page of jobs at a time) and read with `resources/read`.
//! A caller sees only its own (the same owner rule as `get_job`).
//!
//! Entries are recorded as calls finish. After a restart the list is rebuilt from the
//! provenance metadata of the files in the output folder ([`rebuild`]), once, when history is
//! first needed, so a server that is never asked pays nothing. Those files belong to the local
//! operator: their metadata names no tenant, so over HTTP with tokens or caller keys nobody
//! else sees them.

mod listing;
mod rebuild;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::render;
use super::saved::SavedFiles;
use crate::caller::Tenant;
use crate::generation::Outcome;
pub use listing::{list, read_job};

/// Jobs remembered at most; the oldest are forgotten first (their files stay on disk).
const MAX_ENTRIES: usize = 5_000;

/// Entries recorded live are numbered above every rebuilt one, so a rebuild that runs after
/// new calls still sorts its older files behind them.
const LIVE_BASE: u64 = 1 << 32;

/// What one call made.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The job that made it (`None` for files saved by the `generate` command).
    pub job: Option<String>,
    pub owner: Tenant,
    /// The tool, when known (not after a restart).
    pub tool: Option<&'static str>,
    /// Unix seconds.
    pub created: i64,
    pub prompt: String,
    pub model: String,
    pub request_id: Option<String>,
    pub images: Vec<Image>,
    /// Until when its kept images (not saved anywhere) can be read.
    pub kept_until: Option<Instant>,
}

/// One image of an entry, saved or kept.
#[derive(Debug, Clone)]
pub struct Image {
    pub index: usize,
    pub uri: String,
    pub mime: &'static str,
    /// Pixels, e.g. `2048x2048`.
    pub size: Option<String>,
    pub bytes: Option<u64>,
    /// The saved file; `None` for an image the job keeps.
    pub path: Option<PathBuf>,
}

impl Entry {
    /// What `outcome` made for `owner`, or `None` when nothing of it is saved or kept (links
    /// alone expire upstream and are no resources of ours).
    pub fn of(
        outcome: &Outcome,
        tool: &'static str,
        job: &str,
        owner: &Tenant,
        keep: Duration,
    ) -> Option<Entry> {
        let images: Vec<Image> = outcome
            .delivery
            .images
            .iter()
            .filter_map(|i| {
                let uri = match (&i.path, &i.kept) {
                    (Some(path), _) => render::file_uri(path),
                    (None, Some(kept)) => kept.uri.clone(),
                    (None, None) => return None,
                };
                Some(Image {
                    index: i.index,
                    uri,
                    mime: i.format.map_or("application/octet-stream", |f| f.mime()),
                    size: i.size.clone(),
                    bytes: i.bytes.map(|b| b as u64),
                    path: i.path.clone(),
                })
            })
            .collect();
        if images.is_empty() {
            return None;
        }
        let kept = images.iter().any(|i| i.path.is_none());
        Some(Entry {
            job: Some(job.to_owned()),
            owner: owner.clone(),
            tool: Some(tool),
            created: unix(SystemTime::now()),
            prompt: outcome.request.prompt.clone(),
            model: outcome.request.model.clone(),
            request_id: outcome.generation.request_id.clone(),
            images,
            kept_until: kept.then(|| Instant::now() + keep),
        })
    }

    /// Whether an image can still be read: its file is there, or its job still keeps it.
    fn live(&self, image: &Image) -> bool {
        match &image.path {
            Some(path) => path.is_file(),
            None => self.kept_until.is_some_and(|t| Instant::now() < t),
        }
    }
}

/// The history of one server.
#[derive(Debug, Default)]
pub struct History {
    table: Mutex<Table>,
    rebuilt: tokio::sync::OnceCell<()>,
}

#[derive(Debug, Default)]
struct Table {
    entries: BTreeMap<u64, Entry>,
    next_live: u64,
}

impl History {
    pub fn record(&self, entry: Entry) {
        let mut t = self.lock();
        let seq = LIVE_BASE + t.next_live;
        t.next_live += 1;
        t.entries.insert(seq, entry);
        while t.entries.len() > MAX_ENTRIES {
            t.entries.pop_first();
        }
    }

    /// Rebuilds the list from the files in `output_dir` (when saving is on) the first time
    /// history is needed, and records them as the local operator's saved files.
    pub async fn rebuild_once(&self, output_dir: Option<&Path>, saved: &SavedFiles) {
        let Some(dir) = output_dir.map(Path::to_path_buf) else {
            return;
        };
        self.rebuilt
            .get_or_init(|| async {
                let scanned = tokio::task::spawn_blocking(move || rebuild::scan(&dir)).await;
                let entries = scanned.unwrap_or_default();
                let local = Tenant::local();
                for path in entries
                    .iter()
                    .flat_map(|e| &e.images)
                    .filter_map(|i| i.path.as_ref())
                {
                    saved.record_if_new(path, &local);
                }
                self.add_rebuilt(entries);
            })
            .await;
    }

    /// Adds rebuilt entries (oldest first) below the live ones, skipping files already listed.
    fn add_rebuilt(&self, entries: Vec<Entry>) {
        let mut t = self.lock();
        let known: HashSet<PathBuf> = t
            .entries
            .values()
            .flat_map(|e| &e.images)
            .filter_map(|i| i.path.clone())
            .collect();
        let fresh = entries.into_iter().filter(|e| {
            !e.images
                .iter()
                .any(|i| i.path.as_ref().is_some_and(|p| known.contains(p)))
        });
        for (seq, entry) in fresh.enumerate() {
            t.entries.insert(seq as u64, entry);
        }
        while t.entries.len() > MAX_ENTRIES {
            t.entries.pop_first();
        }
    }

    /// Up to `n` of `owner`'s entries older than `before`, newest first, and whether more are left.
    fn page(&self, owner: &Tenant, before: Option<u64>, n: usize) -> (Vec<(u64, Entry)>, bool) {
        let t = self.lock();
        let mut mine = t
            .entries
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .filter(|(_, e)| &e.owner == owner && e.images.iter().any(|i| e.live(i)));
        let page: Vec<(u64, Entry)> = mine
            .by_ref()
            .take(n)
            .map(|(s, e)| (*s, e.clone()))
            .collect();
        let more = mine.next().is_some();
        (page, more)
    }

    /// `owner`'s entry for `job`.
    fn job(&self, job: &str, owner: &Tenant) -> Option<Entry> {
        self.lock()
            .entries
            .values()
            .rev()
            .find(|e| e.job.as_deref() == Some(job) && &e.owner == owner)
            .cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        // A poisoned lock only means a panic elsewhere; the table itself is still consistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

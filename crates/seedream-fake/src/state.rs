//! State shared by every request of one fake API: configuration, clock, recordings,
//! `fail_n` counters, the rate limiter, in-flight accounting and the served objects.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use super::clock::{Clock, RequestIds};
use super::config::{FakeConfig, ImageBytes};
use super::images::Fmt;

/// Requests kept for inspection.
const MAX_RECORDED: usize = 1000;
/// Raw bytes kept across recorded requests (reference images make bodies large).
const MAX_RECORDED_BYTES: usize = 256 * 1024 * 1024;
/// Generated objects remembered for download.
const MAX_OBJECTS: usize = 20_000;
/// Distinct prompts tracked for `fail_n`.
const MAX_FAIL_KEYS: usize = 10_000;
const IPM_WINDOW: Duration = Duration::from_secs(60);

/// Locks a mutex, ignoring poisoning: no critical section here can leave data half-updated
/// in a way that matters to a test double.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A generation request as received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// The request path, e.g. `/v1/images/generations`.
    pub path: String,
    /// The `Authorization` header, verbatim.
    pub authorization: Option<String>,
    /// Every header, in arrival order (values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The parsed body; `Value::Null` if it was not JSON.
    pub body: serde_json::Value,
    /// The body as received (lossily decoded as UTF-8).
    pub raw_body: String,
    /// What the fake API noticed: defaults applied, fields ignored (e.g. "watermark absent").
    pub notes: Vec<String>,
}

/// What `/tos/...` serves for a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredObject {
    pub width: u32,
    pub height: u32,
    pub fmt: Fmt,
    pub bytes: ImageBytes,
}

#[derive(Debug, Default)]
struct Recordings {
    requests: VecDeque<(u64, RecordedRequest)>,
    bytes: usize,
    downloads: VecDeque<String>,
}

#[derive(Debug, Default)]
struct Objects {
    by_path: HashMap<String, StoredObject>,
    order: VecDeque<String>,
}

/// The shared state; handlers hold it through an `Arc`.
#[derive(Debug)]
pub(crate) struct Shared {
    config: Mutex<FakeConfig>,
    pub clock: Clock,
    pub addr: SocketAddr,
    /// Signs download URLs; random per instance unless `seed_ids`.
    pub secret: [u8; 32],
    counter: AtomicU64,
    record_keys: AtomicU64,
    recordings: Mutex<Recordings>,
    fail_counts: Mutex<HashMap<String, u32>>,
    ipm: Mutex<HashMap<String, VecDeque<(Instant, u64)>>>,
    inflight: AtomicUsize,
    closed_early: AtomicUsize,
    objects: Mutex<Objects>,
}

pub(crate) type App = Arc<Shared>;

impl Shared {
    pub(crate) fn new(config: FakeConfig, addr: SocketAddr) -> Shared {
        let secret = if config.seed_ids {
            *b"seedream-fake-api-fixed-secret!!"
        } else {
            std::array::from_fn(|_| fastrand::u8(..))
        };
        Shared {
            config: Mutex::new(config.sanitized()),
            clock: Clock::default(),
            addr,
            secret,
            counter: AtomicU64::new(0),
            record_keys: AtomicU64::new(0),
            recordings: Mutex::default(),
            fail_counts: Mutex::default(),
            ipm: Mutex::default(),
            inflight: AtomicUsize::new(0),
            closed_early: AtomicUsize::new(0),
            objects: Mutex::default(),
        }
    }

    /// A snapshot of the configuration (each request sees one consistent version).
    pub(crate) fn config(&self) -> FakeConfig {
        lock(&self.config).clone()
    }

    pub(crate) fn set_config(&self, config: FakeConfig) {
        *lock(&self.config) = config.sanitized();
    }

    pub(crate) fn update_config(&self, f: impl FnOnce(&mut FakeConfig)) {
        let mut guard = lock(&self.config);
        f(&mut guard);
        *guard = guard.sanitized();
    }

    pub(crate) fn new_ids(&self, seeded: bool) -> RequestIds {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        RequestIds::new(self.clock.now_ms(), seeded, n)
    }

    /// Records a generation request; the returned key lets notes be added later.
    pub(crate) fn record(&self, request: RecordedRequest) -> u64 {
        let key = self.record_keys.fetch_add(1, Ordering::Relaxed);
        let mut rec = lock(&self.recordings);
        rec.bytes += request.raw_body.len();
        rec.requests.push_back((key, request));
        while rec.requests.len() > MAX_RECORDED
            || (rec.bytes > MAX_RECORDED_BYTES && rec.requests.len() > 1)
        {
            if let Some((_, old)) = rec.requests.pop_front() {
                rec.bytes = rec.bytes.saturating_sub(old.raw_body.len());
            }
        }
        key
    }

    pub(crate) fn add_notes(&self, key: u64, notes: &[String]) {
        if notes.is_empty() {
            return;
        }
        let mut rec = lock(&self.recordings);
        if let Some((_, r)) = rec.requests.iter_mut().rev().find(|(k, _)| *k == key) {
            r.notes.extend_from_slice(notes);
        }
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.recordings)
            .requests
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    pub(crate) fn record_download(&self, raw: String) {
        let mut rec = lock(&self.recordings);
        rec.downloads.push_back(raw);
        if rec.downloads.len() > MAX_RECORDED {
            rec.downloads.pop_front();
        }
    }

    pub(crate) fn downloads(&self) -> Vec<String> {
        lock(&self.recordings).downloads.iter().cloned().collect()
    }

    /// Whether failures still apply to this raw prompt under `fail_n=limit`.
    pub(crate) fn failures_remaining(&self, raw_prompt: &str, limit: u32) -> bool {
        let mut counts = lock(&self.fail_counts);
        if counts.len() >= MAX_FAIL_KEYS && !counts.contains_key(raw_prompt) {
            counts.clear();
        }
        let seen = counts.entry(raw_prompt.to_owned()).or_insert(0);
        let fail = *seen < limit;
        *seen = seen.saturating_add(1);
        fail
    }

    /// Admits `images` more generated images for `model` under a per-minute limit.
    pub(crate) fn admit_images(&self, model: &str, images: u64, limit: u64) -> bool {
        let now = Instant::now();
        let mut windows = lock(&self.ipm);
        let window = windows.entry(model.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= IPM_WINDOW)
        {
            window.pop_front();
        }
        let used: u64 = window.iter().map(|(_, n)| n).sum();
        if images > 0 && used.saturating_add(images) > limit {
            return false;
        }
        if images > 0 {
            window.push_back((now, images));
        }
        true
    }

    pub(crate) fn remember_object(&self, path: String, object: StoredObject) {
        let mut objects = lock(&self.objects);
        if objects.by_path.insert(path.clone(), object).is_none() {
            objects.order.push_back(path);
        }
        while objects.order.len() > MAX_OBJECTS {
            if let Some(old) = objects.order.pop_front() {
                objects.by_path.remove(&old);
            }
        }
    }

    pub(crate) fn object(&self, path: &str) -> Option<StoredObject> {
        lock(&self.objects).by_path.get(path).copied()
    }

    pub(crate) fn closed_early(&self) -> usize {
        self.closed_early.load(Ordering::Relaxed)
    }
}

/// Tracks one generation request: counts it as closed early if dropped before `finish`
/// (hyper drops the handler, or the body stream, when the client hangs up).
#[derive(Debug)]
pub(crate) struct Tracker {
    app: App,
    finished: bool,
    inflight: bool,
}

impl Tracker {
    pub(crate) fn new(app: App) -> Tracker {
        Tracker {
            app,
            finished: false,
            inflight: false,
        }
    }

    /// Takes an in-flight slot, unless `cap` are already taken.
    pub(crate) fn enter_inflight(&mut self, cap: Option<u32>) -> bool {
        let cap = cap.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let taken = self
            .app
            .inflight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok();
        self.inflight = taken;
        taken
    }

    /// The response was produced completely.
    pub(crate) fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.inflight {
            self.app.inflight.fetch_sub(1, Ordering::AcqRel);
        }
        if !self.finished {
            self.app.closed_early.fetch_add(1, Ordering::Relaxed);
        }
    }
}

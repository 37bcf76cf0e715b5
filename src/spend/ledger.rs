//! The ledger of billed calls: time, caller (the keyed hash the job store uses, never a key),
//! model, images, tokens and estimate; and the room held for calls in flight (their worst
//! case), so that calls checked at the same time cannot together pass a cap that only one of
//! them fits. Totals are kept in memory per caller and UTC day, so a cap check costs no disk
//! read and no walk over every call of the month; each entry is written to its own small redb
//! file next to the job store by a writer thread, off the call's path, and read back at start
//! (the last 32 days), so a restart keeps what was spent. Kept apart from the job store so that
//! store can change (Redis) freely.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use redb::{Database, Durability, TableDefinition};

use super::period::DAY;
use serde::{Deserialize, Serialize};

const ENTRIES: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("billed_calls");
/// Entries older than this are not loaded: the longest cap period is a calendar month.
const KEEP_SECONDS: i64 = 32 * DAY;

/// One billed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Unix seconds.
    pub at: i64,
    /// The caller's tenant hash.
    pub caller: String,
    pub model: String,
    pub images: u64,
    pub tokens: u64,
    pub estimate: Option<f64>,
}

/// What a caller spent in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub images: u64,
    /// Sum of the known estimates.
    pub cost: f64,
}

impl Totals {
    fn add(self, images: u64, cost: f64) -> Totals {
        Totals {
            images: self.images + images,
            cost: self.cost + cost,
        }
    }
}

/// What a caller has used today and this month: billed calls plus room held for calls in
/// flight.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Used {
    pub day: Totals,
    pub month: Totals,
}

/// Room held for one call in flight: its worst case, counted in every period until settled.
#[derive(Debug, Clone)]
struct Hold {
    id: u64,
    caller: String,
    images: u64,
    cost: f64,
}

#[derive(Debug, Default)]
struct State {
    /// What each caller was billed per UTC day (unix days), for the last 32 days.
    days: HashMap<String, BTreeMap<i64, Totals>>,
    holds: Vec<Hold>,
    next_hold: u64,
}

impl State {
    fn with(entries: Vec<Entry>) -> State {
        let mut state = State::default();
        for entry in &entries {
            state.count(entry);
        }
        state
    }

    /// Adds `entry` to its caller's day, and forgets that caller's days past the horizon.
    fn count(&mut self, entry: &Entry) {
        let days = self.days.entry(entry.caller.clone()).or_default();
        let day = days.entry(entry.at.div_euclid(DAY)).or_default();
        *day = day.add(entry.images, entry.estimate.unwrap_or(0.0));
        let horizon = (entry.at - KEEP_SECONDS).div_euclid(DAY);
        *days = days.split_off(&horizon);
    }

    /// What `caller` (every caller with `None`) was billed from the UTC day of `since` on.
    fn sum(&self, caller: Option<&str>, since: i64) -> Totals {
        let first = since.div_euclid(DAY);
        let of = |days: &BTreeMap<i64, Totals>| {
            days.range(first..)
                .fold(Totals::default(), |t, (_, d)| t.add(d.images, d.cost))
        };
        match caller {
            Some(c) => self.days.get(c).map(of).unwrap_or_default(),
            None => self
                .days
                .values()
                .map(of)
                .fold(Totals::default(), |t, d| t.add(d.images, d.cost)),
        }
    }
}

/// The ledger: in-memory entries and holds, and a writer to its file when it has one.
#[derive(Debug)]
pub struct Ledger {
    state: Mutex<State>,
    writer: Option<(Sender<Entry>, JoinHandle<()>)>,
}

impl Ledger {
    /// A ledger that lives as long as the process.
    pub fn memory() -> Ledger {
        Ledger {
            state: Mutex::default(),
            writer: None,
        }
    }

    /// The ledger in the file at `path`, created if missing, with the last 32 days loaded. A
    /// file that cannot be opened (another server holds it, or it is damaged) leaves a memory
    /// ledger and a warning: spending is still counted, for this process only.
    pub fn open(path: &Path, now: i64) -> Ledger {
        match open_file(path, now) {
            Ok((db, entries)) => {
                let (tx, rx) = channel::<Entry>();
                let thread = std::thread::spawn(move || write_all(&db, &rx));
                Ledger {
                    state: Mutex::new(State::with(entries)),
                    writer: Some((tx, thread)),
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "spend ledger kept in memory only");
                Ledger::memory()
            }
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts `entry` now and writes it in the background.
    pub fn record(&self, entry: Entry) {
        self.settle(None, Some(entry));
    }

    /// Holds room for `images` costing `cost` for `caller`, unless `check`, given what the
    /// caller has used since `starts` (day, month: billed calls plus every hold), says why
    /// not. Checked and held under one lock, so concurrent calls are counted one after the
    /// other. The hold counts until [`Ledger::settle`] releases it.
    pub fn hold(
        &self,
        caller: &str,
        starts: (i64, i64),
        (images, cost): (u64, f64),
        check: impl FnOnce(Used) -> Option<String>,
    ) -> Result<u64, String> {
        let mut state = self.state();
        let held = held(&state.holds, caller);
        let used = Used {
            day: state
                .sum(Some(caller), starts.0)
                .add(held.images, held.cost),
            month: state
                .sum(Some(caller), starts.1)
                .add(held.images, held.cost),
        };
        if let Some(why) = check(used) {
            return Err(why);
        }
        state.next_hold += 1;
        let id = state.next_hold;
        state.holds.push(Hold {
            id,
            caller: caller.to_owned(),
            images,
            cost,
        });
        Ok(id)
    }

    /// Releases the hold `id` (when given) and counts `entry` (when given) in one step, so
    /// the call is never counted twice nor missed in between.
    pub fn settle(&self, id: Option<u64>, entry: Option<Entry>) {
        let mut state = self.state();
        if let Some(id) = id {
            state.holds.retain(|h| h.id != id);
        }
        let Some(entry) = entry else {
            return;
        };
        state.count(&entry);
        if let Some((tx, _)) = &self.writer {
            let _ = tx.send(entry);
        }
    }

    /// What `caller` (every caller with `None`) was billed from the UTC day of `since` (unix
    /// seconds) on: the caps' periods start at midnight.
    pub fn totals(&self, caller: Option<&str>, since: i64) -> Totals {
        self.state().sum(caller, since)
    }

    /// The room held for `caller`'s calls in flight.
    pub fn held(&self, caller: &str) -> Totals {
        held(&self.state().holds, caller)
    }
}

fn held(holds: &[Hold], caller: &str) -> Totals {
    holds
        .iter()
        .filter(|h| h.caller == caller)
        .fold(Totals::default(), |t, h| t.add(h.images, h.cost))
}

impl Drop for Ledger {
    /// Waits for the entries still being written, so a clean stop loses none.
    fn drop(&mut self) {
        if let Some((tx, thread)) = self.writer.take() {
            drop(tx);
            let _ = thread.join();
        }
    }
}

type DbResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn open_file(path: &Path, now: i64) -> DbResult<(Database, Vec<Entry>)> {
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    txn.open_table(ENTRIES)?;
    txn.commit()?;
    let read = db.begin_read()?;
    let table = read.open_table(ENTRIES)?;
    let mut entries = Vec::new();
    for row in table.range((now - KEEP_SECONDS, 0)..)? {
        let (_, value) = row?;
        if let Ok(entry) = serde_json::from_slice::<Entry>(value.value()) {
            entries.push(entry);
        }
    }
    drop(table);
    drop(read);
    Ok((db, entries))
}

/// How long the writer waits for more entries before it makes those written so far durable.
const SETTLE: Duration = Duration::from_millis(250);

/// Writes entries as they come, every waiting one in one transaction, without an fsync each
/// (one per billed call cost about 0.15 ms of every call on two cores); once no entry has come
/// for [`SETTLE`] (or the server stops), one durable commit makes them all safe. A crash loses
/// at most the entries of the last quarter second.
fn write_all(db: &Database, rx: &Receiver<Entry>) {
    let mut seq: u64 = 0;
    let mut unsynced = false;
    loop {
        let first = match rx.recv_timeout(SETTLE) {
            Ok(entry) => entry,
            Err(RecvTimeoutError::Timeout) if unsynced => {
                unsynced = !report(sync(db));
                continue;
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let batch: Vec<Entry> = std::iter::once(first).chain(rx.try_iter()).collect();
        unsynced |= report(append(db, &mut seq, &batch));
    }
    if unsynced {
        report(sync(db));
    }
}

fn report(written: DbResult<()>) -> bool {
    if let Err(e) = &written {
        tracing::warn!(error = %e, "could not write the spend ledger");
    }
    written.is_ok()
}

fn append(db: &Database, seq: &mut u64, batch: &[Entry]) -> DbResult<()> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Eventual);
    {
        let mut table = txn.open_table(ENTRIES)?;
        for entry in batch {
            let bytes = serde_json::to_vec(entry)?;
            // The time orders the rows; a random high part keeps two servers' rows (or two
            // entries in one second after a restart) apart.
            let key = (entry.at, (fastrand::u64(..) << 20) | (*seq & 0xF_FFFF));
            *seq += 1;
            table.insert(key, bytes.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// An empty durable commit: it makes every earlier eventual one durable too.
fn sync(db: &Database) -> DbResult<()> {
    let txn = db.begin_write()?;
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64, caller: &str, images: u64) -> Entry {
        Entry {
            at,
            caller: caller.into(),
            model: "doubao-seedream-4-5-251128".into(),
            images,
            tokens: 0,
            estimate: Some(0.04 * images as f64),
        }
    }

    #[test]
    fn totals_count_one_caller_from_a_day_on() {
        let l = Ledger::memory();
        l.record(entry(100, "a", 2));
        l.record(entry(DAY + 200, "a", 3));
        l.record(entry(DAY + 300, "b", 4));
        assert_eq!(l.totals(Some("a"), DAY).images, 3);
        assert_eq!(
            l.totals(Some("a"), DAY + 250).images,
            3,
            "from the start of its day"
        );
        assert_eq!(l.totals(None, 0).images, 9);
        assert!((l.totals(Some("a"), 0).cost - 0.2).abs() < 1e-9);
    }

    #[test]
    fn days_past_the_horizon_are_forgotten_as_new_ones_come() {
        let l = Ledger::memory();
        l.record(entry(0, "a", 5));
        l.record(entry(40 * DAY, "a", 1));
        assert_eq!(l.totals(Some("a"), 0).images, 1);
        assert_eq!(l.state().days["a"].len(), 1);
    }

    #[test]
    fn a_restart_keeps_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spend.redb");
        let now = 1_800_000_000;
        {
            let l = Ledger::open(&path, now);
            l.record(entry(now, "a", 2));
            l.record(entry(now + 1, "a", 1));
        }
        let again = Ledger::open(&path, now + 10);
        assert_eq!(again.totals(Some("a"), now).images, 3);
        // Entries older than 32 days are not loaded.
        let later = {
            drop(again);
            Ledger::open(&path, now + 40 * 24 * 3600)
        };
        assert_eq!(later.totals(None, 0).images, 0);
    }
}

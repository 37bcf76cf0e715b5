//! Where job records outlive the process: an embedded file (`Store::Embedded`, the binary's
//! default, under the platform data folder) or nowhere (`Store::Memory`, the library default
//! and tests). A later `redis://` store is a third variant.
//!
//! Engine: `redb`, not SQLite. It is pure Rust (no C compile on a 2-core build machine; bundled
//! SQLite adds a `cc` build of ~250k lines of C), adds one crate to the tree (its only
//! dependency, `libc`, is already in it), and a job record is a key → bytes lookup that needs no
//! SQL. Each write is one ACID transaction, durable (fsync) when it commits.
//!
//! One process per file: redb locks it. A second server on the same file (an HTTP server and a
//! stdio one, or two stdio clients) cannot open it; the caller then logs a warning and serves
//! from memory, rather than failing to start or scattering per-process files nobody cleans up.
//!
//! Records are JSON (`Record`); kept image bytes live in their own table so the size cap can drop
//! them without rewriting results. Times are unix seconds from [`Clock`], which advances with
//! tokio's clock so expiry is tested on paused time.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
const IMAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("images");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const TENANT_KEY: &str = "tenant_key";

/// Why the store could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("job store {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("job store {path}: the file is damaged (redb could not open it)")]
    Damaged { path: PathBuf },
    #[error("job store {path}: cannot create its folder: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Another server holds the file.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            StoreError::Db { source, .. } if matches!(*source.0, redb::Error::DatabaseAlreadyOpen)
        )
    }
}

/// A redb failure, boxed: redb's own error is large, and it travels through every result here.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct DbError(Box<redb::Error>);

macro_rules! db_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for DbError {
            fn from(e: $t) -> DbError {
                DbError(Box::new(e.into()))
            }
        }
    )*};
}
db_error_from!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// A job's lifecycle as the store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Finished,
    /// It was running when its server stopped.
    Interrupted,
}

/// One kept image's place in a record; its bytes are in the images table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageMeta {
    pub index: usize,
    pub mime: String,
    pub len: u64,
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The tenant's opaque hash, never a key or token.
    pub owner: String,
    pub tool: String,
    pub created: u64,
    pub finished: Option<u64>,
    pub status: Status,
    pub sent_upstream: bool,
    /// The last progress text.
    pub phase: String,
    /// The `CallToolResult`, once finished.
    pub result: Option<serde_json::Value>,
    pub images: Vec<ImageMeta>,
}

/// Unix seconds that move with tokio's clock (paused in tests).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    unix_at_base: u64,
    base: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Clock {
    pub fn new() -> Clock {
        let unix_at_base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Clock {
            unix_at_base,
            base: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> u64 {
        self.unix_at_base + self.base.elapsed().as_secs()
    }
}

/// Where records go.
#[derive(Debug)]
pub enum Store {
    Memory,
    Embedded(Box<Embedded>),
}

/// The redb file.
pub struct Embedded {
    db: Database,
    path: PathBuf,
    keep: Duration,
    max_image_bytes: u64,
    clock: Clock,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("path", &self.path)
            .finish()
    }
}

impl Store {
    pub fn is_memory(&self) -> bool {
        matches!(self, Store::Memory)
    }

    /// Opens (or creates) the file; jobs it recorded as running become interrupted, expired
    /// ones go. Returns the persisted tenant-hashing key too.
    pub fn open(path: &Path, keep: Duration, max_image_bytes: u64) -> Result<Store, StoreError> {
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: path.to_owned(),
                source,
            })?;
        }
        // redb asserts on some damaged files (a truncated one panics in its page manager)
        // instead of returning an error: such a file is reported like any unreadable one.
        let opened = std::panic::catch_unwind(|| Database::create(path));
        let db = match opened {
            Ok(db) => db.map_err(|e| db_error(path, e))?,
            Err(_) => {
                return Err(StoreError::Damaged {
                    path: path.to_owned(),
                });
            }
        };
        let store = Embedded {
            db,
            path: path.to_owned(),
            keep,
            max_image_bytes,
            clock: Clock::new(),
        };
        store.init().map_err(|e| db_error(path, e))?;
        Ok(Store::Embedded(Box::new(store)))
    }

    /// The embedded store, if records are kept at all.
    pub fn embedded(&self) -> Option<&Embedded> {
        match self {
            Store::Memory => None,
            Store::Embedded(e) => Some(e),
        }
    }
}

fn db_error(path: &Path, e: impl Into<DbError>) -> StoreError {
    StoreError::Db {
        path: path.to_owned(),
        source: e.into(),
    }
}

impl Embedded {
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Creates the tables, marks running jobs interrupted, sweeps expired ones.
    fn init(&self) -> Result<(), DbError> {
        let now = self.now();
        let txn = self.db.begin_write()?;
        {
            txn.open_table(META)?;
            txn.open_table(IMAGES)?;
            let mut jobs = txn.open_table(JOBS)?;
            let mut interrupted = Vec::new();
            for row in jobs.iter()? {
                let (k, v) = row?;
                if let Ok(mut r) = serde_json::from_slice::<Record>(v.value())
                    && r.status == Status::Running
                {
                    r.status = Status::Interrupted;
                    r.finished = Some(now);
                    interrupted.push((k.value().to_owned(), r));
                }
            }
            for (id, r) in interrupted {
                jobs.insert(id.as_str(), encode(&r).as_slice())?;
            }
        }
        txn.commit()?;
        self.sweep()
    }

    /// The key tenants are hashed with, drawn once and kept, so a restarted server matches
    /// the owners of the jobs it recorded.
    pub fn tenant_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], DbError> {
        let txn = self.db.begin_write()?;
        let key = {
            let mut meta = txn.open_table(META)?;
            let stored = meta
                .get(TENANT_KEY)?
                .and_then(|v| <[u8; 32]>::try_from(v.value()).ok());
            match stored {
                Some(key) => key,
                None => {
                    meta.insert(TENANT_KEY, fresh.as_slice())?;
                    fresh
                }
            }
        };
        txn.commit()?;
        Ok(key)
    }

    /// Writes a record and the bytes of its kept images, durably, then keeps under the cap.
    pub fn put(&self, record: &Record, images: &[(usize, &[u8])]) -> Result<(), DbError> {
        let txn = self.db.begin_write()?;
        {
            txn.open_table(JOBS)?
                .insert(record.id.as_str(), encode(record).as_slice())?;
            let mut table = txn.open_table(IMAGES)?;
            for (index, bytes) in images {
                table.insert((record.id.as_str(), *index as u64), *bytes)?;
            }
        }
        txn.commit()?;
        if !images.is_empty() {
            self.bound_images(&record.id)?;
        }
        Ok(())
    }

    /// A record that has not expired.
    pub fn get(&self, id: &str) -> Result<Option<Record>, DbError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOBS)?;
        let Some(v) = table.get(id)? else {
            return Ok(None);
        };
        let record = serde_json::from_slice::<Record>(v.value()).ok();
        Ok(record.filter(|r| !self.expired(r)))
    }

    pub fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>, DbError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(IMAGES)?;
        Ok(table.get((id, index as u64))?.map(|v| v.value().to_vec()))
    }

    pub fn remove(&self, id: &str) -> Result<(), DbError> {
        let txn = self.db.begin_write()?;
        {
            txn.open_table(JOBS)?.remove(id)?;
            txn.open_table(IMAGES)?.retain(|(job, _), _| job != id)?;
        }
        Ok(txn.commit()?)
    }

    /// Drops expired records and their images.
    pub fn sweep(&self) -> Result<(), DbError> {
        let txn = self.db.begin_write()?;
        {
            let mut jobs = txn.open_table(JOBS)?;
            let mut gone = Vec::new();
            jobs.retain(|id, v| {
                let keep = serde_json::from_slice::<Record>(v).is_ok_and(|r| !self.expired(&r));
                if !keep {
                    gone.push(id.to_owned());
                }
                keep
            })?;
            if !gone.is_empty() {
                txn.open_table(IMAGES)?
                    .retain(|(job, _), _| !gone.iter().any(|g| g == job))?;
            }
        }
        Ok(txn.commit()?)
    }

    fn expired(&self, r: &Record) -> bool {
        r.finished
            .is_some_and(|t| self.now().saturating_sub(t) >= self.keep.as_secs())
    }

    /// Drops the oldest records' image bytes while all of them are over the cap, never those
    /// of `newest`; the records themselves (results, URLs, paths) stay.
    fn bound_images(&self, newest: &str) -> Result<(), DbError> {
        let mut records: Vec<Record> = {
            let txn = self.db.begin_read()?;
            let table = txn.open_table(JOBS)?;
            let mut all = Vec::with_capacity(table.len()? as usize);
            for row in table.iter()? {
                let (_, v) = row?;
                if let Ok(r) = serde_json::from_slice::<Record>(v.value()) {
                    all.push(r);
                }
            }
            all
        };
        let mut total: u64 = records.iter().flat_map(|r| &r.images).map(|i| i.len).sum();
        if total <= self.max_image_bytes {
            return Ok(());
        }
        records.retain(|r| r.id != newest && !r.images.is_empty());
        records.sort_by_key(|r| r.created);
        let txn = self.db.begin_write()?;
        {
            let mut jobs = txn.open_table(JOBS)?;
            let mut images = txn.open_table(IMAGES)?;
            for mut r in records {
                if total <= self.max_image_bytes {
                    break;
                }
                tracing::warn!(job = %r.id, "job store over its size cap: dropping the oldest job's kept images");
                for image in std::mem::take(&mut r.images) {
                    images.remove((r.id.as_str(), image.index as u64))?;
                    total = total.saturating_sub(image.len);
                }
                jobs.insert(r.id.as_str(), encode(&r).as_slice())?;
            }
        }
        Ok(txn.commit()?)
    }
}

fn encode(r: &Record) -> Vec<u8> {
    // A record is plain data (strings, numbers, a JSON value): it always serialises.
    serde_json::to_vec(r).unwrap_or_default()
}

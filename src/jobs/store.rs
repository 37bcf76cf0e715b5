//! Where job records outlive the process: an embedded file (`Store::Embedded`, the binary's
//! default, under the platform data folder), a Redis/Valkey server several instances share
//! (`Store::Shared`), or nowhere (`Store::Memory`, the library default and tests).
//!
//! Embedded engine: `redb`, not SQLite. It is pure Rust (no C compile on a 2-core build
//! machine; bundled SQLite adds a `cc` build of ~250k lines of C), adds one crate to the tree
//! (its only dependency, `libc`, is already in it), and a job record is a key → bytes lookup
//! that needs no SQL. Each write is one ACID transaction, durable (fsync) when it commits.
//!
//! One process per file: redb locks it. A second server on the same file (an HTTP server and a
//! stdio one, or two stdio clients) cannot open it; the caller then logs a warning and serves
//! from memory, rather than failing to start or scattering per-process files nobody cleans up.
//! Several processes that must share jobs use Redis.
//!
//! Records are JSON (`Record`); kept image bytes live apart from them so a size cap (or expiry)
//! can drop them without rewriting results. Times are unix seconds from [`Clock`], which
//! advances with tokio's clock so expiry is tested on paused time.

mod embedded;
mod pool;
mod record;
mod shared;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use embedded::Embedded;
pub use pool::Pool as RedisPool;
pub use record::{Clock, ImageMeta, Record, Status};
pub use shared::{RedisUrl, Shared};

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
    /// The URL is shown without its password.
    #[error("job store {url}: {source}")]
    Redis {
        url: String,
        #[source]
        source: DbError,
    },
}

impl StoreError {
    /// Another server holds the file.
    pub fn is_locked(&self) -> bool {
        matches!(
            self,
            StoreError::Db { source: DbError::Redb(e), .. } if matches!(**e, redb::Error::DatabaseAlreadyOpen)
        )
    }
}

/// A failure of the storage engine, boxed: the engines' own errors are large, and they travel
/// through every result here.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Redb(Box<redb::Error>),
    #[error("redis: {0}")]
    Redis(Box<redis::RedisError>),
}

macro_rules! db_error_from {
    ($($t:ty),*) => {$(
        impl From<$t> for DbError {
            fn from(e: $t) -> DbError {
                DbError::Redb(Box::new(e.into()))
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

impl From<redis::RedisError> for DbError {
    fn from(e: redis::RedisError) -> DbError {
        DbError::Redis(Box::new(e))
    }
}

/// What a store does with records, whichever engine holds them. Calls block (a disk or a
/// loopback round trip): async callers run them on the blocking pool.
pub trait Records: Send + Sync {
    /// Unix seconds on the store's clock.
    fn now(&self) -> u64;
    /// The key tenants are hashed with, drawn once and kept, so a restarted server (or another
    /// instance) matches the owners of the jobs recorded.
    fn tenant_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], DbError>;
    /// Writes a record and the bytes of its kept images, durably.
    fn put(&self, record: &Record, images: &[(usize, &[u8])]) -> Result<(), DbError>;
    /// A record that has not expired.
    fn get(&self, id: &str) -> Result<Option<Record>, DbError>;
    fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>, DbError>;
    fn remove(&self, id: &str) -> Result<(), DbError>;
    /// Drops expired records and their images.
    fn sweep(&self) -> Result<(), DbError>;
}

/// Where records go.
#[derive(Debug)]
pub enum Store {
    Memory,
    Embedded(Box<Embedded>),
    Shared(Box<Shared>),
}

impl Store {
    pub fn is_memory(&self) -> bool {
        matches!(self, Store::Memory)
    }

    /// Opens (or creates) the embedded file; see [`Embedded::open`].
    pub fn open(path: &Path, keep: Duration, max_image_bytes: u64) -> Result<Store, StoreError> {
        Embedded::open(path, keep, max_image_bytes).map(|e| Store::Embedded(Box::new(e)))
    }

    /// Connects to a shared Redis/Valkey store; see [`Shared::open`].
    pub fn open_shared(url: &RedisUrl, keep: Duration) -> Result<Store, StoreError> {
        Shared::open(url, keep).map(|s| Store::Shared(Box::new(s)))
    }

    /// The records, if they are kept at all.
    pub fn records(&self) -> Option<&dyn Records> {
        match self {
            Store::Memory => None,
            Store::Embedded(e) => Some(&**e),
            Store::Shared(s) => Some(&**s),
        }
    }

    /// The embedded store, if that is where records are kept.
    pub fn embedded(&self) -> Option<&Embedded> {
        match self {
            Store::Embedded(e) => Some(e),
            _ => None,
        }
    }

    /// The shared store, if several instances share the records.
    pub fn shared(&self) -> Option<&Shared> {
        match self {
            Store::Shared(s) => Some(s),
            _ => None,
        }
    }
}

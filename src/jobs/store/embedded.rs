//! The embedded store: one redb file, one process (see the module above for why redb).

use std::path::{Path, PathBuf};
use std::time::Duration;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::record::{Clock, Record, Status};
use super::{DbError, Records, StoreError};

const JOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("jobs");
const IMAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("images");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const TENANT_KEY: &str = "tenant_key";

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

impl Embedded {
    pub fn open(path: &Path, keep: Duration, max_image_bytes: u64) -> Result<Embedded, StoreError> {
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
        Ok(store)
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

impl Records for Embedded {
    fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The key tenants are hashed with, drawn once and kept, so a restarted server matches
    /// the owners of the jobs it recorded.
    fn tenant_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], DbError> {
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
    fn put(&self, record: &Record, images: &[(usize, &[u8])]) -> Result<(), DbError> {
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
    fn get(&self, id: &str) -> Result<Option<Record>, DbError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(JOBS)?;
        let Some(v) = table.get(id)? else {
            return Ok(None);
        };
        let record = serde_json::from_slice::<Record>(v.value()).ok();
        Ok(record.filter(|r| !self.expired(r)))
    }

    fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>, DbError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(IMAGES)?;
        Ok(table.get((id, index as u64))?.map(|v| v.value().to_vec()))
    }

    fn remove(&self, id: &str) -> Result<(), DbError> {
        let txn = self.db.begin_write()?;
        {
            txn.open_table(JOBS)?.remove(id)?;
            txn.open_table(IMAGES)?.retain(|(job, _), _| job != id)?;
        }
        Ok(txn.commit()?)
    }

    /// Drops expired records and their images.
    fn sweep(&self) -> Result<(), DbError> {
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
}

fn db_error(path: &Path, e: impl Into<DbError>) -> StoreError {
    StoreError::Db {
        path: path.to_owned(),
        source: e.into(),
    }
}

fn encode(r: &Record) -> Vec<u8> {
    // A record is plain data (strings, numbers, a JSON value): it always serialises.
    serde_json::to_vec(r).unwrap_or_default()
}

//! The job store, opened only when something needs it. Opening a redb file takes milliseconds
//! (and a file left by a crashed server is repaired first, which takes longer the bigger it is)
//! and keeps about 2.4 MiB resident, while most sessions never hand out a job id: opening it at
//! start slowed the first answer from 2.4 to 5.4 ms, and opening it in the background 200 ms
//! later still added its memory to every idle server. So the first thing that needs the store
//! (a job id handed out, a lookup of a job this process does not hold, the first tenant hashed
//! with the store's key) opens it, on its own thread of execution, and everyone else waits.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, OnceLock};

use super::store::Store;

type Opener = Box<dyn FnOnce() -> Store + Send>;

/// A [`Store`] that is open, or opens when first used.
pub struct StoreCell {
    store: OnceLock<Store>,
    open: Mutex<Option<Opener>>,
}

impl std::fmt::Debug for StoreCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreCell")
            .field("store", &self.store.get())
            .finish_non_exhaustive()
    }
}

impl StoreCell {
    /// A store that is already open (memory, or tests).
    pub fn ready(store: Store) -> Arc<StoreCell> {
        let cell = OnceLock::new();
        let _ = cell.set(store);
        Arc::new(StoreCell {
            store: cell,
            open: Mutex::new(None),
        })
    }

    /// A store `open` opens when first used. Whatever happens to it (a panic inside the
    /// storage engine), the cell ends up holding a store: at worst the jobs stay in memory.
    pub fn lazy(open: impl FnOnce() -> Store + Send + 'static) -> Arc<StoreCell> {
        Arc::new(StoreCell {
            store: OnceLock::new(),
            open: Mutex::new(Some(Box::new(open))),
        })
    }

    fn open_now(&self) -> Store {
        let open = self.open.lock().ok().and_then(|mut o| o.take());
        match open.map(|open| catch_unwind(AssertUnwindSafe(open))) {
            Some(Ok(store)) => store,
            Some(Err(_)) => {
                tracing::warn!("opening the job store failed: jobs are kept in memory only");
                in_memory_after_all()
            }
            None => in_memory_after_all(),
        }
    }
}

impl super::Jobs {
    /// The job table the settings describe, its store (if any) opened when first needed so
    /// start-up never waits for the disk or Redis; the first tenant hashed then opens it, as it
    /// holds the tenant key.
    pub fn for_settings(settings: &crate::config::JobSettings) -> Arc<super::Jobs> {
        let (keep, instance) = (settings.keep, settings.instance.clone());
        let Some(at) = settings.store.clone() else {
            return Arc::new(super::Jobs::new(keep, instance));
        };
        let max_bytes = settings.store_max_bytes;
        let jobs = Arc::new(super::Jobs::opening_store(keep, instance, move || {
            super::open_store(Some(&at), keep, max_bytes)
        }));
        let weak = Arc::downgrade(&jobs);
        crate::caller::tenant_key_from_store(move || {
            if let Some(jobs) = weak.upgrade() {
                jobs.open_store_now();
            }
        });
        jobs
    }
}

/// The store could not be opened: memory, and a fresh tenant key for whoever waits for the
/// store's.
fn in_memory_after_all() -> Store {
    crate::caller::adopt_tenant_key(crate::caller::fresh_tenant_key());
    Store::Memory
}

impl Deref for StoreCell {
    type Target = Store;

    /// The store, opening it if nothing has yet.
    fn deref(&self) -> &Store {
        self.store.get_or_init(|| self.open_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_panics_while_opening_leaves_the_jobs_in_memory() {
        let cell = StoreCell::lazy(|| panic!("the storage engine gave up"));
        assert!(cell.is_memory());
    }

    #[test]
    fn a_lazy_store_opens_once_on_first_use() {
        let opened = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&opened);
        let cell = StoreCell::lazy(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Store::Memory
        });
        assert_eq!(
            opened.load(std::sync::atomic::Ordering::SeqCst),
            0,
            "not before use"
        );
        assert!(cell.is_memory());
        assert!(cell.is_memory());
        assert_eq!(opened.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(StoreCell::ready(Store::Memory).is_memory());
    }
}

//! The job store, opened off the start-up path. Opening a redb file takes milliseconds (and a
//! file left by a crashed server is repaired first, which takes longer the bigger it is), while
//! an MCP client waits for `initialize`; even on another thread, opening it at once slowed the
//! first answer from 2.4 to 4.1 ms (page faults of the file compete with those of the starting
//! server). So the store opens on its own thread [`OPEN_AFTER`] after start, or as soon as
//! something needs it (a job id handed out, a lookup of a job this process does not hold),
//! which then waits for it; the tenant-hashing key it holds is waited for by the first tenant
//! hashed (`caller::tenant_key`), at worst until the store opens by itself.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::store::Store;

/// How long after start the store opens when nothing has needed it sooner: well after a
/// client's handshake, well before anyone polls a job.
const OPEN_AFTER: Duration = Duration::from_millis(200);

/// A [`Store`] that is ready now, or being opened.
#[derive(Debug)]
pub struct StoreCell {
    store: OnceLock<Store>,
    /// Tells the opening thread that the store is needed now.
    wake: Mutex<Option<Sender<()>>>,
}

impl StoreCell {
    /// A store that is already open (memory, or tests).
    pub fn ready(store: Store) -> Arc<StoreCell> {
        let cell = OnceLock::new();
        let _ = cell.set(store);
        Arc::new(StoreCell {
            store: cell,
            wake: Mutex::new(None),
        })
    }

    /// Runs `open` on a thread of its own. Whatever happens to it (a panic inside the storage
    /// engine, no thread to be had), the cell ends up holding a store, so nobody waits forever:
    /// at worst the jobs stay in memory.
    pub fn opening(open: impl FnOnce() -> Store + Send + 'static) -> Arc<StoreCell> {
        let (wake, woken) = channel();
        let cell = Arc::new(StoreCell {
            store: OnceLock::new(),
            wake: Mutex::new(Some(wake)),
        });
        let filled = Arc::clone(&cell);
        let spawned = std::thread::Builder::new()
            .name("job-store-open".to_owned())
            .spawn(move || {
                let _ = woken.recv_timeout(OPEN_AFTER);
                let store = catch_unwind(AssertUnwindSafe(open)).unwrap_or_else(|_| {
                    tracing::warn!("opening the job store failed: jobs are kept in memory only");
                    in_memory_after_all()
                });
                let _ = filled.store.set(store);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to open the job store: jobs are kept in memory only");
            let _ = cell.store.set(in_memory_after_all());
        }
        cell
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

    /// The store, once open (asking for it opens it now if it was still waiting to).
    fn deref(&self) -> &Store {
        if let Some(store) = self.store.get() {
            return store;
        }
        if let Some(wake) = self.wake.lock().ok().and_then(|mut w| w.take()) {
            let _ = wake.send(());
        }
        self.store.wait()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_that_panics_while_opening_leaves_the_jobs_in_memory_instead_of_hanging() {
        let cell = StoreCell::opening(|| panic!("the storage engine gave up"));
        assert!(cell.is_memory());
    }

    #[test]
    fn a_store_opened_on_its_own_thread_is_the_one_handed_over() {
        let cell = StoreCell::opening(|| Store::Memory);
        assert!(cell.is_memory());
        assert!(StoreCell::ready(Store::Memory).is_memory());
    }
}

//! The job store, opened off the start-up path. Opening a redb file takes milliseconds (and a
//! file left by a crashed server is repaired first, which takes longer the bigger it is), while
//! an MCP client waits for `initialize`: a started server answers at once and the store opens on
//! its own thread. Whatever first needs the store (a job id handed out, a lookup of a job this
//! process does not hold) waits for it then; the tenant-hashing key it holds is waited for by
//! the first tenant hashed (`caller::tenant_key`).

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use super::store::Store;

/// A [`Store`] that is ready now, or being opened.
#[derive(Debug)]
pub struct StoreCell(OnceLock<Store>);

impl StoreCell {
    /// A store that is already open (memory, or tests).
    pub fn ready(store: Store) -> Arc<StoreCell> {
        let cell = OnceLock::new();
        let _ = cell.set(store);
        Arc::new(StoreCell(cell))
    }

    /// Runs `open` on a thread of its own. Whatever happens to it (a panic inside the storage
    /// engine, no thread to be had), the cell ends up holding a store, so nobody waits forever:
    /// at worst the jobs stay in memory.
    pub fn opening(open: impl FnOnce() -> Store + Send + 'static) -> Arc<StoreCell> {
        let cell = Arc::new(StoreCell(OnceLock::new()));
        let filled = Arc::clone(&cell);
        let spawned = std::thread::Builder::new()
            .name("job-store-open".to_owned())
            .spawn(move || {
                let store = catch_unwind(AssertUnwindSafe(open)).unwrap_or_else(|_| {
                    tracing::warn!("opening the job store failed: jobs are kept in memory only");
                    in_memory_after_all()
                });
                let _ = filled.0.set(store);
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to open the job store: jobs are kept in memory only");
            let _ = cell.0.set(in_memory_after_all());
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

    /// The store, once open.
    fn deref(&self) -> &Store {
        self.0.wait()
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

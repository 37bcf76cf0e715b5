//! Which tenant saved which file, so that over HTTP a caller reads back (as a resource, or as a
//! reference image for `edit_image`) the images it made and never another tenant's.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::caller::Tenant;
use crate::files::AllowedRoots;

/// Files remembered at most; the oldest are forgotten first (they stay on disk, readable
/// through the operator's folders if any).
const MAX_FILES: usize = 100_000;

#[derive(Debug, Default)]
pub struct SavedFiles {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    owners: HashMap<PathBuf, Tenant>,
    order: std::collections::VecDeque<PathBuf>,
}

/// Whether a caller may open a path.
#[derive(Debug, PartialEq, Eq)]
pub enum Access {
    /// The caller saved it.
    Own,
    /// Another tenant saved it.
    Foreign,
    /// Not saved by this server: the operator's folders decide.
    Unknown,
}

impl SavedFiles {
    pub fn record(&self, path: &Path, owner: &Tenant) {
        let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut t = self.lock();
        if t.owners.insert(path.clone(), owner.clone()).is_none() {
            t.order.push_back(path);
        }
        while t.order.len() > MAX_FILES {
            if let Some(old) = t.order.pop_front() {
                t.owners.remove(&old);
            }
        }
    }

    /// Records `path` as `owner`'s unless someone is already recorded for it (history found
    /// it on disk after a restart; this process may have saved it for a caller since).
    pub fn record_if_new(&self, path: &Path, owner: &Tenant) {
        let real = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if !self.lock().owners.contains_key(&real) {
            self.record(&real, owner);
        }
    }

    /// Who may open `path` (resolved first, so a symlink cannot dress up another's file).
    pub fn access(&self, path: &Path, caller: &Tenant) -> Access {
        let Ok(real) = path.canonicalize() else {
            return Access::Unknown;
        };
        match self.lock().owners.get(&real) {
            Some(owner) if owner == caller => Access::Own,
            Some(_) => Access::Foreign,
            None => Access::Unknown,
        }
    }

    /// The operator's folders plus the files this caller saved.
    pub fn roots_for(&self, base: &AllowedRoots, caller: &Tenant) -> AllowedRoots {
        let own: Vec<PathBuf> = self
            .lock()
            .owners
            .iter()
            .filter(|(_, owner)| *owner == caller)
            .map(|(path, _)| path.clone())
            .collect();
        if own.is_empty() {
            return base.clone();
        }
        AllowedRoots::new(base.roots().iter().cloned().chain(own))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_file_is_its_owners_and_foreign_to_everyone_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"x").unwrap();
        let saved = SavedFiles::default();
        let (alice, bob) = (Tenant::named("alice"), Tenant::named("bob"));
        saved.record(&file, &alice);
        assert_eq!(saved.access(&file, &alice), Access::Own);
        assert_eq!(saved.access(&file, &bob), Access::Foreign);
        let other = dir.path().join("b.png");
        std::fs::write(&other, b"y").unwrap();
        assert_eq!(saved.access(&other, &bob), Access::Unknown);
        let roots = saved.roots_for(&AllowedRoots::default(), &alice);
        assert!(roots.resolve_existing(&file).is_ok());
        assert!(roots.resolve_existing(&other).is_err());
    }
}

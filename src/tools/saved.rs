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

/// Upstream URLs remembered at most (a signed URL is ~600 bytes, so a few MB).
const MAX_URLS: usize = 10_000;

#[derive(Debug, Default)]
pub struct SavedFiles {
    table: Mutex<Table>,
    /// Which tenant was handed which upstream URL: `get_image` downloads only those, so the
    /// server never becomes a fetcher of arbitrary URLs for whoever asks.
    urls: Mutex<Handed>,
}

#[derive(Debug, Default)]
struct Handed {
    owners: HashMap<String, Tenant>,
    order: std::collections::VecDeque<String>,
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

    /// Remembers that `owner` was handed `url` in a result.
    pub fn record_url(&self, url: &str, owner: &Tenant) {
        let mut h = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        if h.owners.insert(url.to_owned(), owner.clone()).is_none() {
            h.order.push_back(url.to_owned());
        }
        while h.order.len() > MAX_URLS {
            if let Some(old) = h.order.pop_front() {
                h.owners.remove(&old);
            }
        }
    }

    /// Whether `caller` was handed `url` (and it is not yet forgotten).
    pub fn handed_url(&self, url: &str, caller: &Tenant) -> bool {
        let h = self.urls.lock().unwrap_or_else(|p| p.into_inner());
        h.owners.get(url) == Some(caller)
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

    #[test]
    fn a_url_is_known_only_to_the_tenant_it_was_handed_to() {
        let saved = SavedFiles::default();
        let (alice, bob) = (Tenant::named("alice"), Tenant::named("bob"));
        saved.record_url("https://cdn.example/a.jpeg?sig=1", &alice);
        assert!(saved.handed_url("https://cdn.example/a.jpeg?sig=1", &alice));
        assert!(!saved.handed_url("https://cdn.example/a.jpeg?sig=1", &bob));
        assert!(!saved.handed_url("https://cdn.example/b.jpeg", &alice));
    }
}

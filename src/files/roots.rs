//! The directories the server may read reference images from and write images to. Every
//! path is resolved (symlinks and `..` included) before it is compared, so nothing outside
//! the roots is ever opened.

use std::path::{Path, PathBuf};

/// Canonical directories a path must resolve into.
#[derive(Debug, Clone, Default)]
pub struct AllowedRoots {
    roots: Vec<PathBuf>,
}

/// A path the server will not touch, with the reason in words the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("`{0}` is not an absolute path: give the full path, e.g. /home/me/Pictures/photo.png")]
    NotAbsolute(String),
    #[error("`{0}` is not an absolute path: give the full path of a folder, e.g. /home/me/Pictures/seedream")]
    NotAbsoluteDir(String),
    #[error("`{path}` does not exist or cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "`{path}` is outside the directories this server may use ({roots}); move the file there or add its \
         directory to SEEDREAM_ALLOWED_DIRS"
    )]
    OutsideRoots { path: String, roots: String },
}

impl AllowedRoots {
    /// Keeps the roots that exist, resolved; the others cannot contain anything yet.
    pub fn new(roots: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut resolved: Vec<PathBuf> = roots
            .into_iter()
            .filter_map(|r| r.canonicalize().ok())
            .collect();
        resolved.sort();
        resolved.dedup();
        AllowedRoots { roots: resolved }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Resolves an existing path and checks it lies inside a root.
    pub fn resolve_existing(&self, path: &Path) -> Result<PathBuf, PathError> {
        if !path.is_absolute() {
            return Err(PathError::NotAbsolute(path.display().to_string()));
        }
        match path.canonicalize() {
            Ok(real) => {
                self.check(path, &real)?;
                Ok(real)
            }
            Err(e) => {
                // Whether a file outside the roots exists is not the caller's business: judge a
                // missing path by its nearest existing ancestor before saying it is missing.
                self.check(path, &real_nearest_ancestor(path))?;
                Err(PathError::Unreadable {
                    path: path.display().to_string(),
                    reason: e.kind().to_string(),
                })
            }
        }
    }

    /// Resolves a directory to write into, creating it when its nearest existing ancestor is
    /// inside a root (checked before anything is created).
    pub fn resolve_dir_for_writing(&self, dir: &Path) -> Result<PathBuf, PathError> {
        if !dir.is_absolute() {
            return Err(PathError::NotAbsoluteDir(dir.display().to_string()));
        }
        if dir
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(PathError::OutsideRoots {
                path: dir.display().to_string(),
                roots: self.describe(),
            });
        }
        let mut existing = dir;
        while !existing.exists() {
            existing = existing.parent().unwrap_or(Path::new("/"));
        }
        let real_ancestor = existing.canonicalize().map_err(|e| PathError::Unreadable {
            path: existing.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        self.check(dir, &real_ancestor)?;
        std::fs::create_dir_all(dir).map_err(|e| PathError::Unreadable {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let real = dir.canonicalize().map_err(|e| PathError::Unreadable {
            path: dir.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        self.check(dir, &real)?;
        Ok(real)
    }

    fn check(&self, shown: &Path, real: &Path) -> Result<(), PathError> {
        if self.roots.iter().any(|root| real.starts_with(root)) {
            Ok(())
        } else {
            Err(PathError::OutsideRoots {
                path: shown.display().to_string(),
                roots: self.describe(),
            })
        }
    }

    fn describe(&self) -> String {
        if self.roots.is_empty() {
            return "none configured".to_owned();
        }
        self.roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The resolved form of the deepest ancestor of `path` that exists (`/` at worst).
fn real_nearest_ancestor(path: &Path) -> PathBuf {
    path.ancestors()
        .skip(1)
        .find_map(|a| a.canonicalize().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_inside_a_root_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, b"x").unwrap();
        let roots = AllowedRoots::new([dir.path().to_path_buf()]);
        assert_eq!(
            roots.resolve_existing(&file).unwrap(),
            file.canonicalize().unwrap()
        );
    }

    #[test]
    fn a_missing_path_outside_the_roots_is_refused_without_saying_whether_it_exists() {
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);
        let deep_dotdot = root.path().join("../".repeat(40)).join("no/such/file.png");
        assert!(matches!(
            roots.resolve_existing(&deep_dotdot),
            Err(PathError::OutsideRoots { .. })
        ));
        assert!(matches!(
            roots.resolve_existing(&root.path().join("missing.png")),
            Err(PathError::Unreadable { .. })
        ));
    }

    #[test]
    fn dot_dot_and_symlinks_that_escape_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret.png");
        std::fs::write(&secret, b"x").unwrap();
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);

        let dotdot = root
            .path()
            .join("..")
            .join(outside.path().file_name().unwrap())
            .join("secret.png");
        assert!(matches!(
            roots.resolve_existing(&dotdot),
            Err(PathError::OutsideRoots { .. })
        ));
        let link = root.path().join("link.png");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert!(matches!(
            roots.resolve_existing(&link),
            Err(PathError::OutsideRoots { .. })
        ));
        assert!(matches!(
            roots.resolve_existing(Path::new("/etc/passwd")),
            Err(PathError::OutsideRoots { .. })
        ));
    }

    #[test]
    fn relative_paths_are_refused() {
        let roots = AllowedRoots::new([std::env::temp_dir()]);
        assert!(matches!(
            roots.resolve_existing(Path::new("a.png")),
            Err(PathError::NotAbsolute(_))
        ));
    }

    #[test]
    fn output_directories_are_created_only_inside_a_root() {
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);
        let inside = root.path().join("sub/dir");
        assert!(
            roots
                .resolve_dir_for_writing(&inside)
                .unwrap()
                .ends_with("sub/dir")
        );
        let escape = root.path().join("../escaped-by-test");
        assert!(roots.resolve_dir_for_writing(&escape).is_err());
        assert!(
            !root
                .path()
                .parent()
                .unwrap()
                .join("escaped-by-test")
                .exists()
        );
        assert!(
            roots
                .resolve_dir_for_writing(Path::new("/seedream-mcp-test-outside"))
                .is_err()
        );
        assert!(!Path::new("/seedream-mcp-test-outside").exists());
    }
}

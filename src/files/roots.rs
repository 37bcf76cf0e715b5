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
        let real = path.canonicalize().map_err(|e| PathError::Unreadable {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        self.check(path, &real)?;
        Ok(real)
    }

    /// Resolves a directory to write into, creating it when its nearest existing ancestor is
    /// inside a root (checked before anything is created).
    pub fn resolve_dir_for_writing(&self, dir: &Path) -> Result<PathBuf, PathError> {
        if !dir.is_absolute() {
            return Err(PathError::NotAbsolute(dir.display().to_string()));
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

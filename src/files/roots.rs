//! The directories the server may read reference images from and write images to. Every
//! path is resolved (symlinks and `..` included) before it is compared, so nothing outside
//! the roots is ever opened.

use std::path::{Component, Path, PathBuf};

use super::output_dir::OutputDir;

/// Deepest `output_dir` accepted, in path components: far more than any real folder tree,
/// and a bound on the work one call can ask for (1,500 levels were accepted and created).
pub const MAX_DIR_DEPTH: usize = 64;
/// Longest `output_dir` accepted, in bytes (under every platform's PATH_MAX).
pub const MAX_DIR_BYTES: usize = 1024;

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
    #[error(
        "`{0}` is not an absolute path: give the full path of a folder, e.g. /home/me/Pictures/seedream"
    )]
    NotAbsoluteDir(String),
    #[error("`{path}` does not exist or cannot be read: {reason}")]
    Unreadable { path: String, reason: String },
    #[error(
        "`{path}` is outside the directories this server may use ({roots}); move the file there or add its \
         directory to SEEDREAM_ALLOWED_DIRS"
    )]
    OutsideRoots { path: String, roots: String },
    #[error(
        "`{path}…` is {depth} folders and {bytes} bytes long; at most {MAX_DIR_DEPTH} folders and \
         {MAX_DIR_BYTES} bytes are accepted: choose a shallower folder"
    )]
    TooDeep {
        path: String,
        depth: usize,
        bytes: usize,
    },
    #[error("`{0}` is not a folder: give a folder to save into, e.g. /home/me/Pictures/seedream")]
    NotAFolder(String),
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

    /// Checks a folder to write into without creating anything: it must be absolute, not too
    /// deep, and its nearest existing ancestor must resolve inside a root. The folder is made
    /// and opened only when images are written, from that root (see [`OutputDir`]).
    pub fn check_dir_for_writing(&self, dir: &Path) -> Result<OutputDir, PathError> {
        if !dir.is_absolute() {
            return Err(PathError::NotAbsoluteDir(dir.display().to_string()));
        }
        let depth = dir.components().count();
        let bytes = dir.as_os_str().len();
        if depth > MAX_DIR_DEPTH || bytes > MAX_DIR_BYTES {
            return Err(PathError::TooDeep {
                path: dir.display().to_string().chars().take(80).collect(),
                depth,
                bytes,
            });
        }
        if dir.components().any(|c| matches!(c, Component::ParentDir)) {
            return Err(PathError::OutsideRoots {
                path: dir.display().to_string(),
                roots: self.describe(),
            });
        }
        let existing = dir
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"));
        let real_ancestor = existing.canonicalize().map_err(|e| PathError::Unreadable {
            path: existing.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        self.check(dir, &real_ancestor)?;
        if !real_ancestor.is_dir() {
            return Err(PathError::NotAFolder(existing.display().to_string()));
        }
        let root = self
            .roots
            .iter()
            .filter(|root| real_ancestor.starts_with(root))
            .max_by_key(|root| root.components().count())
            .ok_or_else(|| PathError::OutsideRoots {
                path: dir.display().to_string(),
                roots: self.describe(),
            })?;
        let missing = dir.strip_prefix(existing).unwrap_or(Path::new(""));
        let below = real_ancestor
            .strip_prefix(root)
            .unwrap_or(Path::new(""))
            .components()
            .chain(missing.components())
            .filter_map(|c| match c {
                Component::Normal(name) => Some(name.to_os_string()),
                _ => None,
            })
            .collect();
        Ok(OutputDir::under(root.clone(), below))
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
    fn output_directories_are_checked_inside_a_root_and_nothing_is_created() {
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);
        let inside = root.path().join("sub/dir");
        let checked = roots.check_dir_for_writing(&inside).unwrap();
        assert_eq!(
            checked.path(),
            root.path().canonicalize().unwrap().join("sub/dir")
        );
        assert!(!root.path().join("sub").exists());
        let escape = root.path().join("../escaped-by-test");
        assert!(roots.check_dir_for_writing(&escape).is_err());
        assert!(
            roots
                .check_dir_for_writing(Path::new("/seedream-mcp-test-outside"))
                .is_err()
        );
        assert!(!Path::new("/seedream-mcp-test-outside").exists());
    }

    #[test]
    fn a_1500_level_deep_output_dir_is_refused_with_the_limit_named() {
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);
        let deep = root.path().join("d/".repeat(1500));
        let e = roots.check_dir_for_writing(&deep).unwrap_err();
        assert!(matches!(e, PathError::TooDeep { .. }), "{e}");
        assert!(e.to_string().contains("at most 64 folders"), "{e}");
        assert!(!root.path().join("d").exists());
        let fine = root.path().join("a/b/c");
        assert!(roots.check_dir_for_writing(&fine).is_ok());
    }

    #[test]
    fn a_symlinked_folder_is_checked_by_where_it_leads() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let roots = AllowedRoots::new([root.path().to_path_buf()]);
        std::os::unix::fs::symlink(outside.path(), root.path().join("away")).unwrap();
        assert!(matches!(
            roots.check_dir_for_writing(&root.path().join("away/pics")),
            Err(PathError::OutsideRoots { .. })
        ));
    }
}

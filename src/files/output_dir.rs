//! A folder to save into, checked when a call is accepted but created and opened only when its
//! images are written, one level at a time from an already-open root without following
//! symlinks. A symlink swapped into the path during a generation (which takes long enough to
//! race) then makes the write fail instead of landing outside the allowed folders.
//!
//! Done with `openat`-style calls through `rustix` (already in the tree for `tempfile`) rather
//! than `cap-std`, which would bring a dozen crates for the four calls needed here.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// Where one call's images are saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputDir {
    /// Opened as it is: an allowed root or the operator's default folder, both resolved at
    /// start.
    root: PathBuf,
    /// Folders below `root`, each created if missing and opened without following symlinks.
    below: Vec<OsString>,
}

impl OutputDir {
    /// A folder the operator configured, used as it is.
    pub fn trusted(dir: PathBuf) -> Self {
        OutputDir {
            root: dir,
            below: Vec::new(),
        }
    }

    /// `below` (plain folder names) under `root`.
    pub(crate) fn under(root: PathBuf, below: Vec<OsString>) -> Self {
        OutputDir { root, below }
    }

    /// The folder's path, as it is reported to the caller.
    pub fn path(&self) -> PathBuf {
        self.below.iter().fold(self.root.clone(), |p, c| p.join(c))
    }

    /// Shown as its path (the name delivery code gives a folder's display form).
    pub fn display(&self) -> &Self {
        self
    }

    /// The root it is opened from, for the re-check where `openat` is missing.
    #[cfg(not(unix))]
    pub(crate) fn root(&self) -> &std::path::Path {
        &self.root
    }
}

impl std::fmt::Display for OutputDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.path().display().fmt(f)
    }
}

#[cfg(unix)]
mod imp {
    use std::os::fd::OwnedFd;

    use rustix::fs::{AtFlags, Mode, OFlags};
    use rustix::io::Errno;

    use super::*;

    const DIR_FLAGS: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);

    /// Opens the folder, creating what is missing below the root; any symlink below the root
    /// is refused (`ELOOP`/`ENOTDIR`), so the result is the folder that was checked.
    pub(super) fn open(dir: &OutputDir) -> std::io::Result<OwnedFd> {
        let mut fd = rustix::fs::open(
            &dir.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        for name in &dir.below {
            match rustix::fs::mkdirat(&fd, name.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(e.into()),
            }
            fd = rustix::fs::openat(&fd, name.as_os_str(), DIR_FLAGS, Mode::empty()).map_err(
                |e| match e {
                    Errno::LOOP | Errno::NOTDIR => std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!(
                            "`{}` is no longer a plain folder (a symlink or file took its place)",
                            name.to_string_lossy()
                        ),
                    ),
                    other => other.into(),
                },
            )?;
        }
        Ok(fd)
    }

    /// Writes `bytes` to a new temporary file in `dir` and links it under the first free name
    /// of `names`, all relative to the open folder. Returns the name used.
    pub(super) fn write_unique(
        dir: &OwnedFd,
        tmp: &str,
        names: impl Iterator<Item = String>,
        parts: &[&[u8]],
    ) -> std::io::Result<String> {
        let file = rustix::fs::openat(
            dir,
            tmp,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )?;
        let mut file = std::fs::File::from(file);
        let result = (|| {
            for part in parts {
                file.write_all(part)?;
            }
            file.sync_all()?;
            drop(file);
            for name in names {
                match rustix::fs::linkat(dir, tmp, dir, name.as_str(), AtFlags::empty()) {
                    Ok(()) => return Ok(name),
                    Err(Errno::EXIST) => continue,
                    // Filesystems without hard links: a rename is still atomic, only the
                    // free-name check is racy.
                    Err(_)
                        if matches!(
                            rustix::fs::statat(dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW),
                            Err(Errno::NOENT)
                        ) =>
                    {
                        rustix::fs::renameat(dir, tmp, dir, name.as_str())?;
                        return Ok(name);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "no free file name",
            ))
        })();
        // The temporary name goes whatever happened; on success the data lives on under the
        // final name.
        let _ = rustix::fs::unlinkat(dir, tmp, AtFlags::empty());
        result
    }
}

/// Writes `bytes` as `dir/stem.ext`, or the first free `dir/stem-N.ext`, relative to the
/// folder opened at this moment. Returns the path.
#[cfg(unix)]
pub fn write_unique(
    dir: &OutputDir,
    stem: &str,
    ext: &str,
    parts: &[&[u8]],
) -> std::io::Result<PathBuf> {
    let tmp = format!(".{stem}.{}.partial", fastrand::u64(..));
    let names = (1..10_000u32).map(|n| {
        if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        }
    });
    let fd = imp::open(dir)?;
    let name = imp::write_unique(&fd, &tmp, names, parts)?;
    Ok(dir.path().join(name))
}

//! Atomic, collision-free writes: bytes go to a temporary file in the target directory, which
//! is then linked under the final name only if that name is free. A crash never leaves a
//! half-written image under a final name, and two calls never overwrite each other.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::output_dir::OutputDir;

/// Writes `parts` one after the other (a file with metadata spliced in, never copied whole)
/// into `dir` (opened now, see [`OutputDir`]) as `stem.ext`, or `stem-2.ext`, `-3`… if taken.
/// Returns the path.
pub fn write_unique(
    dir: &OutputDir,
    stem: &str,
    ext: &str,
    parts: &[&[u8]],
) -> std::io::Result<PathBuf> {
    #[cfg(unix)]
    {
        super::output_dir::write_unique(dir, stem, ext, parts)
    }
    #[cfg(not(unix))]
    {
        // Without openat the folder is created and checked again right before writing: the
        // race window is that of one write, not of a whole generation.
        let path = dir.path();
        std::fs::create_dir_all(&path)?;
        let real = path.canonicalize()?;
        if !real.starts_with(dir.root()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the folder now resolves outside the allowed folders",
            ));
        }
        write_unique_in(&real, stem, ext, parts)
    }
}

/// [`write_unique`] by path, for platforms without `openat`.
#[cfg_attr(
    unix,
    allow(dead_code, reason = "the fallback where openat is missing")
)]
fn write_unique_in(dir: &Path, stem: &str, ext: &str, parts: &[&[u8]]) -> std::io::Result<PathBuf> {
    let tmp = dir.join(format!(".{stem}.{}.partial", fastrand::u64(..)));
    let result = write_then_link(&tmp, dir, stem, ext, parts);
    // The temporary name is removed whatever happened; on success the data lives on under the final name.
    let _ = std::fs::remove_file(&tmp);
    result
}

fn write_then_link(
    tmp: &Path,
    dir: &Path,
    stem: &str,
    ext: &str,
    parts: &[&[u8]],
) -> std::io::Result<PathBuf> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)?;
    for part in parts {
        file.write_all(part)?;
    }
    file.sync_all()?;
    drop(file);
    for n in 1..10_000u32 {
        let name = if n == 1 {
            format!("{stem}.{ext}")
        } else {
            format!("{stem}-{n}.{ext}")
        };
        let target = dir.join(name);
        match std::fs::hard_link(tmp, &target) {
            Ok(()) => return Ok(target),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // Filesystems without hard links: a rename is still atomic, only the free-name check is racy.
            Err(_) if !target.exists() => {
                std::fs::rename(tmp, &target)?;
                return Ok(target);
            }
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        format!("no free file name for {stem}.{ext}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_unique(dir: &Path, stem: &str, ext: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
        super::write_unique(&OutputDir::trusted(dir.to_path_buf()), stem, ext, &[bytes])
    }

    #[test]
    fn a_taken_name_gets_a_numbered_suffix_and_nothing_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_unique(dir.path(), "fox", "jpeg", b"one").unwrap();
        let b = write_unique(dir.path(), "fox", "jpeg", b"two").unwrap();
        assert_eq!(a.file_name().unwrap(), "fox.jpeg");
        assert_eq!(b.file_name().unwrap(), "fox-2.jpeg");
        assert_eq!(std::fs::read(&a).unwrap(), b"one");
        assert_eq!(std::fs::read(&b).unwrap(), b"two");
    }

    #[test]
    fn concurrent_writers_get_distinct_names_and_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|i| {
                    let d = dir.path();
                    s.spawn(move || {
                        write_unique(d, "same", "png", format!("{i}").as_bytes()).unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut unique = paths.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 16);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 16, "{names:?}");
        assert!(names.iter().all(|n| !n.ends_with(".partial")));
    }

    #[test]
    fn a_directory_that_cannot_hold_files_fails_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, b"x").unwrap();
        assert!(write_unique(&not_a_dir, "fox", "jpeg", b"x").is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

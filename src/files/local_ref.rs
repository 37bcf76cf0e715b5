//! Reading a reference image from the local disk: an absolute path, `~/…` or a `file://` URI,
//! confined to the allowed roots and refused unless the bytes are an image.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::roots::{AllowedRoots, PathError};
use seedream::ImageFormat;

/// Largest local file read; bigger files cannot be made to fit the upstream limits anyway.
pub const MAX_LOCAL_BYTES: u64 = 100 * 1024 * 1024;

/// A local reference that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalRefError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("`{0}` is not a regular file")]
    NotAFile(String),
    #[error(
        "`{path}` is {size} bytes; local reference images are read up to {MAX_LOCAL_BYTES} bytes"
    )]
    TooLarge { path: String, size: u64 },
    #[error("`{0}` is not an image in a supported format (jpeg, png, webp, bmp, tiff, gif)")]
    NotAnImage(String),
    #[error("cannot read `{path}`: {reason}")]
    Io { path: String, reason: String },
    #[error("`{0}` is not a valid file URI: use file:///absolute/path/photo.png")]
    BadUri(String),
}

/// Whether `raw` names a local file rather than a URL or data URI.
pub fn is_local(raw: &str) -> bool {
    let s = raw.trim_start();
    s.starts_with('/')
        || s.starts_with("~/")
        || s.get(..7)
            .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
}

/// Turns `raw` into an absolute path (`~` expanded, `file://` decoded).
pub fn to_path(raw: &str, home: Option<&Path>) -> Result<PathBuf, LocalRefError> {
    let s = raw.trim();
    if s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
    {
        let rest = s.get(7..).unwrap_or("");
        let path = rest.strip_prefix("localhost").unwrap_or(rest);
        if !path.starts_with('/') {
            return Err(LocalRefError::BadUri(s.to_owned()));
        }
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| LocalRefError::BadUri(s.to_owned()))?;
        return Ok(PathBuf::from(decoded.as_ref()));
    }
    if let Some(rest) = s.strip_prefix("~/") {
        return match home {
            Some(h) => Ok(h.join(rest)),
            None => Err(LocalRefError::Path(PathError::NotAbsolute(s.to_owned()))),
        };
    }
    Ok(PathBuf::from(s))
}

/// Reads an image inside the roots. Nothing is opened before the path is confirmed inside.
pub fn read(path: &Path, roots: &AllowedRoots) -> Result<(Vec<u8>, ImageFormat), LocalRefError> {
    let shown = path.display().to_string();
    let real = roots.resolve_existing(path)?;
    let meta = std::fs::metadata(&real).map_err(|e| LocalRefError::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(LocalRefError::NotAFile(shown));
    }
    if meta.len() > MAX_LOCAL_BYTES {
        return Err(LocalRefError::TooLarge {
            path: shown,
            size: meta.len(),
        });
    }
    let mut file = std::fs::File::open(&real).map_err(|e| LocalRefError::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    // Sniff the first bytes before reading the rest, so a large non-image is refused cheaply.
    let mut head = [0u8; 16];
    let n = read_up_to(&mut file, &mut head).map_err(|e| LocalRefError::Io {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let format = ImageFormat::sniff(head.get(..n).unwrap_or_default())
        .ok_or_else(|| LocalRefError::NotAnImage(shown.clone()))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    bytes.extend_from_slice(head.get(..n).unwrap_or_default());
    file.read_to_end(&mut bytes)
        .map_err(|e| LocalRefError::Io {
            path: shown,
            reason: e.to_string(),
        })?;
    Ok((bytes, format))
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(buf.get_mut(filled..).unwrap_or_default())? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn file_uris_and_home_paths_become_absolute_paths() {
        assert_eq!(
            to_path("file:///tmp/a%20b.png", None).unwrap(),
            PathBuf::from("/tmp/a b.png")
        );
        assert_eq!(
            to_path("file://localhost/tmp/x.png", None).unwrap(),
            PathBuf::from("/tmp/x.png")
        );
        assert_eq!(
            to_path("~/x.png", Some(Path::new("/home/me"))).unwrap(),
            PathBuf::from("/home/me/x.png")
        );
        assert!(to_path("file://server/share/x.png", None).is_err());
        assert!(
            is_local("/tmp/x.png")
                && is_local("FILE:///x")
                && is_local("~/x")
                && !is_local("https://x")
        );
    }

    #[test]
    fn an_image_inside_the_roots_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.png");
        std::fs::write(&file, PNG_MAGIC).unwrap();
        let roots = AllowedRoots::new([dir.path().to_path_buf()]);
        let (bytes, format) = read(&file, &roots).unwrap();
        assert_eq!((bytes.as_slice(), format), (PNG_MAGIC, ImageFormat::Png));
    }

    #[test]
    fn non_images_directories_and_outside_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, b"hello, this is not an image").unwrap();
        let roots = AllowedRoots::new([dir.path().to_path_buf()]);
        assert!(matches!(
            read(&text, &roots),
            Err(LocalRefError::NotAnImage(_))
        ));
        assert!(matches!(
            read(dir.path(), &roots),
            Err(LocalRefError::NotAFile(_))
        ));
        assert!(matches!(
            read(Path::new("/etc/passwd"), &roots),
            Err(LocalRefError::Path(PathError::OutsideRoots { .. }))
        ));
    }
}

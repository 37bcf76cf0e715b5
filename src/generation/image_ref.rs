//! A reference image as a caller names it, told apart once where it enters the server: a
//! local file, a data URI, or anything else (a URL), which goes upstream as given.

use std::path::{Path, PathBuf};

use seedream::DataUri;

use crate::files::local_ref::{self, LocalRefError};

/// One reference image.
#[derive(Clone, PartialEq, Eq)]
pub enum ImageRef {
    /// An http(s) URL, or anything else that is neither a path nor a data URI: sent as given,
    /// for the upstream rules to accept or phrase the problem.
    Url(String),
    /// A `data:` URI. `bytes` is `None` when it is not base64 or does not decode; it is then
    /// sent as given, for the upstream rules to phrase the problem.
    Data { uri: String, bytes: Option<Vec<u8>> },
    /// A local file (from an absolute path, `~/…` or a `file://` URI), not yet read.
    Local(PathBuf),
}

impl std::fmt::Debug for ImageRef {
    // Never the data: a log line must not carry megabytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageRef::Url(url) => f.debug_tuple("Url").field(url).finish(),
            ImageRef::Data { uri, bytes } => f
                .debug_struct("Data")
                .field("uri_chars", &uri.len())
                .field("bytes", &bytes.as_ref().map(Vec::len))
                .finish(),
            ImageRef::Local(path) => f.debug_tuple("Local").field(path).finish(),
        }
    }
}

impl ImageRef {
    /// Reads a reference as a tool argument gives it; `~` is the server's home folder.
    pub fn parse(raw: String) -> Result<ImageRef, LocalRefError> {
        ImageRef::parse_with_home(raw, dirs::home_dir().as_deref())
    }

    /// [`ImageRef::parse`] with the given home folder.
    pub fn parse_with_home(raw: String, home: Option<&Path>) -> Result<ImageRef, LocalRefError> {
        if local_ref::is_local(&raw) {
            return local_ref::to_path(&raw, home).map(ImageRef::Local);
        }
        if let Some(decoded) = DataUri::parse(&raw) {
            let bytes = decoded.ok().map(|d| d.bytes);
            return Ok(ImageRef::Data { uri: raw, bytes });
        }
        Ok(ImageRef::Url(raw))
    }

    /// Reads a reference given on the command line, where a relative path (anything else
    /// without a scheme) is relative to the folder the command was run from.
    pub fn from_command_line(raw: &str, cwd: &Path) -> Result<ImageRef, LocalRefError> {
        Ok(match ImageRef::parse(raw.to_owned())? {
            ImageRef::Url(relative) if !relative.contains("://") => {
                ImageRef::Local(cwd.join(relative.trim()))
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> ImageRef {
        ImageRef::parse_with_home(raw.to_owned(), Some(Path::new("/home/me"))).unwrap()
    }

    #[test]
    fn each_kind_of_reference_is_told_apart_once() {
        assert_eq!(
            parse("https://x.example/a.png"),
            ImageRef::Url("https://x.example/a.png".into())
        );
        assert_eq!(parse("~/a.png"), ImageRef::Local("/home/me/a.png".into()));
        assert_eq!(
            parse("FILE:///tmp/a%20b.png"),
            ImageRef::Local("/tmp/a b.png".into())
        );
        assert_eq!(
            parse("data:image/png;base64,aGk="),
            ImageRef::Data {
                uri: "data:image/png;base64,aGk=".into(),
                bytes: Some(b"hi".to_vec())
            }
        );
    }

    #[test]
    fn a_data_uri_that_does_not_decode_is_kept_for_the_upstream_rules() {
        for raw in ["data:image/png,hi", "data:image/png;base64,%%%"] {
            assert_eq!(
                parse(raw),
                ImageRef::Data {
                    uri: raw.into(),
                    bytes: None
                }
            );
        }
    }

    #[test]
    fn a_relative_path_on_the_command_line_is_relative_to_the_working_folder() {
        let cwd = Path::new("/work");
        assert_eq!(
            ImageRef::from_command_line("./a.png", cwd).unwrap(),
            ImageRef::Local("/work/./a.png".into())
        );
        assert_eq!(
            ImageRef::from_command_line("https://x/a.png", cwd).unwrap(),
            ImageRef::Url("https://x/a.png".into())
        );
    }

    #[test]
    fn a_file_uri_naming_another_host_is_refused() {
        assert!(ImageRef::parse_with_home("file://server/x.png".into(), None).is_err());
    }
}

//! Where a call's images go, checked before anything is generated so a bad `output_dir` or
//! `filename` costs nothing.

use std::path::{Path, PathBuf};

use super::embed::EmbedMode;
use crate::config::DeliverySettings;
use crate::files::{AllowedRoots, OutputDir, naming};
use seedream::DownloadPolicy;

/// Server-wide delivery settings.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Save images to disk (off for remote HTTP callers, who cannot read the server's files).
    pub save: bool,
    /// Why saving was turned off at start, told in every result.
    pub save_problem: Option<String>,
    /// Absolute default folder for saved images.
    pub output_dir: PathBuf,
    /// Where reference images may be read from and `output_dir` may point to.
    pub roots: AllowedRoots,
    /// Long edge of embedded previews.
    pub preview_max_edge: u32,
    /// Long edge above which a full-resolution image is never embedded (the Claude API downsizes past 1568 px).
    pub full_max_edge: u32,
    /// Total base64 bytes of all embedded images in one result.
    pub budget_b64_bytes: usize,
    pub download: DownloadPolicy,
}

/// Where one call's images go.
#[derive(Debug, Clone)]
pub struct Destination {
    /// `None` when saving is off. Created and opened only when images are written.
    pub dir: Option<OutputDir>,
    pub filename: Option<String>,
    pub embed: EmbedMode,
}

/// A per-call delivery option that cannot be honoured; `param` names the argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{param}`: {message}")]
pub struct DestinationError {
    pub param: &'static str,
    pub message: String,
}

impl DeliveryConfig {
    /// Creates the output folder (when saving) and resolves the allowed roots; run once at start.
    ///
    /// A folder that cannot be created does not stop the server (an assistant would only see
    /// it fail to start): saving is turned off and every result says why.
    pub fn new(settings: DeliverySettings) -> DeliveryConfig {
        let mut save = settings.save;
        let mut save_problem = None;
        if save && let Err(e) = std::fs::create_dir_all(&settings.output_dir) {
            let problem = format!(
                "images are not being saved: the output folder {} cannot be created ({e}); set SEEDREAM_OUTPUT_DIR \
                 to a writable folder",
                settings.output_dir.display()
            );
            tracing::warn!("{problem}");
            save = false;
            save_problem = Some(problem);
        }
        let output_dir = settings
            .output_dir
            .canonicalize()
            .unwrap_or(settings.output_dir);
        DeliveryConfig {
            save,
            save_problem,
            roots: AllowedRoots::new(settings.allowed_dirs),
            output_dir,
            preview_max_edge: settings.preview_max_edge,
            full_max_edge: 1568,
            budget_b64_bytes: settings.budget_b64_bytes,
            download: settings.download,
        }
    }

    /// Checks the call's `filename` and `output_dir` and resolves the folder.
    pub fn destination(
        &self,
        filename: Option<&str>,
        output_dir: Option<&str>,
        embed: EmbedMode,
    ) -> Result<Destination, DestinationError> {
        if !self.save && (filename.is_some() || output_dir.is_some()) {
            return Err(DestinationError {
                param: if output_dir.is_some() { "output_dir" } else { "filename" },
                message: match &self.save_problem {
                    Some(problem) => format!("{problem}; leave out output_dir and filename meanwhile"),
                    None => "this server does not save images (SEEDREAM_SAVE=false); leave out output_dir and filename \
                             and use the returned URLs"
                        .to_owned(),
                },
            });
        }
        let filename = filename
            .map(naming::check_filename)
            .transpose()
            .map_err(|e| DestinationError {
                param: "filename",
                message: e.to_string(),
            })?;
        if !self.save {
            return Ok(Destination {
                dir: None,
                filename,
                embed,
            });
        }
        let dir = match output_dir {
            None => OutputDir::trusted(self.output_dir.clone()),
            Some(raw) => {
                let path = expand_home(raw.trim());
                self.roots
                    .check_dir_for_writing(&path)
                    .map_err(|e| DestinationError {
                        param: "output_dir",
                        message: e.to_string(),
                    })?
            }
        };
        Ok(Destination {
            dir: Some(dir),
            filename,
            embed,
        })
    }
}

fn expand_home(raw: &str) -> PathBuf {
    match (raw.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => Path::new(raw).to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(root: &Path, save: bool) -> DeliveryConfig {
        DeliveryConfig {
            save,
            save_problem: None,
            output_dir: root.join("out"),
            roots: AllowedRoots::new([root.to_path_buf()]),
            preview_max_edge: 1024,
            full_max_edge: 1568,
            budget_b64_bytes: 700_000,
            download: DownloadPolicy::default(),
        }
    }

    #[test]
    fn output_dir_must_stay_inside_the_roots() {
        let root = tempfile::tempdir().unwrap();
        let c = config(root.path(), true);
        let inside = root.path().join("cats");
        let t = c
            .destination(None, Some(inside.to_str().unwrap()), EmbedMode::Preview)
            .unwrap();
        assert!(t.dir.unwrap().path().ends_with("cats"));
        for bad in [
            "/etc",
            "relative/dir",
            &format!("{}/../x", root.path().display()),
        ] {
            let e = c
                .destination(None, Some(bad), EmbedMode::Preview)
                .unwrap_err();
            assert_eq!(e.param, "output_dir", "{bad}");
        }
    }

    #[test]
    fn a_relative_output_dir_is_told_to_give_a_folder_not_a_file() {
        let root = tempfile::tempdir().unwrap();
        let e = config(root.path(), true)
            .destination(None, Some("images/out"), EmbedMode::Preview)
            .unwrap_err();
        assert!(e.message.contains("not an absolute path"), "{e}");
        assert!(e.message.contains("folder"), "{e}");
        assert!(!e.message.contains(".png"), "{e}");
    }

    #[test]
    fn filenames_are_checked_before_generation() {
        let root = tempfile::tempdir().unwrap();
        let e = config(root.path(), true)
            .destination(Some("../../x"), None, EmbedMode::Preview)
            .unwrap_err();
        assert_eq!(e.param, "filename");
    }

    #[test]
    fn with_saving_off_nothing_is_written_and_file_options_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let c = config(root.path(), false);
        assert!(
            c.destination(None, None, EmbedMode::Preview)
                .unwrap()
                .dir
                .is_none()
        );
        assert!(
            c.destination(Some("fox"), None, EmbedMode::Preview)
                .unwrap_err()
                .message
                .contains("SEEDREAM_SAVE")
        );
    }
}

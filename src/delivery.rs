//! Getting generated images to the caller: download (or decode), save atomically under a
//! readable name, and pick what to embed so the whole result fits the client's limits.
//! Knows nothing about MCP content types; the tools render what this returns.

mod embed;
mod target;

use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;

pub use embed::{EmbedMode, Embedded};
pub use target::{CallTarget, DeliveryConfig};

use crate::advice;
use crate::files::{naming, save};
use seedream::{Client, DownloadError, ImageFormat, ImageItem};

/// Downloads of one call in flight at once.
pub const MAX_CONCURRENT_DOWNLOADS: usize = 4;

/// One generated image after delivery.
#[derive(Debug, Clone)]
pub struct DeliveredImage {
    /// 1-based position in the upstream's answer.
    pub index: usize,
    pub url: Option<String>,
    /// As reported upstream, e.g. `2048x2048`.
    pub size: Option<String>,
    pub format: Option<ImageFormat>,
    /// Size of the full image in bytes, when it was fetched.
    pub bytes: Option<usize>,
    pub path: Option<PathBuf>,
    /// Why the image could not be fetched or saved; the URL (if any) is still valid to use.
    pub problem: Option<String>,
    pub embedded: Option<Embedded>,
    /// Where the server keeps the full image when nothing else holds it.
    pub kept: Option<Kept>,
}

/// A full image kept by the server with the call's job.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The resource it is read from.
    pub uri: String,
    pub job_id: String,
    /// How long it is kept after the call finished.
    pub minutes: u64,
}

/// Everything delivered for one call, plus what the caller should know.
#[derive(Clone, Default)]
pub struct Delivery {
    pub images: Vec<DeliveredImage>,
    pub notes: Vec<String>,
    /// The full bytes of images that no URL, saved file or full-size embed holds (a base64
    /// answer with saving off), by position in `images`: the caller must keep them, or they are
    /// lost though paid for.
    pub unheld: Vec<(usize, Vec<u8>)>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("images", &self.images)
            .field("notes", &self.notes)
            .field(
                "unheld",
                &self
                    .unheld
                    .iter()
                    .map(|(p, b)| (p, b.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Fetches, saves and selects embeds for the successful items of `items`.
pub async fn deliver(
    client: &Client,
    config: &DeliveryConfig,
    target: &CallTarget,
    prompt: &str,
    items: &[ImageItem],
) -> Delivery {
    let count = items
        .iter()
        .filter(|i| matches!(i, ImageItem::Url { .. } | ImageItem::B64 { .. }))
        .count();
    let needs_bytes = target.dir.is_some() || target.embed != EmbedMode::None;
    let now = SystemTime::now();

    let fetches: Vec<_> = items.iter().enumerate().filter_map(|(i, item)| {
        let (url, size, b64) = match item {
            ImageItem::Url { url, size } => (Some(url.clone()), size.clone(), None),
            ImageItem::B64 { b64_json, size } => (None, size.clone(), Some(b64_json.as_str())),
            _ => return None,
        };
        Some(async move {
            let mut image = DeliveredImage {
                index: i + 1,
                url: url.clone(),
                size,
                format: None,
                bytes: None,
                path: None,
                problem: None,
                embedded: None,
                kept: None,
            };
            // Base64 data is always decoded: with no URL, the bytes are the only copy.
            if !needs_bytes && b64.is_none() {
                return (image, None);
            }
            let fetched = match (b64, &url) {
                (Some(data), _) => STANDARD
                    .decode(data)
                    .map_err(|e| format!("the embedded image data is not valid base64: {e}")),
                (None, Some(u)) => client
                    .download(u, &config.download)
                    .await
                    .map_err(|e: DownloadError| advice::download_failed(&e)),
                (None, None) => Err("no image data".to_owned()),
            };
            match fetched {
                Ok(bytes) => {
                    image.format = ImageFormat::sniff(&bytes);
                    image.bytes = Some(bytes.len());
                    if image.format.is_none() {
                        image.problem = Some(
                            "the downloaded file is not in an image format this server recognises; the link is \
                             returned as received"
                                .to_owned(),
                        );
                        return (image, None);
                    }
                    (image, Some(bytes))
                }
                Err(problem) => {
                    image.problem = Some(problem);
                    (image, None)
                }
            }
        })
    }).collect();
    // A few at a time, in order: enough to overlap latency, and an answer with many images
    // never opens many connections or holds many images in memory at once.
    let mut fetched: Vec<(DeliveredImage, Option<Vec<u8>>)> = futures_util::stream::iter(fetches)
        .buffered(MAX_CONCURRENT_DOWNLOADS)
        .collect()
        .await;

    // The image bytes move into the blocking tasks and back: never copied, so a call's peak
    // memory stays near the size of its images.
    if let Some(dir) = target.dir.clone() {
        let names: Vec<Option<(String, &'static str)>> = fetched
            .iter()
            .map(|(image, bytes)| {
                let format = image.format.filter(|_| bytes.is_some())?;
                let stem =
                    naming::stem(target.filename.as_deref(), prompt, image.index, count, now);
                Some((
                    stem,
                    if format == ImageFormat::Jpeg {
                        "jpeg"
                    } else {
                        format.subtype()
                    },
                ))
            })
            .collect();
        let mut datas: Vec<Option<Vec<u8>>> = fetched.iter_mut().map(|(_, b)| b.take()).collect();
        let saved = tokio::task::spawn_blocking(move || {
            let results: Vec<Option<std::io::Result<PathBuf>>> = names
                .iter()
                .zip(&datas)
                .map(|(name, data)| match (name, data) {
                    (Some((stem, ext)), Some(data)) => {
                        Some(save::write_unique(&dir, stem, ext, data))
                    }
                    _ => None,
                })
                .collect();
            (results, std::mem::take(&mut datas))
        })
        .await;
        match saved {
            Ok((results, datas)) => {
                for (((image, bytes), result), data) in fetched.iter_mut().zip(results).zip(datas) {
                    *bytes = data;
                    match result {
                        Some(Ok(path)) => image.path = Some(path),
                        Some(Err(e)) => {
                            image.problem =
                                Some(format!("could not save to {}: {e}", dir_text(target)))
                        }
                        None => {}
                    }
                }
            }
            Err(e) => {
                for (image, _) in fetched.iter_mut() {
                    image.problem = Some(format!("could not save: {e}"));
                }
            }
        }
    }

    let mut notes: Vec<String> = config.save_problem.iter().cloned().collect();
    if target.embed != EmbedMode::None {
        let sources: Vec<(usize, Vec<u8>)> = fetched
            .iter_mut()
            .enumerate()
            .filter_map(|(pos, (_, b))| b.take().map(|b| (pos, b)))
            .collect();
        let (budget, max_edge, full_edge, mode) = (
            config.budget_b64_bytes,
            config.preview_max_edge,
            config.full_max_edge,
            target.embed,
        );
        // The bytes come back: an image nothing else holds must be kept by the caller.
        let chosen = tokio::task::spawn_blocking(move || {
            let chosen = embed::choose(&sources, mode, max_edge, full_edge, budget);
            (chosen, sources)
        })
        .await;
        match chosen {
            Ok((choice, sources)) => {
                for (pos, e) in choice.embeds {
                    if let Some((image, _)) = fetched.get_mut(pos) {
                        image.embedded = Some(e);
                    }
                }
                for (pos, why) in choice.unreadable {
                    if let Some((image, _)) = fetched.get_mut(pos) {
                        let kept = match (&image.path, &image.url) {
                            (Some(path), _) => format!(
                                "the file saved to {} and the link are kept as received",
                                path.display()
                            ),
                            (None, Some(_)) => "the link is kept as received".to_owned(),
                            (None, None) => "nothing else of it could be kept".to_owned(),
                        };
                        notes.push(format!(
                            "Image {} could not be shown: the downloaded file could not be read as an image ({why}); {kept}",
                            image.index
                        ));
                    }
                }
                notes.extend(choice.note);
                for (pos, bytes) in sources {
                    if let Some((_, slot)) = fetched.get_mut(pos) {
                        *slot = Some(bytes);
                    }
                }
            }
            Err(e) => notes.push(format!("previews could not be made: {e}")),
        }
    }
    let unheld = fetched
        .iter_mut()
        .enumerate()
        .filter(|(_, (image, _))| !is_held(image))
        .filter_map(|(pos, (_, bytes))| bytes.take().map(|b| (pos, b)))
        .collect();
    Delivery {
        images: fetched.into_iter().map(|(i, _)| i).collect(),
        notes,
        unheld,
    }
}

/// Whether the caller can reach the full image without the server keeping it.
fn is_held(image: &DeliveredImage) -> bool {
    image.url.is_some()
        || image.path.is_some()
        || image.embedded.as_ref().is_some_and(|e| !e.preview)
}

fn dir_text(target: &CallTarget) -> String {
    target
        .dir
        .as_ref()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

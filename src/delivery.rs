//! Getting generated images to the caller: download (or decode), save atomically under a
//! readable name, and pick what to embed so the whole result fits the client's limits.
//! Knows nothing about MCP content types; the tools render what this returns.

mod destination;
mod embed;

use std::path::PathBuf;
use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures_util::StreamExt;

pub use destination::{DeliveryConfig, Destination};
pub use embed::{EmbedMode, Embedded};

use crate::advice;
use crate::files::provenance::{self, Provenance};
use crate::files::{OutputDir, naming, save};
use seedream::{Client, DownloadError, DownloadPolicy, ImageFormat, ImageItem};

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

impl Delivery {
    /// Drops the images nothing holds, for a caller that has no job to keep them in, and says
    /// how to keep them next time.
    pub fn drop_unheld(&mut self) {
        if !std::mem::take(&mut self.unheld).is_empty() {
            self.notes.push(
                "the full images arrived as data and were neither saved nor attached: ask for \
                 `response_format: \"url\"` or enable saving to keep them"
                    .to_owned(),
            );
        }
    }
}

/// An image on its way, with its bytes while a step still needs them.
type Slot = (DeliveredImage, Option<Vec<u8>>);

/// Fetches, saves and selects embeds for the successful items of `items`; saved files are
/// named after `now` and carry `made` (with each image's size and index) as metadata.
pub async fn deliver(
    client: &Client,
    config: &DeliveryConfig,
    destination: &Destination,
    made: &Provenance,
    items: &[ImageItem],
    now: SystemTime,
) -> Delivery {
    let mut slots = fetch_all(client, config, destination, items).await;
    if let Some(dir) = &destination.dir {
        let stems = Stems {
            filename: destination.filename.as_deref(),
            made,
            count: slots.len(),
            now,
        };
        save_all(dir, &stems, &mut slots).await;
    }
    let mut notes: Vec<String> = config.save_problem.iter().cloned().collect();
    if destination.embed != EmbedMode::None {
        embed_all(config, destination.embed, &mut slots, &mut notes).await;
    }
    let unheld = slots
        .iter_mut()
        .enumerate()
        .filter(|(_, (image, _))| !is_held(image))
        .filter_map(|(pos, (_, bytes))| bytes.take().map(|b| (pos, b)))
        .collect();
    Delivery {
        images: slots.into_iter().map(|(i, _)| i).collect(),
        notes,
        unheld,
    }
}

/// Downloads (or decodes) the images that a later step needs the bytes of.
async fn fetch_all(
    client: &Client,
    config: &DeliveryConfig,
    destination: &Destination,
    items: &[ImageItem],
) -> Vec<Slot> {
    let needs_bytes = destination.dir.is_some() || destination.embed != EmbedMode::None;
    // Collected first: a lazy iterator's closures held across the await would make the
    // future's `Send` depend on higher-ranked lifetimes the compiler cannot prove.
    let fetches: Vec<_> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let (url, size, b64) = match item {
                ImageItem::Url { url, size } => (Some(url.clone()), size.clone(), None),
                ImageItem::B64 { b64_json, size } => (None, size.clone(), Some(b64_json.as_str())),
                _ => return None,
            };
            let image = DeliveredImage {
                index: i + 1,
                url,
                size,
                format: None,
                bytes: None,
                path: None,
                problem: None,
                embedded: None,
                kept: None,
            };
            // Base64 data is always decoded: with no URL, the bytes are the only copy.
            let wanted = needs_bytes || b64.is_some();
            Some(fetch_one(client, &config.download, image, b64, wanted))
        })
        .collect();
    // A few at a time, in order: enough to overlap latency, and an answer with many images
    // never opens many connections or holds many images in memory at once.
    futures_util::stream::iter(fetches)
        .buffered(MAX_CONCURRENT_DOWNLOADS)
        .collect()
        .await
}

async fn fetch_one(
    client: &Client,
    policy: &DownloadPolicy,
    mut image: DeliveredImage,
    b64: Option<&str>,
    wanted: bool,
) -> Slot {
    if !wanted {
        return (image, None);
    }
    let fetched = match (b64, &image.url) {
        (Some(data), _) => STANDARD
            .decode(data)
            .map_err(|e| format!("the embedded image data is not valid base64: {e}")),
        (None, Some(u)) => client
            .download(u, policy)
            .await
            .map_err(|e: DownloadError| advice::download_failed(&e)),
        (None, None) => Err("no image data".to_owned()),
    };
    let bytes = match fetched {
        Ok(bytes) => bytes,
        Err(problem) => {
            image.problem = Some(problem);
            return (image, None);
        }
    };
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

/// How saved files are named, and what their metadata says.
struct Stems<'a> {
    filename: Option<&'a str>,
    made: &'a Provenance,
    /// Images in the answer.
    count: usize,
    now: SystemTime,
}

/// A file to write: its stem, extension, format and metadata.
type Naming = (String, &'static str, ImageFormat, Provenance);

/// Saves every fetched image into `dir`, with its provenance spliced in. The image bytes move
/// into the blocking task and back: never copied, so a call's peak memory stays near the size
/// of its images.
async fn save_all(dir: &OutputDir, stems: &Stems<'_>, slots: &mut [Slot]) {
    let names: Vec<Option<Naming>> = slots
        .iter()
        .map(|(image, bytes)| {
            let format = image.format.filter(|_| bytes.is_some())?;
            let stem = naming::stem(
                stems.filename,
                &stems.made.prompt,
                image.index,
                stems.count,
                stems.now,
            );
            let ext = match format {
                ImageFormat::Jpeg => "jpeg",
                other => other.subtype(),
            };
            let mut made = stems.made.clone();
            made.size.clone_from(&image.size);
            made.index = Some(image.index);
            Some((stem, ext, format, made))
        })
        .collect();
    let mut datas: Vec<Option<Vec<u8>>> = slots.iter_mut().map(|(_, b)| b.take()).collect();
    let folder = dir.clone();
    let saved = tokio::task::spawn_blocking(move || {
        let results: Vec<Option<std::io::Result<PathBuf>>> = names
            .iter()
            .zip(&datas)
            .map(|(name, data)| match (name, data) {
                (Some((stem, ext, format, made)), Some(data)) => {
                    Some(write_stamped(&folder, stem, ext, data, *format, made))
                }
                _ => None,
            })
            .collect();
        (results, std::mem::take(&mut datas))
    })
    .await;
    let (results, datas) = match saved {
        Ok(saved) => saved,
        Err(e) => {
            for (image, _) in slots.iter_mut() {
                image.problem = Some(format!("could not save: {e}"));
            }
            return;
        }
    };
    for (((image, bytes), result), data) in slots.iter_mut().zip(results).zip(datas) {
        *bytes = data;
        match result {
            Some(Ok(path)) => image.path = Some(path),
            Some(Err(e)) => {
                image.problem = Some(format!("could not save to {}: {e}", dir.display()))
            }
            None => {}
        }
    }
}

/// Writes `data` with `made` spliced in, or as it came when its layout does not allow it.
fn write_stamped(
    folder: &OutputDir,
    stem: &str,
    ext: &str,
    data: &[u8],
    format: ImageFormat,
    made: &Provenance,
) -> std::io::Result<PathBuf> {
    match provenance::stamp(data, format, made) {
        Ok(splice) => save::write_unique(folder, stem, ext, &splice.pieces(data)),
        Err(why) => {
            tracing::debug!(%why, "saving without provenance metadata");
            save::write_unique(folder, stem, ext, &[data])
        }
    }
}

/// Chooses what to embed within the result budget, and says which images could not be shown.
async fn embed_all(
    config: &DeliveryConfig,
    mode: EmbedMode,
    slots: &mut [Slot],
    notes: &mut Vec<String>,
) {
    let sources: Vec<(usize, Vec<u8>)> = slots
        .iter_mut()
        .enumerate()
        .filter_map(|(pos, (_, b))| b.take().map(|b| (pos, b)))
        .collect();
    let (budget, max_edge, full_edge) = (
        config.budget_b64_bytes,
        config.preview_max_edge,
        config.full_max_edge,
    );
    // The bytes come back: an image nothing else holds must be kept by the caller.
    let chosen = tokio::task::spawn_blocking(move || {
        let chosen = embed::choose(&sources, mode, max_edge, full_edge, budget);
        (chosen, sources)
    })
    .await;
    let (choice, sources) = match chosen {
        Ok(chosen) => chosen,
        Err(e) => {
            notes.push(format!("previews could not be made: {e}"));
            return;
        }
    };
    for (pos, e) in choice.embeds {
        if let Some((image, _)) = slots.get_mut(pos) {
            image.embedded = Some(e);
        }
    }
    for (pos, why) in choice.unreadable {
        if let Some((image, _)) = slots.get(pos) {
            notes.push(unshown(image, &why));
        }
    }
    notes.extend(choice.note);
    for (pos, bytes) in sources {
        if let Some((_, slot)) = slots.get_mut(pos) {
            *slot = Some(bytes);
        }
    }
}

/// The note for an image whose downloaded file could not be read as an image.
fn unshown(image: &DeliveredImage, why: &str) -> String {
    let kept = match (&image.path, &image.url) {
        (Some(path), _) => format!(
            "the file saved to {} and the link are kept as received",
            path.display()
        ),
        (None, Some(_)) => "the link is kept as received".to_owned(),
        (None, None) => "nothing else of it could be kept".to_owned(),
    };
    format!(
        "Image {} could not be shown: the downloaded file could not be read as an image ({why}); {kept}",
        image.index
    )
}

/// Whether the caller can reach the full image without the server keeping it.
fn is_held(image: &DeliveredImage) -> bool {
    image.url.is_some()
        || image.path.is_some()
        || image.embedded.as_ref().is_some_and(|e| !e.preview)
}

//! Which images to embed in a result, and at what size, so the whole result stays within the
//! client's limits (Claude Desktop refuses results over 1 MiB; the Claude API downsizes images
//! past 1568 px).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use serde::Deserialize;

use crate::imaging;
use seedream::ImageFormat;

/// How images appear inside a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmbedMode {
    // Downscaled JPEG previews. (Plain comments: doc comments on variants turn the schema into `oneOf`.)
    #[default]
    Preview,
    // Full resolution where it fits, else a preview.
    Full,
    // No images; text, paths and links only.
    None,
}

/// An image embedded in a result.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub data_b64: String,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    /// Whether this is a downscaled preview rather than the image itself.
    pub preview: bool,
}

/// What [`choose`] picked.
#[derive(Debug, Default)]
pub struct Choice {
    /// (position, embed)
    pub embeds: Vec<(usize, Embedded)>,
    /// (position, why): files that could not be decoded, told apart from a tight budget.
    pub unreadable: Vec<(usize, String)>,
    /// For the caller when the readable images could not be embedded within `budget`.
    pub note: Option<String>,
}

/// Picks embeds for `sources` (position, full bytes) within `budget`.
pub fn choose(
    sources: &[(usize, Vec<u8>)],
    mode: EmbedMode,
    max_edge: u32,
    full_edge: u32,
    budget: usize,
) -> Choice {
    if sources.is_empty() || mode == EmbedMode::None {
        return Choice::default();
    }
    if mode == EmbedMode::Full
        && let Some(full) = originals(sources, full_edge, budget)
    {
        return Choice {
            embeds: full,
            ..Choice::default()
        };
    }
    if let Some(embeds) = previews(sources, max_edge, budget) {
        return Choice {
            embeds,
            ..Choice::default()
        };
    }
    // Something failed: tell an unreadable file from a budget too small, at the cost of a
    // small decode per image on this rare path only.
    let mut unreadable = Vec::new();
    let readable: Vec<(usize, Vec<u8>)> = sources
        .iter()
        .filter(|(pos, bytes)| match imaging::preview(bytes, 64, 50) {
            Ok(_) => true,
            Err(e) => {
                unreadable.push((*pos, e.to_string()));
                false
            }
        })
        .cloned()
        .collect();
    let embeds = if unreadable.is_empty() || readable.is_empty() {
        None
    } else {
        previews(&readable, max_edge, budget)
    };
    let note = match (&embeds, readable.is_empty()) {
        (None, false) => Some(format!(
            "{} images are too many to preview within the {} KB result limit: open the saved files or the URLs",
            readable.len(),
            budget / 1000
        )),
        _ => None,
    };
    Choice {
        embeds: embeds.unwrap_or_default(),
        unreadable,
        note,
    }
}

fn previews(
    sources: &[(usize, Vec<u8>)],
    max_edge: u32,
    budget: usize,
) -> Option<Vec<(usize, Embedded)>> {
    let bytes: Vec<&[u8]> = sources.iter().map(|(_, b)| b.as_slice()).collect();
    let previews = imaging::previews_within_budget(&bytes, max_edge, budget)?;
    Some(
        sources
            .iter()
            .zip(previews)
            .map(|((pos, _), p)| {
                let embedded = Embedded {
                    data_b64: STANDARD.encode(&p.jpeg),
                    mime: "image/jpeg",
                    width: p.width,
                    height: p.height,
                    preview: true,
                };
                (*pos, embedded)
            })
            .collect(),
    )
}

/// The images themselves, if every one is small enough and of a type clients display.
fn originals(
    sources: &[(usize, Vec<u8>)],
    full_edge: u32,
    budget: usize,
) -> Option<Vec<(usize, Embedded)>> {
    let total: usize = sources.iter().map(|(_, b)| b.len().div_ceil(3) * 4).sum();
    if total > budget {
        return None;
    }
    sources
        .iter()
        .map(|(pos, bytes)| {
            let format = ImageFormat::sniff(bytes)?;
            if !matches!(
                format,
                ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Webp | ImageFormat::Gif
            ) {
                return None;
            }
            let dims = imagesize::blob_size(bytes).ok()?;
            let (width, height) = (
                u32::try_from(dims.width).ok()?,
                u32::try_from(dims.height).ok()?,
            );
            if width.max(height) > full_edge {
                return None;
            }
            let embedded = Embedded {
                data_b64: STANDARD.encode(bytes),
                mime: format.mime(),
                width,
                height,
                preview: false,
            };
            Some((*pos, embedded))
        })
        .collect()
}

//! Provenance in saved images, so a file explains itself once it leaves the conversation: the
//! prompt, model, size, seed, upstream request id, creation time and the "AI generated"
//! marking, in metadata that common tools read.
//!
//! # What is written, and why
//! - **XMP** in both formats: it is the one standard both PNG (`iTXt` keyword
//!   `XML:com.adobe.xmp`) and JPEG (an APP1 segment) carry, read by exiftool, Pillow, Photoshop
//!   and the platforms' photo tools. It holds the IPTC digital source type
//!   `trainedAlgorithmicMedia` (the marking Google, Meta and IPTC use for generated images), the
//!   prompt as `dc:description`, `xmp:CreateDate`, `xmp:CreatorTool`, and the rest under our own
//!   namespace. History reads this packet back after a restart.
//! - **PNG text chunks** (`iTXt`, UTF-8) under the PNG spec's keywords (`Description`,
//!   `Software`, `Creation Time`, `Source`, `Comment`) and `parameters`, the keyword image
//!   viewers of generated art read (`prompt` then `Key: value, …`).
//! - **JPEG COM**: a one-line "AI-generated" comment, shown by tools that show no XMP.
//! - **WebP** (which the upstream does not produce): saved as it came, without metadata; adding
//!   XMP there means rewriting a simple WebP into the extended layout, not worth it for a format
//!   we never receive.
//!
//! Nothing is re-encoded: the metadata is spliced into the byte stream ([`Splice`]), and a file
//! that already carries a C2PA manifest is left untouched (any byte inserted before it would
//! break its signature).

mod jpeg;
mod png;
#[cfg(test)]
mod tests;
mod xmp;

use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::time::SystemTime;

use seedream::ImageFormat;

/// Prompts longer than this (in bytes) are cut in the metadata, so the XMP packet always fits
/// one JPEG segment (64 KiB) even with every character escaped.
const MAX_PROMPT_BYTES: usize = 8_000;

/// How much of a file [`read_file`] reads: the metadata is written before the image data.
const HEAD_BYTES: u64 = 1 << 20;

/// What made an image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    pub prompt: String,
    /// The model id as sent upstream.
    pub model: String,
    /// Pixel size as the upstream reported it, e.g. `2048x2048`.
    pub size: Option<String>,
    pub seed: Option<i64>,
    /// The upstream's request id.
    pub request_id: Option<String>,
    /// RFC 3339, UTC, whole seconds.
    pub created: String,
    /// The server's job that made it, so history can group a call's images after a restart.
    pub job: Option<String>,
    /// 1-based position in the call's answer.
    pub index: Option<usize>,
    /// The program that wrote it.
    pub software: String,
    /// Whether the file says it is AI-generated (IPTC digital source type).
    pub ai_generated: bool,
}

impl Provenance {
    /// This server's stamp for an image made at `created`.
    pub fn new(prompt: &str, model: &str, created: SystemTime) -> Provenance {
        Provenance {
            prompt: cut(prompt, MAX_PROMPT_BYTES).to_owned(),
            model: model.to_owned(),
            created: rfc3339(created),
            software: concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")).to_owned(),
            ai_generated: true,
            ..Provenance::default()
        }
    }

    /// When it was made, as unix seconds (0 when the date cannot be read).
    pub fn created_unix(&self) -> i64 {
        chrono::DateTime::parse_from_rfc3339(&self.created).map_or(0, |t| t.timestamp())
    }

    /// One line per field, for people (`seedream-mcp meta FILE`).
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let mut line = |k: &str, v: &str| out.push_str(&format!("{k:<14}{v}\n"));
        line("prompt:", &self.prompt);
        line("model:", &self.model);
        if let Some(size) = &self.size {
            line("size:", size);
        }
        if let Some(seed) = self.seed {
            line("seed:", &seed.to_string());
        }
        if let Some(id) = &self.request_id {
            line("request id:", id);
        }
        line("created:", &self.created);
        if let Some(job) = &self.job {
            line("job:", job);
        }
        if let Some(index) = self.index {
            line("index:", &index.to_string());
        }
        line("software:", &self.software);
        let marked = if self.ai_generated {
            "yes (IPTC digital source type: trainedAlgorithmicMedia)"
        } else {
            "not marked"
        };
        line("AI generated:", marked);
        out
    }
}

/// Why metadata was not written (the image is then saved as it came).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StampError {
    #[error("the {0} data is not laid out as expected")]
    Malformed(&'static str),
    #[error("the file carries a C2PA manifest, which any change would invalidate")]
    SignedManifest,
    #[error("{0} files get no metadata")]
    Unsupported(&'static str),
    #[error("the metadata is too large for a {0} segment")]
    TooLarge(&'static str),
}

/// A file's bytes with metadata spliced in: the original ranges and the new bytes, in order,
/// written one after the other so the image itself is never copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Original(Range<usize>),
    New(Vec<u8>),
}

impl Splice {
    /// The pieces to write, in order (an out-of-range piece, which cannot happen, is empty).
    pub fn pieces<'a>(&'a self, original: &'a [u8]) -> Vec<&'a [u8]> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Original(r) => original.get(r.clone()).unwrap_or_default(),
                Part::New(bytes) => bytes.as_slice(),
            })
            .collect()
    }

    /// The whole new file (tests and small files).
    pub fn to_vec(&self, original: &[u8]) -> Vec<u8> {
        self.pieces(original).concat()
    }
}

/// Where to put `provenance` in `bytes` of `format`, without re-encoding.
pub fn stamp(
    bytes: &[u8],
    format: ImageFormat,
    provenance: &Provenance,
) -> Result<Splice, StampError> {
    match format {
        ImageFormat::Png => png::stamp(bytes, provenance),
        ImageFormat::Jpeg => jpeg::stamp(bytes, provenance),
        other => Err(StampError::Unsupported(other.subtype())),
    }
}

/// The provenance in `bytes`, if it carries any this server can read (its XMP packet).
pub fn read(bytes: &[u8]) -> Option<Provenance> {
    let packet = match ImageFormat::sniff(bytes)? {
        ImageFormat::Png => png::xmp(bytes)?,
        ImageFormat::Jpeg => jpeg::xmp(bytes)?,
        _ => return None,
    };
    xmp::parse(&String::from_utf8_lossy(packet))
}

/// [`read`] of a file's first megabyte (where this server puts the metadata).
pub fn read_file(path: &Path) -> std::io::Result<Option<Provenance>> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(HEAD_BYTES)
        .read_to_end(&mut head)?;
    Ok(read(&head))
}

/// `t` as RFC 3339 in UTC, whole seconds.
fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// The one-line "AI generated" statement (PNG `Comment`, JPEG COM).
fn statement(p: &Provenance) -> String {
    format!(
        "AI-generated image (ByteDance Seedream, model {}), saved by {}",
        p.model, p.software
    )
}

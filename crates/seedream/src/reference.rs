//! Reference images (`image`): public URLs pass through verbatim; data URIs are decoded,
//! sniffed and checked against the upstream limits before anything is sent (V12–V16).

use crate::data_uri::{DataUri, DataUriError};
use crate::image_format::ImageFormat;
use crate::validate::ValidationError;

/// Most reference images one request may carry.
pub const MAX_REFERENCES: usize = 14;

/// What the upstream accepts as one reference image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceLimits {
    /// Largest file size in bytes (before base64).
    pub max_bytes: usize,
    /// Largest width × height.
    pub max_pixels: u64,
    /// Smallest allowed side, inclusive.
    pub min_side: u32,
    /// Largest long-side-to-short-side ratio.
    pub max_ratio: f64,
}

impl ReferenceLimits {
    /// Seedream's documented limits: ≤ 10 MB (read as MiB), each side > 14 px,
    /// ≤ 36,000,000 pixels, aspect ratio within [1/16, 16].
    pub const DOCUMENTED: ReferenceLimits = ReferenceLimits {
        max_bytes: 10 * 1024 * 1024,
        max_pixels: 36_000_000,
        min_side: 15,
        max_ratio: 16.0,
    };
}

impl Default for ReferenceLimits {
    fn default() -> Self {
        ReferenceLimits::DOCUMENTED
    }
}

/// A reference image ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// What goes into the request's `image` array.
    pub wire: String,
    /// Set when the input was changed on the way (a relabelled data URI).
    pub note: Option<String>,
}

/// Checks one entry of `images`. `index` is only used to name it in messages.
pub(crate) fn check(
    index: usize,
    raw: &str,
    limits: &ReferenceLimits,
) -> Result<Reference, ValidationError> {
    let param = format!("images[{index}]");
    let trimmed = raw.trim();
    let lower_head = trimmed
        .get(..trimmed.len().min(16))
        .unwrap_or("")
        .to_ascii_lowercase();
    if lower_head.starts_with("http://") || lower_head.starts_with("https://") {
        return check_url(&param, trimmed);
    }
    if lower_head.starts_with("data:") {
        return check_data_uri(&param, trimmed, limits);
    }
    if looks_like_relative_path(trimmed) {
        return Err(ValidationError::new(
            param,
            format!(
                "`{}` is a relative path, and the server cannot know which folder it is relative \
                 to. Give the absolute path, e.g. /home/me/Pictures/photo.png (or ~/Pictures/photo.png), \
                 or a file URI such as file:///home/me/Pictures/photo.png; a public https:// URL or a \
                 data:image/png;base64,… URI work too",
                preview(trimmed)
            ),
        ));
    }
    Err(ValidationError::new(
        param,
        format!(
            "`{}` is not an image reference. Pass a public image URL such as \
             https://example.com/photo.jpg, an absolute local path such as /home/me/Pictures/photo.png \
             (or file:///home/me/Pictures/photo.png), or data:image/png;base64,<base64 bytes>",
            preview(trimmed)
        ),
    ))
}

/// `./a.png`, `images/a.png`, `a.jpeg`: no scheme, and either a folder separator or an image
/// file extension.
fn looks_like_relative_path(s: &str) -> bool {
    let has_scheme = s.split_once(':').is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    if has_scheme || s.starts_with('/') || s.is_empty() {
        return false;
    }
    let extension = s
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    s.starts_with("./")
        || s.starts_with("../")
        || s.contains('/')
        || s.contains('\\')
        || matches!(
            extension.as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "bmp" | "tif" | "tiff" | "gif"
        )
}

fn check_url(param: &str, url: &str) -> Result<Reference, ValidationError> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.chars().any(char::is_whitespace) {
        return Err(ValidationError::new(
            param,
            format!(
                "`{}` is not a valid URL: it needs a host and no spaces, e.g. https://example.com/photo.jpg",
                preview(url)
            ),
        ));
    }
    // Sent exactly as given: signed URLs break when re-encoded.
    Ok(Reference {
        wire: url.to_owned(),
        note: None,
    })
}

fn check_data_uri(
    param: &str,
    uri: &str,
    limits: &ReferenceLimits,
) -> Result<Reference, ValidationError> {
    let shape = "expected data:image/<png|jpeg|webp|bmp|tiff|gif>;base64,<base64 bytes>";
    let decoded = DataUri::parse_within(uri, limits.max_bytes)
        .unwrap_or(Err(DataUriError::NoComma))
        .map_err(|e| match e {
            DataUriError::TooLarge { bytes, max } => too_big(param, bytes, max),
            other => ValidationError::new(param, format!("{other}; {shape}")),
        })?;
    let label = decoded.media_type.to_ascii_lowercase();
    let labelled = label
        .strip_prefix("image/")
        .and_then(ImageFormat::from_subtype);
    let format = ImageFormat::sniff(&decoded.bytes).ok_or_else(|| {
        ValidationError::new(
            param,
            "the data URI's bytes are not an image in a supported format (jpeg, png, webp, bmp, tiff, gif)".to_owned(),
        )
    })?;
    check_dimensions(param, &decoded.bytes, limits)?;

    let relabelled = labelled != Some(format)
        || !decoded
            .media_type
            .starts_with(&format!("image/{}", format.subtype()));
    let note = relabelled.then(|| {
        format!(
            "{param}: the data URI was labelled `{label}` but holds {}; sent as {}",
            format.subtype(),
            format.mime()
        )
    });
    Ok(Reference {
        wire: format!("data:{};base64,{}", format.mime(), decoded.base64),
        note,
    })
}

fn check_dimensions(
    param: &str,
    bytes: &[u8],
    limits: &ReferenceLimits,
) -> Result<(), ValidationError> {
    let size = imagesize::blob_size(bytes).map_err(|_| {
        ValidationError::new(
            param,
            "the image header cannot be read: the file is damaged or truncated".to_owned(),
        )
    })?;
    let (w, h) = (size.width as u64, size.height as u64);
    let min_side = limits.min_side;
    if w < u64::from(min_side) || h < u64::from(min_side) {
        return Err(ValidationError::new(
            param,
            format!("the image is {w}x{h}; each side must be at least {min_side} px"),
        ));
    }
    let max_pixels = limits.max_pixels;
    if w * h > max_pixels {
        return Err(ValidationError::new(
            param,
            format!(
                "the image is {w}x{h} = {} pixels; at most {max_pixels} are allowed: downscale it, e.g. to 4096 px on its long edge",
                w * h
            ),
        ));
    }
    let ratio = limits.max_ratio;
    if w as f64 > ratio * h as f64 || h as f64 > ratio * w as f64 {
        return Err(ValidationError::new(
            param,
            format!(
                "the image is {w}x{h}; its aspect ratio must be between 1:{ratio} and {ratio}:1: crop it"
            ),
        ));
    }
    Ok(())
}

fn too_big(param: &str, bytes: usize, max: usize) -> ValidationError {
    ValidationError::new(
        param,
        format!(
            "the image is {:.1} MB; at most {:.0} MB is accepted: downscale or re-encode it as JPEG, or pass a URL",
            bytes as f64 / 1e6,
            max as f64 / (1024.0 * 1024.0)
        ),
    )
}

/// The start of a value for messages, never a whole base64 blob.
fn preview(s: &str) -> String {
    let p: String = s.chars().take(60).collect();
    if p.len() < s.len() {
        format!("{p}…")
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    const LIMIT: &ReferenceLimits = &ReferenceLimits::DOCUMENTED;

    /// A real 16x16 PNG (all black).
    fn png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Grayscale);
            let mut writer = enc.write_header().unwrap();
            writer
                .write_image_data(&vec![0u8; (w * h) as usize])
                .unwrap();
        }
        out
    }

    fn data_uri(label: &str, bytes: &[u8]) -> String {
        format!("data:{label};base64,{}", STANDARD.encode(bytes))
    }

    #[test]
    fn urls_are_sent_verbatim() {
        let url = "https://cdn.example.com/a.jpeg?X-Tos-Credential=AK%2F2026&sig=abc";
        assert_eq!(check(0, url, LIMIT).unwrap().wire, url);
    }

    #[test]
    fn a_valid_data_uri_passes_unchanged() {
        let uri = data_uri("image/png", &png(16, 16));
        let r = check(0, &uri, LIMIT).unwrap();
        assert_eq!((r.wire, r.note), (uri, None));
    }

    #[test]
    fn mislabelled_data_uris_are_relabelled_from_their_bytes() {
        let r = check(1, &data_uri("image/JPG", &png(16, 16)), LIMIT).unwrap();
        assert!(r.wire.starts_with("data:image/png;base64,"));
        assert!(r.note.unwrap().contains("images[1]"));
        let r = check(0, &data_uri("IMAGE/PNG", &png(16, 16)), LIMIT).unwrap();
        assert!(r.wire.starts_with("data:image/png;base64,"));
    }

    #[test]
    fn bad_references_are_refused_with_the_parameter_named() {
        let cases = [
            ("ftp://x/y.png".to_owned(), "not an image reference"),
            ("https:///nohost.png".to_owned(), "not a valid URL"),
            ("data:image/png;base64,@@@@".to_owned(), "base64 is invalid"),
            ("data:image/png,abc".to_owned(), "not base64-encoded"),
            (
                data_uri("image/png", b"root:x:0:0:root:/root:/bin/bash"),
                "not an image",
            ),
            (data_uri("image/png", &png(14, 100)), "at least 15 px"),
            (data_uri("image/png", &png(17 * 16, 16)), "aspect ratio"),
        ];
        for (input, expected) in cases {
            let e = check(3, &input, LIMIT).unwrap_err();
            assert_eq!(e.param, "images[3]");
            assert!(e.message.contains(expected), "{input:.40}: {e}");
        }
    }

    #[test]
    fn a_relative_path_is_told_to_use_an_absolute_path_or_a_file_uri() {
        for relative in [
            "./images/lighthouse.jpeg",
            "images/fox.png",
            "fox.JPG",
            "..\\a.png",
        ] {
            let e = check(0, relative, LIMIT).unwrap_err();
            assert!(e.message.contains("relative path"), "{relative}: {e}");
            assert!(e.message.contains("/home/me/Pictures/photo.png"), "{e}");
            assert!(e.message.contains("file:///"), "{e}");
        }
        let e = check(0, "ftp://x/y.png", LIMIT).unwrap_err();
        assert!(!e.message.contains("relative path"), "{e}");
        assert!(e.message.contains("absolute local path"), "{e}");
        assert!(e.message.contains("file:///"), "{e}");
    }

    #[test]
    fn oversized_data_uris_are_refused_before_decoding() {
        let uri = format!("data:image/png;base64,{}", "A".repeat(20 * 1024 * 1024));
        let e = check(0, &uri, LIMIT).unwrap_err();
        assert!(e.message.contains("at most 10 MB"), "{e}");
    }

    #[test]
    fn too_many_pixels_are_refused() {
        // A PNG header claiming 6001x6001 is enough: only the header is read.
        let mut bytes = png(16, 16);
        bytes[16..20].copy_from_slice(&6001u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&6001u32.to_be_bytes());
        let e = check(0, &data_uri("image/png", &bytes), LIMIT).unwrap_err();
        assert!(e.message.contains("36000000"), "{e}");
    }
}

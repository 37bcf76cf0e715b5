//! Reference images (`image`): URLs are accepted unseen, data URIs are decoded and held
//! to the upstream limits (§5) with Ark's error codes and messages.

use base64::Engine as _;
use serde_json::Value;

use super::errors::ArkError;
use super::sizes::ratio_ok;

/// Most reference images a request may carry.
pub(crate) const MAX_REFS: usize = 14;
const MAX_REF_PIXELS: u64 = 36_000_000;
const FORMATS: [&str; 6] = ["jpeg", "png", "webp", "bmp", "tiff", "gif"];

/// One accepted reference image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefImage {
    /// Width and height for data URIs; `None` for URLs (never fetched).
    pub dims: Option<(u32, u32)>,
}

/// Checks the `image` field: a string or an array of 1..=14 strings.
pub(crate) fn check(value: &Value, limit_bytes: u64) -> Result<Vec<RefImage>, ArkError> {
    let items: Vec<&Value> = match value {
        Value::String(_) => vec![value],
        Value::Array(items) => items.iter().collect(),
        _ => {
            return Err(ArkError::invalid(
                "image",
                "must be a string or an array of strings",
            ));
        }
    };
    if items.is_empty() {
        return Err(ArkError::invalid(
            "image",
            "the image list must not be empty",
        ));
    }
    if items.len() > MAX_REFS {
        return Err(ArkError::invalid(
            "image",
            "the number of reference images cannot exceed 14",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item.as_str() {
            Some(s) => check_one(i, s, limit_bytes),
            None => Err(ArkError::invalid(
                "image",
                &format!("image {i} must be a string"),
            )),
        })
        .collect()
}

fn check_one(i: usize, s: &str, limit_bytes: u64) -> Result<RefImage, ArkError> {
    if s.trim().is_empty() {
        return Err(ArkError::bad_request(
            "InvalidImageURL.EmptyURL",
            "image",
            format!("Image {i} failed: the image url is empty"),
        ));
    }
    let lower_scheme = s.get(..8).map(str::to_ascii_lowercase).unwrap_or_default();
    if lower_scheme.starts_with("http://") || lower_scheme.starts_with("https://") {
        return Ok(RefImage { dims: None });
    }
    let Some(rest) = s.strip_prefix("data:") else {
        return Err(invalid_format(
            i,
            "the image must be an http(s) URL or a base64 data URI",
        ));
    };
    let Some((mime, payload)) = rest.split_once(";base64,") else {
        return Err(invalid_format(
            i,
            "the data URI must have the form data:image/<format>;base64,<data>",
        ));
    };
    let format = mime.strip_prefix("image/").unwrap_or("");
    if mime != mime.to_ascii_lowercase() || format == "jpg" || format.is_empty() {
        return Err(invalid_format(
            i,
            &format!("invalid image MIME type `{mime}`"),
        ));
    }
    if !FORMATS.contains(&format) {
        return Err(ArkError::invalid(
            "image",
            &format!(
                "Image {i} failed: unsupported image format `{format}`, supported: jpeg, png, webp, bmp, tiff, gif"
            ),
        ));
    }
    // Refuse before decoding when even the encoded length is too large.
    let estimate = (payload.len() as u64 / 4).saturating_mul(3);
    if estimate > limit_bytes.saturating_add(3) {
        return Err(too_big(i, estimate, limit_bytes));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| invalid_format(i, "the image data is not valid base64"))?;
    let len = bytes.len() as u64;
    if len > limit_bytes {
        return Err(too_big(i, len, limit_bytes));
    }
    let size = imagesize::blob_size(&bytes).map_err(|_| {
        ArkError::invalid(
            "image",
            &format!("Image {i} failed: the image cannot be decoded"),
        )
    })?;
    let (w, h) = (
        u32::try_from(size.width).unwrap_or(u32::MAX),
        u32::try_from(size.height).unwrap_or(u32::MAX),
    );
    let pixels = u64::from(w) * u64::from(h);
    let image_error = |text: String| ArkError::bad_request("InvalidParameter", "image", text);
    if w <= 14 || h <= 14 {
        return Err(image_error(format!(
            "Image {i} failed: Image dimensions are too small. Current dimensions: {w}x{h}. Each side must be greater than 14 pixels"
        )));
    }
    if pixels > MAX_REF_PIXELS {
        return Err(image_error(format!(
            "Image {i} failed: Image exceeds the maximum allowed total pixels. Current dimensions: {w}x{h} = {pixels} pixels. Maximum allowed: {MAX_REF_PIXELS} pixels"
        )));
    }
    if !ratio_ok(w, h) {
        return Err(image_error(format!(
            "Image {i} failed: Image aspect ratio is out of range. Current dimensions: {w}x{h}. Allowed range: [1/16, 16]"
        )));
    }
    Ok(RefImage { dims: Some((w, h)) })
}

fn invalid_format(i: usize, why: &str) -> ArkError {
    ArkError::bad_request(
        "InvalidImageURL.InvalidFormat",
        "image",
        format!("Image {i} failed: {why}"),
    )
}

fn too_big(i: usize, size: u64, limit: u64) -> ArkError {
    ArkError::bad_request(
        "InvalidParameter",
        "image",
        format!(
            "Image {i} failed: Image file size exceeds the maximum allowed size. Current size: {size} bytes. Maximum allowed: {limit} bytes"
        ),
    )
}

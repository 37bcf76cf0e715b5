//! Wire types of `POST {base}/images/generations`: what is sent and what comes back.

use serde::{Deserialize, Serialize};

use crate::error::{Kind, kind};
use crate::size::Size;
use crate::validate::MAX_SEQUENCE_IMAGES;

/// `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    #[default]
    /// Signed download links, valid for 24 hours.
    Url,
    /// The image inline, base64-encoded.
    B64Json,
}

/// `output_format` (honoured by Seedream 5.0 lite only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// JPEG (the default).
    Jpeg,
    /// PNG.
    Png,
}

/// `background` (Seedream 5.5): a real alpha channel, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Background {
    /// An RGBA PNG with a transparent background.
    Transparent,
    /// An RGB image.
    Opaque,
}

/// `optimize_prompt_options.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PromptMode {
    /// Higher quality, slower (the upstream default).
    Standard,
    /// Faster, plainer.
    Fast,
}

/// `optimize_prompt_options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptOptions {
    /// The mode.
    pub mode: PromptMode,
}

/// One entry of `tools`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    /// Always `web_search` (the only tool there is).
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `sequential_image_generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequentialMode {
    /// A sequence of up to `max_images` related images.
    Auto,
    /// One image.
    Disabled,
}

/// `sequential_image_generation_options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequentialOptions {
    /// The most images the model may make (1–15).
    pub max_images: u8,
}

/// The request body. Optional fields are omitted when unset, never sent as `null`, because
/// the upstream rejects fields a model does not support.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRequest {
    /// The model id (or an Ark endpoint id).
    pub model: String,
    /// What to draw.
    pub prompt: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// Reference images: URLs or `data:` URIs.
    pub image: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// A preset or exact pixels.
    pub size: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Whether a sequence is asked for.
    pub sequential_image_generation: Option<SequentialMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The sequence's bounds.
    pub sequential_image_generation_options: Option<SequentialOptions>,
    /// Asks for one SSE event per image; the answer may still be plain JSON (gateways).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Links or inline images.
    pub response_format: ResponseFormat,
    /// Always sent: the upstream default is `true`.
    pub watermark: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// JPEG or PNG (5.0 lite only).
    pub output_format: Option<OutputFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Transparent or opaque (5.5 only).
    pub background: Option<Background>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Prompt optimisation, sent only for a non-default mode.
    pub optimize_prompt_options: Option<PromptOptions>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// Web search (5.0 lite only).
    pub tools: Vec<Tool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// A seed (no current model honours it).
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// Prompt adherence (no current model honours it).
    pub guidance_scale: Option<f64>,
}

impl ImageRequest {
    /// How many images this request may produce.
    pub fn max_outputs(&self) -> u32 {
        match (
            &self.sequential_image_generation,
            &self.sequential_image_generation_options,
        ) {
            (Some(SequentialMode::Auto), Some(o)) => u32::from(o.max_images),
            (Some(SequentialMode::Auto), None) => u32::from(MAX_SEQUENCE_IMAGES),
            _ => 1,
        }
    }
}

/// A 200 response. Every field is optional or defaulted, unknown fields are ignored, and a
/// field of an unexpected type is read leniently or dropped, because gateways add, drop and
/// retype fields: a paid image must never be lost to a neighbouring `"created": "1700000000"`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImagesResponse {
    #[serde(default, deserialize_with = "lenient::string")]
    /// The model that answered.
    pub model: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    /// Unix time of the generation; signed links expire 24 hours later.
    pub created: Option<i64>,
    #[serde(default, deserialize_with = "lenient::items")]
    /// One item per position: an image or the failure in its place.
    pub data: Vec<ImageItem>,
    #[serde(default, deserialize_with = "lenient::usage")]
    /// What was billed.
    pub usage: Option<Usage>,
    /// An error envelope sent with status 200 (some gateways do): its message is the only
    /// explanation the caller gets when no image came back.
    #[serde(default, deserialize_with = "lenient::item_error")]
    pub error: Option<ItemError>,
    /// Streamed images for positions the request cannot have (not kept).
    #[serde(skip)]
    pub dropped: usize,
}

/// One position of `data`: an image (by URL or inline) or the error that took its place.
/// Read by hand rather than `untagged`, so that an odd `size` never hides the URL beside it.
#[derive(Debug, Clone, PartialEq)]
pub enum ImageItem {
    /// An image by signed link.
    Url {
        /// The link, to be fetched exactly as written.
        url: String,
        /// `WIDTHxHEIGHT` as reported.
        size: Option<String>,
    },
    /// An inline image.
    B64 {
        /// The image, base64-encoded.
        b64_json: String,
        /// `WIDTHxHEIGHT` as reported.
        size: Option<String>,
    },
    /// A position that failed.
    Failed {
        /// Why.
        error: ItemError,
    },
    /// Anything else, kept so that positions still line up.
    Unknown(serde_json::Value),
}

impl<'de> Deserialize<'de> for ImageItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ImageItem::from_value(serde_json::Value::deserialize(d)?))
    }
}

impl ImageItem {
    /// The image is taken out of the value, not copied: a `b64_json` may be megabytes.
    fn from_value(value: serde_json::Value) -> ImageItem {
        let serde_json::Value::Object(mut map) = value else {
            return ImageItem::Unknown(value);
        };
        let size = map.get("size").and_then(lenient::as_string);
        if let Some(serde_json::Value::String(url)) = map.get("url") {
            return ImageItem::Url {
                url: url.clone(),
                size,
            };
        }
        if let Some(serde_json::Value::String(b64_json)) = map.get_mut("b64_json") {
            return ImageItem::B64 {
                b64_json: std::mem::take(b64_json),
                size,
            };
        }
        if let Some(error) = map.get("error").and_then(lenient::as_item_error) {
            return ImageItem::Failed { error };
        }
        ImageItem::Unknown(serde_json::Value::Object(map))
    }
}

/// A per-image failure inside a 200 response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemError {
    /// The upstream's code, e.g. `OutputImageSensitiveContentDetected` (may be empty).
    pub code: String,
    /// The upstream's message.
    pub message: String,
    /// The classification of `code`, made when the answer was read.
    pub kind: Kind,
}

impl ItemError {
    /// A failure with its code classified.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> ItemError {
        let (code, message) = (code.into(), message.into());
        ItemError {
            kind: kind::of_code(&code, None, &message),
            code,
            message,
        }
    }
}

/// `usage`. `generated_images` counts successes only and is the billing unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    /// Images made (the billing unit).
    pub generated_images: Option<u32>,
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    /// Output tokens.
    pub output_tokens: Option<u64>,
    #[serde(
        default,
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    /// All tokens.
    pub total_tokens: Option<u64>,
}

/// Readers that never fail: a value of an unexpected type becomes `None` (or is converted
/// when the meaning is plain, e.g. a number sent as a string).
pub(super) mod lenient {
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use super::{ImageItem, ItemError, Usage};

    pub fn as_string(v: &Value) -> Option<String> {
        match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn as_integer(v: &Value) -> Option<i128> {
        let float = |f: f64| f.is_finite().then_some(f.trunc() as i128);
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(i128::from)
                .or_else(|| n.as_u64().map(i128::from))
                .or_else(|| n.as_f64().and_then(float)),
            Value::String(s) => {
                let t = s.trim();
                t.parse::<i128>()
                    .ok()
                    .or_else(|| t.parse::<f64>().ok().and_then(float))
            }
            _ => None,
        }
    }

    pub fn as_item_error(v: &Value) -> Option<ItemError> {
        match v {
            Value::Object(map) => Some(ItemError::new(
                map.get("code").and_then(as_string).unwrap_or_default(),
                map.get("message").and_then(as_string).unwrap_or_default(),
            )),
            Value::String(message) if !message.is_empty() => {
                Some(ItemError::new(String::new(), message.clone()))
            }
            _ => None,
        }
    }

    pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(as_string(&Value::deserialize(d)?))
    }

    pub fn string_or_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(string(d)?.unwrap_or_default())
    }

    pub fn int<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<Option<T>, D::Error> {
        Ok(as_integer(&Value::deserialize(d)?).and_then(|n| T::try_from(n).ok()))
    }

    pub fn items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ImageItem>, D::Error> {
        Ok(match Value::deserialize(d)? {
            Value::Array(values) => values.into_iter().map(ImageItem::from_value).collect(),
            // A single item where a list belongs.
            v @ Value::Object(_) => vec![ImageItem::from_value(v)],
            _ => Vec::new(),
        })
    }

    pub fn usage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
        Ok(serde_json::from_value(Value::deserialize(d)?).ok())
    }

    pub fn item_error<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ItemError>, D::Error> {
        Ok(as_item_error(&Value::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests;

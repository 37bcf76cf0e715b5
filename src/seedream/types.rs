//! Wire types of `POST {base}/images/generations`: what is sent and what comes back.

use serde::{Deserialize, Serialize};

use super::size::Size;

/// `response_format`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    #[default]
    Url,
    B64Json,
}

/// `output_format` (honoured by Seedream 5.0 lite only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Jpeg,
    Png,
}

/// `sequential_image_generation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequentialMode {
    Auto,
    Disabled,
}

/// `sequential_image_generation_options`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequentialOptions {
    pub max_images: u8,
}

/// The request body. Optional fields are omitted when unset, never sent as `null`, because
/// the upstream rejects fields a model does not support.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRequest {
    pub model: String,
    pub prompt: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub image: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<Size>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_image_generation: Option<SequentialMode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequential_image_generation_options: Option<SequentialOptions>,
    /// Asks for one SSE event per image; the answer may still be plain JSON (gateways).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    pub response_format: ResponseFormat,
    /// Always sent: the upstream default is `true`.
    pub watermark: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_format: Option<OutputFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
            (Some(SequentialMode::Auto), None) => 15,
            _ => 1,
        }
    }
}

/// A 200 response. Every field is optional or defaulted and unknown fields are ignored,
/// because gateways add and drop fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImagesResponse {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub data: Vec<ImageItem>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One position of `data`: an image (by URL or inline) or the error that took its place.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ImageItem {
    Url {
        url: String,
        #[serde(default)]
        size: Option<String>,
    },
    B64 {
        b64_json: String,
        #[serde(default)]
        size: Option<String>,
    },
    Failed {
        error: ItemError,
    },
    /// Anything else, kept so that positions still line up.
    Unknown(serde_json::Value),
}

/// A per-image failure inside a 200 response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ItemError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

/// `usage`. `generated_images` counts successes only and is the billing unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_images: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tokens: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seedream::size::Preset;

    fn minimal() -> ImageRequest {
        ImageRequest {
            model: "doubao-seedream-4-5-251128".into(),
            prompt: "a red fox".into(),
            image: vec![],
            size: None,
            sequential_image_generation: None,
            sequential_image_generation_options: None,
            stream: None,
            response_format: ResponseFormat::Url,
            watermark: false,
            output_format: None,
            seed: None,
            guidance_scale: None,
        }
    }

    #[test]
    fn a_minimal_request_sends_exactly_the_required_keys_and_no_nulls() {
        let v = serde_json::to_value(minimal()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["model", "prompt", "response_format", "watermark"]);
        assert_eq!(v["watermark"], false);
    }

    #[test]
    fn a_full_request_uses_the_documented_spellings() {
        let mut r = minimal();
        r.image = vec!["https://example.com/a.png".into()];
        r.size = Some(Size::Preset(Preset::TwoK));
        r.sequential_image_generation = Some(SequentialMode::Auto);
        r.sequential_image_generation_options = Some(SequentialOptions { max_images: 4 });
        r.response_format = ResponseFormat::B64Json;
        r.output_format = Some(OutputFormat::Png);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "model": "doubao-seedream-4-5-251128", "prompt": "a red fox",
                "image": ["https://example.com/a.png"], "size": "2K",
                "sequential_image_generation": "auto",
                "sequential_image_generation_options": {"max_images": 4},
                "response_format": "b64_json", "watermark": false, "output_format": "png"
            })
        );
        assert_eq!(r.max_outputs(), 4);
    }

    #[test]
    fn responses_tolerate_unknown_fields_and_mixed_items() {
        let body = r#"{"model":"m","created":1,"extra":true,
            "data":[{"url":"https://x/1.jpeg?a=1&b=%2F","size":"2048x2048","new":1},
                    {"error":{"code":"OutputImageSensitiveContentDetected","message":"no"}},
                    {"b64_json":"/9j/","size":"1x1"},{"weird":1}],
            "usage":{"generated_images":2,"output_tokens":32768,"total_tokens":32768,"tool_usage":{"web_search":0}}}"#;
        let r: ImagesResponse = serde_json::from_str(body).unwrap();
        assert!(
            matches!(&r.data[0], ImageItem::Url { url, .. } if url == "https://x/1.jpeg?a=1&b=%2F")
        );
        assert!(
            matches!(&r.data[1], ImageItem::Failed { error } if error.code == "OutputImageSensitiveContentDetected")
        );
        assert!(matches!(&r.data[2], ImageItem::B64 { .. }));
        assert!(matches!(&r.data[3], ImageItem::Unknown(_)));
        assert_eq!(r.usage.unwrap().generated_images, Some(2));
    }

    #[test]
    fn a_response_with_no_data_still_parses() {
        let r: ImagesResponse = serde_json::from_str("{}").unwrap();
        assert!(r.data.is_empty());
    }
}

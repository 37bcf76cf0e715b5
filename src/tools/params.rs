//! The arguments of each tool. Field doc comments become the schema descriptions a model
//! reads, so they state formats, ranges and an example, and stay short (the whole
//! `tools/list` must stay small).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::seedream::{AspectRatio, Model, OutputFormat, ResponseFormat, Size};

/// Options every tool shares.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ImageOptions {
    /// 1K, 2K, 3K, 4K or WIDTHxHEIGHT (e.g. 2848x1600). A bare preset lets the model pick the shape.
    pub size: Option<Size>,
    /// Shape at the preset size (default 2K), e.g. 16:9 gives 2848x1600. Not with WIDTHxHEIGHT.
    pub aspect_ratio: Option<AspectRatio>,
    /// 5.0 (lite, default), 4.5, 4.0 or a full model id.
    pub model: Option<Model>,
    /// url (default): links valid 24 h. b64_json: images embedded in the result.
    pub response_format: Option<ResponseFormat>,
    /// jpeg (default) or png; png needs model 5.0.
    pub output_format: Option<OutputFormat>,
    /// Add an "AI generated" mark. Default false.
    pub watermark: Option<bool>,
    /// -1 to 2147483647; only for models that honour it.
    pub seed: Option<i64>,
    /// 1 to 10; only for models that honour it.
    pub guidance_scale: Option<f64>,
}

/// Arguments of `generate_image`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GenerateImageParams {
    /// What to draw: subject, style, composition, lighting, any text to render.
    pub prompt: String,
    #[serde(flatten)]
    pub options: ImageOptions,
}

/// Arguments of `edit_image`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct EditImageParams {
    /// The change to make or the image to make from the references, e.g. "make it a watercolor".
    pub prompt: String,
    /// 1 to 14 reference images: http(s) URLs or data:image/png;base64,... URIs.
    #[schemars(length(min = 1, max = 14))]
    pub images: Vec<String>,
    #[serde(flatten)]
    pub options: ImageOptions,
}

/// Arguments of `generate_sequence`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GenerateSequenceParams {
    /// The set to draw, with its count, e.g. "4 panels of a cat's day: waking, eating, playing, sleeping".
    pub prompt: String,
    /// Most images to make, 1 to 15 (references + max_images <= 15). The model may make fewer.
    #[schemars(range(min = 1, max = 15))]
    pub max_images: u32,
    /// Optional 0 to 14 reference images: http(s) URLs or data: URIs.
    #[schemars(length(max = 14))]
    pub images: Option<Vec<String>>,
    #[serde(flatten)]
    pub options: ImageOptions,
}

//! The arguments of each tool. Field doc comments become the schema descriptions a model
//! reads, so they state formats, ranges and an example, and stay short: the whole `tools/list`
//! must stay under 8 KB, and the shared options below appear once per tool. Ranges the server
//! checks anyway (seed, guidance_scale) are left to its error messages.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::delivery::EmbedMode;

mod choices;

pub use choices::{
    AspectRatioArg, BackgroundArg, ModelArg, OutputFormatArg, PromptModeArg, ResponseFormatArg,
    SizeArg,
};

impl ImageOptions {
    /// Accepted but not in the schema: no built-in model uses them, and `tools/list` must stay
    /// under 8 KB. A call that passes them (a models file can enable them for an endpoint that
    /// uses them) is not refused.
    pub const UNADVERTISED: &'static [&'static str] = &["seed", "guidance_scale"];
}

/// Options every tool shares.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ImageOptions {
    /// 2K (default), 3K, 4K or WIDTHxHEIGHT.
    pub size: Option<SizeArg>,
    /// Shape at the preset size.
    pub aspect_ratio: Option<AspectRatioArg>,
    /// 5.0 (default), 5.0-pro, 5.0-flash, 5.5, 4.5, 4.0, id.
    pub model: Option<ModelArg>,
    /// Default url; b64_json inlines.
    pub response_format: Option<ResponseFormatArg>,
    /// Default jpeg; png on 5.0.
    pub output_format: Option<OutputFormatArg>,
    /// Default preview.
    pub embed: Option<EmbedMode>,
    /// Saved file name, e.g. fox.
    pub filename: Option<String>,
    /// Absolute folder to save into.
    pub output_dir: Option<String>,
    /// Add an AI-generated mark.
    pub watermark: Option<bool>,
    // In `UNADVERTISED`.
    #[schemars(skip)]
    pub seed: Option<i64>,
    #[schemars(skip)]
    pub guidance_scale: Option<f64>,
    /// transparent: 5.5 only.
    pub background: Option<BackgroundArg>,
    /// fast: 4.0, 5.0-pro.
    pub prompt_mode: Option<PromptModeArg>,
    /// 5.0 only.
    pub web_search: Option<bool>,
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
    /// The change, e.g. "make it a watercolor".
    pub prompt: String,
    /// 1-14 references: absolute paths, file:// or http(s) URLs, data: URIs.
    #[schemars(length(min = 1, max = seedream::MAX_REFERENCES))]
    pub images: Vec<String>,
    #[serde(flatten)]
    pub options: ImageOptions,
}

/// Arguments of `generate_sequence`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GenerateSequenceParams {
    /// The set with its count, e.g. "4 panels of a cat's day".
    pub prompt: String,
    /// 1-15, references included; the model may make fewer.
    #[schemars(range(min = 1, max = seedream::MAX_SEQUENCE_IMAGES))]
    pub max_images: u32,
    /// 0-14 references: paths, file:// or http(s) URLs, data: URIs.
    #[schemars(length(max = seedream::MAX_REFERENCES))]
    pub images: Option<Vec<String>>,
    /// true once the person agreed to the quoted cost.
    // Taken out of the arguments before they are parsed (`confirm::take_flag`, which all three
    // tools accept); declared here only for the schema: a sequence is the call that costs enough.
    pub confirm_cost: Option<bool>,
    #[serde(flatten)]
    pub options: ImageOptions,
}

/// Arguments of `get_job`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GetJobParams {
    /// The job_id a tool answered with.
    pub job_id: String,
    /// Seconds to wait (default: the server's limit).
    pub wait_seconds: Option<f64>,
}

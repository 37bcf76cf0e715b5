//! A generation request as the service takes it: parsed and typed, nothing read, fetched or
//! checked against a model yet.

use seedream::{AspectRatio, Background, Model, OutputFormat, PromptMode, ResponseFormat, Size};

use super::ImageRef;
use crate::delivery::EmbedMode;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request {
    pub prompt: String,
    /// Reference images, in order (`images[i]` in messages).
    pub references: Vec<ImageRef>,
    /// `Some(n)` asks for a sequence of up to `n` images; `None` for one image.
    pub max_images: Option<u32>,
    pub options: Options,
}

/// How to generate and deliver; `None` takes the server's default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub size: Option<Size>,
    pub aspect_ratio: Option<AspectRatio>,
    pub model: Option<Model>,
    pub response_format: Option<ResponseFormat>,
    pub output_format: Option<OutputFormat>,
    pub embed: Option<EmbedMode>,
    /// Base name for saved files.
    pub filename: Option<String>,
    /// Folder to save into, as the caller wrote it (`~/…` allowed).
    pub output_dir: Option<String>,
    pub watermark: Option<bool>,
    pub seed: Option<i64>,
    pub guidance_scale: Option<f64>,
    /// The job this call runs as, written into saved files' metadata so history can group a
    /// call's images again after a restart.
    pub job: Option<String>,
    pub background: Option<Background>,
    pub prompt_mode: Option<PromptMode>,
    pub web_search: Option<bool>,
}

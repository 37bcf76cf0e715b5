//! A client for ByteDance Seedream image generation (`POST {base}/images/generations`) through
//! CometAPI, Volcengine Ark or BytePlus ModelArk.
//!
//! What it does for you:
//! - **Validation** before anything is sent ([`prepare`]): each model's sizes, pixel ranges and
//!   fields ([`Model::rules`]), aspect ratios turned into the recommended pixels, reference
//!   images checked against the upstream's limits ([`ReferenceLimits`]), with errors that name
//!   the parameter and say what would be valid.
//! - **Retries** that never bill twice ([`RetryPolicy`]): only failures that cannot have
//!   generated anything are sent again.
//! - **Typed errors** ([`Error`], classified by [`Kind`]) that say what went wrong upstream;
//!   what to tell a user about it is left to you.
//! - **Streaming** of sequences ([`Client::generate_observed`] reports each image as it lands)
//!   and **downloads** of the signed image URLs that refuse private addresses
//!   ([`Client::download`]).
//!
//! # Example
//!
//! ```no_run
//! use seedream::{Client, ClientConfig, GenerationSpec, ImageItem, Model, Preset, Profile,
//!     ResponseFormat, RetryPolicy, Size, Timeouts, prepare};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new(ClientConfig {
//!     base_url: "https://api.cometapi.com/v1".to_owned(),
//!     api_key: Some(std::env::var("SEEDREAM_API_KEY")?.into()),
//!     retry: RetryPolicy::default(),
//!     timeouts: Timeouts::default(),
//! })?;
//! let prepared = prepare(
//!     GenerationSpec {
//!         model: Model::V45,
//!         prompt: "a red fox in fresh snow, golden hour".to_owned(),
//!         size: Some(Size::Preset(Preset::TwoK)),
//!         aspect_ratio: None,
//!         images: vec![],
//!         max_images: None,
//!         response_format: ResponseFormat::Url,
//!         output_format: None,
//!         watermark: false,
//!         seed: None,
//!         guidance_scale: None,
//!         background: None,
//!         prompt_mode: None,
//!         web_search: false,
//!     },
//!     Size::Preset(Preset::TwoK),
//!     &Profile::default(),
//! )?;
//! let generation = client.generate(&prepared.request).await?;
//! for item in &generation.response.data {
//!     if let ImageItem::Url { url, .. } = item {
//!         println!("{url}");
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! `examples/generate.rs` does the same from the command line.

#![deny(missing_docs)]

mod client;
mod data_uri;
mod download;
mod error;
mod http;
mod image_format;
mod model;
#[cfg(test)]
mod proptests;
mod redact;
mod reference;
mod retry;
mod size;
mod stream;
mod types;
mod validate;

pub use client::{Client, ClientConfig, Generation, Timeouts};
pub use data_uri::{DataUri, DataUriError};
pub use download::{DownloadError, DownloadPolicy};
pub use error::{Error, Kind};
pub use http::SetupError;
pub use image_format::ImageFormat;
pub use model::{
    EmptyModel, Model, ModelOverrides, ModelsFileError, Price, Profile, Rules, RulesPatch,
};
pub use reference::{MAX_REFERENCES, ReferenceLimits};
pub use retry::RetryPolicy;
pub use size::{AspectRatio, Preset, Size, SizeParseError, parse_dimensions};
pub use stream::{Event, Observer};
pub use types::{
    Background, ImageItem, ImageRequest, ImagesResponse, ItemError, OutputFormat, PromptMode,
    PromptOptions, ResponseFormat, SequentialMode, SequentialOptions, Tool, Usage,
};
pub use validate::{
    GenerationSpec, MAX_SEQUENCE_IMAGES, MAX_TOTAL_IMAGES, Prepared, ValidationError, prepare,
};

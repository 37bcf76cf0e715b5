//! The Seedream image API (CometAPI, Volcengine Ark, BytePlus ModelArk). Knows nothing about MCP.

mod client;
mod download;
mod error;
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

pub use client::{Client, ClientConfig, Generation, SetupError, Timeouts};
pub use download::{DownloadError, DownloadPolicy};
pub use error::{Error, Kind};
pub use image_format::ImageFormat;
pub use model::{EmptyModel, Model, Profile, Rules};
pub use reference::MAX_REFERENCES;
pub use retry::RetryPolicy;
pub use size::{AspectRatio, Preset, Size, SizeParseError, parse_dimensions};
pub use stream::{Event, Observer};
pub use types::{
    ImageItem, ImageRequest, ImagesResponse, ItemError, OutputFormat, ResponseFormat, Usage,
};
pub use validate::{GenerationSpec, MAX_TOTAL_IMAGES, Prepared, ValidationError, group, prepare};

//! `generate_image`: one image from a text prompt.

use super::generating::options;
use super::params::GenerateImageParams;
use crate::generation::{Request, ToolError};

pub fn request(p: GenerateImageParams) -> Result<Request, ToolError> {
    Ok(Request {
        prompt: p.prompt,
        references: Vec::new(),
        max_images: None,
        options: options(p.options),
    })
}

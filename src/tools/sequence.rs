//! `generate_sequence`: a set of related images (story panels, variations, a product series).

use super::generating::{options, references};
use super::params::GenerateSequenceParams;
use crate::generation::{Request, ToolError};

pub fn request(p: GenerateSequenceParams) -> Result<Request, ToolError> {
    Ok(Request {
        prompt: p.prompt,
        references: references(p.images.unwrap_or_default())?,
        max_images: Some(p.max_images),
        options: options(p.options),
    })
}

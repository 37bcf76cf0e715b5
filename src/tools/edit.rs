//! `edit_image`: a new image from 1–14 reference images and an instruction.

use super::generating::{options, references};
use super::params::EditImageParams;
use crate::generation::{Request, ToolError};

pub fn request(p: EditImageParams) -> Result<Request, ToolError> {
    if p.images.is_empty() {
        return Err(ToolError::invalid(
            "images",
            "edit_image needs 1 to 14 reference images, e.g. [\"https://example.com/photo.jpg\"]; \
             to draw from text alone use generate_image",
        ));
    }
    Ok(Request {
        prompt: p.prompt,
        references: references(p.images)?,
        max_images: None,
        options: options(p.options),
    })
}

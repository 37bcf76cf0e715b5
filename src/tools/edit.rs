//! `edit_image`: a new image from 1–14 reference images and an instruction.

use super::params::EditImageParams;
use super::run::Ask;

pub fn ask(p: EditImageParams) -> Result<Ask, String> {
    if p.images.is_empty() {
        return Err(
            "Invalid argument `images`: edit_image needs 1 to 14 reference images, e.g. [\"https://example.com/photo.jpg\"]; \
             to draw from text alone use generate_image."
                .to_owned(),
        );
    }
    Ok(Ask {
        prompt: p.prompt,
        images: p.images,
        max_images: None,
        options: p.options,
    })
}

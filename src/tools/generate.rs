//! `generate_image`: one image from a text prompt.

use super::params::GenerateImageParams;
use super::run::Ask;

pub fn ask(p: GenerateImageParams) -> Result<Ask, String> {
    Ok(Ask {
        prompt: p.prompt,
        images: Vec::new(),
        max_images: None,
        options: p.options,
    })
}

//! `generate_sequence`: a set of related images (story panels, variations, a product series).

use super::params::GenerateSequenceParams;
use super::run::Ask;

pub fn ask(p: GenerateSequenceParams) -> Result<Ask, String> {
    Ok(Ask {
        prompt: p.prompt,
        images: p.images.unwrap_or_default(),
        max_images: Some(p.max_images),
        options: p.options,
    })
}

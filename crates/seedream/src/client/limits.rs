//! How long to wait for an answer and how large it may be, both grown from what was asked.

use std::time::Duration;

use crate::error::Error;
use crate::size::{Preset, Size};
use crate::stream::StreamLimits;
use crate::types::{ImageRequest, ResponseFormat};

/// How long to wait for the upstream (V25): generation is synchronous and slow.
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// For establishing the connection.
    pub connect: Duration,
    /// For one 2K image.
    pub base: Duration,
    /// Added for each further image a sequence may produce.
    pub per_extra_image: Duration,
    /// Never wait longer than this.
    pub max: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            base: Duration::from_secs(180),
            per_extra_image: Duration::from_secs(45),
            max: Duration::from_secs(900),
        }
    }
}

impl Timeouts {
    /// The read timeout for one request, grown with its image count and size.
    pub fn for_request(&self, request: &ImageRequest) -> Duration {
        let extra = request.max_outputs().saturating_sub(1);
        let pixels = requested_pixels(request);
        // 3K takes about 1.6x and 4K about 2.4x as long as 2K (seedream-api.md M14).
        let factor = (pixels as f64 / (4u64 << 20) as f64).clamp(1.0, 2.4);
        (self.base + self.per_extra_image * extra)
            .mul_f64(factor)
            .min(self.max)
    }
}

/// About how many pixels one image of `request` has.
fn requested_pixels(request: &ImageRequest) -> u64 {
    match request.size {
        Some(Size::Pixels { width, height }) => u64::from(width) * u64::from(height),
        Some(Size::Preset(p)) => match p {
            Preset::OneK => 1 << 20,
            Preset::TwoK => 4 << 20,
            Preset::ThreeK => 9 << 20,
            Preset::FourK => 16 << 20,
        },
        None => 4 << 20,
    }
}

/// JSON around the images (model, created, usage, ids), with room to spare.
const ENVELOPE_BYTES: u64 = 64 * 1024;
/// One `url` item: a signed URL is about 1 KB.
const URL_ITEM_BYTES: u64 = 64 * 1024;
/// How much of an error body is read. Envelopes are a few hundred bytes and only a 300-character
/// snippet is shown, so a gateway's 1.5 GB error page costs no more than this.
pub(crate) const ERROR_BODY_BYTES: usize = 64 * 1024;

/// How large an answer to `request` can legitimately be; anything past it is hostile or broken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnswerLimits {
    /// Positions the request allows (successes and failures).
    pub(crate) images: u32,
    /// One image item: a `b64_json` holds the whole image.
    pub(crate) item_bytes: u64,
    /// The whole body.
    pub(crate) total_bytes: u64,
}

impl AnswerLimits {
    pub(crate) fn for_request(request: &ImageRequest) -> AnswerLimits {
        let images = request.max_outputs().max(1);
        let item_bytes = match request.response_format {
            ResponseFormat::Url => URL_ITEM_BYTES,
            // 5 bytes per pixel covers an uncompressed RGBA PNG (4) plus aspect-ratio rounding
            // of the preset; real JPEGs are a tenth of that. Base64 adds a third. So a 2K image
            // may take 29 MB and fifteen 4K images 1.7 GB: legitimate answers always fit, and a
            // hostile one is stopped at what the request could have produced.
            ResponseFormat::B64Json => {
                let raw = requested_pixels(request).max(1 << 20) * 5 + (1 << 20);
                raw.div_ceil(3) * 4 + ENVELOPE_BYTES
            }
        };
        AnswerLimits {
            images,
            item_bytes,
            total_bytes: item_bytes
                .saturating_mul(u64::from(images))
                .saturating_add(ENVELOPE_BYTES),
        }
    }

    pub(crate) fn stream(&self) -> StreamLimits {
        StreamLimits {
            images: self.images as usize,
            line_bytes: usize::try_from(self.item_bytes).unwrap_or(usize::MAX),
            // Event lines and usage frames around the data.
            total_bytes: self.total_bytes.saturating_add(ENVELOPE_BYTES),
        }
    }

    pub(crate) fn too_large(&self) -> Error {
        Error::TooLarge {
            limit: self.total_bytes,
            images: self.images,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SequentialMode, SequentialOptions};

    fn request(size: Size, max_images: Option<u8>) -> ImageRequest {
        ImageRequest {
            model: "m".into(),
            prompt: "p".into(),
            image: vec![],
            size: Some(size),
            sequential_image_generation: max_images.map(|_| SequentialMode::Auto),
            sequential_image_generation_options: max_images
                .map(|max_images| SequentialOptions { max_images }),
            stream: None,
            response_format: ResponseFormat::Url,
            watermark: false,
            output_format: None,
            seed: None,
            guidance_scale: None,
            background: None,
            optimize_prompt_options: None,
            tools: Vec::new(),
        }
    }

    #[test]
    fn timeouts_grow_with_image_count_and_size_up_to_the_cap() {
        let t = Timeouts::default();
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::TwoK), None)),
            Duration::from_secs(180)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::TwoK), Some(4))),
            Duration::from_secs(315)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::FourK), None)),
            Duration::from_secs(432)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::FourK), Some(15))),
            Duration::from_secs(900)
        );
    }
}

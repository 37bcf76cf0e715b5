//! Per-call caps: the most images and the highest estimated cost one call may ask for, checked
//! on the prepared request before references are read or anything goes upstream. The check
//! takes the worst case (every image of a sequence made), because the model picks the count.

use seedream::{ImageRequest, Preset, Rules, Size};

use super::cost::amount;

/// The per-call caps; `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallCaps {
    pub max_images: Option<u32>,
    pub max_cost: Option<f64>,
}

impl CallCaps {
    /// Why `request` may not be sent, phrased for the caller: which cap, by how much, how to
    /// stay under it and how to raise it. `None` when it fits.
    pub fn refusal(&self, request: &ImageRequest, rules: &Rules, currency: &str) -> Option<String> {
        let images = request.max_outputs();
        if let Some(cap) = self.max_images
            && images > cap
        {
            return Some(format!(
                "this call may make up to {images} images, over the per-call cap of {cap}: ask for at most {cap} \
                 (max_images), or raise the cap (--max-images-per-call / SEEDREAM_MAX_IMAGES_PER_CALL)"
            ));
        }
        let cap = self.max_cost?;
        let Some(worst) = worst_case(request, rules).1 else {
            return Some(format!(
                "a per-call cost cap of {} {currency} is set and this model has no known price, so its cost \
                 cannot be checked: set its price in SEEDREAM_MODELS_FILE, or pick a model with a price",
                amount(cap)
            ));
        };
        (worst > cap + 1e-9).then(|| {
            format!(
                "this call may cost up to {} {currency} (estimate for {images} image{}), over the per-call cap of {} \
                 {currency}: ask for fewer images or a cheaper model, or raise the cap (--max-cost-per-call / \
                 SEEDREAM_MAX_COST_PER_CALL)",
                amount(worst),
                if images == 1 { "" } else { "s" },
                amount(cap)
            )
        })
    }
}

/// The most images `request` may make and their estimated cost (`None` without a price): every
/// image of a sequence made, tokens counted as the upstream does (pixels / 256).
pub fn worst_case(request: &ImageRequest, rules: &Rules) -> (u64, Option<f64>) {
    let images = u64::from(request.max_outputs());
    let tokens = pixels(request) * images / 256;
    let cost = rules
        .price
        .map(|p| p.estimate(images, request.image.len() as u64, tokens));
    (images, cost)
}

/// Pixels of one image: exact sizes as given, a preset as its square.
fn pixels(request: &ImageRequest) -> u64 {
    match request.size {
        Some(Size::Pixels { width, height }) => u64::from(width) * u64::from(height),
        Some(Size::Preset(p)) => {
            let side: u64 = match p {
                Preset::OneK => 1024,
                Preset::TwoK => 2048,
                Preset::ThreeK => 3072,
                Preset::FourK => 4096,
            };
            side * side
        }
        None => 2048 * 2048,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use seedream::{GenerationSpec, Model, Profile, ResponseFormat, prepare};

    /// A prepared text-to-image request (a sequence of up to `max_images` when given) at 2K.
    pub(in crate::spend) fn request(model: Model, max_images: Option<u32>) -> ImageRequest {
        let spec = GenerationSpec {
            model,
            prompt: "a fox".into(),
            size: None,
            aspect_ratio: None,
            images: vec![],
            max_images,
            response_format: ResponseFormat::Url,
            output_format: None,
            watermark: false,
            seed: None,
            guidance_scale: None,
            background: None,
            prompt_mode: None,
            web_search: false,
        };
        prepare(spec, Size::Preset(Preset::TwoK), &Profile::default())
            .unwrap()
            .request
    }

    pub(in crate::spend) fn rules(model: &Model) -> Rules {
        model.rules(&Profile::default())
    }

    #[test]
    fn a_sequence_over_the_image_cap_is_refused_naming_the_cap_and_its_variable() {
        let caps = CallCaps {
            max_images: Some(4),
            max_cost: None,
        };
        let r = request(Model::V45, Some(6));
        let why = caps.refusal(&r, &rules(&Model::V45), "USD").unwrap();
        assert!(
            why.contains("up to 6 images") && why.contains("SEEDREAM_MAX_IMAGES_PER_CALL"),
            "{why}"
        );
        assert!(
            caps.refusal(&request(Model::V45, Some(4)), &rules(&Model::V45), "USD")
                .is_none()
        );
    }

    #[test]
    fn a_call_whose_worst_case_estimate_is_over_the_cost_cap_is_refused() {
        let caps = CallCaps {
            max_images: None,
            max_cost: Some(0.5),
        };
        let why = caps
            .refusal(&request(Model::V45, Some(15)), &rules(&Model::V45), "USD")
            .unwrap();
        assert!(
            why.contains("up to 0.60 USD") && why.contains("cap of 0.50 USD"),
            "{why}"
        );
        assert!(
            caps.refusal(&request(Model::V45, None), &rules(&Model::V45), "USD")
                .is_none()
        );
        let flash = caps
            .refusal(
                &request(Model::Flash50, None),
                &rules(&Model::Flash50),
                "USD",
            )
            .unwrap();
        assert!(flash.contains("no known price"), "{flash}");
    }
}

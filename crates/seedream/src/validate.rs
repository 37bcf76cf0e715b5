//! Turns what a caller asked for into a request the chosen model accepts (checklist V1–V21),
//! or says precisely which parameter is wrong and what would be right.

use super::model::{Model, Profile, Rules};
use super::reference::{self, MAX_REFERENCES};
use super::size::{AspectRatio, Preset, Size};
use super::types::{ImageRequest, OutputFormat, ResponseFormat, SequentialMode, SequentialOptions};

/// Longest prompt accepted (a policy: the upstream documents no hard limit).
pub const MAX_PROMPT_CHARS: usize = 10_000;
/// Most images one request may involve, references and outputs together.
pub const MAX_TOTAL_IMAGES: usize = 15;

/// A parameter the caller must change. `message` says what is valid, with an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{param}`: {message}")]
pub struct ValidationError {
    pub param: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(param: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            param: param.into(),
            message: message.into(),
        }
    }
}

/// What the caller asked for, before any model rule is applied.
#[derive(Debug, Clone)]
pub struct GenerationSpec {
    pub model: Model,
    pub prompt: String,
    pub size: Option<Size>,
    pub aspect_ratio: Option<AspectRatio>,
    pub images: Vec<String>,
    /// `Some(n)` asks for a sequence of up to `n` images.
    pub max_images: Option<u32>,
    pub response_format: ResponseFormat,
    pub output_format: Option<OutputFormat>,
    pub watermark: bool,
    pub seed: Option<i64>,
    pub guidance_scale: Option<f64>,
}

/// A request ready to send, with what was changed on the way.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub request: ImageRequest,
    pub model: Model,
    /// Things the caller should know: dropped fields, relabelled images, warnings.
    pub notes: Vec<String>,
}

/// Applies the model's rules. `default_size` is used when neither `size` nor `aspect_ratio` is given.
pub fn prepare(
    spec: GenerationSpec,
    default_size: Size,
    profile: &Profile,
) -> Result<Prepared, ValidationError> {
    let rules = spec.model.rules(profile);
    let mut notes = Vec::new();

    let prompt = check_prompt(&spec.prompt, &mut notes)?;
    let size = resolve_size(&spec, default_size, &rules)?;

    if spec.images.len() > MAX_REFERENCES {
        return Err(ValidationError::new(
            "images",
            format!(
                "{} reference images were given; at most {MAX_REFERENCES} are allowed",
                spec.images.len()
            ),
        ));
    }
    let mut image = Vec::with_capacity(spec.images.len());
    for (i, raw) in spec.images.iter().enumerate() {
        let r = reference::check(i, raw, profile.reference_max_bytes)?;
        notes.extend(r.note);
        image.push(r.wire);
    }

    let (sequential_image_generation, sequential_image_generation_options) = match spec.max_images {
        None => (None, None),
        Some(n) => {
            let max_images = check_max_images(n, image.len())?;
            (
                Some(SequentialMode::Auto),
                Some(SequentialOptions { max_images }),
            )
        }
    };

    let output_format = match spec.output_format {
        Some(f) if !rules.output_format => {
            notes.push(format!(
                "output_format `{}` was not sent: {} only returns JPEG (PNG needs Seedream 5.0 lite)",
                if f == OutputFormat::Png { "png" } else { "jpeg" },
                spec.model.label()
            ));
            None
        }
        other => other,
    };

    let (seed, guidance_scale) = check_seed_and_guidance(&spec, &rules, &mut notes)?;

    let mut response_format = spec.response_format;
    if response_format == ResponseFormat::B64Json && is_large(size, spec.max_images) {
        // Inline base64 for big or many images makes responses of tens of megabytes (V5).
        response_format = ResponseFormat::Url;
        notes.push(
            "response_format b64_json was changed to url: for 3K/4K sizes or more than 3 images the images are \
             returned as download links"
                .to_owned(),
        );
    }

    let request = ImageRequest {
        model: spec.model.id().to_owned(),
        prompt,
        image,
        size: Some(size),
        sequential_image_generation,
        sequential_image_generation_options,
        stream: (profile.stream_sequences && spec.max_images.is_some_and(|n| n > 1))
            .then_some(true),
        response_format,
        watermark: spec.watermark,
        output_format,
        seed,
        guidance_scale,
    };
    Ok(Prepared {
        request,
        model: spec.model,
        notes,
    })
}

fn check_prompt(raw: &str, notes: &mut Vec<String>) -> Result<String, ValidationError> {
    let prompt = raw.trim();
    if prompt.is_empty() {
        return Err(ValidationError::new(
            "prompt",
            "the prompt is empty: describe the image, e.g. \"a red fox in fresh snow, golden hour, photo\"",
        ));
    }
    let chars = prompt.chars().count();
    if chars > MAX_PROMPT_CHARS {
        return Err(ValidationError::new(
            "prompt",
            format!(
                "the prompt has {chars} characters; at most {MAX_PROMPT_CHARS} are accepted (best results under 600 words)"
            ),
        ));
    }
    let cjk = prompt
        .chars()
        .filter(|c| matches!(*c as u32, 0x3400..=0x9FFF | 0xF900..=0xFAFF))
        .count();
    let words = prompt.split_whitespace().count();
    if cjk > 300 || words > 600 {
        notes.push("the prompt is long (over 300 Chinese characters or 600 words); the model may ignore its end".to_owned());
    }
    Ok(prompt.to_owned())
}

fn resolve_size(
    spec: &GenerationSpec,
    default_size: Size,
    rules: &Rules,
) -> Result<Size, ValidationError> {
    let size = match (spec.size, spec.aspect_ratio) {
        (Some(Size::Pixels { width, height }), Some(ratio)) => {
            return Err(ValidationError::new(
                "aspect_ratio",
                format!(
                    "give either size as pixels ({width}x{height}) or aspect_ratio ({}), not both; e.g. size \"2K\" with aspect_ratio \"16:9\"",
                    ratio_text(ratio)
                ),
            ));
        }
        (Some(Size::Preset(p)), Some(ratio)) => pixels_for(p, ratio),
        (None, Some(ratio)) => match default_size {
            Size::Preset(p) => pixels_for(p, ratio),
            Size::Pixels { .. } => pixels_for(Preset::TwoK, ratio),
        },
        (Some(size), None) => size,
        (None, None) => default_size,
    };
    check_size(size, spec, rules)?;
    Ok(size)
}

fn pixels_for(preset: Preset, ratio: AspectRatio) -> Size {
    let (width, height) = ratio.pixels(preset);
    Size::Pixels { width, height }
}

fn check_size(size: Size, spec: &GenerationSpec, rules: &Rules) -> Result<(), ValidationError> {
    let range = || {
        format!(
            "{} accepts the presets {} or WIDTHxHEIGHT with {} to {} pixels and an aspect ratio between 1:16 and 16:1, e.g. 2048x2048 or 2848x1600",
            spec.model.label(),
            rules.presets_text(),
            group(rules.pixels.0),
            group(rules.pixels.1)
        )
    };
    match size {
        Size::Preset(p) if !rules.presets.contains(&p) => Err(ValidationError::new(
            "size",
            format!("`{}` is not available: {}", p.as_str(), range()),
        )),
        Size::Preset(_) => Ok(()),
        Size::Pixels { width, height } => {
            let pixels = u64::from(width) * u64::from(height);
            let (w, h) = (u64::from(width), u64::from(height));
            let param = if spec.size.is_some() {
                "size"
            } else {
                "aspect_ratio"
            };
            if pixels < rules.pixels.0 || pixels > rules.pixels.1 {
                return Err(ValidationError::new(
                    param,
                    format!("{width}x{height} is {} pixels: {}", group(pixels), range()),
                ));
            }
            if w > 16 * h || h > 16 * w {
                return Err(ValidationError::new(
                    param,
                    format!("{width}x{height} is too narrow: {}", range()),
                ));
            }
            Ok(())
        }
    }
}

fn check_max_images(n: u32, references: usize) -> Result<u8, ValidationError> {
    let Some(small) = u8::try_from(n).ok().filter(|n| (1..=15).contains(n)) else {
        return Err(ValidationError::new(
            "max_images",
            format!("{n} is out of range: use 1 to 15, e.g. 4"),
        ));
    };
    if references + usize::from(small) > MAX_TOTAL_IMAGES {
        return Err(ValidationError::new(
            "max_images",
            format!(
                "{references} reference images plus max_images {n} is more than {MAX_TOTAL_IMAGES} images in all: \
                 with {references} references use max_images {} at most, or pass fewer references",
                MAX_TOTAL_IMAGES - references
            ),
        ));
    }
    Ok(small)
}

fn check_seed_and_guidance(
    spec: &GenerationSpec,
    rules: &Rules,
    notes: &mut Vec<String>,
) -> Result<(Option<i64>, Option<f64>), ValidationError> {
    if let Some(seed) = spec.seed
        && !(-1..=2_147_483_647).contains(&seed)
    {
        return Err(ValidationError::new(
            "seed",
            format!("{seed} is out of range: use -1 (random) to 2147483647, e.g. 42"),
        ));
    }
    if let Some(g) = spec.guidance_scale
        && !(1.0..=10.0).contains(&g)
    {
        return Err(ValidationError::new(
            "guidance_scale",
            format!("{g} is out of range: use 1.0 to 10.0, e.g. 2.5"),
        ));
    }
    if rules.seed_and_guidance {
        return Ok((spec.seed, spec.guidance_scale));
    }
    let dropped: Vec<&str> = [
        ("seed", spec.seed.is_some()),
        ("guidance_scale", spec.guidance_scale.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect();
    if !dropped.is_empty() {
        notes.push(format!(
            "{} not sent: {} ignores it",
            dropped.join(" and "),
            spec.model.label()
        ));
    }
    Ok((None, None))
}

fn is_large(size: Size, max_images: Option<u32>) -> bool {
    let big = match size {
        Size::Preset(p) => p >= Preset::ThreeK,
        Size::Pixels { width, height } => u64::from(width) * u64::from(height) > 6_000_000,
    };
    big || max_images.is_some_and(|n| n > 3)
}

fn ratio_text(r: AspectRatio) -> String {
    serde_json::to_value(r)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// 3686400 → "3,686,400": limits in messages are read by people.
pub fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(model: Model) -> GenerationSpec {
        GenerationSpec {
            model,
            prompt: "a red fox".into(),
            size: None,
            aspect_ratio: None,
            images: vec![],
            max_images: None,
            response_format: ResponseFormat::Url,
            output_format: None,
            watermark: false,
            seed: None,
            guidance_scale: None,
        }
    }

    fn with_size(model: Model, size: &str) -> Result<Prepared, ValidationError> {
        let mut s = spec(model);
        s.size = Some(size.parse().unwrap());
        prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
    }

    #[test]
    fn documented_sizes_are_accepted_per_model() {
        for (model, size) in [
            (Model::Lite50, "3750x1250"),
            (Model::V45, "3750x1250"),
            (Model::Lite50, "3K"),
            (Model::Lite50, "4K"),
            (Model::V45, "4K"),
            (Model::V40, "1K"),
            (Model::V40, "1280x720"),
            (Model::V45, "2560x1440"),
        ] {
            assert!(with_size(model.clone(), size).is_ok(), "{model} {size}");
        }
    }

    #[test]
    fn documented_invalid_sizes_are_refused_with_the_valid_range() {
        for (model, size, expected) in [
            (Model::Lite50, "1500x1500", "3,686,400 to 16,777,216"),
            (Model::V45, "1500x1500", "3,686,400"),
            (Model::V40, "800x800", "921,600"),
            (Model::V45, "1K", "2K or 4K"),
            (Model::V40, "3K", "1K, 2K or 4K"),
            (Model::V45, "9000x560", "too narrow"),
            (Model::V45, "5000x5000", "16,777,216"),
        ] {
            let e = with_size(model.clone(), size).unwrap_err();
            assert_eq!(e.param, "size");
            assert!(e.message.contains(expected), "{model} {size}: {e}");
            assert!(e.message.contains("e.g. 2048x2048"), "{e}");
        }
    }

    #[test]
    fn lite_without_4k_refuses_4k_and_more_than_ten_megapixels() {
        let profile = Profile {
            lite_4k: false,
            ..Profile::default()
        };
        let mut s = spec(Model::Lite50);
        s.size = Some(Size::Preset(Preset::FourK));
        assert!(prepare(s.clone(), Size::Preset(Preset::TwoK), &profile).is_err());
        s.size = Some("4096x4096".parse().unwrap());
        assert!(
            prepare(s, Size::Preset(Preset::TwoK), &profile)
                .unwrap_err()
                .message
                .contains("10,404,496")
        );
    }

    #[test]
    fn an_aspect_ratio_becomes_the_recommended_pixels_of_the_preset() {
        let mut s = spec(Model::V45);
        s.aspect_ratio = Some(AspectRatio::Wide16x9);
        let p = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(
            p.request.size,
            Some(Size::Pixels {
                width: 2848,
                height: 1600
            })
        );
        s.size = Some(Size::Preset(Preset::FourK));
        let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(
            p.request.size,
            Some(Size::Pixels {
                width: 5504,
                height: 3040
            })
        );
    }

    #[test]
    fn pixels_and_an_aspect_ratio_together_are_refused() {
        let mut s = spec(Model::V45);
        s.size = Some("2048x2048".parse().unwrap());
        s.aspect_ratio = Some(AspectRatio::Square);
        assert_eq!(
            prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .param,
            "aspect_ratio"
        );
    }

    #[test]
    fn empty_and_huge_prompts_are_refused() {
        let mut s = spec(Model::V45);
        s.prompt = "   ".into();
        assert_eq!(
            prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .param,
            "prompt"
        );
        s.prompt = "x".repeat(MAX_PROMPT_CHARS + 1);
        assert!(
            prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .message
                .contains("10000")
        );
    }

    #[test]
    fn unsupported_fields_are_dropped_with_a_note() {
        let mut s = spec(Model::V45);
        s.output_format = Some(OutputFormat::Png);
        s.seed = Some(42);
        s.guidance_scale = Some(3.0);
        let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(
            (
                p.request.output_format,
                p.request.seed,
                p.request.guidance_scale
            ),
            (None, None, None)
        );
        assert!(p.notes.iter().any(|n| n.contains("output_format")));
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("seed and guidance_scale"))
        );
    }

    #[test]
    fn unknown_models_get_every_field_passed_through() {
        let mut s = spec(Model::Other("doubao-seedream-9".into()));
        s.output_format = Some(OutputFormat::Png);
        s.seed = Some(7);
        let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(p.request.model, "doubao-seedream-9");
        assert_eq!(
            (p.request.output_format, p.request.seed),
            (Some(OutputFormat::Png), Some(7))
        );
        assert!(p.notes.is_empty());
    }

    #[test]
    fn out_of_range_seed_and_guidance_are_refused() {
        let mut s = spec(Model::Other("x".into()));
        s.seed = Some(-2);
        assert_eq!(
            prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .param,
            "seed"
        );
        s.seed = None;
        s.guidance_scale = Some(11.0);
        assert_eq!(
            prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .param,
            "guidance_scale"
        );
    }

    #[test]
    fn references_plus_max_images_may_not_exceed_fifteen() {
        let mut s = spec(Model::Lite50);
        s.images = vec!["https://example.com/a.png".into(); 3];
        s.max_images = Some(13);
        let e = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap_err();
        assert_eq!(e.param, "max_images");
        assert!(e.message.contains("max_images 12 at most"), "{e}");
        s.max_images = Some(12);
        let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(
            p.request.sequential_image_generation_options,
            Some(SequentialOptions { max_images: 12 })
        );
    }

    #[test]
    fn fifteen_references_are_refused() {
        let mut s = spec(Model::Lite50);
        s.images = vec!["https://example.com/a.png".into(); 15];
        assert_eq!(
            prepare(s, Size::Preset(Preset::TwoK), &Profile::default())
                .unwrap_err()
                .param,
            "images"
        );
    }

    #[test]
    fn inline_base64_is_switched_to_urls_for_large_outputs() {
        let mut s = spec(Model::V45);
        s.response_format = ResponseFormat::B64Json;
        s.size = Some(Size::Preset(Preset::FourK));
        let p = prepare(s.clone(), Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(p.request.response_format, ResponseFormat::Url);
        s.size = None;
        let p = prepare(s, Size::Preset(Preset::TwoK), &Profile::default()).unwrap();
        assert_eq!(p.request.response_format, ResponseFormat::B64Json);
    }

    #[test]
    fn numbers_are_grouped_for_reading() {
        assert_eq!(group(3_686_400), "3,686,400");
        assert_eq!(group(999), "999");
    }
}

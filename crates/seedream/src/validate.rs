//! Turns what a caller asked for into a request the chosen model accepts (checklist V1–V21),
//! or says precisely which parameter is wrong and what would be right.

use super::model::{Model, Profile, Rules};
use super::reference::{self, MAX_REFERENCES};
use super::size::{AspectRatio, Preset, Size};
use super::types::{Background, PromptMode};
use super::types::{ImageRequest, OutputFormat, ResponseFormat, SequentialOptions};

/// Longest prompt accepted (a policy: the upstream documents no hard limit).
pub const MAX_PROMPT_CHARS: usize = 10_000;
/// Most images one request may involve, references and outputs together.
pub const MAX_TOTAL_IMAGES: usize = 15;
/// Most images one sequence may ask for (`max_images`).
pub const MAX_SEQUENCE_IMAGES: u8 = 15;

/// A parameter the caller must change. `message` says what is valid, with an example.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{param}`: {message}")]
pub struct ValidationError {
    /// The parameter, as the caller named it (`size`, `images[2]`).
    pub param: String,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl ValidationError {
    /// An error for `param`.
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
    /// The model.
    pub model: Model,
    /// What to draw.
    pub prompt: String,
    /// A preset or exact pixels.
    pub size: Option<Size>,
    /// A shape, turned into the recommended pixels of the size's preset.
    pub aspect_ratio: Option<AspectRatio>,
    /// Reference images: URLs or `data:` URIs.
    pub images: Vec<String>,
    /// `Some(n)` asks for a sequence of up to `n` images.
    pub max_images: Option<u32>,
    /// Links or inline images.
    pub response_format: ResponseFormat,
    /// JPEG or PNG, where the model honours it.
    pub output_format: Option<OutputFormat>,
    /// Whether to add the AI-generated mark.
    pub watermark: bool,
    /// A seed, where the model honours it.
    pub seed: Option<i64>,
    /// Prompt adherence, where the model honours it.
    pub guidance_scale: Option<f64>,
    /// Transparent or opaque, where the model can make transparent images.
    pub background: Option<Background>,
    /// Prompt optimisation mode; `standard` is the upstream default and is not sent.
    pub prompt_mode: Option<PromptMode>,
    /// Let the model search the web first, where it can.
    pub web_search: bool,
}

/// A request ready to send, with what was changed on the way.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The body to send.
    pub request: ImageRequest,
    /// The model it is for.
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
    let image = check_references(&spec, &rules, profile, &mut notes)?;
    let (sequential_image_generation, sequential_image_generation_options) = match spec.max_images {
        None => (None, None),
        Some(n) => {
            let max_images = check_max_images(n, image.len())?;
            extras::check_sequences(&spec, &rules, max_images)?
        }
    };
    let mut output_format = check_output_format(&spec, &rules, &mut notes);
    let background = extras::check_background(&spec, &rules, &mut output_format, &mut notes)?;
    let optimize_prompt_options = extras::check_prompt_mode(&spec, &rules)?;
    let tools = extras::check_web_search(&spec, &rules)?;
    let (seed, guidance_scale) = extras::check_seed_and_guidance(&spec, &rules, &mut notes)?;
    let response_format = check_response_format(&spec, size, &mut notes);
    let stream = profile.stream_sequences
        && rules.streaming
        && sequential_image_generation_options
            .as_ref()
            .is_some_and(|o: &SequentialOptions| o.max_images > 1);

    let request = ImageRequest {
        model: spec.model.id().to_owned(),
        prompt,
        image,
        size: Some(size),
        sequential_image_generation,
        sequential_image_generation_options,
        stream: stream.then_some(true),
        response_format,
        watermark: spec.watermark,
        output_format,
        background,
        optimize_prompt_options,
        tools,
        seed,
        guidance_scale,
    };
    Ok(Prepared {
        request,
        model: spec.model,
        notes,
    })
}

fn check_references(
    spec: &GenerationSpec,
    rules: &Rules,
    profile: &Profile,
    notes: &mut Vec<String>,
) -> Result<Vec<String>, ValidationError> {
    let images = &spec.images;
    if images.len() > MAX_REFERENCES {
        return Err(ValidationError::new(
            "images",
            format!(
                "{} reference images were given; at most {MAX_REFERENCES} are allowed",
                images.len()
            ),
        ));
    }
    if images.len() > rules.max_references {
        return Err(ValidationError::new(
            "images",
            format!(
                "{} reference images were given; {} takes at most {}",
                images.len(),
                spec.model.label(),
                rules.max_references
            ),
        ));
    }
    let limits = profile.reference_limits();
    let mut wire = Vec::with_capacity(images.len());
    for (i, raw) in images.iter().enumerate() {
        let r = reference::check(i, raw, &limits)?;
        notes.extend(r.note);
        wire.push(r.wire);
    }
    Ok(wire)
}

fn check_output_format(
    spec: &GenerationSpec,
    rules: &Rules,
    notes: &mut Vec<String>,
) -> Option<OutputFormat> {
    match spec.output_format {
        Some(f) if !rules.output_format => {
            notes.push(format!(
                "output_format `{}` was not sent: {} only returns JPEG (PNG needs Seedream 5.0 lite)",
                if f == OutputFormat::Png { "png" } else { "jpeg" },
                spec.model.label()
            ));
            None
        }
        other => other,
    }
}

fn check_response_format(
    spec: &GenerationSpec,
    size: Size,
    notes: &mut Vec<String>,
) -> ResponseFormat {
    if spec.response_format == ResponseFormat::B64Json && is_large(size, spec.max_images) {
        // Inline base64 for big or many images makes responses of tens of megabytes (V5).
        notes.push(
            "response_format b64_json was changed to url: for 3K/4K sizes or more than 3 images the images are \
             returned as download links"
                .to_owned(),
        );
        return ResponseFormat::Url;
    }
    spec.response_format
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
    let Some(small) = u8::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_SEQUENCE_IMAGES).contains(n))
    else {
        return Err(ValidationError::new(
            "max_images",
            format!("{n} is out of range: use 1 to {MAX_SEQUENCE_IMAGES}, e.g. 4"),
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
pub(crate) fn group(n: u64) -> String {
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

mod extras;

#[cfg(test)]
mod tests;

//! The options only some models have: sequences, transparent backgrounds, the prompt
//! optimisation mode, web search, seed and guidance. Each is refused on a model without it, never silently dropped: a caller who
//! asked for a transparent image and got an opaque one has paid for the wrong thing.

use super::{GenerationSpec, ValidationError};
use crate::model::Rules;
use crate::types::{
    Background, OutputFormat, PromptMode, PromptOptions, SequentialMode, SequentialOptions, Tool,
};

/// `background`: transparent needs a model that makes alpha channels and PNG output, so PNG
/// is asked for explicitly; JPEG with transparency is refused. `opaque` is what every other
/// model makes anyway, so there it is not sent.
pub(super) fn check_background(
    spec: &GenerationSpec,
    rules: &Rules,
    output_format: &mut Option<OutputFormat>,
    notes: &mut Vec<String>,
) -> Result<Option<Background>, ValidationError> {
    match spec.background {
        None => Ok(None),
        Some(Background::Opaque) if !rules.transparent => {
            notes.push(format!(
                "background opaque was not sent: {} only makes opaque images",
                spec.model.label()
            ));
            Ok(None)
        }
        Some(Background::Transparent) if !rules.transparent => Err(ValidationError::new(
            "background",
            format!(
                "{} cannot make transparent images: use model \"5.5\" for a transparent PNG, or leave background out",
                spec.model.label()
            ),
        )),
        Some(Background::Transparent) if spec.output_format == Some(OutputFormat::Jpeg) => {
            Err(ValidationError::new(
                "background",
                "a transparent background needs PNG: use output_format \"png\" (or leave it out)",
            ))
        }
        Some(Background::Transparent) => {
            *output_format = Some(OutputFormat::Png);
            Ok(Some(Background::Transparent))
        }
        Some(Background::Opaque) => Ok(Some(Background::Opaque)),
    }
}

/// `prompt_mode`: `standard` is the upstream default and is not sent (V20); `fast` only where
/// the model has it.
pub(super) fn check_prompt_mode(
    spec: &GenerationSpec,
    rules: &Rules,
) -> Result<Option<PromptOptions>, ValidationError> {
    match spec.prompt_mode {
        None | Some(PromptMode::Standard) => Ok(None),
        Some(PromptMode::Fast) if rules.fast_prompt => Ok(Some(PromptOptions {
            mode: PromptMode::Fast,
        })),
        Some(PromptMode::Fast) => Err(ValidationError::new(
            "prompt_mode",
            format!(
                "{} has no fast prompt mode: use \"standard\" (or leave it out), or model \"4.0\" or \"5.0-pro\"",
                spec.model.label()
            ),
        )),
    }
}

/// `web_search`: `tools: [{"type":"web_search"}]` where the model has it (V21).
pub(super) fn check_web_search(
    spec: &GenerationSpec,
    rules: &Rules,
) -> Result<Vec<Tool>, ValidationError> {
    if !spec.web_search {
        return Ok(Vec::new());
    }
    if !rules.web_search {
        return Err(ValidationError::new(
            "web_search",
            format!(
                "{} cannot search the web: use model \"5.0\" (5.0 lite), or leave web_search out",
                spec.model.label()
            ),
        ));
    }
    Ok(vec![Tool { kind: "web_search" }])
}

/// A sequence on a model that makes one image per call is refused, not silently cut to one;
/// `max_images: 1` needs no sequence and is sent as a single image.
type Sequential = (Option<SequentialMode>, Option<SequentialOptions>);

pub(super) fn check_sequences(
    spec: &GenerationSpec,
    rules: &Rules,
    max_images: u8,
) -> Result<Sequential, ValidationError> {
    if rules.sequences {
        return Ok((
            Some(SequentialMode::Auto),
            Some(SequentialOptions { max_images }),
        ));
    }
    if max_images == 1 {
        return Ok((None, None));
    }
    Err(ValidationError::new(
        "max_images",
        format!(
            "{} makes one image per call, not sequences: use max_images 1, call it several times, or pick a model \
             that makes sequences (5.0, 4.5, 4.0)",
            spec.model.label()
        ),
    ))
}

pub(super) fn check_seed_and_guidance(
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

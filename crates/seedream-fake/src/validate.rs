//! Request validation with Ark semantics (M4): 400 `BadRequest` naming the field, real
//! messages where known; unsupported fields ignored (noted) unless `strict_unsupported`.

use serde_json::{Map, Value};

use super::config::FakeConfig;
use super::errors::ArkError;
use super::images::Fmt;
use super::models::ModelRules;
use super::refs::{self, RefImage};
use super::sizes::SizeSpec;

/// The most images a group may hold, references included.
pub(crate) const GROUP_LIMIT: u32 = 15;

/// Fields the fake API understands; anything else is "not supported by the current model".
const KNOWN: [&str; 13] = [
    "model",
    "prompt",
    "image",
    "size",
    "sequential_image_generation",
    "sequential_image_generation_options",
    "stream",
    "response_format",
    "watermark",
    "output_format",
    "optimize_prompt_options",
    "tools",
    "background",
];

/// A request that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GenRequest {
    pub model: String,
    pub rules: ModelRules,
    /// The prompt with `[[fake:…]]` tokens stripped.
    pub prompt: String,
    pub refs: Vec<RefImage>,
    pub size: SizeSpec,
    /// `sequential_image_generation:"auto"`.
    pub group: bool,
    /// `max_images` as sent (default 15), before capping.
    pub max_images: u32,
    pub stream: bool,
    pub b64: bool,
    pub fmt: Fmt,
    pub fast_mode: bool,
    pub web_search: bool,
    /// `background:"transparent"` (5.5).
    pub transparent: bool,
    /// Defaults applied and fields ignored, for `RecordedRequest::notes`.
    pub notes: Vec<String>,
}

/// Validates `body` for `model` (already known to follow `rules`).
pub(crate) fn validate(
    body: &Map<String, Value>,
    prompt: &str,
    model: &str,
    rules: ModelRules,
    config: &FakeConfig,
) -> Result<GenRequest, ArkError> {
    let mut v = Fields {
        body,
        notes: Vec::new(),
        strict: config.strict_unsupported,
    };
    match body.get("prompt") {
        None | Some(Value::Null) => return Err(ArkError::missing("prompt")),
        Some(Value::String(_)) if !prompt.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(ArkError::missing("prompt")),
        Some(_) => return Err(ArkError::invalid("prompt", "must be a string")),
    }
    let refs = match v.get("image") {
        Some(value) => refs::check(value, config.ref_limit_bytes)?,
        None => Vec::new(),
    };
    let size = match v.get("size") {
        None => SizeSpec::Exact(2048, 2048),
        Some(Value::String(s)) => rules
            .check_size(s)
            .map_err(|why| ArkError::invalid("size", &why))?,
        Some(_) => return Err(ArkError::invalid("size", "must be a string")),
    };
    let (group, max_images, stream) = v.group(&rules, refs.len(), config)?;
    let b64 = v.str_enum("response_format", &["url", "b64_json"])? == Some("b64_json");
    if v.bool("watermark")?.is_none() {
        v.note("watermark absent: the upstream default true applies");
    }
    let mut fmt = if rules.is_v55() { Fmt::Png } else { Fmt::Jpeg };
    if rules.has_output_format() {
        match v.str_enum("output_format", &["jpeg", "png"])? {
            Some("png") => fmt = Fmt::Png,
            Some(_) => fmt = Fmt::Jpeg,
            None => {}
        }
    } else if v.get("output_format").is_some() {
        v.unsupported("output_format")?;
    }
    let transparent = v.background(&rules, fmt)?;
    let fast_mode = v.optimize_prompt(&rules)?;
    let web_search = v.tools(&rules)?;
    for key in body.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        v.unsupported(key)?;
    }
    Ok(GenRequest {
        model: model.to_owned(),
        rules,
        prompt: prompt.to_owned(),
        refs,
        size,
        group,
        max_images,
        stream,
        b64,
        fmt,
        fast_mode,
        web_search,
        transparent,
        notes: v.notes,
    })
}

/// Field access that treats `null` as absent (as Ark's Go decoder does) and collects notes.
struct Fields<'a> {
    body: &'a Map<String, Value>,
    notes: Vec<String>,
    strict: bool,
}

impl<'a> Fields<'a> {
    fn get(&mut self, name: &str) -> Option<&'a Value> {
        match self.body.get(name) {
            Some(Value::Null) => {
                self.note(&format!("{name} is null: treated as absent"));
                None
            }
            other => other,
        }
    }

    fn note(&mut self, text: &str) {
        self.notes.push(text.to_owned());
    }

    /// Ignored with a note, or rejected when strict.
    fn unsupported(&mut self, name: &str) -> Result<(), ArkError> {
        if self.strict {
            return Err(ArkError::unsupported(name));
        }
        self.note(&format!(
            "{name} ignored: not supported by the current model"
        ));
        Ok(())
    }

    fn bool(&mut self, name: &str) -> Result<Option<bool>, ArkError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ArkError::invalid(name, "must be a boolean")),
        }
    }

    fn str_enum(
        &mut self,
        name: &str,
        allowed: &[&'static str],
    ) -> Result<Option<&'static str>, ArkError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let found = value
            .as_str()
            .and_then(|s| allowed.iter().find(|a| **a == s));
        match found {
            Some(a) => Ok(Some(*a)),
            None => Err(ArkError::invalid(
                name,
                &format!("must be one of: {}", allowed.join(", ")),
            )),
        }
    }

    fn max_images(
        &mut self,
        group: bool,
        refs: usize,
        config: &FakeConfig,
    ) -> Result<u32, ArkError> {
        const FIELD: &str = "sequential_image_generation_options.max_images";
        let Some(options) = self.get("sequential_image_generation_options") else {
            return Ok(GROUP_LIMIT);
        };
        let Value::Object(options) = options else {
            return Err(ArkError::invalid(
                "sequential_image_generation_options",
                "must be an object",
            ));
        };
        if !group {
            self.note("sequential_image_generation_options ignored: sequential_image_generation is not auto");
        }
        for key in options.keys().filter(|k| *k != "max_images") {
            self.unsupported(&format!("sequential_image_generation_options.{key}"))?;
        }
        let max = match options.get("max_images") {
            None | Some(Value::Null) => return Ok(GROUP_LIMIT),
            Some(m) => m.as_u64().filter(|n| *n >= 1),
        };
        let Some(max) = max else {
            return Err(ArkError::invalid(
                FIELD,
                "must be an integer between 1 and 15",
            ));
        };
        let refs = refs as u64;
        if max > u64::from(GROUP_LIMIT) || max + refs > u64::from(GROUP_LIMIT) {
            if config.reject_over_15 {
                return Err(ArkError::invalid(
                    FIELD,
                    "the total number of reference images and generated images cannot exceed 15",
                ));
            }
            self.note("max_images capped: reference images + generated images cannot exceed 15");
        }
        Ok(u32::try_from(max.min(u64::from(GROUP_LIMIT))).unwrap_or(GROUP_LIMIT))
    }

    /// `optimize_prompt_options`; returns whether `fast` mode was asked for.
    fn optimize_prompt(&mut self, rules: &ModelRules) -> Result<bool, ArkError> {
        const FIELD: &str = "optimize_prompt_options.mode";
        let Some(options) = self.get("optimize_prompt_options") else {
            return Ok(false);
        };
        let Value::Object(options) = options else {
            return Err(ArkError::invalid(
                "optimize_prompt_options",
                "must be an object",
            ));
        };
        for key in options.keys().filter(|k| *k != "mode") {
            self.unsupported(&format!("optimize_prompt_options.{key}"))?;
        }
        match options.get("mode") {
            None | Some(Value::Null) => Ok(false),
            Some(Value::String(m)) if m == "standard" => Ok(false),
            Some(Value::String(m)) if m == "fast" && rules.supports_fast_mode() => Ok(true),
            Some(Value::String(m)) if m == "fast" => Err(ArkError::bad_request(
                "InvalidParameter",
                FIELD,
                "optimize_prompt_options.mode must be 'standard'".to_owned(),
            )),
            Some(_) => Err(ArkError::invalid(FIELD, "must be one of: standard, fast")),
        }
    }

    /// The reference count, `sequential_image_generation` and `stream`, which the newer
    /// single-image models refuse (groups) or ignore (stream).
    fn group(
        &mut self,
        rules: &ModelRules,
        refs: usize,
        config: &FakeConfig,
    ) -> Result<(bool, u32, bool), ArkError> {
        if refs > rules.max_refs() {
            return Err(ArkError::invalid(
                "image",
                &format!(
                    "the number of reference images cannot exceed {}",
                    rules.max_refs()
                ),
            ));
        }
        let group =
            self.str_enum("sequential_image_generation", &["auto", "disabled"])? == Some("auto");
        if group && rules.single_image() {
            return Err(ArkError::unsupported("sequential_image_generation"));
        }
        let max_images = self.max_images(group, refs, config)?;
        let mut stream = self.bool("stream")?.unwrap_or(false);
        if stream && rules.single_image() {
            self.unsupported("stream")?;
            stream = false;
        }
        Ok((group, max_images, stream))
    }

    /// `background` (5.5 only); returns whether a transparent image was asked for. Transparency
    /// needs PNG: with JPEG it is refused, as Ark does.
    fn background(&mut self, rules: &ModelRules, fmt: Fmt) -> Result<bool, ArkError> {
        if !rules.is_v55() {
            if self.get("background").is_some() {
                self.unsupported("background")?;
            }
            return Ok(false);
        }
        let mode = self.str_enum("background", &["auto", "transparent", "opaque"])?;
        if mode == Some("transparent") && fmt == Fmt::Jpeg {
            return Err(ArkError::invalid(
                "background",
                "transparent requires output_format png",
            ));
        }
        Ok(mode == Some("transparent"))
    }

    /// `tools` (lite only); returns whether web search is on.
    fn tools(&mut self, rules: &ModelRules) -> Result<bool, ArkError> {
        let Some(tools) = self.get("tools") else {
            return Ok(false);
        };
        if !rules.is_lite() {
            return Err(ArkError::unsupported("tools"));
        }
        let valid = tools.as_array().is_some_and(|items| {
            items
                .iter()
                .all(|t| t.get("type").and_then(Value::as_str) == Some("web_search"))
        });
        if !valid {
            return Err(ArkError::invalid(
                "tools",
                "must be an array of {\"type\":\"web_search\"}",
            ));
        }
        Ok(tools.as_array().is_some_and(|items| !items.is_empty()))
    }
}

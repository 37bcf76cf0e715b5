//! Seedream model ids, their aliases and the per-model rules (presets, pixel ranges, fields).

use std::fmt;
use std::sync::Arc;

use crate::reference::ReferenceLimits;
use crate::size::Preset;

mod overrides;
mod table;

pub use overrides::{ModelOverrides, ModelsFileError, RulesPatch};

/// A Seedream model. Unknown ids are kept as given, because new models appear before this
/// crate knows them; they get [`Rules::permissive`] (or what a models file says about them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Model {
    /// Seedream 5.5.
    V55,
    /// Seedream 5.0 pro.
    Pro50,
    /// Seedream 5.0 flash.
    Flash50,
    /// Seedream 5.0 lite.
    Lite50,
    /// Seedream 4.5.
    V45,
    /// Seedream 4.0.
    V40,
    /// Any other id (or an Ark endpoint id `ep-…`), passed through unchanged.
    Other(String),
}

pub const LITE_50_ID: &str = "doubao-seedream-5-0-260128";
pub const V45_ID: &str = "doubao-seedream-4-5-251128";
pub const V40_ID: &str = "doubao-seedream-4-0-250828";
/// CometAPI relays the Volcengine China ids (`doubao-` prefix, seedream-api.md §1); the pro,
/// flash and 5.5 ids below follow that pattern and are not yet confirmed on CometAPI.
pub const PRO_50_ID: &str = "doubao-seedream-5-0-pro-260628";
pub const FLASH_50_ID: &str = "doubao-seedream-5-0-flash-260915";
pub const V55_ID: &str = "doubao-seedream-5-5-261028";

/// Why a model name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "model must not be empty: use `5.0`, `5.0-pro`, `5.0-flash`, `5.5`, `4.5`, `4.0` or a full model id such as {LITE_50_ID}"
)]
pub struct EmptyModel;

impl Model {
    /// Reads a model id or one of the aliases `5.0`, `5.0-lite`, `5.0-pro`, `5.0-flash`, `5.5`,
    /// `4.5`, `4.0`. Only the `doubao-` ids are recognised: a BytePlus id (no prefix) is sent
    /// as given, because BytePlus refuses the prefixed one.
    pub fn parse(raw: &str) -> Result<Model, EmptyModel> {
        let s = raw.trim();
        Ok(match s.to_ascii_lowercase().as_str() {
            "" => return Err(EmptyModel),
            "5.0"
            | "5"
            | "5.0-lite"
            | "5.0 lite"
            | "lite"
            | LITE_50_ID
            | "doubao-seedream-5-0-lite-260128" => Model::Lite50,
            "5.0-pro" | "5.0 pro" | "pro" | PRO_50_ID => Model::Pro50,
            "5.0-flash" | "5.0 flash" | "flash" | FLASH_50_ID => Model::Flash50,
            "5.5" | V55_ID => Model::V55,
            "4.5" | V45_ID => Model::V45,
            "4.0" | "4" | V40_ID => Model::V40,
            _ => Model::Other(s.to_owned()),
        })
    }

    /// The id sent upstream.
    pub fn id(&self) -> &str {
        match self {
            Model::V55 => V55_ID,
            Model::Pro50 => PRO_50_ID,
            Model::Flash50 => FLASH_50_ID,
            Model::Lite50 => LITE_50_ID,
            Model::V45 => V45_ID,
            Model::V40 => V40_ID,
            Model::Other(id) => id,
        }
    }

    /// A short human name for messages.
    pub fn label(&self) -> &str {
        match self {
            Model::V55 => "Seedream 5.5",
            Model::Pro50 => "Seedream 5.0 pro",
            Model::Flash50 => "Seedream 5.0 flash",
            Model::Lite50 => "Seedream 5.0 lite",
            Model::V45 => "Seedream 4.5",
            Model::V40 => "Seedream 4.0",
            Model::Other(id) => id,
        }
    }

    /// What this model accepts under `profile`: the built-in table ([`table`]), with what the
    /// profile's models file says about this id laid over it.
    pub fn rules(&self, profile: &Profile) -> Rules {
        let base = table::builtin(self, profile.lite_4k);
        match profile.models.get(self.id()) {
            Some(patch) => patch.apply(base),
            None => base,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Model {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Model::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Upstream facts that drifted between documentation revisions (seedream-api.md §0).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Seedream 5.0 lite accepts `4K` and up to 16,777,216 pixels (docs from 2026-09 on).
    pub lite_4k: bool,
    /// Largest decoded reference image the upstream accepts, in bytes.
    pub reference_max_bytes: usize,
    /// Ask for streamed answers to sequences, so each image is reported as it completes.
    pub stream_sequences: bool,
    /// Rules and prices read from a models file, by model id, laid over the built-in table.
    pub models: Arc<ModelOverrides>,
}

impl Profile {
    /// The limits one reference image must keep under this profile.
    pub fn reference_limits(&self) -> ReferenceLimits {
        ReferenceLimits {
            max_bytes: self.reference_max_bytes,
            ..ReferenceLimits::DOCUMENTED
        }
    }
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            lite_4k: true,
            reference_max_bytes: 10 * 1024 * 1024,
            stream_sequences: true,
            models: Arc::default(),
        }
    }
}

/// What one model accepts, and what it costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// The presets it accepts.
    pub presets: Vec<Preset>,
    /// Inclusive range of width × height.
    pub pixels: (u64, u64),
    /// Most reference images one call may pass.
    pub max_references: usize,
    /// Whether it makes sequences (`sequential_image_generation: auto`).
    pub sequences: bool,
    /// Whether it answers `stream: true` with one event per image.
    pub streaming: bool,
    /// Whether `output_format` is honoured (4.x always answers JPEG).
    pub output_format: bool,
    /// Whether `background: transparent` gives a real alpha channel.
    pub transparent: bool,
    /// Whether `tools: [{"type":"web_search"}]` is accepted.
    pub web_search: bool,
    /// Whether `optimize_prompt_options.mode: fast` is accepted (`standard` always is).
    pub fast_prompt: bool,
    /// Whether `seed` and `guidance_scale` are honoured (none of the current models).
    pub seed_and_guidance: bool,
    /// The list price, when one is known.
    pub price: Option<Price>,
}

/// A price in the configured currency: per image billed (`usage.generated_images`), per
/// reference image sent, and per million output tokens (for gateways that bill tokens).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Price {
    /// Per generated image.
    pub per_image: f64,
    /// Per reference image in the request.
    pub per_reference: f64,
    /// Per million `usage.output_tokens`.
    pub per_million_tokens: f64,
}

impl Price {
    /// The estimate for one call that billed `images` and `tokens` with `references` inputs.
    pub fn estimate(&self, images: u64, references: u64, tokens: u64) -> f64 {
        // Reference fees are charged per request (seedream 5.5), so only when an image came.
        let refs = if images > 0 { references as f64 } else { 0.0 };
        images as f64 * self.per_image
            + refs * self.per_reference
            + tokens as f64 * self.per_million_tokens / 1_000_000.0
    }
}

impl Rules {
    /// For ids this crate does not know: the union of the known models' ranges, and every
    /// field passed through so the upstream can decide; no price, so no estimate.
    pub fn permissive() -> Rules {
        Rules {
            presets: Preset::ALL.to_vec(),
            pixels: (921_600, 16_777_216),
            max_references: crate::reference::MAX_REFERENCES,
            sequences: true,
            streaming: true,
            output_format: true,
            transparent: true,
            web_search: true,
            fast_prompt: true,
            seed_and_guidance: true,
            price: None,
        }
    }

    /// "2K, 3K or 4K".
    pub fn presets_text(&self) -> String {
        let names: Vec<&str> = self.presets.iter().map(|p| p.as_str()).collect();
        match names.split_last() {
            Some((last, [])) => (*last).to_owned(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_resolve_to_the_full_ids() {
        assert_eq!(Model::parse("5.0").unwrap().id(), LITE_50_ID);
        assert_eq!(Model::parse(" 4.5 ").unwrap().id(), V45_ID);
        assert_eq!(Model::parse("4.0").unwrap().id(), V40_ID);
        assert_eq!(Model::parse(V45_ID).unwrap(), Model::V45);
    }

    #[test]
    fn unknown_ids_pass_through_unchanged_with_permissive_rules() {
        let m = Model::parse("doubao-seedream-6-0-270101").unwrap();
        assert_eq!(m.id(), "doubao-seedream-6-0-270101");
        assert_eq!(m.rules(&Profile::default()), Rules::permissive());
    }

    #[test]
    fn an_empty_model_is_refused() {
        assert_eq!(Model::parse("  "), Err(EmptyModel));
    }

    #[test]
    fn lite_presets_follow_the_documentation_profile() {
        let new = Model::Lite50.rules(&Profile::default());
        assert_eq!(new.presets_text(), "2K, 3K or 4K");
        let old = Model::Lite50.rules(&Profile {
            lite_4k: false,
            ..Profile::default()
        });
        assert_eq!(old.presets_text(), "2K or 3K");
        assert_eq!(old.pixels.1, 10_404_496);
    }
}

//! Seedream model ids, their aliases and the per-model rules (presets, pixel ranges, fields).

use std::fmt;

use crate::reference::ReferenceLimits;
use crate::size::Preset;

/// A Seedream model. Unknown ids are kept as given, because new models appear before this
/// crate knows them; they get [`Rules::permissive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Model {
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

/// Why a model name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model must not be empty: use `5.0`, `4.5`, `4.0` or a full model id such as {LITE_50_ID}")]
pub struct EmptyModel;

impl Model {
    /// Reads a model id or one of the aliases `5.0`, `5.0-lite`, `4.5`, `4.0`.
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
            "4.5" | V45_ID => Model::V45,
            "4.0" | "4" | V40_ID => Model::V40,
            _ => Model::Other(s.to_owned()),
        })
    }

    /// The id sent upstream.
    pub fn id(&self) -> &str {
        match self {
            Model::Lite50 => LITE_50_ID,
            Model::V45 => V45_ID,
            Model::V40 => V40_ID,
            Model::Other(id) => id,
        }
    }

    /// A short human name for messages.
    pub fn label(&self) -> &str {
        match self {
            Model::Lite50 => "Seedream 5.0 lite",
            Model::V45 => "Seedream 4.5",
            Model::V40 => "Seedream 4.0",
            Model::Other(id) => id,
        }
    }

    /// What this model accepts under `profile`.
    pub fn rules(&self, profile: &Profile) -> Rules {
        const MIN_2K: u64 = 3_686_400;
        const MIN_1K: u64 = 921_600;
        const MAX_4K: u64 = 16_777_216;
        match self {
            Model::Lite50 if profile.lite_4k => Rules {
                presets: &[Preset::TwoK, Preset::ThreeK, Preset::FourK],
                pixels: (MIN_2K, MAX_4K),
                output_format: true,
                seed_and_guidance: false,
            },
            Model::Lite50 => Rules {
                presets: &[Preset::TwoK, Preset::ThreeK],
                pixels: (MIN_2K, 10_404_496),
                output_format: true,
                seed_and_guidance: false,
            },
            Model::V45 => Rules {
                presets: &[Preset::TwoK, Preset::FourK],
                pixels: (MIN_2K, MAX_4K),
                output_format: false,
                seed_and_guidance: false,
            },
            Model::V40 => Rules {
                presets: &[Preset::OneK, Preset::TwoK, Preset::FourK],
                pixels: (MIN_1K, MAX_4K),
                output_format: false,
                seed_and_guidance: false,
            },
            Model::Other(_) => Rules::permissive(),
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
        }
    }
}

/// What one model accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The presets it accepts.
    pub presets: &'static [Preset],
    /// Inclusive range of width × height.
    pub pixels: (u64, u64),
    /// Whether `output_format` is honoured (5.0 lite only; 4.x always answers JPEG).
    pub output_format: bool,
    /// Whether `seed` and `guidance_scale` are honoured (none of the current models).
    pub seed_and_guidance: bool,
}

impl Rules {
    /// For ids this crate does not know: the union of the known models' ranges, and every
    /// field passed through so the upstream can decide.
    pub fn permissive() -> Rules {
        Rules {
            presets: &Preset::ALL,
            pixels: (921_600, 16_777_216),
            output_format: true,
            seed_and_guidance: true,
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

//! A models file: rules and prices by model id or alias, laid over the built-in table, so a new
//! model, a changed limit or a new price needs no rebuild. JSON, e.g.
//! `{"5.0-flash": {"price": {"per_image": 0.02}}, "my-endpoint": {"presets": ["2K"]}}`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Model, Price, Rules};
use crate::size::{Preset, Size};

/// What a models file says about one model; each field given replaces the built-in one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesPatch {
    /// Presets, e.g. `["1K", "2K"]`.
    pub presets: Option<Vec<String>>,
    /// `[min, max]` pixels (width × height).
    pub pixels: Option<(u64, u64)>,
    /// Most reference images.
    pub max_references: Option<usize>,
    /// Sequences allowed.
    pub sequences: Option<bool>,
    /// Streamed answers.
    pub streaming: Option<bool>,
    /// `output_format` honoured.
    pub output_format: Option<bool>,
    /// `background: transparent` honoured.
    pub transparent: Option<bool>,
    /// Web search.
    pub web_search: Option<bool>,
    /// `optimize_prompt_options.mode: fast`.
    pub fast_prompt: Option<bool>,
    /// `seed` and `guidance_scale` honoured.
    pub seed_and_guidance: Option<bool>,
    /// The price (in the server's currency).
    pub price: Option<Price>,
}

impl RulesPatch {
    /// `base` with this patch's fields in place of its own.
    pub fn apply(&self, mut base: Rules) -> Rules {
        if let Some(presets) = &self.presets {
            base.presets = presets.iter().filter_map(|p| preset(p)).collect();
        }
        macro_rules! take {
            ($($field:ident),*) => {$(
                if let Some(v) = self.$field {
                    base.$field = v;
                }
            )*};
        }
        take!(
            pixels,
            max_references,
            sequences,
            streaming,
            output_format,
            transparent,
            web_search,
            fast_prompt,
            seed_and_guidance
        );
        if self.price.is_some() {
            base.price = self.price;
        }
        base
    }
}

fn preset(raw: &str) -> Option<Preset> {
    match raw.parse() {
        Ok(Size::Preset(p)) => Some(p),
        _ => None,
    }
}

/// Why a models file was refused; the text names the entry.
#[derive(Debug, thiserror::Error)]
pub enum ModelsFileError {
    /// Not JSON of the expected shape.
    #[error("the models file is not valid: {0}")]
    Syntax(#[from] serde_json::Error),
    /// An entry is inconsistent.
    #[error("the models file entry `{model}` is not valid: {why}")]
    Entry {
        /// The key as written.
        model: String,
        /// What is wrong.
        why: String,
    },
}

/// The patches of a models file, by the model id they apply to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelOverrides(BTreeMap<String, RulesPatch>);

impl ModelOverrides {
    /// Reads a models file's text. Keys may be aliases (`4.5`) or ids.
    pub fn from_json(text: &str) -> Result<ModelOverrides, ModelsFileError> {
        let raw: BTreeMap<String, RulesPatch> = serde_json::from_str(text)?;
        let mut out = BTreeMap::new();
        for (key, patch) in raw {
            let entry = |why: &str| ModelsFileError::Entry {
                model: key.clone(),
                why: why.to_owned(),
            };
            let model = Model::parse(&key).map_err(|_| entry("the model name is empty"))?;
            if let Some(bad) = patch.presets.iter().flatten().find(|p| preset(p).is_none()) {
                return Err(entry(&format!("`{bad}` is not a preset (1K, 2K, 3K, 4K)")));
            }
            if patch.pixels.is_some_and(|(lo, hi)| lo == 0 || lo > hi) {
                return Err(entry("pixels must be [min, max] with 0 < min <= max"));
            }
            if patch.price.is_some_and(|p| {
                [p.per_image, p.per_reference, p.per_million_tokens]
                    .iter()
                    .any(|v| !v.is_finite() || *v < 0.0)
            }) {
                return Err(entry("prices must be numbers of at least 0"));
            }
            out.insert(model.id().to_owned(), patch);
        }
        Ok(ModelOverrides(out))
    }

    /// The patch for a model id.
    pub fn get(&self, id: &str) -> Option<&RulesPatch> {
        self.0.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Profile;
    use std::sync::Arc;

    #[test]
    fn a_models_file_changes_a_price_and_keeps_the_other_rules() {
        let o = ModelOverrides::from_json(r#"{"4.5": {"price": {"per_image": 0.032}}}"#).unwrap();
        let profile = Profile {
            models: Arc::new(o),
            ..Profile::default()
        };
        let rules = Model::V45.rules(&profile);
        assert_eq!(rules.price.unwrap().per_image, 0.032);
        assert_eq!(rules.presets, vec![Preset::TwoK, Preset::FourK]);
    }

    #[test]
    fn a_models_file_gives_an_unknown_id_its_own_rules() {
        let o = ModelOverrides::from_json(r#"{"ep-123": {"presets": ["2K"], "sequences": false}}"#)
            .unwrap();
        let profile = Profile {
            models: Arc::new(o),
            ..Profile::default()
        };
        let rules = Model::parse("ep-123").unwrap().rules(&profile);
        assert_eq!(rules.presets, vec![Preset::TwoK]);
        assert!(!rules.sequences);
    }

    #[test]
    fn a_models_file_with_a_bad_entry_is_refused_naming_it() {
        let e = ModelOverrides::from_json(r#"{"4.0": {"presets": ["8K"]}}"#).unwrap_err();
        assert!(e.to_string().contains("`4.0`") && e.to_string().contains("8K"));
        let e = ModelOverrides::from_json(r#"{"4.0": {"colour": true}}"#).unwrap_err();
        assert!(e.to_string().contains("colour"));
        let e = ModelOverrides::from_json(r#"{"4.0": {"price": {"per_image": -1}}}"#).unwrap_err();
        assert!(e.to_string().contains("at least 0"));
    }
}

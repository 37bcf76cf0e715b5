//! Per-model rules (§4 of the reference): presets, pixel range, aspect ratio, supported
//! fields, base latency. Written independently of the client's tables on purpose.

use super::config::{FakeConfig, LiteProfile};
use super::sizes::{Preset, SizeSpec, parse_wxh, ratio_ok, resolve_preset};

pub(crate) const LITE: &str = "doubao-seedream-5-0-260128";
pub(crate) const V45: &str = "doubao-seedream-4-5-251128";
pub(crate) const V40: &str = "doubao-seedream-4-0-250828";
// The newer models, from third-party pages of 2026 (no official Ark page was found): 5.0 pro
// and flash make one image at 1K–2K (up to 4,194,304 pixels) from up to 10 references, with no
// groups and no streaming; pro has the fast prompt mode; 5.5 adds `background` (transparent
// PNG) and answers PNG unless asked for JPEG.
pub(crate) const PRO: &str = "doubao-seedream-5-0-pro-260628";
pub(crate) const FLASH: &str = "doubao-seedream-5-0-flash-260915";
pub(crate) const V55: &str = "doubao-seedream-5-5-261028";

/// Which rule set a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    Lite,
    V45,
    V40,
    Pro,
    Flash,
    V55,
}

/// The rules of one model id.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelRules {
    pub generation: Generation,
    /// The id without its date suffix, as used in messages and TOS paths.
    pub family: String,
    pub presets: &'static [Preset],
    pub min_pixels: u64,
    pub max_pixels: u64,
}

const MAX_4K: u64 = 16_777_216;
const MAX_LITE_EARLY: u64 = 10_404_496;
const MIN_2K: u64 = 3_686_400;
const MIN_1K: u64 = 921_600;
const MAX_SMALL: u64 = 4_194_304;

impl ModelRules {
    /// The rules for `model`, or `None` if the fake API does not serve it.
    pub(crate) fn lookup(model: &str, config: &FakeConfig) -> Option<ModelRules> {
        let generation = match model {
            LITE => Generation::Lite,
            V45 => Generation::V45,
            V40 => Generation::V40,
            PRO => Generation::Pro,
            FLASH => Generation::Flash,
            V55 => Generation::V55,
            other if config.extra_models.iter().any(|m| m == other) => Generation::Lite,
            _ => return None,
        };
        let (presets, min_pixels, max_pixels): (&'static [Preset], u64, u64) = match generation {
            Generation::Lite => match config.lite_profile {
                LiteProfile::Oct2026 => (&[Preset::P2K, Preset::P3K, Preset::P4K], MIN_2K, MAX_4K),
                LiteProfile::Feb2026 => (&[Preset::P2K, Preset::P3K], MIN_2K, MAX_LITE_EARLY),
            },
            Generation::V45 => (&[Preset::P2K, Preset::P4K], MIN_2K, MAX_4K),
            Generation::V40 => (&[Preset::P1K, Preset::P2K, Preset::P4K], MIN_1K, MAX_4K),
            Generation::Pro | Generation::Flash | Generation::V55 => {
                (&[Preset::P1K, Preset::P2K], MIN_1K, MAX_SMALL)
            }
        };
        Some(ModelRules {
            generation,
            family: family_of(model),
            presets,
            min_pixels,
            max_pixels,
        })
    }

    /// `output_format` and `tools` exist only on 5.0 lite.
    pub(crate) fn is_lite(&self) -> bool {
        self.generation == Generation::Lite
    }

    /// `optimize_prompt_options.mode:"fast"` exists on 4.0 and 5.0 pro.
    pub(crate) fn supports_fast_mode(&self) -> bool {
        matches!(self.generation, Generation::V40 | Generation::Pro)
    }

    /// `output_format` is read by 5.0 lite and the newer models; 4.x always answers JPEG.
    pub(crate) fn has_output_format(&self) -> bool {
        !matches!(self.generation, Generation::V45 | Generation::V40)
    }

    /// The newer models make one image per request from at most 10 references, unstreamed.
    pub(crate) fn single_image(&self) -> bool {
        matches!(
            self.generation,
            Generation::Pro | Generation::Flash | Generation::V55
        )
    }

    pub(crate) fn max_refs(&self) -> usize {
        if self.single_image() { 10 } else { 14 }
    }

    /// `background` exists on 5.5 only, whose default output is PNG.
    pub(crate) fn is_v55(&self) -> bool {
        self.generation == Generation::V55
    }

    /// Seconds per 2K image (M14).
    pub(crate) fn base_latency_s(&self) -> f64 {
        match self.generation {
            Generation::Lite => 25.0,
            Generation::V45 => 15.0,
            Generation::V40 => 12.0,
            Generation::Pro => 60.0,
            Generation::Flash => 8.0,
            Generation::V55 => 30.0,
        }
    }

    /// Checks a `size` value; the error is the reason for Ark's "`size` … is not valid" message.
    pub(crate) fn check_size(&self, raw: &str) -> Result<SizeSpec, String> {
        let unsupported = || {
            format!(
                "the specified size is not supported for model {}",
                self.family
            )
        };
        if let Some(preset) = Preset::parse(raw) {
            return if self.presets.contains(&preset) {
                Ok(SizeSpec::Preset(preset))
            } else {
                Err(unsupported())
            };
        }
        let (w, h) = parse_wxh(raw).ok_or_else(unsupported)?;
        let pixels = u64::from(w) * u64::from(h);
        if pixels < self.min_pixels {
            return Err(format!(
                "image size must be at least {} pixels",
                self.min_pixels
            ));
        }
        if pixels > self.max_pixels {
            return Err(format!(
                "image size must be at most {} pixels",
                self.max_pixels
            ));
        }
        if !ratio_ok(w, h) {
            return Err("the aspect ratio of the image must be between 1/16 and 16".to_owned());
        }
        Ok(SizeSpec::Exact(w, h))
    }

    /// The output size (M6): exact sizes are echoed; presets resolve per [`resolve_preset`].
    pub(crate) fn resolve(
        &self,
        spec: SizeSpec,
        ratio_hint: Option<f64>,
        off_table: bool,
    ) -> (u32, u32) {
        match spec {
            SizeSpec::Exact(w, h) => (w, h),
            SizeSpec::Preset(p) => {
                resolve_preset(p, ratio_hint, off_table, (self.min_pixels, self.max_pixels))
            }
        }
    }
}

/// `doubao-seedream-4-5-251128` → `doubao-seedream-4-5`.
fn family_of(model: &str) -> String {
    match model.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 6 && tail.bytes().all(|b| b.is_ascii_digit()) => {
            head.to_owned()
        }
        _ => model.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(model: &str) -> ModelRules {
        ModelRules::lookup(model, &FakeConfig::default()).unwrap()
    }

    #[test]
    fn presets_follow_each_model() {
        assert!(rules(V40).check_size("1K").is_ok());
        assert_eq!(
            rules(V45).check_size("1K"),
            Err("the specified size is not supported for model doubao-seedream-4-5".to_owned())
        );
        assert!(rules(LITE).check_size("4K").is_ok());
        let early = FakeConfig {
            lite_profile: LiteProfile::Feb2026,
            ..FakeConfig::default()
        };
        assert!(
            ModelRules::lookup(LITE, &early)
                .unwrap()
                .check_size("4K")
                .is_err()
        );
    }

    #[test]
    fn exact_sizes_check_pixels_and_ratio() {
        assert!(rules(LITE).check_size("3750x1250").is_ok());
        assert_eq!(
            rules(V45).check_size("1500x1500"),
            Err("image size must be at least 3686400 pixels".to_owned())
        );
        assert!(
            rules(V40)
                .check_size("800x800")
                .unwrap_err()
                .contains("921600")
        );
        assert!(
            rules(V40)
                .check_size("8192x256")
                .unwrap_err()
                .contains("aspect ratio")
        );
        assert!(rules(V40).check_size("2048X2048").is_err());
        assert!(rules(V40).check_size("16:9").is_err());
    }

    #[test]
    fn newer_models_take_1k_to_2k_and_ten_references() {
        for m in [PRO, FLASH, V55] {
            assert!(rules(m).check_size("1K").is_ok());
            assert!(rules(m).check_size("3K").is_err());
            assert!(rules(m).check_size("2560x1920").is_err());
            assert_eq!(rules(m).max_refs(), 10);
        }
        assert!(rules(PRO).supports_fast_mode() && !rules(V55).supports_fast_mode());
    }

    #[test]
    fn families_drop_the_date() {
        assert_eq!(rules(V45).family, "doubao-seedream-4-5");
        assert_eq!(family_of("my-model"), "my-model");
    }
}

//! Per-model rules (§4 of the reference): presets, pixel range, aspect ratio, supported
//! fields, base latency. Written independently of the client's tables on purpose.

use super::config::{FakeConfig, LiteProfile};

pub(crate) const LITE: &str = "doubao-seedream-5-0-260128";
pub(crate) const V45: &str = "doubao-seedream-4-5-251128";
pub(crate) const V40: &str = "doubao-seedream-4-0-250828";

/// Which rule set a model follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generation {
    Lite,
    V45,
    V40,
}

/// A size preset; the index is its row in [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    P1K,
    P2K,
    P3K,
    P4K,
}

impl Preset {
    /// Presets are matched case-insensitively (`2k` = `2K`).
    fn parse(s: &str) -> Option<Preset> {
        match s.to_ascii_uppercase().as_str() {
            "1K" => Some(Preset::P1K),
            "2K" => Some(Preset::P2K),
            "3K" => Some(Preset::P3K),
            "4K" => Some(Preset::P4K),
            _ => None,
        }
    }

    /// The side of the square this preset is named after.
    fn side(self) -> u32 {
        match self {
            Preset::P1K => 1024,
            Preset::P2K => 2048,
            Preset::P3K => 3072,
            Preset::P4K => 4096,
        }
    }

    fn row(self) -> &'static [(u32, u32); 8] {
        match self {
            Preset::P1K => &TABLE_1K,
            Preset::P2K => &TABLE_2K,
            Preset::P3K => &TABLE_3K,
            Preset::P4K => &TABLE_4K,
        }
    }
}

/// Aspect ratios of the recommended-size table, in column order.
const RATIOS: [(u32, u32); 8] = [
    (1, 1),
    (4, 3),
    (3, 4),
    (16, 9),
    (9, 16),
    (3, 2),
    (2, 3),
    (21, 9),
];
const TABLE_1K: [(u32, u32); 8] = [
    (1024, 1024),
    (1152, 864),
    (864, 1152),
    (1312, 736),
    (736, 1312),
    (1248, 832),
    (832, 1248),
    (1568, 672),
];
const TABLE_2K: [(u32, u32); 8] = [
    (2048, 2048),
    (2304, 1728),
    (1728, 2304),
    (2848, 1600),
    (1600, 2848),
    (2496, 1664),
    (1664, 2496),
    (3136, 1344),
];
const TABLE_3K: [(u32, u32); 8] = [
    (3072, 3072),
    (3456, 2592),
    (2592, 3456),
    (4096, 2304),
    (2304, 4096),
    (3744, 2496),
    (2496, 3744),
    (4704, 2016),
];
const TABLE_4K: [(u32, u32); 8] = [
    (4096, 4096),
    (4704, 3520),
    (3520, 4704),
    (5504, 3040),
    (3040, 5504),
    (4992, 3328),
    (3328, 4992),
    (6240, 2656),
];

/// What `size` asked for, once accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeSpec {
    Preset(Preset),
    Exact(u32, u32),
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

impl ModelRules {
    /// The rules for `model`, or `None` if the stand-in does not serve it.
    pub(crate) fn lookup(model: &str, config: &FakeConfig) -> Option<ModelRules> {
        let generation = match model {
            LITE => Generation::Lite,
            V45 => Generation::V45,
            V40 => Generation::V40,
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

    /// `optimize_prompt_options.mode:"fast"` exists only on 4.0.
    pub(crate) fn supports_fast_mode(&self) -> bool {
        self.generation == Generation::V40
    }

    /// Seconds per 2K image (M14).
    pub(crate) fn base_latency_s(&self) -> f64 {
        match self.generation {
            Generation::Lite => 25.0,
            Generation::V45 => 15.0,
            Generation::V40 => 12.0,
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

    /// The output size (M6): exact sizes are echoed; presets pick the table row nearest
    /// `ratio_hint` (1:1 without one), optionally perturbed off the table.
    pub(crate) fn resolve(
        &self,
        spec: SizeSpec,
        ratio_hint: Option<f64>,
        off_table: bool,
    ) -> (u32, u32) {
        let preset = match spec {
            SizeSpec::Exact(w, h) => return (w, h),
            SizeSpec::Preset(p) => p,
        };
        let column = ratio_hint.map_or(0, nearest_ratio_column);
        let (w, h) = preset
            .row()
            .get(column)
            .copied()
            .unwrap_or((preset.side(), preset.side()));
        if !off_table {
            return (w, h);
        }
        off_table_size(
            preset.side(),
            f64::from(w) / f64::from(h),
            self.min_pixels,
            self.max_pixels,
        )
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

/// `WxH` with a lowercase ASCII `x`, as the wire format has it.
fn parse_wxh(raw: &str) -> Option<(u32, u32)> {
    let (w, h) = raw.split_once('x')?;
    let side = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().filter(|v| *v > 0)
    };
    Some((side(w)?, side(h)?))
}

/// Aspect ratio within [1/16, 16].
pub(crate) fn ratio_ok(w: u32, h: u32) -> bool {
    u64::from(w) <= 16 * u64::from(h) && u64::from(h) <= 16 * u64::from(w)
}

fn nearest_ratio_column(ratio: f64) -> usize {
    let target = ratio.ln();
    let mut best = (0, f64::INFINITY);
    for (i, (a, b)) in RATIOS.iter().enumerate() {
        let distance = (f64::from(*a) / f64::from(*b)).ln() - target;
        if distance.abs() < best.1 {
            best = (i, distance.abs());
        }
    }
    best.0
}

/// A size like the ones Ark really returns for a preset: about `side²·0.99` pixels, the
/// given ratio, multiples of 16 (2K 16:9 → 2720x1536), kept within the model's range.
fn off_table_size(side: u32, ratio: f64, min: u64, max: u64) -> (u32, u32) {
    let pixels = f64::from(side) * f64::from(side);
    let w = round16((pixels * ratio).sqrt(), false);
    let mut h = round16(f64::from(w) / ratio, true);
    while u64::from(w) * u64::from(h) > max && h > 16 {
        h -= 16;
    }
    while u64::from(w) * u64::from(h) < min {
        h += 16;
    }
    (w, h)
}

/// A multiple of 16: rounded to nearest, or down.
fn round16(v: f64, nearest: bool) -> u32 {
    let steps = if nearest {
        (v / 16.0).round()
    } else {
        (v / 16.0).floor()
    };
    // Sizes here stay far below u32::MAX; the float-to-int cast saturates anyway.
    (steps.max(1.0) as u32).saturating_mul(16)
}

/// The first `a:b` ratio written in the prompt (e.g. "16:9").
pub(crate) fn prompt_ratio(prompt: &str) -> Option<f64> {
    let b = prompt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (a, after_a) = digits_at(b, i);
        if let Some(a) = a {
            let mut j = after_a;
            while b.get(j).is_some_and(|c| *c == b' ') {
                j += 1;
            }
            if b.get(j) == Some(&b':') {
                j += 1;
                while b.get(j).is_some_and(|c| *c == b' ') {
                    j += 1;
                }
                if let (Some(d), _) = digits_at(b, j)
                    && a > 0
                    && d > 0
                {
                    return Some(f64::from(a) / f64::from(d));
                }
            }
            i = after_a;
        } else {
            i += 1;
        }
    }
    None
}

/// A run of 1–3 ASCII digits starting at `i` (and where it ends); longer runs are not ratios.
fn digits_at(b: &[u8], i: usize) -> (Option<u32>, usize) {
    let mut j = i;
    let mut value: u32 = 0;
    while let Some(c) = b.get(j).filter(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u32::from(c - b'0'));
        j += 1;
    }
    if j == i {
        return (None, i);
    }
    (if j - i <= 3 { Some(value) } else { None }, j)
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
    fn presets_resolve_by_ratio_hint_and_off_table() {
        let r = rules(V45);
        let p = SizeSpec::Preset(Preset::P2K);
        assert_eq!(r.resolve(p, None, false), (2048, 2048));
        assert_eq!(
            r.resolve(p, prompt_ratio("a wide 16:9 shot"), false),
            (2848, 1600)
        );
        assert_eq!(r.resolve(p, Some(16.0 / 9.0), true), (2720, 1536));
        let (w, h) = r.resolve(SizeSpec::Preset(Preset::P4K), Some(21.0 / 9.0), true);
        assert!(u64::from(w) * u64::from(h) <= MAX_4K && w % 16 == 0 && h % 16 == 0);
    }

    #[test]
    fn families_drop_the_date() {
        assert_eq!(rules(V45).family, "doubao-seedream-4-5");
        assert_eq!(family_of("my-model"), "my-model");
    }
}

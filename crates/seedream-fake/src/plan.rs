//! What a valid request will produce: how many images (M5), their size (M6), which of
//! them fail (M11) and when each is done (M14).

use std::time::Duration;

use super::config::FakeConfig;
use super::errors::ItemError;
use super::scenario::Scenario;
use super::sizes::prompt_ratio;
use super::validate::{GROUP_LIMIT, GenRequest};

/// The fate of one image slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Image,
    Failed(ItemError),
}

/// The precomputed result of a generation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    /// One entry per attempted slot; an internal error ends the list.
    pub outcomes: Vec<Outcome>,
    /// Time each slot takes, in order (groups are generated sequentially).
    pub delays: Vec<Duration>,
}

impl Plan {
    pub(crate) fn new(
        req: &GenRequest,
        scenario: &Scenario,
        internal_at: Option<usize>,
        config: &FakeConfig,
    ) -> Plan {
        let ratio_hint = prompt_ratio(&req.prompt).or_else(|| {
            req.refs
                .iter()
                .find_map(|r| r.dims)
                .map(|(w, h)| f64::from(w) / f64::from(h))
        });
        let (width, height) = req
            .rules
            .resolve(req.size, ratio_hint, config.realistic_off_table);
        let mut outcomes = Vec::new();
        for i in 0..count(req, scenario) as usize {
            if internal_at == Some(i) {
                outcomes.push(Outcome::Failed(ItemError::Internal));
                break;
            }
            outcomes.push(if scenario.partial_sensitive.contains(&i) {
                Outcome::Failed(ItemError::Sensitive)
            } else {
                Outcome::Image
            });
        }
        let per_image = latency(req, scenario, config, width, height);
        let mut delays = vec![per_image; outcomes.len()];
        if req.web_search
            && scenario.slow_ms.is_none()
            && let Some(first) = delays.first_mut()
        {
            *first += seconds(5.0 * config.time_scale);
        }
        Plan {
            width,
            height,
            outcomes,
            delays,
        }
    }

    pub(crate) fn successes(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| **o == Outcome::Image)
            .count()
    }

    /// `round(Σ w·h / 256)` over the successes.
    pub(crate) fn output_tokens(&self) -> u64 {
        let pixels = u64::from(self.width) * u64::from(self.height) * self.successes() as u64;
        (pixels + 128) / 256
    }
}

/// Images in the response: 1 unless `auto`; then min(effective max, what the "model" chose).
fn count(req: &GenRequest, scenario: &Scenario) -> u32 {
    if !req.group {
        return 1;
    }
    let refs = u32::try_from(req.refs.len()).unwrap_or(GROUP_LIMIT);
    let effective = req.max_images.min(GROUP_LIMIT.saturating_sub(refs)).max(1);
    let requested = scenario
        .n
        .or_else(|| prompt_count(&req.prompt))
        .unwrap_or(1);
    requested.clamp(1, effective)
}

/// The count a model reading the prompt would make: a number (digits, or a word up to
/// fifteen) followed within two words by a word for images ("4 panels", "four images",
/// "3 distinct variations", "生成3张图"), or a set word before it ("a set of 3", "series of
/// five"). Numbers that are part of a ratio, size or version (`16:9`, `2048x2048`, `4.5`) are
/// skipped. Zero is not a count; more than 15 is capped later, as upstream does (M5).
fn prompt_count(prompt: &str) -> Option<u32> {
    let words = words(prompt);
    words.iter().enumerate().find_map(|(i, word)| {
        let n = word.number?;
        let before = |back: usize| i.checked_sub(back).and_then(|j| words.get(j));
        let names_images = words
            .iter()
            .skip(i + 1)
            .take(3)
            .take_while(|w| w.number.is_none())
            .any(|w| IMAGE_WORDS.iter().any(|noun| w.text.starts_with(noun)));
        let after_set = before(1).is_some_and(|w| w.text == "of")
            && before(2).is_some_and(|w| SET_WORDS.contains(&w.text.as_str()));
        ((names_images || after_set) && n >= 1).then_some(n)
    })
}

/// Words (and their stems' plurals) that name the images being counted.
const IMAGE_WORDS: &[&str] = &[
    "张",
    "幅",
    "image",
    "picture",
    "panel",
    "variation",
    "version",
    "frame",
    "scene",
    "shot",
    "photo",
    "illustration",
    "drawing",
    "view",
    "pose",
    "sticker",
    "icon",
    "card",
    "page",
    "slide",
    "option",
    "design",
];
/// "a set of 3", "a series of four".
const SET_WORDS: &[&str] = &["set", "series", "sequence", "collection", "batch", "grid"];
const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen",
];

struct Word {
    text: String,
    number: Option<u32>,
}

/// Lowercase words: runs of ASCII digits, runs of letters, and each CJK character alone. A
/// digit run touching `:`, `.`, `x` or `×` (a ratio, version or size) is not a number.
fn words(prompt: &str) -> Vec<Word> {
    let chars: Vec<char> = prompt.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let start = i;
        if c.is_ascii_digit() {
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let text: String = chars.get(start..i).unwrap_or_default().iter().collect();
            let glued =
                |c: Option<&char>| c.is_some_and(|c| matches!(c, ':' | '.' | 'x' | 'X' | '×'));
            let part_of_something = glued(start.checked_sub(1).and_then(|j| chars.get(j)))
                || (glued(chars.get(i)) && chars.get(i + 1).is_some_and(char::is_ascii_digit));
            // Too many digits for a u32 is still "very many".
            let number = (!part_of_something).then(|| text.parse().unwrap_or(u32::MAX));
            out.push(Word { text, number });
        } else if c.is_alphabetic() && c.is_ascii() {
            while chars.get(i).is_some_and(|c| c.is_ascii_alphabetic()) {
                i += 1;
            }
            let text: String = chars
                .get(start..i)
                .unwrap_or_default()
                .iter()
                .collect::<String>()
                .to_lowercase();
            let number = NUMBER_WORDS
                .iter()
                .position(|w| *w == text)
                .and_then(|p| u32::try_from(p + 1).ok());
            out.push(Word { text, number });
        } else {
            i += 1;
            if c.is_alphabetic() {
                out.push(Word {
                    text: c.to_string(),
                    number: None,
                });
            }
        }
    }
    out
}

/// Per-image time: `slow=MS` as given, else the M14 model scaled by `time_scale`.
fn latency(req: &GenRequest, scenario: &Scenario, config: &FakeConfig, w: u32, h: u32) -> Duration {
    if let Some(ms) = scenario.slow_ms {
        return Duration::from_millis(ms);
    }
    if config.time_scale == 0.0 {
        return Duration::ZERO;
    }
    let pixels = u64::from(w) * u64::from(h);
    let size_factor = match pixels {
        0..=1_500_000 => 0.5,
        1_500_001..=6_000_000 => 1.0,
        6_000_001..=11_000_000 => 1.6,
        _ => 2.4,
    };
    let mode_factor = if req.fast_mode { 0.6 } else { 1.0 };
    let jitter = if config.seed_ids {
        1.0
    } else {
        0.8 + 0.4 * fastrand::f64()
    };
    seconds(req.rules.base_latency_s() * size_factor * mode_factor * jitter * config.time_scale)
}

/// Seconds as a `Duration`, clamped to [0, 1 h] (config values are user input).
pub(crate) fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.clamp(0.0, 3600.0)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_the_prompt() {
        assert_eq!(prompt_count("draw 4 images of a cat"), Some(4));
        assert_eq!(prompt_count("生成3张图"), Some(3));
        assert_eq!(prompt_count("in 1999 there were 2 Pictures"), Some(2));
        assert_eq!(prompt_count("a 16:9 poster"), None);
    }

    #[test]
    fn counts_are_read_from_common_phrasings() {
        for (prompt, want) in [
            (
                "4 panels of a cat's day: waking, eating, playing, sleeping",
                Some(4),
            ),
            ("four images of a lighthouse", Some(4)),
            ("a set of 3 matching icons", Some(3)),
            ("a series of five postcards", Some(5)),
            ("3 variations of the logo", Some(3)),
            ("two distinct versions", Some(2)),
            ("a 4-panel comic", Some(4)),
            ("Six Stickers", Some(6)),
            ("生成3幅插画", Some(3)),
            ("one image, please", Some(1)),
            ("20 panels", Some(20)),
            ("99999999999 images", Some(u32::MAX)),
        ] {
            assert_eq!(prompt_count(prompt), want, "{prompt}");
        }
    }

    #[test]
    fn numbers_that_are_not_counts_are_skipped() {
        for prompt in [
            "a 16:9 poster of 3 cats",
            "a 2048x2048 image",
            "in the style of 4.5 images",
            "0 images",
            "a set of dishes",
            "3 cats and a dog",
        ] {
            assert_eq!(prompt_count(prompt), None, "{prompt}");
        }
    }
}

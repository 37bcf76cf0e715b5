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

/// The first `(\d+)\s*(张|images?|pictures?)` in the prompt, as a model reading it would.
fn prompt_count(prompt: &str) -> Option<u32> {
    let mut rest = prompt;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit()) {
        let from_digits = rest.get(start..).unwrap_or("");
        let end = from_digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(from_digits.len());
        let (digits, after) = from_digits.split_at(end);
        let word = after.trim_start().to_lowercase();
        if word.starts_with('张') || word.starts_with("image") || word.starts_with("picture") {
            return Some(digits.parse().unwrap_or(u32::MAX));
        }
        rest = after;
    }
    None
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
}

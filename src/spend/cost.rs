//! The cost of one finished call, for its result: images billed and an estimate from the
//! price table, always called an estimate (list prices, not the invoice).

use seedream::{Generation, ImageItem, Rules};
use serde_json::{Value, json};

/// What one call billed and what that is estimated to cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    /// Images billed: `usage.generated_images`, or the images that came back if the gateway
    /// sent no usage.
    pub images: u64,
    /// `usage.output_tokens`, when given.
    pub tokens: u64,
    /// In `currency`; `None` when the model has no known price.
    pub estimate: Option<f64>,
    pub currency: String,
}

impl Cost {
    /// The cost of `generation` under `rules`' price; `references` were sent with it.
    pub fn of(rules: &Rules, generation: &Generation, references: usize, currency: &str) -> Cost {
        let usage = generation.response.usage.as_ref();
        let delivered = generation
            .response
            .data
            .iter()
            .filter(|item| matches!(item, ImageItem::Url { .. } | ImageItem::B64 { .. }))
            .count() as u64;
        let images = usage
            .and_then(|u| u.generated_images)
            .map(u64::from)
            .unwrap_or(delivered);
        let tokens = usage.and_then(|u| u.output_tokens).unwrap_or(0);
        Cost {
            images,
            tokens,
            estimate: rules
                .price
                .map(|p| p.estimate(images, references as u64, tokens)),
            currency: currency.to_owned(),
        }
    }

    /// One line for the result's text.
    pub fn line(&self) -> String {
        match self.estimate {
            Some(v) => format!(
                "Estimated cost: {} {} for {} billed image{} (an estimate from list prices, not an invoice).\n",
                amount(v),
                self.currency,
                self.images,
                plural(self.images)
            ),
            None => format!(
                "Estimated cost: unknown for {} billed image{} (no price for this model; set one in SEEDREAM_MODELS_FILE).\n",
                self.images,
                plural(self.images)
            ),
        }
    }

    /// The `cost` object of `structuredContent`.
    pub fn json(&self) -> Value {
        json!({
            // Rounded to a millionth: 3 × 0.035 is 0.10500000000000001 in binary, and a page
            // or a model shows what it gets.
            "estimated": self.estimate.map(|v| (v * 1e6).round() / 1e6),
            "currency": self.currency,
            "images_billed": self.images,
            "is_estimate": true,
        })
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// 0.035 → "0.035", 0.12 → "0.12", 1.5 → "1.50": cents always, more digits only when there.
pub fn amount(v: f64) -> String {
    let s = format!("{v:.4}");
    let trimmed = s.trim_end_matches('0');
    match trimmed.split_once('.') {
        Some((_, frac)) if frac.len() < 2 => format!("{v:.2}"),
        _ => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_show_cents_and_no_trailing_zeros() {
        assert_eq!(amount(0.035), "0.035");
        assert_eq!(amount(0.12), "0.12");
        assert_eq!(amount(1.5), "1.50");
        assert_eq!(amount(0.0), "0.00");
    }

    #[test]
    fn the_structured_estimate_has_no_binary_noise() {
        let c = Cost {
            images: 3,
            tokens: 0,
            estimate: Some(3.0 * 0.035),
            currency: "USD".into(),
        };
        assert_eq!(c.json()["estimated"], json!(0.105));
    }

    #[test]
    fn a_model_without_a_price_says_how_to_set_one() {
        let c = Cost {
            images: 2,
            tokens: 0,
            estimate: None,
            currency: "USD".into(),
        };
        assert!(c.line().contains("SEEDREAM_MODELS_FILE"), "{}", c.line());
    }
}

//! When a call costs enough that the person should say yes first: its worst-case estimate over
//! a threshold, or, for a model without a price, more images than a count. The MCP layer asks
//! (elicitation) or refuses naming `confirm_cost`; this module only decides and words the quote.

use seedream::{ImageRequest, Rules};

use super::caps::worst_case;
use super::cost::amount;

/// The confirmation thresholds; `None` never asks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfirmAbove {
    /// Worst-case estimate, in the currency, above which a call is confirmed first.
    pub cost: Option<f64>,
    /// For models without a known price: images above which a call is confirmed first.
    pub images: Option<u32>,
}

impl Default for ConfirmAbove {
    /// A 15-image sequence at list price (0.45–1.80 USD) asks; one image never does (the
    /// dearest built-in model is 0.12 USD per image).
    fn default() -> Self {
        ConfirmAbove {
            cost: Some(0.5),
            images: Some(10),
        }
    }
}

/// What an expensive call may cost, for the person to accept.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// The most images the call may make (and be billed for).
    pub images: u64,
    /// Their worst-case estimate; `None` when the model has no price.
    pub estimate: Option<f64>,
    pub currency: String,
    /// The model id sent upstream.
    pub model: String,
    /// Why it asks: the threshold it passed, with the setting that moves it.
    pub threshold: String,
}

impl ConfirmAbove {
    /// Whether it never asks: then a call need not be quoted at all.
    pub fn is_off(&self) -> bool {
        self.cost.is_none() && self.images.is_none()
    }

    /// The quote to confirm before `request` is sent, or `None` when it is under the thresholds.
    pub fn quote(&self, request: &ImageRequest, rules: &Rules, currency: &str) -> Option<Quote> {
        let (images, estimate) = worst_case(request, rules);
        let threshold = match estimate {
            Some(cost) => {
                let above = self.cost?;
                (cost > above + 1e-9).then(|| {
                    format!(
                        "the confirmation threshold of {} {currency} (SEEDREAM_CONFIRM_ABOVE)",
                        amount(above)
                    )
                })?
            }
            None => {
                let above = self.images?;
                (images > u64::from(above)).then(|| {
                    format!(
                        "the confirmation threshold of {above} images for a model without a price \
                         (SEEDREAM_CONFIRM_ABOVE_IMAGES)"
                    )
                })?
            }
        };
        Some(Quote {
            images,
            estimate,
            currency: currency.to_owned(),
            model: request.model.clone(),
            threshold,
        })
    }
}

impl Quote {
    /// "up to 15 images with doubao-seedream-4-5-251128, estimated at most 0.60 USD".
    pub fn summary(&self) -> String {
        let images = match self.images {
            1 => "1 image".to_owned(),
            n => format!("up to {n} images"),
        };
        match self.estimate {
            Some(v) => format!(
                "{images} with {}, estimated at most {} {} (list prices, not an invoice)",
                self.model,
                amount(v),
                self.currency
            ),
            None => format!("{images} with {} (no known price)", self.model),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spend::caps::tests::{request as prepared, rules as rules_of};
    use seedream::Model;

    fn request(model: Model, max_images: Option<u32>) -> (ImageRequest, Rules) {
        let rules = rules_of(&model);
        (prepared(model, max_images), rules)
    }

    #[test]
    fn a_fifteen_image_sequence_is_quoted_and_one_image_is_not() {
        let confirm = ConfirmAbove::default();
        let (big, rules) = request(Model::V45, Some(15));
        let quote = confirm.quote(&big, &rules, "USD").unwrap();
        assert_eq!(quote.images, 15);
        assert!(
            quote.summary().contains("up to 15 images") && quote.summary().contains("0.60 USD"),
            "{}",
            quote.summary()
        );
        assert!(quote.threshold.contains("0.50 USD"), "{}", quote.threshold);
        let (one, rules) = request(Model::Pro50, None);
        assert_eq!(confirm.quote(&one, &rules, "USD"), None);
    }

    #[test]
    fn a_model_without_a_price_is_quoted_by_its_image_count() {
        let confirm = ConfirmAbove::default();
        let endpoint = || Model::Other("ep-20261130-custom".into());
        let (big, rules) = request(endpoint(), Some(12));
        let quote = confirm.quote(&big, &rules, "USD").unwrap();
        assert_eq!(quote.estimate, None);
        assert!(quote.threshold.contains("10 images"), "{}", quote.threshold);
        let (few, rules) = request(endpoint(), Some(10));
        assert_eq!(confirm.quote(&few, &rules, "USD"), None);
    }

    #[test]
    fn thresholds_set_to_none_never_ask() {
        let never = ConfirmAbove {
            cost: None,
            images: None,
        };
        let (big, rules) = request(Model::V45, Some(15));
        assert_eq!(never.quote(&big, &rules, "USD"), None);
    }
}

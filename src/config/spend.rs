//! The flags of spend control: the models file (rules and prices over the built-in table), the
//! currency prices are given in, and the caps. Kept apart from `args.rs` so the cost settings grow here.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use seedream::ModelOverrides;

use super::{ConfigError, bad};
use crate::spend::{CallCaps, ConfirmAbove, PeriodCaps};

/// Spend settings as clap reads them.
#[derive(Clone, Debug, Args)]
pub struct SpendArgs {
    /// JSON file of model rules and prices laid over the built-in table, e.g. {"4.5": {"price": {"per_image": 0.032}}}.
    #[arg(long, env = "SEEDREAM_MODELS_FILE", global = true)]
    pub models_file: Option<PathBuf>,

    /// Currency of the prices, shown with every cost estimate.
    #[arg(long, env = "SEEDREAM_CURRENCY", default_value = "USD", global = true)]
    pub currency: String,

    /// Most images one call may ask for (a sequence counts max_images).
    #[arg(long, env = "SEEDREAM_MAX_IMAGES_PER_CALL", global = true)]
    pub max_images_per_call: Option<u32>,

    /// Highest estimated cost of one call, in the currency.
    #[arg(long, env = "SEEDREAM_MAX_COST_PER_CALL", global = true)]
    pub max_cost_per_call: Option<f64>,

    /// Images each caller may have billed per UTC day.
    #[arg(long, env = "SEEDREAM_CAP_IMAGES_PER_DAY", global = true)]
    pub cap_images_per_day: Option<u64>,

    /// Estimated cost each caller may spend per UTC day.
    #[arg(long, env = "SEEDREAM_CAP_COST_PER_DAY", global = true)]
    pub cap_cost_per_day: Option<f64>,

    /// Images each caller may have billed per calendar month (UTC).
    #[arg(long, env = "SEEDREAM_CAP_IMAGES_PER_MONTH", global = true)]
    pub cap_images_per_month: Option<u64>,

    /// Estimated cost each caller may spend per calendar month (UTC).
    #[arg(long, env = "SEEDREAM_CAP_COST_PER_MONTH", global = true)]
    pub cap_cost_per_month: Option<f64>,

    /// Ask the person before a call estimated above this (in the currency), or "off" [default: 0.50].
    #[arg(long, env = "SEEDREAM_CONFIRM_ABOVE", global = true)]
    pub confirm_above: Option<String>,

    /// For models without a price: ask before a call of more images than this, or "off" [default: 10].
    #[arg(long, env = "SEEDREAM_CONFIRM_ABOVE_IMAGES", global = true)]
    pub confirm_above_images: Option<String>,
}

impl Default for SpendArgs {
    fn default() -> Self {
        SpendArgs {
            models_file: None,
            currency: "USD".to_owned(),
            max_images_per_call: None,
            max_cost_per_call: None,
            cap_images_per_day: None,
            cap_cost_per_day: None,
            cap_images_per_month: None,
            cap_cost_per_month: None,
            confirm_above: None,
            confirm_above_images: None,
        }
    }
}

/// Validated spend settings.
#[derive(Debug, Clone)]
pub struct SpendSettings {
    /// A short code such as `USD`.
    pub currency: String,
    pub call: CallCaps,
    pub period: PeriodCaps,
    /// When a call is confirmed by the person first.
    pub confirm: ConfirmAbove,
}

impl SpendArgs {
    /// The models file, read and checked once at start: a typo fails the start, not a call.
    pub fn models(&self) -> Result<Arc<ModelOverrides>, ConfigError> {
        let Some(path) = &self.models_file else {
            return Ok(Arc::default());
        };
        let fail = |m: String| bad("--models-file", "SEEDREAM_MODELS_FILE", m);
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
        ModelOverrides::from_json(&text)
            .map(Arc::new)
            .map_err(|e| fail(e.to_string()))
    }

    pub fn settings(&self) -> Result<SpendSettings, ConfigError> {
        let currency = self.currency.trim();
        if currency.is_empty() || currency.len() > 8 {
            return Err(bad(
                "--currency",
                "SEEDREAM_CURRENCY",
                "use a short code such as USD or CNY",
            ));
        }
        for (value, flag, env) in [
            (
                self.max_cost_per_call,
                "--max-cost-per-call",
                "SEEDREAM_MAX_COST_PER_CALL",
            ),
            (
                self.cap_cost_per_day,
                "--cap-cost-per-day",
                "SEEDREAM_CAP_COST_PER_DAY",
            ),
            (
                self.cap_cost_per_month,
                "--cap-cost-per-month",
                "SEEDREAM_CAP_COST_PER_MONTH",
            ),
        ] {
            if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                return Err(bad(flag, env, "use an amount of at least 0, e.g. 5"));
            }
        }
        Ok(SpendSettings {
            currency: currency.to_owned(),
            call: CallCaps {
                max_images: self.max_images_per_call,
                max_cost: self.max_cost_per_call,
            },
            confirm: self.confirm()?,
            period: PeriodCaps {
                images_per_day: self.cap_images_per_day,
                cost_per_day: self.cap_cost_per_day,
                images_per_month: self.cap_images_per_month,
                cost_per_month: self.cap_cost_per_month,
            },
        })
    }
}

impl SpendArgs {
    /// The confirmation thresholds: an amount (or image count), "off", or unset for the default.
    fn confirm(&self) -> Result<ConfirmAbove, ConfigError> {
        let default = ConfirmAbove::default();
        let cost = match threshold(self.confirm_above.as_deref()) {
            Threshold::Default => default.cost,
            Threshold::Off => None,
            Threshold::Value(v) => match v.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                _ => {
                    return Err(bad(
                        "--confirm-above",
                        "SEEDREAM_CONFIRM_ABOVE",
                        "use an amount of at least 0 (e.g. 0.50), or off",
                    ));
                }
            },
        };
        let images = match threshold(self.confirm_above_images.as_deref()) {
            Threshold::Default => default.images,
            Threshold::Off => None,
            Threshold::Value(v) => match v.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    return Err(bad(
                        "--confirm-above-images",
                        "SEEDREAM_CONFIRM_ABOVE_IMAGES",
                        "use a whole number of images (e.g. 10), or off",
                    ));
                }
            },
        };
        Ok(ConfirmAbove { cost, images })
    }
}

enum Threshold<'a> {
    Default,
    Off,
    Value(&'a str),
}

fn threshold(raw: Option<&str>) -> Threshold<'_> {
    match raw.map(str::trim) {
        None | Some("") => Threshold::Default,
        Some(v) if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("never") => {
            Threshold::Off
        }
        Some(v) => Threshold::Value(v),
    }
}

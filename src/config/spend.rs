//! The flags of spend control: the models file (rules and prices over the built-in table), the
//! currency prices are given in, and the caps. Kept apart from `args.rs` so the cost settings grow here.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use seedream::ModelOverrides;

use super::{ConfigError, bad};
use crate::spend::{CallCaps, PeriodCaps};

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
            period: PeriodCaps {
                images_per_day: self.cap_images_per_day,
                cost_per_day: self.cap_cost_per_day,
                images_per_month: self.cap_images_per_month,
                cost_per_month: self.cap_cost_per_month,
            },
        })
    }
}

//! The flags of spend control: the models file (rules and prices over the built-in table) and
//! the currency prices are given in. Kept apart from `args.rs` so the cost settings grow here.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use seedream::ModelOverrides;

use super::{ConfigError, bad};

/// Spend settings as clap reads them.
#[derive(Clone, Debug, Args)]
pub struct SpendArgs {
    /// JSON file of model rules and prices laid over the built-in table, e.g. {"4.5": {"price": {"per_image": 0.032}}}.
    #[arg(long, env = "SEEDREAM_MODELS_FILE", global = true)]
    pub models_file: Option<PathBuf>,

    /// Currency of the prices, shown with every cost estimate.
    #[arg(long, env = "SEEDREAM_CURRENCY", default_value = "USD", global = true)]
    pub currency: String,
}

impl Default for SpendArgs {
    fn default() -> Self {
        SpendArgs {
            models_file: None,
            currency: "USD".to_owned(),
        }
    }
}

/// Validated spend settings.
#[derive(Debug, Clone)]
pub struct SpendSettings {
    /// A short code such as `USD`.
    pub currency: String,
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
        Ok(SpendSettings {
            currency: currency.to_owned(),
        })
    }
}

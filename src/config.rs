//! Command-line flags with environment fallbacks ([`ServerArgs`], in `args`), validated once
//! into a [`Config`] (in `build`).

mod args;
mod build;
mod spend;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::time::Duration;

pub use args::{ResponseFormatArg, ServerArgs};
use seedream::{ClientConfig, DownloadPolicy, Model, Profile, ResponseFormat, Size};
pub use spend::{SpendArgs, SpendSettings};

/// Defaults applied when a tool call leaves a field out.
#[derive(Debug, Clone)]
pub struct Defaults {
    pub model: Model,
    pub size: Size,
    pub response_format: ResponseFormat,
    pub watermark: bool,
}

/// Where images go; turned into a [`crate::delivery::DeliveryConfig`] when the server starts.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub save: bool,
    pub output_dir: PathBuf,
    pub allowed_dirs: Vec<PathBuf>,
    pub preview_max_edge: u32,
    pub budget_b64_bytes: usize,
    pub download: DownloadPolicy,
}

/// How calls run: the wait before a job handle, the in-flight limit, how long results live.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Named in job ids, so a load balancer can send `get_job` to the owner.
    pub instance: Option<String>,
    pub wait: Duration,
    /// How long a task-declaring call runs before it answers with a task.
    pub task_after: Duration,
    pub max_concurrency: usize,
    pub keep: Duration,
    /// Where jobs outlive the process; `None` keeps them in memory only.
    pub store: Option<StoreAt>,
    pub store_max_bytes: u64,
}

/// Where the job store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAt {
    /// An embedded file, for one server.
    File(std::path::PathBuf),
    /// A Redis/Valkey server several instances share.
    Redis(crate::jobs::store::RedisUrl),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub client: ClientConfig,
    pub defaults: Defaults,
    pub profile: Profile,
    pub delivery: DeliverySettings,
    pub jobs: JobSettings,
    pub spend: SpendSettings,
}

/// A setting that cannot work; names the flag and the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {flag} / {env}: {message}")]
pub struct ConfigError {
    flag: &'static str,
    env: &'static str,
    message: String,
}

fn bad(flag: &'static str, env: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        flag,
        env,
        message: message.into(),
    }
}

impl Config {
    /// A configuration that touches neither the disk nor the network, for a server whose
    /// only work is to tell every call why its real configuration is unusable. Its values
    /// are never used to generate anything.
    pub fn inert() -> Result<Config, ConfigError> {
        ServerArgs {
            api_key: None,
            cometapi_key: None,
            base_url: "https://api.cometapi.com/v1".to_owned(),
            model: Model::Lite50,
            size: Size::Preset(seedream::Preset::TwoK),
            response_format: ResponseFormatArg::Url,
            watermark: false,
            timeout_seconds: 180,
            timeout_per_image_seconds: 45,
            max_timeout_seconds: 900,
            connect_timeout_seconds: 30,
            max_retries: 0,
            retry_base_ms: 1000,
            lite_4k: true,
            reference_max_mb: 10,
            output_dir: None,
            save: Some(false),
            // No folder may be read.
            allowed_dirs: Some(std::ffi::OsString::new()),
            preview_max_edge: 1024,
            result_budget_kb: 700,
            download_max_mb: 64,
            download_allow_private: false,
            wait_seconds: 50.0,
            task_after_seconds: 1.0,
            max_concurrency: 1,
            job_keep_seconds: 60,
            instance: None,
            store: None,
            store_max_mb: 2048,
            stream: false,
            spend: SpendArgs::default(),
        }
        .into_config()
    }
}

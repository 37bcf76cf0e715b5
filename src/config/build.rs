//! Validation: the flags' values checked against each other and turned into a [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::{
    Config, ConfigError, Defaults, DeliverySettings, JobSettings, ServerArgs, StoreAt, bad,
};
use crate::jobs::store::RedisUrl;
use seedream::{ClientConfig, DownloadPolicy, Profile, RetryPolicy, Timeouts};

impl ServerArgs {
    /// Checks every setting and how they fit together; names the flag and the variable of the
    /// first that cannot work.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let base_url = self.base_url()?;
        self.check_limits()?;
        let delivery = self.delivery_settings()?;
        let jobs = self.job_settings()?;
        Ok(Config {
            client: self.client_config(base_url),
            defaults: Defaults {
                model: self.model.clone(),
                size: self.size,
                response_format: self.response_format.into(),
                watermark: self.watermark,
            },
            profile: Profile {
                lite_4k: self.lite_4k,
                reference_max_bytes: self.reference_max_mb as usize * 1024 * 1024,
                stream_sequences: self.stream,
                models: self.spend.models()?,
            },
            delivery,
            jobs,
            spend: self.spend.settings()?,
        })
    }

    /// The base URL without a trailing slash, if it is an http(s) URL with a host.
    fn base_url(&self) -> Result<String, ConfigError> {
        let base_url = self.base_url.trim().trim_end_matches('/').to_owned();
        let scheme_ok = base_url.starts_with("https://") || base_url.starts_with("http://");
        let host = base_url
            .split_once("://")
            .map(|(_, r)| r.split('/').next().unwrap_or(""))
            .unwrap_or("");
        if !scheme_ok || host.is_empty() {
            return Err(bad(
                "--base-url",
                "SEEDREAM_BASE_URL",
                format!("`{base_url}` is not an http(s) URL; e.g. https://api.cometapi.com/v1"),
            ));
        }
        Ok(base_url)
    }

    /// The timeouts and the reference size, which must lie in ranges.
    fn check_limits(&self) -> Result<(), ConfigError> {
        if self.timeout_seconds == 0 || self.max_timeout_seconds < self.timeout_seconds {
            return Err(bad(
                "--timeout-seconds",
                "SEEDREAM_TIMEOUT_SECONDS",
                "must be at least 1 and no more than SEEDREAM_MAX_TIMEOUT_SECONDS",
            ));
        }
        if !(1..=100).contains(&self.reference_max_mb) {
            return Err(bad(
                "--reference-max-mb",
                "SEEDREAM_REFERENCE_MAX_MB",
                "use 10 or 30",
            ));
        }
        Ok(())
    }

    /// The upstream client's settings; the key falls back to COMETAPI_KEY.
    fn client_config(&self, base_url: String) -> ClientConfig {
        let api_key = [&self.api_key, &self.cometapi_key]
            .into_iter()
            .flatten()
            .map(|k| k.trim().to_owned())
            .find(|k| !k.is_empty())
            .map(SecretString::from);
        ClientConfig {
            base_url,
            api_key,
            retry: RetryPolicy {
                max_attempts: self.max_retries.saturating_add(1),
                base: Duration::from_millis(self.retry_base_ms),
                ..RetryPolicy::default()
            },
            timeouts: Timeouts {
                connect: Duration::from_secs(self.connect_timeout_seconds.max(1)),
                base: Duration::from_secs(self.timeout_seconds),
                per_extra_image: Duration::from_secs(self.timeout_per_image_seconds),
                max: Duration::from_secs(self.max_timeout_seconds),
            },
        }
    }

    /// The wait before a job handle, the in-flight limit, the instance name.
    fn job_settings(&self) -> Result<JobSettings, ConfigError> {
        if !(self.wait_seconds.is_finite() && (0.0..=3600.0).contains(&self.wait_seconds)) {
            return Err(bad(
                "--wait-seconds",
                "SEEDREAM_WAIT_SECONDS",
                "use 0 to 3600 seconds, e.g. 50",
            ));
        }
        if !(self.task_after_seconds.is_finite()
            && (0.0..=3600.0).contains(&self.task_after_seconds))
        {
            return Err(bad(
                "--task-after-seconds",
                "SEEDREAM_TASK_AFTER_SECONDS",
                "use 0 to 3600 seconds, e.g. 1",
            ));
        }
        if !(1..=10_000).contains(&self.max_concurrency) {
            return Err(bad(
                "--max-concurrency",
                "SEEDREAM_MAX_CONCURRENCY",
                "use 1 to 10000, e.g. 16",
            ));
        }
        let instance = self
            .instance
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_owned);
        if let Some(name) = &instance
            && !valid_instance_name(name)
        {
            return Err(bad(
                "--instance",
                "SEEDREAM_INSTANCE",
                "use 1 to 32 lowercase letters, digits and hyphens, e.g. node-2",
            ));
        }
        let store = match self.store.as_deref().map(str::trim) {
            None | Some("memory") => None,
            Some(s) if s.contains("://") => match RedisUrl::parse(s) {
                Ok(url) => Some(StoreAt::Redis(url)),
                Err(message) => return Err(bad("--store", "SEEDREAM_STORE", &message)),
            },
            Some("") => {
                return Err(bad(
                    "--store",
                    "SEEDREAM_STORE",
                    "name a file, redis://host:port, or `memory`",
                ));
            }
            Some(path) => Some(StoreAt::File(std::path::PathBuf::from(path))),
        };
        Ok(JobSettings {
            store,
            store_max_bytes: self.store_max_mb.saturating_mul(1 << 20),
            instance,
            wait: Duration::from_secs_f64(self.wait_seconds),
            task_after: Duration::from_secs_f64(self.task_after_seconds),
            max_concurrency: self.max_concurrency,
            keep: Duration::from_secs(self.job_keep_seconds.max(60)),
        })
    }

    fn delivery_settings(&self) -> Result<DeliverySettings, ConfigError> {
        let output_dir = match &self.output_dir {
            Some(dir) if dir.is_absolute() => dir.clone(),
            Some(dir) => {
                return Err(bad(
                    "--output-dir",
                    "SEEDREAM_OUTPUT_DIR",
                    format!(
                        "`{}` is relative; MCP clients start servers from arbitrary folders, so give an absolute path",
                        dir.display()
                    ),
                ));
            }
            None => default_output_dir(),
        };
        let allowed_dirs: Vec<PathBuf> = match &self.allowed_dirs {
            Some(list) => std::env::split_paths(list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => dirs::home_dir()
                .into_iter()
                .chain([output_dir.clone()])
                .collect(),
        };
        if let Some(relative) = allowed_dirs.iter().find(|d| !d.is_absolute()) {
            return Err(bad(
                "--allowed-dirs",
                "SEEDREAM_ALLOWED_DIRS",
                format!(
                    "`{}` is relative; list absolute folders",
                    relative.display()
                ),
            ));
        }
        if !(64..=8000).contains(&self.preview_max_edge) {
            return Err(bad(
                "--preview-max-edge",
                "SEEDREAM_PREVIEW_MAX_EDGE",
                "use 64 to 8000 pixels, e.g. 1024",
            ));
        }
        if !(10..=100_000).contains(&self.result_budget_kb) {
            return Err(bad(
                "--result-budget-kb",
                "SEEDREAM_RESULT_BUDGET_KB",
                "use 10 to 100000, e.g. 700",
            ));
        }
        Ok(DeliverySettings {
            save: self.save.unwrap_or(true),
            output_dir,
            allowed_dirs,
            preview_max_edge: self.preview_max_edge,
            budget_b64_bytes: self.result_budget_kb as usize * 1000,
            download: DownloadPolicy {
                max_bytes: u64::from(self.download_max_mb.max(1)) * 1024 * 1024,
                allow_private: self.download_allow_private,
                ..DownloadPolicy::default()
            },
        })
    }
}

/// The platform's pictures folder (else its data folder, else the temp folder) plus
/// `seedream-mcp`: absolute, and never the process's working directory.
fn default_output_dir() -> PathBuf {
    dirs::picture_dir()
        .or_else(dirs::data_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("seedream-mcp")
}

/// Instance names go into job ids and load-balancer rules: keep them plain.
fn valid_instance_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

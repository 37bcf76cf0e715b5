//! Command-line flags with environment fallbacks, validated once into a [`Config`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;

use seedream::{
    ClientConfig, DownloadPolicy, Model, Profile, ResponseFormat, RetryPolicy, Size, Timeouts,
};

/// Settings of the MCP server. Every flag has an environment variable, for MCP client configs.
#[derive(Clone, Args)]
pub struct ServerArgs {
    /// API key for the image API (CometAPI, Ark or ModelArk). Falls back to COMETAPI_KEY.
    #[arg(long, env = "SEEDREAM_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,

    #[arg(
        long,
        env = "COMETAPI_KEY",
        hide_env_values = true,
        hide = true,
        global = true
    )]
    pub cometapi_key: Option<String>,

    /// Base URL including the version prefix, e.g. https://ark.cn-beijing.volces.com/api/v3 for Volcengine Ark.
    #[arg(
        long,
        env = "SEEDREAM_BASE_URL",
        default_value = "https://api.cometapi.com/v1",
        global = true
    )]
    pub base_url: String,

    /// Default model: 5.0, 4.5, 4.0 or a full model id.
    #[arg(
        long,
        env = "SEEDREAM_MODEL",
        default_value = "doubao-seedream-5-0-260128",
        global = true
    )]
    pub model: String,

    /// Default size: 1K, 2K, 3K, 4K or WIDTHxHEIGHT.
    #[arg(long, env = "SEEDREAM_SIZE", default_value = "2K", global = true)]
    pub size: String,

    /// Default response format: url or b64_json.
    #[arg(
        long,
        env = "SEEDREAM_RESPONSE_FORMAT",
        default_value = "url",
        global = true
    )]
    pub response_format: String,

    /// Add the "AI generated" watermark by default (the upstream's own default is true).
    #[arg(long, env = "SEEDREAM_WATERMARK", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub watermark: bool,

    /// Read timeout in seconds for one 2K image; grows with image count and size.
    #[arg(
        long,
        env = "SEEDREAM_TIMEOUT_SECONDS",
        default_value_t = 180,
        global = true
    )]
    pub timeout_seconds: u64,

    /// Seconds added to the read timeout for each further image of a sequence.
    #[arg(
        long,
        env = "SEEDREAM_TIMEOUT_PER_IMAGE_SECONDS",
        default_value_t = 45,
        global = true
    )]
    pub timeout_per_image_seconds: u64,

    /// Upper bound of the read timeout in seconds.
    #[arg(
        long,
        env = "SEEDREAM_MAX_TIMEOUT_SECONDS",
        default_value_t = 900,
        global = true
    )]
    pub max_timeout_seconds: u64,

    /// Connect timeout in seconds.
    #[arg(
        long,
        env = "SEEDREAM_CONNECT_TIMEOUT_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub connect_timeout_seconds: u64,

    /// Retries after a transient failure (429, 5xx); never after a timeout, which may be billed.
    #[arg(long, env = "SEEDREAM_MAX_RETRIES", default_value_t = 2, global = true)]
    pub max_retries: u32,

    /// Delay before the first retry in milliseconds; doubles each time, capped at 30 s.
    #[arg(
        long,
        env = "SEEDREAM_RETRY_BASE_MS",
        default_value_t = 1000,
        global = true
    )]
    pub retry_base_ms: u64,

    /// Whether Seedream 5.0 lite accepts 4K (documentation revisions disagree).
    #[arg(long, env = "SEEDREAM_LITE_4K", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub lite_4k: bool,

    /// Largest reference image in MB accepted upstream (10, or 30 per newer docs).
    #[arg(
        long,
        env = "SEEDREAM_REFERENCE_MAX_MB",
        default_value_t = 10,
        global = true
    )]
    pub reference_max_mb: u32,

    /// Absolute folder for saved images [default: the pictures (or data) folder + seedream-mcp].
    #[arg(long, env = "SEEDREAM_OUTPUT_DIR", global = true)]
    pub output_dir: Option<PathBuf>,

    /// Save every generated image to the output folder [default: true over stdio, false over HTTP].
    #[arg(long, env = "SEEDREAM_SAVE", action = clap::ArgAction::Set, global = true)]
    pub save: Option<bool>,

    /// Folders reference images may be read from and output_dir may point into, separated by
    /// the platform's path separator [default: the home folder and the output folder].
    #[arg(long, env = "SEEDREAM_ALLOWED_DIRS", global = true)]
    pub allowed_dirs: Option<std::ffi::OsString>,

    /// Long edge in pixels of previews embedded in results.
    #[arg(
        long,
        env = "SEEDREAM_PREVIEW_MAX_EDGE",
        default_value_t = 1024,
        global = true
    )]
    pub preview_max_edge: u32,

    /// Budget in KB for the base64 of all images embedded in one result (Claude Desktop refuses results over 1 MiB).
    #[arg(
        long,
        env = "SEEDREAM_RESULT_BUDGET_KB",
        default_value_t = 700,
        global = true
    )]
    pub result_budget_kb: u32,

    /// Largest generated image downloaded, in MB.
    #[arg(
        long,
        env = "SEEDREAM_DOWNLOAD_MAX_MB",
        default_value_t = 64,
        global = true
    )]
    pub download_max_mb: u32,

    /// Download generated images from loopback, private and link-local addresses too (refused by
    /// default unless they are the image API's own origin, so a hostile answer cannot reach the
    /// operator's network).
    #[arg(long, env = "SEEDREAM_DOWNLOAD_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    pub download_allow_private: bool,

    /// Seconds a tool call waits for its images before answering with a job id for get_job
    /// (most clients give up after 60 s).
    #[arg(
        long,
        env = "SEEDREAM_WAIT_SECONDS",
        default_value_t = 50.0,
        global = true
    )]
    pub wait_seconds: f64,

    /// Upstream requests in flight at once; further calls queue.
    #[arg(
        long,
        env = "SEEDREAM_MAX_CONCURRENCY",
        default_value_t = 16,
        global = true
    )]
    pub max_concurrency: usize,

    /// Seconds a finished job's result stays available to get_job.
    #[arg(
        long,
        env = "SEEDREAM_JOB_KEEP_SECONDS",
        default_value_t = 3600,
        global = true
    )]
    pub job_keep_seconds: u64,

    /// This instance's name when several run behind a load balancer (e.g. `a`, `node-2`): job
    /// ids then name the instance that owns them, for routing `get_job` (see the README).
    #[arg(long, env = "SEEDREAM_INSTANCE", global = true)]
    pub instance: Option<String>,

    /// Ask the upstream to stream sequences (one event per image); plain JSON answers still work.
    #[arg(long, env = "SEEDREAM_STREAM", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub stream: bool,
}

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
    pub max_concurrency: usize,
    pub keep: Duration,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub client: ClientConfig,
    pub defaults: Defaults,
    pub profile: Profile,
    pub delivery: DeliverySettings,
    pub jobs: JobSettings,
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
            model: "doubao-seedream-5-0-260128".to_owned(),
            size: "2K".to_owned(),
            response_format: "url".to_owned(),
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
            max_concurrency: 1,
            job_keep_seconds: 60,
            instance: None,
            stream: false,
        }
        .into_config()
    }
}

impl ServerArgs {
    pub fn into_config(self) -> Result<Config, ConfigError> {
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
        let model = Model::parse(&self.model)
            .map_err(|e| bad("--model", "SEEDREAM_MODEL", e.to_string()))?;
        let size: Size = self
            .size
            .parse()
            .map_err(|e: seedream::SizeParseError| bad("--size", "SEEDREAM_SIZE", e.to_string()))?;
        let response_format = match self.response_format.trim().to_ascii_lowercase().as_str() {
            "url" => ResponseFormat::Url,
            "b64_json" => ResponseFormat::B64Json,
            other => {
                return Err(bad(
                    "--response-format",
                    "SEEDREAM_RESPONSE_FORMAT",
                    format!("`{other}`: use url or b64_json"),
                ));
            }
        };
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
        let delivery = self.delivery_settings()?;
        if !(self.wait_seconds.is_finite() && (0.0..=3600.0).contains(&self.wait_seconds)) {
            return Err(bad(
                "--wait-seconds",
                "SEEDREAM_WAIT_SECONDS",
                "use 0 to 3600 seconds, e.g. 50",
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
        let jobs = JobSettings {
            instance,
            wait: Duration::from_secs_f64(self.wait_seconds),
            max_concurrency: self.max_concurrency,
            keep: Duration::from_secs(self.job_keep_seconds.max(60)),
        };
        let api_key = [self.api_key, self.cometapi_key]
            .into_iter()
            .flatten()
            .map(|k| k.trim().to_owned())
            .find(|k| !k.is_empty())
            .map(SecretString::from);

        Ok(Config {
            client: ClientConfig {
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
            },
            defaults: Defaults {
                model,
                size,
                response_format,
                watermark: self.watermark,
            },
            profile: Profile {
                lite_4k: self.lite_4k,
                reference_max_bytes: self.reference_max_mb as usize * 1024 * 1024,
                stream_sequences: self.stream,
            },
            delivery,
            jobs,
        })
    }

    /// Defaults for a server whose callers are remote: they cannot read the server's disk, so
    /// it saves only when asked to, and reads local files (reference paths, `file://`
    /// resources) only inside folders the operator names. Callers still read back the images
    /// they saved themselves.
    pub fn use_http_defaults(&mut self) {
        self.save.get_or_insert(false);
        self.allowed_dirs
            .get_or_insert_with(std::ffi::OsString::new);
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

#[cfg(test)]
mod tests {
    use clap::Parser;
    use secrecy::ExposeSecret;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    fn parse(flags: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["seedream-mcp"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv).unwrap().args.into_config()
    }

    #[test]
    fn defaults_describe_cometapi_without_a_watermark() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.client.base_url, "https://api.cometapi.com/v1");
        assert_eq!(c.defaults.model, Model::Lite50);
        assert!(!c.defaults.watermark);
    }

    #[test]
    fn the_cometapi_key_is_the_fallback_for_the_api_key() {
        let c = parse(&["--cometapi-key", "comet"]).unwrap();
        assert_eq!(c.client.api_key.unwrap().expose_secret(), "comet");
        let c = parse(&["--api-key", "primary", "--cometapi-key", "comet"]).unwrap();
        assert_eq!(c.client.api_key.unwrap().expose_secret(), "primary");
        assert!(
            parse(&["--api-key", "  "])
                .unwrap()
                .client
                .api_key
                .is_none()
        );
    }

    #[test]
    fn bad_settings_name_the_flag_and_the_variable() {
        for (flags, expected) in [
            (vec!["--base-url", "api.cometapi.com"], "SEEDREAM_BASE_URL"),
            (vec!["--size", "huge"], "SEEDREAM_SIZE"),
            (vec!["--response-format", "png"], "SEEDREAM_RESPONSE_FORMAT"),
            (vec!["--model", ""], "SEEDREAM_MODEL"),
            (vec!["--output-dir", "images"], "SEEDREAM_OUTPUT_DIR"),
            (vec!["--allowed-dirs", "rel"], "SEEDREAM_ALLOWED_DIRS"),
        ] {
            let e = parse(&flags).unwrap_err().to_string();
            assert!(e.contains(expected), "{flags:?}: {e}");
        }
    }

    #[test]
    fn the_default_output_folder_is_absolute_and_allowed() {
        let c = parse(&[]).unwrap();
        assert!(c.delivery.output_dir.is_absolute());
        assert!(c.delivery.output_dir.ends_with("seedream-mcp"));
        assert!(c.delivery.allowed_dirs.contains(&c.delivery.output_dir));
        let c = parse(&["--allowed-dirs", "/srv/a:/srv/b"]).unwrap();
        assert_eq!(
            c.delivery.allowed_dirs,
            [PathBuf::from("/srv/a"), PathBuf::from("/srv/b")]
        );
    }

    #[test]
    fn the_inert_configuration_saves_nothing_and_reads_no_folder() {
        let c = Config::inert().unwrap();
        assert!(!c.delivery.save);
        assert!(c.delivery.allowed_dirs.is_empty());
        assert!(c.client.api_key.is_none());
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let c = parse(&["--api-key", "sk-very-secret"]).unwrap();
        assert!(!format!("{c:?}").contains("sk-very-secret"));
    }
}

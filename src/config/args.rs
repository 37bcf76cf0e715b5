//! The flags and their environment variables, as clap reads them. Values with a fixed form
//! (model, size, response format) are parsed here, so clap names the flag and its variable
//! when one is wrong; [`super::build`] checks how the values fit together.

use std::path::PathBuf;

use clap::Args;

use seedream::{Model, ResponseFormat, Size, SizeParseError};

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

    /// Default model: 5.0, 5.0-pro, 5.0-flash, 5.5, 4.5, 4.0 or a full model id.
    #[arg(
        long,
        env = "SEEDREAM_MODEL",
        default_value = "doubao-seedream-5-0-260128",
        value_parser = Model::parse,
        global = true
    )]
    pub model: Model,

    /// Default size: 1K, 2K, 3K, 4K or WIDTHxHEIGHT.
    #[arg(long, env = "SEEDREAM_SIZE", default_value = "2K", value_parser = size, global = true)]
    pub size: Size,

    /// Default response format: url or b64_json.
    #[arg(
        long,
        env = "SEEDREAM_RESPONSE_FORMAT",
        value_enum,
        ignore_case = true,
        default_value = "url",
        global = true
    )]
    pub response_format: ResponseFormatArg,

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

    #[command(flatten)]
    pub spend: super::SpendArgs,

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

    /// Seconds a generating call from a client that declared the tasks extension runs before it
    /// answers with a task (0: at once). A call that finishes sooner (a refused argument, a quick
    /// answer) is answered on the spot, which the extension allows ("the server is the sole
    /// decider") and which spares the client a round of polling.
    #[arg(
        long,
        env = "SEEDREAM_TASK_AFTER_SECONDS",
        default_value_t = 1.0,
        global = true
    )]
    pub task_after_seconds: f64,

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

    /// Where jobs are kept across restarts: a file path, or `memory` for none. The server binary
    /// defaults to `jobs.redb` under the platform data folder (see the README, "Job store").
    #[arg(long, env = "SEEDREAM_STORE", global = true)]
    pub store: Option<String>,

    /// Megabytes of kept image bytes the job store may hold; over it, the oldest jobs' images go.
    #[arg(
        long,
        env = "SEEDREAM_STORE_MAX_MB",
        default_value_t = 2048,
        global = true
    )]
    pub store_max_mb: u64,

    /// Ask the upstream to stream sequences (one event per image); plain JSON answers still work.
    #[arg(long, env = "SEEDREAM_STREAM", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub stream: bool,
}

/// `--response-format`: the upstream's `response_format`, as a flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResponseFormatArg {
    Url,
    #[value(name = "b64_json")]
    B64Json,
}

impl From<ResponseFormatArg> for ResponseFormat {
    fn from(arg: ResponseFormatArg) -> ResponseFormat {
        match arg {
            ResponseFormatArg::Url => ResponseFormat::Url,
            ResponseFormatArg::B64Json => ResponseFormat::B64Json,
        }
    }
}

fn size(raw: &str) -> Result<Size, SizeParseError> {
    raw.parse()
}

impl ServerArgs {
    /// Defaults for a server whose callers are remote: they cannot read the server's disk, so
    /// it saves only when asked to, and reads local files (reference paths, `file://`
    /// resources) only inside folders the operator names. Callers still read back the images
    /// they saved themselves.
    /// The binary's store: a file under the platform data folder unless one was named (library
    /// users and tests keep jobs in memory unless they ask).
    pub fn use_default_store(&mut self) {
        if self.store.is_none() {
            self.store = dirs::data_dir().map(|d| {
                d.join("seedream-mcp")
                    .join("jobs.redb")
                    .display()
                    .to_string()
            });
        }
    }

    pub fn use_http_defaults(&mut self) {
        self.save.get_or_insert(false);
        self.allowed_dirs
            .get_or_insert_with(std::ffi::OsString::new);
    }
}

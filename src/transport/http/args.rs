//! The settings of `seedream-mcp http`, and the configurations that must not start.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

/// Settings of `seedream-mcp http`.
#[derive(Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on. Anything but loopback needs SEEDREAM_HTTP_TOKEN.
    #[arg(long, env = "SEEDREAM_HTTP_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Bearer token every endpoint but /healthz requires. Several, comma-separated, give each
    /// member of a team their own: each token is its own caller (jobs, files, caps).
    #[arg(long, env = "SEEDREAM_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// Host header values accepted, comma-separated [default: localhost, 127.0.0.1, ::1].
    #[arg(long, env = "SEEDREAM_HTTP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Origins accepted, comma-separated, e.g. https://app.example.com [default: loopback origins].
    #[arg(long, env = "SEEDREAM_HTTP_ALLOWED_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,

    /// Largest request body in MB (inline reference images need room).
    #[arg(long, env = "SEEDREAM_HTTP_MAX_BODY_MB", default_value_t = 32)]
    pub max_body_mb: usize,

    /// Most TCP connections open at once. When all are taken, the oldest connection that has
    /// not yet made an authenticated request is dropped; if none, more clients wait.
    #[arg(long, env = "SEEDREAM_HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Most connections open at once that have not yet made an authenticated request (the
    /// oldest is dropped to admit a new one), so idle or half-sent connections cannot hold
    /// every slot.
    #[arg(long, env = "SEEDREAM_HTTP_MAX_UNAUTHENTICATED", default_value_t = 256)]
    pub max_unauthenticated: usize,

    /// Seconds a request may take to send its headers, and a new connection to make its first
    /// authenticated request.
    #[arg(
        long,
        env = "SEEDREAM_HTTP_HEADER_TIMEOUT_SECONDS",
        default_value_t = 10
    )]
    pub header_timeout_seconds: u64,

    /// Seconds a connection may stay silent both ways before it is closed (event streams send
    /// a keep-alive every 15 s).
    #[arg(
        long,
        env = "SEEDREAM_HTTP_IDLE_TIMEOUT_SECONDS",
        default_value_t = 120
    )]
    pub idle_timeout_seconds: u64,

    /// Most streamable HTTP sessions open at once; a new one beyond gets 503 with Retry-After.
    #[arg(long, env = "SEEDREAM_HTTP_MAX_SESSIONS", default_value_t = 1000)]
    pub max_sessions: usize,

    /// Seconds a new session has to send its second request (`notifications/initialized`)
    /// before it is closed.
    #[arg(long, env = "SEEDREAM_HTTP_SESSION_INIT_SECONDS", default_value_t = 15)]
    pub session_init_seconds: u64,

    /// Most long-lived event streams (GET /sse, GET /mcp) open at once; more get 503.
    #[arg(long, env = "SEEDREAM_HTTP_MAX_STREAMS", default_value_t = 128)]
    pub max_streams: usize,

    /// Serve every client without sessions (no Mcp-Session-Id), so that any instance behind a
    /// load balancer can answer any request. 2026-07-28 clients are served this way anyway.
    #[arg(long, env = "SEEDREAM_HTTP_STATELESS", default_value_t = false, action = clap::ArgAction::Set)]
    pub stateless: bool,

    /// Let each caller use its own upstream key for its calls, sent as `X-Seedream-Api-Key`
    /// (used for that call only, never logged); otherwise the server's key is used.
    #[arg(long, env = "SEEDREAM_HTTP_ALLOW_CALLER_KEYS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_caller_keys: bool,

    /// With caller keys allowed: let a call without `X-Seedream-Api-Key` spend the server's key
    /// (otherwise it is refused, so nobody spends the operator's credits by leaving it out).
    #[arg(long, env = "SEEDREAM_HTTP_SERVER_KEY_FALLBACK", default_value_t = false, action = clap::ArgAction::Set)]
    pub server_key_fallback: bool,

    /// On SIGINT/SIGTERM, seconds running calls may take to finish; calls not yet started are
    /// refused at once, and calls still running at the end answer that they may be billed.
    #[arg(
        long,
        env = "SEEDREAM_HTTP_SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30
    )]
    pub shutdown_grace_seconds: u64,
}

/// A configuration that must not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "refusing to listen on {0} without a token: anyone who can reach it could spend your credits. Set \
         SEEDREAM_HTTP_TOKEN (e.g. `export SEEDREAM_HTTP_TOKEN=$(openssl rand -hex 32)`) or listen on 127.0.0.1"
    )]
    NoToken(SocketAddr),
    // The io error is the source: `{:#}` already prints it once after this.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl HttpArgs {
    /// Checks what can be checked before binding.
    pub fn validate(&self) -> Result<(), HttpError> {
        if self.tokens().is_empty() && !self.listen.ip().is_loopback() {
            return Err(HttpError::NoToken(self.listen));
        }
        Ok(())
    }

    /// The accepted bearer tokens: `--token` split at commas, blanks dropped.
    pub fn tokens(&self) -> Vec<Arc<str>> {
        self.token
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(Arc::from)
            .collect()
    }
}

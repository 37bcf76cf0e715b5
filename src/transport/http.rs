//! MCP over HTTP: streamable HTTP at `/mcp`, the legacy HTTP+SSE transport at `/sse` and
//! `/messages`, and `/healthz`; with an optional bearer token, Host and Origin checks against
//! DNS rebinding, a request body limit, and limits on connections and event streams.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use rmcp::transport::common::server_side_http::SessionId;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::guard;
use super::legacy_sse::LegacySse;
use super::limits::{self, StreamSlots};
use super::sessions::{self, Sessions};
use super::{conn, replay, rpc};
use crate::tools::{CallerKeys, ImageServer};

/// Settings of `seedream-mcp http`.
#[derive(Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on. Anything but loopback needs SEEDREAM_HTTP_TOKEN.
    #[arg(long, env = "SEEDREAM_HTTP_LISTEN", default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// Bearer token every endpoint but /healthz requires.
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
        let token = self
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        if token.is_none() && !self.listen.ip().is_loopback() {
            return Err(HttpError::NoToken(self.listen));
        }
        Ok(())
    }
}

/// Binds and serves until `shutdown` resolves; in-flight calls are then cancelled.
pub async fn serve_http(
    server: ImageServer,
    args: HttpArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    args.validate()?;
    let listener = crate::tcp::bind(args.listen).map_err(|source| HttpError::Bind {
        addr: args.listen,
        source,
    })?;
    serve_on(listener, server, args, shutdown).await
}

/// Serves on an existing listener (tests bind 127.0.0.1:0).
///
/// On `shutdown`: nothing new starts (calls waiting for an upstream slot and calls arriving
/// later are refused with a tool error, nothing billed), running calls get the grace period,
/// and those still running then answer that their images may be billed, before the sessions
/// and connections close. Every request gets a JSON-RPC answer.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    server: ImageServer,
    args: HttpArgs,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), HttpError> {
    let ct = CancellationToken::new();
    let max_body = args.max_body_mb.max(1) * 1024 * 1024;
    let hosts = if args.allowed_hosts.is_empty() {
        guard::LOOPBACK_HOSTS.map(String::from).to_vec()
    } else {
        args.allowed_hosts.clone()
    };
    let origins = if args.allowed_origins.is_empty() {
        loopback_origins()
    } else {
        args.allowed_origins.clone()
    };
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(max_body)
        .with_cancellation_token(ct.child_token())
        .with_allowed_hosts(hosts.clone())
        .with_allowed_origins(origins.clone())
        .with_legacy_session_mode(!args.stateless);
    let server =
        server.with_caller_keys(match (args.allow_caller_keys, args.server_key_fallback) {
            (false, _) => CallerKeys::Off,
            (true, false) => CallerKeys::Required,
            (true, true) => CallerKeys::OrServerKey,
        });
    let cancels = server.clone();
    // The requests waiting for their answer, over both transports: shutdown waits for them.
    let calls = rpc::InFlight::default();
    let legacy = LegacySse::new(server.clone(), max_body, calls.clone(), ct.clone()).routes();
    let sessions = Arc::new(LocalSessionManager::default());
    let bounds = Sessions::new(
        Arc::clone(&sessions),
        args.max_sessions,
        std::time::Duration::from_secs(args.session_init_seconds.max(1)),
    );
    let stopping = server.clone();
    let service =
        StreamableHttpService::new(move || Ok(server.clone()), Arc::clone(&sessions), config);
    let grace = std::time::Duration::from_secs(args.shutdown_grace_seconds);
    let token: Option<Arc<str>> = args
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Arc::from);
    let mut mcp_route = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(replay::skip_replayed))
        .layer(middleware::from_fn_with_state(
            rpc::HttpCheck {
                max_body_bytes: max_body,
                calls: calls.clone(),
                sessions: !args.stateless,
            },
            rpc::check_http,
        ));
    if !args.stateless {
        mcp_route = mcp_route.layer(middleware::from_fn_with_state(
            bounds.clone(),
            sessions::bound_sessions,
        ));
        tokio::spawn(bounds.reap(ct.clone()));
    }
    let mcp = mcp_route
        .layer(middleware::from_fn_with_state(
            cancels,
            super::cancel::route_cancellations,
        ))
        .layer(middleware::from_fn_with_state(
            (!args.stateless).then_some(sessions),
            end_session,
        ))
        .merge(legacy)
        .layer(middleware::from_fn_with_state(
            StreamSlots::new(args.max_streams),
            limits::limit_streams,
        ))
        .layer(middleware::from_fn_with_state(token, require_token))
        .layer(middleware::from_fn_with_state(
            Arc::new(guard::Allowed::new(&hosts, &origins)),
            guard::check,
        ));
    let app = axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(mcp);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            "MCP over streamable HTTP at http://{addr}/mcp, legacy HTTP+SSE at http://{addr}/sse"
        );
    }
    let limits = conn::Limits {
        max_connections: args.max_connections,
        max_unauthenticated: args.max_unauthenticated,
        header_timeout: std::time::Duration::from_secs(args.header_timeout_seconds.max(1)),
        idle_timeout: std::time::Duration::from_secs(args.idle_timeout_seconds.max(1)),
    };
    let stop_accepting = CancellationToken::new();
    let serving = tokio::spawn(conn::serve(listener, app, limits, stop_accepting.clone()));
    shutdown.await;
    // Still accepting during the grace period: late calls get a clear refusal rather than a
    // refused connection.
    stopping.begin_shutdown();
    tracing::info!(
        grace_s = grace.as_secs(),
        running = calls.len(),
        "shutting down"
    );
    if tokio::time::timeout(grace, calls.drained()).await.is_err() {
        tracing::warn!(
            running = calls.len(),
            "grace period over; the calls still running answer now"
        );
        stopping.end_grace();
        let _ = tokio::time::timeout(ANSWER_LIMIT, calls.drained()).await;
    }
    ct.cancel();
    stop_accepting.cancel();
    serving
        .await
        .map_err(|e| HttpError::Serve(std::io::Error::other(e)))
}

/// How long the answers of calls stopped at the end of the grace period may take to be sent.
const ANSWER_LIMIT: std::time::Duration = std::time::Duration::from_secs(3);

fn loopback_origins() -> Vec<String> {
    ["http", "https"]
        .iter()
        .flat_map(|scheme| {
            ["localhost", "127.0.0.1", "[::1]"].map(|host| format!("{scheme}://{host}:*"))
        })
        .collect()
}

/// `DELETE /mcp` as the spec words it: 204 when the session ended, 404 for an unknown or
/// expired one (rmcp answers 202 to both, which clients log as a failure).
async fn end_session(
    State(sessions): State<Option<Arc<LocalSessionManager>>>,
    request: Request,
    next: Next,
) -> Response {
    // Stateless servers have no sessions to end; rmcp answers 405 for them.
    let Some(sessions) = sessions.filter(|_| request.method() == Method::DELETE) else {
        return next.run(request).await;
    };
    let id = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(SessionId::from);
    let Some(id) = id else {
        return (
            StatusCode::BAD_REQUEST,
            "DELETE needs the Mcp-Session-Id header of the session to end",
        )
            .into_response();
    };
    if !sessions.has_session(&id).await.unwrap_or(false) {
        return (StatusCode::NOT_FOUND, "unknown or expired session").into_response();
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::ACCEPTED {
        return StatusCode::NO_CONTENT.into_response();
    }
    response
}

/// 401 with `WWW-Authenticate` unless the request carries the token (compared in constant time).
async fn require_token(
    State(token): State<Option<Arc<str>>>,
    request: Request,
    next: Next,
) -> Response {
    let mark = request.extensions().get::<conn::ConnMark>().cloned();
    let Some(expected) = token else {
        if let Some(mark) = mark {
            mark.authenticated();
        }
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), expected.as_bytes())) {
        if let Some(mark) = mark {
            mark.authenticated();
        }
        return next.run(request).await;
    }
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token: send `Authorization: Bearer <SEEDREAM_HTTP_TOKEN>`",
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"seedream-mcp\""),
    );
    response
}

/// Equal-length inputs take the same time whatever their content.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content_and_length() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}

//! MCP over HTTP: streamable HTTP at `/mcp`, the legacy HTTP+SSE transport at `/sse` and
//! `/messages`, and `/healthz`; with an optional bearer token, Host and Origin checks against
//! DNS rebinding, a request body limit, and limits on connections and event streams.

mod args;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::common::server_side_http::SessionId;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use args::{HttpArgs, HttpError};

use super::caller::{self, CallerKeys};
use super::guard;
use super::legacy_sse::LegacySse;
use super::limits::{self, StreamSlots};
use super::sessions::{self, Sessions};
use super::{conn, replay, routing, rpc};
use crate::tools::ImageServer;

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
    let stop = CancellationToken::new();
    let server = routing::advertise(server).with_callers(caller::from_extensions);
    // The requests waiting for their answer, over both transports: shutdown waits for them.
    let calls = rpc::InFlight::default();
    let app = app(&server, &args, &calls, &stop);
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(
            "MCP over streamable HTTP at http://{addr}/mcp, legacy HTTP+SSE at http://{addr}/sse"
        );
    }
    let stop_accepting = CancellationToken::new();
    let serving = tokio::spawn(conn::serve(
        listener,
        app,
        connection_limits(&args),
        stop_accepting.clone(),
    ));
    shutdown.await;
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    wind_down(&server, &calls, grace).await;
    stop.cancel();
    stop_accepting.cancel();
    serving
        .await
        .map_err(|e| HttpError::Serve(std::io::Error::other(e)))
}

/// What a request passes through, outermost last: Host and Origin checks, the token, the
/// event-stream limit, who calls; then `/mcp` or the legacy SSE routes.
fn app(
    server: &ImageServer,
    args: &HttpArgs,
    calls: &rpc::InFlight,
    stop: &CancellationToken,
) -> axum::Router {
    let allowed = Allowed::of(args);
    let legacy = LegacySse::new(
        server.clone(),
        allowed.max_body,
        calls.clone(),
        stop.clone(),
    );
    let keys = CallerKeys::new(args.allow_caller_keys, args.server_key_fallback);
    let tokens: Arc<[Arc<str>]> = args.tokens().into();
    let mcp = streamable(server, args, calls, stop, &allowed)
        .merge(legacy.routes())
        .layer(middleware::from_fn_with_state(keys, caller::identify))
        .layer(middleware::from_fn_with_state(
            StreamSlots::new(args.max_streams),
            limits::limit_streams,
        ))
        .layer(middleware::from_fn_with_state(tokens, require_token))
        .layer(middleware::from_fn_with_state(
            Arc::new(guard::Allowed::new(&allowed.hosts, &allowed.origins)),
            guard::check,
        ));
    axum::Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(mcp)
}

/// `/mcp`: rmcp's streamable HTTP service, with the checks it lacks around it.
fn streamable(
    server: &ImageServer,
    args: &HttpArgs,
    calls: &rpc::InFlight,
    stop: &CancellationToken,
    allowed: &Allowed,
) -> axum::Router {
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(allowed.max_body)
        .with_cancellation_token(stop.child_token())
        .with_allowed_hosts(allowed.hosts.clone())
        .with_allowed_origins(allowed.origins.clone())
        .with_legacy_session_mode(!args.stateless);
    let sessions = Arc::new(LocalSessionManager::default());
    let factory = server.clone();
    let service =
        StreamableHttpService::new(move || Ok(factory.clone()), Arc::clone(&sessions), config);
    let mut route = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(replay::skip_replayed))
        .layer(middleware::from_fn_with_state(
            rpc::HttpCheck {
                max_body_bytes: allowed.max_body,
                calls: calls.clone(),
                sessions: !args.stateless,
            },
            rpc::check_http,
        ));
    if !args.stateless {
        let bounds = Sessions::new(
            Arc::clone(&sessions),
            args.max_sessions,
            Duration::from_secs(args.session_init_seconds.max(1)),
        );
        tokio::spawn(bounds.clone().reap(stop.clone()));
        route = route.layer(middleware::from_fn_with_state(
            bounds,
            sessions::bound_sessions,
        ));
    }
    route
        .layer(middleware::from_fn_with_state(
            server.clone(),
            super::cancel::route_cancellations,
        ))
        .layer(middleware::from_fn_with_state(
            (!args.stateless).then_some(sessions),
            end_session,
        ))
}

/// The Host and Origin values accepted, and the largest request body.
struct Allowed {
    hosts: Vec<String>,
    origins: Vec<String>,
    max_body: usize,
}

impl Allowed {
    fn of(args: &HttpArgs) -> Allowed {
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
        Allowed {
            hosts,
            origins,
            max_body: args.max_body_mb.max(1) * 1024 * 1024,
        }
    }
}

fn connection_limits(args: &HttpArgs) -> conn::Limits {
    conn::Limits {
        max_connections: args.max_connections,
        max_unauthenticated: args.max_unauthenticated,
        header_timeout: Duration::from_secs(args.header_timeout_seconds.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds.max(1)),
    }
}

/// Nothing new starts; running calls get `grace` to finish, and those still running then
/// answer. Still accepting meanwhile: late calls get a clear refusal rather than a refused
/// connection.
async fn wind_down(server: &ImageServer, calls: &rpc::InFlight, grace: Duration) {
    server.begin_shutdown();
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
        server.end_grace();
        let _ = tokio::time::timeout(ANSWER_LIMIT, calls.drained()).await;
    }
}

/// How long the answers of calls stopped at the end of the grace period may take to be sent.
const ANSWER_LIMIT: Duration = Duration::from_secs(3);

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

/// 401 with `WWW-Authenticate` unless the request carries one of the tokens (compared in
/// constant time, against every token). No tokens: every request passes.
async fn require_token(
    State(tokens): State<Arc<[Arc<str>]>>,
    request: Request,
    next: Next,
) -> Response {
    let mark = request.extensions().get::<conn::ConnMark>().cloned();
    if tokens.is_empty() {
        if let Some(mark) = mark {
            mark.authenticated();
        }
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if given.is_some_and(|g| one_of(g.as_bytes(), &tokens)) {
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

/// Whether `given` is one of `tokens`, compared with every one so the time says nothing of which.
fn one_of(given: &[u8], tokens: &[Arc<str>]) -> bool {
    tokens
        .iter()
        .fold(false, |hit, t| constant_time_eq(given, t.as_bytes()) | hit)
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

    #[test]
    fn any_of_several_tokens_is_accepted_and_nothing_else() {
        let tokens: Vec<Arc<str>> = vec!["alice-token".into(), "bob-token".into()];
        assert!(one_of(b"alice-token", &tokens));
        assert!(one_of(b"bob-token", &tokens));
        assert!(!one_of(b"carol-token", &tokens));
        assert!(!one_of(b"alice-token,bob-token", &tokens));
    }
}

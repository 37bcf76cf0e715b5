//! Bounds on streamable HTTP sessions, which rmcp does not cap: each costs memory (about 60 KB
//! with its worker) and lives until its idle timeout. Past `max` open sessions a new
//! `initialize` gets 503 with `Retry-After`; a session whose client never sends a second
//! request (the `initialized` notification) is closed after a short deadline instead of living
//! out rmcp's five-minute keep-alive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::common::server_side_http::SessionId;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The open sessions, and those still waiting for their client's second request.
#[derive(Clone)]
pub struct Sessions {
    manager: Arc<LocalSessionManager>,
    max: usize,
    init_deadline: Duration,
    /// Sessions created but not yet used again, with when they were created.
    unconfirmed: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Sessions {
    pub fn new(manager: Arc<LocalSessionManager>, max: usize, init_deadline: Duration) -> Self {
        Sessions {
            manager,
            max: max.max(1),
            init_deadline,
            unconfirmed: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.unconfirmed.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn open(&self) -> usize {
        self.manager.sessions.read().await.len()
    }

    /// Closes the sessions not confirmed within the deadline, until `stop` fires.
    pub async fn reap(self, stop: CancellationToken) {
        let mut tick =
            tokio::time::interval((self.init_deadline / 4).max(Duration::from_millis(100)));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            let now = Instant::now();
            let expired: Vec<String> = {
                let mut unconfirmed = self.lock();
                let expired = unconfirmed
                    .iter()
                    .filter(|(_, created)| {
                        now.saturating_duration_since(**created) >= self.init_deadline
                    })
                    .map(|(id, _)| id.clone())
                    .collect::<Vec<_>>();
                for id in &expired {
                    unconfirmed.remove(id);
                }
                expired
            };
            for id in expired {
                tracing::debug!("closing a session whose client never completed initialization");
                let _ = self.manager.close_session(&SessionId::from(id)).await;
            }
        }
    }
}

/// Middleware for `/mcp` in session mode.
pub async fn bound_sessions(
    State(sessions): State<Sessions>,
    request: Request,
    next: Next,
) -> Response {
    let id = request
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(id) = id {
        sessions.lock().remove(&id);
        return next.run(request).await;
    }
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let open = sessions.open().await;
    if open >= sessions.max {
        tracing::warn!(max = sessions.max, "session limit reached");
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many open sessions (limit {}): retry later, or end unused sessions with \
                 DELETE /mcp; the limit is SEEDREAM_HTTP_MAX_SESSIONS",
                sessions.max
            ),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    }
    let response = next.run(request).await;
    if let Some(created) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        sessions.lock().insert(created.to_owned(), Instant::now());
    }
    response
}

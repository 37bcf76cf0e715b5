//! The 2024-11-05 HTTP+SSE transport, for clients and agent frameworks that speak nothing newer:
//! `GET /sse` opens an event stream whose first event (`endpoint`) names the URL to POST
//! messages to; replies and notifications come back on that stream as `message` events. rmcp
//! removed its own implementation (0.11), so this one is built on its `Transport` trait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::stream;
use rmcp::model::{ClientJsonRpcMessage, GetExtensions, ServerJsonRpcMessage};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleServer, ServiceExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::rpc::{self, InFlight};
use crate::tools::ImageServer;

/// Messages buffered per direction before the sender waits.
const CHANNEL_CAPACITY: usize = 64;
/// A comment line this often keeps proxies from closing an idle stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

type Inboxes = Arc<Mutex<HashMap<String, mpsc::Sender<RxJsonRpcMessage<RoleServer>>>>>;

/// The open legacy sessions, by id.
#[derive(Clone)]
pub struct LegacySse {
    server: ImageServer,
    sessions: Inboxes,
    max_body_bytes: usize,
    /// Requests waiting for their answer, by session and id (shared with `/mcp`).
    calls: InFlight,
    /// Cancelled when the server stops: every session ends.
    stop: CancellationToken,
}

impl LegacySse {
    pub fn new(
        server: ImageServer,
        max_body_bytes: usize,
        calls: InFlight,
        stop: CancellationToken,
    ) -> Self {
        LegacySse {
            // A dropped stream ends the session but not the calls it started that may already
            // be paid for: the tools keep those whatever the transport.
            server,
            sessions: Arc::default(),
            max_body_bytes,
            calls,
            stop,
        }
    }

    /// `GET /sse` and `POST /messages`.
    pub fn routes(self) -> Router {
        Router::new()
            .route("/sse", get(open))
            .route("/messages", post(deliver))
            .with_state(self)
    }
}

/// One session's side of the channels, as rmcp sees it.
struct ChannelTransport {
    inbox: mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    outbox: mpsc::Sender<TxJsonRpcMessage<RoleServer>>,
    session: String,
    calls: InFlight,
}

/// The key of request `id` of legacy session `session` in the shared [`InFlight`].
fn call_key(session: &str, id: &impl serde::Serialize) -> serde_json::Value {
    serde_json::json!(["legacy", session, id])
}

#[derive(Debug, thiserror::Error)]
#[error("the client's event stream is closed")]
pub struct StreamClosed;

impl Transport<RoleServer> for ChannelTransport {
    type Error = StreamClosed;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answered = match &item {
            rmcp::model::JsonRpcMessage::Response(r) => Some(call_key(&self.session, &r.id)),
            rmcp::model::JsonRpcMessage::Error(e) => {
                e.id.as_ref().map(|id| call_key(&self.session, id))
            }
            _ => None,
        };
        let outbox = self.outbox.clone();
        let calls = self.calls.clone();
        async move {
            let sent = outbox.send(item).await.map_err(|_| StreamClosed);
            if let Some(key) = answered {
                calls.release(&rpc::id_key(&key));
            }
            sent
        }
    }

    fn receive(&mut self) -> impl Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.inbox.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inbox.close();
        Ok(())
    }
}

/// Ends the session when the client's stream goes away.
struct SessionGuard {
    id: String,
    sessions: Inboxes,
    service: CancellationToken,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&self.id);
        }
        self.service.cancel();
        tracing::debug!(session = %self.id, "legacy SSE session closed");
    }
}

async fn open(State(sse): State<LegacySse>) -> Response {
    // Behind a load balancer the POSTs must reach this instance: the id names it, as job ids do.
    let random = uuid::Uuid::new_v4().simple();
    let id = match sse.server.instance() {
        Some(instance) => format!("{instance}-{random}"),
        None => random.to_string(),
    };
    let (inbox_tx, inbox) = mpsc::channel(CHANNEL_CAPACITY);
    let (outbox, outbox_rx) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL_CAPACITY);
    if let Ok(mut sessions) = sse.sessions.lock() {
        sessions.insert(id.clone(), inbox_tx);
    }
    let ct = sse.stop.child_token();
    let server = sse.server.clone();
    let transport = ChannelTransport {
        inbox,
        outbox,
        session: id.clone(),
        calls: sse.calls.clone(),
    };
    let service_ct = ct.clone();
    tokio::spawn(async move {
        match server.serve_with_ct(transport, service_ct).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(e) => tracing::debug!(error = %e, "legacy SSE session ended before it started"),
        }
    });
    tracing::debug!(session = %id, "legacy SSE session opened");

    let first = Bytes::from(format!(
        "event: endpoint\ndata: /messages?sessionId={id}\n\n"
    ));
    let guard = SessionGuard {
        id,
        sessions: Arc::clone(&sse.sessions),
        service: ct,
    };
    let events = stream::unfold(
        (Some(first), outbox_rx, guard),
        |(first, mut outbox_rx, guard)| async move {
            let chunk = match first {
                Some(first) => first,
                None => tokio::select! {
                    message = outbox_rx.recv() => message_event(&message?),
                    () = tokio::time::sleep(KEEP_ALIVE) => Bytes::from_static(b": keep-alive\n\n"),
                },
            };
            Some((Ok::<_, std::io::Error>(chunk), (None, outbox_rx, guard)))
        },
    );
    let mut response = Body::from_stream(events).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // nginx would otherwise buffer the stream and hold replies back.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn message_event(message: &ServerJsonRpcMessage) -> Bytes {
    match serde_json::to_string(message) {
        // serde_json escapes newlines inside strings, so the JSON is one `data:` line.
        Ok(json) => Bytes::from(format!("event: message\ndata: {json}\n\n")),
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a message for the SSE stream");
            Bytes::from_static(b": dropped an unserializable message\n\n")
        }
    }
}

#[derive(serde::Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId", alias = "session_id")]
    session_id: Option<String>,
}

async fn deliver(
    State(sse): State<LegacySse>,
    Query(query): Query<SessionQuery>,
    request: Request,
) -> Response {
    let Some(id) = query.session_id else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "missing sessionId: POST to the URL the `endpoint` event of GET /sse named",
        );
    };
    let inbox = sse
        .sessions
        .lock()
        .ok()
        .and_then(|sessions| sessions.get(&id).cloned());
    let Some(inbox) = inbox else {
        return refuse(
            StatusCode::NOT_FOUND,
            "unknown or closed session: open GET /sse again and use the URL its `endpoint` event names",
        );
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, sse.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large: send large reference images as URLs, or raise SEEDREAM_HTTP_MAX_BODY_MB",
            );
        }
    };
    let mut message: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(message) => message,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("the body is not a JSON-RPC message: {e}"),
            );
        }
    };
    if let Err(refusal) = check_and_claim(&sse.calls, &id, &bytes) {
        return (StatusCode::BAD_REQUEST, axum::Json(refusal.to_json())).into_response();
    }
    // The request head carries the caller `caller::identify` found, as rmcp's does for /mcp.
    match &mut message {
        ClientJsonRpcMessage::Request(req) => {
            req.request.extensions_mut().insert(parts);
        }
        ClientJsonRpcMessage::Notification(not) => {
            not.notification.extensions_mut().insert(parts);
        }
        _ => {}
    }
    match inbox.send(message).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(_) => refuse(
            StatusCode::NOT_FOUND,
            "the session has closed: open GET /sse again",
        ),
    }
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, message.to_owned()).into_response()
}

/// The `tools/call` check, and the request's id taken (or a cancelled one freed) in `calls`.
fn check_and_claim(calls: &InFlight, session: &str, bytes: &[u8]) -> Result<(), rpc::Refusal> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    rpc::check(&value)?;
    if let (Some(_), Some(id)) = (value.get("method"), value.get("id")) {
        calls.claim(&call_key(session, id)).map_err(|mut refusal| {
            refusal.id = id.clone();
            refusal.message = format!(
                "Invalid Request: request id {id} is already in use by a request of this session \
                 that is still running; send each request with a new id (the earlier request goes on)"
            );
            refusal
        })?;
    }
    if value.get("method").and_then(|m| m.as_str()) == Some("notifications/cancelled")
        && let Some(id) = value.get("params").and_then(|p| p.get("requestId"))
    {
        calls.release(&rpc::id_key(&call_key(session, id)));
    }
    Ok(())
}

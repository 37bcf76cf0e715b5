//! JSON-RPC checks rmcp does not make the way clients need: a reply to every line or body that
//! is not a message (rmcp drops those silently over stdio, and answers 415 over HTTP), -32602
//! for `tools/call` arguments that are not an object (rmcp says -32601), and refusing a request
//! id that is still in use (rmcp lets the second request take over the first one's slot, and
//! the earlier, possibly paid, call loses its answer).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use rmcp::model::ClientJsonRpcMessage;
use serde_json::{Value, json};
use tokio::sync::Notify;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INVALID_PARAMS: i64 = -32602;

/// A JSON-RPC error to send instead of passing a message on.
#[derive(Debug)]
pub struct Refusal {
    pub id: Value,
    pub code: i64,
    pub message: String,
}

impl Refusal {
    fn new(id: Value, code: i64, message: impl Into<String>) -> Self {
        Refusal {
            id,
            code,
            message: message.into(),
        }
    }

    /// The error response, as a JSON value.
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code, "message": self.message},
        })
    }
}

/// Parses one message, or says which JSON-RPC error answers it.
pub fn parse(bytes: &[u8]) -> Result<ClientJsonRpcMessage, Refusal> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        Refusal::new(
            Value::Null,
            PARSE_ERROR,
            format!("Parse error: the message is not valid JSON ({e})"),
        )
    })?;
    check(&value)?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    serde_json::from_value(value).map_err(|e| {
        Refusal::new(
            id,
            INVALID_REQUEST,
            format!("Invalid Request: not a JSON-RPC 2.0 message this server understands ({e})"),
        )
    })
}

/// Checks a parsed message before rmcp sees it: `tools/call` arguments must be an object.
pub fn check(value: &Value) -> Result<(), Refusal> {
    if value.get("method").and_then(Value::as_str) != Some("tools/call") {
        return Ok(());
    }
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    match value.get("params").and_then(|p| p.get("arguments")) {
        None | Some(Value::Null | Value::Object(_)) => Ok(()),
        Some(other) => Err(Refusal::new(
            id,
            INVALID_PARAMS,
            format!(
                "Invalid params: `arguments` must be a JSON object of argument names to values, \
                 not {}",
                kind(other)
            ),
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The key of a request id: `1` and `"1"` are different ids.
pub fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Request ids that are still waiting for their answer, within one client connection.
#[derive(Clone, Default)]
pub struct InFlight {
    ids: Arc<Mutex<HashSet<String>>>,
    changed: Arc<Notify>,
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes `id` for a new request, or refuses it while an earlier request holds it.
    pub fn claim(&self, id: &Value) -> Result<(), Refusal> {
        if self.lock().insert(id_key(id)) {
            return Ok(());
        }
        Err(Refusal::new(
            id.clone(),
            INVALID_REQUEST,
            format!(
                "Invalid Request: request id {id} is already in use by a request that is still \
                 running; send each request with a new id (the earlier request goes on)"
            ),
        ))
    }

    /// The request with this id got its answer or was cancelled.
    pub fn release(&self, key: &str) {
        if self.lock().remove(key) {
            self.changed.notify_waiters();
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Returns once no request is waiting for its answer.
    pub async fn drained(&self) {
        loop {
            let changed = self.changed.notified();
            if self.len() == 0 {
                return;
            }
            changed.await;
        }
    }
}

/// The request id a `notifications/cancelled` message names, as an [`id_key`].
pub fn cancelled_id(message: &ClientJsonRpcMessage) -> Option<String> {
    let ClientJsonRpcMessage::Notification(n) = message else {
        return None;
    };
    let rmcp::model::ClientNotification::CancelledNotification(c) = &n.notification else {
        return None;
    };
    c.params.request_id.as_ref().map(id_key)
}

/// What the HTTP check needs.
#[derive(Clone)]
pub struct HttpCheck {
    pub max_body_bytes: usize,
    /// Every request waiting for its answer, keyed by session and id.
    pub calls: InFlight,
    /// Whether requests carry sessions. Without, each request is served on its own and ids
    /// cannot clash.
    pub sessions: bool,
}

/// Middleware for `POST /mcp`: 400 with a JSON-RPC parse error for a body that is not JSON
/// (rmcp answers 415), -32602 for `tools/call` arguments that are not an object, and -32600 for
/// a request id the same session is still waiting on.
pub async fn check_http(
    axum::extract::State(settings): axum::extract::State<HttpCheck>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{Method, StatusCode};
    use axum::response::IntoResponse;

    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, settings.max_body_bytes).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body too large: send large reference images as URLs, or raise \
             SEEDREAM_HTTP_MAX_BODY_MB",
        )
            .into_response();
    };
    let value: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(e) => {
            let refusal = Refusal::new(
                Value::Null,
                PARSE_ERROR,
                format!("Parse error: the body is not valid JSON ({e})"),
            );
            return (StatusCode::BAD_REQUEST, axum::Json(refusal.to_json())).into_response();
        }
    };
    if let Err(refusal) = check(&value) {
        return axum::Json(refusal.to_json()).into_response();
    }
    let claimed = match (value.get("method"), value.get("id")) {
        (Some(_), Some(id)) => {
            let session = parts
                .headers
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .filter(|_| settings.sessions);
            let key = match session {
                Some(session) => json!(["session", session, id]),
                // Counted for shutdown only: without a session, ids cannot clash.
                None => json!(["single", uuid::Uuid::new_v4().simple().to_string()]),
            };
            if let Err(mut refusal) = settings.calls.claim(&key) {
                refusal.id = id.clone();
                refusal.message = format!(
                    "Invalid Request: request id {id} is already in use by a request of this \
                     session that is still running; send each request with a new id (the \
                     earlier request goes on)"
                );
                return axum::Json(refusal.to_json()).into_response();
            }
            Some((settings.calls.clone(), id_key(&key)))
        }
        _ => None,
    };
    let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    let response = next.run(request).await;
    let Some((inflight, key)) = claimed else {
        return response;
    };
    // The id is in use until its answer has been streamed (or the client hung up).
    let (parts, body) = response.into_parts();
    let release = Release { inflight, key };
    let body = futures_util::StreamExt::map(body.into_data_stream(), move |chunk| {
        let _hold = &release;
        chunk
    });
    axum::response::Response::from_parts(parts, axum::body::Body::from_stream(body))
}

/// Frees a request id when dropped.
pub struct Release {
    inflight: InFlight,
    key: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        self.inflight.release(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_that_are_not_an_object_are_invalid_params() {
        let refusal = parse(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"generate_image","arguments":["a fox"]}}"#,
        )
        .unwrap_err();
        assert_eq!(refusal.code, INVALID_PARAMS);
        assert_eq!(refusal.id, json!(7));
        assert!(
            refusal.message.contains("`arguments`"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn text_that_is_not_json_is_a_parse_error_with_a_null_id() {
        let refusal = parse(b"{\"jsonrpc\":").unwrap_err();
        assert_eq!(refusal.code, PARSE_ERROR);
        assert_eq!(refusal.to_json()["id"], Value::Null);
    }

    #[test]
    fn an_id_is_free_again_once_released() {
        let inflight = InFlight::default();
        inflight.claim(&json!(1)).unwrap();
        assert!(inflight.claim(&json!("1")).is_ok(), "\"1\" is not 1");
        let refusal = inflight.claim(&json!(1)).unwrap_err();
        assert!(refusal.message.contains("request id 1 is already in use"));
        inflight.release(&id_key(&json!(1)));
        assert!(inflight.claim(&json!(1)).is_ok());
    }
}

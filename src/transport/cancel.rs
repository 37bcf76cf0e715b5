//! Cancellations from stateless HTTP clients. rmcp answers a sessionless notification with 202
//! and drops it, so a `notifications/cancelled` that a client sends when its caller aborts
//! (the TypeScript SDK's `AbortSignal`) would never reach the call it names: the paid
//! generation would go on and later answer a request the client has forgotten. This layer
//! reads such notifications on the way in and hands them to the tools as a typed
//! [`Cancellation`], which cancel the call with that id among the same caller's calls.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::caller::{CallerContext, Cancellation};
use crate::tools::ImageServer;

/// Larger bodies are not a cancellation and pass untouched (and unread).
const MAX_NOTIFICATION_BYTES: usize = 16 * 1024;

pub async fn route_cancellations(
    State(server): State<ImageServer>,
    request: Request,
    next: Next,
) -> Response {
    if !may_be_stateless_cancel(&request) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_NOTIFICATION_BYTES).await {
        Ok(bytes) => bytes,
        // Shorter than it said, or cut: rmcp would have refused it too.
        Err(_) => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                "unreadable request body",
            )
                .into_response();
        }
    };
    if let Some((id, reason)) = cancelled_request(&bytes) {
        // Identified by `caller::identify`, which runs before this layer.
        let caller = parts
            .extensions
            .get::<CallerContext>()
            .cloned()
            .unwrap_or_else(CallerContext::local);
        let why = Cancellation::from_reason(reason.as_deref());
        let found = server.cancel_request(&caller.scope, &id, why);
        tracing::info!(id, found, ?reason, "stateless cancellation");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A sessionless POST that announces itself as a cancellation (2026-07-28 clients send
/// `Mcp-Method`) or is small enough to be one.
fn may_be_stateless_cancel(request: &Request) -> bool {
    if request.method() != Method::POST || request.headers().contains_key("mcp-session-id") {
        return false;
    }
    match request
        .headers()
        .get("mcp-method")
        .and_then(|v| v.to_str().ok())
    {
        Some(method) => method == "notifications/cancelled",
        None => request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .is_some_and(|n| n <= MAX_NOTIFICATION_BYTES),
    }
}

/// The request id (as rmcp prints it) and reason of a `notifications/cancelled`.
fn cancelled_request(body: &[u8]) -> Option<(String, Option<String>)> {
    let message: Value = serde_json::from_slice(body).ok()?;
    if message.get("method")?.as_str()? != "notifications/cancelled" || message.get("id").is_some()
    {
        return None;
    }
    let params = message.get("params")?;
    let id = match params.get("requestId")? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let reason = params
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((id, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancellation_names_its_request_and_reason() {
        let body = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3,"reason":"AbortError"}}"#;
        assert_eq!(
            cancelled_request(body),
            Some(("3".to_owned(), Some("AbortError".to_owned())))
        );
        let body =
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"abc"}}"#;
        assert_eq!(cancelled_request(body), Some(("abc".to_owned(), None)));
    }

    #[test]
    fn other_messages_are_not_cancellations() {
        for body in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#[..],
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            br#"not json"#,
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":[1]}}"#,
        ] {
            assert_eq!(cancelled_request(body), None);
        }
    }
}

//! How every API answer is framed: the route's dialect, the request ids, and the
//! headers (`Content-Type`, `X-Request-Id`) shared by JSON, HTML and SSE responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::clock::RequestIds;
use super::config::UpstreamErrorStyle;

/// Which route a request came in on: the two speak different error dialects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `/v1/...`: CometAPI gateway in front of Ark.
    Comet,
    /// `/api/v3/...`: Ark itself.
    Ark,
}

/// Everything needed to render a reply for one request.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub mode: Mode,
    pub style: UpstreamErrorStyle,
    pub ids: RequestIds,
}

/// A JSON response with the headers every API answer carries.
pub(crate) fn json_response(status: StatusCode, body: &Value, ids: &RequestIds) -> Response {
    bytes_response(status, JSON_TYPE, body.to_string().into_bytes(), ids)
}

pub(crate) const JSON_TYPE: &str = "application/json; charset=utf-8";

/// A response of the given type with `X-Request-Id`.
pub(crate) fn bytes_response(
    status: StatusCode,
    content_type: &'static str,
    body: Vec<u8>,
    ids: &RequestIds,
) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&ids.ark) {
        headers.insert("x-request-id", id);
    }
    response
}

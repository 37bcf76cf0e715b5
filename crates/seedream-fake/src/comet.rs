//! CometAPI's own error envelope (`type:"comet_api_error"`), used for errors raised by
//! the gateway before a request reaches the model, and for relayed Ark errors.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::errors::ArkError;
use super::reply::{Mode, Reply, json_response};

/// "all channels failed. Last error: HTTP 400: {ark body} (request id: …)", as a new-api relay words it.
pub(crate) fn wrapped_message(status: StatusCode, ark_body: &Value, comet_id: &str) -> String {
    format!(
        "all channels failed. Last error: HTTP {}: {ark_body} (request id: {comet_id})",
        status.as_u16()
    )
}

/// `{"error":{...,"type":"comet_api_error"}}`; the real auth and missing-model bodies have no `param`.
pub(crate) fn comet_body(code: &str, message: &str, with_param: bool) -> Value {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), Value::from(code));
    error.insert("message".into(), Value::from(message));
    if with_param {
        error.insert("param".into(), Value::from(""));
    }
    error.insert("type".into(), Value::from("comet_api_error"));
    json!({ "error": error })
}

/// Errors raised by the gateway before a request reaches the model.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Gateway {
    Unauthorized,
    /// The body is not a JSON object; the detail is the parser's message.
    InvalidJson(String),
    ModelMissing,
    TooLarge,
    /// A fake-API directive the fake API does not know (a typo in a test).
    BadDirective(String),
    /// `comet_invalid_request_500`.
    InvalidRequest500,
    /// `comet_503`.
    NoChannel(String),
}

impl Gateway {
    pub(crate) fn render(&self, reply: &Reply) -> Response {
        let id = &reply.ids.comet;
        let (status, body) = match (self, reply.mode) {
            (Gateway::Unauthorized, Mode::Ark) => {
                return ArkError::unauthorized().render(reply);
            }
            (Gateway::ModelMissing, Mode::Ark) => return ArkError::missing("model").render(reply),
            (Gateway::InvalidJson(detail), Mode::Ark) => {
                let reason = format!("the request body is not a valid JSON object ({detail})");
                return ArkError::invalid("body", &reason).render(reply);
            }
            (Gateway::Unauthorized, Mode::Comet) => (
                StatusCode::UNAUTHORIZED,
                comet_body("", &format!("invalid token (request id: {id})"), false),
            ),
            (Gateway::ModelMissing, Mode::Comet) => (
                StatusCode::BAD_REQUEST,
                comet_body(
                    "",
                    &format!("model name is required (request id: {id})"),
                    false,
                ),
            ),
            (Gateway::InvalidJson(detail), Mode::Comet) => (
                StatusCode::BAD_REQUEST,
                comet_body(
                    "invalid_request",
                    &format!("{detail} (request id: {id})"),
                    true,
                ),
            ),
            (Gateway::TooLarge, Mode::Ark) => {
                let mut error = ArkError::invalid("body", "the request body is too large");
                error.status = StatusCode::PAYLOAD_TOO_LARGE;
                return error.render(reply);
            }
            (Gateway::TooLarge, Mode::Comet) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                comet_body(
                    "",
                    &format!("request body too large (request id: {id})"),
                    true,
                ),
            ),
            (Gateway::BadDirective(detail), _) => (
                StatusCode::BAD_REQUEST,
                comet_body(
                    "fake_directive",
                    &format!("{detail} (request id: {id})"),
                    true,
                ),
            ),
            (Gateway::InvalidRequest500, _) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                comet_body(
                    "invalid_request",
                    &format!("invalid request (request id: {id})"),
                    true,
                ),
            ),
            (Gateway::NoChannel(model), _) => (
                StatusCode::SERVICE_UNAVAILABLE,
                comet_body(
                    "",
                    &format!(
                        "no available channel for model {model} under group default (request id: {id})"
                    ),
                    true,
                ),
            ),
        };
        json_response(status, &body, &reply.ids)
    }
}

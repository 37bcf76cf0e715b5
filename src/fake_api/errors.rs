//! Error bodies: Ark's envelope, CometAPI's envelope, and how CometAPI relays Ark errors
//! (`upstream_error_style`). Messages reuse the real upstream wording where it is known.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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

/// An error as Ark reports it (`{"error":{"code","message","param","type"}}`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ArkError {
    pub status: StatusCode,
    pub code: String,
    /// Without the trailing ". Request id: …", which is added when rendering.
    pub message: String,
    pub param: String,
    pub kind: &'static str,
}

impl ArkError {
    fn new(
        status: StatusCode,
        code: &str,
        kind: &'static str,
        param: &str,
        message: String,
    ) -> Self {
        ArkError {
            status,
            code: code.to_owned(),
            message,
            param: param.to_owned(),
            kind,
        }
    }

    /// 400 `InvalidParameter` in Ark's "The parameter `x` … is not valid: reason" wording.
    pub(crate) fn invalid(param: &str, reason: &str) -> Self {
        let message =
            format!("The parameter `{param}` specified in the request is not valid: {reason}");
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "BadRequest",
            param,
            message,
        )
    }

    /// 400 with a specific code and a message given verbatim.
    pub(crate) fn bad_request(code: &str, param: &str, message: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "BadRequest", param, message)
    }

    /// 400 for a field the model does not support (only with `strict_unsupported`, or `tools` on 4.x).
    pub(crate) fn unsupported(param: &str) -> Self {
        let message = format!(
            "The parameter `{param}` specified in the request is not valid: {param} is not supported by the current model"
        );
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "BadRequest",
            param,
            message,
        )
    }

    pub(crate) fn missing(param: &str) -> Self {
        let message =
            "The request failed because it is missing one or multiple required parameters";
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "BadRequest",
            param,
            message.to_owned(),
        )
    }

    pub(crate) fn unauthorized() -> Self {
        let message = "The API key or AK/SK in the request is missing or invalid";
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AuthenticationError",
            "Unauthorized",
            "",
            message.to_owned(),
        )
    }

    pub(crate) fn model_not_found(model: &str) -> Self {
        let message =
            format!("The model or endpoint {model} does not exist or you do not have access to it");
        Self::new(
            StatusCode::NOT_FOUND,
            "InvalidEndpointOrModel.NotFound",
            "NotFound",
            "",
            message,
        )
    }

    pub(crate) fn path_not_found(path: &str) -> Self {
        let message = format!("The requested resource {path} was not found");
        Self::new(StatusCode::NOT_FOUND, "NotFound", "NotFound", "", message)
    }

    pub(crate) fn model_not_open(model: &str) -> Self {
        let message = format!(
            "Your account has not activated the model {model}. Please activate the model service in the Ark Console"
        );
        Self::new(
            StatusCode::NOT_FOUND,
            "ModelNotOpen",
            "NotFound",
            "",
            message,
        )
    }

    /// 429 of the given rate-limit family.
    pub(crate) fn too_many(code: &str, message: &str) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            code,
            "TooManyRequests",
            "",
            message.to_owned(),
        )
    }

    pub(crate) fn ipm() -> Self {
        Self::too_many(
            "ModelAccountIpmRateLimitExceeded",
            "The request has exceeded the images per minute (IPM) rate limit of the model for your account. Please try again later",
        )
    }

    pub(crate) fn inflight() -> Self {
        Self::too_many(
            "InflightBatchsizeExceeded",
            "The request has exceeded the concurrent request (inflight batch size) limit of the model for your account. Please reduce concurrency and try again later",
        )
    }

    pub(crate) fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ItemError::INTERNAL_CODE,
            "InternalServerError",
            "",
            ItemError::INTERNAL_MESSAGE.to_owned(),
        )
    }

    pub(crate) fn output_sensitive() -> Self {
        Self::bad_request(
            ItemError::SENSITIVE_CODE,
            "",
            ItemError::SENSITIVE_MESSAGE.to_owned(),
        )
    }

    /// The Ark body with the Ark request id appended to the message.
    pub(crate) fn ark_body(&self, ark_id: &str) -> Value {
        json!({"error": {
            "code": self.code,
            "message": format!("{}. Request id: {ark_id}", self.message),
            "param": self.param,
            "type": self.kind,
        }})
    }

    /// Renders for the route and relay style of `reply`.
    pub(crate) fn render(&self, reply: &Reply) -> Response {
        let ark = self.ark_body(&reply.ids.ark);
        let body = match (reply.mode, reply.style) {
            (Mode::Ark, _) | (Mode::Comet, UpstreamErrorStyle::ArkPassthrough) => ark,
            (Mode::Comet, UpstreamErrorStyle::NewApiFlat) => json!({"error": {
                "code": self.code,
                "message": format!("{}. Request id: {}", self.message, reply.ids.ark),
                "param": self.param,
                "type": "",
                "request_id": reply.ids.comet,
            }}),
            (Mode::Comet, UpstreamErrorStyle::CometWrapped) => comet_body(
                "",
                &wrapped_message(self.status, &ark, &reply.ids.comet),
                true,
            ),
        };
        json_response(self.status, &body, &reply.ids)
    }
}

/// "all channels failed. Last error: HTTP 400: {ark body} (request id: …)", as a new-api relay words it.
pub(crate) fn wrapped_message(status: StatusCode, ark_body: &Value, comet_id: &str) -> String {
    format!(
        "all channels failed. Last error: HTTP {}: {ark_body} (request id: {comet_id})",
        status.as_u16()
    )
}

/// A per-image failure inside `data[i]` or a `partial_failed` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemError {
    Sensitive,
    Internal,
}

impl ItemError {
    const SENSITIVE_CODE: &'static str = "OutputImageSensitiveContentDetected";
    const SENSITIVE_MESSAGE: &'static str =
        "The request failed because the output image may contain sensitive information.";
    const INTERNAL_CODE: &'static str = "InternalServiceError";
    const INTERNAL_MESSAGE: &'static str = "The service encountered an unexpected internal error.";

    pub(crate) fn code(self) -> &'static str {
        match self {
            ItemError::Sensitive => Self::SENSITIVE_CODE,
            ItemError::Internal => Self::INTERNAL_CODE,
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            ItemError::Sensitive => Self::SENSITIVE_MESSAGE,
            ItemError::Internal => Self::INTERNAL_MESSAGE,
        }
    }

    /// `{"code","message"}`, as found in `data[i].error`.
    pub(crate) fn body(self) -> Value {
        json!({"code": self.code(), "message": self.message()})
    }
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
    /// A mock directive the stand-in does not know (a typo in a test).
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
                    "mock_directive",
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

//! Ark's error envelope and the per-image errors, with the real upstream wording where it
//! is known; rendering follows the route and `upstream_error_style`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::comet::{comet_body, wrapped_message};
use super::config::UpstreamErrorStyle;
use super::reply::{Mode, Reply, json_response};

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

    /// 403 `AccessDenied` / `AccountOverdueError` (wording paraphrased, seedream-api.md §8).
    pub(crate) fn forbidden(code: &str, message: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code,
            "Forbidden",
            "",
            message.to_owned(),
        )
    }

    pub(crate) fn unsupported_model(model: &str) -> Self {
        let message = format!("The model {model} does not support this API");
        Self::new(
            StatusCode::NOT_FOUND,
            "UnsupportedModel",
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
            "message": with_request_id(&self.message, ark_id),
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
                "message": with_request_id(&self.message, &reply.ids.ark),
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

/// Ark's "<message>. Request id: <id>", without doubling a full stop the message ends with.
fn with_request_id(message: &str, id: &str) -> String {
    format!("{}. Request id: {id}", message.trim_end_matches('.'))
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

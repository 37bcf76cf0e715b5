//! Scenario failures that replace generation: upstream errors (returned as an [`ArkError`]
//! to render), gateway errors, HTML pages, the Cloudflare 524 and dropped connections.

use axum::http::StatusCode;
use axum::response::Response;

use super::comet::{Gateway, comet_body, wrapped_message};
use super::config::FakeConfig;
use super::conn::ConnHandle;
use super::errors::ArkError;
use super::faults;
use super::plan::seconds;
use super::reply::{JSON_TYPE, Reply, bytes_response, json_response};
use super::scenario::Failure;

/// The response for `failure`, or the Ark error to render (with `Retry-After` if asked).
pub(crate) async fn inject(
    failure: Failure,
    model: &str,
    config: &FakeConfig,
    reply: &Reply,
    conn: Option<&ConnHandle>,
) -> Result<Response, ArkError> {
    match gateway_failure(failure, model, config, reply, conn).await {
        Some(response) => Ok(response),
        None => Err(ark_error(failure, model)),
    }
}

/// The failures that are not an Ark error body: a cut connection, HTML pages, CometAPI's own
/// errors, the Cloudflare timeout.
async fn gateway_failure(
    failure: Failure,
    model: &str,
    config: &FakeConfig,
    reply: &Reply,
    conn: Option<&ConnHandle>,
) -> Option<Response> {
    let ids = &reply.ids;
    let response = match failure {
        Failure::Reset => {
            if conn.is_some_and(ConnHandle::cut) {
                // The socket is gone; hyper fails to write this and drops the connection.
                return Some(bytes_response(StatusCode::OK, JSON_TYPE, Vec::new(), ids));
            }
            faults::html_502(ids)
        }
        Failure::Html502 => faults::html_502(ids),
        Failure::Html200 => faults::html_200(ids),
        Failure::CometInvalidRequest500 => Gateway::InvalidRequest500.render(reply),
        Failure::Comet503 => Gateway::NoChannel(model.to_owned()).render(reply),
        Failure::Cf524 | Failure::Cf524Json => {
            tokio::time::sleep(seconds(config.cf_timeout_s * config.time_scale)).await;
            faults::cf_524(failure == Failure::Cf524Json, ids)
        }
        Failure::WrappedUpstream => {
            let upstream = ArkError::output_sensitive();
            let message =
                wrapped_message(upstream.status, &upstream.ark_body(&ids.ark), &ids.comet);
            let body = comet_body("", &message, true);
            json_response(StatusCode::BAD_REQUEST, &body, ids)
        }
        _ => return None,
    };
    Some(response)
}

/// The Ark error body of each remaining failure (a table: one arm per error code).
fn ark_error(failure: Failure, model: &str) -> ArkError {
    match failure {
        Failure::InputTextSensitive => ArkError::bad_request(
            "InputTextSensitiveContentDetected",
            "",
            "The request failed because the input text may contain sensitive information".into(),
        ),
        Failure::InputImageSensitive => ArkError::bad_request(
            "InputImageSensitiveContentDetected",
            "",
            "The request failed because the input image may contain sensitive information".into(),
        ),
        Failure::Ipm => ArkError::ipm(),
        Failure::Overloaded => ArkError::too_many(
            "ServerOverloaded",
            "The service is currently overloaded and cannot handle the request. Please try again later",
        ),
        Failure::Quota => ArkError::too_many(
            "QuotaExceeded",
            "The request failed because your account has exceeded its usage quota for the model",
        ),
        Failure::SetLimit => ArkError::too_many(
            "SetLimitExceeded",
            "Your account has reached the inference limit set in Safe Experience Mode. Adjust or disable the limit in the Ark Console",
        ),
        Failure::Internal => ArkError::internal(),
        Failure::AccessDenied => ArkError::forbidden(
            "AccessDenied",
            "The request failed because you do not have access to the requested resource",
        ),
        Failure::AccountOverdue => ArkError::forbidden(
            "AccountOverdueError",
            "The request failed because your account has an overdue balance. Please recharge your account and try again",
        ),
        Failure::UnsupportedModel => ArkError::unsupported_model(model),
        Failure::Rpm => ArkError::too_many(
            "ModelAccountRpmRateLimitExceeded",
            "The request has exceeded the requests per minute (RPM) rate limit of the model for your account. Please try again later",
        ),
        Failure::Burst => ArkError::too_many(
            "RequestBurstTooFast",
            "The request was rejected because the request rate increased too quickly. Please ramp up gradually and try again later",
        ),
        Failure::Inflight => ArkError::inflight(),
        Failure::EmptyUrl => ArkError::bad_request(
            "InvalidImageURL.EmptyURL",
            "image",
            "The request failed because the image URL is empty".into(),
        ),
        // Handled by `gateway_failure`; kept here so the match stays exhaustive.
        Failure::Reset
        | Failure::Html502
        | Failure::Html200
        | Failure::CometInvalidRequest500
        | Failure::Comet503
        | Failure::Cf524
        | Failure::Cf524Json
        | Failure::WrappedUpstream => ArkError::internal(),
    }
}

//! Failures of a Seedream call. Each says what went wrong upstream; what a caller should do
//! about it depends on the caller, so it is left to them, keyed on [`Error::kind`].

use std::time::Duration;

use crate::redact::Redactor;
use crate::types::ItemError;
use crate::validate::ValidationError;

pub(crate) mod decode;
pub(crate) mod kind;

pub use kind::Kind;

/// Why a gateway timeout is reported rather than resent: the upstream had the request.
const GATEWAY_TIMEOUT_BILLED: &str = "the images may have been generated and billed anyway, so the request \
     was not sent again: check the account's usage before retrying";

/// Everything that can go wrong between a request and its images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request breaks a rule of the chosen model; nothing was sent.
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    /// Neither [`ClientConfig::api_key`](crate::ClientConfig::api_key) nor the call carried a
    /// key; nothing was sent.
    #[error("no API key is configured")]
    MissingApiKey,

    /// The upstream answered with an error envelope (Ark or CometAPI).
    #[error("{}", api_text(*.status, .code, .message, .param, .request_id))]
    Api {
        /// The HTTP status (200 for an envelope sent with a success status).
        status: u16,
        /// The classification of `code`, `status` and `message`.
        kind: Kind,
        /// The upstream's error code, or one found in the message of a relaying gateway.
        code: Option<String>,
        /// The upstream's message, bounded.
        message: String,
        /// The parameter the upstream named, if any.
        param: Option<String>,
        /// The upstream's request id, from the body or the `x-request-id` header.
        request_id: Option<String>,
    },

    /// A body that is not the API's JSON: an HTML page, a gateway timeout, a cut-off body.
    #[error("{}", page_text(*.kind, *.status, .snippet))]
    Gateway {
        /// The HTTP status.
        status: u16,
        /// The classification of `status`.
        kind: Kind,
        /// A short readable excerpt of the body.
        snippet: String,
    },

    /// No response arrived in time. The upstream may have generated (and billed) images.
    #[error(
        "no response from the image API within {}s; the images may still have been generated and billed, \
         so check usage before retrying{}",
        .after.as_secs(),
        if *.sequence { "; for long sequences ask for fewer images per call" } else { "" }
    )]
    Timeout {
        /// The read timeout that expired.
        after: Duration,
        /// Whether the request asked for a sequence of images.
        sequence: bool,
    },

    /// The connection could not be made (nothing was sent, so nothing was billed).
    #[error("could not connect to the image API at {base_url}: {reason}")]
    Connect {
        /// The configured base URL.
        base_url: String,
        /// The innermost cause.
        reason: String,
    },

    /// The connection broke after the request was sent.
    #[error(
        "the connection to the image API broke before the answer was complete ({reason}); the images may have been generated and billed, so check usage before retrying"
    )]
    Interrupted {
        /// The innermost cause.
        reason: String,
    },

    /// A 200 whose body is not the expected JSON.
    #[error(
        "the image API answered 200 but the body is not the expected JSON ({reason}); it starts: {snippet}"
    )]
    Decode {
        /// Why it could not be read.
        reason: String,
        /// A short readable excerpt of the body.
        snippet: String,
    },

    /// The answer was larger than the request can justify; reading stopped at the limit.
    #[error(
        "the image API's answer exceeded {limit} bytes, more than {images} image(s) of the requested size and \
         format can take, so reading stopped there; the images may have been generated and billed, so check \
         usage before retrying"
    )]
    TooLarge {
        /// The byte limit that was reached.
        limit: u64,
        /// The image positions the request allows.
        images: u32,
    },

    /// A 200 without a single image: every position failed.
    #[error("the image API produced no image{}", failures_text(.failures))]
    NoImages {
        /// Each position's failure, in order.
        failures: Vec<ItemError>,
    },
}

fn api_text(
    status: u16,
    code: &Option<String>,
    message: &str,
    param: &Option<String>,
    request_id: &Option<String>,
) -> String {
    let code = code
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| format!(" {c}"))
        .unwrap_or_default();
    // Ark names the field in `param` only for some errors (MissingParameter's message is
    // generic); repeated only when the message does not already name it.
    let param = param
        .as_deref()
        .filter(|p| !p.is_empty() && !message.contains(&format!("`{p}`")))
        .map(|p| format!(" (parameter `{p}`)"))
        .unwrap_or_default();
    let rid = request_id
        .as_deref()
        .filter(|r| !message.contains(r))
        .map(|r| format!(" (request id {r})"))
        .unwrap_or_default();
    format!("the image API refused the request: HTTP {status}{code}: {message}{param}{rid}")
}

fn page_text(kind: Kind, status: u16, snippet: &str) -> String {
    match kind {
        Kind::GatewayTimeout if status == 524 => format!(
            "the gateway gave up waiting for the image API (HTTP 524, about 100 s); {GATEWAY_TIMEOUT_BILLED} \
             Ask for fewer images per call or a smaller size. Body: {snippet}"
        ),
        Kind::GatewayTimeout => format!(
            "the gateway timed out waiting for the image API (HTTP {status}); {GATEWAY_TIMEOUT_BILLED} Body: {snippet}"
        ),
        Kind::Redirect => format!(
            "the image API answered with a redirect (HTTP {status}); `ClientConfig::base_url` is probably wrong (it must \
             end with the version prefix, e.g. https://api.cometapi.com/v1). Body: {snippet}"
        ),
        Kind::EndpointNotFound => format!(
            "the image API's endpoint was not found (HTTP {status}, not the API's JSON: {snippet})"
        ),
        Kind::RequestTooLarge => format!(
            "the image API answered HTTP 413 (request too large): {snippet}; pass large reference \
             images as http(s) URLs instead of inline data"
        ),
        Kind::Server => format!(
            "the image API answered HTTP {status} with a body that is not the API's JSON: {snippet}; \
             the gateway in front of it is failing: try again in a little while"
        ),
        // A gateway's web page with 200 (seedream-api.md §8) reads the same; its kind says why.
        _ => format!(
            "the image API answered HTTP {status} with a body that is not the API's JSON: {snippet}"
        ),
    }
}

fn failures_text(failures: &[ItemError]) -> String {
    let parts: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

impl Error {
    /// Decodes an error answer as the client does its own: the Ark or CometAPI envelope, or a
    /// bounded snippet of anything else; classified.
    pub fn from_response(status: u16, content_type: &str, body: &[u8]) -> Error {
        decode::decode_error_body(status, &content_type.to_ascii_lowercase(), body, None)
    }

    /// What class of upstream failure this is. For an answer without images, the first
    /// position's failure that has a known kind.
    pub fn kind(&self) -> Kind {
        match self {
            Error::Api { kind, .. } | Error::Gateway { kind, .. } => *kind,
            Error::NoImages { failures } => failures
                .iter()
                .map(|f| f.kind)
                .find(|k| *k != Kind::Other)
                .unwrap_or_default(),
            _ => Kind::Other,
        }
    }

    /// The same error with every upstream text passed through `redactor`.
    pub(crate) fn redacted(mut self, redactor: &Redactor<'_>) -> Error {
        match &mut self {
            Error::Api {
                code,
                message,
                param,
                request_id,
                ..
            } => {
                redactor.in_place(message);
                for field in [code, param, request_id].into_iter().flatten() {
                    redactor.in_place(field);
                }
            }
            Error::Gateway { snippet, .. } => redactor.in_place(snippet),
            Error::Decode { reason, snippet } => {
                redactor.in_place(reason);
                redactor.in_place(snippet);
            }
            Error::Connect { reason, .. } | Error::Interrupted { reason } => {
                redactor.in_place(reason)
            }
            Error::NoImages { failures } => {
                for f in failures {
                    redactor.in_place(&mut f.code);
                    redactor.in_place(&mut f.message);
                }
            }
            Error::Invalid(_)
            | Error::MissingApiKey
            | Error::Timeout { .. }
            | Error::TooLarge { .. } => {}
        }
        self
    }
}

#[cfg(test)]
mod tests;

//! Failures of a Seedream call, and the one place where error bodies are decoded.

use std::time::Duration;

use serde::Deserialize;

use super::redact::Redactor;
use super::types::ItemError;
use super::validate::ValidationError;

/// Largest part of an upstream body kept in an error: enough to read, never megabytes.
const SNIPPET_CHARS: usize = 300;

/// A 404 that is not about a model means the URL is wrong, typically the full path given.
const WRONG_BASE_URL: &str = "check SEEDREAM_BASE_URL: it must end with the version prefix, e.g. \
     https://api.cometapi.com/v1, not the full path …/v1/images/generations";

/// Why a gateway timeout is reported rather than resent: the upstream had the request.
const GATEWAY_TIMEOUT_BILLED: &str = "the images may have been generated and billed anyway, so the request \
     was not sent again: check the account's usage before retrying";

/// Everything that can go wrong between a request and its images.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),

    #[error(
        "no API key is configured: set SEEDREAM_API_KEY (or COMETAPI_KEY) in the server's environment \
         and restart it"
    )]
    MissingApiKey,

    /// The upstream answered with an error envelope (Ark or CometAPI).
    #[error("{}", api_text(.status, .code, .message, .param, .request_id))]
    Api {
        status: u16,
        code: Option<String>,
        message: String,
        param: Option<String>,
        request_id: Option<String>,
    },

    /// A body that is not the API's JSON: an HTML page, a gateway timeout, a cut-off body.
    #[error("{}", gateway_text(.status, .snippet))]
    Gateway { status: u16, snippet: String },

    /// No response arrived in time. The upstream may have generated (and billed) images.
    #[error(
        "no response from the image API within {}s; the images may still have been generated and billed, \
         so check usage before retrying{}",
        .after.as_secs(),
        if *.sequence { "; for long sequences ask for fewer images per call" } else { "" }
    )]
    Timeout { after: Duration, sequence: bool },

    #[error(
        "could not connect to the image API at {base_url}: {reason}; check SEEDREAM_BASE_URL and any proxy settings (HTTPS_PROXY, NO_PROXY)"
    )]
    Connect { base_url: String, reason: String },

    /// The connection broke after the request was sent.
    #[error(
        "the connection to the image API broke before the answer was complete ({reason}); the images may have been generated and billed, so check usage before retrying"
    )]
    Interrupted { reason: String },

    /// A 200 whose body is not the expected JSON.
    #[error(
        "the image API answered 200 but the body is not the expected JSON ({reason}); it starts: {snippet}"
    )]
    Decode { reason: String, snippet: String },

    /// The answer was larger than the request can justify; reading stopped at the limit.
    #[error(
        "the image API's answer exceeded {limit} bytes, more than {images} image(s) of the requested size and \
         format can take, so reading stopped there; the images may have been generated and billed, so check \
         usage before retrying"
    )]
    TooLarge { limit: u64, images: u32 },

    /// A 200 without a single image: every position failed.
    #[error("the image API produced no image{}", failures_text(.failures))]
    NoImages { failures: Vec<ItemError> },
}

fn api_text(
    status: &u16,
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
    // generic), and the advice tells the caller to fix "the parameter named in the message".
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

fn gateway_text(status: &u16, snippet: &str) -> String {
    match status {
        524 => format!(
            "the gateway gave up waiting for the image API (HTTP 524, about 100 s); {GATEWAY_TIMEOUT_BILLED} \
             Ask for fewer images per call or a smaller size. Body: {snippet}"
        ),
        504 => format!(
            "the gateway timed out waiting for the image API (HTTP 504); {GATEWAY_TIMEOUT_BILLED} Body: {snippet}"
        ),
        300..=399 => format!(
            "the image API answered with a redirect (HTTP {status}); SEEDREAM_BASE_URL is probably wrong (it must \
             end with the version prefix, e.g. https://api.cometapi.com/v1). Body: {snippet}"
        ),
        404 => format!(
            "the image API's endpoint was not found (HTTP 404, not the API's JSON: {snippet}); {WRONG_BASE_URL}"
        ),
        // A gateway's web page with 200: the URL does not reach the API (seedream-api.md §8).
        200..=299 => format!(
            "the image API answered HTTP {status} with a body that is not the API's JSON: {snippet}; \
             SEEDREAM_BASE_URL probably points at a web page rather than the API (it must end with the \
             version prefix, e.g. https://api.cometapi.com/v1)"
        ),
        413 => format!(
            "the image API answered HTTP 413 (request too large): {snippet}; pass large reference \
             images as http(s) URLs instead of inline data"
        ),
        500..=599 => format!(
            "the image API answered HTTP {status} with a body that is not the API's JSON: {snippet}; \
             the gateway in front of it is failing: try again in a little while"
        ),
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

/// Seedream's error codes by what the caller should do about them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    InputTextModeration,
    InputImageModeration,
    OutputModeration,
    InvalidSize,
    InvalidImage,
    InvalidParameter,
    Auth,
    Forbidden,
    ModelUnavailable,
    /// A 404 that names no model: the base URL is wrong.
    EndpointNotFound,
    RateLimited,
    Quota,
    Server,
    Other,
}

/// The Ark codes, longest first so that a prefix never shadows a longer code.
const KNOWN_CODES: &[&str] = &[
    "InputImageSensitiveContentDetected.PrivacyInformation",
    "InputImageSensitiveContentDetected.PolicyViolation",
    "OutputImageSensitiveContentDetected.DeepFake",
    "RateLimitExceeded.EndpointRPMExceeded",
    "InvalidEndpointOrModel.NotFound",
    "InputImageSensitiveContentDetected",
    "OutputImageSensitiveContentDetected",
    "InputTextSensitiveContentDetected",
    "ModelAccountIpmRateLimitExceeded",
    "ModelAccountRpmRateLimitExceeded",
    "APIAccountRpmRateLimitExceeded",
    "InvalidImageURL.InvalidFormat",
    "InflightBatchsizeExceeded",
    "InvalidImageURL.EmptyURL",
    "AccountRateLimitExceeded",
    "InternalServiceError",
    "AuthenticationError",
    "AccountOverdueError",
    "RequestBurstTooFast",
    "SetLimitExceeded",
    "MissingParameter",
    "InvalidParameter",
    "UnsupportedModel",
    "ServerOverloaded",
    "QuotaExceeded",
    "ModelNotOpen",
    "AccessDenied",
];

/// Finds an Ark code inside a message, for gateways that wrap the upstream body in text
/// ("all channels failed. Last error: HTTP 400: {…}").
pub fn find_known_code(text: &str) -> Option<&'static str> {
    KNOWN_CODES.iter().copied().find(|c| text.contains(c))
}

pub fn kind_of(code: &str, param: Option<&str>, message: &str) -> Kind {
    let lower = message.to_ascii_lowercase();
    match code {
        c if c.starts_with("InputTextSensitiveContentDetected") => Kind::InputTextModeration,
        c if c.starts_with("InputImageSensitiveContentDetected") => Kind::InputImageModeration,
        c if c.starts_with("OutputImageSensitiveContentDetected") => Kind::OutputModeration,
        c if c.starts_with("InvalidImageURL") => Kind::InvalidImage,
        c if c.starts_with("InvalidParameter")
            && (param == Some("size") || lower.contains("size")) =>
        {
            Kind::InvalidSize
        }
        c if c.starts_with("InvalidParameter")
            && (param == Some("image") || lower.contains("image")) =>
        {
            Kind::InvalidImage
        }
        c if c.starts_with("InvalidParameter")
            || c == "MissingParameter"
            || c == "invalid_request" =>
        {
            Kind::InvalidParameter
        }
        "AuthenticationError" => Kind::Auth,
        "AccessDenied" | "AccountOverdueError" => Kind::Forbidden,
        "ModelNotOpen" | "InvalidEndpointOrModel.NotFound" | "UnsupportedModel" => {
            Kind::ModelUnavailable
        }
        "QuotaExceeded" | "SetLimitExceeded" => Kind::Quota,
        c if c.contains("RateLimit")
            || c == "RequestBurstTooFast"
            || c == "ServerOverloaded"
            || c == "InflightBatchsizeExceeded" =>
        {
            Kind::RateLimited
        }
        "InternalServiceError" => Kind::Server,
        _ => Kind::Other,
    }
}

impl Error {
    /// The same error with every upstream text passed through `redactor`.
    pub(super) fn redacted(mut self, redactor: &Redactor<'_>) -> Error {
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

    /// What the caller should change, in words a model can act on.
    pub fn advice(&self) -> Option<&'static str> {
        if let Error::Api {
            status: 504 | 524, ..
        } = self
        {
            return Some(
                "The gateway timed out after the image API had the request, so it was not sent again: the images \
                 may have been generated and billed. Check the account's usage before retrying, and ask for fewer \
                 images per call or a smaller size.",
            );
        }
        let kind = match self {
            Error::Api {
                status,
                code,
                message,
                param,
                ..
            } => {
                let k = kind_of(code.as_deref().unwrap_or(""), param.as_deref(), message);
                match (k, status) {
                    (Kind::Other, 401) => Kind::Auth,
                    (Kind::Other, 403) => Kind::Forbidden,
                    // Only a 404 about a model means the model; a generic "not found" or
                    // "Invalid URL" means the path is wrong.
                    (Kind::Other, 404) if message.to_ascii_lowercase().contains("model") => {
                        Kind::ModelUnavailable
                    }
                    (Kind::Other, 404) => Kind::EndpointNotFound,
                    (Kind::Other, 429) => Kind::RateLimited,
                    (Kind::Other, 500..) => Kind::Server,
                    (k, _) => k,
                }
            }
            Error::NoImages { failures } => failures
                .iter()
                .map(|f| kind_of(&f.code, None, &f.message))
                .find(|k| *k != Kind::Other)
                .unwrap_or(Kind::Other),
            _ => return None,
        };
        Some(match kind {
            Kind::InputTextModeration => {
                "The prompt was flagged by content moderation: rephrase it without the sensitive content and try again."
            }
            Kind::InputImageModeration => {
                "A reference image was flagged by content moderation (for example a real person or copyrighted material): use a different image."
            }
            Kind::OutputModeration => {
                "The generated image was flagged by content moderation and discarded (not billed): rephrase the prompt and try again."
            }
            Kind::InvalidSize => {
                "The size was rejected: use a preset the model supports (e.g. 2K) or WIDTHxHEIGHT within its pixel range, e.g. 2048x2048."
            }
            Kind::InvalidImage => {
                "A reference image was rejected: pass a public http(s) URL or a data:image/<png|jpeg|webp|bmp|tiff|gif>;base64,… URI of a valid image."
            }
            Kind::InvalidParameter => {
                "Fix the parameter named in the message and call the tool again."
            }
            Kind::Auth => {
                "The API key was refused: set a valid key in SEEDREAM_API_KEY (or COMETAPI_KEY) and restart the server."
            }
            Kind::Forbidden => {
                "The account has no access (overdue balance or missing permission): check the account."
            }
            Kind::ModelUnavailable => {
                "The model is not available to this account or does not exist: use `5.0`, `4.5` or `4.0`, or enable the model in the provider's console."
            }
            Kind::EndpointNotFound => {
                "The image API's endpoint was not found: check SEEDREAM_BASE_URL. It must end with the version \
                 prefix, e.g. https://api.cometapi.com/v1, not the full path …/v1/images/generations."
            }
            Kind::RateLimited => {
                "The provider is rate limiting: wait a minute before trying again, and ask for fewer images at a time."
            }
            Kind::Quota => {
                "The account's quota or spending limit is exhausted: raise it in the provider's console."
            }
            Kind::Server => "The image service failed internally: try again in a little while.",
            Kind::Other => return None,
        })
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
struct EnvelopeError {
    #[serde(default, deserialize_with = "lenient_string")]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    request_id: Option<String>,
}

/// Some gateways send `code` as a number.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Turns a non-2xx response into an [`Error`]: the Ark envelope, the CometAPI envelope,
/// a relayed Ark body inside a message, or anything else as a bounded snippet.
pub fn decode_error_body(
    status: u16,
    content_type: &str,
    body: &[u8],
    header_request_id: Option<&str>,
) -> Error {
    let is_json_like = content_type.contains("json") || body.trim_ascii_start().starts_with(b"{");
    if is_json_like && let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(body) {
        let message = error.message.unwrap_or_default();
        let code = error
            .code
            .filter(|c| !c.is_empty())
            .or_else(|| find_known_code(&message).map(str::to_owned));
        let request_id = error
            .request_id
            .or_else(|| request_id_in(&message))
            .or_else(|| header_request_id.map(str::to_owned));
        return Error::Api {
            status,
            code,
            message: truncate(&message, 4 * SNIPPET_CHARS),
            param: error.param.filter(|p| !p.is_empty()),
            request_id,
        };
    }
    Error::Gateway {
        status,
        snippet: snippet(body),
    }
}

/// Reads "Request id: X" (Ark) or "(request id: X)" (CometAPI) out of a message.
pub fn request_id_in(message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let at = lower.rfind("request id: ")? + "request id: ".len();
    let id: String = message
        .get(at..)?
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!id.is_empty()).then_some(id)
}

/// A readable, bounded excerpt of a body: tags of HTML pages dropped, whitespace squeezed.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body.get(..body.len().min(64 * 1024)).unwrap_or_default());
    let mut out = String::new();
    let mut in_tag = false;
    let looks_html = text.trim_start().starts_with('<');
    for c in text.chars() {
        match c {
            '<' if looks_html => in_tag = true,
            '>' if looks_html && in_tag => {
                in_tag = false;
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ if in_tag => {}
            c if c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c => out.push(c),
        }
        if out.chars().count() > SNIPPET_CHARS {
            break;
        }
    }
    let out = out.trim();
    if out.is_empty() {
        "(empty body)".to_owned()
    } else {
        truncate(out, SNIPPET_CHARS)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ark_envelope_yields_code_param_and_request_id() {
        let body = br#"{"error":{"code":"InvalidParameter","message":"The parameter `size` specified in the request is not valid: image size must be at least 3686400 pixels. Request id: 021757000000000abcdef0123456789abcdef0123456789abcdef","param":"size","type":"BadRequest"}}"#;
        let e = decode_error_body(400, "application/json", body, None);
        let Error::Api {
            status,
            code,
            param,
            request_id,
            ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (*status, code.as_deref(), param.as_deref()),
            (400, Some("InvalidParameter"), Some("size"))
        );
        assert_eq!(
            request_id.as_deref(),
            Some("021757000000000abcdef0123456789abcdef0123456789abcdef")
        );
        assert!(e.advice().unwrap().contains("2048x2048"));
    }

    #[test]
    fn the_cometapi_envelope_with_an_empty_code_is_read() {
        let body = br#"{"error":{"code":"","message":"invalid token (request id: 20260101000000000000000000000001)","type":"comet_api_error"}}"#;
        let e = decode_error_body(401, "application/json; charset=utf-8", body, None);
        let Error::Api {
            code, request_id, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(code, &None);
        assert_eq!(
            request_id.as_deref(),
            Some("20260101000000000000000000000001")
        );
        assert!(e.advice().unwrap().contains("SEEDREAM_API_KEY"));
    }

    #[test]
    fn a_relayed_ark_code_inside_a_message_is_found() {
        let body = br#"{"error":{"code":"","message":"all channels failed. Last error: HTTP 400: {\"error\":{\"code\":\"OutputImageSensitiveContentDetected\",\"message\":\"x\"}}","type":"comet_api_error"}}"#;
        let e = decode_error_body(400, "application/json", body, None);
        let Error::Api { code, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(code.as_deref(), Some("OutputImageSensitiveContentDetected"));
        assert!(e.advice().unwrap().contains("rephrase"));
    }

    #[test]
    fn an_html_page_becomes_a_short_readable_snippet() {
        let page = format!(
            "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>{}</body></html>",
            "x".repeat(100_000)
        );
        let e = decode_error_body(502, "text/html", page.as_bytes(), Some("rid"));
        let Error::Gateway { status, snippet } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*status, 502);
        assert!(
            snippet.starts_with("502 Bad Gateway Bad Gateway"),
            "{snippet}"
        );
        assert!(snippet.chars().count() <= SNIPPET_CHARS + 1);
    }

    #[test]
    fn truncated_json_falls_back_to_a_snippet() {
        let e = decode_error_body(
            500,
            "application/json",
            br#"{"error":{"code":"Internal"#,
            None,
        );
        assert!(matches!(e, Error::Gateway { status: 500, .. }));
    }

    #[test]
    fn a_524_says_the_images_may_have_been_billed() {
        let e = decode_error_body(
            524,
            "text/html",
            b"<html>Error 524: A timeout occurred</html>",
            None,
        );
        let text = e.to_string();
        assert!(text.contains("524") && text.contains("billed"), "{text}");
    }

    #[test]
    fn numeric_codes_are_tolerated() {
        let e = decode_error_body(
            429,
            "application/json",
            br#"{"error":{"code":429,"message":"slow down"}}"#,
            None,
        );
        assert!(matches!(&e, Error::Api { code: Some(c), .. } if c == "429"));
        assert!(e.advice().unwrap().contains("rate limiting"));
    }

    #[test]
    fn request_ids_are_read_in_both_styles() {
        assert_eq!(
            request_id_in("bad. Request id: 02abc").as_deref(),
            Some("02abc")
        );
        assert_eq!(
            request_id_in("bad (request id: 2026x)").as_deref(),
            Some("2026x")
        );
        assert_eq!(request_id_in("bad"), None);
    }

    #[test]
    fn a_404_that_names_no_model_points_at_the_base_url() {
        for (content_type, body) in [
            ("text/html", &b"<html><body><h1>404 Not Found</h1></body></html>"[..]),
            ("text/plain", b""),
            ("application/json", br#"{"error":{"code":"","message":"Invalid URL (POST /v1/images/generations/images/generations)","type":"invalid_request_error"}}"#),
            ("application/json", br#"{"error":{"message":"Not Found"}}"#),
            ("application/json", br#"{"detail":"Not Found"}"#),
        ] {
            let e = decode_error_body(404, content_type, body, None);
            let text = format!("{e} {}", e.advice().unwrap_or(""));
            assert!(text.contains("SEEDREAM_BASE_URL") && text.contains("/v1"), "{text}");
            assert!(!text.contains("not available"), "{text}");
        }
    }

    #[test]
    fn a_404_about_a_model_still_says_the_model_is_unavailable() {
        for body in [
            &br#"{"error":{"code":"ModelNotOpen","message":"x"}}"#[..],
            br#"{"error":{"code":"","message":"model doubao-x does not exist"}}"#,
        ] {
            let e = decode_error_body(404, "application/json", body, None);
            assert!(e.advice().unwrap().contains("not available"), "{e}");
        }
    }

    #[test]
    fn gateway_timeouts_say_they_were_not_resent_and_to_check_usage() {
        for e in [
            decode_error_body(504, "text/html", b"<html>504 Gateway Time-out</html>", None),
            decode_error_body(
                504,
                "application/json",
                br#"{"error":{"message":"upstream timed out"}}"#,
                None,
            ),
            decode_error_body(524, "text/html", b"<html>Error 524</html>", None),
        ] {
            let text = format!("{e} {}", e.advice().unwrap_or(""));
            assert!(
                text.contains("not sent again") && text.contains("usage"),
                "{text}"
            );
        }
    }
}

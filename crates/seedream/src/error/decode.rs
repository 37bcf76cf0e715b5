//! The one place where error bodies are decoded: the Ark envelope, the CometAPI envelope, a
//! relayed Ark body inside a message, or anything else as a bounded snippet.

use serde::Deserialize;

use super::Error;
use super::kind::{self, find_known_code};

/// Largest part of an upstream body kept in an error: enough to read, never megabytes.
pub(crate) const SNIPPET_CHARS: usize = 300;

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

/// Turns a non-2xx response into an [`Error`], classified.
pub(crate) fn decode_error_body(
    status: u16,
    content_type: &str,
    body: &[u8],
    header_request_id: Option<&str>,
) -> Error {
    if looks_json(content_type, body)
        && let Ok(Envelope { error }) = serde_json::from_slice::<Envelope>(body)
    {
        let message = error.message.unwrap_or_default();
        let request_id = error
            .request_id
            .or_else(|| request_id_in(&message))
            .or_else(|| header_request_id.map(str::to_owned));
        return api_error(status, error.code, error.param, message, request_id);
    }
    page_error(status, body)
}

/// Whether a body is worth parsing as JSON: labelled so, or an object whatever its label
/// (gateways mislabel both ways).
pub(crate) fn looks_json(content_type: &str, body: &[u8]) -> bool {
    content_type.contains("json") || body.trim_ascii_start().first() == Some(&b'{')
}

/// An error envelope (also one sent with status 200): its code, or an Ark code found in its
/// message, classified with its status.
pub(crate) fn api_error(
    status: u16,
    code: Option<String>,
    param: Option<String>,
    message: String,
    request_id: Option<String>,
) -> Error {
    let code = code
        .filter(|c| !c.is_empty())
        .or_else(|| find_known_code(&message).map(str::to_owned));
    let param = param.filter(|p| !p.is_empty());
    let message = truncate(&message, 4 * SNIPPET_CHARS);
    Error::Api {
        status,
        kind: kind::of_envelope(status, code.as_deref(), param.as_deref(), &message),
        code,
        message,
        param,
        request_id,
    }
}

/// A body that is not the API's JSON, classified by its status.
pub(crate) fn page_error(status: u16, body: &[u8]) -> Error {
    Error::Gateway {
        status,
        kind: kind::of_page(status),
        snippet: snippet(body),
    }
}

/// Reads "Request id: X" (Ark) or "(request id: X)" (CometAPI) out of a message.
pub(crate) fn request_id_in(message: &str) -> Option<String> {
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
pub(crate) fn snippet(body: &[u8]) -> String {
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

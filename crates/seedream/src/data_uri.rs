//! `data:` URIs, decoded in one place: the reference check here and callers that fit images
//! themselves read them the same way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A base64 `data:` URI, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUri {
    /// The media type as written, e.g. `image/JPG` (labels are often wrong: sniff the bytes).
    pub media_type: String,
    /// The payload with whitespace removed, still base64.
    pub base64: String,
    /// The decoded payload.
    pub bytes: Vec<u8>,
}

/// Why a `data:` URI could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataUriError {
    /// No comma separates the header from the data.
    #[error("the data URI has no comma before its data")]
    NoComma,
    /// The header does not end in `;base64`.
    #[error("the data URI is not base64-encoded")]
    NotBase64,
    /// The payload would decode to more than the limit; it was not decoded.
    #[error("the data URI holds about {bytes} bytes, more than the {max} allowed")]
    TooLarge {
        /// The decoded size (estimated when refused before decoding).
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is not valid base64.
    #[error("the data URI's base64 is invalid ({0})")]
    InvalidBase64(String),
}

impl DataUri {
    /// Decodes `raw` if it is a `data:` URI (any case, surrounding spaces ignored); `None` for
    /// anything else.
    pub fn parse(raw: &str) -> Option<Result<DataUri, DataUriError>> {
        DataUri::parse_within(raw, usize::MAX)
    }

    /// [`DataUri::parse`], refusing a payload over `max_bytes` before decoding it, so a huge
    /// one costs no allocation.
    pub fn parse_within(raw: &str, max_bytes: usize) -> Option<Result<DataUri, DataUriError>> {
        let s = raw.trim();
        if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
            return None;
        }
        Some(decode(s.get(5..).unwrap_or(""), max_bytes))
    }
}

fn decode(body: &str, max_bytes: usize) -> Result<DataUri, DataUriError> {
    let (header, payload) = body.split_once(',').ok_or(DataUriError::NoComma)?;
    let suffix = ";base64";
    if !header.to_ascii_lowercase().ends_with(suffix) {
        return Err(DataUriError::NotBase64);
    }
    let media_type = header.get(..header.len() - suffix.len()).unwrap_or("");
    let cleaned: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let estimate = cleaned.len() / 4 * 3;
    if estimate > max_bytes.saturating_add(3) {
        return Err(DataUriError::TooLarge {
            bytes: estimate,
            max: max_bytes,
        });
    }
    let bytes = STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| DataUriError::InvalidBase64(e.to_string()))?;
    if bytes.len() > max_bytes {
        return Err(DataUriError::TooLarge {
            bytes: bytes.len(),
            max: max_bytes,
        });
    }
    Ok(DataUri {
        media_type: media_type.to_owned(),
        base64: cleaned,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_data_uris_are_read_and_their_label_is_kept_as_written() {
        assert_eq!(DataUri::parse("https://x/a.png"), None);
        let uri = DataUri::parse(" DATA:image/JPG;base64,aGk= ")
            .unwrap()
            .unwrap();
        assert_eq!(
            (uri.media_type.as_str(), uri.bytes.as_slice()),
            ("image/JPG", &b"hi"[..])
        );
        assert_eq!(uri.base64, "aGk=");
    }

    #[test]
    fn malformed_and_oversized_data_uris_say_why() {
        assert_eq!(
            DataUri::parse("data:image/png").unwrap(),
            Err(DataUriError::NoComma)
        );
        assert_eq!(
            DataUri::parse("data:image/png,abc").unwrap(),
            Err(DataUriError::NotBase64)
        );
        assert!(matches!(
            DataUri::parse("data:image/png;base64,@@@@").unwrap(),
            Err(DataUriError::InvalidBase64(_))
        ));
        let big = format!("data:image/png;base64,{}", "A".repeat(400));
        assert!(matches!(
            DataUri::parse_within(&big, 100).unwrap(),
            Err(DataUriError::TooLarge {
                bytes: 300,
                max: 100
            })
        ));
    }
}

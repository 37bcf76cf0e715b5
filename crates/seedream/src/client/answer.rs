//! What is done with an answer once read: positions past the request dropped, upstream
//! texts redacted, and an answer without a single image turned into the error that says why.

use crate::error::Error;
use crate::error::decode::{api_error, request_id_in};
use crate::redact::Redactor;
use crate::types::{ImageItem, ImagesResponse, ItemError};

/// Drops positions beyond what the request allows (a hostile answer with 3,000 URLs must not
/// start 3,000 downloads) and says so.
pub(crate) fn keep_allowed(response: &mut ImagesResponse, allowed: u32) -> Vec<String> {
    let allowed = allowed as usize;
    let extra = response.data.len().saturating_sub(allowed) + response.dropped;
    response.data.truncate(allowed);
    if extra == 0 {
        return Vec::new();
    }
    tracing::warn!(
        extra,
        allowed,
        "the answer held more images than the request allows"
    );
    vec![format!(
        "the image API sent {extra} more image position(s) than the {allowed} this request allows; \
         they were ignored and not downloaded"
    )]
}

/// Every upstream text of a successful answer, redacted.
pub(crate) fn redact_response(response: &mut ImagesResponse, redactor: &Redactor<'_>) {
    let errors = response.data.iter_mut().filter_map(|item| match item {
        ImageItem::Failed { error } => Some(error),
        _ => None,
    });
    for error in errors.chain(response.error.as_mut()) {
        redactor.in_place(&mut error.code);
        redactor.in_place(&mut error.message);
    }
}

/// A response with at least one image, or the error that no image was made.
pub(crate) fn with_images(
    parsed: ImagesResponse,
    request_id: Option<&str>,
) -> Result<ImagesResponse, Error> {
    if parsed
        .data
        .iter()
        .any(|i| matches!(i, ImageItem::Url { .. } | ImageItem::B64 { .. }))
    {
        return Ok(parsed);
    }
    // An error envelope with status 200: its message is the explanation, not "no image".
    if let Some(error) = parsed.error {
        let request_id = request_id_in(&error.message).or_else(|| request_id.map(str::to_owned));
        return Err(api_error(
            200,
            Some(error.code),
            None,
            error.message,
            request_id,
        ));
    }
    let failures: Vec<ItemError> = parsed
        .data
        .iter()
        .filter_map(|i| match i {
            ImageItem::Failed { error } => Some(error.clone()),
            _ => None,
        })
        .collect();
    Err(Error::NoImages { failures })
}

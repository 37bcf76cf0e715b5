//! Reference images as callers give them — URLs, local paths, `file://` URIs, data URIs — made
//! into what the upstream accepts: URLs pass through verbatim; everything else is read (inside
//! the allowed folders only), sniffed, fitted to the upstream limits and sent as a data URI.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::files::{AllowedRoots, local_ref};
use crate::imaging::{self, ReferenceLimits};
use crate::seedream::Profile;

/// The references ready to send, and what was changed on the way.
pub struct Materialized {
    pub images: Vec<String>,
    pub notes: Vec<String>,
}

/// Reads and fits every non-URL reference. `Err` is a message naming `images[i]`.
pub async fn materialize(
    images: Vec<String>,
    roots: &AllowedRoots,
    profile: &Profile,
) -> Result<Materialized, String> {
    let limits = ReferenceLimits {
        max_bytes: profile.reference_max_bytes,
        max_pixels: 36_000_000,
        min_side: 15,
        max_ratio: 16.0,
    };
    let mut out = Materialized {
        images: Vec::with_capacity(images.len()),
        notes: Vec::new(),
    };
    for (i, raw) in images.into_iter().enumerate() {
        let param = format!("images[{i}]");
        let from_data_uri = !local_ref::is_local(&raw);
        let bytes = if local_ref::is_local(&raw) {
            let path = local_ref::to_path(&raw, dirs::home_dir().as_deref())
                .map_err(|e| format!("Invalid argument `{param}`: {e}."))?;
            let roots = roots.clone();
            let read = tokio::task::spawn_blocking(move || local_ref::read(&path, &roots)).await;
            match read {
                Ok(Ok((bytes, _))) => bytes,
                Ok(Err(e)) => return Err(format!("Invalid argument `{param}`: {e}.")),
                Err(e) => {
                    return Err(format!(
                        "Invalid argument `{param}`: the file could not be read ({e})."
                    ));
                }
            }
        } else if let Some(b) = data_uri_bytes(&raw) {
            match b {
                Ok(bytes) => bytes,
                // Let the upstream-rules check phrase the problem.
                Err(()) => {
                    out.images.push(raw);
                    continue;
                }
            }
        } else {
            out.images.push(raw);
            continue;
        };
        let fitted = tokio::task::spawn_blocking(move || imaging::fit_reference(&bytes, &limits))
            .await
            .map_err(|e| {
                format!("Invalid argument `{param}`: the image could not be processed ({e}).")
            })?
            .map_err(|e| format!("Invalid argument `{param}`: {e}."))?;
        match fitted.note {
            Some(note) => out.notes.push(format!("{param}: {note}")),
            // A data URI already within the limits goes on as given (its label is normalised
            // later), saving a base64 round trip of up to the reference size limit.
            None if from_data_uri => {
                out.images.push(raw);
                continue;
            }
            None => {}
        }
        out.images.push(format!(
            "data:{};base64,{}",
            fitted.format.mime(),
            STANDARD.encode(&fitted.bytes)
        ));
    }
    Ok(out)
}

/// The bytes of a base64 data URI; `Some(Err)` for a data URI that does not decode.
fn data_uri_bytes(raw: &str) -> Option<Result<Vec<u8>, ()>> {
    let s = raw.trim();
    if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        return None;
    }
    let (header, payload) = s.split_once(',')?;
    if !header.to_ascii_lowercase().ends_with(";base64") {
        return Some(Err(()));
    }
    let cleaned: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some(STANDARD.decode(cleaned.as_bytes()).map_err(|_| ()))
}

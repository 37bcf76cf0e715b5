//! What a person or a model should do about a failed generation or download, in this server's
//! terms (its environment variables, "call the tool again"). The `seedream` client says what
//! went wrong; this module adds where to fix it, keyed on the error's [`Kind`] and variant.

use seedream::{DownloadError, Error, Kind};

/// A base URL that reaches something other than the API.
const BASE_URL_FORM: &str = "it must end with the version prefix, e.g. https://api.cometapi.com/v1";

/// The whole text of a failed generation: what went wrong, then what to do.
pub fn generation_failed(error: &Error) -> String {
    let mut text = format!("Image generation failed: {}.", account(error));
    if let Some(advice) = advice(error) {
        text.push(' ');
        text.push_str(advice);
    }
    text
}

/// Why an image could not be fetched, with the setting that changes it where there is one.
pub fn download_failed(error: &DownloadError) -> String {
    match error {
        DownloadError::Private { host } => format!(
            "the image was not downloaded: {host} is a loopback, private or link-local address, which this \
             server does not fetch from unless it is the image API's own address (an operator can allow it \
             with SEEDREAM_DOWNLOAD_ALLOW_PRIVATE=true); the link is returned as received"
        ),
        DownloadError::TooLarge { .. } => {
            format!("{error}; raise SEEDREAM_DOWNLOAD_MAX_MB or fetch the link directly")
        }
        _ => error.to_string(),
    }
}

/// The client's account of the failure, with the server setting to check where it is the cause.
fn account(error: &Error) -> String {
    match error {
        Error::MissingApiKey => format!(
            "{error}: set SEEDREAM_API_KEY (or COMETAPI_KEY) in the server's environment and restart it"
        ),
        Error::Connect { .. } => format!(
            "{error}; check SEEDREAM_BASE_URL and any proxy settings (HTTPS_PROXY, NO_PROXY)"
        ),
        // The client names the setting mid-sentence in its own terms; the server's name goes there.
        Error::Gateway {
            status,
            kind: Kind::Redirect,
            snippet,
        } => format!(
            "the image API answered with a redirect (HTTP {status}); SEEDREAM_BASE_URL is probably wrong \
             ({BASE_URL_FORM}). Body: {snippet}"
        ),
        Error::Gateway {
            kind: Kind::EndpointNotFound,
            ..
        } => format!(
            "{error}; check SEEDREAM_BASE_URL: {BASE_URL_FORM}, not the full path …/v1/images/generations"
        ),
        // A gateway's web page with 200: the URL does not reach the API (seedream-api.md §8).
        Error::Gateway {
            kind: Kind::NotTheApi,
            ..
        } => format!(
            "{error}; SEEDREAM_BASE_URL probably points at a web page rather than the API ({BASE_URL_FORM})"
        ),
        _ => error.to_string(),
    }
}

/// What the caller should change, in words a model can act on; only for answers of the API.
fn advice(error: &Error) -> Option<&'static str> {
    if !matches!(error, Error::Api { .. } | Error::NoImages { .. }) {
        return None;
    }
    Some(match error.kind() {
        Kind::GatewayTimeout => {
            "The gateway timed out after the image API had the request, so it was not sent again: the images \
             may have been generated and billed. Check the account's usage before retrying, and ask for fewer \
             images per call or a smaller size."
        }
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
        Kind::InvalidParameter => "Fix the parameter named in the message and call the tool again.",
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
        Kind::RateLimited | Kind::ImagesPerMinute => {
            "The provider is rate limiting: wait a minute before trying again, and ask for fewer images at a time."
        }
        Kind::Quota | Kind::SpendingLimit => {
            "The account's quota or spending limit is exhausted: raise it in the provider's console."
        }
        Kind::InternalError | Kind::Server => {
            "The image service failed internally: try again in a little while."
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests;

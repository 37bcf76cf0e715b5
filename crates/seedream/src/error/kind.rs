//! The one classification of upstream failures: Ark and CometAPI error codes, the HTTP status
//! and a few message words become a [`Kind`], once, when the error is decoded. Retries, the
//! texts of errors and a caller's advice all read the [`Kind`] rather than the code.

/// What class of failure an upstream answer is, by what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Kind {
    /// The prompt was flagged by content moderation.
    InputTextModeration,
    /// A reference image was flagged by content moderation.
    InputImageModeration,
    /// A generated image was flagged and discarded (not billed).
    OutputModeration,
    /// The `size` was refused.
    InvalidSize,
    /// A reference image was refused (bad URL, format or content).
    InvalidImage,
    /// Another parameter was refused or missing.
    InvalidParameter,
    /// The API key was refused.
    Auth,
    /// The account may not do this (overdue balance, missing permission).
    Forbidden,
    /// The model does not exist or is not enabled for the account.
    ModelUnavailable,
    /// Not found, and not about a model: the base URL (`ClientConfig::base_url`) is wrong.
    EndpointNotFound,
    /// A redirect: the base URL (`ClientConfig::base_url`) is wrong.
    Redirect,
    /// A 2xx page that is not the API's JSON: the base URL points at a web page.
    NotTheApi,
    /// The request body was too large for a gateway (HTTP 413).
    RequestTooLarge,
    /// A rate limit; waiting helps.
    RateLimited,
    /// Ark's images-per-minute limit: it needs a real pause, not a quick second try.
    ImagesPerMinute,
    /// The account's quota is exhausted (one retry may catch a reset).
    Quota,
    /// A spending limit set on the account is reached (never retried).
    SpendingLimit,
    /// A gateway timed out after the upstream had the request (HTTP 504 or 524): the images may
    /// have been generated and billed, so it is never sent again.
    GatewayTimeout,
    /// Ark's `InternalServiceError`: it also ends a sequence.
    InternalError,
    /// Any other server-side failure (5xx).
    Server,
    /// Nothing more specific is known.
    #[default]
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
pub(crate) fn find_known_code(text: &str) -> Option<&'static str> {
    KNOWN_CODES.iter().copied().find(|c| text.contains(c))
}

/// The kind of an error envelope: its code first, then its status.
pub(crate) fn of_envelope(
    status: u16,
    code: Option<&str>,
    param: Option<&str>,
    message: &str,
) -> Kind {
    if matches!(status, 504 | 524) {
        return Kind::GatewayTimeout;
    }
    match (of_code(code.unwrap_or(""), param, message), status) {
        (Kind::Other, 401) => Kind::Auth,
        (Kind::Other, 403) => Kind::Forbidden,
        // Only a 404 about a model means the model; a generic "not found" or "Invalid URL"
        // means the path is wrong.
        (Kind::Other, 404) if message.to_ascii_lowercase().contains("model") => {
            Kind::ModelUnavailable
        }
        (Kind::Other, 404) => Kind::EndpointNotFound,
        (Kind::Other, 429) => Kind::RateLimited,
        (Kind::Other, 500..) => Kind::Server,
        (kind, _) => kind,
    }
}

/// The kind of a body that is not the API's JSON, from its status alone.
pub(crate) fn of_page(status: u16) -> Kind {
    match status {
        504 | 524 => Kind::GatewayTimeout,
        300..=399 => Kind::Redirect,
        404 => Kind::EndpointNotFound,
        200..=299 => Kind::NotTheApi,
        413 => Kind::RequestTooLarge,
        429 => Kind::RateLimited,
        500..=599 => Kind::Server,
        _ => Kind::Other,
    }
}

/// The kind an Ark code (or, for `InvalidParameter`, the parameter it names) stands for.
pub(crate) fn of_code(code: &str, param: Option<&str>, message: &str) -> Kind {
    let lower = message.to_ascii_lowercase();
    let names = |what: &str| param == Some(what) || lower.contains(what);
    match code {
        c if c.starts_with("InputTextSensitiveContentDetected") => Kind::InputTextModeration,
        c if c.starts_with("InputImageSensitiveContentDetected") => Kind::InputImageModeration,
        c if c.starts_with("OutputImageSensitiveContentDetected") => Kind::OutputModeration,
        c if c.starts_with("InvalidImageURL") => Kind::InvalidImage,
        c if c.starts_with("InvalidParameter") && names("size") => Kind::InvalidSize,
        c if c.starts_with("InvalidParameter") && names("image") => Kind::InvalidImage,
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
        "QuotaExceeded" => Kind::Quota,
        "SetLimitExceeded" => Kind::SpendingLimit,
        "ModelAccountIpmRateLimitExceeded" => Kind::ImagesPerMinute,
        c if c.contains("RateLimit")
            || c == "RequestBurstTooFast"
            || c == "ServerOverloaded"
            || c == "InflightBatchsizeExceeded" =>
        {
            Kind::RateLimited
        }
        c if c.starts_with("InternalServiceError") => Kind::InternalError,
        _ => Kind::Other,
    }
}

impl Kind {
    /// Whether the caller must change the request (never worth sending again as it is).
    pub fn is_caller_fault(self) -> bool {
        matches!(
            self,
            Kind::InputTextModeration
                | Kind::InputImageModeration
                | Kind::OutputModeration
                | Kind::InvalidSize
                | Kind::InvalidImage
                | Kind::InvalidParameter
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_before_statuses() {
        assert_eq!(
            of_envelope(400, Some("InvalidParameter"), Some("size"), ""),
            Kind::InvalidSize
        );
        assert_eq!(
            of_envelope(400, Some("InvalidParameter"), None, "bad image url"),
            Kind::InvalidImage
        );
        assert_eq!(
            of_envelope(429, Some("SetLimitExceeded"), None, ""),
            Kind::SpendingLimit
        );
        assert_eq!(
            of_envelope(429, Some("ModelAccountIpmRateLimitExceeded"), None, ""),
            Kind::ImagesPerMinute
        );
        assert_eq!(
            of_envelope(500, Some("InternalServiceError"), None, ""),
            Kind::InternalError
        );
        assert_eq!(of_envelope(401, None, None, "invalid token"), Kind::Auth);
    }

    #[test]
    fn gateway_timeouts_win_over_any_code() {
        assert_eq!(
            of_envelope(504, Some("InternalServiceError"), None, ""),
            Kind::GatewayTimeout
        );
        assert_eq!(of_page(524), Kind::GatewayTimeout);
    }

    #[test]
    fn a_404_is_about_the_model_only_when_it_says_so() {
        assert_eq!(
            of_envelope(404, None, None, "model x does not exist"),
            Kind::ModelUnavailable
        );
        assert_eq!(
            of_envelope(404, None, None, "Not Found"),
            Kind::EndpointNotFound
        );
        assert_eq!(of_page(404), Kind::EndpointNotFound);
    }
}

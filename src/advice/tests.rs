//! Each failure reads exactly as it did when the client wrote the advice itself: the client's
//! account of what went wrong, then this server's setting or advice, keyed on the kind.

use std::time::Duration;

use seedream::{DownloadError, Error, ItemError};

use super::*;

fn page(status: u16, body: &str) -> Error {
    Error::from_response(status, "text/html", body.as_bytes())
}

fn json(status: u16, body: &str) -> Error {
    Error::from_response(status, "application/json", body.as_bytes())
}

#[test]
fn every_kind_of_failure_keeps_its_text_and_advice() {
    let cases = [
        (
            Error::MissingApiKey,
            "Image generation failed: no API key is configured: set SEEDREAM_API_KEY (or COMETAPI_KEY) in the server's environment and restart it.",
        ),
        (
            Error::Connect {
                base_url: "http://127.0.0.1:9/v1".into(),
                reason: "Connection refused (os error 111)".into(),
            },
            "Image generation failed: could not connect to the image API at http://127.0.0.1:9/v1: Connection refused (os error 111); check SEEDREAM_BASE_URL and any proxy settings (HTTPS_PROXY, NO_PROXY).",
        ),
        (
            page(302, "<html>Moved</html>"),
            "Image generation failed: the image API answered with a redirect (HTTP 302); SEEDREAM_BASE_URL is probably wrong (it must end with the version prefix, e.g. https://api.cometapi.com/v1). Body: Moved.",
        ),
        (
            page(404, "<html><h1>404 Not Found</h1></html>"),
            "Image generation failed: the image API's endpoint was not found (HTTP 404, not the API's JSON: 404 Not Found); check SEEDREAM_BASE_URL: it must end with the version prefix, e.g. https://api.cometapi.com/v1, not the full path …/v1/images/generations.",
        ),
        (
            page(200, "<html><title>Welcome</title></html>"),
            "Image generation failed: the image API answered HTTP 200 with a body that is not the API's JSON: Welcome; SEEDREAM_BASE_URL probably points at a web page rather than the API (it must end with the version prefix, e.g. https://api.cometapi.com/v1).",
        ),
        (
            page(524, "<html>Error 524</html>"),
            "Image generation failed: the gateway gave up waiting for the image API (HTTP 524, about 100 s); the images may have been generated and billed anyway, so the request was not sent again: check the account's usage before retrying Ask for fewer images per call or a smaller size. Body: Error 524.",
        ),
        (
            page(502, "<html>Bad Gateway</html>"),
            "Image generation failed: the image API answered HTTP 502 with a body that is not the API's JSON: Bad Gateway; the gateway in front of it is failing: try again in a little while.",
        ),
        (
            page(413, "<html>Too large</html>"),
            "Image generation failed: the image API answered HTTP 413 (request too large): Too large; pass large reference images as http(s) URLs instead of inline data.",
        ),
        (
            json(
                401,
                r#"{"error":{"code":"","message":"invalid token (request id: 2026x)"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 401: invalid token (request id: 2026x). The API key was refused: set a valid key in SEEDREAM_API_KEY (or COMETAPI_KEY) and restart the server.",
        ),
        (
            json(
                400,
                r#"{"error":{"code":"MissingParameter","message":"a parameter is missing","param":"prompt"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 400 MissingParameter: a parameter is missing (parameter `prompt`). Fix the parameter named in the message and call the tool again.",
        ),
        (
            json(
                404,
                r#"{"error":{"code":"","message":"model doubao-x does not exist"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 404: model doubao-x does not exist. The model is not available to this account or does not exist: use `5.0`, `4.5` or `4.0`, or enable the model in the provider's console.",
        ),
        (
            json(404, r#"{"error":{"message":"Not Found"}}"#),
            "Image generation failed: the image API refused the request: HTTP 404: Not Found. The image API's endpoint was not found: check SEEDREAM_BASE_URL. It must end with the version prefix, e.g. https://api.cometapi.com/v1, not the full path …/v1/images/generations.",
        ),
        (
            json(
                429,
                r#"{"error":{"code":"ModelAccountIpmRateLimitExceeded","message":"slow down"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 429 ModelAccountIpmRateLimitExceeded: slow down. The provider is rate limiting: wait a minute before trying again, and ask for fewer images at a time.",
        ),
        (
            json(
                429,
                r#"{"error":{"code":"SetLimitExceeded","message":"limit"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 429 SetLimitExceeded: limit. The account's quota or spending limit is exhausted: raise it in the provider's console.",
        ),
        (
            json(504, r#"{"error":{"message":"upstream timed out"}}"#),
            "Image generation failed: the image API refused the request: HTTP 504: upstream timed out. The gateway timed out after the image API had the request, so it was not sent again: the images may have been generated and billed. Check the account's usage before retrying, and ask for fewer images per call or a smaller size.",
        ),
        (
            json(
                500,
                r#"{"error":{"code":"InternalServiceError","message":"boom"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 500 InternalServiceError: boom. The image service failed internally: try again in a little while.",
        ),
        (
            json(
                403,
                r#"{"error":{"code":"AccountOverdueError","message":"pay"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 403 AccountOverdueError: pay. The account has no access (overdue balance or missing permission): check the account.",
        ),
        (
            json(
                400,
                r#"{"error":{"code":"InputTextSensitiveContentDetected","message":"no"}}"#,
            ),
            "Image generation failed: the image API refused the request: HTTP 400 InputTextSensitiveContentDetected: no. The prompt was flagged by content moderation: rephrase it without the sensitive content and try again.",
        ),
        (
            Error::NoImages {
                failures: vec![ItemError::new(
                    "OutputImageSensitiveContentDetected",
                    "flagged",
                )],
            },
            "Image generation failed: the image API produced no image: OutputImageSensitiveContentDetected: flagged. The generated image was flagged by content moderation and discarded (not billed): rephrase the prompt and try again.",
        ),
        (
            Error::Timeout {
                after: Duration::from_secs(180),
                sequence: true,
            },
            "Image generation failed: no response from the image API within 180s; the images may still have been generated and billed, so check usage before retrying; for long sequences ask for fewer images per call.",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(generation_failed(&error), expected, "{error:?}");
    }
}

#[test]
fn an_error_whose_request_id_came_from_the_headers_still_names_it() {
    let error = Error::Api {
        status: 400,
        kind: Kind::InvalidSize,
        code: Some("InvalidParameter".into()),
        message: "The parameter `size` is not valid".into(),
        param: Some("size".into()),
        request_id: Some("rid-1".into()),
    };
    assert_eq!(
        generation_failed(&error),
        "Image generation failed: the image API refused the request: HTTP 400 InvalidParameter: The parameter `size` is not valid (request id rid-1). The size was rejected: use a preset the model supports (e.g. 2K) or WIDTHxHEIGHT within its pixel range, e.g. 2048x2048."
    );
}

#[test]
fn download_failures_name_the_setting_that_changes_them() {
    let cases = [
        (
            DownloadError::Private {
                host: "127.0.0.1".into(),
            },
            "the image was not downloaded: 127.0.0.1 is a loopback, private or link-local address, which this server does not fetch from unless it is the image API's own address (an operator can allow it with SEEDREAM_DOWNLOAD_ALLOW_PRIVATE=true); the link is returned as received",
        ),
        (
            DownloadError::TooLarge { max: 1024 },
            "the image is larger than the 1024 byte download limit; raise SEEDREAM_DOWNLOAD_MAX_MB or fetch the link directly",
        ),
        (
            DownloadError::Timeout(Duration::from_secs(60)),
            "the download did not finish in 60s; the link stays valid for 24 hours, so fetch it again later",
        ),
    ];
    for (error, expected) in cases {
        assert_eq!(download_failed(&error), expected);
    }
}

//! The decoding and classification of error bodies.

use super::decode::{SNIPPET_CHARS, decode_error_body, request_id_in};
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
    assert_eq!(e.kind(), Kind::InvalidSize);
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
    assert_eq!(e.kind(), Kind::Auth);
}

#[test]
fn a_relayed_ark_code_inside_a_message_is_found() {
    let body = br#"{"error":{"code":"","message":"all channels failed. Last error: HTTP 400: {\"error\":{\"code\":\"OutputImageSensitiveContentDetected\",\"message\":\"x\"}}","type":"comet_api_error"}}"#;
    let e = decode_error_body(400, "application/json", body, None);
    let Error::Api { code, .. } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(code.as_deref(), Some("OutputImageSensitiveContentDetected"));
    assert_eq!(e.kind(), Kind::OutputModeration);
}

#[test]
fn an_html_page_becomes_a_short_readable_snippet() {
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>{}</body></html>",
        "x".repeat(100_000)
    );
    let e = decode_error_body(502, "text/html", page.as_bytes(), Some("rid"));
    let Error::Gateway {
        status, snippet, ..
    } = &e
    else {
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
    assert_eq!(e.kind(), Kind::RateLimited);
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
        assert_eq!(e.kind(), Kind::EndpointNotFound, "{e}");
    }
}

#[test]
fn a_404_about_a_model_still_says_the_model_is_unavailable() {
    for body in [
        &br#"{"error":{"code":"ModelNotOpen","message":"x"}}"#[..],
        br#"{"error":{"code":"","message":"model doubao-x does not exist"}}"#,
    ] {
        let e = decode_error_body(404, "application/json", body, None);
        assert_eq!(e.kind(), Kind::ModelUnavailable, "{e}");
    }
}

#[test]
fn gateway_timeouts_are_classified_as_such_whatever_the_body() {
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
        assert_eq!(e.kind(), Kind::GatewayTimeout, "{e}");
    }
}

#[test]
fn no_text_names_a_server_setting_or_a_tool() {
    let mut texts: Vec<String> = [200, 302, 404, 413, 429, 502, 504, 524]
        .into_iter()
        .flat_map(|status| {
            [
                decode_error_body(status, "text/html", b"<html>x</html>", None),
                decode_error_body(
                    status,
                    "application/json",
                    br#"{"error":{"message":"x"}}"#,
                    None,
                ),
            ]
        })
        .map(|e| e.to_string())
        .collect();
    texts.push(Error::MissingApiKey.to_string());
    texts.push(
        Error::Connect {
            base_url: "http://127.0.0.1:9/v1".into(),
            reason: "refused".into(),
        }
        .to_string(),
    );
    texts.push(
        crate::DownloadError::Private {
            host: "127.0.0.1".into(),
        }
        .to_string(),
    );
    texts.push(crate::DownloadError::TooLarge { max: 1 }.to_string());
    for text in texts {
        assert!(
            !text.contains("SEEDREAM_") && !text.contains("COMETAPI_"),
            "{text}"
        );
        assert!(!text.contains("tool") && !text.contains("server"), "{text}");
    }
}

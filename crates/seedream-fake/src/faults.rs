//! Transport-level faults a gateway in front of the API produces: HTML pages, the
//! Cloudflare 524, truncated or trickled bodies, and dropped connections.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream;
use serde_json::json;

use super::clock::RequestIds;
use super::reply::{JSON_TYPE, bytes_response};
use super::state::Tracker;

const HTML_TYPE: &str = "text/html; charset=utf-8";

/// nginx's stock 502 page.
const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// A gateway's web console, as served for paths it does not route.
const CONSOLE_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CometAPI</title></head><body><div id=\"root\"></div><script src=\"/assets/index.js\"></script></body></html>";

/// Cloudflare's 524 page (abridged).
const CF_524: &str = "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>api.cometapi.com | 524: A timeout occurred</title></head><body><div id=\"cf-wrapper\"><h1><span>A timeout occurred</span> <span>Error code 524</span></h1><p>Error 524: A timeout occurred</p><p>The origin web server timed out responding to this request.</p><p>Cloudflare Ray ID: 8f0c0ffee0000000</p></div></body></html>\n";

pub(crate) fn html_502(ids: &RequestIds) -> Response {
    bytes_response(StatusCode::BAD_GATEWAY, HTML_TYPE, NGINX_502.into(), ids)
}

pub(crate) fn html_200(ids: &RequestIds) -> Response {
    bytes_response(StatusCode::OK, HTML_TYPE, CONSOLE_PAGE.into(), ids)
}

/// 524 as HTML, or as `application/problem+json` (seen from Cloudflare's API-facing variant).
pub(crate) fn cf_524(json_variant: bool, ids: &RequestIds) -> Response {
    let status = StatusCode::from_u16(524).unwrap_or(StatusCode::GATEWAY_TIMEOUT);
    if json_variant {
        let body = json!({
            "type": "https://developers.cloudflare.com/support/troubleshooting/http-status-codes/cloudflare-5xx-errors/error-524/",
            "title": "Error 524: A timeout occurred",
            "status": 524,
            "detail": "The origin web server timed out responding to this request.",
            "instance": "8f0c0ffee0000000",
        });
        return bytes_response(
            status,
            "application/problem+json",
            body.to_string().into_bytes(),
            ids,
        );
    }
    bytes_response(status, HTML_TYPE, CF_524.into(), ids)
}

/// A 200 JSON response whose body stops half-way (a well-formed HTTP message, broken JSON).
pub(crate) fn truncated(mut body: Vec<u8>, ids: &RequestIds) -> Response {
    body.truncate(body.len() / 2);
    bytes_response(StatusCode::OK, JSON_TYPE, body, ids)
}

/// A 200 JSON response whose connection drops after half the body: the status and headers
/// arrive, then the stream fails, so hyper aborts the connection without ending the message
/// (what a crashed or restarted gateway looks like to the client).
pub(crate) fn reset_mid_body(body: Vec<u8>, ids: &RequestIds) -> Response {
    let body = Bytes::from(body);
    let half = body.slice(..body.len() / 2);
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "scripted reset mid-body",
        )),
    ];
    let mut response = bytes_response(StatusCode::OK, JSON_TYPE, Vec::new(), ids);
    *response.body_mut() = Body::from_stream(stream::iter(parts));
    response
}

/// Most chunks a trickled body is split into, so a large body still ends in bounded time.
const MAX_TRICKLE_CHUNKS: usize = 200;

/// A 200 JSON response sent a few bytes at a time, `every` apart.
pub(crate) fn trickle(
    body: Vec<u8>,
    every: Duration,
    tracker: Option<Tracker>,
    ids: &RequestIds,
) -> Response {
    let chunk = body.len().div_ceil(MAX_TRICKLE_CHUNKS).max(8);
    let chunks: Vec<Bytes> = body.chunks(chunk).map(Bytes::copy_from_slice).collect();
    let body = stream::unfold(
        (chunks.into_iter(), tracker, true),
        move |(mut it, mut tracker, first)| async move {
            let Some(next) = it.next() else {
                if let Some(t) = tracker.take() {
                    t.finish();
                }
                return None;
            };
            if !first {
                tokio::time::sleep(every).await;
            }
            Some((Ok::<_, Infallible>(next), (it, tracker, false)))
        },
    );
    let mut response = bytes_response(StatusCode::OK, JSON_TYPE, Vec::new(), ids);
    *response.body_mut() = Body::from_stream(body);
    response
}

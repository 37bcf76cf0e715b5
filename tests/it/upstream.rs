//! A hostile or broken upstream, played by a scripted server on 127.0.0.1:0: answers whose
//! neighbouring fields have odd types, gateway timeouts, bodies far larger than the request
//! allows, thousands of images, echoed keys, and image URLs pointing into the operator's network.
//! Each test checks what the caller gets and bounds what the server under test did (requests,
//! bytes read, downloads at once).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::support::{KEY, call, config, connect, is_error, text};

/// A hung call fails the test instead of stalling it.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// What the scripted server saw.
#[derive(Default)]
struct Seen {
    generations: AtomicUsize,
    downloads: AtomicUsize,
    downloads_in_flight: AtomicUsize,
    peak_downloads: AtomicUsize,
    /// Bytes the endless bodies got to hand to the connection.
    bytes_sent: AtomicU64,
}

/// Answers a generation request, given the server's own origin and the Authorization header.
type Reply = Arc<dyn Fn(&str, &str, &Arc<Seen>) -> Response + Send + Sync>;

#[derive(Clone)]
struct Scripted {
    origin: String,
    reply: Reply,
    seen: Arc<Seen>,
}

struct Upstream {
    origin: String,
    seen: Arc<Seen>,
}

impl Upstream {
    fn base_url(&self) -> String {
        format!("{}/v1", self.origin)
    }
}

async fn start(
    reply: impl Fn(&str, &str, &Arc<Seen>) -> Response + Send + Sync + 'static,
) -> Upstream {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let state = Scripted {
        origin: origin.clone(),
        reply: Arc::new(reply),
        seen: Arc::clone(&seen),
    };
    let app = Router::new()
        .route("/v1/images/generations", post(generation))
        .route("/img/{name}", get(image))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Upstream { origin, seen }
}

async fn generation(State(s): State<Scripted>, headers: HeaderMap) -> Response {
    s.seen.generations.fetch_add(1, Ordering::SeqCst);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    (s.reply)(&s.origin, auth, &s.seen)
}

/// A small PNG for `/img/<n>`, slowly enough that downloads overlap; `/img/broken` is a PNG
/// signature followed by garbage.
async fn image(State(s): State<Scripted>, Path(name): Path<String>) -> Response {
    s.seen.downloads.fetch_add(1, Ordering::SeqCst);
    let now = s.seen.downloads_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    s.seen.peak_downloads.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.seen.downloads_in_flight.fetch_sub(1, Ordering::SeqCst);
    let bytes = if name == "broken" {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        b.extend(std::iter::repeat_n(0x5a, 4096));
        b
    } else {
        png(16, 16)
    };
    ([(header::CONTENT_TYPE, "image/png")], bytes).into_response()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([200, 80, 20]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn json_reply(status: u16, body: serde_json::Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `prefix`, then `fill` bytes in 64 KiB chunks up to `total`, counting what was handed over.
fn endless(
    status: u16,
    content_type: &'static str,
    prefix: &'static [u8],
    fill: u8,
    total: u64,
    seen: &Arc<Seen>,
) -> Response {
    let seen = Arc::clone(seen);
    let chunk = Bytes::from(vec![fill; 64 * 1024]);
    let first = Bytes::from_static(prefix);
    let body = futures_util::stream::unfold(0u64, move |sent| {
        let (chunk, first, seen) = (chunk.clone(), first.clone(), Arc::clone(&seen));
        async move {
            if sent >= total {
                return None;
            }
            let next = if sent == 0 { first } else { chunk };
            seen.bytes_sent
                .fetch_add(next.len() as u64, Ordering::SeqCst);
            Some((Ok::<_, Infallible>(next.clone()), sent + next.len() as u64))
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    response
}

async fn client_for(upstream: &Upstream, extra: &[&str]) -> crate::support::Client {
    let mut args = vec!["--save", "false"];
    args.extend_from_slice(extra);
    connect(config(&upstream.base_url(), KEY, &args)).await
}

async fn run(
    client: &crate::support::Client,
    tool: &str,
    arguments: serde_json::Value,
) -> rmcp::model::CallToolResult {
    tokio::time::timeout(CALL_LIMIT, call(client, tool, arguments))
        .await
        .expect("the call is answered in time")
}

fn generations(u: &Upstream) -> usize {
    u.seen.generations.load(Ordering::SeqCst)
}

// Item 5: lenient parsing.

#[tokio::test]
async fn a_url_beside_oddly_typed_fields_is_still_delivered() {
    let upstream = start(|origin, _, _| {
        json_reply(
            200,
            json!({"created": "1700000000", "model": 5,
                   "data": [{"url": format!("{origin}/img/0"), "size": 2048}],
                   "usage": {"generated_images": "1", "output_tokens": 1.5e4}}),
        )
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(&client, "generate_image", json!({"prompt": "a fox"})).await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(
        body.contains(&format!("{}/img/0", upstream.origin)),
        "{body}"
    );
    assert_eq!(upstream.seen.downloads.load(Ordering::SeqCst), 1);
}

// Item 6: gateway timeouts.

#[tokio::test]
async fn a_504_is_not_resent_and_says_to_check_usage_first() {
    for json_body in [false, true] {
        let upstream = start(move |_, _, _| {
            if json_body {
                json_reply(
                    504,
                    json!({"error": {"message": "upstream request timeout"}}),
                )
            } else {
                (
                    StatusCode::GATEWAY_TIMEOUT,
                    [(header::CONTENT_TYPE, "text/html")],
                    "<html><body><h1>504 Gateway Time-out</h1></body></html>",
                )
                    .into_response()
            }
        })
        .await;
        let client = client_for(&upstream, &[]).await;
        let result = run(
            &client,
            "generate_image",
            json!({"prompt": "a fox", "embed": "none"}),
        )
        .await;
        let body = text(&result);
        assert!(is_error(&result), "{body}");
        assert_eq!(generations(&upstream), 1, "{body}");
        for fragment in ["504", "billed", "not sent again", "usage"] {
            assert!(body.contains(fragment), "`{fragment}` missing: {body}");
        }
    }
}

// Item 7: a 200 carrying an error.

#[tokio::test]
async fn a_200_with_an_error_object_shows_the_upstreams_message() {
    let upstream = start(|_, _, _| {
        json_reply(
            200,
            json!({"error": {"code": "InternalServiceError", "message": "the renderer crashed on node 7"}}),
        )
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert!(body.contains("the renderer crashed on node 7"), "{body}");
    assert!(body.contains("InternalServiceError"), "{body}");
}

// Item 10: bounded by what was asked.

/// Far more than any cap, never sent in full by a bounded client.
const HUGE: u64 = 3 << 30;
/// What the sockets and hyper may buffer past the point where the client stops reading.
const BUFFER_SLACK: u64 = 24 << 20;

#[tokio::test]
async fn a_200_body_larger_than_the_request_allows_is_cut_at_its_cap() {
    let upstream = start(|_, _, seen| {
        endless(
            200,
            "application/json",
            br#"{"data":[{"url":""#,
            b'a',
            HUGE,
            seen,
        )
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert!(
        body.contains("exceeded") && body.contains("billed"),
        "{body}"
    );
    assert_eq!(generations(&upstream), 1, "not resent: {body}");
    let sent = upstream.seen.bytes_sent.load(Ordering::SeqCst);
    assert!(sent < BUFFER_SLACK, "the server got to send {sent} bytes");
}

#[tokio::test]
async fn a_huge_error_page_is_read_only_up_to_its_cap_on_each_attempt() {
    let upstream =
        start(|_, _, seen| endless(502, "text/html", b"<html><body>", b'x', HUGE, seen)).await;
    let client = client_for(&upstream, &[]).await;
    let result = run(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert!(body.contains("502"), "{body}");
    assert_eq!(generations(&upstream), 3);
    let sent = upstream.seen.bytes_sent.load(Ordering::SeqCst);
    assert!(
        sent < 3 * BUFFER_SLACK,
        "the server got to send {sent} bytes"
    );
}

#[tokio::test]
async fn an_answer_with_a_thousand_urls_downloads_only_the_one_asked_for() {
    let upstream = start(|origin, _, _| {
        let data: Vec<_> = (0..1000)
            .map(|i| json!({"url": format!("{origin}/img/{i}")}))
            .collect();
        json_reply(200, json!({"data": data}))
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(&client, "generate_image", json!({"prompt": "a fox"})).await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("Generated 1 image"), "{body}");
    assert!(
        body.contains("999 more image position(s)") && body.contains("not downloaded"),
        "{body}"
    );
    assert_eq!(upstream.seen.downloads.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_fifteen_image_sequence_downloads_at_most_four_at_once() {
    let upstream = start(|origin, _, _| {
        let data: Vec<_> = (0..15)
            .map(|i| json!({"url": format!("{origin}/img/{i}"), "size": "16x16"}))
            .collect();
        json_reply(200, json!({"data": data}))
    })
    .await;
    let client = client_for(&upstream, &["--stream", "false"]).await;
    let result = run(
        &client,
        "generate_sequence",
        json!({"prompt": "fifteen panels", "max_images": 15, "confirm_cost": true}),
    )
    .await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert_eq!(upstream.seen.downloads.load(Ordering::SeqCst), 15);
    let peak = upstream.seen.peak_downloads.load(Ordering::SeqCst);
    assert!((1..=4).contains(&peak), "{peak} downloads at once");
}

#[tokio::test]
async fn a_streamed_image_index_far_past_the_request_is_dropped_with_a_note() {
    let upstream = start(|origin, _, _| {
        let frame = |index: u64| {
            format!(
                "event: image_generation.partial_succeeded\ndata: {}\n\n",
                json!({"type": "image_generation.partial_succeeded", "image_index": index,
                       "url": format!("{origin}/img/{index}"), "size": "16x16"})
            )
        };
        let body = format!(
            "{}{}data: {}\n\ndata: [DONE]\n\n",
            frame(40_000_000),
            frame(0),
            json!({"type": "image_generation.completed", "usage": {"generated_images": 1}})
        );
        ([(header::CONTENT_TYPE, "text/event-stream")], body).into_response()
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(
        &client,
        "generate_sequence",
        json!({"prompt": "two panels", "max_images": 2, "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("Generated 1 of up to 2"), "{body}");
    assert!(body.contains("1 more image position(s)"), "{body}");
}

#[tokio::test]
async fn an_event_stream_without_newlines_is_cut_at_one_frames_allowance() {
    let upstream =
        start(|_, _, seen| endless(200, "text/event-stream", b"data: ", b'x', 256 << 20, seen))
            .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert!(body.contains("exceeded"), "{body}");
    let sent = upstream.seen.bytes_sent.load(Ordering::SeqCst);
    assert!(sent < BUFFER_SLACK, "the server got to send {sent} bytes");
}

// Item 16: keys echoed by the upstream.

/// Captures everything logged on this thread while it lives.
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_echoed_api_key_is_absent_from_the_result_and_the_logs() {
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&logs);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || CapturedLogs(Arc::clone(&sink)))
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secret = "sk-live-0123456789abcdefSECRET";
    // A 503 is retried, so the echo is logged on every attempt as well as returned.
    let upstream = start(move |_, auth, _| {
        json_reply(
            503,
            json!({"error": {"code": "", "message": format!("invalid token: you sent {auth} (key {secret})")}}),
        )
    })
    .await;
    let client = connect(config(&upstream.base_url(), secret, &["--save", "false"])).await;
    let result = run(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    let body = text(&result);
    assert!(is_error(&result), "{body}");
    assert_eq!(generations(&upstream), 3);
    assert!(
        body.contains("invalid token") && body.contains("[redacted]"),
        "{body}"
    );
    assert!(!body.contains("0123456789abcdef"), "{body}");
    let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(logged.contains("retrying generation"), "{logged}");
    assert!(!logged.contains("0123456789abcdef"), "{logged}");
}

#[tokio::test]
async fn an_echoed_caller_key_is_absent_from_the_error() {
    use secrecy::SecretString;
    use seedream::{Client, ClientConfig, RetryPolicy, Timeouts};

    let upstream = start(|_, auth, _| {
        json_reply(401, json!({"error": {"code": "AuthenticationError", "message": format!("bad key {}", auth.trim_start_matches("Bearer "))}}))
    })
    .await;
    let client = Client::new(ClientConfig {
        base_url: upstream.base_url(),
        api_key: Some(SecretString::from("operator-key-1")),
        retry: RetryPolicy::default(),
        timeouts: Timeouts::default(),
    })
    .unwrap();
    let caller = SecretString::from("callers-own-key");
    let request = seedream::prepare(
        seedream::GenerationSpec {
            model: seedream::Model::V45,
            prompt: "a fox".into(),
            size: None,
            aspect_ratio: None,
            images: vec![],
            max_images: None,
            response_format: seedream::ResponseFormat::Url,
            output_format: None,
            watermark: false,
            seed: None,
            guidance_scale: None,
            background: None,
            prompt_mode: None,
            web_search: false,
        },
        seedream::Size::Preset(seedream::Preset::TwoK),
        &seedream::Profile::default(),
    )
    .unwrap()
    .request;
    let error = client
        .generate_observed(&request, &|_| {}, Some(&caller))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("bad key [redacted]"), "{error}");
    assert!(!error.contains("callers-own-key"), "{error}");
}

// Item 17: image URLs into the operator's network.

/// An "internal" service on another loopback port, counting the requests it gets.
async fn internal_service(status: u16, content_type: &'static str) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(move || {
        let counter = Arc::clone(&counter);
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (
                StatusCode::from_u16(status).unwrap(),
                [(header::CONTENT_TYPE, content_type)],
                "<secret>TOPSECRET internal data</secret>",
            )
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("{port}"), hits)
}

async fn pointing_at(url: String) -> Upstream {
    start(move |_, _, _| json_reply(200, json!({"data": [{"url": url.clone()}]}))).await
}

#[tokio::test]
async fn an_image_url_on_a_private_address_is_returned_but_not_fetched() {
    let (port, hits) = internal_service(200, "image/png").await;
    for host in ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"] {
        let url = format!("http://{host}:{port}/admin/secrets.png");
        let upstream = pointing_at(url.clone()).await;
        let client = client_for(&upstream, &[]).await;
        let result = run(&client, "generate_image", json!({"prompt": "a fox"})).await;
        let body = text(&result);
        assert!(!is_error(&result), "{body}");
        assert!(body.contains(&url), "the caller still gets its URL: {body}");
        assert!(body.contains("SEEDREAM_DOWNLOAD_ALLOW_PRIVATE"), "{body}");
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "nothing reached the internal service"
    );
}

#[tokio::test]
async fn an_operator_may_allow_private_addresses_and_bodies_are_still_never_echoed() {
    for (status, content_type) in [(200, "text/html"), (500, "text/plain")] {
        let (port, hits) = internal_service(status, content_type).await;
        let upstream = pointing_at(format!("http://127.0.0.1:{port}/x.png")).await;
        let client = client_for(&upstream, &["--download-allow-private", "true"]).await;
        let result = run(&client, "generate_image", json!({"prompt": "a fox"})).await;
        let body = text(&result);
        assert!(!is_error(&result), "{body}");
        assert!(hits.load(Ordering::SeqCst) >= 1, "allowed, so fetched");
        assert!(!body.contains("TOPSECRET"), "{body}");
        assert!(
            body.contains(content_type) && body.contains(&status.to_string()),
            "{body}"
        );
    }
}

// Item 23: misleading texts.

#[tokio::test]
async fn a_404_from_a_wrong_base_url_names_the_setting_not_the_model() {
    for json_body in [true, false] {
        let upstream = start(move |_, _, _| {
            if json_body {
                // What an OpenAI-style gateway says to `…/v1/images/generations/images/generations`.
                json_reply(
                    404,
                    json!({"error": {"code": "", "type": "invalid_request_error",
                           "message": "Invalid URL (POST /v1/images/generations/images/generations)"}}),
                )
            } else {
                (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/html")], "<html><h1>404 Not Found</h1></html>")
                    .into_response()
            }
        })
        .await;
        let client = client_for(&upstream, &[]).await;
        let result = run(
            &client,
            "generate_image",
            json!({"prompt": "a fox", "embed": "none"}),
        )
        .await;
        let body = text(&result);
        assert!(is_error(&result), "{body}");
        assert!(
            body.contains("SEEDREAM_BASE_URL") && body.contains("/v1"),
            "{body}"
        );
        assert!(!body.contains("model is not available"), "{body}");
    }
}

#[tokio::test]
async fn an_undecodable_download_says_it_is_not_an_image_and_keeps_the_url() {
    let upstream = start(|origin, _, _| {
        json_reply(
            200,
            json!({"data": [{"url": format!("{origin}/img/broken")}]}),
        )
    })
    .await;
    let client = client_for(&upstream, &[]).await;
    let result = run(&client, "generate_image", json!({"prompt": "a fox"})).await;
    let body = text(&result);
    assert!(!is_error(&result), "{body}");
    assert!(body.contains("could not be read as an image"), "{body}");
    assert!(body.contains("/img/broken"), "{body}");
    assert!(!body.contains("too many to preview"), "{body}");
}

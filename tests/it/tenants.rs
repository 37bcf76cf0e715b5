//! Over HTTP: whose jobs, images and files a caller sees, which calls its cancellations reach,
//! and that a paid image is never dropped, whatever the client era (issue 11, items 1-3 and
//! 13-15, 23).

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use clap::Parser;
use rmcp::RoleClient;
use rmcp::model::{CallToolResult, ProtocolVersion, ReadResourceRequestParams, ResourceContents};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, PeerRequestOptions, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use seedream_fake::{FakeApi, FakeConfig};
use seedream_mcp::cli::Cli;
use seedream_mcp::tools::ImageServer;
use seedream_mcp::transport::http::serve_on;
use serde_json::json;

use crate::http::Flags;
use crate::long::{send_call, tool_call, upstream_hangups, wait_until};
use crate::support::{KEY, call, fake, is_error, scratch_dir, text};

/// An HTTP server with the defaults `seedream-mcp http` applies (no saving, no local folders)
/// unless `server_flags` say otherwise; it stops when the returned sender drops.
pub(crate) async fn serve(
    fake: &FakeApi,
    http_flags: &[&str],
    server_flags: &[&str],
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut argv = vec!["http"];
    argv.extend_from_slice(http_flags);
    let http = Flags::try_parse_from(argv).unwrap().http;
    let base_url = fake.base_url();
    let mut server_argv = vec![
        "seedream-mcp",
        "--base-url",
        base_url.as_str(),
        "--api-key",
        KEY,
        "--retry-base-ms",
        "1",
    ];
    server_argv.extend_from_slice(server_flags);
    let mut server_args = Cli::try_parse_from(server_argv).unwrap().server;
    server_args.use_http_defaults();
    let server = ImageServer::new(server_args.into_config().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_on(listener, server, http, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A client of `addr`, of the 2025 (session) or 2026-07-28 (stateless) era, sending
/// `caller_key` as its own upstream key when given.
pub(crate) async fn client(
    addr: SocketAddr,
    modern: bool,
    caller_key: Option<&'static str>,
) -> RunningService<RoleClient, ()> {
    client_as((), addr, modern, caller_key).await
}

/// [`client`] with the given client handler (its info declares the client's capabilities).
pub(crate) async fn client_as<H: rmcp::ClientHandler>(
    handler: H,
    addr: SocketAddr,
    modern: bool,
    caller_key: Option<&'static str>,
) -> RunningService<RoleClient, H> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    if let Some(key) = caller_key {
        config.custom_headers.insert(
            reqwest::header::HeaderName::from_static("x-seedream-api-key"),
            reqwest::header::HeaderValue::from_static(key),
        );
    }
    let lifecycle = if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    handler
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_config(config),
            lifecycle,
        )
        .await
        .unwrap()
}

async fn read(client: &RunningService<RoleClient, ()>, uri: &str) -> Option<Vec<u8>> {
    let read = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .ok()?;
    read.contents.iter().find_map(|c| match c {
        ResourceContents::BlobResourceContents { blob, .. } => {
            base64::engine::general_purpose::STANDARD.decode(blob).ok()
        }
        _ => None,
    })
}

fn kept_uri(result: &CallToolResult) -> String {
    result.structured_content.as_ref().unwrap()["images"][0]["resource"]
        .as_str()
        .unwrap_or_else(|| panic!("no kept image: {}", text(result)))
        .to_owned()
}

fn job_id(result: &CallToolResult) -> String {
    result.structured_content.as_ref().unwrap()["images"][0]["job_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn base64_images_over_http_stay_readable_in_full_as_a_resource_and_through_get_job() {
    let fake = fake().await;
    let (addr, _stop) = serve(&fake, &[], &[]).await;
    for modern in [false, true] {
        for embed in ["preview", "none"] {
            let client = client(addr, modern, None).await;
            let result = call(
                &client,
                "generate_image",
                json!({"prompt": "a fox", "size": "2048x2048", "response_format": "b64_json", "embed": embed}),
            )
            .await;
            assert!(!is_error(&result), "{}", text(&result));
            let uri = kept_uri(&result);
            assert!(
                text(&result).contains(&uri),
                "the text says where the full image is: {}",
                text(&result)
            );
            assert!(!text(&result).contains("at the paths or URLs above"));

            let full = read(&client, &uri)
                .await
                .expect("the kept image is readable");
            let (w, h) = image_size(&full);
            assert_eq!((w, h), (2048, 2048), "modern={modern} embed={embed}");

            let again = call(&client, "get_job", json!({"job_id": job_id(&result)})).await;
            assert!(!is_error(&again), "{}", text(&again));
            let attached = again.content.iter().any(|c| {
                c.as_resource().is_some_and(|r| {
                    matches!(&r.resource, ResourceContents::BlobResourceContents { uri: u, .. } if *u == uri)
                })
            });
            assert!(attached, "get_job hands over the full image");
        }
    }
}

fn image_size(bytes: &[u8]) -> (usize, usize) {
    let size = imagesize::blob_size(bytes).expect("an image");
    (size.width, size.height)
}

#[tokio::test]
async fn another_caller_cannot_see_a_callers_job_or_its_kept_images() {
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let (addr, _stop) = serve(&fake, &["--allow-caller-keys", "true"], &[]).await;
    let alice = client(addr, false, Some("key-alice")).await;
    let mallory = client(addr, true, Some("key-mallory")).await;

    let made = call(
        &alice,
        "generate_image",
        json!({"prompt": "a fox", "size": "2048x2048", "response_format": "b64_json", "embed": "none"}),
    )
    .await;
    assert!(!is_error(&made), "{}", text(&made));
    let (uri, job) = (kept_uri(&made), job_id(&made));

    assert!(read(&alice, &uri).await.is_some());
    assert!(
        read(&mallory, &uri).await.is_none(),
        "another tenant reads nothing"
    );
    let stolen = call(&mallory, "get_job", json!({"job_id": job})).await;
    assert!(is_error(&stolen));
    assert!(text(&stolen).contains("Unknown"), "{}", text(&stolen));
    let own = call(&alice, "get_job", json!({"job_id": job})).await;
    assert!(!is_error(&own), "{}", text(&own));
}

#[tokio::test]
async fn without_a_caller_key_a_call_is_refused_unless_the_operator_lets_the_server_key_pay() {
    let fake = fake().await;
    let (strict, _s1) = serve(&fake, &["--allow-caller-keys", "true"], &[]).await;
    let (lenient, _s2) = serve(
        &fake,
        &[
            "--allow-caller-keys",
            "true",
            "--server-key-fallback",
            "true",
        ],
        &[],
    )
    .await;

    let refused = call(
        &*client(strict, false, None).await,
        "generate_image",
        json!({"prompt": "a fox"}),
    )
    .await;
    let paid = call(
        &*client(lenient, false, None).await,
        "generate_image",
        json!({"prompt": "a fox"}),
    )
    .await;

    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("X-Seedream-Api-Key"),
        "{}",
        text(&refused)
    );
    assert!(!is_error(&paid), "{}", text(&paid));
    assert_eq!(
        fake.requests().len(),
        1,
        "only the lenient server spent its key"
    );
}

#[tokio::test]
async fn a_refused_caller_key_is_reported_as_the_callers_to_fix() {
    let fake = fake().await; // accepts only the server's key
    let (addr, _stop) = serve(&fake, &["--allow-caller-keys", "true"], &[]).await;
    let result = call(
        &*client(addr, false, Some("sk-wrong-key")).await,
        "generate_image",
        json!({"prompt": "a fox"}),
    )
    .await;
    assert!(is_error(&result));
    let t = text(&result);
    assert!(t.contains("X-Seedream-Api-Key"), "{t}");
    assert!(
        !t.contains("SEEDREAM_API_KEY") && !t.contains("restart"),
        "{t}"
    );
    assert!(!t.contains("sk-wrong-key"), "{t}");
}

#[tokio::test]
async fn over_http_local_files_are_off_unless_the_operator_names_folders() {
    let fake = fake().await;
    let dir = scratch_dir("http-local");
    let picture = dir.join("lighthouse.png");
    std::fs::write(&picture, tiny_png()).unwrap();
    let uri = format!("file://{}", picture.display());
    let dir_text = dir.display().to_string();
    let (closed, _s1) = serve(&fake, &[], &[]).await;
    let (opened, _s2) = serve(&fake, &[], &["--allowed-dirs", &dir_text]).await;

    let closed = client(closed, false, None).await;
    assert!(
        read(&closed, &uri).await.is_none(),
        "the server's files are not served"
    );
    let edit = call(
        &closed,
        "edit_image",
        json!({"prompt": "night", "images": [picture.display().to_string()]}),
    )
    .await;
    assert!(is_error(&edit), "{}", text(&edit));

    // A named folder lends its images as references, but resources/read serves only images
    // the server saved (issue 14): never other files on its disk.
    let opened = client(opened, false, None).await;
    assert!(
        read(&opened, &uri).await.is_none(),
        "not even inside the named folder"
    );
    assert_eq!(fake.requests().len(), 0);
}

#[tokio::test]
async fn a_saved_image_is_readable_by_its_maker_only() {
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let out = scratch_dir("http-saved");
    let out_text = out.display().to_string();
    let (addr, _stop) = serve(
        &fake,
        &["--allow-caller-keys", "true"],
        &["--save", "true", "--output-dir", &out_text],
    )
    .await;
    let alice = client(addr, false, Some("key-alice")).await;
    let bob = client(addr, false, Some("key-bob")).await;

    let made = call(&alice, "generate_image", json!({"prompt": "a fox"})).await;
    let path = made.structured_content.as_ref().unwrap()["images"][0]["path"]
        .as_str()
        .unwrap_or_else(|| panic!("saved: {}", text(&made)))
        .to_owned();
    let uri = format!("file://{path}");

    assert!(
        read(&alice, &uri).await.is_some(),
        "the maker reads it back"
    );
    assert!(read(&bob, &uri).await.is_none(), "another tenant does not");
    let edit = call(
        &bob,
        "edit_image",
        json!({"prompt": "night", "images": [path.clone()]}),
    )
    .await;
    assert!(is_error(&edit), "{}", text(&edit));
    let own = call(
        &alice,
        "edit_image",
        json!({"prompt": "night", "images": [path]}),
    )
    .await;
    assert!(!is_error(&own), "the maker edits it: {}", text(&own));
}

/// A 16x16 PNG.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, 16, 16);
        encoder.set_color(png::ColorType::Rgb);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&[128u8; 16 * 16 * 3]).unwrap();
    }
    out
}

/// Whether the fake API finished answering one generation (it was not abandoned): a hang-up
/// that should not happen can only be watched for a while, over real sockets in real time.
async fn upstream_completed(fake: &FakeApi, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if fake.connections_closed_early() > 0 {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fake.connections_closed_early() == 0 && fake.requests().len() == 1
}

#[tokio::test]
async fn a_client_timeout_keeps_the_paid_generation_in_every_era() {
    for modern in [false, true] {
        let fake = fake().await;
        let (addr, _stop) = serve(&fake, &[], &[]).await;
        let client = client(addr, modern, None).await;
        let handle = client
            .send_cancellable_request(
                tool_call(
                    "generate_image",
                    json!({"prompt": "[[fake:slow=1500]] a slow fox"}),
                ),
                PeerRequestOptions::with_timeout(Duration::from_millis(400)),
            )
            .await
            .unwrap();
        assert!(
            handle.await_response().await.is_err(),
            "the client timed out"
        );
        assert!(
            upstream_completed(&fake, Duration::from_millis(2500)).await,
            "modern={modern}: the generation went on after the client's timeout"
        );
    }
}

#[tokio::test]
async fn a_stateless_client_that_goes_away_after_the_request_went_upstream_keeps_the_generation() {
    let fake = fake().await;
    let (addr, _stop) = serve(&fake, &[], &[]).await;
    let client = client(addr, true, None).await;
    let handle = send_call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1500]] a fox"}),
    )
    .await;
    wait_until(|| !fake.requests().is_empty()).await;
    // The whole client goes: its request stream closes with no cancellation sent.
    drop(handle);
    drop(client);
    assert!(upstream_completed(&fake, Duration::from_millis(2500)).await);
}

#[tokio::test]
async fn a_stateless_clients_cancellation_notification_stops_the_call_and_its_upstream_request() {
    // A 2025 client of a stateless server cancels with a notification in a POST of its own,
    // which rmcp drops; the TypeScript SDK does this on an AbortSignal.
    let fake = fake().await;
    let (addr, _stop) = serve(&fake, &["--stateless", "true"], &[]).await;
    let client = client(addr, false, None).await;
    let handle = send_call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=5000]] a fox"}),
    )
    .await;
    wait_until(|| !fake.requests().is_empty()).await;
    handle
        .cancel(Some("AbortError: the user stopped it".into()))
        .await
        .unwrap();
    assert_eq!(upstream_hangups(&fake).await, 1);
}

#[tokio::test]
async fn a_2026_client_that_closes_its_stream_before_the_call_went_upstream_cancels_it_for_free() {
    let fake = fake().await;
    let (addr, _stop) = serve(&fake, &[], &["--max-concurrency", "1"]).await;
    let client = client(addr, true, None).await;
    let first = send_call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1200]] a fox"}),
    )
    .await;
    wait_until(|| !fake.requests().is_empty()).await;
    let queued = send_call(&client, "generate_image", json!({"prompt": "a queued fox"})).await;
    // Time for the queued call to reach its slot's queue; nothing outside shows that it has.
    tokio::time::sleep(Duration::from_millis(200)).await;
    queued.cancel(None).await.unwrap();

    let first = crate::long::result_of(first.await_response().await.unwrap());
    assert!(!is_error(&first), "{}", text(&first));
    // A request that should not happen can only be waited for a while.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.requests().len(),
        1,
        "the queued call never went upstream"
    );
}

#[tokio::test]
async fn a_cancel_from_one_session_never_reaches_another_sessions_call_with_the_same_id() {
    let fake = fake().await;
    let (addr, _stop) = serve(&fake, &[], &[]).await;
    let a = client(addr, false, None).await;
    let b = client(addr, false, None).await;
    let slow = json!({"prompt": "[[fake:slow=1500]] a fox"});
    let ha = send_call(&a, "generate_image", slow.clone()).await;
    let hb = send_call(&b, "generate_image", slow).await;
    assert_eq!(ha.id, hb.id, "both sessions use the same request id");
    wait_until(|| fake.requests().len() == 2).await;

    ha.cancel(Some("user aborted".into())).await.unwrap();
    let b_result = crate::long::result_of(hb.await_response().await.unwrap());

    assert!(!is_error(&b_result), "{}", text(&b_result));
    assert_eq!(
        upstream_hangups(&fake).await,
        1,
        "only session a's upstream request was dropped"
    );
}

//! Streamable HTTP at `/mcp`: rmcp's client in both lifecycle modes, and the security checks.
//! `call_every_tool` is shared with the legacy SSE tests.

use std::net::SocketAddr;

use clap::Parser;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use seedream_fake::FakeApi;
use seedream_mcp::tools::ImageServer;
use seedream_mcp::transport::http::{HttpArgs, serve_on};
use serde_json::json;

use crate::long::{Recorder, result_of, send_call};
use crate::support::{KEY, args, config, fake, is_error, text};

/// `seedream-mcp http`'s flags, parsed as the binary parses them; shared by the HTTP test modules.
#[derive(Parser)]
pub(crate) struct Flags {
    #[command(flatten)]
    pub(crate) http: HttpArgs,
}

/// Serves the tools over HTTP on 127.0.0.1:0; the server stops when the returned sender drops.
pub(crate) async fn start(
    fake: &FakeApi,
    flags: &[&str],
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    start_with(fake, flags, &[]).await
}

/// As `start`, with server settings (`--wait-seconds 2`, …) too.
pub(crate) async fn start_with(
    fake: &FakeApi,
    flags: &[&str],
    server_flags: &[&str],
) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let mut argv = vec!["http"];
    argv.extend_from_slice(flags);
    let http = Flags::try_parse_from(argv).unwrap().http;
    let mut settings = vec!["--save", "false"];
    settings.extend_from_slice(server_flags);
    let server = ImageServer::new(config(&fake.base_url(), KEY, &settings)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_on(listener, server, http, async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

async fn call_over(
    client: &rmcp::Peer<rmcp::RoleClient>,
    tool: &'static str,
    arguments: serde_json::Value,
) -> rmcp::model::CallToolResult {
    let result = client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .unwrap();
    crate::support::check_output_schema(client, tool, &result).await;
    result
}

/// Lists the tools and calls each one as a model would, checking every answer. The server must
/// run with `--wait-seconds 2`, so that a slow call answers with a job for `get_job`.
pub(crate) async fn call_every_tool(client: &rmcp::Peer<rmcp::RoleClient>, fake: &FakeApi) {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "edit_image",
            "generate_image",
            "generate_sequence",
            "get_job"
        ]
    );
    let before = fake.requests().len();

    let generated = call_over(client, "generate_image", json!({"prompt": "a fox"})).await;
    assert!(!is_error(&generated), "{}", text(&generated));
    assert!(
        generated.content.iter().any(|c| c.as_image().is_some()),
        "{}",
        text(&generated)
    );

    let edited = call_over(
        client,
        "edit_image",
        json!({"prompt": "make it night", "images": ["https://example.com/fox.png"]}),
    )
    .await;
    assert!(!is_error(&edited), "{}", text(&edited));

    let sequence = call_over(
        client,
        "generate_sequence",
        json!({"prompt": "[[fake:n=3]] three panels of a fox's day", "max_images": 3}),
    )
    .await;
    assert!(!is_error(&sequence), "{}", text(&sequence));
    let images = &sequence.structured_content.as_ref().unwrap()["images"];
    assert_eq!(images.as_array().unwrap().len(), 3, "{}", text(&sequence));

    let slow = call_over(
        client,
        "generate_image",
        json!({"prompt": "[[fake:slow=3000]] a patient fox"}),
    )
    .await;
    let job_id = slow.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .expect("a call past the wait limit answers with a job")
        .to_owned();
    let finished = finish_job(client, &job_id).await;
    assert!(finished.content.iter().any(|c| c.as_image().is_some()));

    let unknown = call_over(client, "get_job", json!({"job_id": "0123456789abcdef"})).await;
    assert!(is_error(&unknown), "{}", text(&unknown));
    assert_eq!(
        fake.requests().len() - before,
        4,
        "one upstream request per generating call"
    );
}

fn transport(
    addr: SocketAddr,
    token: Option<&str>,
) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    if let Some(t) = token {
        config = config.auth_header(t);
    }
    StreamableHttpClientTransport::from_config(config)
}

async fn generate_over(client: &rmcp::Peer<rmcp::RoleClient>) -> rmcp::model::CallToolResult {
    client
        .call_tool(
            CallToolRequestParams::new("generate_image")
                .with_arguments(args(json!({"prompt": "a fox over http"}))),
        )
        .await
        .unwrap()
}

/// Calls `get_job` until the job has its images; every answer on the way must be a success.
pub(crate) async fn finish_job(
    client: &rmcp::Peer<rmcp::RoleClient>,
    job_id: &str,
) -> rmcp::model::CallToolResult {
    for _ in 0..20 {
        let r = call_over(
            client,
            "get_job",
            json!({"job_id": job_id, "wait_seconds": 0.5}),
        )
        .await;
        assert!(!is_error(&r), "{}", text(&r));
        if r.structured_content
            .as_ref()
            .is_some_and(|s| s.get("images").is_some())
        {
            return r;
        }
    }
    panic!("job {job_id} did not finish");
}

#[tokio::test]
async fn a_session_based_client_calls_every_tool_and_gets_previews_instead_of_files() {
    let fake = fake().await;
    let (addr, _stop) = start_with(&fake, &[], &["--wait-seconds", "2"]).await;

    let client = ().serve(transport(addr, None)).await.unwrap();
    call_every_tool(&client, &fake).await;
    let r = generate_over(&client).await;

    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("/tos/"),
        "a URL is returned: {}",
        text(&r)
    );
    assert!(
        !text(&r).contains("saved to"),
        "saving is off, as it is by default over HTTP"
    );
    assert!(
        r.content.iter().any(|c| c.as_image().is_some()),
        "a preview is embedded instead"
    );
}

#[tokio::test]
async fn a_stateless_2026_client_discovers_and_calls_every_tool() {
    let fake = fake().await;
    let (addr, _stop) = start_with(&fake, &[], &["--wait-seconds", "2"]).await;

    let client = ()
        .serve_with_lifecycle(
            transport(addr, None),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    call_every_tool(&client, &fake).await;
}

#[tokio::test]
async fn with_a_token_the_right_one_is_required_and_healthz_stays_open() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--token", "s3cret-token"]).await;
    let http = reqwest::Client::new();

    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    for auth in [None, Some("Bearer wrong-token"), Some("s3cret-token")] {
        let mut req = http
            .post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .body("{}");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert!(
            res.headers()
                .get("www-authenticate")
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("Bearer")
        );
    }
    let client = ().serve(transport(addr, Some("s3cret-token"))).await.unwrap();
    assert!(!is_error(&generate_over(&client).await));
    assert_eq!(
        fake.requests().len(),
        1,
        "only the authorised call reached the upstream"
    );
}

#[tokio::test]
async fn spoofed_hosts_foreign_origins_and_oversized_bodies_are_refused() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--max-body-mb", "1"]).await;
    let http = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    .to_string();
    let post = || {
        http.post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
    };

    let spoofed = post()
        .header("host", "evil.example.com")
        .body(initialize.clone())
        .send()
        .await
        .unwrap();
    assert!(spoofed.status().is_client_error(), "{}", spoofed.status());
    let foreign = post()
        .header("origin", "http://evil.example.com")
        .body(initialize.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);
    let local = post()
        .header("origin", format!("http://localhost:{}", addr.port()))
        .body(initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200, "a loopback origin is fine");
    let huge = post()
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert!(fake.requests().is_empty(), "nothing reached the upstream");
}

#[test]
fn a_non_loopback_bind_without_a_token_refuses_to_start_and_says_how_to_fix_it() {
    let http = Flags::try_parse_from(["http", "--listen", "0.0.0.0:8787"])
        .unwrap()
        .http;
    let err = http.validate().unwrap_err().to_string();
    assert!(err.contains("SEEDREAM_HTTP_TOKEN"), "{err}");
    let http = Flags::try_parse_from(["http", "--listen", "0.0.0.0:8787", "--token", "t"])
        .unwrap()
        .http;
    assert!(http.validate().is_ok());
}

#[tokio::test]
async fn shutdown_lets_a_running_call_finish_within_the_grace_period() {
    let fake = fake().await;
    let (addr, stop) = start(&fake, &["--shutdown-grace-seconds", "5"]).await;
    let client = ().serve(transport(addr, None)).await.unwrap();

    let call = tokio::spawn(async move {
        client
            .call_tool(
                CallToolRequestParams::new("generate_image").with_arguments(args(
                    json!({"prompt": "[[fake:slow=800]] a fox at closing time"}),
                )),
            )
            .await
    });
    crate::long::wait_until(|| !fake.requests().is_empty()).await;
    drop(stop);
    let r = call.await.unwrap().expect("the in-flight call is answered");

    assert!(!is_error(&r), "{}", text(&r));
    // Once no call runs, the server stops at once instead of waiting out the grace period.
    let mut refused = false;
    // Polled over real sockets: up to a generous 10 s.
    for _ in 0..500 {
        if reqwest::get(format!("http://{addr}/healthz"))
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "no new connections after shutdown");
}

async fn call_with_tenant_key(addr: SocketAddr) -> rmcp::model::CallToolResult {
    let mut config = StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"));
    config.custom_headers.insert(
        reqwest::header::HeaderName::from_static("x-seedream-api-key"),
        reqwest::header::HeaderValue::from_static("tenant-key"),
    );
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await.unwrap();
    generate_over(&client).await
}

#[tokio::test]
async fn a_caller_key_is_used_for_its_call_only_when_the_option_is_on() {
    let fake = FakeApi::start(seedream_fake::FakeConfig {
        api_key: Some("tenant-key".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let (with, _s1) = start(&fake, &["--allow-caller-keys", "true"]).await;
    let (without, _s2) = start(&fake, &[]).await;

    let allowed = call_with_tenant_key(with).await;
    let ignored = call_with_tenant_key(without).await;

    assert!(!is_error(&allowed), "{}", text(&allowed));
    assert!(
        is_error(&ignored),
        "without the option the server's own key is used"
    );
    let auth: Vec<Option<String>> = fake
        .requests()
        .iter()
        .map(|r| r.authorization.clone())
        .collect();
    assert_eq!(
        auth,
        [
            Some("Bearer tenant-key".to_owned()),
            Some(format!("Bearer {KEY}"))
        ]
    );
    assert!(!text(&allowed).contains("tenant-key") && !text(&ignored).contains("tenant-key"));
}

async fn recording_client(
    addr: SocketAddr,
    modern: bool,
) -> (
    rmcp::service::RunningService<rmcp::RoleClient, Recorder>,
    Recorder,
) {
    let recorder = Recorder::default();
    let lifecycle = if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    let client = recorder
        .clone()
        .serve_with_lifecycle(transport(addr, None), lifecycle)
        .await
        .unwrap();
    (client, recorder)
}

#[tokio::test]
async fn progress_reaches_streamable_http_clients_of_both_eras() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &[]).await;

    for modern in [false, true] {
        let (client, recorder) = recording_client(addr, modern).await;
        let handle = send_call(
            &client,
            "generate_image",
            json!({"prompt": "[[fake:slow=2500]] a slow fox"}),
        )
        .await;
        let result = result_of(handle.await_response().await.unwrap());

        assert!(!is_error(&result), "{}", text(&result));
        let seen = recorder.0.lock().unwrap().clone();
        assert!(
            seen.len() >= 2,
            "modern={modern}: progress at once and every 2 s, got {}",
            seen.len()
        );
        assert!(seen.windows(2).all(|w| w[1].1.progress > w[0].1.progress));
    }
}

#[tokio::test]
async fn delete_ends_a_session_with_204_and_an_unknown_one_gets_404() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &[]).await;
    let http = reqwest::Client::new();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let opened = http
        .post(format!("http://{addr}/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let delete = |id: String| {
        http.delete(format!("http://{addr}/mcp"))
            .header("mcp-session-id", id)
            .send()
    };

    assert_eq!(delete(session.clone()).await.unwrap().status(), 204);
    assert_eq!(
        delete(session).await.unwrap().status(),
        404,
        "already ended"
    );
    assert_eq!(delete("nope".into()).await.unwrap().status(), 404);
}

//! Long generations: progress before the result, job handles past the wait limit, cancellation
//! that reaches the upstream, and the in-flight limit under load.
//!
//! These talk to the fake API over real sockets, so time cannot be paused: the heartbeat is set
//! short instead of waited out, tests wait for events rather than for fixed times, and the
//! bounds that remain are generous for a loaded machine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientRequest, ProgressNotificationParam, Request,
    ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use seedream_fake::{FakeApi, FakeConfig};
use seedream_mcp::config::Config;
use seedream_mcp::tools::ImageServer;
use serde_json::json;

use crate::support::{KEY, args, call, config, fake, is_error, text};

/// A client that records every progress notification with the time it arrived.
#[derive(Clone, Default)]
pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<(Instant, ProgressNotificationParam)>>>);

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        self.0.lock().unwrap().push((Instant::now(), params));
    }
}

/// Progress every 200 ms instead of every 2 s, so a short call shows several heartbeats.
const HEARTBEAT: Duration = Duration::from_millis(200);

async fn connect_recording(config: Config) -> (RunningService<RoleClient, Recorder>, Recorder) {
    let server = ImageServer::new(config).unwrap().with_heartbeat(HEARTBEAT);
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let recorder = Recorder::default();
    (recorder.clone().serve(client_io).await.unwrap(), recorder)
}

pub(crate) fn tool_call(name: &str, arguments: serde_json::Value) -> ClientRequest {
    ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new(name.to_owned()).with_arguments(args(arguments)),
    ))
}

pub(crate) fn result_of(r: ServerResult) -> CallToolResult {
    match r {
        ServerResult::CallToolResult(r) => r,
        other => panic!("not a tool result: {other:?}"),
    }
}

/// Sends a tool call whose progress is recorded and which can be cancelled.
pub(crate) async fn send_call<H: rmcp::ClientHandler>(
    client: &RunningService<RoleClient, H>,
    name: &str,
    arguments: serde_json::Value,
) -> rmcp::service::RequestHandle<RoleClient> {
    client
        .send_cancellable_request(tool_call(name, arguments), PeerRequestOptions::no_options())
        .await
        .unwrap()
}

/// Waits (up to a generous 10 s) for the fake API to see a generation request abandoned, and
/// returns how many.
pub(crate) async fn upstream_hangups(fake: &FakeApi) -> usize {
    wait_until(|| fake.connections_closed_early() > 0).await;
    fake.connections_closed_early()
}

/// Polls `done` until it holds or a generous 10 s have passed (events over real sockets).
pub(crate) async fn wait_until(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn progress_arrives_at_once_and_then_regularly_and_always_increases() {
    let fake = fake().await;
    let (client, recorder) = connect_recording(config(&fake.base_url(), KEY, &[])).await;

    let started = Instant::now();
    let handle = send_call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1500]] a slow fox"}),
    )
    .await;
    let result = result_of(handle.await_response().await.unwrap());
    let answered = Instant::now();

    assert!(!is_error(&result), "{}", text(&result));
    let seen = recorder.0.lock().unwrap().clone();
    assert!(
        seen.len() >= 3,
        "a notification at once and at every heartbeat: {}",
        seen.len()
    );
    assert!(
        seen[0].0 - started < Duration::from_secs(1),
        "the first long before the upstream answers"
    );
    assert!(
        seen.iter().all(|(t, _)| *t <= answered),
        "nothing after the result"
    );
    assert!(
        seen.windows(2).all(|w| w[1].1.progress > w[0].1.progress),
        "monotonic"
    );
    let messages: Vec<String> = seen.iter().filter_map(|(_, p)| p.message.clone()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("generating 1 image with doubao-seedream") && m.ends_with(" s")),
        "{messages:?}"
    );
}

#[tokio::test]
async fn a_call_past_the_wait_limit_answers_with_a_job_that_get_job_completes() {
    let fake = fake().await;
    let client =
        crate::support::connect(config(&fake.base_url(), KEY, &["--wait-seconds", "0.3"])).await;

    let first = call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1200]] a patient fox"}),
    )
    .await;

    assert!(!is_error(&first), "{}", text(&first));
    let job_id = first.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text(&first).contains("get_job") && text(&first).contains(&job_id));
    let mut done = None;
    for _ in 0..20 {
        let r = call(
            &client,
            "get_job",
            json!({"job_id": job_id, "wait_seconds": 0.3}),
        )
        .await;
        if r.structured_content
            .as_ref()
            .is_some_and(|s| s.get("images").is_some())
        {
            done = Some(r);
            break;
        }
    }
    let done = done.expect("the job finished");
    let path = done.structured_content.as_ref().unwrap()["images"][0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        std::path::Path::new(&path).exists(),
        "the paid image was saved"
    );
    assert_eq!(fake.requests().len(), 1, "one generation, no repeat");
    let again = call(&client, "get_job", json!({"job_id": job_id})).await;
    assert_eq!(
        text(&again),
        text(&done),
        "a finished job can be fetched again"
    );
}

#[tokio::test]
async fn an_unknown_job_id_is_a_clear_tool_error() {
    let fake = fake().await;
    let client = crate::support::client_for(&fake).await;
    let r = call(&client, "get_job", json!({"job_id": "job-0000"})).await;
    assert!(is_error(&r));
    assert!(
        text(&r).contains("Unknown or expired job_id \"job-0000\""),
        "{}",
        text(&r)
    );
}

#[tokio::test]
async fn a_cancelled_call_drops_the_upstream_request_and_the_server_keeps_serving() {
    let fake = fake().await;
    let (client, _) = connect_recording(config(&fake.base_url(), KEY, &[])).await;

    let handle = send_call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=5000]] an abandoned fox"}),
    )
    .await;
    wait_until(|| !fake.requests().is_empty()).await;
    handle
        .cancel(Some("the user pressed stop".to_owned()))
        .await
        .unwrap();

    assert_eq!(
        upstream_hangups(&fake).await,
        1,
        "the upstream saw its connection closed"
    );
    let next = call(&client, "generate_image", json!({"prompt": "a fresh fox"})).await;
    assert!(!is_error(&next), "{}", text(&next));
}

#[tokio::test]
async fn fifty_simultaneous_calls_respect_the_in_flight_limit_and_none_is_lost() {
    let fake = FakeApi::start(FakeConfig {
        max_inflight: Some(3),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    // No retries: a call beyond the limit would surface as a 429 error instead of being hidden.
    let client = crate::support::connect(config(
        &fake.base_url(),
        KEY,
        &["--max-concurrency", "3", "--max-retries", "0"],
    ))
    .await;

    let calls = (0..50).map(|i| {
        call(
            &client,
            "generate_image",
            json!({"prompt": format!("[[fake:slow=60]] fox {i}")}),
        )
    });
    let results = futures_util::future::join_all(calls).await;

    for r in &results {
        assert!(!is_error(r), "{}", text(r));
    }
    assert_eq!(fake.requests().len(), 50);
}

async fn sequence_progress(fake: &FakeApi) -> (CallToolResult, Vec<String>) {
    let (client, recorder) = connect_recording(config(&fake.base_url(), KEY, &[])).await;
    let handle = send_call(&client, "generate_sequence", json!({"prompt": "[[fake:n=3,slow=700]] 3 panels of a fox", "max_images": 3, "model": "4.5"})).await;
    let result = result_of(handle.await_response().await.unwrap());
    let messages = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, p)| p.message.clone())
        .collect();
    (result, messages)
}

#[tokio::test]
async fn a_streamed_sequence_reports_each_image_as_it_completes() {
    let fake = FakeApi::start(FakeConfig {
        stream_passthrough: true,
        ..FakeConfig::default()
    })
    .await
    .unwrap();

    let (result, messages) = sequence_progress(&fake).await;

    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(
        result.structured_content.as_ref().unwrap()["images"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for n in 1..=3 {
        let wanted = format!("image {n} of up to 3 done");
        assert!(
            messages.iter().any(|m| m.starts_with(&wanted)),
            "{wanted}: {messages:?}"
        );
    }
    assert_eq!(fake.requests()[0].body["stream"], true);
}

#[tokio::test]
async fn a_sequence_answered_with_plain_json_still_reports_each_image() {
    let fake = fake().await;

    let (result, messages) = sequence_progress(&fake).await;

    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(
        fake.requests()[0].body["stream"],
        true,
        "streaming was asked for"
    );
    for n in 1..=3 {
        let wanted = format!("image {n} of up to 3 done");
        assert!(
            messages.iter().any(|m| m.starts_with(&wanted)),
            "{wanted}: {messages:?}"
        );
    }
}

#[tokio::test]
async fn a_stream_that_breaks_after_an_image_keeps_the_paid_image() {
    let fake = FakeApi::start(FakeConfig {
        stream_passthrough: true,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = crate::support::client_for(&fake).await;

    let r = call(
        &client,
        "generate_sequence",
        json!({"prompt": "[[fake:n=3,stream_error_after=1]] 3 panels", "max_images": 3, "model": "4.5"}),
    )
    .await;

    assert!(!is_error(&r), "{}", text(&r));
    let s = r.structured_content.unwrap();
    assert_eq!(s["images"].as_array().unwrap().len(), 1);
    assert_eq!(s["failures"][0]["code"], "InternalServiceError");
}

#[tokio::test]
async fn a_caller_that_times_out_does_not_stop_the_job_and_the_images_are_saved() {
    let fake = fake().await;
    let out = crate::support::scratch_dir("timeout");
    let (client, _) = connect_recording(config(
        &fake.base_url(),
        KEY,
        &["--output-dir", out.to_str().unwrap()],
    ))
    .await;

    let handle = client
        .send_cancellable_request(
            tool_call(
                "generate_image",
                json!({"prompt": "[[fake:slow=800]] a fox worth keeping"}),
            ),
            PeerRequestOptions::with_timeout(Duration::from_millis(200)),
        )
        .await
        .unwrap();
    assert!(
        handle.await_response().await.is_err(),
        "the client timed out"
    );

    wait_until(|| std::fs::read_dir(&out).unwrap().count() > 0).await;
    let saved: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(saved.len(), 1, "the paid image was saved: {saved:?}");
    assert_eq!(
        fake.connections_closed_early(),
        0,
        "the upstream request was not dropped"
    );
}

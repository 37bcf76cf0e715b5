//! The MCP Tasks extension (issue 13): a 2026-07-28 client that declares it gets a long call
//! as a task, polls it to the tool's result, cancels it for real, and sees only its own tasks;
//! a client that does not declare it, or a 2025-11-25 session that lists it at `initialize`
//! (the extension belongs to 2026-07-28), gets exactly the old answers. Over an in-memory pipe,
//! raw JSON-RPC over the binary's stdio, 2025 HTTP sessions and stateless 2026-07-28 HTTP.

use std::time::{Duration, Instant};

use rmcp::model::ProtocolVersion;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities,
    ClientConfig, GetTaskParams, GetTaskResult, TaskPayload, TaskStatus,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
use rmcp::{RoleClient, ServiceExt};
use seedream_fake::{FakeApi, FakeConfig};
use seedream_mcp::config::Config;
use seedream_mcp::tools::ImageServer;
use serde_json::{Value, json};

use crate::long::upstream_hangups;
use crate::support::{KEY, args, call, config, fake, is_error, text};

type TaskClient = RunningService<RoleClient, ClientConfig>;

/// A client that declares the tasks extension (rmcp sends it at `initialize`, or in every
/// request's `_meta` in the 2026-07-28 era).
pub(crate) fn declaring() -> ClientConfig {
    let mut info = ClientConfig::default();
    info.capabilities = ClientCapabilities::builder().enable_tasks().build();
    info
}

async fn connect_declaring(config: Config) -> TaskClient {
    let server = ImageServer::new(config).unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    declaring()
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap()
}

async fn call_once(
    client: &rmcp::Peer<RoleClient>,
    tool: &str,
    arguments: Value,
) -> CallToolResponse {
    client
        .call_tool_once(CallToolRequestParams::new(tool.to_owned()).with_arguments(args(arguments)))
        .await
        .unwrap()
}

fn task_id(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Task(t) => {
            assert_eq!(t.task.status, TaskStatus::Working);
            assert!(t.task.ttl_ms.is_some_and(|ms| ms >= 3_600_000), "{t:?}");
            assert!(t.task.poll_interval_ms.is_some());
            t.task.task_id
        }
        other => panic!("not a task: {other:?}"),
    }
}

/// Polls `tasks/get` until the task ends (a generous 10 s over real sockets).
pub(crate) async fn settle(client: &rmcp::Peer<RoleClient>, id: &str) -> GetTaskResult {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = client.get_task(GetTaskParams::new(id)).await.unwrap();
        if got.task.status().is_terminal() || Instant::now() > deadline {
            return got;
        }
        assert!(got.task.task.status_message.is_some(), "progress is told");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) fn tool_result(got: &GetTaskResult) -> CallToolResult {
    match &got.task.payload {
        TaskPayload::Completed { result } => {
            serde_json::from_value(Value::Object(result.clone())).unwrap()
        }
        other => panic!("not completed: {other:?}"),
    }
}

#[tokio::test]
async fn a_task_declaring_call_gets_a_task_whose_result_is_the_tool_result_and_get_job_reads_it_too()
 {
    let fake = fake().await;
    let client = connect_declaring(config(&fake.base_url(), KEY, &[])).await;

    let response = call_once(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1800]] a backgrounded fox"}),
    )
    .await;
    let id = task_id(response);
    let done = settle(&client, &id).await;

    assert_eq!(done.task.status(), TaskStatus::Completed);
    let result = tool_result(&done);
    assert!(!is_error(&result), "{}", text(&result));
    let path = result.structured_content.as_ref().unwrap()["images"][0]["path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(std::path::Path::new(&path).exists(), "the image was saved");
    let by_job = call(&client, "get_job", json!({"job_id": id})).await;
    assert_eq!(text(&by_job), text(&result), "one job, two views");
    assert_eq!(fake.requests().len(), 1, "one generation");
}

#[tokio::test]
async fn a_quick_call_from_a_task_declaring_client_is_answered_on_the_spot() {
    let fake = fake().await;
    let client = connect_declaring(config(&fake.base_url(), KEY, &[])).await;

    let response = call_once(&client, "generate_image", json!({"prompt": "a quick fox"})).await;

    match response {
        CallToolResponse::Complete(r) => assert!(!is_error(&r), "{}", text(&r)),
        other => panic!("a call done within a second needs no task: {other:?}"),
    }
}

#[tokio::test]
async fn tasks_cancel_stops_the_job_and_drops_its_upstream_request() {
    let fake = fake().await;
    let client = connect_declaring(config(&fake.base_url(), KEY, &[])).await;
    let id = task_id(
        call_once(
            &client,
            "generate_image",
            json!({"prompt": "[[fake:slow=8000]] an unwanted fox"}),
        )
        .await,
    );

    client
        .cancel_task(CancelTaskParams::new(&id))
        .await
        .unwrap();

    assert_eq!(
        upstream_hangups(&fake).await,
        1,
        "the upstream saw it dropped"
    );
    let got = client.get_task(GetTaskParams::new(&id)).await.unwrap();
    assert_eq!(got.task.status(), TaskStatus::Cancelled);
    let by_job = call(&client, "get_job", json!({"job_id": id})).await;
    assert!(
        is_error(&by_job) && text(&by_job).contains("cancelled"),
        "{}",
        text(&by_job)
    );
}

#[tokio::test]
async fn a_client_without_the_extension_gets_a_job_id_and_never_a_task() {
    let fake = fake().await;
    let client =
        crate::support::connect(config(&fake.base_url(), KEY, &["--wait-seconds", "0.3"])).await;

    let response = call_once(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=1200]] an old-style fox"}),
    )
    .await;

    let CallToolResponse::Complete(r) = response else {
        panic!("a task for a client that did not declare the extension: {response:?}");
    };
    let id = r.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .expect("today's job handle")
        .to_owned();
    assert!(
        client.get_task(GetTaskParams::new(&id)).await.is_err(),
        "tasks/get needs the extension declared"
    );
}

/// A server with caller keys on, so two callers (two keys) are two tenants.
async fn http_client(addr: std::net::SocketAddr, modern: bool, key: &'static str) -> TaskClient {
    crate::tenants::client_as(declaring(), addr, modern, Some(key)).await
}

#[tokio::test]
async fn over_stateless_http_a_task_is_visible_to_its_creator_only_and_a_2025_session_gets_a_job_id()
 {
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let (addr, _stop) = crate::tenants::serve(
        &fake,
        &["--allow-caller-keys", "true"],
        &["--wait-seconds", "1"],
    )
    .await;
    let session = http_client(addr, false, "key-alice").await;
    let old = call_once(
        &session,
        "generate_image",
        json!({"prompt": "[[fake:slow=1500]] a 2025 fox"}),
    )
    .await;
    match old {
        CallToolResponse::Complete(r) => assert!(
            r.structured_content.as_ref().unwrap()["job_id"].is_string(),
            "a job id, never a task: {}",
            text(&r)
        ),
        other => panic!("a 2025 session gets no task: {other:?}"),
    }

    for (modern, http_flags) in [(
        true,
        vec!["--allow-caller-keys", "true", "--stateless", "true"],
    )] {
        let (addr, _stop) = crate::tenants::serve(&fake, &http_flags, &[]).await;
        let alice = http_client(addr, modern, "key-alice").await;
        let mallory = http_client(addr, modern, "key-mallory").await;
        let id = task_id(
            call_once(
                &alice,
                "generate_image",
                json!({"prompt": "[[fake:slow=1500]] alice's fox"}),
            )
            .await,
        );

        let stolen = mallory.get_task(GetTaskParams::new(&id)).await;
        assert!(
            format!("{stolen:?}").contains("not found"),
            "modern={modern}: {stolen:?}"
        );
        assert!(
            mallory
                .cancel_task(CancelTaskParams::new(&id))
                .await
                .is_err()
        );
        let stolen_job = call(&mallory, "get_job", json!({"job_id": id})).await;
        assert!(is_error(&stolen_job), "{}", text(&stolen_job));

        let done = settle(&alice, &id).await;
        let result = tool_result(&done);
        assert!(!is_error(&result), "modern={modern}: {}", text(&result));
    }
}

// ---------------------------------------------------------------------------------------------
// Raw JSON-RPC over stdio, as a client of another SDK would speak it.

fn initialize(capabilities: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": capabilities,
        "clientInfo": {"name": "tasks-test", "version": "1"}}})
}

async fn raw_session(fake: &FakeApi, capabilities: Value) -> crate::transport::Stdio {
    let mut io = crate::transport::stdio(fake, &["--wait-seconds", "0.3"], 1 << 20);
    io.send(&initialize(capabilities)).await;
    let init = io.next_reply().await;
    assert_eq!(
        init["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({}),
        "the server advertises the extension"
    );
    io.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    io
}

fn slow_call(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": {"prompt": "[[fake:slow=1200]] a raw fox"}}})
}

/// A 2026-07-28 request: no `initialize`; the request carries the era, the client and its
/// capabilities in its own `_meta`.
fn with_meta(mut request: Value, declare_tasks: bool) -> Value {
    let capabilities = if declare_tasks {
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}})
    } else {
        json!({})
    };
    request["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "tasks-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    request
}

#[tokio::test]
async fn over_raw_stdio_a_2025_session_that_lists_tasks_at_initialize_gets_a_job_id_not_a_task() {
    let fake = fake().await;
    let mut io = raw_session(
        &fake,
        json!({"extensions": {"io.modelcontextprotocol/tasks": {}}}),
    )
    .await;

    io.send(&slow_call(2)).await;
    let answer = io.next_reply().await;

    assert_ne!(answer["result"]["resultType"], "task", "{answer}");
    assert!(
        answer["result"]["structuredContent"]["job_id"].is_string(),
        "{answer}"
    );
}

#[tokio::test]
async fn over_raw_stdio_a_2026_request_that_declares_tasks_is_polled_to_its_result() {
    let fake = fake().await;
    let mut io = crate::transport::stdio(&fake, &["--wait-seconds", "0.3"], 1 << 20);

    io.send(&with_meta(slow_call(2), true)).await;
    let created = io.next_reply().await;
    assert_eq!(created["result"]["resultType"], "task", "{created}");
    assert_eq!(created["result"]["status"], "working");
    let id = created["result"]["taskId"].as_str().unwrap().to_owned();

    let mut last = Value::Null;
    for n in 3..100 {
        io.send(&with_meta(
            json!({"jsonrpc": "2.0", "id": n, "method": "tasks/get", "params": {"taskId": id}}),
            true,
        ))
        .await;
        last = io.next_reply().await;
        if last["result"]["status"] != "working" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(last["result"]["status"], "completed", "{last}");
    assert_eq!(last["result"]["result"]["isError"], false);
    assert!(
        last["result"]["result"]["structuredContent"]["images"][0]["path"].is_string(),
        "{last}"
    );
}

#[tokio::test]
async fn over_raw_stdio_a_client_that_did_not_declare_tasks_never_gets_one() {
    let fake = fake().await;
    let mut io = raw_session(&fake, json!({})).await;

    io.send(&slow_call(2)).await;
    let answer = io.next_reply().await;

    assert_ne!(answer["result"]["resultType"], "task", "{answer}");
    let id = answer["result"]["structuredContent"]["job_id"]
        .as_str()
        .expect("today's job handle");
    io.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tasks/get", "params": {"taskId": id}}))
        .await;
    let refused = io.next_reply().await;
    assert!(refused["error"]["code"].is_i64(), "{refused}");
}

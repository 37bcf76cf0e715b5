//! Several instances sharing one Redis store (issue 13, item 4): behind the shipped nginx
//! config, which spreads requests round-robin, any instance answers `get_job` and `tasks/*`
//! for any job, sees the progress of a job another one runs, passes a cancel on to it, and
//! reports a job whose instance died as interrupted; a caller never reads another's job
//! through either. The instances are real `seedream-mcp http` processes (each with its own
//! heartbeat, tenant key and memory) and Redis is a real `redis-server`.
//!
//! Needs nginx and redis-server: ignored (with the reason) unless built with
//! `SEEDREAM_REQUIRE_NGINX=1` / `SEEDREAM_REQUIRE_REDIS=1`, as CI does after installing them;
//! then a missing one fails. By hand: `cargo test --test it scale:: -- --ignored`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, GetTaskParams,
    ProtocolVersion, TaskStatus,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use seedream_fake::{FakeApi, FakeConfig};
use serde_json::json;

use crate::http::finish_job;
use crate::legacy_sse::LegacyClient;
use crate::long::upstream_hangups;
use crate::support::{KEY, args, fake, is_error, scratch_dir, text};
use crate::tasks::{declaring, settle, tool_result};
use crate::tenants::client_as;

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nginx(binary: &Path, dir: &Path, a: SocketAddr, b: SocketAddr) -> (Process, SocketAddr) {
    let port = free_port();
    let template = include_str!("../../deploy/nginx.conf");
    let conf = template
        .replace("127.0.0.1:8701", &a.to_string())
        .replace("127.0.0.1:8702", &b.to_string())
        .replace("listen 127.0.0.1:8700", &format!("listen 127.0.0.1:{port}"));
    let prelude = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
         events {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  \
         proxy_temp_path {d}/proxy;\n",
        d = dir.display()
    );
    // The shipped file is an `http { … }` include; wrap it into a whole configuration here.
    let whole = format!("{prelude}{conf}\n}}\n");
    let path = dir.join("nginx.conf");
    std::fs::write(&path, whole).unwrap();
    let child = Command::new(binary)
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nginx = Process(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return (nginx, addr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "nginx did not start: {}",
        std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
    );
}

fn redis_binary() -> Option<PathBuf> {
    [
        "/usr/bin/redis-server",
        "/usr/bin/valkey-server",
        "/usr/local/bin/redis-server",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A child process stopped (by its PID) on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for_port(addr: SocketAddr, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!(
        "{what} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A throwaway redis-server on a free loopback port, keeping nothing on disk.
fn start_redis() -> (Process, String) {
    let binary = redis_binary().expect(
        "redis-server is not installed: apt install redis-server (or leave SEEDREAM_REQUIRE_REDIS unset)",
    );
    let dir = scratch_dir("redis");
    let port = free_port();
    let log = dir.join("redis.log");
    let child = Command::new(binary)
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .arg("--logfile")
        .arg(&log)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let process = Process(child);
    wait_for_port(
        format!("127.0.0.1:{port}").parse().unwrap(),
        "redis-server",
        &log,
    );
    (process, format!("redis://127.0.0.1:{port}"))
}

/// `seedream-mcp http --stateless true` as its own process, named `name`, on `redis`.
fn start_instance(
    fake: &FakeApi,
    redis: &str,
    name: &str,
    http_flags: &[&str],
) -> (Process, SocketAddr) {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let log = scratch_dir(&format!("instance-{name}")).join("stderr.log");
    let child = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .arg("http")
        .args(["--listen", &addr.to_string(), "--stateless", "true"])
        .args(http_flags)
        .env("SEEDREAM_API_KEY", KEY)
        .env("SEEDREAM_BASE_URL", fake.base_url())
        .env("SEEDREAM_RETRY_BASE_MS", "1")
        .env("SEEDREAM_STORE", redis)
        .env("SEEDREAM_INSTANCE", name)
        .env("SEEDREAM_WAIT_SECONDS", "1")
        .env_remove("COMETAPI_KEY")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let process = Process(child);
    wait_for_port(addr, "seedream-mcp", &log);
    (process, addr)
}

async fn modern_client(url: String) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    let client = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    // Clients learn which arguments travel as headers from tools/list, as real clients do.
    client.list_all_tools().await.unwrap();
    client
}

fn task_of(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Task(t) => t.task.task_id,
        other => panic!("not a task: {other:?}"),
    }
}

async fn call_declaring(client: &rmcp::Peer<rmcp::RoleClient>, prompt: &str) -> String {
    task_of(
        client
            .call_tool_once(
                CallToolRequestParams::new("generate_image")
                    .with_arguments(args(json!({"prompt": prompt}))),
            )
            .await
            .unwrap(),
    )
}

async fn call(
    client: &rmcp::Peer<rmcp::RoleClient>,
    tool: &'static str,
    arguments: serde_json::Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn job_id(result: &CallToolResult) -> String {
    result.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a job id: {}", text(result)))
        .to_owned()
}

#[tokio::test]
#[cfg_attr(
    not(all(require_nginx, require_redis)),
    ignore = "needs nginx and redis-server (apt install nginx-light redis-server); set SEEDREAM_REQUIRE_NGINX=1 and SEEDREAM_REQUIRE_REDIS=1 to run it, or pass --ignored"
)]
async fn behind_round_robin_nginx_any_instance_answers_for_any_job_in_every_era() {
    // Run means wanted: a missing nginx fails rather than passing unrun.
    let nginx = nginx_binary().expect(
        "nginx is not installed: apt install nginx-light (or leave SEEDREAM_REQUIRE_NGINX unset)",
    );
    let fake = fake().await;
    let (_redis, store) = start_redis();
    let (_a, a) = start_instance(&fake, &store, "a", &[]);
    let (_b, b) = start_instance(&fake, &store, "b", &[]);
    let (_nginx, lb) = start_nginx(&nginx, &scratch_dir("nginx"), a, b);
    let url = format!("http://{lb}/mcp");

    let modern = modern_client(url.clone()).await;
    let slow = || {
        call(
            &modern,
            "generate_image",
            json!({"prompt": "[[fake:slow=2000]] a fox"}),
        )
    };
    let (r1, r2, r3, r4) = tokio::join!(slow(), slow(), slow(), slow());
    let ids: Vec<String> = [&r1, &r2, &r3, &r4].into_iter().map(job_id).collect();
    assert!(
        ids.iter().any(|i| i.starts_with("job-a-")) && ids.iter().any(|i| i.starts_with("job-b-")),
        "round robin reached both instances: {ids:?}"
    );
    // Each job fetched through the instance that does not run it, and through nginx.
    let direct_a = modern_client(format!("http://{a}/mcp")).await;
    let direct_b = modern_client(format!("http://{b}/mcp")).await;
    for id in &ids {
        let other = if id.starts_with("job-a-") {
            &direct_b
        } else {
            &direct_a
        };
        let finished = finish_job(other, id).await;
        assert!(
            finished.content.iter().any(|c| c.as_image().is_some()),
            "{}",
            text(&finished)
        );
        let again = finish_job(&modern, id).await;
        assert_eq!(
            text(&again),
            text(&finished),
            "every instance tells the same result"
        );
    }
    assert_eq!(fake.requests().len(), 4, "each image generated once");

    // A session-era client works too: with --stateless no request depends on the instance.
    let legacy = ().serve(StreamableHttpClientTransport::from_uri(url)).await.unwrap();
    for _ in 0..2 {
        let r = call(&legacy, "generate_image", json!({"prompt": "a quick fox"})).await;
        assert!(!is_error(&r), "{}", text(&r));
    }
    // Legacy HTTP+SSE: the stream opens on either instance and the POSTs follow its session id.
    for _ in 0..2 {
        let (transport, post_url) = LegacyClient::connect(lb).await;
        assert!(
            post_url.contains("sessionId=a-") || post_url.contains("sessionId=b-"),
            "{post_url}"
        );
        let old = ().serve(transport).await.unwrap();
        let r = call(
            &old,
            "generate_image",
            json!({"prompt": "an old-school fox"}),
        )
        .await;
        assert!(!is_error(&r), "{}", text(&r));
    }
}

#[tokio::test]
#[cfg_attr(
    not(require_redis),
    ignore = "needs redis-server (apt install redis-server); set SEEDREAM_REQUIRE_REDIS=1 to run it, or pass --ignored"
)]
async fn a_task_started_on_one_instance_is_followed_and_cancelled_through_the_other() {
    let fake = fake().await;
    let (_redis, store) = start_redis();
    let (_a, a) = start_instance(&fake, &store, "a", &[]);
    let (_b, b) = start_instance(&fake, &store, "b", &[]);
    let on_a = client_as(declaring(), a, true, None).await;
    let on_b = client_as(declaring(), b, true, None).await;
    // 2026-07-28 clients learn from tools/list which arguments also travel as headers.
    on_b.list_all_tools().await.unwrap();

    // Finished on A, completed through B with the tool's own result.
    let id = call_declaring(&on_a, "[[fake:slow=1500]] a fox").await;
    let got = settle(&on_b, &id).await;
    assert_eq!(got.task.status(), TaskStatus::Completed, "{got:?}");
    assert!(
        tool_result(&got)
            .content
            .iter()
            .any(|c| c.as_image().is_some())
    );

    // Running on A: B tells its progress, and B's cancel reaches A's upstream request.
    let id = call_declaring(&on_a, "[[fake:slow=8000]] an unwanted fox").await;
    let running = on_b.get_task(GetTaskParams::new(&id)).await.unwrap();
    assert_eq!(running.task.status(), TaskStatus::Working);
    assert!(running.task.task.status_message.is_some(), "{running:?}");
    let polled = call(&on_b, "get_job", json!({"job_id": id, "wait_seconds": 0})).await;
    assert!(
        !is_error(&polled) && text(&polled).contains("Still working"),
        "{}",
        text(&polled)
    );
    on_b.cancel_task(CancelTaskParams::new(&id)).await.unwrap();
    assert_eq!(
        upstream_hangups(&fake).await,
        1,
        "A dropped the upstream request"
    );
    for client in [&on_a, &on_b] {
        let got = client.get_task(GetTaskParams::new(&id)).await.unwrap();
        assert_eq!(got.task.status(), TaskStatus::Cancelled, "{got:?}");
    }
}

#[tokio::test]
#[cfg_attr(
    not(require_redis),
    ignore = "needs redis-server (apt install redis-server); set SEEDREAM_REQUIRE_REDIS=1 to run it, or pass --ignored"
)]
async fn a_caller_cannot_read_another_callers_job_through_any_instance() {
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let (_redis, store) = start_redis();
    let keys = ["--allow-caller-keys", "true"];
    let (_a, a) = start_instance(&fake, &store, "a", &keys);
    let (_b, b) = start_instance(&fake, &store, "b", &keys);
    let alice_a = client_as((), a, true, Some("key-alice")).await;
    let alice_b = client_as((), b, false, Some("key-alice")).await;
    let mallory_b = client_as((), b, true, Some("key-mallory")).await;
    mallory_b.list_all_tools().await.unwrap();

    let made = call(
        &alice_a,
        "generate_image",
        json!({"prompt": "[[fake:slow=1500]] a fox"}),
    )
    .await;
    let job = job_id(&made);
    let stolen = call(&mallory_b, "get_job", json!({"job_id": job})).await;
    assert!(
        is_error(&stolen) && text(&stolen).contains("Unknown"),
        "{}",
        text(&stolen)
    );
    let own = finish_job(&alice_b, &job).await;
    assert!(own.content.iter().any(|c| c.as_image().is_some()));
    let stolen = call(&mallory_b, "get_job", json!({"job_id": job})).await;
    assert!(
        is_error(&stolen) && text(&stolen).contains("Unknown"),
        "finished too: {}",
        text(&stolen)
    );
}

#[tokio::test]
#[cfg_attr(
    not(require_redis),
    ignore = "needs redis-server (apt install redis-server); set SEEDREAM_REQUIRE_REDIS=1 to run it, or pass --ignored"
)]
async fn a_job_whose_instance_dies_is_reported_interrupted_and_maybe_billed_by_the_other() {
    let fake = fake().await;
    let (_redis, store) = start_redis();
    let (mut a_process, a) = start_instance(&fake, &store, "a", &[]);
    let (_b, b) = start_instance(&fake, &store, "b", &[]);
    let on_a = modern_client(format!("http://{a}/mcp")).await;
    let on_b = modern_client(format!("http://{b}/mcp")).await;

    let made = call(
        &on_a,
        "generate_image",
        json!({"prompt": "[[fake:slow=30000]] a doomed fox"}),
    )
    .await;
    let job = job_id(&made);
    let before = call(&on_b, "get_job", json!({"job_id": job, "wait_seconds": 0})).await;
    assert!(text(&before).contains("Still working"), "{}", text(&before));

    // SIGKILL: no shutdown code runs, as when a machine dies.
    a_process.0.kill().unwrap();
    a_process.0.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(20);
    let told = loop {
        let r = call(&on_b, "get_job", json!({"job_id": job, "wait_seconds": 2})).await;
        if is_error(&r) || Instant::now() > deadline {
            break r;
        }
    };
    let told = text(&told);
    assert!(told.contains("interrupted"), "{told}");
    assert!(
        told.contains("may have been billed"),
        "it went upstream: {told}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(require_redis),
    ignore = "needs redis-server (apt install redis-server); set SEEDREAM_REQUIRE_REDIS=1 to run it, or pass --ignored"
)]
async fn a_daily_cap_counts_the_calls_of_every_instance_sharing_redis() {
    let fake = fake().await;
    let (_redis, store) = start_redis();
    let cap = ["--cap-images-per-day", "3"];
    let (_a, a) = start_instance(&fake, &store, "a", &cap);
    let (_b, b) = start_instance(&fake, &store, "b", &cap);
    let on_a = modern_client(format!("http://{a}/mcp")).await;
    let on_b = modern_client(format!("http://{b}/mcp")).await;
    let slow = |client| {
        call(
            client,
            "generate_image",
            json!({"prompt": "[[fake:slow=800]] a fox", "model": "4.5"}),
        )
    };
    // A failed call gives its room back; a sequence counts what was billed, not its worst case.
    let failed = call(
        &on_a,
        "generate_image",
        json!({"prompt": "[[fake:input_text_sensitive]] a fox", "model": "4.5"}),
    )
    .await;
    assert!(is_error(&failed), "{}", text(&failed));
    let one_of_three = call(
        &on_b,
        "generate_sequence",
        json!({"prompt": "[[fake:n=1]] three panels", "max_images": 3}),
    )
    .await;
    assert!(!is_error(&one_of_three), "{}", text(&one_of_three));
    let mut used = usage_today(&on_a).await;
    for _ in 0..50 {
        if used["images"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        used = usage_today(&on_a).await;
    }
    assert_eq!(used["images"], 1, "{used}");
    // Together, two on each instance: only two fit.
    let (r1, r2, r3, r4) = tokio::join!(slow(&on_a), slow(&on_b), slow(&on_a), slow(&on_b));
    let refused: Vec<String> = [&r1, &r2, &r3, &r4]
        .into_iter()
        .filter(|r| is_error(r))
        .map(text)
        .collect();
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|t| t.contains("daily image cap")),
        "{refused:?}"
    );
    // One after the other, on either instance: the third is refused.
    for client in [&on_a, &on_b] {
        let late = call(
            client,
            "generate_image",
            json!({"prompt": "a fox", "model": "4.5"}),
        )
        .await;
        assert!(
            is_error(&late) && text(&late).contains("3 of 3 images used"),
            "{}",
            text(&late)
        );
    }
    assert_eq!(fake.requests().len(), 4, "the refused calls sent nothing");
    let today = usage_today(&on_b).await;
    assert_eq!(today["images"], 3, "{today}");
    assert_eq!(today["left"]["images"], 0, "{today}");
}

/// Today's part of the `seedream://usage` resource.
async fn usage_today(client: &rmcp::Peer<rmcp::RoleClient>) -> serde_json::Value {
    let usage = client
        .read_resource(rmcp::model::ReadResourceRequestParams::new(
            "seedream://usage",
        ))
        .await
        .unwrap();
    let usage = serde_json::to_value(&usage).unwrap();
    let usage: serde_json::Value =
        serde_json::from_str(usage["contents"][0]["text"].as_str().unwrap()).unwrap();
    usage["today"].clone()
}

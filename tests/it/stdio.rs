//! The built binary over stdio: stdout carries JSON-RPC only, and the key never reaches stderr.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use seedream_fake::{FakeApi, FakeConfig};

const SECRET: &str = "sk-stdio-secret-4242";

fn spawn(base_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .env("SEEDREAM_STORE", "memory")
        .arg("stdio")
        .env("RUST_LOG", "trace")
        .env("SEEDREAM_API_KEY", SECRET)
        .env("SEEDREAM_BASE_URL", base_url)
        .env("SEEDREAM_OUTPUT_DIR", crate::support::scratch_dir("stdio"))
        .env_remove("COMETAPI_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the binary")
}

#[tokio::test]
async fn the_binary_speaks_only_json_rpc_on_stdout_and_never_logs_the_key() {
    let fake = FakeApi::start(FakeConfig {
        api_key: Some(SECRET.into()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let mut child = spawn(&fake.base_url());
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    // Drain stderr while the server runs: trace logs would otherwise fill the pipe and block it.
    let logs = tokio::spawn(async move {
        let mut logs = String::new();
        stderr.read_to_string(&mut logs).await.unwrap();
        logs
    });

    let messages = [
        // A newer client's probe before initialize must get a prompt error, not silence.
        json!({"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}}),
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "stdio-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "generate_image", "arguments": {"prompt": "a red fox", "model": "4.5"}}}),
    ];
    for m in &messages {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    stdin.flush().await.unwrap();

    let mut responses = std::collections::HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while responses.len() < 4 {
        let line = tokio::time::timeout_at(deadline, stdout.next_line())
            .await
            .expect("responses in time")
            .unwrap()
            .expect("a line");
        let msg: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        if let Some(id) = msg.get("id").and_then(Value::as_i64) {
            responses.insert(id, msg);
        }
    }
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    let logs = logs.await.unwrap();

    assert!(
        responses[&0].get("error").is_some(),
        "the probe got an error: {}",
        responses[&0]
    );
    assert_eq!(
        responses[&1]["result"]["serverInfo"]["name"],
        "seedream-mcp"
    );
    assert_eq!(
        responses[&1]["result"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        responses[&2]["result"]["tools"].as_array().unwrap().len(),
        4
    );
    let call = &responses[&3]["result"];
    assert_eq!(call["isError"], false, "{call}");
    assert!(
        call["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("/tos/"),
        "{call}"
    );
    assert!(!logs.is_empty(), "trace logging went to stderr");
    assert!(!logs.contains(SECRET), "the key leaked into stderr");
    assert_eq!(
        fake.requests()[0].authorization.as_deref(),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

#[tokio::test]
async fn the_binary_reaches_the_upstream_through_http_proxy() {
    // The base URL's host does not resolve; only a proxy (the fake API, which routes on the
    // path of the absolute-form request) can answer, so success proves the proxy was used.
    let fake = FakeApi::start(FakeConfig {
        api_key: Some(SECRET.into()),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .env("SEEDREAM_STORE", "memory")
        .env("SEEDREAM_API_KEY", SECRET)
        .env("SEEDREAM_BASE_URL", "http://seedream.proxy-test.invalid/v1")
        .env("HTTP_PROXY", format!("http://{}", fake.addr()))
        .env("SEEDREAM_SAVE", "false")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    for m in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "proxy-test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "generate_image", "arguments": {"prompt": "via proxy", "model": "4.5"}}}),
    ] {
        stdin.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    let response = loop {
        let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["id"] == 2 {
            break msg;
        }
    };
    assert_eq!(response["result"]["isError"], false, "{response}");
    assert_eq!(fake.requests().len(), 1);
}

/// A person running the command and pressing Ctrl-D, or a probe that closes at once: no client
/// ever connected, so there is nothing to report as an error.
#[tokio::test]
async fn stdin_closing_before_a_client_connects_is_a_clean_exit() {
    let out = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .env("SEEDREAM_STORE", "memory")
        .arg("stdio")
        .env("SEEDREAM_API_KEY", SECRET)
        .env(
            "SEEDREAM_OUTPUT_DIR",
            crate::support::scratch_dir("stdio-eof"),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("exits by itself")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout");
}

/// Sends `messages` to a fresh stdio server started with `env`, and collects the replies to
/// the requests among them, with the server's stderr once it has exited.
pub(crate) async fn exchange(
    env: &[(&str, &str)],
    messages: &[Value],
) -> (HashMap<i64, Value>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"));
    command
        .env("SEEDREAM_STORE", "memory")
        .env_remove("SEEDREAM_API_KEY")
        .env_remove("COMETAPI_KEY")
        .env_remove("RUST_LOG")
        .env("SEEDREAM_SAVE", "false")
        .env("SEEDREAM_ALLOWED_DIRS", crate::support::scratch_root())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn the binary");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let logs = tokio::spawn(async move {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs).await;
        logs
    });
    for m in messages {
        // The server may already have exited (the bug this guards against): keep reading.
        let _ = stdin.write_all(format!("{m}\n").as_bytes()).await;
    }
    let _ = stdin.flush().await;
    let expected = messages.iter().filter(|m| m.get("id").is_some()).count();
    let mut replies = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while replies.len() < expected {
        match tokio::time::timeout_at(deadline, stdout.next_line()).await {
            Ok(Ok(Some(line))) => {
                let msg: Value = serde_json::from_str(&line).unwrap();
                if let Some(id) = msg.get("id").and_then(Value::as_i64) {
                    replies.insert(id, msg);
                }
            }
            _ => break,
        }
    }
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    (replies, logs.await.unwrap())
}

fn session(calls: &[Value]) -> Vec<Value> {
    let mut messages = vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    ];
    for (id, (name, arguments)) in (3..).zip(calls.iter().map(|c| (&c[0], &c[1]))) {
        messages.push(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}}));
    }
    messages
}

#[tokio::test]
async fn a_bad_setting_still_lists_the_tools_and_every_call_names_the_variable_and_the_fix() {
    let cases = [
        (
            "SEEDREAM_BASE_URL",
            "api.cometapi.com/v1",
            "e.g. https://api.cometapi.com/v1",
        ),
        ("SEEDREAM_OUTPUT_DIR", "images", "give an absolute path"),
        ("SEEDREAM_SIZE", "huge", "huge"),
        ("SEEDREAM_MAX_CONCURRENCY", "0", "use 1 to 10000"),
        ("SEEDREAM_INSTANCE", "Node 2", "lowercase letters"),
    ];
    let calls = [
        json!(["generate_image", {"prompt": "a fox"}]),
        json!(["get_job", {"job_id": "job-x"}]),
    ];
    let runs = cases
        .iter()
        .map(|(var, value, _)| async { exchange(&[(*var, *value)], &session(&calls)).await });
    let results = futures_util::future::join_all(runs).await;
    for ((var, _, fix), (replies, logs)) in cases.iter().zip(results) {
        let tools = replies
            .get(&2)
            .unwrap_or_else(|| panic!("{var}: no tools/list reply; stderr: {logs}"));
        assert_eq!(
            tools["result"]["tools"].as_array().unwrap().len(),
            4,
            "{var}"
        );
        for id in [3, 4] {
            let result = &replies[&id]["result"];
            assert_eq!(result["isError"], true, "{var}: {result}");
            let text = result["content"][0]["text"].as_str().unwrap();
            assert!(
                text.contains(var) && text.contains(fix) && text.contains("restart"),
                "{var}: {text}"
            );
        }
        assert!(
            logs.contains(var),
            "{var}: the log names the setting too: {logs}"
        );
    }
}

#[tokio::test]
async fn a_huge_get_job_wait_is_answered_instead_of_panicking() {
    let calls = [
        json!(["get_job", {"job_id": "job-x", "wait_seconds": 1e300}]),
        json!(["get_job", {"job_id": "job-x", "wait_seconds": 1e20}]),
    ];
    let (replies, logs) = exchange(&[], &session(&calls)).await;
    for id in [3, 4] {
        let result = &replies
            .get(&id)
            .unwrap_or_else(|| panic!("no reply to call {id}; stderr: {logs}"))["result"];
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("job-x"), "{text}");
        assert!(!text.contains("Internal error"), "{text}");
    }
    assert!(!logs.contains("panicked"), "{logs}");
}

#[tokio::test]
async fn a_fatal_start_up_error_is_printed_once() {
    // Hold a port so the HTTP server cannot bind it.
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let output = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .env("SEEDREAM_STORE", "memory")
        .args(["http", "--listen", &addr])
        .env_remove("RUST_LOG")
        .env("SEEDREAM_SAVE", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("the server exits")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.matches(&addr).count(), 1, "{stderr}");
    let in_use = stderr.to_ascii_lowercase().matches("in use").count();
    assert_eq!(in_use, 1, "{stderr}");
    drop(held);
}

#[tokio::test]
async fn a_setting_clap_cannot_parse_is_reported_by_every_call_too() {
    let cases = [
        ("SEEDREAM_SAVE", "yes", "possible values: true, false"),
        ("SEEDREAM_TIMEOUT_SECONDS", "3 minutes", "invalid digit"),
    ];
    let calls = [json!(["generate_image", {"prompt": "a fox"}])];
    let runs = cases
        .iter()
        .map(|(var, value, _)| async { exchange(&[(*var, *value)], &session(&calls)).await });
    let results = futures_util::future::join_all(runs).await;
    for ((var, value, fix), (replies, logs)) in cases.iter().zip(results) {
        let tools = replies
            .get(&2)
            .unwrap_or_else(|| panic!("{var}: no tools/list reply; stderr: {logs}"));
        assert_eq!(
            tools["result"]["tools"].as_array().unwrap().len(),
            4,
            "{var}"
        );
        let result = &replies[&3]["result"];
        assert_eq!(result["isError"], true, "{var}: {result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains(var) && text.contains(value) && text.contains(fix),
            "{var}: {text}"
        );
    }
}

//! Transport hardening (issue 11): protocol replies over stdio and HTTP, duplicate request ids,
//! resumed streams, session and connection bounds, and shutdown under load.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};

use seedream_fake::FakeApi;
use seedream_mcp::tools::ImageServer;
use seedream_mcp::transport::http::serve_on;

use crate::http::Flags;
use crate::support::{KEY, config, fake};

const PROTOCOL: &str = "2025-11-25";

fn initialize(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "transport-test", "version": "1"}}})
}

fn generate(id: i64, prompt: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": {"prompt": prompt, "model": "4.5"}}})
}

fn generation_requests(fake: &FakeApi) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path.ends_with("/images/generations"))
        .count()
}

fn result_text(message: &Value) -> String {
    message["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// stdio, served in-process over an in-memory pipe

pub(crate) struct Stdio {
    input: DuplexStream,
    output: Lines<BufReader<DuplexStream>>,
}

pub(crate) fn stdio(fake: &FakeApi, flags: &[&str], max_line: usize) -> Stdio {
    let server = ImageServer::new(config(&fake.base_url(), KEY, flags)).unwrap();
    let (input, server_in) = tokio::io::duplex(1 << 16);
    let (server_out, output) = tokio::io::duplex(1 << 16);
    tokio::spawn(seedream_mcp::transport::serve_io(
        server, server_in, server_out, max_line,
    ));
    Stdio {
        input,
        output: BufReader::new(output).lines(),
    }
}

impl Stdio {
    async fn send_raw(&mut self, line: &[u8]) {
        self.input.write_all(line).await.unwrap();
        self.input.write_all(b"\n").await.unwrap();
    }

    pub(crate) async fn send(&mut self, message: &Value) {
        self.send_raw(message.to_string().as_bytes()).await;
    }

    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.output.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("the server still writes");
        serde_json::from_str(&line).unwrap()
    }

    /// Skips notifications up to the next message with an id.
    pub(crate) async fn next_reply(&mut self) -> Value {
        loop {
            let message = self.next().await;
            if message.get("id").is_some() {
                return message;
            }
        }
    }

    async fn handshake(&mut self) {
        self.send(&initialize(1)).await;
        assert_eq!(self.next_reply().await["id"], 1);
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
    }
}

#[tokio::test]
async fn unparseable_stdio_lines_get_a_parse_error_with_a_null_id() {
    let fake = fake().await;
    let mut io = stdio(&fake, &[], 1 << 20);
    io.handshake().await;
    for garbage in [&b"{\"jsonrpc\":"[..], b"hello", b"\xFF\xFE"] {
        io.send_raw(garbage).await;
        let reply = io.next_reply().await;
        assert_eq!(reply["error"]["code"], -32700, "{reply}");
        assert_eq!(reply["id"], Value::Null, "{reply}");
    }
    // Still serving afterwards.
    io.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    assert!(io.next_reply().await["result"]["tools"].is_array());
}

#[tokio::test]
async fn an_over_long_stdio_line_is_answered_with_the_limit_instead_of_dropped() {
    let fake = fake().await;
    let mut io = stdio(&fake, &[], 4096);
    io.handshake().await;
    let long = generate(2, &"a".repeat(10_000));
    io.send(&long).await;
    let reply = io.next_reply().await;
    assert_eq!(reply["error"]["code"], -32600, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(message.contains("limit of 4096 bytes"), "{message}");
    io.send(&json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}))
        .await;
    assert_eq!(io.next_reply().await["id"], 3);
}

#[test]
fn the_stdio_line_limit_fits_the_largest_reference_as_base64() {
    let thirty_mb = 30 * 1024 * 1024;
    assert!(seedream_mcp::transport::line_limit(thirty_mb) > thirty_mb * 4 / 3);
    assert!(seedream_mcp::transport::line_limit(1) >= 64 * 1024 * 1024);
}

#[tokio::test]
async fn tools_call_arguments_as_an_array_are_invalid_params_over_stdio() {
    let fake = fake().await;
    let mut io = stdio(&fake, &[], 1 << 20);
    io.handshake().await;
    io.send(
        &json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": ["a fox"]}}),
    )
    .await;
    let reply = io.next_reply().await;
    assert_eq!(reply["id"], 4);
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`arguments`")
    );
}

#[tokio::test]
async fn a_duplicate_stdio_request_id_is_refused_and_the_first_call_still_answers() {
    let fake = fake().await;
    let mut io = stdio(&fake, &["--wait-seconds", "30"], 1 << 20);
    io.handshake().await;
    io.send(&generate(7, "[[fake:slow=800]] a fox")).await;
    io.send(&generate(7, "a second fox")).await;
    let refused = io.next_reply().await;
    assert_eq!(refused["id"], 7);
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("request id 7 is already in use")
    );
    let first = io.next_reply().await;
    assert_eq!(first["id"], 7);
    assert_eq!(first["result"]["isError"], false, "{first}");
    assert_eq!(generation_requests(&fake), 1);
    // The id is free again once answered.
    io.send(&json!({"jsonrpc": "2.0", "id": 7, "method": "tools/list"}))
        .await;
    assert!(io.next_reply().await["result"]["tools"].is_array());
}

#[tokio::test]
async fn closing_stdin_answers_the_running_call_and_starts_no_queued_one() {
    let fake = fake().await;
    let mut io = stdio(
        &fake,
        &["--max-concurrency", "1", "--wait-seconds", "30"],
        1 << 20,
    );
    io.handshake().await;
    io.send(&generate(10, "[[fake:slow=1000]] first")).await;
    while generation_requests(&fake) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    io.send(&generate(11, "second")).await;
    // Time for the second call to queue for the slot; nothing outside shows that it has.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let Stdio { input, mut output } = io;
    drop(input);
    let mut replies = Vec::new();
    while let Ok(Some(line)) = output.next_line().await {
        let message: Value = serde_json::from_str(&line).unwrap();
        if message.get("id").is_some() {
            replies.push(message);
        }
    }
    let by_id = |id: i64| {
        replies
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id}: {replies:?}"))
            .clone()
    };
    assert_eq!(by_id(10)["result"]["isError"], false);
    let queued = by_id(11);
    assert_eq!(queued["result"]["isError"], true);
    assert!(
        result_text(&queued).contains("shutting down"),
        "{}",
        result_text(&queued)
    );
    assert_eq!(generation_requests(&fake), 1, "nothing new started");
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Serves over HTTP on 127.0.0.1:0 until `stop` is sent; the task ends when the server has.
async fn serve(
    fake: &FakeApi,
    flags: &[&str],
    server_flags: &[&str],
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let mut argv = vec!["http"];
    argv.extend_from_slice(flags);
    let http = Flags::try_parse_from(argv).unwrap().http;
    let mut settings = vec!["--save", "false"];
    settings.extend_from_slice(server_flags);
    let server = ImageServer::new(config(&fake.base_url(), KEY, &settings)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve_on(listener, server, http, async move {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop, task)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn post(
    client: &reqwest::Client,
    addr: SocketAddr,
    session: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    let mut request = client
        .post(format!("http://{addr}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", PROTOCOL)
        .body(body);
    if let Some(session) = session {
        request = request.header("mcp-session-id", session);
    }
    request
}

/// The JSON-RPC messages of a body, whether plain JSON or an event stream.
fn messages(body: &str) -> Vec<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return vec![value];
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

async fn reply_to(response: reqwest::Response, id: i64) -> Value {
    let body = response.text().await.unwrap();
    messages(&body)
        .into_iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("no answer to {id} in {body}"))
}

/// Opens a session, and completes its initialization unless `complete` is false.
async fn open_session(client: &reqwest::Client, addr: SocketAddr, complete: bool) -> String {
    let response = post(client, addr, None, initialize(1).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    reply_to(response, 1).await;
    if complete {
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = post(client, addr, Some(&session), note.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    session
}

#[tokio::test]
async fn malformed_json_over_http_is_a_400_with_a_parse_error() {
    let fake = fake().await;
    for mode in ["true", "false"] {
        let (addr, _stop, _task) = serve(&fake, &["--stateless", mode], &[]).await;
        let response = post(&http(), addr, None, "{\"jsonrpc\": \"2.0\", ")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "stateless={mode}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32700, "{body}");
        assert_eq!(body["id"], Value::Null);
    }
}

#[tokio::test]
async fn tools_call_arguments_as_an_array_are_invalid_params_over_http() {
    let fake = fake().await;
    let (addr, _stop, _task) = serve(&fake, &[], &[]).await;
    let client = http();
    let session = open_session(&client, addr, true).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": ["a fox"]}});
    let response = post(&client, addr, Some(&session), call.to_string())
        .send()
        .await
        .unwrap();
    let reply = reply_to(response, 2).await;
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
}

#[tokio::test]
async fn a_duplicate_request_id_in_a_session_is_refused_and_the_first_call_still_answers() {
    let fake = fake().await;
    let (addr, _stop, _task) = serve(&fake, &[], &["--wait-seconds", "30"]).await;
    let client = http();
    let session = open_session(&client, addr, true).await;
    let first = tokio::spawn(
        post(
            &client,
            addr,
            Some(&session),
            generate(5, "[[fake:slow=800]] a fox").to_string(),
        )
        .send(),
    );
    while generation_requests(&fake) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = post(
        &client,
        addr,
        Some(&session),
        generate(5, "another fox").to_string(),
    )
    .send()
    .await
    .unwrap();
    let refused = reply_to(second, 5).await;
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    let first = reply_to(first.await.unwrap().unwrap(), 5).await;
    assert_eq!(first["result"]["isError"], false, "{first}");
    assert_eq!(generation_requests(&fake), 1);
}

/// Reads SSE events (id, data) from `response` until `done` says so or `limit` passes.
async fn read_events(
    response: &mut reqwest::Response,
    limit: Duration,
    mut done: impl FnMut(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let mut buffer = String::new();
    let deadline = tokio::time::Instant::now() + limit;
    while !done(&events) {
        let chunk = match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            _ => break,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let field = |name: &str| {
                event
                    .lines()
                    .filter_map(|l| l.strip_prefix(name))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            events.push((field("id:"), field("data:")));
        }
    }
    events
}

#[tokio::test]
async fn a_resumed_stream_does_not_deliver_the_last_event_id_again() {
    let fake = fake().await;
    let (addr, _stop, _task) = serve(&fake, &[], &["--wait-seconds", "30"]).await;
    let client = http();
    let session = open_session(&client, addr, true).await;
    let mut call = generate(9, "[[fake:slow=2500]] a fox");
    call["params"]["_meta"] = json!({"progressToken": "fox"});
    let mut response = post(&client, addr, Some(&session), call.to_string())
        .send()
        .await
        .unwrap();
    // Read up to the first progress event, then hang up as a client that timed out would.
    let seen = read_events(&mut response, Duration::from_secs(10), |events| {
        events.iter().any(|(_, data)| data.contains("progress"))
    })
    .await;
    drop(response);
    let (last_id, _) = seen
        .iter()
        .rev()
        .find(|(id, data)| !id.is_empty() && data.contains("progress"))
        .cloned()
        .expect("a progress event with an id");
    let mut resumed = client
        .get(format!("http://{addr}/mcp"))
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &session)
        .header("mcp-protocol-version", PROTOCOL)
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert!(resumed.status().is_success(), "{}", resumed.status());
    let events = read_events(&mut resumed, Duration::from_secs(10), |events| {
        events.iter().any(|(_, data)| data.contains("\"result\""))
    })
    .await;
    assert!(
        events.iter().any(|(_, data)| data.contains("\"result\"")),
        "the resumed stream brings the result: {events:?}"
    );
    assert!(
        events.iter().all(|(id, _)| *id != last_id),
        "event {last_id} was delivered again: {events:?}"
    );
}

#[tokio::test]
async fn sessions_beyond_the_limit_get_503_and_unconfirmed_ones_expire() {
    let fake = fake().await;
    let (addr, _stop, _task) = serve(
        &fake,
        &["--max-sessions", "2", "--session-init-seconds", "1"],
        &[],
    )
    .await;
    let client = http();
    let confirmed = open_session(&client, addr, true).await;
    let unconfirmed = open_session(&client, addr, false).await;
    let refused = post(&client, addr, None, initialize(1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("SEEDREAM_HTTP_MAX_SESSIONS")
    );

    // The unconfirmed session is closed about a second in, freeing its place: wait for that
    // (real sockets, so real time) instead of sleeping past it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = post(&client, addr, None, initialize(4).to_string())
            .send()
            .await
            .unwrap();
        if again.status().is_success() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unconfirmed session never expired"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).to_string();
    let gone = post(&client, addr, Some(&unconfirmed), list.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404, "the unconfirmed session was closed");
    let kept = post(&client, addr, Some(&confirmed), list)
        .send()
        .await
        .unwrap();
    assert!(kept.status().is_success(), "{}", kept.status());
}

#[tokio::test]
async fn legitimate_calls_succeed_while_unauthenticated_clients_hold_slow_connections() {
    let fake = fake().await;
    let (addr, _stop, _task) = serve(
        &fake,
        &[
            "--token",
            "s3cret",
            "--max-connections",
            "8",
            "--max-unauthenticated",
            "4",
            "--header-timeout-seconds",
            "1",
        ],
        &[],
    )
    .await;
    // Slowloris: many connections, each with half a request head, never finished.
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = stream
            .write_all(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await;
        held.push(stream);
    }
    for n in 0..5 {
        // A fresh connection per call, as a new client would open.
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let started = tokio::time::Instant::now();
        let response = tokio::time::timeout(
            Duration::from_secs(5),
            post(&client, addr, None, initialize(1).to_string())
                .bearer_auth("s3cret")
                .send(),
        )
        .await
        .unwrap_or_else(|_| panic!("call {n} got no answer while slow connections are held"))
        .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // The half-sent connections are closed rather than held forever.
    let first = held.first_mut().unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(first, &mut buf),
    )
    .await
    .expect("the slow connection is closed in time");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test]
async fn on_shutdown_nothing_new_starts_and_every_call_gets_an_answer() {
    let fake = fake().await;
    let (addr, stop, task) = serve(
        &fake,
        &["--shutdown-grace-seconds", "1"],
        &["--max-concurrency", "1", "--wait-seconds", "30"],
    )
    .await;
    let client = http();
    let session = open_session(&client, addr, true).await;
    let mut calls = Vec::new();
    for id in 20..24 {
        let request = post(
            &client,
            addr,
            Some(&session),
            generate(id, "[[fake:slow=5000]] a fox").to_string(),
        );
        calls.push((id, tokio::spawn(request.send())));
        if id == 20 {
            while generation_requests(&fake) == 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    // The other three are queued for the single upstream slot (nothing outside shows when:
    // given time).
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.send(()).unwrap();
    // Time for the server to see the signal before the late call.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // A call arriving during the grace period is refused, not started.
    let late = post(
        &client,
        addr,
        Some(&session),
        generate(30, "late fox").to_string(),
    )
    .send()
    .await
    .unwrap();
    let late = reply_to(late, 30).await;
    assert!(result_text(&late).contains("shutting down"), "{late}");

    for (id, call) in calls {
        let reply = reply_to(call.await.unwrap().unwrap(), id).await;
        assert_eq!(reply["result"]["isError"], true, "{reply}");
        let text = result_text(&reply);
        if id == 20 {
            assert!(text.contains("billed"), "{text}");
        } else {
            assert!(
                text.contains("shutting down") && text.contains("nothing was billed"),
                "{text}"
            );
        }
    }
    assert_eq!(
        generation_requests(&fake),
        1,
        "no generation started after the signal"
    );
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the server stops")
        .unwrap();
}

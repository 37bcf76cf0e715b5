//! The stdio framing under hostile input: garbage lines, random bytes, invalid UTF-8, JSON of
//! the wrong shape, a 20 MB line and a 30 MB unterminated tail. The binary must keep answering
//! valid requests, write only JSON-RPC to stdout, keep its memory bounded, and exit cleanly.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

/// rmcp drops lines over 16 MiB; everything else the server holds is small.
const MAX_RESIDENT_KIB: u64 = 96 * 1024;

/// Peak resident memory of a process, from `/proc/<pid>/status`.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Lines a confused or malicious client might send, none of them a valid request.
fn garbage() -> Vec<Vec<u8>> {
    let mut rng = fastrand::Rng::with_seed(7);
    let mut lines: Vec<Vec<u8>> = [
        &b"hello"[..],
        b"{",
        b"}}}}",
        b"[]",
        b"null",
        b"\r",
        b"\xEF\xBB\xBF{\"jsonrpc\":\"2.0\"}",
        b"{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":42}",
        b"{\"jsonrpc\":\"2.0\",\"id\":{\"nested\":[1,2]},\"method\":\"tools/list\"}",
        b"{\"jsonrpc\":\"1.0\",\"id\":98,\"method\":\"ping\"}",
        // Invalid UTF-8, alone and inside a string of an otherwise valid request.
        b"\xFF\xFE\xFD\x80",
        b"{\"jsonrpc\":\"2.0\",\"id\":97,\"method\":\"ping\xC3\x28\"}",
    ]
    .iter()
    .map(|l| l.to_vec())
    .collect();
    for _ in 0..200 {
        let len = rng.usize(0..300);
        lines.push(
            (0..len)
                .map(|_| rng.u8(..))
                .filter(|b| *b != b'\n')
                .collect(),
        );
    }
    lines
}

async fn next_message(stdout: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), stdout.next_line())
        .await
        .expect("an answer in time")
        .expect("stdout readable")
        .expect("the server is still running");
    let msg: Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:.200}"));
    assert_eq!(msg["jsonrpc"], "2.0", "{line:.200}");
    msg
}

/// Reads messages until the response to `id`, which it returns.
async fn response_to(stdout: &mut Lines<BufReader<ChildStdout>>, id: i64) -> Value {
    loop {
        let msg = next_message(stdout).await;
        if msg["id"] == id {
            return msg;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_long_lines_and_invalid_utf8_on_stdin_leave_the_server_answering_in_bounded_memory()
{
    let mut child = Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
        .env("SEEDREAM_STORE", "memory")
        .arg("stdio")
        .env("RUST_LOG", "debug")
        .env("SEEDREAM_API_KEY", "sk-fuzz")
        .env("SEEDREAM_BASE_URL", "http://127.0.0.1:9/v1")
        .env(
            "SEEDREAM_OUTPUT_DIR",
            crate::support::scratch_dir("stdio-fuzz"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    // Drained so debug logging never blocks the server on a full pipe.
    let logs = tokio::spawn(async move {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink).await;
        sink.len()
    });

    // Before initialize: garbage, then a 20 MB line (over rmcp's 16 MiB cap).
    let mut input = Vec::new();
    for line in garbage() {
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    input.extend(std::iter::repeat_n(b'a', 20 * 1024 * 1024));
    input.push(b'\n');
    for m in [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "fuzz", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ] {
        input.extend_from_slice(format!("{m}\n").as_bytes());
    }
    // After initialize: garbage again, a 1 MB line under the cap, then tools/list.
    for line in garbage().into_iter().rev() {
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    let big = json!({"jsonrpc": "2.0", "method": "notifications/x-unknown", "params": {"pad": "é".repeat(500_000)}});
    input.extend_from_slice(format!("{big}\n").as_bytes());
    input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n");
    let writer = tokio::spawn(async move {
        stdin.write_all(&input).await.unwrap();
        stdin.flush().await.unwrap();
        stdin
    });

    let init = response_to(&mut stdout, 1).await;
    assert_eq!(
        init["result"]["serverInfo"]["name"], "seedream-mcp",
        "{init}"
    );
    let list = response_to(&mut stdout, 2).await;
    assert_eq!(
        list["result"]["tools"].as_array().unwrap().len(),
        4,
        "{list}"
    );
    let mut stdin = writer.await.unwrap();

    // A 30 MB tail with no newline, then end of input: dropped, and the server exits cleanly.
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let ping = response_to(&mut stdout, 3).await;
    assert!(ping.get("result").is_some(), "{ping}");
    for _ in 0..30 {
        stdin.write_all(&[b'z'; 1024 * 1024]).await.unwrap();
    }
    stdin.flush().await.unwrap();
    let peak = peak_rss_kib(pid);
    eprintln!("stdio fuzz: peak resident memory {peak} KiB");
    drop(stdin);

    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the server exits once stdin closes")
        .unwrap();
    while let Ok(Some(line)) = stdout.next_line().await {
        let _: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line:.200}"));
    }
    assert!(status.success(), "{status}");
    assert!(logs.await.unwrap() > 0, "logs went to stderr");
    assert!(
        peak < MAX_RESIDENT_KIB,
        "peak resident memory {peak} KiB, expected under {MAX_RESIDENT_KIB} KiB"
    );
}

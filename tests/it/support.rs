//! Shared test setup: the fake API, server configs pointing at it, and an in-process MCP
//! client joined to the server over `tokio::io::duplex`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser;
use rmcp::model::{CallToolRequestParams, CallToolResult, JsonObject};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use seedream_fake::{FakeApi, FakeConfig};
use seedream_mcp::cli::Cli;
use seedream_mcp::config::Config;
use seedream_mcp::tools::ImageServer;

pub const KEY: &str = "test-key";

pub async fn fake() -> FakeApi {
    FakeApi::start(FakeConfig::default())
        .await
        .expect("start the fake API")
}

/// A folder of its own under cargo's per-target temp dir (never the user's folders).
pub fn scratch_dir(label: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = scratch_root().join(format!("{label}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    dir
}

/// Every test's files live under here; it is also the servers' only allowed folder.
pub fn scratch_root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("it");
    std::fs::create_dir_all(&root).expect("create the scratch root");
    root
}

/// A server config for `base_url`, with millisecond retry delays so tests stay fast, saving
/// into a fresh scratch folder unless `extra` says otherwise.
pub fn config(base_url: &str, key: &str, extra: &[&str]) -> Config {
    let mut argv: Vec<String> = [
        "seedream-mcp",
        "--base-url",
        base_url,
        "--api-key",
        key,
        "--retry-base-ms",
        "1",
    ]
    .map(String::from)
    .to_vec();
    if !extra.contains(&"--output-dir") {
        argv.extend([
            "--output-dir".to_owned(),
            scratch_dir("out").display().to_string(),
        ]);
    }
    if !extra.contains(&"--allowed-dirs") {
        argv.extend([
            "--allowed-dirs".to_owned(),
            scratch_root().display().to_string(),
        ]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    Cli::try_parse_from(argv)
        .expect("valid flags")
        .server
        .into_config()
        .expect("valid config")
}

pub type Client = RunningService<RoleClient, ()>;

/// Starts the server in-process and connects rmcp's client to it.
pub async fn connect(config: Config) -> Client {
    let server = ImageServer::new(config).expect("build server");
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

pub async fn client_for(fake: &FakeApi) -> Client {
    connect(config(&fake.base_url(), KEY, &[])).await
}

pub fn args(v: serde_json::Value) -> JsonObject {
    v.as_object().expect("an object").clone()
}

pub async fn call(
    client: &rmcp::Peer<RoleClient>,
    tool: &str,
    arguments: serde_json::Value,
) -> CallToolResult {
    let result = client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args(arguments)))
        .await
        .expect("the call is routed");
    check_output_schema(client, tool, &result).await;
    result
}

/// Every result of a tool with an `outputSchema` matches it: a success carries
/// `structuredContent` that validates (what the TypeScript SDK's client enforces), an error
/// need not carry any, but what it carries validates too.
pub async fn check_output_schema(
    client: &rmcp::Peer<RoleClient>,
    tool: &str,
    result: &CallToolResult,
) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let Some(schema) = tools
        .iter()
        .find(|t| t.name == tool)
        .and_then(|t| t.output_schema.clone())
    else {
        return;
    };
    let schema = serde_json::Value::Object((*schema).clone());
    match &result.structured_content {
        Some(content) => {
            if let Err(e) = schema_check(&schema, content, "$") {
                panic!("{tool}: structuredContent does not match its outputSchema: {e}\n{content}");
            }
            let text = content.to_string();
            assert!(
                !text.contains(";base64,") && text.len() < 64 * 1024,
                "{tool}: base64 in structuredContent"
            );
        }
        None => assert!(
            is_error(result),
            "{tool}: a successful result without structuredContent"
        ),
    }
}

/// The subset of JSON Schema the output schemas use: `type`, `properties`, `required`,
/// `items`, `enum`.
pub fn schema_check(
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    use serde_json::Value;
    let type_ok = |t: &str| match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    };
    match schema.get("type") {
        Some(Value::String(t)) if !type_ok(t) => return Err(format!("{at}: not {t}: {value}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| t.as_str().is_some_and(type_ok)) => {
            return Err(format!("{at}: not any of {ts:?}: {value}"));
        }
        _ => {}
    }
    if let Some(Value::Array(allowed)) = schema.get("enum")
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Value::Object(map) = value {
        if let Some(Value::Array(required)) = schema.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(r) {
                    return Err(format!("{at}: missing {r}"));
                }
            }
        }
        if let Some(Value::Object(props)) = schema.get("properties") {
            for (k, sub) in props {
                if let Some(v) = map.get(k) {
                    schema_check(sub, v, &format!("{at}.{k}"))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(sub)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            schema_check(sub, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The first text block of a result.
pub fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

pub fn is_error(result: &CallToolResult) -> bool {
    result.is_error == Some(true)
}

//! Two stateless instances behind nginx: requests spread over both, and `get_job` reaches the
//! instance that owns the job because its id names the instance and 2026-07-28 clients copy
//! it into `Mcp-Param-Job-Id` (SEP-2243), which nginx routes on; legacy SSE sessions are routed
//! by their instance-named session id. Needs nginx: ignored (with the reason) unless built with
//! `SEEDREAM_REQUIRE_NGINX=1`, as CI does after installing it; then a missing nginx fails it.
//! Run it by hand with `cargo test --test it scale:: -- --ignored`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt};
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::json;

use crate::http::{finish_job, start_with};
use crate::legacy_sse::LegacyClient;
use crate::support::{args, fake, is_error, scratch_dir, text};

fn nginx_binary() -> Option<PathBuf> {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// nginx in the foreground with its files in `dir`, stopped (by PID) on drop.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_nginx(binary: &Path, dir: &Path, a: SocketAddr, b: SocketAddr) -> (Nginx, SocketAddr) {
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
    let nginx = Nginx(child);
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

async fn call(
    client: &rmcp::Peer<rmcp::RoleClient>,
    tool: &'static str,
    arguments: serde_json::Value,
) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args(arguments)))
        .await
        .unwrap()
}

fn job_id(result: &CallToolResult) -> String {
    result.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a job id: {}", text(result)))
        .to_owned()
}

#[tokio::test]
#[cfg_attr(
    not(require_nginx),
    ignore = "needs nginx (apt install nginx-light); set SEEDREAM_REQUIRE_NGINX=1 to run it, or pass --ignored"
)]
async fn behind_nginx_calls_spread_over_instances_and_get_job_finds_the_owner() {
    // Run means wanted: a missing nginx fails rather than passing unrun.
    let binary = nginx_binary().expect(
        "nginx is not installed: apt install nginx-light (or leave SEEDREAM_REQUIRE_NGINX unset)",
    );
    let fake = fake().await;
    let flags = ["--stateless", "true"];
    let (a, _stop_a) = start_with(&fake, &flags, &["--wait-seconds", "1", "--instance", "a"]).await;
    let (b, _stop_b) = start_with(&fake, &flags, &["--wait-seconds", "1", "--instance", "b"]).await;
    let dir = scratch_dir("nginx");
    let (_nginx, lb) = start_nginx(&binary, &dir, a, b);
    let url = format!("http://{lb}/mcp");

    let modern = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(url.clone()),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    // Clients learn which arguments travel as headers from tools/list, as real clients do.
    modern.list_all_tools().await.unwrap();
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

    for id in &ids {
        // A get_job that reached the wrong instance would be an error, failing this.
        let finished = finish_job(&modern, id).await;
        assert!(finished.content.iter().any(|c| c.as_image().is_some()));
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

    // Sent straight to the wrong instance, get_job says where the job lives and what to fix.
    let direct_b = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(format!("http://{b}/mcp")),
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let a_job = ids.iter().find(|i| i.starts_with("job-a-")).unwrap();
    direct_b.list_all_tools().await.unwrap();
    let wrong = call(&direct_b, "get_job", json!({"job_id": a_job})).await;
    assert!(is_error(&wrong));
    assert!(
        text(&wrong).contains("\"a\"") && text(&wrong).contains("Mcp-Param-Job-Id"),
        "{}",
        text(&wrong)
    );
}

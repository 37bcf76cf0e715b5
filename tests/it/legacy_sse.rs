//! The 2024-11-05 HTTP+SSE transport at `/sse` and `/messages`, driven by a client written here
//! from the spec (rmcp no longer has one) and run under rmcp's client service.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use rmcp::model::ServerJsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::http::{call_every_tool, start, start_with};
use crate::support::fake;

/// One server-sent event.
#[derive(Debug, Clone)]
struct Event {
    name: String,
    data: String,
}

/// Opens `GET /sse` and yields its events; the reading task ends with the stream.
async fn open_events(
    addr: SocketAddr,
    headers: &[(&str, &str)],
) -> Result<mpsc::Receiver<Event>, reqwest::Response> {
    let mut request = reqwest::Client::new()
        .get(format!("http://{addr}/sse"))
        .header("accept", "text/event-stream");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    if !response.status().is_success() {
        return Err(response);
    }
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "an event stream"
    );
    let (tx, rx) = mpsc::channel(64);
    let mut body = response.bytes_stream();
    tokio::spawn(async move {
        let mut buffer = String::new();
        loop {
            // Dropping the receiver closes the connection at once, not at the next event.
            let chunk = tokio::select! {
                chunk = body.next() => match chunk {
                    Some(Ok(chunk)) => chunk,
                    _ => return,
                },
                () = tx.closed() => return,
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let mut event = Event {
                    name: "message".into(),
                    data: String::new(),
                };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.name = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        event.data.push_str(v.trim_start());
                    }
                }
                // Comment-only blocks (keep-alives) carry no data.
                if !event.data.is_empty() && tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// A legacy SSE client transport: messages go out by POST to the endpoint the stream named and
/// come back as `message` events.
pub(crate) struct LegacyClient {
    post_url: String,
    http: reqwest::Client,
    events: mpsc::Receiver<Event>,
}

#[derive(Debug, thiserror::Error)]
#[error("POST failed: {0}")]
pub(crate) struct PostFailed(String);

impl LegacyClient {
    pub(crate) async fn connect(addr: SocketAddr) -> (Self, String) {
        let mut events = open_events(addr, &[]).await.unwrap();
        let first = events.recv().await.unwrap();
        assert_eq!(first.name, "endpoint", "the first event names the POST URL");
        let post_url = format!("http://{addr}{}", first.data);
        let client = LegacyClient {
            post_url: post_url.clone(),
            http: reqwest::Client::new(),
            events,
        };
        (client, post_url)
    }
}

impl Transport<RoleClient> for LegacyClient {
    type Error = PostFailed;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let request = self
            .http
            .post(&self.post_url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&item).unwrap());
        async move {
            let response = request
                .send()
                .await
                .map_err(|e| PostFailed(e.to_string()))?;
            if response.status() == 202 {
                Ok(())
            } else {
                Err(PostFailed(response.status().to_string()))
            }
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            let event = self.events.recv().await?;
            if event.name == "message" {
                let message: ServerJsonRpcMessage = serde_json::from_str(&event.data).unwrap();
                return Some(message);
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.events.close();
        Ok(())
    }
}

#[tokio::test]
async fn a_legacy_sse_client_calls_every_tool() {
    let fake = fake().await;
    let (addr, _stop) = start_with(&fake, &[], &["--wait-seconds", "2"]).await;
    let (transport, post_url) = LegacyClient::connect(addr).await;

    let client = ().serve(transport).await.unwrap();
    call_every_tool(&client, &fake).await;

    assert!(
        post_url.contains("/messages?sessionId="),
        "the conventional endpoint: {post_url}"
    );
}

#[tokio::test]
async fn progress_reaches_a_legacy_sse_client() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &[]).await;
    let (mut transport, post_url) = LegacyClient::connect(addr).await;
    let http = reqwest::Client::new();
    let post = |body: serde_json::Value| http.post(&post_url).json(&body).send();

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "old", "version": "1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    let Some(ClientOrServer::Response(id)) = next_message(&mut transport).await else {
        panic!("initialize is answered on the stream");
    };
    assert_eq!(id, 1);
    post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "generate_image", "arguments": {"prompt": "[[fake:slow=300]] a fox"},
        "_meta": {"progressToken": "p1"}}});
    assert_eq!(post(call).await.unwrap().status(), 202);

    let mut progress = 0;
    loop {
        match next_message(&mut transport).await {
            Some(ClientOrServer::Progress) => progress += 1,
            Some(ClientOrServer::Response(2)) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        progress >= 1,
        "progress notifications arrive before the result"
    );
}

#[derive(Debug)]
enum ClientOrServer {
    Response(u64),
    Progress,
    Other,
}

async fn next_message(transport: &mut LegacyClient) -> Option<ClientOrServer> {
    let message = tokio::time::timeout(Duration::from_secs(5), transport.receive())
        .await
        .expect("a message within 5 s")?;
    let value = serde_json::to_value(&message).unwrap();
    Some(if let Some(id) = value.get("id").and_then(|i| i.as_u64()) {
        ClientOrServer::Response(id)
    } else if value["method"] == "notifications/progress" {
        ClientOrServer::Progress
    } else {
        ClientOrServer::Other
    })
}

#[tokio::test]
async fn bad_posts_are_refused_with_a_reason_and_reach_nothing() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--max-body-mb", "1"]).await;
    let (_transport, post_url) = LegacyClient::connect(addr).await;
    let http = reqwest::Client::new();

    let unknown = http
        .post(format!("http://{addr}/messages?sessionId=nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    let garbage = http.post(&post_url).body("not json").send().await.unwrap();
    let huge = http
        .post(&post_url)
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();

    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("GET /sse"));
    assert_eq!(garbage.status(), 400);
    assert_eq!(huge.status(), 413);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_legacy_endpoints_check_host_origin_and_token_like_mcp() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--token", "s3cret"]).await;
    let auth = ("authorization", "Bearer s3cret");

    let no_token = open_events(addr, &[]).await.unwrap_err();
    let spoofed = open_events(addr, &[auth, ("host", "evil.example")])
        .await
        .unwrap_err();
    let foreign = open_events(addr, &[auth, ("origin", "https://evil.example")])
        .await
        .unwrap_err();
    let ok = open_events(addr, &[auth, ("origin", "http://localhost:3000")]).await;

    assert_eq!(no_token.status(), 401);
    assert_eq!(spoofed.status(), 403);
    assert_eq!(foreign.status(), 403);
    assert_eq!(ok.unwrap().recv().await.unwrap().name, "endpoint");
    let unauthorised_post = reqwest::Client::new()
        .post(format!("http://{addr}/messages?sessionId=x"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised_post.status(), 401);
}

#[tokio::test]
async fn event_streams_beyond_the_limit_get_503_until_one_closes() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--max-streams", "2"]).await;

    let first = open_events(addr, &[]).await.unwrap();
    let _second = open_events(addr, &[]).await.unwrap();
    let third = open_events(addr, &[]).await.unwrap_err();
    assert_eq!(third.status(), 503);
    assert!(third.headers().contains_key("retry-after"));
    assert!(
        third
            .text()
            .await
            .unwrap()
            .contains("SEEDREAM_HTTP_MAX_STREAMS")
    );

    drop(first);
    let mut reopened = None;
    // Polled over real sockets: up to a generous 5 s.
    for _ in 0..250 {
        if let Ok(events) = open_events(addr, &[]).await {
            reopened = Some(events);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened.is_some(), "a closed stream frees its slot");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &["--max-connections", "1"]).await;

    let held = open_events(addr, &[]).await.unwrap();
    let waiting = tokio::spawn(reqwest::get(format!("http://{addr}/healthz")));
    // That it is not served can only be watched for a while.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "a second connection is not served while the first is open"
    );
    drop(held);
    let answered = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once the first connection closed")
        .unwrap()
        .unwrap();
    assert_eq!(answered.status(), 200);
}

#[tokio::test]
async fn a_closed_stream_ends_its_session() {
    let fake = fake().await;
    let (addr, _stop) = start(&fake, &[]).await;
    let (transport, post_url) = LegacyClient::connect(addr).await;

    drop(transport);
    let mut status = 0;
    // Polled over real sockets: up to a generous 5 s.
    for _ in 0..250 {
        let r = reqwest::Client::new()
            .post(&post_url)
            .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .send()
            .await
            .unwrap();
        status = r.status().as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 404);
}

//! Caps against the fake: a call over a cap is refused before any upstream request, also when
//! calls arrive together, after a restart, and per caller over HTTP.

use std::path::Path;
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use seedream_fake::{FakeApi, FakeConfig};
use serde_json::{Value, json};

use crate::restart::until_released;
use crate::support::{KEY, call, config, connect, fake, is_error, scratch_dir, text};
use crate::tenants::{client, serve};

/// `n` one-image calls that must succeed.
async fn make_foxes(client: &rmcp::Peer<RoleClient>, n: usize) {
    for _ in 0..n {
        let ok = call(client, "generate_image", fox()).await;
        assert!(!is_error(&ok), "{}", text(&ok));
    }
}

fn fox() -> Value {
    json!({"prompt": "a fox", "model": "4.5"})
}

#[tokio::test]
async fn the_call_that_would_pass_the_daily_cap_is_refused_without_an_upstream_request() {
    let fake = fake().await;
    let store = scratch_dir("spend-cap").join("jobs.redb");
    let store = store.display().to_string();
    let flags = ["--store", &store, "--cap-images-per-day", "2"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    make_foxes(&client, 2).await;
    let refused = call(&client, "generate_image", fox()).await;
    assert!(is_error(&refused));
    let t = text(&refused);
    assert!(
        t.contains("daily image cap") && t.contains("2 of 2 images used"),
        "{t}"
    );
    assert!(
        t.contains("0 left") && t.contains("SEEDREAM_CAP_IMAGES_PER_DAY"),
        "{t}"
    );
    assert_eq!(fake.requests().len(), 2, "the refused call sent nothing");
}

#[tokio::test]
async fn a_sequence_over_the_per_call_image_cap_is_refused_naming_the_cap() {
    let fake = fake().await;
    let flags = ["--max-images-per-call", "3"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let refused = call(
        &client,
        "generate_sequence",
        json!({"prompt": "4 panels", "max_images": 4}),
    )
    .await;
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("per-call cap of 3"),
        "{}",
        text(&refused)
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn concurrent_calls_cannot_together_pass_the_daily_cap() {
    let fake = fake().await;
    let flags = ["--cap-images-per-day", "2"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let slow = || {
        call(
            &client,
            "generate_image",
            json!({"prompt": "[[fake:slow=600]] a fox", "model": "4.5"}),
        )
    };
    let results = futures_util::future::join_all((0..5).map(|_| slow())).await;
    let refused: Vec<String> = results.iter().filter(|r| is_error(r)).map(text).collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    for t in &refused {
        assert!(t.contains("daily image cap"), "{t}");
    }
    assert_eq!(
        fake.requests().len(),
        2,
        "only the calls that fit were sent"
    );
}

/// Waits until the previous server has closed its spend ledger's file.
async fn until_ledger_released(path: &Path) {
    for _ in 0..500 {
        match redb::Database::create(path) {
            Ok(_) => return,
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the first server never closed its spend ledger");
}

#[tokio::test]
async fn a_restart_keeps_the_ledger_so_the_daily_cap_still_holds() {
    let fake = fake().await;
    let dir = scratch_dir("spend-restart");
    let store = dir.join("jobs.redb").display().to_string();
    let flags = ["--store", &store, "--cap-images-per-day", "2"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    make_foxes(&client, 2).await;
    client.cancel().await.unwrap();
    until_released(&dir.join("jobs.redb")).await;
    until_ledger_released(&dir.join("spend.redb")).await;

    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let refused = call(&client, "generate_image", fox()).await;
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("2 of 2 images used"),
        "{}",
        text(&refused)
    );
    assert_eq!(fake.requests().len(), 2, "the refused call sent nothing");
}

#[tokio::test]
async fn over_http_each_callers_daily_cap_is_its_own() {
    // Any key is accepted: each caller pays with its own.
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let flags = ["--cap-images-per-day", "1"];
    let (addr, _stop) = serve(&fake, &["--allow-caller-keys", "true"], &flags).await;
    let alice = client(addr, false, Some("key-alice")).await;
    let bob = client(addr, true, Some("key-bob")).await;

    alice_spends_her_cap_and_bob_still_can(&alice, &bob).await;

    // Each caller's usage is its own: one that made nothing sees nothing spent.
    assert_eq!(usage(&alice).await["today"]["left"]["images"], 0);
    let carol = client(addr, false, Some("key-carol")).await;
    let theirs = usage(&carol).await;
    assert_eq!(theirs["today"]["images"], 0, "{theirs}");
    assert_eq!(theirs["today"]["left"]["images"], 1, "{theirs}");

    let keys: Vec<Option<String>> = fake
        .requests()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        keys,
        [
            Some("Bearer key-alice".to_owned()),
            Some("Bearer key-bob".to_owned())
        ],
        "alice's refused call sent nothing"
    );
}

#[tokio::test]
async fn over_http_each_tokens_daily_cap_is_its_own_on_the_servers_key() {
    let fake = fake().await;
    let flags = ["--cap-images-per-day", "1"];
    let (addr, _stop) = serve(&fake, &["--token", "tok-alice, tok-bob"], &flags).await;
    let as_token = |modern: bool, token: &'static str| async move {
        let config =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                format!("http://{addr}/mcp"),
            )
            .auth_header(token);
        let transport = rmcp::transport::StreamableHttpClientTransport::from_config(config);
        let lifecycle = if modern {
            rmcp::service::ClientLifecycleMode::Discover {
                preferred_versions: vec![rmcp::model::ProtocolVersion::V_2026_07_28],
            }
        } else {
            rmcp::service::ClientLifecycleMode::Initialize
        };
        rmcp::service::ClientServiceExt::serve_with_lifecycle((), transport, lifecycle)
            .await
            .unwrap()
    };
    let alice = as_token(true, "tok-alice").await;
    let bob = as_token(false, "tok-bob").await;

    alice_spends_her_cap_and_bob_still_can(&alice, &bob).await;
    assert_eq!(usage(&bob).await["today"]["images"], 1);
    assert_eq!(
        fake.requests().len(),
        2,
        "alice's refused call sent nothing"
    );
    assert!(
        fake.requests()
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer test-key")),
        "both pay with the server's key"
    );
}

/// With a daily cap of one image: alice's second call is refused, bob's first is not.
async fn alice_spends_her_cap_and_bob_still_can(
    alice: &rmcp::Peer<RoleClient>,
    bob: &rmcp::Peer<RoleClient>,
) {
    make_foxes(alice, 1).await;
    let refused = call(alice, "generate_image", fox()).await;
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("1 of 1 images used"),
        "{}",
        text(&refused)
    );
    make_foxes(bob, 1).await;
}

/// The `seedream://usage` resource as JSON.
async fn usage(client: &rmcp::Peer<RoleClient>) -> Value {
    let read = client
        .read_resource(ReadResourceRequestParams::new("seedream://usage"))
        .await
        .expect("the usage is readable");
    match &read.contents[..] {
        [
            ResourceContents::TextResourceContents {
                text, mime_type, ..
            },
        ] => {
            assert_eq!(mime_type.as_deref(), Some("application/json"));
            serde_json::from_str(text).unwrap()
        }
        other => panic!("not one JSON text: {other:?}"),
    }
}

#[tokio::test]
async fn the_usage_resource_says_what_was_spent_what_is_left_and_when_it_resets() {
    let fake = fake().await;
    let flags = ["--cap-images-per-day", "3", "--cap-cost-per-month", "5"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let listed = client.list_resources(None).await.unwrap();
    assert_eq!(listed.resources[0].uri, "seedream://usage");
    let made = call(&client, "generate_image", fox()).await;
    assert!(!is_error(&made), "{}", text(&made));

    let u = usage(&client).await;
    assert_eq!(u["currency"], "USD");
    assert_eq!(u["today"]["images"], 1, "{u}");
    assert_eq!(u["today"]["cap"]["images"], 3, "{u}");
    assert_eq!(u["today"]["left"]["images"], 2, "{u}");
    assert!(
        u["today"]["resets_at"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z"),
        "{u}"
    );
    assert_eq!(u["this_month"]["images"], 1, "{u}");
    let spent = u["this_month"]["estimated_cost"].as_f64().unwrap();
    assert!(spent > 0.0, "{u}");
    let left = u["this_month"]["left"]["cost"].as_f64().unwrap();
    assert!((left - (5.0 - spent)).abs() < 1e-6, "{u}");
    assert_eq!(u["in_flight"]["images"], 0, "{u}");
    assert!(
        u["summary"]
            .as_str()
            .unwrap()
            .contains("Today (UTC): 1 image of 3"),
        "{u}"
    );
}

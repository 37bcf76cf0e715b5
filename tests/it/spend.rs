//! Caps against the fake: a call over a cap is refused before any upstream request, also when
//! calls arrive together, after a restart, and per caller over HTTP.

use std::path::Path;
use std::time::Duration;

use seedream_fake::{FakeApi, FakeConfig};
use serde_json::json;

use crate::restart::until_released;
use crate::support::{KEY, call, config, connect, fake, is_error, scratch_dir, text};
use crate::tenants::{client, serve};

#[tokio::test]
async fn the_call_that_would_pass_the_daily_cap_is_refused_without_an_upstream_request() {
    let fake = fake().await;
    let store = scratch_dir("spend-cap").join("jobs.redb");
    let store = store.display().to_string();
    let flags = ["--store", &store, "--cap-images-per-day", "2"];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    for _ in 0..2 {
        let ok = call(
            &client,
            "generate_image",
            json!({"prompt": "a fox", "model": "4.5"}),
        )
        .await;
        assert!(!is_error(&ok), "{}", text(&ok));
    }
    let refused = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "4.5"}),
    )
    .await;
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
    for _ in 0..2 {
        let ok = call(
            &client,
            "generate_image",
            json!({"prompt": "a fox", "model": "4.5"}),
        )
        .await;
        assert!(!is_error(&ok), "{}", text(&ok));
    }
    client.cancel().await.unwrap();
    until_released(&dir.join("jobs.redb")).await;
    until_ledger_released(&dir.join("spend.redb")).await;

    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let refused = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "4.5"}),
    )
    .await;
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
    let fox = json!({"prompt": "a fox", "model": "4.5"});

    assert!(!is_error(
        &call(&alice, "generate_image", fox.clone()).await
    ));
    let refused = call(&alice, "generate_image", fox.clone()).await;
    assert!(is_error(&refused));
    assert!(
        text(&refused).contains("1 of 1 images used"),
        "{}",
        text(&refused)
    );
    let made = call(&bob, "generate_image", fox).await;
    assert!(!is_error(&made), "{}", text(&made));

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

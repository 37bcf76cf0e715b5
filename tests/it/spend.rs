//! Caps against the fake: a call over a cap is refused before any upstream request. (That the
//! ledger survives a restart is tested on the ledger itself, `spend::ledger`.)

use serde_json::json;

use crate::support::{KEY, call, config, connect, fake, is_error, scratch_dir, text};

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

//! History as resources (issue 14, item 3): `resources/list` newest first with cursors,
//! `resources/read` of a caller's own images and jobs only, and the list rebuilt from the
//! saved files' metadata after a restart.

use std::path::{Path, PathBuf};

use rmcp::model::{PaginatedRequestParams, ReadResourceRequestParams};
use seedream_fake::{FakeApi, FakeConfig};
use serde_json::{Value, json};

use crate::stdio::exchange;
use crate::support::{KEY, call, fake, is_error, scratch_dir, text};
use crate::tenants::{client, serve};

fn init() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ]
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The URIs a `resources/list` reply lists.
fn listed(reply: &Value) -> Vec<String> {
    reply["result"]["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no resources: {reply}"))
        .iter()
        .map(|r| r["uri"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn over_stdio_a_restarted_server_lists_and_reads_what_it_saved_and_nothing_else() {
    let fake = fake().await;
    let out = scratch_dir("history-out");
    let base = fake.base_url();
    let env = [
        ("SEEDREAM_API_KEY", KEY),
        ("SEEDREAM_BASE_URL", base.as_str()),
        ("SEEDREAM_SAVE", "true"),
        ("SEEDREAM_OUTPUT_DIR", out.to_str().unwrap()),
    ];
    let mut first = init();
    first.push(request(
        2,
        "tools/call",
        json!({"name": "generate_sequence",
        "arguments": {"prompt": "[[fake:n=2]] two foxes", "max_images": 2}}),
    ));
    let (replies, logs) = exchange(&env, &first).await;
    let made = &replies[&2]["result"];
    assert_ne!(made["isError"], true, "{made} {logs}");
    let saved: Vec<PathBuf> = made["structuredContent"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| PathBuf::from(i["path"].as_str().unwrap()))
        .collect();
    assert_eq!(saved.len(), 2);

    // A symlink in the output folder to a stamped file elsewhere, and an image the server never saved.
    let elsewhere = scratch_dir("history-elsewhere");
    let outside = elsewhere.join("outside.jpeg");
    std::fs::copy(&saved[0], &outside).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&outside, out.join("link.jpeg")).unwrap();
    let foreign = out.parent().unwrap().join("not-saved.jpeg");
    std::fs::copy(&saved[0], &foreign).unwrap();

    let mut second = init();
    second.push(request(2, "resources/list", json!({})));
    second.push(request(3, "resources/templates/list", json!({})));
    second.push(request(
        4,
        "resources/read",
        json!({"uri": file_uri(&saved[1])}),
    ));
    second.push(request(
        5,
        "resources/read",
        json!({"uri": file_uri(&out.join("link.jpeg"))}),
    ));
    second.push(request(
        6,
        "resources/read",
        json!({"uri": file_uri(&foreign)}),
    ));
    let traversal = format!("file://{}/../../../../../../etc/passwd", out.display());
    second.push(request(7, "resources/read", json!({"uri": traversal})));
    second.push(request(
        8,
        "resources/read",
        json!({"uri": "seedream://jobs/nope"}),
    ));
    let (replies, logs) = exchange(&env, &second).await;

    let uris = listed(&replies[&2]);
    assert_eq!(uris[0], "seedream://usage", "{uris:?}");
    let job = uris[1].clone();
    assert!(job.starts_with("seedream://jobs/"), "{uris:?}");
    assert_eq!(
        uris[2..],
        saved.iter().map(|p| file_uri(p)).collect::<Vec<_>>()[..],
        "{logs}"
    );
    let templates = replies[&3]["result"]["resourceTemplates"].to_string();
    assert!(
        templates.contains("seedream://jobs/{job_id}"),
        "{templates}"
    );
    let blob = replies[&4]["result"]["contents"][0]["blob"]
        .as_str()
        .unwrap();
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .unwrap();
    assert_eq!(bytes, std::fs::read(&saved[1]).unwrap());
    for id in [5, 6, 7, 8] {
        assert!(
            replies[&id].get("error").is_some(),
            "{id}: {}",
            replies[&id]
        );
    }
}

#[tokio::test]
async fn a_job_summary_tells_its_prompt_model_and_images() {
    let fake = fake().await;
    let client = crate::support::client_for(&fake).await;
    let made = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox at dawn"}),
    )
    .await;
    assert!(!is_error(&made), "{}", text(&made));
    let list = client.list_resources(None).await.unwrap();
    assert_eq!(
        list.resources[0].uri, "seedream://usage",
        "the usage comes first"
    );
    let job = &list.resources[1];
    assert_eq!(job.mime_type.as_deref(), Some("application/json"));
    assert_eq!(job.title.as_deref(), Some("a fox at dawn"));
    let read = client
        .read_resource(ReadResourceRequestParams::new(job.uri.clone()))
        .await
        .unwrap();
    let read = serde_json::to_value(&read).unwrap();
    let summary: Value =
        serde_json::from_str(read["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(summary["prompt"], "a fox at dawn");
    assert_eq!(summary["tool"], "generate_image");
    assert!(
        summary["model"]
            .as_str()
            .unwrap()
            .starts_with("doubao-seedream")
    );
    assert_eq!(summary["images"][0]["uri"], list.resources[2].uri);
}

#[tokio::test]
async fn over_http_with_saving_off_kept_images_are_listed_for_their_owner_only_in_both_eras() {
    let fake = FakeApi::start(FakeConfig {
        api_key: None,
        ..Default::default()
    })
    .await
    .unwrap();
    let (addr, _stop) = serve(&fake, &["--allow-caller-keys", "true"], &[]).await;
    for modern in [false, true] {
        let alice = client(addr, modern, Some("key-alice")).await;
        let mallory = client(addr, modern, Some("key-mallory")).await;
        let made = call(
            &alice,
            "generate_image",
            json!({"prompt": "a fox", "size": "2048x2048", "response_format": "b64_json", "embed": "none"}),
        )
        .await;
        assert!(!is_error(&made), "{}", text(&made));

        let list = alice.list_resources(None).await.unwrap();
        let uris: Vec<&str> = list.resources[1..].iter().map(|r| r.uri.as_str()).collect();
        assert!(uris[0].starts_with("seedream://jobs/"), "{uris:?}");
        assert!(uris[1].contains("/images/1"), "{uris:?}");
        assert!(
            alice
                .read_resource(ReadResourceRequestParams::new(uris[1]))
                .await
                .is_ok()
        );
        let theirs = mallory.list_resources(None).await.unwrap();
        let theirs: Vec<&str> = theirs.resources.iter().map(|r| r.uri.as_str()).collect();
        assert_eq!(theirs, ["seedream://usage"], "only their own usage");
        assert!(
            mallory
                .read_resource(ReadResourceRequestParams::new(uris[0]))
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_to_the_oldest_job() {
    let fake = fake().await;
    let client = crate::support::client_for(&fake).await;
    for n in 0..22 {
        let made = call(
            &client,
            "generate_image",
            json!({"prompt": format!("fox {n}")}),
        )
        .await;
        assert!(!is_error(&made), "{}", text(&made));
    }
    let first = client.list_resources(None).await.unwrap();
    assert_eq!(first.resources[1].title.as_deref(), Some("fox 21"));
    let cursor = first.next_cursor.clone().expect("a second page");
    let second = client
        .list_resources(Some(
            PaginatedRequestParams::default().with_cursor(Some(cursor)),
        ))
        .await
        .unwrap();
    let titles: Vec<_> = second
        .resources
        .iter()
        .filter_map(|r| r.title.clone())
        .collect();
    assert_eq!(
        titles,
        ["fox 1", "Image 1: fox 1", "fox 0", "Image 1: fox 0"]
    );
    assert_eq!(second.next_cursor, None);
}

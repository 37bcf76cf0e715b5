//! The durable job store end to end: a job handed out by one server is answered by the next
//! one on the same store file, as a restart would leave it.

use std::path::Path;
use std::time::Duration;

use seedream_mcp::jobs::store::Store;
use serde_json::json;

use crate::support::{KEY, call, config, connect, fake, is_error, scratch_dir, text};

/// Waits until the previous server has closed the file (its last job task has ended).
pub(crate) async fn until_released(path: &Path) {
    for _ in 0..500 {
        match Store::open(path, Duration::from_secs(3600), 1 << 30) {
            Ok(_) => return,
            Err(e) if e.is_locked() => tokio::time::sleep(Duration::from_millis(10)).await,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the first server never closed its store");
}

#[tokio::test]
async fn get_job_after_a_restart_returns_the_same_result_as_before() {
    let fake = fake().await;
    let path = scratch_dir("store").join("jobs.redb");
    let store = path.display().to_string();
    let flags = ["--wait-seconds", "0.3", "--store", store.as_str()];
    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let first = call(
        &client,
        "generate_image",
        json!({"prompt": "[[fake:slow=800]] a fox that outlives its server"}),
    )
    .await;
    let job_id = first.structured_content.as_ref().unwrap()["job_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // get_job waits at most the server's 0.3 s: ask until the job has finished.
    let mut before = call(&client, "get_job", json!({"job_id": job_id})).await;
    for _ in 0..50 {
        if !text(&before).starts_with("Still working") {
            break;
        }
        before = call(&client, "get_job", json!({"job_id": job_id})).await;
    }
    assert!(!is_error(&before), "{}", text(&before));
    client.cancel().await.unwrap();
    until_released(&path).await;

    let client = connect(config(&fake.base_url(), KEY, &flags)).await;
    let after = call(&client, "get_job", json!({"job_id": job_id})).await;
    assert_eq!(text(&after), text(&before));
    assert_eq!(after.structured_content, before.structured_content);
    assert_eq!(after.content.len(), before.content.len());
}

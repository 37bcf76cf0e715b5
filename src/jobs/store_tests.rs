//! The durable store: restarts, interrupted jobs, expiry, the size cap, unusable files.

use rmcp::model::ContentBlock;

use super::store::{Record, Records, Status, Store};
use super::*;
use crate::caller::Tenant;
use crate::config::StoreAt;

const KEEP: Duration = Duration::from_secs(600);

/// A store file in a folder of its own, removed with it.
struct Scratch(std::path::PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn temp_store(name: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!(
        "seedream-store-{}-{name}",
        uuid::Uuid::new_v4().simple()
    ));
    Scratch(dir.join("jobs.redb"))
}

fn open(path: &std::path::Path) -> Arc<Jobs> {
    let store = Store::open(path, KEEP, 1 << 30).unwrap();
    Arc::new(Jobs::with_store(KEEP, None, store))
}

/// Stops the server's jobs as a process exit would, and closes its store file.
async fn stop(jobs: Arc<Jobs>) {
    for e in jobs.lock().values() {
        e.abort.abort();
    }
    let mut jobs = jobs;
    for _ in 0..1000 {
        match Arc::try_unwrap(jobs) {
            Ok(j) => return drop(j),
            Err(j) => jobs = j,
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("a job still holds the table");
}

fn text(result: &CallToolResult) -> String {
    result.content[0].as_text().unwrap().text.clone()
}

async fn finished(jobs: &Jobs, id: &str) -> CallToolResult {
    let Lookup::Found { mut state, .. } = jobs.lookup(id, &Tenant::local()) else {
        panic!("job {id} not found");
    };
    state
        .wait_for(|s| s.result.is_some())
        .await
        .unwrap()
        .result
        .clone()
        .unwrap()
}

#[tokio::test]
async fn a_handed_out_job_that_finished_is_answered_the_same_after_a_restart() {
    let path = temp_store("restart");
    let jobs = open(&path);
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let h = jobs.spawn("generate_image", Tenant::local(), |_, job| async move {
        let _ = wait.await;
        job.keep_images(vec![KeptImage {
            index: 1,
            mime: "image/png",
            bytes: Arc::new(vec![7; 5]),
        }]);
        CallToolResult::success(vec![ContentBlock::text("two cats")])
    });
    jobs.handed_out(&h.id).await;
    go.send(()).unwrap();
    let before = finished(&jobs, &h.id).await;
    // The finished record is written by the job's own task, after its waiter has the result.
    for _ in 0..100 {
        let written = jobs.store.embedded().unwrap().get(&h.id).unwrap();
        if written.is_some_and(|r| r.status == Status::Finished) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop(jobs).await;

    let jobs = open(&path);
    let after = finished(&jobs, &h.id).await;
    assert_eq!(text(&after), text(&before));
    assert_eq!(after.is_error, before.is_error);
    let image = jobs.kept_image(&h.id, 1, &Tenant::local()).unwrap();
    assert_eq!(
        (image.mime, image.bytes.as_slice()),
        ("image/png", &[7u8; 5][..])
    );
    assert!(
        jobs.kept_image(&h.id, 1, &Tenant::named("mallory"))
            .is_none()
    );
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::named("mallory")),
        Lookup::Unknown
    ));
}

async fn interrupted_text(sent: bool) -> String {
    let path = temp_store("interrupted");
    let jobs = open(&path);
    let h = jobs.spawn(
        "edit_image",
        Tenant::local(),
        move |reporter, _| async move {
            reporter.phase("generating up to 4 images");
            if sent {
                reporter.sent_upstream();
            }
            std::future::pending::<()>().await;
            CallToolResult::success(vec![])
        },
    );
    let mut state = h.state.clone();
    state
        .wait_for(|s| s.phase.starts_with("generating"))
        .await
        .unwrap();
    jobs.handed_out(&h.id).await;
    stop(jobs).await;
    let jobs = open(&path);
    let result = finished(&jobs, &h.id).await;
    assert_eq!(result.is_error, Some(true));
    text(&result)
}

#[tokio::test]
async fn a_job_running_when_the_server_died_reports_it_may_have_been_billed_once_sent() {
    let text = interrupted_text(true).await;
    assert!(text.contains("was interrupted"), "{text}");
    assert!(text.contains("generating up to 4 images"), "{text}");
    assert!(text.contains("may have been billed"), "{text}");
    assert!(text.contains("check your usage"), "{text}");
}

#[tokio::test]
async fn a_job_interrupted_before_it_was_sent_says_nothing_was_billed_and_to_call_again() {
    let text = interrupted_text(false).await;
    assert!(text.contains("nothing was billed"), "{text}");
    assert!(text.contains("call edit_image again"), "{text}");
}

#[tokio::test]
async fn a_call_delivered_on_the_spot_writes_nothing_to_the_store() {
    let path = temp_store("spot");
    let jobs = open(&path);
    let mut h = jobs.spawn("generate_image", Tenant::local(), |_, _| async {
        CallToolResult::success(vec![ContentBlock::text("done")])
    });
    h.state.wait_for(|s| s.result.is_some()).await.unwrap();
    jobs.delivered(&h.id);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(jobs.store.embedded().unwrap().get(&h.id).unwrap().is_none());
}

fn record(id: &str, created: u64, finished: u64, images: usize) -> Record {
    Record {
        id: id.to_owned(),
        owner: "local".to_owned(),
        tool: "generate_image".to_owned(),
        created,
        finished: Some(finished),
        status: Status::Finished,
        sent_upstream: true,
        phase: "finished".to_owned(),
        result: Some(serde_json::json!({"content": []})),
        runner: None,
        images: (1..=images)
            .map(|index| super::store::ImageMeta {
                index,
                mime: "image/png".to_owned(),
                len: 10,
            })
            .collect(),
    }
}

#[tokio::test(start_paused = true)]
async fn stored_jobs_expire_with_the_keep_time_and_a_restart_does_not_revive_them() {
    let path = temp_store("expiry");
    let store = Store::open(&path, KEEP, 1 << 30).unwrap();
    let e = store.embedded().unwrap();
    e.put(&record("job-a", e.now(), e.now(), 0), &[]).unwrap();
    tokio::time::advance(KEEP - Duration::from_secs(1)).await;
    assert!(e.get("job-a").unwrap().is_some());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(e.get("job-a").unwrap().is_none());
    e.sweep().unwrap();
    drop(store);
    let store = Store::open(&path, Duration::from_secs(1 << 30), 1 << 30).unwrap();
    assert!(
        store.embedded().unwrap().get("job-a").unwrap().is_none(),
        "swept, not hidden"
    );
}

#[tokio::test]
async fn image_bytes_over_the_cap_push_out_the_oldest_jobs_images_but_not_their_results() {
    let path = temp_store("cap");
    let store = Store::open(&path, KEEP, 25).unwrap();
    let e = store.embedded().unwrap();
    let now = e.now();
    for (n, id) in ["job-1", "job-2", "job-3"].iter().enumerate() {
        e.put(&record(id, now + n as u64, now, 1), &[(1, &[0u8; 10][..])])
            .unwrap();
    }
    let kept: Vec<bool> = ["job-1", "job-2", "job-3"]
        .iter()
        .map(|id| e.image(id, 1).unwrap().is_some())
        .collect();
    assert_eq!(kept, [false, true, true]);
    let first = e.get("job-1").unwrap().unwrap();
    assert!(first.images.is_empty() && first.result.is_some());
}

#[tokio::test]
async fn a_corrupted_store_file_is_an_error_and_the_server_falls_back_to_memory() {
    let path = temp_store("corrupt");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, vec![0xA5; 64 * 1024]).unwrap();
    let err = Store::open(&path, KEEP, 1 << 30).unwrap_err();
    assert!(err.to_string().contains("jobs.redb"), "{err}");
    assert!(super::open_store(Some(&StoreAt::File(path.to_path_buf())), KEEP, 1 << 30).is_memory());
}

#[tokio::test]
async fn a_store_file_held_by_another_server_leaves_this_one_on_memory() {
    let path = temp_store("locked");
    let first = Store::open(&path, KEEP, 1 << 30).unwrap();
    let err = Store::open(&path, KEEP, 1 << 30).unwrap_err();
    assert!(err.is_locked(), "{err}");
    assert!(super::open_store(Some(&StoreAt::File(path.to_path_buf())), KEEP, 1 << 30).is_memory());
    drop(first);
}

#[tokio::test]
async fn a_request_sent_upstream_after_its_id_was_handed_out_is_recorded_as_maybe_billed() {
    let path = temp_store("sent-later");
    let jobs = open(&path);
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let h = jobs.spawn(
        "generate_image",
        Tenant::local(),
        |reporter, _| async move {
            reporter.phase("waiting for an upstream slot");
            let _ = wait.await;
            reporter.sent_upstream();
            std::future::pending::<()>().await;
            CallToolResult::success(vec![])
        },
    );
    jobs.handed_out(&h.id).await;
    go.send(()).unwrap();
    for _ in 0..200 {
        let stored = jobs.store.embedded().unwrap().get(&h.id).unwrap();
        if stored.is_some_and(|r| r.sent_upstream) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop(jobs).await;
    let text = text(&finished(&open(&path), &h.id).await);
    assert!(text.contains("may have been billed"), "{text}");
}

#[tokio::test]
async fn a_truncated_store_file_is_reported_as_damaged_and_the_server_falls_back_to_memory() {
    let path = temp_store("truncated");
    {
        let store = Store::open(&path, KEEP, 1 << 30).unwrap();
        let e = store.embedded().unwrap();
        e.put(
            &record("job-t", e.now(), e.now(), 1),
            &[(1, &[1u8; 4096][..])],
        )
        .unwrap();
    }
    let len = std::fs::metadata(&path).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    let err = Store::open(&path, KEEP, 1 << 30).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    assert!(super::open_store(Some(&StoreAt::File(path.to_path_buf())), KEEP, 1 << 30).is_memory());
}

#[tokio::test]
async fn an_interrupted_job_reports_the_progress_get_job_last_saw() {
    let path = temp_store("refresh");
    let jobs = open(&path);
    let (reporter_tx, reporter_rx) = tokio::sync::oneshot::channel();
    let h = jobs.spawn(
        "generate_sequence",
        Tenant::local(),
        |reporter, _| async move {
            reporter.sent_upstream();
            let _ = reporter_tx.send(reporter);
            std::future::pending::<()>().await;
            CallToolResult::success(vec![])
        },
    );
    let reporter = reporter_rx.await.unwrap();
    jobs.handed_out(&h.id).await;
    reporter.phase("2 of 4 images done");
    jobs.refresh(&h.id).await;
    drop(reporter);
    stop(jobs).await;
    let text = text(&finished(&open(&path), &h.id).await);
    assert!(text.contains("last progress: 2 of 4 images done"), "{text}");
}

#[tokio::test]
async fn a_cancelled_handed_out_job_reads_cancelled_after_a_restart_and_its_record_can_expire() {
    let path = temp_store("cancelled");
    let jobs = open(&path);
    let h = jobs.spawn("generate_image", Tenant::local(), |_, _| async move {
        std::future::pending::<CallToolResult>().await
    });
    jobs.handed_out(&h.id).await;
    assert_eq!(jobs.cancel(&h.id, &Tenant::local()), Cancel::Stopped);
    // The cancelled record is written off the caller's path.
    let mut written = None;
    for _ in 0..100 {
        written = jobs.store.embedded().unwrap().get(&h.id).unwrap();
        if written
            .as_ref()
            .is_some_and(|r| r.status == Status::Cancelled)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let written = written.expect("recorded");
    assert_eq!(written.status, Status::Cancelled);
    assert!(
        written.finished.is_some(),
        "an ended record has an end, so it expires"
    );
    stop(jobs).await;

    let jobs = open(&path);
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::local()),
        Lookup::Found {
            cancelled: true,
            ..
        }
    ));
}

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::files::provenance::{self, Provenance};
use crate::imaging::test_images::{encode_as, photo_rgba};
use seedream::ImageFormat;

fn entry(owner: &str, job: &str, dir: &Path) -> Entry {
    let path = dir.join(format!("{job}.png"));
    std::fs::write(&path, b"x").unwrap();
    Entry {
        job: Some(job.to_owned()),
        owner: Tenant::named(owner),
        tool: Some("generate_image"),
        created: 1_764_531_900,
        prompt: format!("prompt of {job}"),
        model: "m".to_owned(),
        request_id: None,
        images: vec![Image {
            index: 1,
            uri: render::file_uri(&path),
            mime: "image/png",
            size: Some("64x64".to_owned()),
            bytes: Some(1),
            path: Some(path),
        }],
        kept_until: None,
    }
}

fn uris(r: &rmcp::model::ListResourcesResult) -> Vec<String> {
    r.resources.iter().map(|r| r.uri.clone()).collect()
}

#[test]
fn pages_run_newest_first_and_the_cursor_continues_where_the_last_page_ended() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::default();
    for n in 0..45 {
        history.record(entry("alice", &format!("job{n:02}"), dir.path()));
    }
    let alice = Tenant::named("alice");
    let first = list(&history, &alice, None).unwrap();
    assert_eq!(first.resources.len(), 2 * listing_page());
    assert_eq!(first.resources[0].uri, "seedream://jobs/job44");
    let second = list(&history, &alice, first.next_cursor.as_deref()).unwrap();
    assert_eq!(second.resources[0].uri, "seedream://jobs/job24");
    let third = list(&history, &alice, second.next_cursor.as_deref()).unwrap();
    assert_eq!(uris(&third).len(), 10);
    assert_eq!(third.next_cursor, None);
    assert!(list(&history, &alice, Some("nonsense")).is_err());
}

fn listing_page() -> usize {
    20
}

#[test]
fn a_caller_lists_and_reads_only_its_own_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::default();
    history.record(entry("alice", "a1", dir.path()));
    history.record(entry("bob", "b1", dir.path()));
    let bob = Tenant::named("bob");
    assert_eq!(
        uris(&list(&history, &bob, None).unwrap()),
        vec![
            "seedream://jobs/b1".to_owned(),
            render::file_uri(&dir.path().join("b1.png"))
        ]
    );
    assert!(read_job(&history, "seedream://jobs/a1", "a1", &bob).is_err());
    let read = read_job(&history, "seedream://jobs/b1", "b1", &bob).unwrap();
    let json = serde_json::to_value(&read).unwrap();
    let summary: serde_json::Value =
        serde_json::from_str(json["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(summary["prompt"], "prompt of b1");
    assert_eq!(summary["created"], "2025-11-30T19:45:00Z");
}

#[test]
fn a_deleted_file_drops_out_of_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::default();
    history.record(entry("alice", "a1", dir.path()));
    std::fs::remove_file(dir.path().join("a1.png")).unwrap();
    assert!(
        list(&history, &Tenant::named("alice"), None)
            .unwrap()
            .resources
            .is_empty()
    );
}

fn save_stamped(dir: &Path, name: &str, job: Option<&str>, index: usize, secs: u64) {
    let png = encode_as(&photo_rgba(8, 8), image::ImageFormat::Png);
    let mut made = Provenance::new(
        &format!("prompt {name}"),
        "model-x",
        UNIX_EPOCH + Duration::from_secs(secs),
    );
    made.job = job.map(str::to_owned);
    made.index = Some(index);
    let bytes = provenance::stamp(&png, ImageFormat::Png, &made)
        .unwrap()
        .to_vec(&png);
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[tokio::test]
async fn after_a_restart_the_output_folder_rebuilds_the_history_grouped_by_job() {
    let dir = tempfile::tempdir().unwrap();
    save_stamped(dir.path(), "old.png", Some("j1"), 1, 1_000);
    save_stamped(dir.path(), "old-2.png", Some("j1"), 2, 1_000);
    save_stamped(dir.path(), "new.png", None, 1, 2_000);
    std::fs::write(
        dir.path().join("plain.png"),
        encode_as(&photo_rgba(8, 8), image::ImageFormat::Png),
    )
    .unwrap();
    #[cfg(unix)]
    {
        let outside = tempfile::tempdir().unwrap();
        save_stamped(outside.path(), "secret.png", Some("j9"), 1, 3_000);
        std::os::unix::fs::symlink(
            outside.path().join("secret.png"),
            dir.path().join("link.png"),
        )
        .unwrap();
    }
    let history = History::default();
    let saved = SavedFiles::default();
    history.rebuild_once(Some(dir.path()), &saved).await;

    let local = Tenant::local();
    let listed = uris(&list(&history, &local, None).unwrap());
    let file = |n: &str| render::file_uri(&dir.path().canonicalize().unwrap().join(n));
    assert_eq!(
        listed,
        vec![
            file("new.png"),
            "seedream://jobs/j1".to_owned(),
            file("old.png"),
            file("old-2.png")
        ]
    );
    let real = dir.path().canonicalize().unwrap().join("old.png");
    assert_eq!(
        saved.access(&real, &local),
        crate::tools::saved::Access::Own
    );
    // Nobody else sees the operator's files.
    assert!(
        list(&history, &Tenant::named("bob"), None)
            .unwrap()
            .resources
            .is_empty()
    );
}

#[test]
fn the_rebuild_reads_only_the_newest_files_up_to_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    for n in 0..rebuild::MAX_READ + 5 {
        save_stamped(dir.path(), &format!("f{n}.png"), None, 1, 1_000 + n as u64);
    }
    assert_eq!(rebuild::scan(dir.path()).len(), rebuild::MAX_READ);
}

//! The job table: expiry, ownership, kept images, panics.

use rmcp::model::ContentBlock;

use super::*;
use crate::caller::Tenant;

#[tokio::test(start_paused = true)]
async fn a_finished_job_is_found_until_it_expires() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(600), None));
    let mut h = jobs.spawn("generate_image", Tenant::local(), |_, _| async {
        CallToolResult::success(vec![ContentBlock::text("done")])
    });
    h.state.wait_for(|s| s.result.is_some()).await.unwrap();
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::local()),
        Lookup::Found { .. }
    ));
    tokio::time::advance(Duration::from_secs(599)).await;
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::local()),
        Lookup::Found { .. }
    ));
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::local()),
        Lookup::Unknown
    ));
}

#[tokio::test]
async fn job_ids_are_unguessable_and_distinct() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
    let a = jobs.spawn("t", Tenant::local(), |_, _| async {
        CallToolResult::success(vec![])
    });
    let b = jobs.spawn("t", Tenant::local(), |_, _| async {
        CallToolResult::success(vec![])
    });
    assert_ne!(a.id, b.id);
    assert_eq!(a.id.len(), "job-".len() + 32);
}

#[tokio::test]
async fn a_removed_job_is_aborted() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
    let h = jobs.spawn("t", Tenant::local(), |_, _| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        CallToolResult::success(vec![])
    });
    let mut state = h.state.clone();
    jobs.remove(&h.id);
    assert!(
        state.changed().await.is_err(),
        "the aborted tokio task dropped its reporter"
    );
    assert!(matches!(
        jobs.lookup(&h.id, &Tenant::local()),
        Lookup::Unknown
    ));
}

#[tokio::test]
async fn a_panicking_job_still_delivers_an_internal_error_to_its_waiter() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
    let mut h = jobs.spawn("generate_image", Tenant::local(), |_, _| async {
        if std::hint::black_box(true) {
            panic!("index out of bounds");
        }
        CallToolResult::success(vec![])
    });
    let state = h
        .state
        .wait_for(|s| s.result.is_some())
        .await
        .expect("the job reports a result instead of dropping its reporter")
        .clone();
    let result = state.result.unwrap();
    assert_eq!(result.is_error, Some(true));
    let text = result.content[0].as_text().unwrap().text.clone();
    assert!(
        text.starts_with("Internal error in generate_image: index out of bounds."),
        "{text}"
    );
}

#[tokio::test]
async fn job_ids_name_their_instance_and_a_foreign_id_says_where_it_lives() {
    let a = Arc::new(Jobs::new(Duration::from_secs(60), Some("node-1".into())));
    let handle = a.spawn("generate_image", Tenant::local(), |_, _| async {
        CallToolResult::success(vec![ContentBlock::text("ok")])
    });
    assert!(handle.id.starts_with("job-node-1-"), "{}", handle.id);
    assert_eq!(owner_of(&handle.id), Some("node-1"));
    assert_eq!(owner_of("job-3f9c0000000000000000000000000000"), None);

    let b = Jobs::new(Duration::from_secs(60), Some("node-2".into()));
    assert!(matches!(
        b.lookup(&handle.id, &Tenant::local()),
        Lookup::Elsewhere { owner, here } if owner == "node-1" && here == "node-2"
    ));
    assert!(matches!(
        a.lookup("job-node-1-nothex", &Tenant::local()),
        Lookup::Unknown
    ));
}

fn tenant(name: &str) -> Tenant {
    Tenant::named(name)
}

#[tokio::test]
async fn another_tenants_job_and_its_images_are_unknown() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
    let (alice, bob) = (tenant("alice"), tenant("bob"));
    let mut h = jobs.spawn("generate_image", alice.clone(), |_, job| async move {
        job.keep_images(vec![KeptImage {
            index: 1,
            mime: "image/png",
            bytes: Arc::new(vec![1, 2, 3]),
        }]);
        CallToolResult::success(vec![ContentBlock::text("done")])
    });
    h.state.wait_for(|s| s.result.is_some()).await.unwrap();
    assert!(matches!(jobs.lookup(&h.id, &alice), Lookup::Found { .. }));
    assert!(matches!(jobs.lookup(&h.id, &bob), Lookup::Unknown));
    assert!(jobs.kept_image(&h.id, 1, &alice).is_some());
    assert!(jobs.kept_image(&h.id, 1, &bob).is_none());
}

#[tokio::test]
async fn a_job_that_keeps_images_outlives_its_delivery_and_one_that_does_not_is_forgotten() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
    let owner = Tenant::local();
    let mut keeps = jobs.spawn("generate_image", owner.clone(), |_, job| async move {
        job.keep_images(vec![KeptImage {
            index: 1,
            mime: "image/png",
            bytes: Arc::new(vec![0; 10]),
        }]);
        CallToolResult::success(vec![])
    });
    let mut plain = jobs.spawn("generate_image", owner.clone(), |_, _| async {
        CallToolResult::success(vec![])
    });
    keeps.state.wait_for(|s| s.result.is_some()).await.unwrap();
    plain.state.wait_for(|s| s.result.is_some()).await.unwrap();
    jobs.delivered(&keeps.id);
    jobs.delivered(&plain.id);
    assert!(
        matches!(jobs.lookup(&keeps.id, &owner), Lookup::Found { kept, .. } if kept.len() == 1)
    );
    assert!(matches!(jobs.lookup(&plain.id, &owner), Lookup::Unknown));
}

#[tokio::test]
async fn kept_images_over_the_cap_push_out_the_oldest_jobs_images() {
    let mut jobs = Jobs::new(Duration::from_secs(60), None);
    jobs.max_kept_bytes = 25;
    let jobs = Arc::new(jobs);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut h = jobs.spawn("generate_image", Tenant::local(), |_, job| async move {
            job.keep_images(vec![KeptImage {
                index: 1,
                mime: "image/png",
                bytes: Arc::new(vec![0; 10]),
            }]);
            CallToolResult::success(vec![])
        });
        h.state.wait_for(|s| s.result.is_some()).await.unwrap();
        ids.push(h.id);
    }
    let kept: Vec<bool> = ids
        .iter()
        .map(|id| jobs.kept_image(id, 1, &Tenant::local()).is_some())
        .collect();
    assert_eq!(kept, [false, true, true]);
}

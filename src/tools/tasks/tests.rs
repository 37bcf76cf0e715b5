use std::sync::Arc;

use rmcp::model::ContentBlock;

use super::*;

fn slow(jobs: &Arc<Jobs>, owner: Tenant) -> crate::jobs::Handle {
    jobs.spawn("generate_image", owner, |reporter, _| async move {
        reporter.phase("image 1 of up to 2 done");
        tokio::time::sleep(Duration::from_secs(30)).await;
        CallToolResult::success(vec![ContentBlock::text("done")])
    })
}

#[tokio::test(start_paused = true)]
async fn a_running_job_is_a_working_task_with_its_progress_and_then_carries_the_tool_result() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(600), None));
    let mut h = slow(&jobs, Tenant::local());
    h.state
        .wait_for(|s| s.phase.starts_with("image 1"))
        .await
        .unwrap();

    let working = get(&jobs, &h.id, &Tenant::local()).unwrap();
    assert_eq!(working.task.status(), TaskStatus::Working);
    let message = working.task.task.status_message.clone().unwrap();
    assert!(message.starts_with("image 1 of up to 2 done"), "{message}");
    assert_eq!(working.task.task.poll_interval_ms, Some(2000));
    assert!(working.task.task.ttl_ms.unwrap() >= 600_000);

    h.state.wait_for(|s| s.result.is_some()).await.unwrap();
    let done = get(&jobs, &h.id, &Tenant::local()).unwrap();
    let TaskPayload::Completed { result } = &done.task.payload else {
        panic!("not completed: {done:?}");
    };
    assert_eq!(result["content"][0]["text"], "done");
    assert_eq!(result["isError"], false);
}

#[tokio::test(start_paused = true)]
async fn another_callers_task_is_not_found_for_get_update_and_cancel() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(600), None));
    let h = slow(&jobs, Tenant::named("alice"));
    let mallory = Tenant::named("mallory");

    for e in [
        get(&jobs, &h.id, &mallory).err(),
        update(&jobs, &h.id, &mallory).err(),
        cancel(&jobs, &h.id, &mallory).err(),
    ] {
        let e = e.expect("not found");
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
        assert!(e.message.contains("not found"), "{}", e.message);
    }
    assert_eq!(
        get(&jobs, &h.id, &Tenant::named("alice"))
            .unwrap()
            .task
            .status(),
        TaskStatus::Working,
        "mallory's cancel did not reach it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_task_stops_its_job_and_reads_as_cancelled_until_it_expires() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(600), None));
    let h = slow(&jobs, Tenant::local());
    let mut state = h.state.clone();

    cancel(&jobs, &h.id, &Tenant::local()).unwrap();

    assert!(state.changed().await.is_err(), "the job's work was aborted");
    let got = get(&jobs, &h.id, &Tenant::local()).unwrap();
    assert_eq!(got.task.status(), TaskStatus::Cancelled);
    assert!(
        cancel(&jobs, &h.id, &Tenant::local()).is_ok(),
        "cancelling again is acknowledged"
    );
    tokio::time::advance(Duration::from_secs(601)).await;
    assert!(get(&jobs, &h.id, &Tenant::local()).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_finished_task_is_not_changed_by_a_late_cancel_and_update_is_acknowledged() {
    let jobs = Arc::new(Jobs::new(Duration::from_secs(600), None));
    let mut h = jobs.spawn("generate_image", Tenant::local(), |_, _| async {
        CallToolResult::error(vec![ContentBlock::text("refused")])
    });
    h.state.wait_for(|s| s.result.is_some()).await.unwrap();

    cancel(&jobs, &h.id, &Tenant::local()).unwrap();
    update(&jobs, &h.id, &Tenant::local()).unwrap();

    let got = get(&jobs, &h.id, &Tenant::local()).unwrap();
    assert_eq!(
        got.task.status(),
        TaskStatus::Completed,
        "a tool error is a completed task"
    );
    let wire = serde_json::to_value(&got).unwrap();
    assert_eq!(wire["result"]["isError"], true);
    assert_eq!(wire["resultType"], "complete");
    assert!(wire["createdAt"].as_str().unwrap().ends_with('Z'));
}

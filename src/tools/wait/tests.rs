//! The wait on paused time: heartbeats, phases, the limit and cancellation, with no waiting.

use std::future::pending;
use std::sync::{Arc, Mutex};

use rmcp::model::{CallToolResult, ContentBlock};
use tokio::time::{Instant, sleep};

use super::*;
use crate::jobs::progress::Reporter;

const PACE: Pace = Pace {
    limit: Duration::from_secs(60),
    heartbeat: Pace::HEARTBEAT,
};

/// Progress sent: when (seconds after the start), the value and the message.
type Sent = Arc<Mutex<Vec<(u64, f64, String)>>>;

/// Waits on `state` with `pace`, recording what would be sent.
async fn recorded(state: watch::Receiver<State>, pace: Pace) -> (Outcome, Vec<(u64, f64, String)>) {
    let sent = Sent::default();
    let start = Instant::now();
    let record = |value: f64, message: String| {
        let at = start.elapsed().as_secs();
        sent.lock().unwrap().push((at, value, message));
        async {}
    };
    let outcome = watch(state, pending::<()>(), pace, record).await;
    let sent = sent.lock().unwrap().clone();
    (outcome, sent)
}

#[tokio::test(start_paused = true)]
async fn progress_comes_at_once_then_every_heartbeat_and_stops_with_the_result() {
    let (reporter, state) = Reporter::new();
    tokio::spawn(async move {
        sleep(Duration::from_millis(4500)).await;
        reporter.finish(CallToolResult::success(vec![ContentBlock::text("done")]));
    });

    let (outcome, sent) = recorded(state, PACE).await;

    assert!(matches!(outcome, Outcome::Finished(_)));
    let times: Vec<u64> = sent.iter().map(|(at, _, _)| *at).collect();
    assert_eq!(times, [0, 2, 4], "{sent:?}");
    assert!(
        sent.windows(2).all(|w| w[1].1 > w[0].1),
        "increasing: {sent:?}"
    );
    assert!(
        sent.iter().all(|(_, _, m)| m.starts_with("starting — ")),
        "{sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_phase_is_sent_even_when_several_come_between_two_heartbeats() {
    let (reporter, state) = Reporter::new();
    tokio::spawn(async move {
        sleep(Duration::from_millis(500)).await;
        reporter.phase("queued");
        reporter.phase("generating 1 image");
        sleep(Duration::from_secs(3)).await;
        reporter.finish(CallToolResult::success(vec![]));
    });

    let (_, sent) = recorded(state, PACE).await;

    let messages: Vec<&str> = sent.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "starting — 0 s",
            "queued — 0 s",
            "generating 1 image — 0 s",
            "generating 1 image — 2 s"
        ]
    );
    assert!(
        sent.windows(2).all(|w| w[1].1 > w[0].1),
        "increasing: {sent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_job_past_the_limit_leaves_the_caller_with_its_job_still_running() {
    let (reporter, state) = Reporter::new();
    // Between two heartbeats, so which of the two comes first at the limit is not in question.
    let pace = Pace {
        limit: Duration::from_secs(49),
        ..PACE
    };

    let (outcome, sent) = recorded(state.clone(), pace).await;

    assert!(matches!(outcome, Outcome::StillRunning));
    assert_eq!(sent.len(), 25, "one heartbeat every 2 s, from 0 to 48 s");
    let text = still_running("job-1", "generate_image", &state.borrow(), pace.limit);
    assert!(
        text.content[0]
            .as_text()
            .unwrap()
            .text
            .starts_with("Still working after 49 s"),
        "{text:?}"
    );
    drop(reporter);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_or_an_aborted_job_ends_the_wait() {
    let (_reporter, state) = Reporter::new();
    let cancelled = sleep(Duration::from_secs(1));
    let outcome = watch(state, cancelled, PACE, |_, _| async {}).await;
    assert!(matches!(outcome, Outcome::Cancelled));

    let (reporter, state) = Reporter::new();
    drop(reporter);
    let outcome = watch(state, pending::<()>(), PACE, |_, _| async {}).await;
    assert!(matches!(outcome, Outcome::Cancelled));
}

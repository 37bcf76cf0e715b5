//! What a running job is doing, shared between the work and whoever reports on it (progress
//! notifications, `get_job`). Knows no transport. Times are tokio's, so tests can pause them.

use std::time::SystemTime;

use rmcp::model::CallToolResult;
use tokio::sync::watch;
use tokio::time::Instant;

/// Phases kept per job: a 15-image sequence has about 20.
pub(super) const MAX_HISTORY: usize = 64;

/// A snapshot of a job.
#[derive(Debug, Clone)]
pub struct State {
    /// What is happening, for people: "generating up to 4 images".
    pub phase: String,
    /// Every phase so far, so a reporter that falls behind still sends each one.
    pub history: Vec<String>,
    pub started: Instant,
    /// Wall-clock times of the start and of the last change, which clients see as task
    /// timestamps (tokio's `Instant` has no calendar date).
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    /// Whether the request has gone upstream, after which it may be billed.
    pub sent_upstream: bool,
    /// Set once the job has finished.
    pub result: Option<CallToolResult>,
}

impl State {
    /// "generating up to 4 images — 35 s".
    pub fn message(&self) -> String {
        format!("{} — {} s", self.phase, self.started.elapsed().as_secs())
    }
}

/// The writing end, handed to the work.
#[derive(Debug, Clone)]
pub struct Reporter(watch::Sender<State>);

impl Reporter {
    pub fn new() -> (Reporter, watch::Receiver<State>) {
        let (tx, rx) = watch::channel(State {
            phase: "starting".to_owned(),
            history: Vec::new(),
            started: Instant::now(),
            created_at: SystemTime::now(),
            updated_at: SystemTime::now(),
            sent_upstream: false,
            result: None,
        });
        (Reporter(tx), rx)
    }

    pub fn phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        self.0.send_modify(|s| {
            if s.history.len() < MAX_HISTORY {
                s.history.push(phase.clone());
            }
            s.phase = phase;
            s.updated_at = SystemTime::now();
        });
    }

    /// Marks the moment the request leaves for the upstream: from here on it may be billed.
    pub fn sent_upstream(&self) {
        self.0.send_modify(|s| s.sent_upstream = true);
    }

    pub fn finish(&self, result: CallToolResult) {
        self.0.send_modify(|s| {
            s.phase = "finished".to_owned();
            s.result = Some(result);
            s.updated_at = SystemTime::now();
        });
    }
}

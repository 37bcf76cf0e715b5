//! Every tool call runs as a job. A call that outlives the wait limit answers with a job id,
//! and `get_job` hands over the result later, so a client's timeout never loses paid images.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::CallToolResult;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use super::progress::{Reporter, State};

/// Running and finished jobs, by unguessable id.
#[derive(Debug)]
pub struct Jobs {
    table: Mutex<HashMap<String, Entry>>,
    /// How long a finished job's result is kept.
    keep: Duration,
}

#[derive(Debug)]
struct Entry {
    state: watch::Receiver<State>,
    abort: AbortHandle,
    tool: &'static str,
    finished_at: Option<Instant>,
}

/// A job as seen by a waiter.
pub struct Handle {
    pub id: String,
    pub state: watch::Receiver<State>,
}

/// What `get_job` finds.
pub enum Lookup {
    Unknown,
    Found {
        tool: &'static str,
        state: watch::Receiver<State>,
    },
}

impl Jobs {
    pub fn new(keep: Duration) -> Jobs {
        Jobs {
            table: Mutex::new(HashMap::new()),
            keep,
        }
    }

    /// Runs `work` as a job; it reports through the [`Reporter`] it is given.
    pub fn spawn<F, Fut>(self: &Arc<Self>, tool: &'static str, work: F) -> Handle
    where
        F: FnOnce(Reporter) -> Fut,
        Fut: std::future::Future<Output = CallToolResult> + Send + 'static,
    {
        let (reporter, state) = Reporter::new();
        let id = new_id();
        let fut = work(reporter.clone());
        let jobs = Arc::clone(self);
        let job_id = id.clone();
        let task = tokio::spawn(async move {
            let result = fut.await;
            reporter.finish(result);
            jobs.mark_finished(&job_id);
        });
        let abort = task.abort_handle();
        let mut table = self.lock();
        self.sweep(&mut table);
        table.insert(
            id.clone(),
            Entry {
                state: state.clone(),
                abort,
                tool,
                finished_at: None,
            },
        );
        Handle { id, state }
    }

    pub fn keep(&self) -> Duration {
        self.keep
    }

    pub fn lookup(&self, id: &str) -> Lookup {
        let mut table = self.lock();
        self.sweep(&mut table);
        match table.get(id.trim()) {
            Some(e) => Lookup::Found {
                tool: e.tool,
                state: e.state.clone(),
            },
            None => Lookup::Unknown,
        }
    }

    /// Forgets a job whose caller cancelled it.
    pub fn remove(&self, id: &str) {
        if let Some(e) = self.lock().remove(id) {
            e.abort.abort();
        }
    }

    fn mark_finished(&self, id: &str) {
        if let Some(e) = self.lock().get_mut(id) {
            e.finished_at = Some(Instant::now());
        }
    }

    fn sweep(&self, table: &mut HashMap<String, Entry>) {
        let keep = self.keep;
        for e in table.values_mut() {
            // A job can finish before it was entered in the table; its result tells.
            if e.finished_at.is_none() && e.state.borrow().result.is_some() {
                e.finished_at = Some(Instant::now());
            }
        }
        table.retain(|_, e| e.finished_at.is_none_or(|t| t.elapsed() < keep));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere; the table itself is still consistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// 128 random bits from the OS, as a UUID.
fn new_id() -> String {
    format!("job-{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;

    use super::*;

    #[tokio::test]
    async fn a_finished_job_is_found_until_it_expires() {
        let jobs = Arc::new(Jobs::new(Duration::from_millis(50)));
        let mut h = jobs.spawn("generate_image", |_| async {
            CallToolResult::success(vec![ContentBlock::text("done")])
        });
        h.state.wait_for(|s| s.result.is_some()).await.unwrap();
        assert!(matches!(jobs.lookup(&h.id), Lookup::Found { .. }));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(matches!(jobs.lookup(&h.id), Lookup::Unknown));
    }

    #[tokio::test]
    async fn job_ids_are_unguessable_and_distinct() {
        let jobs = Arc::new(Jobs::new(Duration::from_secs(60)));
        let a = jobs.spawn("t", |_| async { CallToolResult::success(vec![]) });
        let b = jobs.spawn("t", |_| async { CallToolResult::success(vec![]) });
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), "job-".len() + 32);
    }

    #[tokio::test]
    async fn a_removed_job_is_aborted() {
        let jobs = Arc::new(Jobs::new(Duration::from_secs(60)));
        let h = jobs.spawn("t", |_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            CallToolResult::success(vec![])
        });
        let mut state = h.state.clone();
        jobs.remove(&h.id);
        assert!(
            state.changed().await.is_err(),
            "the aborted task dropped its reporter"
        );
        assert!(matches!(jobs.lookup(&h.id), Lookup::Unknown));
    }
}

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
    /// This instance's name, put in its job ids when several instances share a load balancer.
    instance: Option<String>,
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
    /// The id names another instance: the load balancer sent `get_job` to the wrong one.
    Elsewhere {
        owner: String,
        here: String,
    },
    Found {
        tool: &'static str,
        state: watch::Receiver<State>,
    },
}

impl Jobs {
    pub fn new(keep: Duration, instance: Option<String>) -> Jobs {
        Jobs {
            table: Mutex::new(HashMap::new()),
            keep,
            instance,
        }
    }

    /// Runs `work` as a job; it reports through the [`Reporter`] it is given.
    pub fn spawn<F, Fut>(self: &Arc<Self>, tool: &'static str, work: F) -> Handle
    where
        F: FnOnce(Reporter) -> Fut,
        Fut: std::future::Future<Output = CallToolResult> + Send + 'static,
    {
        let (reporter, state) = Reporter::new();
        let id = new_id(self.instance.as_deref());
        let fut = work(reporter.clone());
        let jobs = Arc::clone(self);
        let job_id = id.clone();
        let task = tokio::spawn(async move {
            // A panicking job still hands its waiter a result, rather than looking cancelled.
            let result = super::guard::guarded(tool, fut).await;
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

    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
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
            None => match (owner_of(id.trim()), &self.instance) {
                (Some(owner), Some(here)) if owner != here => Lookup::Elsewhere {
                    owner: owner.to_owned(),
                    here: here.clone(),
                },
                _ => Lookup::Unknown,
            },
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

/// 128 random bits from the OS, as a UUID, after the instance's name when it has one:
/// `job-node-2-3f9c…`.
fn new_id(instance: Option<&str>) -> String {
    let random = uuid::Uuid::new_v4().simple();
    match instance {
        Some(name) => format!("job-{name}-{random}"),
        None => format!("job-{random}"),
    }
}

/// The instance a job id names, if any.
pub fn owner_of(id: &str) -> Option<&str> {
    let rest = id.strip_prefix("job-")?;
    let (owner, random) = rest.rsplit_once('-')?;
    (random.len() == 32 && random.bytes().all(|b| b.is_ascii_hexdigit()) && !owner.is_empty())
        .then_some(owner)
}

#[cfg(test)]
mod tests {
    use rmcp::model::ContentBlock;

    use super::*;

    #[tokio::test]
    async fn a_finished_job_is_found_until_it_expires() {
        let jobs = Arc::new(Jobs::new(Duration::from_millis(50), None));
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
        let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
        let a = jobs.spawn("t", |_| async { CallToolResult::success(vec![]) });
        let b = jobs.spawn("t", |_| async { CallToolResult::success(vec![]) });
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), "job-".len() + 32);
    }

    #[tokio::test]
    async fn a_removed_job_is_aborted() {
        let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
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

    #[tokio::test]
    async fn a_panicking_job_still_delivers_an_internal_error_to_its_waiter() {
        let jobs = Arc::new(Jobs::new(Duration::from_secs(60), None));
        let mut h = jobs.spawn("generate_image", |_| async {
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
        let handle = a.spawn("generate_image", |_| async {
            CallToolResult::success(vec![ContentBlock::text("ok")])
        });
        assert!(handle.id.starts_with("job-node-1-"), "{}", handle.id);
        assert_eq!(owner_of(&handle.id), Some("node-1"));
        assert_eq!(owner_of("job-3f9c0000000000000000000000000000"), None);

        let b = Jobs::new(Duration::from_secs(60), Some("node-2".into()));
        assert!(matches!(
            b.lookup(&handle.id),
            Lookup::Elsewhere { owner, here } if owner == "node-1" && here == "node-2"
        ));
        assert!(matches!(a.lookup("job-node-1-nothex"), Lookup::Unknown));
    }
}

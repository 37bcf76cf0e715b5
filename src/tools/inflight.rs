//! The generating calls in flight, by the scope and id of their request, so that a
//! `notifications/cancelled` reaches the call it names — and only that call — wherever the
//! notification arrives. Over stateless HTTP it arrives in a POST of its own, served by another
//! handler than the call's, so rmcp cannot connect the two; here they meet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::caller::{Cancellation, Scope};

type Key = (Scope, String);

/// Stateless HTTP has no sessions, so independent clients of one tenant (the same token, or
/// loopback without one) may use the same request ids at once: their calls share a key.
#[derive(Debug, Default)]
pub struct InFlight {
    table: Mutex<HashMap<Key, Vec<Arc<Slot>>>>,
}

#[derive(Debug)]
struct Slot {
    stop: CancellationToken,
    why: Mutex<Option<Cancellation>>,
}

/// A call's entry; removed when dropped.
#[derive(Debug)]
pub struct Registration {
    key: Key,
    slot: Arc<Slot>,
    table: Arc<InFlight>,
}

/// The request id is taken by a call of the same scope that is still running.
#[derive(Debug, thiserror::Error)]
#[error(
    "request id {0} is already used by a call that is still running; send each request with a new id"
)]
pub struct IdInUse(pub String);

impl InFlight {
    /// Enters a call. `stop` is fired when a cancellation for it arrives.
    pub fn register(
        self: &Arc<Self>,
        scope: Scope,
        id: String,
        stop: CancellationToken,
    ) -> Result<Registration, IdInUse> {
        let key = (scope, id);
        let slot = Arc::new(Slot {
            stop,
            why: Mutex::new(None),
        });
        let mut table = self.lock();
        let calls = table.entry(key.clone()).or_default();
        // Within a session or a stdio connection ids are unique by protocol; a reused one is
        // the client's mistake and must not take over the running call.
        if !calls.is_empty() && !matches!(key.0, Scope::Tenant(_)) {
            return Err(IdInUse(key.1));
        }
        calls.push(Arc::clone(&slot));
        Ok(Registration {
            key,
            slot,
            table: Arc::clone(self),
        })
    }

    /// Applies a cancellation to the call it names in `scope`; `false` if there is none (it
    /// finished, or the id belongs to someone else's scope) or, over stateless HTTP, if several
    /// clients of the tenant use that id at once: which one meant it cannot be known, and
    /// cancelling the wrong one would drop a paid generation.
    pub fn cancel(&self, scope: &Scope, id: &str, why: Cancellation) -> bool {
        let key = (scope.clone(), id.to_owned());
        let slot = match self.lock().get(&key).map(Vec::as_slice) {
            Some([only]) => Arc::clone(only),
            Some([]) | None => return false,
            Some(_) => {
                tracing::warn!(
                    id,
                    "cancellation ignored: several stateless calls of this caller use that request id"
                );
                return false;
            }
        };
        *slot.why.lock().unwrap_or_else(|p| p.into_inner()) = Some(why);
        slot.stop.cancel();
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Arc<Slot>>>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Registration {
    /// Why this call was cancelled, if a cancellation named it.
    pub fn cancellation(&self) -> Option<Cancellation> {
        *self.slot.why.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why this call's request ended, once its token fired. rmcp fires the request's token
    /// before the notification handler runs, so this waits a moment for the notification;
    /// none means the stream closed.
    pub async fn settled_cancellation(&self) -> Cancellation {
        for _ in 0..20 {
            if let Some(why) = self.cancellation() {
                return why;
            }
            tokio::time::sleep(NOTIFICATION_LAG).await;
        }
        Cancellation::StreamClosed
    }
}

/// How often [`Registration::settled_cancellation`] looks for the notification (20 times).
const NOTIFICATION_LAG: Duration = Duration::from_millis(5);

impl Drop for Registration {
    fn drop(&mut self) {
        let mut table = self.table.lock();
        if let Some(calls) = table.get_mut(&self.key) {
            calls.retain(|s| !Arc::ptr_eq(s, &self.slot));
            if calls.is_empty() {
                table.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::Tenant;

    #[test]
    fn a_cancel_reaches_only_the_call_of_its_own_scope() {
        let calls = Arc::new(InFlight::default());
        let a = Scope::Session("mcp:a".into());
        let b = Scope::Session("mcp:b".into());
        let stop_a = CancellationToken::new();
        let stop_b = CancellationToken::new();
        let ra = calls
            .register(a.clone(), "1".into(), stop_a.clone())
            .unwrap();
        let rb = calls
            .register(b.clone(), "1".into(), stop_b.clone())
            .unwrap();

        assert!(calls.cancel(&b, "1", Cancellation::Abort));
        assert!(stop_b.is_cancelled());
        assert!(!stop_a.is_cancelled(), "session a's call 1 must go on");
        assert_eq!(rb.cancellation(), Some(Cancellation::Abort));
        assert_eq!(ra.cancellation(), None);
        let other_tenant = Scope::Tenant(Tenant::local());
        assert!(!calls.cancel(&other_tenant, "1", Cancellation::Abort));
    }

    #[test]
    fn stateless_clients_of_one_tenant_may_share_an_id_and_an_ambiguous_cancel_stops_neither() {
        let calls = Arc::new(InFlight::default());
        let s = Scope::Tenant(Tenant::local());
        let (one, two) = (CancellationToken::new(), CancellationToken::new());
        let r1 = calls.register(s.clone(), "1".into(), one.clone()).unwrap();
        let r2 = calls.register(s.clone(), "1".into(), two.clone()).unwrap();
        assert!(!calls.cancel(&s, "1", Cancellation::Abort));
        assert!(!one.is_cancelled() && !two.is_cancelled());
        drop(r1);
        assert!(
            calls.cancel(&s, "1", Cancellation::Abort),
            "once alone, it is unambiguous"
        );
        assert!(two.is_cancelled());
        drop(r2);
        assert!(calls.lock().is_empty());
    }

    #[test]
    fn a_request_id_in_use_is_refused_and_freed_when_its_call_ends() {
        let calls = Arc::new(InFlight::default());
        let s = Scope::Stdio;
        let first = calls
            .register(s.clone(), "7".into(), CancellationToken::new())
            .unwrap();
        assert!(
            calls
                .register(s.clone(), "7".into(), CancellationToken::new())
                .is_err()
        );
        drop(first);
        assert!(
            calls
                .register(s, "7".into(), CancellationToken::new())
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancellation_that_never_arrives_reads_as_a_closed_stream() {
        let calls = Arc::new(InFlight::default());
        let r = calls
            .register(Scope::Stdio, "1".into(), CancellationToken::new())
            .unwrap();
        assert_eq!(r.settled_cancellation().await, Cancellation::StreamClosed);
        calls.cancel(&Scope::Stdio, "1", Cancellation::ClientTimeout);
        assert_eq!(r.settled_cancellation().await, Cancellation::ClientTimeout);
    }
}

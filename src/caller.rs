//! Who is calling, and why a call was cancelled: the typed facts a transport draws from its
//! requests (`transport::caller` over HTTP; the defaults over stdio) and the tools and jobs
//! act on. Nothing here reads headers or knows a transport.
//!
//! Two facts are drawn about a caller: the *tenant* whose jobs, kept images and saved files it
//! may see, and the *scope* its request ids are unique in (so one client's
//! `notifications/cancelled` can only ever reach its own calls). Sessions are deliberately not
//! tenants: a legacy SSE client that reconnects, or a 2025 client whose session expired, must
//! still collect the images it paid for with the job id it holds.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use secrecy::SecretString;

/// An opaque tenant identity. Keys and tokens are never kept, only a keyed hash of them, so a
/// job table dump reveals nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant(String);

impl Tenant {
    /// The single operator of a stdio server or of an HTTP server without tokens or caller keys.
    pub fn local() -> Tenant {
        Tenant("local".to_owned())
    }

    #[cfg(test)]
    pub fn named(name: &str) -> Tenant {
        Tenant(name.to_owned())
    }

    /// The tenant a secret (`kind`: "key" or "token") stands for.
    pub fn of_secret(kind: &str, secret: &str) -> Tenant {
        Tenant::keyed(tenant_key(), kind, secret)
    }

    fn keyed(key: &[u8; 32], kind: &str, secret: &str) -> Tenant {
        let mut h = Sha256::new();
        h.update(key);
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(secret.as_bytes());
        let digest = h.finalize();
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Tenant(format!("{kind}:{hex}"))
    }

    /// The opaque form a job store keeps.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where request ids are unique: one stdio connection, one HTTP session, or (stateless HTTP,
/// which has no sessions) the tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Stdio,
    Session(String),
    Tenant(Tenant),
}

/// Whose upstream key pays for a call.
#[derive(Debug, Clone)]
pub enum Payer {
    /// The server's key (the only choice over stdio, or when callers may not bring keys).
    Server,
    /// The caller's own key, used for this call only and never logged.
    Own(SecretString),
    /// The caller must bring its own key and sent none: the call is refused.
    Missing,
}

/// What the tools know about the caller of one request.
#[derive(Debug, Clone)]
pub struct CallerContext {
    pub tenant: Tenant,
    pub scope: Scope,
    pub payer: Payer,
}

impl CallerContext {
    /// The local operator over stdio, or any request a transport said nothing about.
    pub fn local() -> CallerContext {
        CallerContext {
            tenant: Tenant::local(),
            scope: Scope::Stdio,
            payer: Payer::Server,
        }
    }
}

/// Why a call's request ended before its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// An explicit cancel: stop the call and drop its upstream request.
    Abort,
    /// The client only stopped waiting (its timeout): the call goes on and its images are kept.
    ClientTimeout,
    /// The request's stream closed and no cancellation named it: a timeout, a dropped
    /// connection, or a 2026-07-28 client's abort, which cannot be told apart.
    StreamClosed,
}

impl Cancellation {
    /// Reads a `notifications/cancelled` reason: clients name their timeouts (rmcp: "request
    /// timeout"; the TypeScript SDK: "Request timed out"); anything else is a real cancel. The
    /// one place the SDKs' wording is matched.
    pub fn from_reason(reason: Option<&str>) -> Cancellation {
        let r = reason.unwrap_or_default().to_ascii_lowercase();
        if r.contains("timeout") || r.contains("timed out") {
            Cancellation::ClientTimeout
        } else {
            Cancellation::Abort
        }
    }

    /// Whether the job outlives its cancelled call, for `get_job`: a closed stream before
    /// anything was sent costs nothing to stop; after, the images may be billed, so they are kept.
    pub fn keeps_job(self, sent_upstream: bool) -> bool {
        match self {
            Cancellation::Abort => false,
            Cancellation::ClientTimeout => true,
            Cancellation::StreamClosed => sent_upstream,
        }
    }
}

static TENANT_KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// The secret key tenants are hashed with, so a tenant's hash cannot be predicted or matched
/// without it. Random per process, unless a durable job store supplied its own (kept in the
/// store, so a restarted server still matches the owners of the jobs it recorded; whoever can
/// read the store file can read its jobs anyway).
fn tenant_key() -> &'static [u8; 32] {
    if let Some(key) = TENANT_KEY.get() {
        return key;
    }
    if let Some(open_store) = KEY_FROM_STORE.get() {
        // Opening the store adopts its key (or, failing that, a fresh one).
        open_store();
    }
    TENANT_KEY.get_or_init(fresh_tenant_key)
}

/// Opens the durable store that holds the tenant key, when there is one: tenants are then
/// hashed with the store's key, never with one the store's would contradict.
static KEY_FROM_STORE: OnceLock<Box<dyn Fn() + Send + Sync>> = OnceLock::new();

/// The tenant key lives in a store that `open_store` opens (and that then calls
/// [`adopt_tenant_key`]); the first tenant hashed opens it. The first store named wins.
pub fn tenant_key_from_store(open_store: impl Fn() + Send + Sync + 'static) {
    let _ = KEY_FROM_STORE.set(Box::new(open_store));
}

/// Two v4 UUIDs: 244 random bits from the OS.
pub fn fresh_tenant_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    let (a, b) = key.split_at_mut(16);
    a.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    b.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    key
}

/// Uses `key` for tenant hashes from now on; false if another key is already in use (a second
/// server in one process), which then stays.
pub fn adopt_tenant_key(key: [u8; 32]) -> bool {
    TENANT_KEY.set(key).is_ok() || TENANT_KEY.get() == Some(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_keeps_the_job_going_and_a_plain_cancel_stops_it() {
        assert_eq!(
            Cancellation::from_reason(Some("request timeout")),
            Cancellation::ClientTimeout
        );
        assert_eq!(
            Cancellation::from_reason(Some("Request timed out")),
            Cancellation::ClientTimeout
        );
        assert_eq!(
            Cancellation::from_reason(Some("user aborted")),
            Cancellation::Abort
        );
        assert_eq!(Cancellation::from_reason(None), Cancellation::Abort);
        assert!(Cancellation::ClientTimeout.keeps_job(false));
        assert!(!Cancellation::Abort.keeps_job(true));
    }

    #[test]
    fn a_closed_stream_keeps_the_job_only_once_it_may_be_billed() {
        assert!(!Cancellation::StreamClosed.keeps_job(false));
        assert!(Cancellation::StreamClosed.keeps_job(true));
    }

    #[test]
    fn a_secret_names_a_tenant_without_being_kept() {
        let a = Tenant::of_secret("key", "sk-aaaa");
        assert_eq!(a, Tenant::of_secret("key", "sk-aaaa"));
        assert_ne!(a, Tenant::of_secret("token", "sk-aaaa"));
        assert!(!format!("{a:?}").contains("sk-aaaa"));
    }

    #[test]
    fn a_tenant_hash_depends_on_the_key_so_a_stored_key_matches_owners_after_a_restart() {
        let (k1, k2) = (fresh_tenant_key(), fresh_tenant_key());
        assert_ne!(k1, k2);
        assert_eq!(
            Tenant::keyed(&k1, "token", "t-1"),
            Tenant::keyed(&k1, "token", "t-1"),
            "the same key (a restarted server reading its store) names the same tenant"
        );
        assert_ne!(
            Tenant::keyed(&k1, "token", "t-1"),
            Tenant::keyed(&k2, "token", "t-1")
        );
        let current = *tenant_key();
        assert!(
            adopt_tenant_key(current),
            "the key in use is accepted again"
        );
        assert!(
            !adopt_tenant_key(k2),
            "a second key never replaces the one in use"
        );
    }
}

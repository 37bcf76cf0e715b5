//! Who is calling. Two facts are drawn from a request: the *tenant* whose jobs, kept images and
//! saved files it may see, and the *scope* its request ids are unique in (so one client's
//! `notifications/cancelled` can only ever reach its own calls).
//!
//! The tenant is the caller's own upstream key when it pays with one, else the bearer token it
//! authenticated with, else "local" (stdio, or loopback HTTP without a token: one operator).
//! Sessions are deliberately not tenants: a legacy SSE client that reconnects, or a 2025 client
//! whose session expired, must still collect the images it paid for with the job id it holds.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use axum::http::request::Parts;
use rmcp::model::Extensions;

/// The header a multi-tenant HTTP caller puts its own upstream key in.
pub const CALLER_KEY_HEADER: &str = "x-seedream-api-key";

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

    fn of_secret(kind: &str, secret: &str) -> Tenant {
        Tenant(format!("{kind}:{:016x}", hasher().hash_one(secret)))
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

/// What the tools know about the caller of one request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    pub scope: Scope,
}

impl Caller {
    /// Draws the caller from a request's extensions: over HTTP they hold the request's
    /// `http::request::Parts`; over stdio they hold nothing.
    pub fn of(extensions: &Extensions, caller_keys: bool) -> Caller {
        let Some(parts) = extensions.get::<Parts>() else {
            return Caller {
                tenant: Tenant::local(),
                scope: Scope::Stdio,
            };
        };
        let tenant = tenant_of(parts, caller_keys);
        let scope = session_of(parts)
            .map(Scope::Session)
            .unwrap_or_else(|| Scope::Tenant(tenant.clone()));
        Caller { tenant, scope }
    }
}

fn tenant_of(parts: &Parts, caller_keys: bool) -> Tenant {
    if caller_keys && let Some(key) = caller_key(parts) {
        return Tenant::of_secret("key", key);
    }
    match bearer(parts) {
        Some(token) => Tenant::of_secret("token", token),
        None => Tenant::local(),
    }
}

/// The caller's own upstream key, when sent.
pub fn caller_key(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(CALLER_KEY_HEADER)?.to_str().ok()?.trim();
    (!value.is_empty()).then_some(value)
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty()).then_some(token)
}

/// A streamable HTTP session (`Mcp-Session-Id`) or a legacy SSE session (`?sessionId=`).
fn session_of(parts: &Parts) -> Option<String> {
    if let Some(id) = parts
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        return Some(format!("mcp:{id}"));
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        matches!(name, "sessionId" | "session_id").then(|| format!("sse:{value}"))
    })
}

/// Keyed with random keys drawn at start, so a tenant's hash cannot be predicted or matched
/// from outside the process.
fn hasher() -> &'static std::collections::hash_map::RandomState {
    static HASHER: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    HASHER.get_or_init(std::collections::hash_map::RandomState::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Extensions {
        let mut builder = axum::http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let (parts, ()) = match builder.body(()) {
            Ok(request) => request.into_parts(),
            Err(e) => panic!("bad test request: {e}"),
        };
        let mut extensions = Extensions::new();
        extensions.insert(parts);
        extensions
    }

    #[test]
    fn stdio_has_one_local_caller() {
        let c = Caller::of(&Extensions::new(), true);
        assert_eq!(c.tenant, Tenant::local());
        assert_eq!(c.scope, Scope::Stdio);
    }

    #[test]
    fn callers_with_different_keys_are_different_tenants_and_the_key_is_not_kept() {
        let a = Caller::of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-aaaa")]), true);
        let b = Caller::of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-bbbb")]), true);
        let a2 = Caller::of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-aaaa")]), true);
        assert_ne!(a.tenant, b.tenant);
        assert_eq!(a.tenant, a2.tenant);
        assert!(!format!("{a:?}").contains("sk-aaaa"));
    }

    #[test]
    fn a_caller_key_is_ignored_unless_caller_keys_are_allowed() {
        let c = Caller::of(
            &parts(
                "/mcp",
                &[(CALLER_KEY_HEADER, "sk-a"), ("authorization", "Bearer t1")],
            ),
            false,
        );
        let t = Caller::of(&parts("/mcp", &[("authorization", "Bearer t1")]), false);
        assert_eq!(c.tenant, t.tenant);
    }

    #[test]
    fn request_ids_are_scoped_by_session_or_else_by_tenant() {
        let s1 = Caller::of(&parts("/mcp", &[("mcp-session-id", "s1")]), false);
        let s2 = Caller::of(&parts("/mcp", &[("mcp-session-id", "s2")]), false);
        assert_ne!(s1.scope, s2.scope);
        assert_eq!(s1.tenant, s2.tenant);
        let sse = Caller::of(&parts("/messages?sessionId=abc", &[]), false);
        assert_eq!(sse.scope, Scope::Session("sse:abc".into()));
        let stateless = Caller::of(&parts("/mcp", &[("authorization", "Bearer t")]), false);
        assert_eq!(stateless.scope, Scope::Tenant(stateless.tenant.clone()));
    }
}

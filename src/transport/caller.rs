//! Who is calling over HTTP, decided once per request from its headers and handed to the tools
//! as a [`CallerContext`] extension.
//!
//! The tenant is the caller's own upstream key when it may pay with one, else the bearer token
//! it authenticated with, else "local" (loopback HTTP without a token: one operator). The scope
//! is the streamable HTTP session (`Mcp-Session-Id`) or legacy SSE session (`?sessionId=`),
//! else the tenant (stateless HTTP).

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use rmcp::model::Extensions;
use secrecy::SecretString;

use crate::caller::{CallerContext, Payer, Scope, Tenant};

/// The header a multi-tenant HTTP caller puts its own upstream key in.
pub const CALLER_KEY_HEADER: &str = "x-seedream-api-key";

/// Whether HTTP callers pay with their own upstream key (`X-Seedream-Api-Key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKeys {
    /// The server's key pays for every call; the header is ignored.
    Off,
    /// Every call must bring its own key.
    Required,
    /// A call's own key pays when sent, else the server's key (an explicit operator choice).
    OrServerKey,
}

impl CallerKeys {
    /// The policy the two operator flags choose.
    pub fn new(allow_caller_keys: bool, server_key_fallback: bool) -> CallerKeys {
        match (allow_caller_keys, server_key_fallback) {
            (false, _) => CallerKeys::Off,
            (true, false) => CallerKeys::Required,
            (true, true) => CallerKeys::OrServerKey,
        }
    }
}

/// Middleware: puts the request's [`CallerContext`] in its extensions, where rmcp (inside the
/// `http::request::Parts` it passes on) and the legacy SSE transport carry it to the tools.
pub async fn identify(State(keys): State<CallerKeys>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = caller_of(&parts, keys);
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// The caller [`identify`] found, from the extensions of an rmcp request or notification;
/// `None` when the request did not come over HTTP.
pub fn from_extensions(extensions: &Extensions) -> Option<CallerContext> {
    extensions
        .get::<Parts>()
        .and_then(|parts| parts.extensions.get::<CallerContext>())
        .cloned()
}

/// Draws the caller from a request's head.
pub fn caller_of(parts: &Parts, keys: CallerKeys) -> CallerContext {
    let key = (keys != CallerKeys::Off)
        .then(|| caller_key(parts))
        .flatten();
    let tenant = match (key, bearer(parts)) {
        (Some(key), _) => Tenant::of_secret("key", key),
        (None, Some(token)) => Tenant::of_secret("token", token),
        (None, None) => Tenant::local(),
    };
    let payer = match (key, keys) {
        (Some(key), _) => Payer::Own(SecretString::from(key.to_owned())),
        (None, CallerKeys::Required) => Payer::Missing,
        (None, _) => Payer::Server,
    };
    let scope = session_of(parts)
        .map(Scope::Session)
        .unwrap_or_else(|| Scope::Tenant(tenant.clone()));
    CallerContext {
        tenant,
        scope,
        payer,
    }
}

/// The caller's own upstream key, when sent.
fn caller_key(parts: &Parts) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = axum::http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        match builder.body(()) {
            Ok(request) => request.into_parts().0,
            Err(e) => panic!("bad test request: {e}"),
        }
    }

    #[test]
    fn a_request_outside_http_has_no_caller_here_and_the_tools_use_the_local_one() {
        assert!(from_extensions(&Extensions::new()).is_none());
        let local = CallerContext::local();
        assert_eq!(local.tenant, Tenant::local());
        assert_eq!(local.scope, Scope::Stdio);
    }

    #[test]
    fn the_caller_travels_inside_the_request_head_rmcp_passes_on() {
        let mut head = parts("/mcp", &[("authorization", "Bearer t1")]);
        head.extensions.insert(caller_of(&head, CallerKeys::Off));
        let mut extensions = Extensions::new();
        extensions.insert(head);
        let caller = from_extensions(&extensions).map(|c| c.tenant);
        assert_eq!(caller, Some(Tenant::of_secret("token", "t1")));
    }

    #[test]
    fn callers_with_different_keys_are_different_tenants_and_pay_with_their_own_key() {
        let keys = CallerKeys::Required;
        let a = caller_of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-aaaa")]), keys);
        let b = caller_of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-bbbb")]), keys);
        let a2 = caller_of(&parts("/mcp", &[(CALLER_KEY_HEADER, "sk-aaaa")]), keys);
        assert_ne!(a.tenant, b.tenant);
        assert_eq!(a.tenant, a2.tenant);
        assert!(matches!(&a.payer, Payer::Own(k) if k.expose_secret() == "sk-aaaa"));
        assert!(!format!("{a:?}").contains("sk-aaaa"));
    }

    #[test]
    fn a_caller_key_is_ignored_unless_caller_keys_are_allowed() {
        let c = caller_of(
            &parts(
                "/mcp",
                &[(CALLER_KEY_HEADER, "sk-a"), ("authorization", "Bearer t1")],
            ),
            CallerKeys::Off,
        );
        let t = caller_of(
            &parts("/mcp", &[("authorization", "Bearer t1")]),
            CallerKeys::Off,
        );
        assert_eq!(c.tenant, t.tenant);
        assert!(matches!(c.payer, Payer::Server));
    }

    #[test]
    fn a_missing_key_is_refused_only_when_callers_must_bring_one() {
        let head = parts("/mcp", &[]);
        assert!(matches!(
            caller_of(&head, CallerKeys::Required).payer,
            Payer::Missing
        ));
        assert!(matches!(
            caller_of(&head, CallerKeys::OrServerKey).payer,
            Payer::Server
        ));
    }

    #[test]
    fn request_ids_are_scoped_by_session_or_else_by_tenant() {
        let off = CallerKeys::Off;
        let s1 = caller_of(&parts("/mcp", &[("mcp-session-id", "s1")]), off);
        let s2 = caller_of(&parts("/mcp", &[("mcp-session-id", "s2")]), off);
        assert_ne!(s1.scope, s2.scope);
        assert_eq!(s1.tenant, s2.tenant);
        let sse = caller_of(&parts("/messages?sessionId=abc", &[]), off);
        assert_eq!(sse.scope, Scope::Session("sse:abc".into()));
        let stateless = caller_of(&parts("/mcp", &[("authorization", "Bearer t")]), off);
        assert_eq!(stateless.scope, Scope::Tenant(stateless.tenant.clone()));
    }
}

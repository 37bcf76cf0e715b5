//! Host and Origin checks against DNS rebinding for every HTTP endpoint. rmcp checks `/mcp`
//! itself; the legacy SSE endpoints are ours, so the same rules are applied to all routes here
//! from one list, and both layers agree.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header, uri::Authority};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Which `Host` and `Origin` values a request may carry.
#[derive(Debug, Clone)]
pub struct Allowed {
    hosts: Vec<(String, Option<u16>)>,
    origins: Vec<OriginRule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct OriginRule {
    scheme: String,
    host: String,
    /// `None` matches any port (`http://localhost:*`, or an entry written without one).
    port: Option<u16>,
}

/// The hosts a loopback listener answers to when none are configured.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl Allowed {
    /// `hosts` like `example.com` or `example.com:8443`; `origins` like `https://app.example.com`
    /// or `http://localhost:*`. Entries that do not parse are ignored (and so allow nothing).
    pub fn new(hosts: &[String], origins: &[String]) -> Self {
        Allowed {
            hosts: hosts.iter().filter_map(|h| parse_authority(h)).collect(),
            origins: origins
                .iter()
                .filter_map(|o| parse_origin_rule(o))
                .collect(),
        }
    }

    /// Why a request must be refused, if it must.
    pub fn refusal(&self, uri: &Uri, headers: &HeaderMap) -> Option<&'static str> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(Authority::as_str))
            .and_then(parse_authority);
        let Some((host, port)) = host else {
            return Some("Forbidden: missing or malformed Host header");
        };
        let host_ok = self
            .hosts
            .iter()
            .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port));
        if !host_ok {
            return Some("Forbidden: Host header is not allowed");
        }
        // Requests without an Origin come from non-browser clients, which DNS rebinding cannot
        // drive.
        let origin = headers.get(header::ORIGIN)?;
        let origin_ok =
            origin
                .to_str()
                .ok()
                .and_then(parse_origin)
                .is_some_and(|(scheme, host, port)| {
                    self.origins.iter().any(|rule| {
                        rule.scheme == scheme
                            && rule.host == host
                            && rule.port.is_none_or(|p| p == port)
                    })
                });
        (!origin_ok).then_some("Forbidden: Origin header is not allowed")
    }
}

/// Middleware: 403 for a spoofed Host or a foreign Origin.
pub async fn check(State(allowed): State<Arc<Allowed>>, request: Request, next: Next) -> Response {
    if let Some(reason) = allowed.refusal(request.uri(), request.headers()) {
        tracing::warn!(reason, "refused a request (possible DNS rebinding)");
        return (StatusCode::FORBIDDEN, reason).into_response();
    }
    next.run(request).await
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

fn parse_authority(raw: &str) -> Option<(String, Option<u16>)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.parse::<Authority>() {
        Ok(a) => Some((normalize_host(a.host()), a.port_u16())),
        // A bare IPv6 address (`::1`) is not an authority without brackets.
        Err(_) => Some((normalize_host(raw), None)),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `scheme://host[:port]` with the scheme's default port filled in.
fn parse_origin(raw: &str) -> Option<(String, String, u16)> {
    let uri = raw.trim().parse::<Uri>().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    let port = authority.port_u16().or_else(|| default_port(&scheme))?;
    Some((scheme, normalize_host(authority.host()), port))
}

fn parse_origin_rule(raw: &str) -> Option<OriginRule> {
    let raw = raw.trim();
    let (base, any_port) = match raw.strip_suffix(":*") {
        Some(base) => (base, true),
        None => (raw, false),
    };
    let uri = base.parse::<Uri>().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let authority = uri.authority()?;
    Some(OriginRule {
        scheme,
        host: normalize_host(authority.host()),
        port: if any_port { None } else { authority.port_u16() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn allowed() -> Allowed {
        Allowed::new(
            &LOOPBACK_HOSTS.map(String::from),
            &[
                "http://localhost:*".to_owned(),
                "https://app.example.com".to_owned(),
            ],
        )
    }

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn loopback_hosts_on_any_port_pass_without_an_origin() {
        let uri = Uri::from_static("/sse");
        for host in ["localhost:8787", "127.0.0.1:1", "[::1]:9000", "LOCALHOST"] {
            assert_eq!(
                allowed().refusal(&uri, &headers(host, None)),
                None,
                "{host}"
            );
        }
    }

    #[test]
    fn a_spoofed_host_is_refused() {
        let uri = Uri::from_static("/sse");
        assert!(
            allowed()
                .refusal(&uri, &headers("evil.example:8787", None))
                .is_some()
        );
    }

    #[test]
    fn only_listed_origins_pass() {
        let uri = Uri::from_static("/sse");
        let ok = [
            "http://localhost:3000",
            "https://app.example.com",
            "https://app.example.com:443",
        ];
        for origin in ok {
            assert_eq!(
                allowed().refusal(&uri, &headers("localhost", Some(origin))),
                None,
                "{origin}"
            );
        }
        let refused = [
            "https://evil.example",
            "null",
            "http://app.example.com",
            "garbage",
        ];
        for origin in refused {
            assert!(
                allowed()
                    .refusal(&uri, &headers("localhost", Some(origin)))
                    .is_some(),
                "{origin}"
            );
        }
    }
}

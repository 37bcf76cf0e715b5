//! The guard against fetching from the operator's own network (SSRF): which addresses count as
//! public, and a resolver that connects only to those.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::http::{SetupError, build_http};

/// Whether an address is on the public internet: not loopback, private (RFC 1918), link-local,
/// unspecified, CGNAT (100.64/10), ULA (fc00::/7), multicast or broadcast, including IPv4 ones
/// written as IPv6 (mapped, compatible, NAT64).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let segments = v6.segments();
            let [first, second, ..] = segments;
            // 64:ff9b::/96 (NAT64) and ::/96 (IPv4-compatible) carry an IPv4 address.
            let embedded = || {
                let octets = v6.octets();
                Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15])
            };
            if (first == 0x64 && second == 0xff9b && segments[2..6] == [0; 4])
                || segments[..6] == [0; 6]
            {
                return !v6.is_unspecified() && !v6.is_loopback() && is_public_v4(embedded());
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0)
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (b & 0xc0) == 64)
        || (a == 198 && (b & 0xfe) == 18))
}

/// Resolves as the system does and keeps only public addresses, at connect time: a name that
/// answers with a public address when checked and a private one when connected (DNS
/// rebinding) cannot slip through, because the addresses checked are the ones connected to.
#[derive(Debug)]
struct PublicOnly {
    /// Proxy hosts from the environment: the proxy may be local, and then it resolves the
    /// image host itself.
    proxies: Vec<String>,
}

/// A name resolved only to non-public addresses.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to non-public addresses")]
pub(crate) struct PrivateName {
    pub(crate) host: String,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let trusted = self.proxies.iter().any(|p| p.eq_ignore_ascii_case(&host));
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| trusted || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(Box::new(PrivateName { host }) as _);
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

fn proxy_hosts() -> Vec<String> {
    [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .filter_map(|value| {
        let value = if value.contains("://") {
            value
        } else {
            format!("http://{value}")
        };
        Url::parse(&value).ok()?.host_str().map(str::to_owned)
    })
    .collect()
}

/// The HTTP client for downloads from anywhere but the upstream's own origin.
pub(crate) fn build_public_http(connect_timeout: Duration) -> Result<reqwest::Client, SetupError> {
    build_http(connect_timeout, |b| {
        b.dns_resolver(PublicOnly {
            proxies: proxy_hosts(),
        })
    })
}

/// `(scheme, host, port)`, the parts that make an origin.
pub(super) fn origin(url: &Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_recognised_in_every_spelling() {
        for ip in [
            "127.0.0.1",
            "127.9.9.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} must not count as public");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} is public");
        }
    }
}

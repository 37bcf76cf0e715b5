//! Fetching generated images from their signed URLs: the URL exactly as received, no auth
//! header, a size cap, bounded retries (downloads are free and idempotent), and never from a
//! loopback or private address unless that is where the upstream itself lives: the URL comes
//! from the upstream, and a hostile one must not turn this server into a proxy into the
//! operator's network (SSRF).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::client::{Client, SetupError, build_http, root_cause};

/// Limits for one download.
#[derive(Debug, Clone)]
pub struct DownloadPolicy {
    /// Largest image accepted (a 4K PNG is up to ~30 MB).
    pub max_bytes: u64,
    pub attempts: u32,
    pub timeout: Duration,
    /// Delay before the first retry; doubles.
    pub backoff: Duration,
    /// Fetch from loopback, private, link-local and similar addresses too
    /// (`SEEDREAM_DOWNLOAD_ALLOW_PRIVATE`): for an upstream whose image host is on the
    /// operator's own network.
    pub allow_private: bool,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            max_bytes: 64 * 1024 * 1024,
            attempts: 3,
            timeout: Duration::from_secs(60),
            backoff: Duration::from_millis(500),
            allow_private: false,
        }
    }
}

/// What to do about a transient download failure: the generation itself succeeded.
const LATER: &str = "the link stays valid for 24 hours, so fetch it again later";

/// Why an image could not be fetched. The URL itself stays valid to report. Bodies of failed
/// downloads are never quoted: they come from a host the upstream chose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "the image host refused the link (HTTP {status}, {content_type}); signed links break when re-encoded or \
         truncated and expire after 24 hours"
    )]
    Refused { status: u16, content_type: String },
    #[error("the image host answered HTTP {status} ({content_type}); {LATER}")]
    Failed { status: u16, content_type: String },
    #[error(
        "the image host answered HTTP {status} with {content_type} instead of an image; the link is returned \
         as received"
    )]
    NotImage { status: u16, content_type: String },
    #[error(
        "the image was not downloaded: {host} is a loopback, private or link-local address, which this server \
         does not fetch from unless it is the image API's own address (an operator can allow it with \
         SEEDREAM_DOWNLOAD_ALLOW_PRIVATE=true); the link is returned as received"
    )]
    Private { host: String },
    #[error(
        "the image is larger than the {max} byte download limit; raise SEEDREAM_DOWNLOAD_MAX_MB or fetch the link directly"
    )]
    TooLarge { max: u64 },
    #[error("the download did not finish in {0:?}; {LATER}")]
    Timeout(Duration),
    #[error("the download failed: {0}; {LATER}")]
    Network(String),
}

impl DownloadError {
    fn is_transient(&self) -> bool {
        match self {
            DownloadError::Failed { status, .. } => *status == 429 || *status >= 500,
            DownloadError::Timeout(_) | DownloadError::Network(_) => true,
            DownloadError::Refused { .. }
            | DownloadError::NotImage { .. }
            | DownloadError::Private { .. }
            | DownloadError::TooLarge { .. } => false,
        }
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918), link-local,
/// unspecified, CGNAT (100.64/10), ULA (fc00::/7), multicast or broadcast, including IPv4 ones
/// written as IPv6 (mapped, compatible, NAT64).
pub fn is_public(ip: IpAddr) -> bool {
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
struct PrivateName {
    host: String,
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
pub(super) fn build_public_http(connect_timeout: Duration) -> Result<reqwest::Client, SetupError> {
    build_http(connect_timeout, |b| {
        b.dns_resolver(PublicOnly {
            proxies: proxy_hosts(),
        })
    })
}

/// `(scheme, host, port)`, the parts that make an origin.
fn origin(url: &Url) -> Option<(String, String, u16)> {
    Some((
        url.scheme().to_owned(),
        url.host_str()?.to_ascii_lowercase(),
        url.port_or_known_default()?,
    ))
}

impl Client {
    /// Downloads `url` as given. Never sends the API key.
    pub async fn download(
        &self,
        url: &str,
        policy: &DownloadPolicy,
    ) -> Result<Vec<u8>, DownloadError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.download_once(url, policy).await {
                Ok(bytes) => return Ok(bytes),
                Err(e) if e.is_transient() && attempt < policy.attempts => {
                    tracing::warn!(error = %e, attempt, "retrying download");
                    tokio::time::sleep(policy.backoff.saturating_mul(1 << (attempt - 1).min(8)))
                        .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn download_once(
        &self,
        url: &str,
        policy: &DownloadPolicy,
    ) -> Result<Vec<u8>, DownloadError> {
        let network = |e: reqwest::Error| {
            if e.is_timeout() {
                DownloadError::Timeout(policy.timeout)
            } else if let Some(private) = find_source::<PrivateName>(&e) {
                DownloadError::Private {
                    host: private.host.clone(),
                }
            } else {
                DownloadError::Network(root_cause(&e))
            }
        };
        let http = self.http_for(url, policy)?;
        let mut response = http
            .get(url)
            .timeout(policy.timeout)
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(100).collect::<String>())
            .unwrap_or_else(|| "no content type".to_owned());
        if !(200..300).contains(&status) {
            return Err(if matches!(status, 401 | 403 | 404) {
                DownloadError::Refused {
                    status,
                    content_type,
                }
            } else {
                DownloadError::Failed {
                    status,
                    content_type,
                }
            });
        }
        let lower = content_type.to_ascii_lowercase();
        if lower.starts_with("text/") || lower.contains("json") || lower.contains("xml") {
            return Err(DownloadError::NotImage {
                status,
                content_type,
            });
        }
        if response
            .content_length()
            .is_some_and(|n| n > policy.max_bytes)
        {
            return Err(DownloadError::TooLarge {
                max: policy.max_bytes,
            });
        }
        let capacity = response.content_length().unwrap_or(0).min(policy.max_bytes);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if bytes.len() as u64 + chunk.len() as u64 > policy.max_bytes {
                return Err(DownloadError::TooLarge {
                    max: policy.max_bytes,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// The client to fetch `url` with: the plain one for the upstream's own origin (the
    /// fake API on loopback, a gateway serving its own images) or when the operator allows
    /// private addresses; otherwise the one that refuses them.
    fn http_for(
        &self,
        url: &str,
        policy: &DownloadPolicy,
    ) -> Result<&reqwest::Client, DownloadError> {
        let setup = |e: SetupError| DownloadError::Network(e.to_string());
        let parsed = Url::parse(url)
            .map_err(|e| DownloadError::Network(format!("the link is not a valid URL ({e})")))?;
        let same_origin = Url::parse(self.base_url())
            .ok()
            .and_then(|base| origin(&base))
            .is_some_and(|base| origin(&parsed).as_ref() == Some(&base));
        if policy.allow_private || same_origin {
            return self.http().map_err(setup);
        }
        // Literal addresses are never resolved, so the resolver cannot check them.
        let host = parsed.host_str().unwrap_or_default();
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        if let Some(ip) = literal
            && !is_public(ip)
        {
            return Err(DownloadError::Private {
                host: host.to_owned(),
            });
        }
        self.public_http().map_err(setup)
    }
}

/// The first error of type `T` in `e`'s chain.
fn find_source<'e, T: std::error::Error + 'static>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
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

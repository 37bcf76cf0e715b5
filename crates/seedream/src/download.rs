//! Fetching generated images from their signed URLs: the URL exactly as received, no auth
//! header, a size cap, bounded retries (downloads are free and idempotent), and never from a
//! loopback or private address unless that is where the upstream itself lives: the URL comes
//! from the upstream, and a hostile one must not turn the caller into a proxy into its own
//! network (SSRF).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

use crate::client::Client;
use crate::http::{SetupError, find_source, root_cause};
use crate::retry;

mod public;

pub(crate) use public::build_public_http;
use public::{PrivateName, is_public, origin};

/// Limits for one download.
#[derive(Debug, Clone)]
pub struct DownloadPolicy {
    /// Largest image accepted (a 4K PNG is up to ~30 MB).
    pub max_bytes: u64,
    /// Attempts in all, the first one included; only transient failures are retried.
    pub attempts: u32,
    /// For the whole of one attempt.
    pub timeout: Duration,
    /// Delay before the first retry; doubles.
    pub backoff: Duration,
    /// Fetch from loopback, private, link-local and similar addresses too: for an upstream
    /// whose image host is on the operator's own network.
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

impl DownloadPolicy {
    /// The wait before retry number `retry` (0 = the first), or `None` to give up.
    fn delay_after(&self, error: &DownloadError, retry: u32) -> Option<Duration> {
        (error.is_transient() && retry + 1 < self.attempts)
            .then(|| self.backoff.saturating_mul(1 << retry.min(8)))
    }
}

/// What to do about a transient download failure: the generation itself succeeded.
const LATER: &str = "the link stays valid for 24 hours, so fetch it again later";

/// Why an image could not be fetched. The URL itself stays valid to report. Bodies of failed
/// downloads are never quoted: they come from a host the upstream chose.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    /// 401, 403 or 404: the link itself is wrong or expired.
    #[error(
        "the image host refused the link (HTTP {status}, {content_type}); signed links break when re-encoded or \
         truncated and expire after 24 hours"
    )]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The answer's content type.
        content_type: String,
    },
    /// Another non-2xx status.
    #[error("the image host answered HTTP {status} ({content_type}); {LATER}")]
    Failed {
        /// The HTTP status.
        status: u16,
        /// The answer's content type.
        content_type: String,
    },
    /// A text, JSON or XML answer where an image belongs.
    #[error(
        "the image host answered HTTP {status} with {content_type} instead of an image; the link is returned \
         as received"
    )]
    NotImage {
        /// The HTTP status.
        status: u16,
        /// The answer's content type.
        content_type: String,
    },
    /// The host is not on the public internet, and neither the upstream's own origin nor
    /// allowed by [`DownloadPolicy::allow_private`].
    #[error(
        "the image was not downloaded: {host} is a loopback, private or link-local address, which is not \
         fetched from unless it is the image API's own address or `DownloadPolicy::allow_private` is set; \
         the link is returned as received"
    )]
    Private {
        /// The host as the link names it.
        host: String,
    },
    /// Larger than [`DownloadPolicy::max_bytes`].
    #[error("the image is larger than the {max} byte download limit")]
    TooLarge {
        /// The limit in bytes.
        max: u64,
    },
    /// [`DownloadPolicy::timeout`] passed.
    #[error("the download did not finish in {0:?}; {LATER}")]
    Timeout(Duration),
    /// The connection failed or broke.
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

impl Client {
    /// Downloads `url` as given. Never sends the API key.
    pub async fn download(
        &self,
        url: &str,
        policy: &DownloadPolicy,
    ) -> Result<Vec<u8>, DownloadError> {
        let attempt = || self.download_once(url, policy);
        let (bytes, _) =
            retry::run("download", attempt, |e, retry| policy.delay_after(e, retry)).await?;
        Ok(bytes)
    }

    async fn download_once(
        &self,
        url: &str,
        policy: &DownloadPolicy,
    ) -> Result<Vec<u8>, DownloadError> {
        let network = |e: reqwest::Error| network_error(&e, policy);
        let http = self.http_for(url, policy)?;
        let mut response = http
            .get(url)
            .timeout(policy.timeout)
            .send()
            .await
            .map_err(network)?;
        check_answer(&response)?;
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

/// The status and content type of an answer, as a refusal when they are not an image's.
fn check_answer(response: &reqwest::Response) -> Result<(), DownloadError> {
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
    Ok(())
}

fn network_error(e: &reqwest::Error, policy: &DownloadPolicy) -> DownloadError {
    if e.is_timeout() {
        DownloadError::Timeout(policy.timeout)
    } else if let Some(private) = find_source::<PrivateName>(e) {
        DownloadError::Private {
            host: private.host.clone(),
        }
    } else {
        DownloadError::Network(root_cause(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried_and_the_backoff_doubles() {
        let policy = DownloadPolicy::default();
        let timeout = DownloadError::Timeout(Duration::from_secs(1));
        assert_eq!(
            policy.delay_after(&timeout, 0),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            policy.delay_after(&timeout, 1),
            Some(Duration::from_millis(1000))
        );
        assert_eq!(
            policy.delay_after(&timeout, 2),
            None,
            "three attempts in all"
        );
        let refused = DownloadError::Refused {
            status: 403,
            content_type: "text/html".into(),
        };
        assert_eq!(policy.delay_after(&refused, 0), None);
    }
}

//! Fetching generated images from their signed URLs: the URL exactly as received, no auth
//! header, a size cap, and bounded retries (downloads are free and idempotent).

use std::time::Duration;

use super::client::{Client, root_cause};
use super::error::snippet;

/// Limits for one download.
#[derive(Debug, Clone)]
pub struct DownloadPolicy {
    /// Largest image accepted (a 4K PNG is up to ~30 MB).
    pub max_bytes: u64,
    pub attempts: u32,
    pub timeout: Duration,
    /// Delay before the first retry; doubles.
    pub backoff: Duration,
}

impl Default for DownloadPolicy {
    fn default() -> Self {
        DownloadPolicy {
            max_bytes: 64 * 1024 * 1024,
            attempts: 3,
            timeout: Duration::from_secs(60),
            backoff: Duration::from_millis(500),
        }
    }
}

/// What to do about a transient download failure: the generation itself succeeded.
const LATER: &str = "the link stays valid for 24 hours, so fetch it again later";

/// Why an image could not be fetched. The URL itself stays valid to report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "the image host refused the link (HTTP {status}: {snippet}); signed links break when re-encoded or truncated \
         and expire after 24 hours"
    )]
    Refused { status: u16, snippet: String },
    #[error("the image host answered HTTP {status}: {snippet}; {LATER}")]
    Failed { status: u16, snippet: String },
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
            DownloadError::Refused { .. } | DownloadError::TooLarge { .. } => false,
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
            } else {
                DownloadError::Network(root_cause(&e))
            }
        };
        let mut response = self
            .http()
            .map_err(|e| DownloadError::Network(e.to_string()))?
            .get(url)
            .timeout(policy.timeout)
            .send()
            .await
            .map_err(network)?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let body = response.bytes().await.unwrap_or_default();
            let snippet = snippet(&body);
            return Err(if matches!(status, 401 | 403 | 404) {
                DownloadError::Refused { status, snippet }
            } else {
                DownloadError::Failed { status, snippet }
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
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
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
}

//! The HTTP client for `POST {base}/images/generations`: auth, timeouts, retries, decoding.
//!
//! - `limits`: how long to wait and how large an answer may be, from the request.
//! - `attempt`: one request and the reading of its answer.
//! - `answer`: what is done with a read answer (extra positions, redaction, no image).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use secrecy::SecretString;

use crate::error::Error;
use crate::http::{SetupError, build_http};
use crate::redact::Redactor;
use crate::retry::{self, Failure, RetryPolicy};
use crate::stream::Observer;
use crate::types::{ImageRequest, ImagesResponse};

mod answer;
mod attempt;
mod limits;

use attempt::{Call, FailedAttempt};
pub(crate) use limits::AnswerLimits;
pub use limits::Timeouts;

/// Everything needed to talk to one upstream.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Including the version prefix: `https://api.cometapi.com/v1`,
    /// `https://ark.cn-beijing.volces.com/api/v3`.
    pub base_url: String,
    /// The bearer key; a call may bring its own instead ([`Client::generate_observed`]).
    pub api_key: Option<SecretString>,
    /// When to send a failed request again.
    pub retry: RetryPolicy,
    /// How long to wait.
    pub timeouts: Timeouts,
}

/// A successful generation: at least one image, possibly with per-item failures.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The answer, with positions beyond what the request allows dropped.
    pub response: ImagesResponse,
    /// The upstream's request id, when its headers carried one.
    pub request_id: Option<String>,
    /// How many requests were sent, retries included.
    pub attempts: u32,
    /// What the caller should know about the answer itself (e.g. extra images ignored).
    pub notes: Vec<String>,
}

/// The Seedream client. Cheap to clone: the connection pool is shared.
#[derive(Debug, Clone)]
pub struct Client {
    /// Built on first use: loading the platform's root certificates costs a few milliseconds
    /// and about a megabyte, which a server started only to list its tools never needs.
    http: Arc<OnceLock<Result<reqwest::Client, SetupError>>>,
    /// For downloads from other origins: refuses non-public addresses at connect time.
    public_http: Arc<OnceLock<Result<reqwest::Client, SetupError>>>,
    connect_timeout: Duration,
    endpoint: String,
    base_url: String,
    api_key: Option<SecretString>,
    retry: RetryPolicy,
    timeouts: Timeouts,
}

impl Client {
    /// Prepares a client; the HTTP client itself is built by the first request.
    pub fn new(config: ClientConfig) -> Result<Client, SetupError> {
        let base_url = config.base_url.trim_end_matches('/').to_owned();
        Ok(Client {
            http: Arc::default(),
            public_http: Arc::default(),
            connect_timeout: config.timeouts.connect,
            endpoint: format!("{base_url}/images/generations"),
            base_url,
            api_key: config.api_key,
            retry: config.retry,
            timeouts: config.timeouts,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether a key is configured (a call may still bring its own).
    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The shared HTTP client, for downloads that need no auth; built on the first call.
    pub(crate) fn http(&self) -> Result<&reqwest::Client, SetupError> {
        self.http
            .get_or_init(|| build_http(self.connect_timeout, |b| b))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The HTTP client for image hosts other than the upstream's origin.
    pub(crate) fn public_http(&self) -> Result<&reqwest::Client, SetupError> {
        self.public_http
            .get_or_init(|| crate::download::build_public_http(self.connect_timeout))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Sends the request, retrying what is safe to retry.
    pub async fn generate(&self, request: &ImageRequest) -> Result<Generation, Error> {
        self.generate_observed(request, &|_| {}, None).await
    }

    /// Like [`Client::generate`], telling `observe` about each image of a streamed answer.
    /// `caller_key`, when given, is used for this request instead of the configured key.
    pub async fn generate_observed(
        &self,
        request: &ImageRequest,
        observe: Observer<'_>,
        caller_key: Option<&SecretString>,
    ) -> Result<Generation, Error> {
        let key = caller_key
            .or(self.api_key.as_ref())
            .ok_or(Error::MissingApiKey)?;
        // Both keys, whichever was sent: an upstream may echo either.
        let redactor = Redactor::new(caller_key.into_iter().chain(self.api_key.as_ref()));
        let body = serde_json::to_vec(request).map_err(|e| Error::Decode {
            reason: e.to_string(),
            snippet: String::new(),
        })?;
        let call = Call {
            body: &body,
            key,
            timeout: self.timeouts.for_request(request),
            sequence: request.max_outputs() > 1,
            limits: AnswerLimits::for_request(request),
            observe,
        };
        let started = std::time::Instant::now();
        let ((mut response, request_id), attempts) = retry::run(
            "generation",
            || async {
                let outcome = self.attempt(&call).await;
                outcome.map_err(|failed| FailedAttempt {
                    error: failed.error.redacted(&redactor),
                    retry_after: failed.retry_after,
                })
            },
            |failed: &FailedAttempt, retry| self.delay_after(failed, retry),
        )
        .await
        .map_err(|failed| failed.error)?;
        let notes = answer::keep_allowed(&mut response, call.limits.images);
        answer::redact_response(&mut response, &redactor);
        let response = answer::with_images(response, request_id.as_deref())
            .map_err(|e| e.redacted(&redactor))?;
        tracing::info!(
            attempts,
            request_id = request_id.as_deref().unwrap_or(""),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "generation answered"
        );
        Ok(Generation {
            response,
            request_id,
            attempts,
            notes,
        })
    }

    /// The policy's wait before retry number `retry`, with fresh jitter.
    fn delay_after(&self, failed: &FailedAttempt, retry: u32) -> Option<Duration> {
        let failure = Failure {
            error: &failed.error,
            retry_after: failed.retry_after,
        };
        self.retry.next_delay(failure, retry, fastrand::f64())
    }
}

//! The HTTP client for `POST {base}/images/generations`: auth, timeouts, retries, decoding.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use super::error::{Error, decode_error_body, find_known_code, request_id_in, snippet};
use super::redact::Redactor;
use super::retry::{Failure, RetryPolicy, parse_retry_after};
use super::stream::{Assembler, Event, Observer, StreamLimits};
use super::types::{ImageItem, ImageRequest, ImagesResponse, ItemError, ResponseFormat};

/// How long to wait for the upstream (V25): generation is synchronous and slow.
#[derive(Debug, Clone)]
pub struct Timeouts {
    pub connect: Duration,
    /// For one 2K image.
    pub base: Duration,
    /// Added for each further image a sequence may produce.
    pub per_extra_image: Duration,
    /// Never wait longer than this.
    pub max: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(30),
            base: Duration::from_secs(180),
            per_extra_image: Duration::from_secs(45),
            max: Duration::from_secs(900),
        }
    }
}

impl Timeouts {
    /// The read timeout for one request, grown with its image count and size.
    pub fn for_request(&self, request: &ImageRequest) -> Duration {
        let extra = request.max_outputs().saturating_sub(1);
        let pixels = requested_pixels(request);
        // 3K takes about 1.6x and 4K about 2.4x as long as 2K (seedream-api.md M14).
        let factor = (pixels as f64 / (4u64 << 20) as f64).clamp(1.0, 2.4);
        (self.base + self.per_extra_image * extra)
            .mul_f64(factor)
            .min(self.max)
    }
}

/// About how many pixels one image of `request` has.
fn requested_pixels(request: &ImageRequest) -> u64 {
    match request.size {
        Some(super::size::Size::Pixels { width, height }) => u64::from(width) * u64::from(height),
        Some(super::size::Size::Preset(p)) => match p {
            super::size::Preset::OneK => 1 << 20,
            super::size::Preset::TwoK => 4 << 20,
            super::size::Preset::ThreeK => 9 << 20,
            super::size::Preset::FourK => 16 << 20,
        },
        None => 4 << 20,
    }
}

/// JSON around the images (model, created, usage, ids), with room to spare.
const ENVELOPE_BYTES: u64 = 64 * 1024;
/// One `url` item: a signed URL is about 1 KB.
const URL_ITEM_BYTES: u64 = 64 * 1024;
/// How much of an error body is read. Envelopes are a few hundred bytes and only a 300-character
/// snippet is shown, so a gateway's 1.5 GB error page costs no more than this.
const ERROR_BODY_BYTES: usize = 64 * 1024;

/// How large an answer to `request` can legitimately be; anything past it is hostile or broken.
#[derive(Debug, Clone, Copy)]
struct AnswerLimits {
    /// Positions the request allows (successes and failures).
    images: u32,
    /// One image item: a `b64_json` holds the whole image.
    item_bytes: u64,
    /// The whole body.
    total_bytes: u64,
}

impl AnswerLimits {
    fn for_request(request: &ImageRequest) -> AnswerLimits {
        let images = request.max_outputs().max(1);
        let item_bytes = match request.response_format {
            ResponseFormat::Url => URL_ITEM_BYTES,
            // 5 bytes per pixel covers an uncompressed RGBA PNG (4) plus aspect-ratio rounding
            // of the preset; real JPEGs are a tenth of that. Base64 adds a third. So a 2K image
            // may take 29 MB and fifteen 4K images 1.7 GB: legitimate answers always fit, and a
            // hostile one is stopped at what the request could have produced.
            ResponseFormat::B64Json => {
                let raw = requested_pixels(request).max(1 << 20) * 5 + (1 << 20);
                raw.div_ceil(3) * 4 + ENVELOPE_BYTES
            }
        };
        AnswerLimits {
            images,
            item_bytes,
            total_bytes: item_bytes
                .saturating_mul(u64::from(images))
                .saturating_add(ENVELOPE_BYTES),
        }
    }

    fn stream(&self) -> StreamLimits {
        StreamLimits {
            images: self.images as usize,
            line_bytes: usize::try_from(self.item_bytes).unwrap_or(usize::MAX),
            // Event lines and usage frames around the data.
            total_bytes: self.total_bytes.saturating_add(ENVELOPE_BYTES),
        }
    }

    fn too_large(&self) -> Error {
        Error::TooLarge {
            limit: self.total_bytes,
            images: self.images,
        }
    }
}

/// Reads at most `limit` bytes of `response`. `Ok(None)` when the body is longer: the rest is
/// never read (the connection is dropped).
async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(
        response
            .content_length()
            .map_or(0, |n| n as usize)
            .min(limit),
    );
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > limit {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

/// Reads an error body up to [`ERROR_BODY_BYTES`]; a longer one is cut there.
async fn read_error_body(response: &mut reqwest::Response) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_BYTES.saturating_sub(bytes.len());
        bytes.extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or_default());
        if bytes.len() >= ERROR_BODY_BYTES {
            break;
        }
    }
    bytes
}

/// Everything needed to talk to one upstream.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Including the version prefix: `https://api.cometapi.com/v1`, `https://ark.cn-beijing.volces.com/api/v3`.
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub retry: RetryPolicy,
    pub timeouts: Timeouts,
}

/// A successful generation: at least one image, possibly with per-item failures.
#[derive(Debug, Clone)]
pub struct Generation {
    pub response: ImagesResponse,
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

pub(super) fn build_http(
    connect_timeout: Duration,
    customise: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client, SetupError> {
    customise(reqwest::Client::builder())
        .connect_timeout(connect_timeout)
        // A redirect means a wrong base URL; following it would turn the POST into a GET.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| SetupError(e.to_string()))
}

/// The client could not be built (TLS backend or proxy settings).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct SetupError(pub(super) String);

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

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn has_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The shared HTTP client, for downloads that need no auth; built on the first call.
    pub fn http(&self) -> Result<&reqwest::Client, SetupError> {
        self.http
            .get_or_init(|| build_http(self.connect_timeout, |b| b))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The HTTP client for image hosts other than the upstream's origin.
    pub(super) fn public_http(&self) -> Result<&reqwest::Client, SetupError> {
        self.public_http
            .get_or_init(|| super::download::build_public_http(self.connect_timeout))
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
        let timeout = self.timeouts.for_request(request);
        let sequence = request.max_outputs() > 1;
        let limits = AnswerLimits::for_request(request);
        let mut retry = 0;
        loop {
            let started = std::time::Instant::now();
            let outcome = self
                .attempt(&body, key, timeout, sequence, limits, observe)
                .await;
            match outcome {
                Ok((mut response, request_id)) => {
                    let notes = keep_allowed(&mut response, limits.images);
                    redact_response(&mut response, &redactor);
                    let outcome = with_images(response, request_id.as_deref())
                        .map_err(|e| e.redacted(&redactor));
                    let response = match outcome {
                        Ok(response) => response,
                        Err(error) => return Err(error),
                    };
                    tracing::info!(
                        attempts = retry + 1,
                        request_id = request_id.as_deref().unwrap_or(""),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "generation answered"
                    );
                    return Ok(Generation {
                        response,
                        request_id,
                        attempts: retry + 1,
                        notes,
                    });
                }
                Err((error, retry_after)) => {
                    let error = error.redacted(&redactor);
                    let failure = Failure {
                        error: &error,
                        retry_after,
                    };
                    match self.retry.next_delay(failure, retry, fastrand::f64()) {
                        Some(delay) => {
                            tracing::warn!(%error, retry = retry + 1, delay_ms = delay.as_millis() as u64, "retrying generation");
                            tokio::time::sleep(delay).await;
                            retry += 1;
                        }
                        None => return Err(error),
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        body: &[u8],
        key: &SecretString,
        timeout: Duration,
        sequence: bool,
        limits: AnswerLimits,
        observe: Observer<'_>,
    ) -> Result<(ImagesResponse, Option<String>), (Error, Option<Duration>)> {
        let http = self.http().map_err(|e| {
            let error = Error::Connect {
                base_url: self.base_url.clone(),
                reason: e.to_string(),
            };
            (error, None)
        })?;
        let mut response = http
            .post(&self.endpoint)
            .timeout(timeout)
            .header(AUTHORIZATION, format!("Bearer {}", key.expose_secret()))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| (self.transport_error(&e, timeout, sequence), None))?;

        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let request_id = header(&headers, "x-request-id").map(str::to_owned);
        let content_type = header(&headers, CONTENT_TYPE.as_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let retry_after = header(&headers, RETRY_AFTER.as_str()).and_then(parse_retry_after);
        if !(200..300).contains(&status) {
            let bytes = read_error_body(&mut response).await;
            return Err((
                decode_error_body(status, &content_type, &bytes, request_id.as_deref()),
                retry_after,
            ));
        }
        // Validation errors are never streamed, so only a 2xx can be a stream (seedream-api.md §7).
        if content_type.contains("event-stream") {
            let parsed = self
                .read_stream(response, timeout, sequence, limits, observe)
                .await?;
            return Ok((parsed, request_id));
        }
        let total = usize::try_from(limits.total_bytes).unwrap_or(usize::MAX);
        let bytes = read_capped(&mut response, total)
            .await
            .map_err(|e| (self.transport_error(&e, timeout, sequence), None))?
            .ok_or((limits.too_large(), None))?;

        let looks_json =
            content_type.contains("json") || bytes.trim_ascii_start().starts_with(b"{");
        if !looks_json {
            return Err((
                Error::Gateway {
                    status,
                    snippet: snippet(&bytes),
                },
                None,
            ));
        }
        let parsed: ImagesResponse = serde_json::from_slice(&bytes).map_err(|e| {
            let reason = if e.is_eof() {
                "the body was cut off; the images may have been generated and billed, so check usage before retrying"
                    .to_owned()
            } else {
                e.to_string()
            };
            (
                Error::Decode {
                    reason,
                    snippet: snippet(&bytes),
                },
                None,
            )
        })?;
        drop(bytes);
        // JSON even though a stream was asked for (gateways may not pass streaming through):
        // report the images now, all at once; positions past the request are not reported.
        for (index, item) in parsed.data.iter().take(limits.images as usize).enumerate() {
            observe(Event::Image {
                index,
                ok: !matches!(item, ImageItem::Failed { .. }),
            });
        }
        Ok((parsed, request_id))
    }

    /// Reads an SSE answer frame by frame. A break after some images keeps them: they are billed.
    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        timeout: Duration,
        sequence: bool,
        limits: AnswerLimits,
        observe: Observer<'_>,
    ) -> Result<ImagesResponse, (Error, Option<Duration>)> {
        let mut assembler = Assembler::new(limits.stream());
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(overrun) = assembler.push(&chunk, observe) {
                        tracing::warn!(
                            ?overrun,
                            "the stream outgrew what the request allows; reading stopped"
                        );
                        if assembler.has_images() {
                            break;
                        }
                        return Err((limits.too_large(), None));
                    }
                }
                Ok(None) => break,
                Err(e) if assembler.has_images() => {
                    tracing::warn!(error = %root_cause(&e), "stream broke after some images; keeping them");
                    break;
                }
                Err(e) => return Err((self.transport_error(&e, timeout, sequence), None)),
            }
            if assembler.done {
                break;
            }
        }
        let dropped = assembler.dropped;
        let mut response = assembler.finish();
        response.dropped = dropped;
        Ok(response)
    }

    fn transport_error(&self, e: &reqwest::Error, timeout: Duration, sequence: bool) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                after: timeout,
                sequence,
            }
        } else if e.is_connect() {
            Error::Connect {
                base_url: self.base_url.clone(),
                reason: root_cause(e),
            }
        } else {
            Error::Interrupted {
                reason: root_cause(e),
            }
        }
    }
}

/// Drops positions beyond what the request allows (a hostile answer with 3,000 URLs must not
/// start 3,000 downloads) and says so.
fn keep_allowed(response: &mut ImagesResponse, allowed: u32) -> Vec<String> {
    let allowed = allowed as usize;
    let extra = response.data.len().saturating_sub(allowed) + response.dropped;
    response.data.truncate(allowed);
    if extra == 0 {
        return Vec::new();
    }
    tracing::warn!(
        extra,
        allowed,
        "the answer held more images than the request allows"
    );
    vec![format!(
        "the image API sent {extra} more image position(s) than the {allowed} this request allows; \
         they were ignored and not downloaded"
    )]
}

/// Every upstream text of a successful answer, redacted.
fn redact_response(response: &mut ImagesResponse, redactor: &Redactor<'_>) {
    let errors = response.data.iter_mut().filter_map(|item| match item {
        ImageItem::Failed { error } => Some(error),
        _ => None,
    });
    for error in errors.chain(response.error.as_mut()) {
        redactor.in_place(&mut error.code);
        redactor.in_place(&mut error.message);
    }
}

/// A response with at least one image, or the error that no image was made.
fn with_images(parsed: ImagesResponse, request_id: Option<&str>) -> Result<ImagesResponse, Error> {
    if parsed
        .data
        .iter()
        .any(|i| matches!(i, ImageItem::Url { .. } | ImageItem::B64 { .. }))
    {
        return Ok(parsed);
    }
    // An error envelope with status 200: its message is the explanation, not "no image".
    if let Some(error) = parsed.error {
        let code = Some(error.code)
            .filter(|c| !c.is_empty())
            .or_else(|| find_known_code(&error.message).map(str::to_owned));
        return Err(Error::Api {
            status: 200,
            code,
            request_id: request_id_in(&error.message).or_else(|| request_id.map(str::to_owned)),
            message: error.message,
            param: None,
        });
    }
    let failures: Vec<ItemError> = parsed
        .data
        .iter()
        .filter_map(|i| match i {
            ImageItem::Failed { error } => Some(error.clone()),
            _ => None,
        })
        .collect();
    Err(Error::NoImages { failures })
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The innermost error message: reqwest's own text is generic ("error sending request").
pub(super) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::{Preset, Size};
    use crate::types::{ResponseFormat, SequentialMode, SequentialOptions};

    fn request(size: Size, max_images: Option<u8>) -> ImageRequest {
        ImageRequest {
            model: "m".into(),
            prompt: "p".into(),
            image: vec![],
            size: Some(size),
            sequential_image_generation: max_images.map(|_| SequentialMode::Auto),
            sequential_image_generation_options: max_images
                .map(|max_images| SequentialOptions { max_images }),
            stream: None,
            response_format: ResponseFormat::Url,
            watermark: false,
            output_format: None,
            seed: None,
            guidance_scale: None,
        }
    }

    #[test]
    fn timeouts_grow_with_image_count_and_size_up_to_the_cap() {
        let t = Timeouts::default();
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::TwoK), None)),
            Duration::from_secs(180)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::TwoK), Some(4))),
            Duration::from_secs(315)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::FourK), None)),
            Duration::from_secs(432)
        );
        assert_eq!(
            t.for_request(&request(Size::Preset(Preset::FourK), Some(15))),
            Duration::from_secs(900)
        );
    }
}

//! One request to `POST {base}/images/generations` and the reading of its answer: an error
//! body, a JSON answer or an SSE stream, each bounded by what the request can justify.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};

use super::Client;
use super::limits::{AnswerLimits, ERROR_BODY_BYTES};
use crate::error::Error;
use crate::error::decode::{decode_error_body, looks_json, page_error, snippet};
use crate::http::{header, root_cause};
use crate::retry::parse_retry_after;
use crate::stream::{Assembler, Event, Observer};
use crate::types::{ImageItem, ImagesResponse};

/// What every attempt of one generation shares.
pub(crate) struct Call<'a> {
    pub(crate) body: &'a [u8],
    pub(crate) key: &'a SecretString,
    pub(crate) timeout: Duration,
    /// Whether the request asks for a sequence (a timeout says to ask for fewer).
    pub(crate) sequence: bool,
    pub(crate) limits: AnswerLimits,
    pub(crate) observe: Observer<'a>,
}

/// A failed attempt, with the wait the upstream asked for before the next one.
#[derive(Debug)]
pub(crate) struct FailedAttempt {
    pub(crate) error: Error,
    pub(crate) retry_after: Option<Duration>,
}

impl From<Error> for FailedAttempt {
    fn from(error: Error) -> Self {
        FailedAttempt {
            error,
            retry_after: None,
        }
    }
}

impl fmt::Display for FailedAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

/// A read answer and the request id its headers carried.
pub(crate) type Answer = (ImagesResponse, Option<String>);

impl Client {
    /// Sends the request once and reads whatever comes back.
    pub(crate) async fn attempt(&self, call: &Call<'_>) -> Result<Answer, FailedAttempt> {
        let mut response = self.send(call).await?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let request_id = header(headers, "x-request-id").map(str::to_owned);
        let content_type = header(headers, CONTENT_TYPE.as_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let retry_after = header(headers, RETRY_AFTER.as_str()).and_then(parse_retry_after);
        if !(200..300).contains(&status) {
            let bytes = read_error_body(&mut response).await;
            let error = decode_error_body(status, &content_type, &bytes, request_id.as_deref());
            return Err(FailedAttempt { error, retry_after });
        }
        // Validation errors are never streamed, so only a 2xx can be a stream (seedream-api.md §7).
        let parsed = if content_type.contains("event-stream") {
            self.read_stream(response, call).await?
        } else {
            self.read_json(response, status, &content_type, call)
                .await?
        };
        Ok((parsed, request_id))
    }

    async fn send(&self, call: &Call<'_>) -> Result<reqwest::Response, FailedAttempt> {
        let http = self.http().map_err(|e| Error::Connect {
            base_url: self.base_url.clone(),
            reason: e.to_string(),
        })?;
        let response = http
            .post(&self.endpoint)
            .timeout(call.timeout)
            .header(
                AUTHORIZATION,
                format!("Bearer {}", call.key.expose_secret()),
            )
            .header(CONTENT_TYPE, "application/json")
            .body(call.body.to_vec())
            .send()
            .await
            .map_err(|e| self.transport_error(&e, call))?;
        Ok(response)
    }

    /// Reads a plain JSON answer, within the size the request justifies.
    async fn read_json(
        &self,
        mut response: reqwest::Response,
        status: u16,
        content_type: &str,
        call: &Call<'_>,
    ) -> Result<ImagesResponse, FailedAttempt> {
        let total = usize::try_from(call.limits.total_bytes).unwrap_or(usize::MAX);
        let bytes = read_capped(&mut response, total)
            .await
            .map_err(|e| self.transport_error(&e, call))?
            .ok_or_else(|| call.limits.too_large())?;
        if !looks_json(content_type, &bytes) {
            return Err(page_error(status, &bytes).into());
        }
        let parsed: ImagesResponse = serde_json::from_slice(&bytes).map_err(|e| {
            let reason = if e.is_eof() {
                "the body was cut off; the images may have been generated and billed, so check usage before retrying"
                    .to_owned()
            } else {
                e.to_string()
            };
            Error::Decode {
                reason,
                snippet: snippet(&bytes),
            }
        })?;
        drop(bytes);
        // JSON even though a stream was asked for (gateways may not pass streaming through):
        // report the images now, all at once; positions past the request are not reported.
        let allowed = call.limits.images as usize;
        for (index, item) in parsed.data.iter().take(allowed).enumerate() {
            (call.observe)(Event::Image {
                index,
                ok: !matches!(item, ImageItem::Failed { .. }),
            });
        }
        Ok(parsed)
    }

    /// Reads an SSE answer frame by frame. A break after some images keeps them: they are billed.
    async fn read_stream(
        &self,
        mut response: reqwest::Response,
        call: &Call<'_>,
    ) -> Result<ImagesResponse, FailedAttempt> {
        let mut assembler = Assembler::new(call.limits.stream());
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if let Err(overrun) = assembler.push(&chunk, call.observe) {
                        tracing::warn!(
                            ?overrun,
                            "the stream outgrew what the request allows; reading stopped"
                        );
                        if assembler.has_images() {
                            break;
                        }
                        return Err(call.limits.too_large().into());
                    }
                }
                Ok(None) => break,
                Err(e) if assembler.has_images() => {
                    tracing::warn!(error = %root_cause(&e), "stream broke after some images; keeping them");
                    break;
                }
                Err(e) => return Err(self.transport_error(&e, call).into()),
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

    fn transport_error(&self, e: &reqwest::Error, call: &Call<'_>) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                after: call.timeout,
                sequence: call.sequence,
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

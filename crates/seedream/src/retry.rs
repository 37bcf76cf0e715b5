//! When to try a failed generation again, and how long to wait first. Pure: no sleeping here.

use std::time::Duration;

use crate::error::{Error, Kind};

/// Bounded, capped exponential backoff with jitter (CometAPI's guide: `min(30 s, 1 s·2^n) + rand(0..1 s)`).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles each time.
    pub base: Duration,
    /// Longest computed backoff.
    pub cap: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            retry_after_cap: Duration::from_secs(60),
        }
    }
}

/// A failed attempt as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failure<'a> {
    pub(crate) error: &'a Error,
    pub(crate) retry_after: Option<Duration>,
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0 = the first retry) after `failure`, or `None` to
    /// give up. `jitter` is a number in `[0, 1)`, passed in so tests are deterministic.
    pub(crate) fn next_delay(
        &self,
        failure: Failure<'_>,
        retry: u32,
        jitter: f64,
    ) -> Option<Duration> {
        let allowed = self.allowed_retries(failure.error)?;
        if retry >= allowed || retry + 1 >= self.max_attempts {
            return None;
        }
        if let Some(after) = failure.retry_after {
            return Some(after.min(self.retry_after_cap));
        }
        let backoff = self
            .base
            .saturating_mul(1u32 << retry.min(16))
            .min(self.cap);
        let jitter = self.base.mul_f64(jitter.clamp(0.0, 1.0));
        let floor = match failure.error {
            // Ark's images-per-minute limit needs a real pause, not a quick second try.
            Error::Api {
                kind: Kind::ImagesPerMinute,
                ..
            } => self.base * 5,
            _ => Duration::ZERO,
        };
        Some(backoff.max(floor) + jitter)
    }

    /// How many retries a failure class earns; `None` for never.
    fn allowed_retries(&self, error: &Error) -> Option<u32> {
        match error {
            Error::Api { status, kind, .. } => match (*kind, *status) {
                (kind, _) if kind.is_caller_fault() => None,
                // A gateway timeout comes after the upstream got the request and may have
                // generated and billed it, so a resend could bill twice.
                (Kind::SpendingLimit | Kind::GatewayTimeout, _) => None,
                (Kind::Quota, 429) => Some(1),
                // Ark's table: an internal error earns "≤ 2 attempts" (seedream-api.md §8).
                (Kind::InternalError, 500) => Some(1),
                (_, 429 | 500 | 502 | 503) => Some(u32::MAX),
                _ => None,
            },
            // A gateway page instead of JSON: transient for 5xx, except the gateway timeouts
            // (504, 524), which come after the upstream started and may already be billed.
            Error::Gateway {
                status: 429 | 500 | 502 | 503,
                ..
            } => Some(u32::MAX),
            // Nothing was sent, so nothing was billed.
            Error::Connect { .. } => Some(u32::MAX),
            // A timeout or a broken connection may have been billed: never generate twice.
            _ => None,
        }
    }
}

/// The one retry loop of the crate (generations and downloads): runs `attempt` until it
/// succeeds or `delay_after(error, retry)` says to stop, sleeping the delay in between. `Ok`
/// carries how many attempts were made.
pub(crate) async fn run<T, E, Fut>(
    what: &'static str,
    mut attempt: impl FnMut() -> Fut,
    delay_after: impl Fn(&E, u32) -> Option<Duration>,
) -> Result<(T, u32), E>
where
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut retry = 0;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok((value, retry + 1)),
            Err(error) => error,
        };
        let Some(delay) = delay_after(&error, retry) else {
            return Err(error);
        };
        retry += 1;
        tracing::warn!(%error, retry, delay_ms = delay.as_millis() as u64, "retrying {what}");
        tokio::time::sleep(delay).await;
    }
}

/// Reads `Retry-After` as seconds (fractions allowed); HTTP dates are ignored.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::decode::{api_error, page_error};

    fn api(status: u16, code: &str) -> Error {
        api_error(status, Some(code.into()), None, String::new(), None)
    }

    fn page(status: u16) -> Error {
        page_error(status, b"")
    }

    fn delay(p: &RetryPolicy, e: &Error, retry: u32, after: Option<Duration>) -> Option<Duration> {
        p.next_delay(
            Failure {
                error: e,
                retry_after: after,
            },
            retry,
            0.5,
        )
    }

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            ..RetryPolicy::default()
        };
        let e = api(503, "");
        assert_eq!(delay(&p, &e, 0, None), Some(Duration::from_millis(1500)));
        assert_eq!(delay(&p, &e, 1, None), Some(Duration::from_millis(2500)));
        assert_eq!(delay(&p, &e, 3, None), Some(Duration::from_millis(8500)));
        assert_eq!(delay(&p, &e, 8, None), Some(Duration::from_millis(30_500)));
    }

    #[test]
    fn retry_after_is_honoured_up_to_its_cap() {
        let p = RetryPolicy::default();
        let e = api(429, "ServerOverloaded");
        assert_eq!(
            delay(&p, &e, 0, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            delay(&p, &e, 0, Some(Duration::from_secs(600))),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn the_images_per_minute_limit_waits_at_least_five_base_units() {
        let p = RetryPolicy::default();
        assert_eq!(
            delay(&p, &api(429, "ModelAccountIpmRateLimitExceeded"), 0, None),
            Some(Duration::from_millis(5500))
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let p = RetryPolicy::default();
        let e = api(503, "");
        assert!(delay(&p, &e, 0, None).is_some());
        assert!(delay(&p, &e, 1, None).is_some());
        assert_eq!(delay(&p, &e, 2, None), None);
    }

    #[test]
    fn an_internal_service_error_gets_two_attempts_in_all() {
        let p = RetryPolicy {
            max_attempts: 5,
            ..RetryPolicy::default()
        };
        let e = api(500, "InternalServiceError");
        assert!(delay(&p, &e, 0, None).is_some());
        assert_eq!(delay(&p, &e, 1, None), None);
        assert!(delay(&p, &api(500, ""), 1, None).is_some());
    }

    #[test]
    fn permanent_failures_are_never_retried() {
        let p = RetryPolicy::default();
        for e in [
            api(400, "InvalidParameter"),
            api(400, "OutputImageSensitiveContentDetected"),
            api(400, "InputTextSensitiveContentDetected"),
            api(401, "AuthenticationError"),
            api(403, "AccountOverdueError"),
            api(404, "ModelNotOpen"),
            api(429, "SetLimitExceeded"),
            api(500, "invalid_request"),
            Error::Timeout {
                after: Duration::from_secs(1),
                sequence: false,
            },
            Error::Interrupted {
                reason: "reset".into(),
            },
            Error::Decode {
                reason: "eof".into(),
                snippet: String::new(),
            },
        ] {
            assert_eq!(delay(&p, &e, 0, None), None, "{e:?}");
        }
    }

    #[test]
    fn quota_gets_one_retry_at_most() {
        let p = RetryPolicy {
            max_attempts: 5,
            ..RetryPolicy::default()
        };
        let e = api(429, "QuotaExceeded");
        assert!(delay(&p, &e, 0, None).is_some(), "{e:?}");
        assert_eq!(delay(&p, &e, 1, None), None, "{e:?}");
    }

    #[test]
    fn gateway_timeouts_are_never_resent_as_they_may_be_billed() {
        let p = RetryPolicy {
            max_attempts: 5,
            ..RetryPolicy::default()
        };
        for status in [504, 524] {
            for e in [api(status, ""), page(status)] {
                assert_eq!(delay(&p, &e, 0, None), None, "{e:?}");
            }
        }
    }

    #[test]
    fn connect_errors_and_gateway_5xx_pages_are_retried() {
        let p = RetryPolicy::default();
        assert!(
            delay(
                &p,
                &Error::Connect {
                    base_url: "u".into(),
                    reason: "refused".into()
                },
                0,
                None
            )
            .is_some()
        );
        assert!(delay(&p, &page(502), 0, None).is_some());
        assert_eq!(delay(&p, &page(200), 0, None), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_loop_sleeps_the_given_delays_and_counts_the_attempts() {
        let calls = std::cell::Cell::new(0u32);
        let started = tokio::time::Instant::now();
        let result = run(
            "a test",
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(format!("failure {n}"))
                    } else {
                        Ok(n)
                    }
                }
            },
            |_, retry| Some(Duration::from_secs(u64::from(retry) + 1)),
        )
        .await;
        assert_eq!(result, Ok((3, 3)));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
        let refused: Result<((), u32), String> =
            run("a test", || async { Err("no".to_owned()) }, |_, _| None).await;
        assert_eq!(refused, Err("no".to_owned()));
    }

    #[test]
    fn retry_after_values_parse_as_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}

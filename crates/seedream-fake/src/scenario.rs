//! Scenario injection (M12): directives from the `X-Fake-Scenario: d1,d2=v` header or from
//! `[[fake:d1,d2=v]]` tokens in the prompt, which are stripped before anything else.
//! `name:v` is accepted for `name=v`. Unknown directives are a 400 (`code:"fake_directive"`).
//!
//! Failures (the first one given wins): `input_text_sensitive`, `input_image_sensitive`,
//! `ipm`, `overloaded`, `quota`, `setlimit`, `internal`, `comet_invalid_request_500`,
//! `comet_503`, `cf_524`, `cf_524_json`, `wrapped_upstream`, `html_502`, `html_200`, `reset`,
//! the rest of the §8 table (`access_denied`, `overdue` → 403; `unsupported_model` → 404;
//! `rpm`, `burst`, `inflight` → 429; `empty_url` → 400), `truncated`, `reset_mid_body`, and the
//! per-image `partial_sensitive=i` (repeatable), `internal_at=i`, `stream_error_after=j`.
//! Modifiers: `retry_after=S`, `fail_n=K` (failures only for the first K requests with the
//! same raw prompt), `n=K`, `slow=MS`, `search=N`, `trickle=MS`.

/// Delays given in directives are capped at an hour, so sums of them cannot overflow.
const MAX_DELAY_MS: u64 = 3_600_000;

/// A directive that makes the request fail instead of generating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    InputTextSensitive,
    InputImageSensitive,
    Ipm,
    Overloaded,
    Quota,
    SetLimit,
    Internal,
    CometInvalidRequest500,
    Comet503,
    Cf524,
    Cf524Json,
    WrappedUpstream,
    Html502,
    Html200,
    Reset,
    AccessDenied,
    AccountOverdue,
    UnsupportedModel,
    Rpm,
    Burst,
    Inflight,
    EmptyUrl,
}

/// Everything the directives of one request ask for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scenario {
    /// The first failure directive given.
    pub failure: Option<Failure>,
    /// `Retry-After` seconds added to a 429.
    pub retry_after: Option<u64>,
    /// Failures apply only to the first K requests with this exact raw prompt.
    pub fail_n: Option<u32>,
    /// The count the "model" decides on in group mode.
    pub n: Option<u32>,
    /// Milliseconds per image (overrides the latency model), or before an error.
    pub slow_ms: Option<u64>,
    /// Web searches reported in `usage.tool_usage`.
    pub search: Option<u32>,
    pub partial_sensitive: Vec<usize>,
    pub internal_at: Option<usize>,
    pub stream_error_after: Option<usize>,
    /// The success body is cut mid-way.
    pub truncated: bool,
    /// The connection drops after half the success body (no clean end of message).
    pub reset_mid_body: bool,
    /// The success body is sent a few bytes at a time, this many ms apart.
    pub trickle_ms: Option<u64>,
}

impl Scenario {
    /// Parses directives; the error names the offending one.
    pub(crate) fn parse<'a>(
        directives: impl IntoIterator<Item = &'a str>,
    ) -> Result<Scenario, String> {
        let mut s = Scenario::default();
        for raw in directives {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let (name, value) = match raw.split_once(['=', ':']) {
                Some((n, v)) => (n.trim().to_ascii_lowercase(), Some(v.trim())),
                None => (raw.to_ascii_lowercase(), None),
            };
            s.apply(&name, value)
                .map_err(|why| format!("fake directive `{raw}`: {why}"))?;
        }
        Ok(s)
    }

    fn apply(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        let failure = match name {
            "input_text_sensitive" => Some(Failure::InputTextSensitive),
            "input_image_sensitive" => Some(Failure::InputImageSensitive),
            "ipm" => Some(Failure::Ipm),
            "overloaded" => Some(Failure::Overloaded),
            "quota" => Some(Failure::Quota),
            "setlimit" => Some(Failure::SetLimit),
            "internal" => Some(Failure::Internal),
            "comet_invalid_request_500" => Some(Failure::CometInvalidRequest500),
            "comet_503" => Some(Failure::Comet503),
            "cf_524" => Some(Failure::Cf524),
            "cf_524_json" => Some(Failure::Cf524Json),
            "wrapped_upstream" => Some(Failure::WrappedUpstream),
            "html_502" => Some(Failure::Html502),
            "html_200" => Some(Failure::Html200),
            "reset" => Some(Failure::Reset),
            "access_denied" => Some(Failure::AccessDenied),
            "overdue" => Some(Failure::AccountOverdue),
            "unsupported_model" => Some(Failure::UnsupportedModel),
            "rpm" => Some(Failure::Rpm),
            "burst" => Some(Failure::Burst),
            "inflight" => Some(Failure::Inflight),
            "empty_url" => Some(Failure::EmptyUrl),
            _ => None,
        };
        if let Some(f) = failure {
            if value.is_some() {
                return Err("takes no value".to_owned());
            }
            self.failure.get_or_insert(f);
            return Ok(());
        }
        match name {
            "truncated" if value.is_none() => self.truncated = true,
            "reset_mid_body" if value.is_none() => self.reset_mid_body = true,
            "retry_after" => self.retry_after = Some(number(value)?),
            "fail_n" => self.fail_n = Some(number(value)?),
            "n" => self.n = Some(number(value)?),
            "slow" => self.slow_ms = Some(number::<u64>(value)?.min(MAX_DELAY_MS)),
            "search" => self.search = Some(number(value)?),
            "partial_sensitive" => self.partial_sensitive.push(number(value)?),
            "internal_at" => self.internal_at = Some(number(value)?),
            "stream_error_after" => self.stream_error_after = Some(number(value)?),
            "trickle" => self.trickle_ms = Some(number::<u64>(value)?.min(MAX_DELAY_MS)),
            "truncated" | "reset_mid_body" => return Err("takes no value".to_owned()),
            _ => return Err("unknown directive".to_owned()),
        }
        Ok(())
    }

    /// The same scenario with every failure removed (after `fail_n` ran out).
    pub(crate) fn succeeding(self) -> Scenario {
        Scenario {
            failure: None,
            partial_sensitive: Vec::new(),
            internal_at: None,
            stream_error_after: None,
            truncated: false,
            reset_mid_body: false,
            ..self
        }
    }
}

fn number<T: std::str::FromStr>(value: Option<&str>) -> Result<T, String> {
    let v = value.ok_or("needs a value, e.g. name=3")?;
    v.parse()
        .map_err(|_| format!("`{v}` is not a non-negative integer"))
}

/// Removes every `[[fake:...]]` token from `prompt`; returns the trimmed prompt and the
/// directives found, in order. An unclosed `[[fake:` is left as text.
pub(crate) fn strip_tokens(prompt: &str) -> (String, Vec<String>) {
    const OPEN: &str = "[[fake:";
    let mut kept = String::with_capacity(prompt.len());
    let mut directives = Vec::new();
    let mut rest = prompt;
    while let Some(start) = rest.find(OPEN) {
        let (before, from_open) = rest.split_at(start);
        let inner_and_after = from_open.get(OPEN.len()..).unwrap_or("");
        let Some(end) = inner_and_after.find("]]") else {
            break;
        };
        kept.push_str(before);
        let inner = inner_and_after.get(..end).unwrap_or("");
        directives.extend(
            inner
                .split(',')
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
        );
        rest = inner_and_after.get(end + 2..).unwrap_or("");
    }
    kept.push_str(rest);
    (kept.trim().to_owned(), directives)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stripped_and_parsed() {
        let (prompt, directives) =
            strip_tokens("a cat [[fake:ipm,retry_after=7]] at night [[fake:n=3]]");
        assert_eq!(prompt, "a cat  at night");
        assert_eq!(directives, ["ipm", "retry_after=7", "n=3"]);
        let s = Scenario::parse(directives.iter().map(String::as_str)).unwrap();
        assert_eq!(s.failure, Some(Failure::Ipm));
        assert_eq!(s.retry_after, Some(7));
        assert_eq!(s.n, Some(3));
    }

    #[test]
    fn unclosed_tokens_stay_in_the_prompt() {
        assert_eq!(strip_tokens("x [[fake:ipm").0, "x [[fake:ipm");
    }

    #[test]
    fn unknown_or_malformed_directives_are_errors() {
        assert!(Scenario::parse(["nope"]).is_err());
        assert!(Scenario::parse(["n=abc"]).is_err());
        assert!(Scenario::parse(["ipm=3"]).is_err());
        assert_eq!(Scenario::parse(["fail_n:2"]).unwrap().fail_n, Some(2));
    }
}

//! The fault matrix: every upstream fault class of `seedream-api.md` §8 and M12 played by the
//! fake API, seen through the MCP tools. Each case checks the result a caller gets (an error
//! naming the cause and the fix, or images with notes), how many generation requests it cost
//! (bounded retries, never a second generation after a timeout), and that the same client
//! gets a normal answer right afterwards.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};

use seedream_fake::{FakeApi, FakeConfig, LiteProfile};

use crate::support::{KEY, call, config, connect, fake, is_error, text};

/// The read timeout the server under test uses: long enough for a loaded machine, short
/// enough that the timeout cases stay quick.
const READ_TIMEOUT: Duration = Duration::from_millis(4000);
/// The download timeout the server under test uses.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_millis(250);
/// A hung call fails the test instead of stalling it.
const CALL_LIMIT: Duration = Duration::from_secs(30);

/// What the caller should get.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    /// `isError`, with every fragment in the text.
    Error(&'static [&'static str]),
    /// A result with images, with every fragment in the text.
    Images(&'static [&'static str]),
}

#[derive(Clone)]
struct Case {
    what: &'static str,
    tool: &'static str,
    arguments: Value,
    setup: fn(&mut FakeConfig),
    outcome: Outcome,
    /// Generation requests the fake API receives.
    requests: usize,
    /// Downloads of generated images, when the case is about them.
    downloads: Option<usize>,
    /// The call must take at least this long (a honoured `Retry-After`, a delayed 524).
    at_least: Duration,
}

fn no_setup(_: &mut FakeConfig) {}

/// A `generate_image` case with embedding off (and saving off for every case), so nothing is
/// downloaded.
fn image(what: &'static str, prompt: &str, requests: usize, outcome: Outcome) -> Case {
    Case {
        what,
        tool: "generate_image",
        arguments: json!({"prompt": prompt, "embed": "none"}),
        setup: no_setup,
        outcome,
        requests,
        downloads: None,
        at_least: Duration::ZERO,
    }
}

fn sequence(what: &'static str, prompt: &str, requests: usize, outcome: Outcome) -> Case {
    Case {
        tool: "generate_sequence",
        arguments: json!({"prompt": prompt, "max_images": 4, "embed": "none"}),
        ..image(what, prompt, requests, outcome)
    }
}

/// A small image with its preview embedded, so the generated image is downloaded.
fn download(what: &'static str, setup: fn(&mut FakeConfig), downloads: usize) -> Case {
    Case {
        arguments: json!({"prompt": "a lighthouse", "model": "4.0", "size": "1K"}),
        setup,
        downloads: Some(downloads),
        ..image(what, "", 1, Outcome::Images(&[]))
    }
}

impl Case {
    fn with(mut self, setup: fn(&mut FakeConfig)) -> Case {
        self.setup = setup;
        self
    }

    fn arg(mut self, key: &str, value: Value) -> Case {
        self.arguments[key] = value;
        self
    }

    fn images(mut self, fragments: &'static [&'static str]) -> Case {
        self.outcome = Outcome::Images(fragments);
        self
    }

    fn at_least(mut self, ms: u64) -> Case {
        self.at_least = Duration::from_millis(ms);
        self
    }
}

use Outcome::{Error, Images};

fn cases() -> Vec<Case> {
    let rate = &["rate limiting", "wait"];
    vec![
        // 400s: never retried.
        image(
            "a 4K request the upstream's older size rules reject is a size error",
            "a harbour",
            1,
            Error(&["400", "InvalidParameter", "size", "2048x2048"]),
        )
        .arg("model", json!("5.0"))
        .arg("size", json!("4K"))
        .with(|c| c.lite_profile = LiteProfile::Feb2026),
        image(
            "a prompt that is empty once the gateway strips it names the missing parameter",
            "[[fake:n=1]]",
            1,
            Error(&["MissingParameter", "`prompt`", "Fix the parameter"]),
        ),
        image(
            "a prompt flagged by moderation asks for a rephrase",
            "[[fake:input_text_sensitive]] p",
            1,
            Error(&["InputTextSensitiveContentDetected", "rephrase"]),
        ),
        image(
            "a reference image flagged by moderation asks for another image",
            "[[fake:input_image_sensitive]] p",
            1,
            Error(&["InputImageSensitiveContentDetected", "different image"]),
        ),
        image(
            "an output flagged by moderation asks for a rephrase and says it was not billed",
            "[[fake:partial_sensitive=0]] p",
            1,
            Error(&[
                "OutputImageSensitiveContentDetected",
                "not billed",
                "rephrase",
            ]),
        ),
        image(
            "an empty image URL upstream explains what a reference must look like",
            "[[fake:empty_url]] p",
            1,
            Error(&["InvalidImageURL.EmptyURL", "data:image/"]),
        ),
        image(
            "an Ark error wrapped in a gateway message is recognised by its code",
            "[[fake:wrapped_upstream]] p",
            1,
            Error(&["OutputImageSensitiveContentDetected", "rephrase"]),
        ),
        // 401, 403, 404: never retried.
        image(
            "a refused key names the variables to set",
            "a fox",
            1,
            Error(&["401", "SEEDREAM_API_KEY"]),
        )
        .with(|c| c.api_key = Some("another-key".into())),
        image(
            "access denied says to check the account",
            "[[fake:access_denied]] p",
            1,
            Error(&["403", "AccessDenied", "check the account"]),
        ),
        image(
            "an overdue account says to check the account",
            "[[fake:overdue]] p",
            1,
            Error(&["403", "AccountOverdueError", "check the account"]),
        ),
        image(
            "a model not opened on the account names the console",
            "a fox",
            1,
            Error(&["404", "ModelNotOpen", "console"]),
        )
        .with(|c| c.model_not_open = vec!["doubao-seedream-5-0-260128".into()]),
        image(
            "an unknown model id names the models to use",
            "a fox",
            1,
            Error(&["404", "InvalidEndpointOrModel.NotFound", "`4.5`"]),
        )
        .arg("model", json!("doubao-seedream-9-9-990101")),
        image(
            "an unsupported model names the models to use",
            "[[fake:unsupported_model]] p",
            1,
            Error(&["404", "UnsupportedModel", "`4.5`"]),
        ),
        // 429s: retried within the budget (three attempts), except the permanent ones.
        image(
            "the images-per-minute limit without Retry-After is retried, then reported",
            "[[fake:ipm]] p",
            3,
            Error(rate),
        ),
        image(
            "the images-per-minute limit with Retry-After: 0 is retried, then reported",
            "[[fake:ipm,retry_after=0]] p",
            3,
            Error(rate),
        ),
        image(
            "a Retry-After of one second is waited out, and the retry succeeds",
            "[[fake:ipm,retry_after=1,fail_n=1]] p",
            2,
            Images(&["Generated 1 image"]),
        )
        .at_least(1000),
        image(
            "an overloaded service is retried, then reported",
            "[[fake:overloaded]] p",
            3,
            Error(&["ServerOverloaded", "rate limiting"]),
        ),
        image(
            "the requests-per-minute limit is retried, then reported",
            "[[fake:rpm]] p",
            3,
            Error(&["ModelAccountRpmRateLimitExceeded", "rate limiting"]),
        ),
        image(
            "a burst that ramps up too fast is retried, then reported",
            "[[fake:burst]] p",
            3,
            Error(&["RequestBurstTooFast", "rate limiting"]),
        ),
        image(
            "too many requests in flight is retried, then reported",
            "[[fake:inflight]] p",
            3,
            Error(&["InflightBatchsizeExceeded", "rate limiting"]),
        ),
        image(
            "an exhausted quota gets one retry at most",
            "[[fake:quota]] p",
            2,
            Error(&["QuotaExceeded", "quota", "console"]),
        ),
        image(
            "a Safe Experience Mode cap is not retried",
            "[[fake:setlimit]] p",
            1,
            Error(&["SetLimitExceeded", "console"]),
        ),
        // 5xx.
        image(
            "an internal error gets two attempts in all",
            "[[fake:internal]] p",
            2,
            Error(&["500", "InternalServiceError", "try again"]),
        ),
        image(
            "an internal error that clears is retried into a success",
            "[[fake:internal,fail_n=1]] p",
            2,
            Images(&["Generated 1 image"]),
        ),
        image(
            "a 500 invalid_request from the gateway is not retried",
            "[[fake:comet_invalid_request_500]] p",
            1,
            Error(&["invalid_request", "Fix the parameter"]),
        ),
        image(
            "a 503 from the gateway is retried, then reported",
            "[[fake:comet_503]] p",
            3,
            Error(&["503", "try again"]),
        ),
        image(
            "an nginx 502 page is retried, then reported without its markup",
            "[[fake:html_502]] p",
            3,
            Error(&["502 Bad Gateway", "try again"]),
        ),
        image(
            "a Cloudflare 524 page is not resent, as it may be billed",
            "[[fake:cf_524]] p",
            1,
            Error(&["524", "billed", "not sent again", "usage", "fewer images"]),
        ),
        image(
            "a 524 after a delay is not resent",
            "[[fake:cf_524,slow=300]] p",
            1,
            Error(&["524", "billed", "not sent again", "fewer images"]),
        )
        .at_least(300),
        image(
            "a 524 as problem+json is not resent",
            "[[fake:cf_524_json]] p",
            1,
            Error(&["524", "billed", "not sent again"]),
        ),
        image(
            "a 524 slower than the read timeout is a timeout, never repeated",
            "[[fake:cf_524,slow=5000]] p",
            1,
            Error(&["no response", "billed", "check usage"]),
        ),
        // Broken transport: the images may exist and be billed, so nothing is repeated.
        image(
            "a connection reset before any answer is not repeated",
            "[[fake:reset]] p",
            1,
            Error(&["connection", "broke", "check usage"]),
        ),
        image(
            "a connection reset halfway through the body is not repeated",
            "[[fake:reset_mid_body]] p",
            1,
            Error(&["broke", "check usage"]),
        ),
        image(
            "a truncated body is not repeated",
            "[[fake:truncated]] p",
            1,
            Error(&["cut off", "billed", "check usage"]),
        ),
        image(
            "a gateway's HTML page with status 200 points at the base URL",
            "[[fake:html_200]] p",
            1,
            Error(&["not the API's JSON", "SEEDREAM_BASE_URL"]),
        ),
        image(
            "an answer slower than the read timeout is a timeout, never repeated",
            "[[fake:slow=5000]] p",
            1,
            Error(&["no response", "billed", "check usage"]),
        ),
        image(
            "a slow trickle within the read timeout still succeeds",
            "[[fake:trickle=2]] p",
            1,
            Images(&["Generated 1 image"]),
        ),
        image(
            "a trickle that outlasts the read timeout is a timeout, never repeated",
            "[[fake:trickle=100]] p",
            1,
            Error(&["no response", "billed", "check usage"]),
        ),
        // Partial sequences: the images made are billed, so they are returned with notes.
        sequence(
            "a sequence with one moderated image returns the others and names the failure",
            "[[fake:n=4,partial_sensitive=1]] four panels",
            1,
            Images(&[
                "Generated 3 of up to 4",
                "Image 2 failed: OutputImageSensitiveContentDetected",
                "not billed",
            ]),
        ),
        sequence(
            "a sequence cut by an internal error returns the images before it and says why it stopped",
            "[[fake:n=4,internal_at=2]] four panels",
            1,
            Images(&[
                "Generated 2 of up to 4",
                "Image 3 failed: InternalServiceError",
                "stopped",
            ]),
        ),
        sequence(
            "a stream broken by a fatal error keeps the images already received",
            "[[fake:n=3,stream_error_after=2]] three panels",
            1,
            Images(&["Generated 2 of up to 4", "InternalServiceError", "stopped"]),
        )
        .with(|c| c.stream_passthrough = true),
        sequence(
            "a sequence whose every image is moderated is an error",
            "[[fake:n=2,partial_sensitive=0,partial_sensitive=1]] two panels",
            1,
            Error(&["OutputImageSensitiveContentDetected", "rephrase"]),
        ),
        sequence(
            "a sequence failing internally at its first image gets two attempts",
            "[[fake:n=2,internal_at=0]] two panels",
            2,
            Error(&["InternalServiceError", "try again"]),
        ),
        // Downloads of generated images: the generation succeeded and is kept.
        download(
            "a download refused with 403 keeps the URL and explains signed links",
            |c| c.download_status = Some(403),
            1,
        )
        .images(&["Not saved", "403", "re-encoded"]),
        download(
            "a download answered 404 keeps the URL and is not retried",
            |c| c.download_status = Some(404),
            1,
        )
        .images(&["Not saved", "404", "expire"]),
        download(
            "a stalled download times out a bounded number of times and keeps the URL",
            |c| c.download_delay_ms = Some(5000),
            3,
        )
        .images(&["Not saved", "did not finish", "fetch it again later"]),
        download(
            "a download failing with 503 is retried a bounded number of times",
            |c| c.download_status = Some(503),
            3,
        )
        .images(&["Not saved", "503", "fetch it again later"]),
    ]
}

/// Runs one case on a fake API and server of its own, then a normal call on the same client.
async fn run(case: Case) -> Result<Duration, String> {
    let fake = fake().await;
    fake.update_config(case.setup);
    let mut cfg = config(&fake.base_url(), KEY, &["--save", "false"]);
    cfg.client.timeouts.base = READ_TIMEOUT;
    cfg.client.timeouts.per_extra_image = Duration::ZERO;
    cfg.client.timeouts.max = READ_TIMEOUT;
    cfg.delivery.download.timeout = DOWNLOAD_TIMEOUT;
    cfg.delivery.download.backoff = Duration::from_millis(1);
    let client = connect(cfg).await;

    let started = Instant::now();
    let result = tokio::time::timeout(CALL_LIMIT, call(&client, case.tool, case.arguments.clone()))
        .await
        .map_err(|_| format!("{}: no answer within {CALL_LIMIT:?}", case.what))?;
    let elapsed = started.elapsed();
    let body = text(&result);
    let fail = |why: String| Err(format!("{}: {why}\n  result: {body}", case.what));

    let (want_error, fragments) = match case.outcome {
        Error(f) => (true, f),
        Images(f) => (false, f),
    };
    if is_error(&result) != want_error {
        return fail(format!("expected isError = {want_error}"));
    }
    if let Some(missing) = fragments.iter().find(|f| !body.contains(**f)) {
        return fail(format!("the text lacks `{missing}`"));
    }
    let sent = fake.requests().len();
    if sent != case.requests {
        return fail(format!(
            "{sent} generation requests, expected {}",
            case.requests
        ));
    }
    if let Some(expected) = case.downloads
        && fake.downloads().len() != expected
    {
        return fail(format!(
            "{} downloads, expected {expected}",
            fake.downloads().len()
        ));
    }
    if elapsed < case.at_least {
        return fail(format!(
            "answered after {elapsed:?}, expected at least {:?}",
            case.at_least
        ));
    }

    after_the_fault_the_same_client_is_served(&fake, &client)
        .await
        .map_err(|why| format!("{}: {why}", case.what))?;
    Ok(elapsed)
}

async fn after_the_fault_the_same_client_is_served(
    fake: &FakeApi,
    client: &crate::support::Client,
) -> Result<(), String> {
    fake.update_config(|c| *c = FakeConfig::default());
    let ok = tokio::time::timeout(
        CALL_LIMIT,
        call(
            client,
            "generate_image",
            json!({"prompt": "after the storm", "embed": "none"}),
        ),
    )
    .await
    .map_err(|_| "the follow-up call got no answer".to_owned())?;
    if is_error(&ok) {
        return Err(format!("the follow-up call failed: {}", text(&ok)));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_fault_gives_an_actionable_result_with_bounded_requests_and_the_server_keeps_serving()
 {
    let cases = cases();
    let count = cases.len();
    // The cases are independent (one fake API each), so they run together: the slowest
    // (a timeout, a one-second Retry-After) sets the wall time.
    let outcomes = join_all(cases.into_iter().map(run)).await;
    let failures: Vec<String> = outcomes.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {count} fault cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

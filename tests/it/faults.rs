//! The fault matrix: every upstream fault class of `seedream-api.md` §8 and M12 played by the
//! fake API, seen through the MCP tools. Each case checks the result a caller gets (an error
//! naming the cause and the fix, or images with notes), how many generation requests it cost
//! (bounded retries, never a second generation after a timeout), and that the same client
//! gets a normal answer right afterwards. Each case is a test of its own, so one can be run
//! alone: `cargo test --test it faults::a_503_from_the_gateway`.

use std::time::{Duration, Instant};

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

/// The text the rate-limit cases must contain.
const RATE: &[&str] = &["rate limiting", "wait"];

#[derive(Clone)]
struct Case {
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

use Outcome::{Error, Images};

fn no_setup(_: &mut FakeConfig) {}

/// A `generate_image` case with embedding off (and saving off for every case), so nothing is
/// downloaded.
fn image(prompt: &str, requests: usize, outcome: Outcome) -> Case {
    Case {
        tool: "generate_image",
        arguments: json!({"prompt": prompt, "embed": "none"}),
        setup: no_setup,
        outcome,
        requests,
        downloads: None,
        at_least: Duration::ZERO,
    }
}

fn sequence(prompt: &str, requests: usize, outcome: Outcome) -> Case {
    Case {
        tool: "generate_sequence",
        arguments: json!({"prompt": prompt, "max_images": 4, "embed": "none"}),
        ..image(prompt, requests, outcome)
    }
}

/// A small image with its preview embedded, so the generated image is downloaded.
fn download(setup: fn(&mut FakeConfig), downloads: usize) -> Case {
    Case {
        arguments: json!({"prompt": "a lighthouse", "model": "4.0", "size": "1K"}),
        setup,
        downloads: Some(downloads),
        ..image("", 1, Outcome::Images(&[]))
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

/// Runs one case on a fake API and server of its own, then a normal call on the same client;
/// fails the test with what went wrong.
async fn check(case: Case) {
    if let Err(why) = run(case).await {
        panic!("{why}");
    }
}

async fn run(case: Case) -> Result<(), String> {
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
        .map_err(|_| format!("no answer within {CALL_LIMIT:?}"))?;
    let elapsed = started.elapsed();
    let body = text(&result);
    let fail = |why: String| Err(format!("{why}\n  result: {body}"));

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

    after_the_fault_the_same_client_is_served(&fake, &client).await
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

// The cases, grouped by fault class.

// 400s: never retried.
#[tokio::test]
async fn a_4k_request_the_upstreams_older_size_rules_reject_is_a_size_error() {
    check(
        image(
            "a harbour",
            1,
            Error(&["400", "InvalidParameter", "size", "2048x2048"]),
        )
        .arg("model", json!("5.0"))
        .arg("size", json!("4K"))
        .with(|c| c.lite_profile = LiteProfile::Feb2026),
    )
    .await;
}

#[tokio::test]
async fn a_prompt_that_is_empty_once_the_gateway_strips_it_names_the_missing_parameter() {
    check(image(
        "[[fake:n=1]]",
        1,
        Error(&["MissingParameter", "`prompt`", "Fix the parameter"]),
    ))
    .await;
}

#[tokio::test]
async fn a_prompt_flagged_by_moderation_asks_for_a_rephrase() {
    check(image(
        "[[fake:input_text_sensitive]] p",
        1,
        Error(&["InputTextSensitiveContentDetected", "rephrase"]),
    ))
    .await;
}

#[tokio::test]
async fn a_reference_image_flagged_by_moderation_asks_for_another_image() {
    check(image(
        "[[fake:input_image_sensitive]] p",
        1,
        Error(&["InputImageSensitiveContentDetected", "different image"]),
    ))
    .await;
}

#[tokio::test]
async fn an_output_flagged_by_moderation_asks_for_a_rephrase_and_says_it_was_not_billed() {
    check(image(
        "[[fake:partial_sensitive=0]] p",
        1,
        Error(&[
            "OutputImageSensitiveContentDetected",
            "not billed",
            "rephrase",
        ]),
    ))
    .await;
}

#[tokio::test]
async fn an_empty_image_url_upstream_explains_what_a_reference_must_look_like() {
    check(image(
        "[[fake:empty_url]] p",
        1,
        Error(&["InvalidImageURL.EmptyURL", "data:image/"]),
    ))
    .await;
}

#[tokio::test]
async fn an_ark_error_wrapped_in_a_gateway_message_is_recognised_by_its_code() {
    check(image(
        "[[fake:wrapped_upstream]] p",
        1,
        Error(&["OutputImageSensitiveContentDetected", "rephrase"]),
    ))
    .await;
}

// 401, 403, 404: never retried.
#[tokio::test]
async fn a_refused_key_names_the_variables_to_set() {
    check(
        image("a fox", 1, Error(&["401", "SEEDREAM_API_KEY"]))
            .with(|c| c.api_key = Some("another-key".into())),
    )
    .await;
}

#[tokio::test]
async fn access_denied_says_to_check_the_account() {
    check(image(
        "[[fake:access_denied]] p",
        1,
        Error(&["403", "AccessDenied", "check the account"]),
    ))
    .await;
}

#[tokio::test]
async fn an_overdue_account_says_to_check_the_account() {
    check(image(
        "[[fake:overdue]] p",
        1,
        Error(&["403", "AccountOverdueError", "check the account"]),
    ))
    .await;
}

#[tokio::test]
async fn a_model_not_opened_on_the_account_names_the_console() {
    check(
        image("a fox", 1, Error(&["404", "ModelNotOpen", "console"]))
            .with(|c| c.model_not_open = vec!["doubao-seedream-5-0-260128".into()]),
    )
    .await;
}

#[tokio::test]
async fn an_unknown_model_id_names_the_models_to_use() {
    check(
        image(
            "a fox",
            1,
            Error(&["404", "InvalidEndpointOrModel.NotFound", "`4.5`"]),
        )
        .arg("model", json!("doubao-seedream-9-9-990101")),
    )
    .await;
}

#[tokio::test]
async fn an_unsupported_model_names_the_models_to_use() {
    check(image(
        "[[fake:unsupported_model]] p",
        1,
        Error(&["404", "UnsupportedModel", "`4.5`"]),
    ))
    .await;
}

// 429s: retried within the budget (three attempts), except the permanent ones.
#[tokio::test]
async fn the_images_per_minute_limit_without_retry_after_is_retried_then_reported() {
    check(image("[[fake:ipm]] p", 3, Error(RATE))).await;
}

#[tokio::test]
async fn the_images_per_minute_limit_with_retry_after_0_is_retried_then_reported() {
    check(image("[[fake:ipm,retry_after=0]] p", 3, Error(RATE))).await;
}

#[tokio::test]
async fn a_retry_after_of_one_second_is_waited_out_and_the_retry_succeeds() {
    check(
        image(
            "[[fake:ipm,retry_after=1,fail_n=1]] p",
            2,
            Images(&["Generated 1 image"]),
        )
        .at_least(1000),
    )
    .await;
}

#[tokio::test]
async fn an_overloaded_service_is_retried_then_reported() {
    check(image(
        "[[fake:overloaded]] p",
        3,
        Error(&["ServerOverloaded", "rate limiting"]),
    ))
    .await;
}

#[tokio::test]
async fn the_requests_per_minute_limit_is_retried_then_reported() {
    check(image(
        "[[fake:rpm]] p",
        3,
        Error(&["ModelAccountRpmRateLimitExceeded", "rate limiting"]),
    ))
    .await;
}

#[tokio::test]
async fn a_burst_that_ramps_up_too_fast_is_retried_then_reported() {
    check(image(
        "[[fake:burst]] p",
        3,
        Error(&["RequestBurstTooFast", "rate limiting"]),
    ))
    .await;
}

#[tokio::test]
async fn too_many_requests_in_flight_is_retried_then_reported() {
    check(image(
        "[[fake:inflight]] p",
        3,
        Error(&["InflightBatchsizeExceeded", "rate limiting"]),
    ))
    .await;
}

#[tokio::test]
async fn an_exhausted_quota_gets_one_retry_at_most() {
    check(image(
        "[[fake:quota]] p",
        2,
        Error(&["QuotaExceeded", "quota", "console"]),
    ))
    .await;
}

#[tokio::test]
async fn a_safe_experience_mode_cap_is_not_retried() {
    check(image(
        "[[fake:setlimit]] p",
        1,
        Error(&["SetLimitExceeded", "console"]),
    ))
    .await;
}

// 5xx.
#[tokio::test]
async fn an_internal_error_gets_two_attempts_in_all() {
    check(image(
        "[[fake:internal]] p",
        2,
        Error(&["500", "InternalServiceError", "try again"]),
    ))
    .await;
}

#[tokio::test]
async fn an_internal_error_that_clears_is_retried_into_a_success() {
    check(image(
        "[[fake:internal,fail_n=1]] p",
        2,
        Images(&["Generated 1 image"]),
    ))
    .await;
}

#[tokio::test]
async fn a_500_invalid_request_from_the_gateway_is_not_retried() {
    check(image(
        "[[fake:comet_invalid_request_500]] p",
        1,
        Error(&["invalid_request", "Fix the parameter"]),
    ))
    .await;
}

#[tokio::test]
async fn a_503_from_the_gateway_is_retried_then_reported() {
    check(image(
        "[[fake:comet_503]] p",
        3,
        Error(&["503", "try again"]),
    ))
    .await;
}

#[tokio::test]
async fn an_nginx_502_page_is_retried_then_reported_without_its_markup() {
    check(image(
        "[[fake:html_502]] p",
        3,
        Error(&["502 Bad Gateway", "try again"]),
    ))
    .await;
}

#[tokio::test]
async fn a_cloudflare_524_page_is_not_resent_as_it_may_be_billed() {
    check(image(
        "[[fake:cf_524]] p",
        1,
        Error(&["524", "billed", "not sent again", "usage", "fewer images"]),
    ))
    .await;
}

#[tokio::test]
async fn a_524_after_a_delay_is_not_resent() {
    check(
        image(
            "[[fake:cf_524,slow=300]] p",
            1,
            Error(&["524", "billed", "not sent again", "fewer images"]),
        )
        .at_least(300),
    )
    .await;
}

#[tokio::test]
async fn a_524_as_problem_json_is_not_resent() {
    check(image(
        "[[fake:cf_524_json]] p",
        1,
        Error(&["524", "billed", "not sent again"]),
    ))
    .await;
}

#[tokio::test]
async fn a_524_slower_than_the_read_timeout_is_a_timeout_never_repeated() {
    check(image(
        "[[fake:cf_524,slow=5000]] p",
        1,
        Error(&["no response", "billed", "check usage"]),
    ))
    .await;
}

// Broken transport: the images may exist and be billed, so nothing is repeated.
#[tokio::test]
async fn a_connection_reset_before_any_answer_is_not_repeated() {
    check(image(
        "[[fake:reset]] p",
        1,
        Error(&["connection", "broke", "check usage"]),
    ))
    .await;
}

#[tokio::test]
async fn a_connection_reset_halfway_through_the_body_is_not_repeated() {
    check(image(
        "[[fake:reset_mid_body]] p",
        1,
        Error(&["broke", "check usage"]),
    ))
    .await;
}

#[tokio::test]
async fn a_truncated_body_is_not_repeated() {
    check(image(
        "[[fake:truncated]] p",
        1,
        Error(&["cut off", "billed", "check usage"]),
    ))
    .await;
}

#[tokio::test]
async fn a_gateways_html_page_with_status_200_points_at_the_base_url() {
    check(image(
        "[[fake:html_200]] p",
        1,
        Error(&["not the API's JSON", "SEEDREAM_BASE_URL"]),
    ))
    .await;
}

#[tokio::test]
async fn an_answer_slower_than_the_read_timeout_is_a_timeout_never_repeated() {
    check(image(
        "[[fake:slow=5000]] p",
        1,
        Error(&["no response", "billed", "check usage"]),
    ))
    .await;
}

#[tokio::test]
async fn a_slow_trickle_within_the_read_timeout_still_succeeds() {
    check(image(
        "[[fake:trickle=2]] p",
        1,
        Images(&["Generated 1 image"]),
    ))
    .await;
}

#[tokio::test]
async fn a_trickle_that_outlasts_the_read_timeout_is_a_timeout_never_repeated() {
    check(image(
        "[[fake:trickle=100]] p",
        1,
        Error(&["no response", "billed", "check usage"]),
    ))
    .await;
}

// Partial sequences: the images made are billed, so they are returned with notes.
#[tokio::test]
async fn a_sequence_with_one_moderated_image_returns_the_others_and_names_the_failure() {
    check(sequence(
        "[[fake:n=4,partial_sensitive=1]] four panels",
        1,
        Images(&[
            "Generated 3 of up to 4",
            "Image 2 failed: OutputImageSensitiveContentDetected",
            "not billed",
        ]),
    ))
    .await;
}

#[tokio::test]
async fn a_sequence_cut_by_an_internal_error_returns_the_images_before_it_and_says_why_it_stopped()
{
    check(sequence(
        "[[fake:n=4,internal_at=2]] four panels",
        1,
        Images(&[
            "Generated 2 of up to 4",
            "Image 3 failed: InternalServiceError",
            "stopped",
        ]),
    ))
    .await;
}

#[tokio::test]
async fn a_stream_broken_by_a_fatal_error_keeps_the_images_already_received() {
    check(
        sequence(
            "[[fake:n=3,stream_error_after=2]] three panels",
            1,
            Images(&["Generated 2 of up to 4", "InternalServiceError", "stopped"]),
        )
        .with(|c| c.stream_passthrough = true),
    )
    .await;
}

#[tokio::test]
async fn a_sequence_whose_every_image_is_moderated_is_an_error() {
    check(sequence(
        "[[fake:n=2,partial_sensitive=0,partial_sensitive=1]] two panels",
        1,
        Error(&["OutputImageSensitiveContentDetected", "rephrase"]),
    ))
    .await;
}

#[tokio::test]
async fn a_sequence_failing_internally_at_its_first_image_gets_two_attempts() {
    check(sequence(
        "[[fake:n=2,internal_at=0]] two panels",
        2,
        Error(&["InternalServiceError", "try again"]),
    ))
    .await;
}

// Downloads of generated images: the generation succeeded and is kept.
#[tokio::test]
async fn a_download_refused_with_403_keeps_the_url_and_explains_signed_links() {
    check(download(|c| c.download_status = Some(403), 1).images(&[
        "Not saved",
        "403",
        "re-encoded",
    ]))
    .await;
}

#[tokio::test]
async fn a_download_answered_404_keeps_the_url_and_is_not_retried() {
    check(download(|c| c.download_status = Some(404), 1).images(&["Not saved", "404", "expire"]))
        .await;
}

#[tokio::test]
async fn a_stalled_download_times_out_a_bounded_number_of_times_and_keeps_the_url() {
    check(download(|c| c.download_delay_ms = Some(5000), 3).images(&[
        "Not saved",
        "did not finish",
        "fetch it again later",
    ]))
    .await;
}

#[tokio::test]
async fn a_download_failing_with_503_is_retried_a_bounded_number_of_times() {
    check(download(|c| c.download_status = Some(503), 3).images(&[
        "Not saved",
        "503",
        "fetch it again later",
    ]))
    .await;
}

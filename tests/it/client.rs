//! The Seedream client against the fake API: every fault class, retries, the signed-URL round trip.

use std::time::Duration;

use secrecy::SecretString;
use seedream::{
    Client, ClientConfig, Error, GenerationSpec, ImageItem, ImageRequest, Kind, Model, Preset,
    Profile, ResponseFormat, RetryPolicy, Size, Timeouts, prepare,
};
use seedream_fake::FakeApi;

use crate::support::{KEY, fake};

fn client(base_url: &str, timeout: Duration) -> Client {
    Client::new(ClientConfig {
        base_url: base_url.to_owned(),
        api_key: Some(SecretString::from(KEY)),
        retry: RetryPolicy {
            base: Duration::from_millis(1),
            ..RetryPolicy::default()
        },
        timeouts: Timeouts {
            base: timeout,
            ..Timeouts::default()
        },
    })
    .unwrap()
}

fn request(prompt: &str, max_images: Option<u32>) -> ImageRequest {
    let spec = GenerationSpec {
        model: Model::V45,
        prompt: prompt.to_owned(),
        size: None,
        aspect_ratio: None,
        images: vec![],
        max_images,
        response_format: ResponseFormat::Url,
        output_format: None,
        watermark: false,
        seed: None,
        guidance_scale: None,
        background: None,
        prompt_mode: None,
        web_search: false,
    };
    prepare(spec, Size::Preset(Preset::TwoK), &Profile::default())
        .unwrap()
        .request
}

async fn run(fake: &FakeApi, prompt: &str) -> Result<seedream::Generation, Error> {
    client(&fake.base_url(), Duration::from_secs(30))
        .generate(&request(prompt, None))
        .await
}

#[tokio::test]
async fn a_downloaded_image_decodes_to_the_reported_size_and_an_altered_url_is_refused() {
    let fake = fake().await;
    let generation = run(&fake, "a red fox").await.unwrap();
    let ImageItem::Url { url, size } = &generation.response.data[0] else {
        panic!("a url item")
    };

    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let dims = imagesize::blob_size(&bytes).unwrap();
    assert_eq!(
        Some(format!("{}x{}", dims.width, dims.height)),
        size.clone()
    );

    let reencoded = url.replace("%2F", "%252F");
    let denied = reqwest::get(&reencoded).await.unwrap();
    assert_eq!(denied.status(), 403);
    assert!(denied.text().await.unwrap().contains("AccessDenied"));
    assert!(
        fake.downloads().iter().any(|d| url.ends_with(d.as_str())),
        "downloaded verbatim"
    );
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_then_succeeds() {
    let fake = fake().await;
    let generation = run(&fake, "[[fake:ipm,retry_after=0,fail_n=1]] a fox")
        .await
        .unwrap();
    assert_eq!(generation.attempts, 2);
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn transient_failures_are_retried_a_bounded_number_of_times() {
    // Ark's table allows an internal error two attempts; other transient failures get three.
    for (scenario, attempts) in [
        ("overloaded", 3),
        ("internal", 2),
        ("comet_503", 3),
        ("html_502", 3),
    ] {
        let fake = fake().await;
        let err = run(&fake, &format!("[[fake:{scenario}]] a fox"))
            .await
            .unwrap_err();
        assert_eq!(fake.requests().len(), attempts, "{scenario}: {err}");
    }
}

#[tokio::test]
async fn permanent_failures_are_sent_once() {
    for (scenario, expected) in [
        ("input_text_sensitive", "InputTextSensitiveContentDetected"),
        ("setlimit", "SetLimitExceeded"),
        ("comet_invalid_request_500", "invalid_request"),
        ("truncated", "cut off"),
        ("reset", "broke"),
        ("html_200", "not the API's JSON"),
    ] {
        let fake = fake().await;
        let err = run(&fake, &format!("[[fake:{scenario}]] a fox"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{scenario}: {err}");
        assert_eq!(fake.requests().len(), 1, "{scenario} must not be retried");
    }
}

#[tokio::test]
async fn a_524_is_not_resent_and_reported_as_maybe_billed() {
    let fake = fake().await;
    let err = run(&fake, "[[fake:cf_524]] a fox").await.unwrap_err();
    assert!(matches!(err, Error::Gateway { status: 524, .. }), "{err:?}");
    assert!(err.to_string().contains("billed"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_read_timeout_is_never_retried_because_it_may_be_billed() {
    let fake = fake().await;
    let started = std::time::Instant::now();
    let err = client(&fake.base_url(), Duration::from_millis(300))
        .generate(&request("[[fake:slow=3000]] a fox", None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("billed"));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_slow_trickle_within_the_timeout_still_succeeds() {
    let fake = fake().await;
    let generation = run(&fake, "[[fake:trickle=5]] a fox").await.unwrap();
    assert_eq!(generation.response.data.len(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_reported_with_the_base_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = client(&format!("http://{addr}/v1"), Duration::from_secs(5))
        .generate(&request("a fox", None))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&addr.to_string()));
}

#[tokio::test]
async fn an_internal_error_mid_sequence_keeps_the_images_before_it() {
    let fake = fake().await;
    let generation = client(&fake.base_url(), Duration::from_secs(30))
        .generate(&request("[[fake:n=4,internal_at=2]] four panels", Some(4)))
        .await
        .unwrap();
    let data = &generation.response.data;
    assert_eq!(data.len(), 3);
    assert!(
        matches!(&data[2], ImageItem::Failed { error } if error.code == "InternalServiceError")
    );
    assert_eq!(
        generation.response.usage.as_ref().unwrap().generated_images,
        Some(2)
    );
}

#[tokio::test]
async fn a_sequence_with_no_success_is_an_error_naming_the_code() {
    let fake = fake().await;
    let err = client(&fake.base_url(), Duration::from_secs(30))
        .generate(&request("[[fake:n=2,internal_at=0]] two panels", Some(2)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("InternalServiceError"), "{err}");
}

#[tokio::test]
async fn a_redirect_from_a_wrong_path_is_explained() {
    let fake = fake().await;
    let base = format!("http://{}", fake.addr());
    let err = client(&base, Duration::from_secs(5))
        .generate(&request("a fox", None))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Kind::Redirect, "{err}");
    let told = seedream_mcp::advice::generation_failed(&err);
    assert!(told.contains("SEEDREAM_BASE_URL"), "{told}");
}

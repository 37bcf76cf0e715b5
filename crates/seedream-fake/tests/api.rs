//! Tests of the fake API itself, over loopback HTTP.

// Marks the helpers below as test code too, so the test allowances of clippy.toml apply.
#![cfg(test)]

use std::time::Duration;

use base64::Engine as _;
use seedream_fake::{FakeApi, FakeConfig, UpstreamErrorStyle};
use serde_json::{Value, json};

const LITE: &str = "doubao-seedream-5-0-260128";
const V45: &str = "doubao-seedream-4-5-251128";
const V40: &str = "doubao-seedream-4-0-250828";

async fn start() -> FakeApi {
    FakeApi::start(FakeConfig::default()).await.unwrap()
}

async fn start_with(f: impl FnOnce(&mut FakeConfig)) -> FakeApi {
    let mut config = FakeConfig::default();
    f(&mut config);
    FakeApi::start(config).await.unwrap()
}

/// One client for the module, since building one loads TLS roots (slow). Pooling is off:
/// each test has its own runtime, and a pooled connection must not outlive its runtime.
fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .no_proxy()
                .pool_max_idle_per_host(0)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap()
        })
        .clone()
}

fn post(api: &FakeApi) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}/images/generations", api.base_url()))
        .bearer_auth("test-key")
}

async fn generate(api: &FakeApi, body: Value) -> reqwest::Response {
    post(api).json(&body).send().await.unwrap()
}

/// A minimal valid request for `model` with `extra` fields merged in.
fn request(model: &str, prompt: &str, extra: Value) -> Value {
    let mut body = json!({"model": model, "prompt": prompt, "watermark": false});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    body
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap()
}

fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap()
}

/// A real PNG of the given size, as a data URI.
fn png_data_uri(width: u32, height: u32) -> String {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().unwrap();
    writer
        .write_image_data(&vec![128u8; (width * height) as usize])
        .unwrap();
    writer.finish().unwrap();
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    )
}

/// Only a PNG signature and IHDR: enough for a header-only size check of a huge image.
fn png_header_only(width: u32, height: u32) -> String {
    let mut bytes = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13];
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

async fn download(url: &str) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

// ---------------------------------------------------------------- success

#[tokio::test]
async fn a_url_mode_success_downloads_an_image_of_the_reported_size() {
    let api = start().await;
    let (status, body) = json_of(
        generate(
            &api,
            request(V45, "a lighthouse, 16:9", json!({"size": "2K"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["model"], V45);
    assert!(body["created"].as_i64().unwrap() > 1_700_000_000);
    let item = &body["data"][0];
    assert_eq!(item["size"], "2848x1600");
    assert_eq!(body["usage"]["generated_images"], 1);
    assert_eq!(body["usage"]["output_tokens"], 2848 * 1600 / 256);
    assert_eq!(
        body["usage"]["total_tokens"],
        body["usage"]["output_tokens"]
    );

    let url = item["url"].as_str().unwrap();
    assert!(url.contains("/tos/doubao-seedream-4-5/02"));
    assert!(
        url.contains(".jpeg?X-Tos-Algorithm=TOS4-HMAC-SHA256&X-Tos-Credential=AKLTmockAKID%2F")
    );
    let file = download(url).await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "image/jpeg");
    let bytes = file.bytes().await.unwrap();
    let size = imagesize::blob_size(&bytes).unwrap();
    assert_eq!((size.width, size.height), (2848, 1600));
    let path_and_query = &url[url.find("/tos/").unwrap()..];
    assert_eq!(api.downloads(), vec![path_and_query.to_owned()]);
}

#[tokio::test]
async fn success_responses_carry_an_ark_request_id_and_json_content_type() {
    let api = start().await;
    let response = generate(&api, request(V40, "a fox", json!({}))).await;
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 53);
    assert!(id.starts_with("02"));
    assert!(
        id[15..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
}

#[tokio::test]
async fn b64_json_items_are_bare_base64_of_a_real_jpeg_on_4x() {
    let api = start().await;
    let body = request(
        V40,
        "a fox",
        json!({"size": "1024x1024", "response_format": "b64_json", "output_format": "png"}),
    );
    let (status, body) = json_of(generate(&api, body).await).await;
    assert_eq!(status, 200);
    let b64 = body["data"][0]["b64_json"].as_str().unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
    let size = imagesize::blob_size(&bytes).unwrap();
    assert_eq!((size.width, size.height), (1024, 1024));
    let notes = &api.requests()[0].notes;
    assert!(
        notes.iter().any(|n| n.contains("output_format ignored")),
        "{notes:?}"
    );
}

#[tokio::test]
async fn lite_with_output_format_png_returns_a_png() {
    let api = start().await;
    let body = request(
        LITE,
        "a fox",
        json!({"output_format": "png", "response_format": "b64_json"}),
    );
    let (_, body) = json_of(generate(&api, body).await).await;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(body["data"][0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert_eq!(&bytes[..4], &[0x89, b'P', b'N', b'G']);
    assert_eq!(body["data"][0]["size"], "2048x2048");
}

#[tokio::test]
async fn requests_are_recorded_verbatim_with_notes_on_defaults() {
    let api = start().await;
    let raw = r#"{"model":"doubao-seedream-4-5-251128","prompt":"a fox [[fake:n=2]]","seed":7}"#;
    let response = post(&api)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let recorded = api.requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].raw_body, raw);
    assert_eq!(recorded[0].body["seed"], 7);
    assert_eq!(recorded[0].path, "/v1/images/generations");
    assert_eq!(
        recorded[0].authorization.as_deref(),
        Some("Bearer test-key")
    );
    assert!(
        recorded[0]
            .notes
            .iter()
            .any(|n| n.starts_with("watermark absent"))
    );
    assert!(
        recorded[0]
            .notes
            .iter()
            .any(|n| n.starts_with("seed ignored"))
    );
    let over_http: Value = client()
        .get(format!("http://{}/_fake/requests", api.addr()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http[0]["raw_body"], raw);
}

// ---------------------------------------------------------------- signed URLs

#[tokio::test]
async fn an_altered_signed_url_is_denied_and_the_verbatim_one_is_served() {
    let api = start().await;
    let (_, body) = json_of(generate(&api, request(V45, "a fox", json!({}))).await).await;
    let url = body["data"][0]["url"].as_str().unwrap();
    let denied = json!({"Code": "AccessDenied", "Message": "Access Denied", "EC": "0003-00000015"});

    let reencoded = download(&url.replace("%2F", "%252F")).await;
    assert_eq!(reencoded.status(), 403);
    assert_eq!(reencoded.json::<Value>().await.unwrap(), denied);

    let cut = download(&url.replace("&X-Tos-SignedHeaders=host", "")).await;
    assert_eq!(cut.status(), 403);
    let truncated = download(url.split_once('&').unwrap().0).await;
    assert_eq!(truncated.status(), 403);
    let no_query = download(url.split_once('?').unwrap().0).await;
    assert_eq!(no_query.status(), 403);

    // Authorization is neither needed nor harmful.
    let verbatim = client()
        .get(url)
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(verbatim.status(), 200);
    assert_eq!(api.downloads().len(), 5);
}

#[tokio::test]
async fn signed_urls_expire_after_a_day_on_the_fake_clock() {
    let api = start().await;
    api.set_clock(Some(1_767_225_600));
    let (_, body) = json_of(generate(&api, request(V45, "a fox", json!({}))).await).await;
    assert_eq!(body["created"], 1_767_225_600);
    let url = body["data"][0]["url"].as_str().unwrap();
    assert!(url.contains("X-Tos-Date=20260101T000000Z&X-Tos-Expires=86400&"));
    api.set_clock(Some(1_767_225_600 + 86_400));
    assert_eq!(download(url).await.status(), 200);
    let clock = client()
        .post(format!("http://{}/_fake/clock", api.addr()))
        .json(&json!({"unix": 1_767_225_600 + 86_401}))
        .send()
        .await
        .unwrap();
    assert_eq!(clock.status(), 200);
    assert_eq!(download(url).await.status(), 403);
}

// ---------------------------------------------------------------- validation

async fn expect_400(api: &FakeApi, body: Value, code: &str, param: &str, message_part: &str) {
    let (status, body) = json_of(generate(api, body).await).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), code, "{body}");
    assert_eq!(body["error"]["param"], param, "{body}");
    assert_eq!(body["error"]["type"], "BadRequest");
    let message = error_message(&body);
    assert!(message.contains(message_part), "{message}");
    let (_, id) = message.split_once(". Request id: ").expect(message);
    assert_eq!(id.len(), 53);
}

#[tokio::test]
async fn size_violations_are_rejected_with_the_upstream_messages() {
    let api = start().await;
    expect_400(&api, request(V45, "x", json!({"size": "1500x1500"})), "InvalidParameter", "size",
        "The parameter `size` specified in the request is not valid: image size must be at least 3686400 pixels").await;
    expect_400(
        &api,
        request(V40, "x", json!({"size": "800x800"})),
        "InvalidParameter",
        "size",
        "at least 921600 pixels",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"size": "1K"})),
        "InvalidParameter",
        "size",
        "the specified size is not supported for model doubao-seedream-4-5",
    )
    .await;
    expect_400(
        &api,
        request(LITE, "x", json!({"size": "8192x8192"})),
        "InvalidParameter",
        "size",
        "at most 16777216 pixels",
    )
    .await;
    expect_400(
        &api,
        request(LITE, "x", json!({"size": "adaptive"})),
        "InvalidParameter",
        "size",
        "not supported",
    )
    .await;
    let ok = generate(&api, request(LITE, "x", json!({"size": "3750x1250"}))).await;
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn field_violations_are_rejected_with_the_upstream_messages() {
    let api = start().await;
    expect_400(
        &api,
        request(LITE, "x", json!({"output_format": "webp"})),
        "InvalidParameter",
        "output_format",
        "must be one of: jpeg, png",
    )
    .await;
    expect_400(
        &api,
        request(
            LITE,
            "x",
            json!({"optimize_prompt_options": {"mode": "fast"}}),
        ),
        "InvalidParameter",
        "optimize_prompt_options.mode",
        "optimize_prompt_options.mode must be 'standard'",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"tools": [{"type": "web_search"}]})),
        "InvalidParameter",
        "tools",
        "is not supported by the current model",
    )
    .await;
    expect_400(
        &api,
        request(V45, "   ", json!({})),
        "MissingParameter",
        "prompt",
        "missing",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"response_format": "png"})),
        "InvalidParameter",
        "response_format",
        "must be one of: url, b64_json",
    )
    .await;
    let fast_on_40 = generate(
        &api,
        request(
            V40,
            "x",
            json!({"optimize_prompt_options": {"mode": "fast"}}),
        ),
    )
    .await;
    assert_eq!(fast_on_40.status(), 200);
}

#[tokio::test]
async fn unsupported_fields_are_rejected_only_when_strict() {
    let api = start_with(|c| c.strict_unsupported = true).await;
    expect_400(
        &api,
        request(V45, "x", json!({"guidance_scale": 2.5})),
        "InvalidParameter",
        "guidance_scale",
        "is not supported by the current model",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"output_format": "jpeg"})),
        "InvalidParameter",
        "output_format",
        "not supported",
    )
    .await;
}

#[tokio::test]
async fn reference_image_violations_are_rejected_with_the_upstream_messages() {
    let api = start().await;
    let fifteen: Vec<String> = (0..15)
        .map(|i| format!("https://example.com/{i}.png"))
        .collect();
    expect_400(
        &api,
        request(V45, "x", json!({"image": fifteen})),
        "InvalidParameter",
        "image",
        "the number of reference images cannot exceed 14",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"image": "data:image/png;base64,@@@"})),
        "InvalidImageURL.InvalidFormat",
        "image",
        "Image 0 failed",
    )
    .await;
    let upper = png_data_uri(64, 64).replace("image/png", "image/PNG");
    expect_400(
        &api,
        request(
            V45,
            "x",
            json!({"image": ["https://example.com/a.png", upper]}),
        ),
        "InvalidImageURL.InvalidFormat",
        "image",
        "Image 1 failed",
    )
    .await;
    expect_400(&api, request(V45, "x", json!({"image": [png_header_only(4634, 12324)]})), "InvalidParameter", "image",
        "Image 0 failed: Image exceeds the maximum allowed total pixels. Current dimensions: 4634x12324 = 57109416 pixels. Maximum allowed: 36000000 pixels. Request id: ").await;
    expect_400(
        &api,
        request(V45, "x", json!({"image": [png_data_uri(14, 64)]})),
        "InvalidParameter",
        "image",
        "greater than 14",
    )
    .await;
    expect_400(
        &api,
        request(V45, "x", json!({"image": [png_data_uri(20, 400)]})),
        "InvalidParameter",
        "image",
        "aspect ratio",
    )
    .await;
    let small_limit = start_with(|c| c.ref_limit_bytes = 100).await;
    expect_400(
        &small_limit,
        request(V45, "x", json!({"image": [png_data_uri(200, 200)]})),
        "InvalidParameter",
        "image",
        "Maximum allowed: 100 bytes",
    )
    .await;
}

#[tokio::test]
async fn a_preset_follows_the_ratio_of_the_first_data_uri_reference() {
    let api = start().await;
    let body = request(
        V45,
        "restyle",
        json!({"size": "2K", "image": ["https://example.com/a.png", png_data_uri(90, 160)]}),
    );
    let (status, body) = json_of(generate(&api, body).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["size"], "1600x2848");
}

#[tokio::test]
async fn realistic_off_table_sizes_differ_from_the_table() {
    let api = start_with(|c| c.realistic_off_table = true).await;
    let (_, body) =
        json_of(generate(&api, request(V45, "wide 16:9", json!({"size": "2K"}))).await).await;
    assert_eq!(body["data"][0]["size"], "2720x1536");
}

// ---------------------------------------------------------------- gateway errors

#[tokio::test]
async fn bad_tokens_get_401_in_both_dialects() {
    let api = start().await;
    let body = request(V45, "x", json!({}));
    for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdC1rZXk=")] {
        let mut builder = client()
            .post(format!("{}/images/generations", api.base_url()))
            .json(&body);
        if let Some(a) = auth {
            builder = builder.header("authorization", a);
        }
        let (status, err) = json_of(builder.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert_eq!(err["error"]["type"], "comet_api_error");
        assert_eq!(err["error"]["code"], "");
        assert!(error_message(&err).starts_with("invalid token (request id: "));
    }
    let ark = client()
        .post(format!("{}/images/generations", api.ark_base_url()))
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, err) = json_of(ark).await;
    assert_eq!(status, 401);
    assert_eq!(error_code(&err), "AuthenticationError");
    assert_eq!(err["error"]["type"], "Unauthorized");
    assert!(
        error_message(&err).starts_with(
            "The API key or AK/SK in the request is missing or invalid. Request id: 02"
        )
    );
}

#[tokio::test]
async fn any_token_is_accepted_when_no_key_is_configured() {
    let api = start_with(|c| c.api_key = None).await;
    let response = client()
        .post(format!("{}/images/generations", api.ark_base_url()))
        .bearer_auth("whatever")
        .json(&request(V45, "x", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn gateway_parse_errors_use_the_cometapi_envelope() {
    let api = start().await;
    let (status, err) = json_of(post(&api).body("not json").send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&err), "invalid_request");
    assert_eq!(err["error"]["type"], "comet_api_error");
    let (status, err) = json_of(generate(&api, json!({"prompt": "x"})).await).await;
    assert_eq!(status, 400);
    assert!(error_message(&err).starts_with("model name is required (request id: "));
    let (status, err) = json_of(generate(&api, json!([1, 2])).await).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_request"));
}

#[tokio::test]
async fn unknown_and_unopened_models_get_404() {
    let api = start_with(|c| {
        c.model_not_open = vec![V40.to_owned()];
        c.extra_models = vec!["doubao-seedream-9-9-991231".to_owned()];
    })
    .await;
    let (status, err) =
        json_of(generate(&api, request("doubao-seedream-1-0", "x", json!({}))).await).await;
    assert_eq!(
        (status, error_code(&err)),
        (404, "InvalidEndpointOrModel.NotFound")
    );
    assert_eq!(err["error"]["type"], "NotFound");
    let (status, err) = json_of(generate(&api, request(V40, "x", json!({}))).await).await;
    assert_eq!((status, error_code(&err)), (404, "ModelNotOpen"));
    let (status, body) = json_of(
        generate(
            &api,
            request("doubao-seedream-9-9-991231", "x", json!({"size": "4K"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body["data"][0]["url"]
            .as_str()
            .unwrap()
            .contains("/tos/doubao-seedream-9-9/")
    );
}

#[tokio::test]
async fn unknown_paths_redirect_to_v1_or_serve_html() {
    let api = start().await;
    let response = client()
        .post(format!("http://{}/images/generations", api.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 301);
    assert_eq!(response.headers()["location"], "/v1/images/generations");
    api.update_config(|c| c.unknown_path = seedream_fake::UnknownPath::Html);
    let response = client()
        .get(format!("http://{}/v2/x", api.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn ark_errors_follow_the_configured_relay_style() {
    let api = start_with(|c| c.upstream_error_style = UpstreamErrorStyle::NewApiFlat).await;
    let (status, err) =
        json_of(generate(&api, request(V45, "x", json!({"size": "1K"}))).await).await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["type"], "");
    assert_eq!(err["error"]["request_id"].as_str().unwrap().len(), 32);
    assert_eq!(error_code(&err), "InvalidParameter");
    api.update_config(|c| c.upstream_error_style = UpstreamErrorStyle::CometWrapped);
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:ipm]]", json!({}))).await).await;
    assert_eq!(status, 429);
    assert!(error_message(&err).starts_with("all channels failed. Last error: HTTP 429: {"));
    assert!(error_message(&err).contains("ModelAccountIpmRateLimitExceeded"));
}

// ---------------------------------------------------------------- scenarios

#[tokio::test]
async fn a_429_scenario_carries_retry_after_and_the_header_form_works_too() {
    let api = start().await;
    let (status, err) = json_of(
        generate(
            &api,
            request(V45, "x [[fake:ipm,retry_after=7]]", json!({})),
        )
        .await,
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(error_code(&err), "ModelAccountIpmRateLimitExceeded");
    assert_eq!(err["error"]["type"], "TooManyRequests");
    let response = post(&api)
        .header("x-fake-scenario", "overloaded,retry_after=3")
        .json(&request(V45, "x", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(error_code(&json_of(response).await.1), "ServerOverloaded");
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:setlimit]]", json!({}))).await).await;
    assert_eq!((status, error_code(&err)), (429, "SetLimitExceeded"));
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:internal]]", json!({}))).await).await;
    assert_eq!((status, error_code(&err)), (500, "InternalServiceError"));
    let (status, err) = json_of(
        generate(
            &api,
            request(V45, "x [[fake:input_text_sensitive]]", json!({})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (400, "InputTextSensitiveContentDetected")
    );
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:typo]]", json!({}))).await).await;
    assert_eq!((status, error_code(&err)), (400, "fake_directive"));
}

#[tokio::test]
async fn fail_n_fails_only_the_first_requests_with_the_same_prompt() {
    let api = start().await;
    let prompt = "fail twice [[fake:internal,fail_n=2]]";
    let other = "another prompt [[fake:internal,fail_n=2]]";
    assert_eq!(
        generate(&api, request(V45, prompt, json!({})))
            .await
            .status(),
        500
    );
    assert_eq!(
        generate(&api, request(V45, other, json!({})))
            .await
            .status(),
        500
    );
    assert_eq!(
        generate(&api, request(V45, prompt, json!({})))
            .await
            .status(),
        500
    );
    assert_eq!(
        generate(&api, request(V45, prompt, json!({})))
            .await
            .status(),
        200
    );
    assert_eq!(
        generate(&api, request(V45, other, json!({})))
            .await
            .status(),
        500
    );
}

#[tokio::test]
async fn gateway_failures_are_simulated() {
    let api = start().await;
    let (status, err) = json_of(
        generate(
            &api,
            request(V45, "x [[fake:comet_invalid_request_500]]", json!({})),
        )
        .await,
    )
    .await;
    assert_eq!((status, error_code(&err)), (500, "invalid_request"));
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:comet_503]]", json!({}))).await).await;
    assert_eq!(
        (status, err["error"]["type"].as_str().unwrap()),
        (503, "comet_api_error")
    );
    let (status, err) =
        json_of(generate(&api, request(V45, "x [[fake:wrapped_upstream]]", json!({}))).await).await;
    assert_eq!(status, 400);
    assert!(error_message(&err).contains("all channels failed. Last error: HTTP 400: {\"error\":{\"code\":\"OutputImageSensitiveContentDetected\""));

    let cf = generate(&api, request(V45, "x [[fake:cf_524]]", json!({}))).await;
    assert_eq!(cf.status().as_u16(), 524);
    assert!(
        cf.text()
            .await
            .unwrap()
            .contains("Error 524: A timeout occurred")
    );
    let cf = generate(&api, request(V45, "x [[fake:cf_524_json]]", json!({}))).await;
    assert_eq!(cf.headers()["content-type"], "application/problem+json");
    let (status, body) = json_of(cf).await;
    assert_eq!(
        (status, body["title"].as_str().unwrap()),
        (524, "Error 524: A timeout occurred")
    );

    let html = generate(&api, request(V45, "x [[fake:html_502]]", json!({}))).await;
    assert_eq!(html.status(), 502);
    assert!(
        html.text()
            .await
            .unwrap()
            .contains("<center><h1>502 Bad Gateway</h1></center>")
    );
    let html = generate(&api, request(V45, "x [[fake:html_200]]", json!({}))).await;
    assert_eq!(html.status(), 200);
    assert!(
        html.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn a_truncated_body_is_not_valid_json() {
    let api = start().await;
    let response = generate(&api, request(V45, "x [[fake:truncated]]", json!({}))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("{\"created\"") || text.starts_with('{'));
    assert!(serde_json::from_str::<Value>(&text).is_err());
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_a_response() {
    let api = start().await;
    let result = post(&api)
        .json(&request(V45, "x [[fake:reset]]", json!({})))
        .send()
        .await;
    let error = result.unwrap_err();
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    // The server keeps serving afterwards.
    assert_eq!(
        generate(&api, request(V45, "x", json!({}))).await.status(),
        200
    );
}

#[tokio::test]
async fn a_trickled_body_arrives_in_pieces_and_parses() {
    let api = start().await;
    let started = std::time::Instant::now();
    let (status, body) =
        json_of(generate(&api, request(V45, "x [[fake:trickle=2]]", json!({}))).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["usage"]["generated_images"], 1);
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn a_client_that_hangs_up_is_counted() {
    let api = start().await;
    let result = post(&api)
        .timeout(Duration::from_millis(100))
        .json(&request(V45, "x [[fake:slow=3000]]", json!({})))
        .send()
        .await;
    assert!(result.unwrap_err().is_timeout());
    for _ in 0..100 {
        if api.connections_closed_early() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the hang-up was not noticed");
}

// ---------------------------------------------------------------- groups and partial failures

async fn count_of(api: &FakeApi, prompt: &str, extra: Value) -> usize {
    let (status, body) = json_of(generate(api, request(LITE, prompt, extra)).await).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().len()
}

#[tokio::test]
async fn group_counts_follow_the_prompt_the_cap_and_the_references() {
    let api = start().await;
    let auto = json!({"sequential_image_generation": "auto"});
    assert_eq!(count_of(&api, "draw 4 images of a cat", json!({})).await, 1);
    assert_eq!(
        count_of(&api, "draw 4 images of a cat", auto.clone()).await,
        4
    );
    assert_eq!(count_of(&api, "a comic strip", auto.clone()).await, 1);
    assert_eq!(count_of(&api, "生成6张图", auto.clone()).await, 6);
    let capped = json!({"sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": 2}});
    assert_eq!(count_of(&api, "draw 4 images", capped).await, 2);
    let refs: Vec<String> = (0..13)
        .map(|i| format!("https://example.com/{i}.png"))
        .collect();
    let with_refs = json!({"sequential_image_generation": "auto", "image": refs});
    assert_eq!(count_of(&api, "[[fake:n=5]] story", with_refs).await, 2);
    assert_eq!(count_of(&api, "[[fake:n=40]] story", auto).await, 15);
}

#[tokio::test]
async fn partial_failures_keep_their_positions_and_are_not_billed() {
    let api = start().await;
    let auto = json!({"sequential_image_generation": "auto"});
    let (status, body) = json_of(
        generate(
            &api,
            request(V45, "[[fake:n=3,partial_sensitive=1]] x", auto.clone()),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert!(data[0]["url"].is_string() && data[2]["url"].is_string());
    assert_eq!(
        data[1],
        json!({"error": {"code": "OutputImageSensitiveContentDetected", "message": "The request failed because the output image may contain sensitive information."}})
    );
    assert_eq!(body["usage"]["generated_images"], 2);

    let (_, body) = json_of(
        generate(
            &api,
            request(V45, "[[fake:n=4,internal_at=2]] x", auto.clone()),
        )
        .await,
    )
    .await;
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    assert_eq!(data[2]["error"]["code"], "InternalServiceError");
    assert_eq!(body["usage"]["generated_images"], 2);

    let (status, err) = json_of(
        generate(
            &api,
            request(V45, "[[fake:partial_sensitive=0]] x", json!({})),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error_code(&err)),
        (400, "OutputImageSensitiveContentDetected")
    );
    let (status, err) =
        json_of(generate(&api, request(V45, "[[fake:internal_at=0]] x", auto)).await).await;
    assert_eq!((status, error_code(&err)), (500, "InternalServiceError"));
}

#[tokio::test]
async fn web_search_usage_is_reported_for_lite() {
    let api = start().await;
    let body = request(
        LITE,
        "today's weather [[fake:search=2]]",
        json!({"tools": [{"type": "web_search"}]}),
    );
    let (_, body) = json_of(generate(&api, body).await).await;
    assert_eq!(body["usage"]["tool_usage"]["web_search"], 2);
}

// ---------------------------------------------------------------- rate limits

#[tokio::test]
async fn the_images_per_minute_limit_counts_generated_images() {
    let api = start_with(|c| c.ipm_limit = 3).await;
    let two = json!({"sequential_image_generation": "auto"});
    assert_eq!(
        generate(&api, request(V45, "[[fake:n=2]] a", two.clone()))
            .await
            .status(),
        200
    );
    assert_eq!(
        generate(&api, request(V45, "b", json!({}))).await.status(),
        200
    );
    let (status, err) = json_of(generate(&api, request(V45, "c", json!({}))).await).await;
    assert_eq!(
        (status, error_code(&err)),
        (429, "ModelAccountIpmRateLimitExceeded")
    );
    // Another model has its own window.
    assert_eq!(
        generate(&api, request(V40, "d", json!({}))).await.status(),
        200
    );
}

#[tokio::test]
async fn the_inflight_cap_rejects_concurrent_requests() {
    let api = start_with(|c| c.max_inflight = Some(1)).await;
    let slow = generate(&api, request(V45, "[[fake:slow=300]] a", json!({})));
    let second = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        json_of(generate(&api, request(V45, "b", json!({}))).await).await
    };
    let (first, (status, err)) = tokio::join!(slow, second);
    assert_eq!(first.status(), 200);
    assert_eq!(
        (status, error_code(&err)),
        (429, "InflightBatchsizeExceeded")
    );
}

// ---------------------------------------------------------------- streaming

async fn sse_frames(api: &FakeApi, prompt: &str) -> (reqwest::header::HeaderMap, Vec<String>) {
    let extra = json!({"stream": true, "sequential_image_generation": "auto"});
    let response = generate(api, request(LITE, prompt, extra)).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    assert!(text.ends_with("\n\n"));
    (
        headers,
        text.trim_end().split("\n\n").map(str::to_owned).collect(),
    )
}

#[tokio::test]
async fn streaming_sends_single_line_frames_then_completed_and_done() {
    let api = start_with(|c| c.stream_passthrough = true).await;
    let (headers, frames) = sse_frames(&api, "[[fake:n=3,partial_sensitive=1]] x").await;
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(frames.len(), 5, "{frames:?}");
    let parse = |frame: &str, event: &str| -> Value {
        let (head, data) = frame.split_once('\n').unwrap();
        assert_eq!(head, format!("event: {event}"));
        serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap()
    };
    let first = parse(&frames[0], "image_generation.partial_succeeded");
    assert_eq!(
        (first["image_index"].as_u64(), first["size"].as_str()),
        (Some(0), Some("2048x2048"))
    );
    assert!(first["url"].is_string());
    let failed = parse(&frames[1], "image_generation.partial_failed");
    assert_eq!(
        failed["error"]["code"],
        "OutputImageSensitiveContentDetected"
    );
    assert_eq!(
        parse(&frames[2], "image_generation.partial_succeeded")["image_index"],
        2
    );
    let completed = parse(&frames[3], "image_generation.completed");
    assert_eq!(completed["usage"]["generated_images"], 2);
    assert_eq!(frames[4], "data: [DONE]");
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_without_done() {
    let api = start_with(|c| c.stream_passthrough = true).await;
    let (_, frames) = sse_frames(&api, "[[fake:n=3,stream_error_after=1]] x").await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    let error: Value = serde_json::from_str(frames[1].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "InternalServiceError");
}

#[tokio::test]
async fn streaming_requests_get_plain_json_without_passthrough_and_errors_are_never_streamed() {
    let api = start().await;
    let (status, body) =
        json_of(generate(&api, request(LITE, "x", json!({"stream": true}))).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["usage"]["generated_images"], 1);
    api.update_config(|c| c.stream_passthrough = true);
    let response = generate(
        &api,
        request(LITE, "x", json!({"stream": true, "size": "1K"})),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
}

// ---------------------------------------------------------------- control

#[tokio::test]
async fn the_config_endpoint_merges_given_keys() {
    let api = start().await;
    let url = format!("http://{}/_fake/config", api.addr());
    let merged: Value = client()
        .post(&url)
        .json(&json!({"ipm_limit": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(merged["ipm_limit"], 1);
    assert_eq!(merged["api_key"], "test-key");
    let bad = client()
        .post(&url)
        .json(&json!({"no_such_key": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        generate(&api, request(V45, "a", json!({}))).await.status(),
        200
    );
    assert_eq!(
        generate(&api, request(V45, "b", json!({}))).await.status(),
        429
    );
}

#[tokio::test]
async fn serve_runs_on_a_given_listener_until_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(seedream_fake::serve(
        listener,
        FakeConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let response = client()
        .post(format!("http://{addr}/api/v3/images/generations"))
        .bearer_auth("test-key")
        .json(&request(V45, "x", json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn an_oversized_body_gets_413_before_it_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let api = start().await;
    let mut tcp = tokio::net::TcpStream::connect(api.addr()).await.unwrap();
    let head = "POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-key\r\nContent-Type: application/json\r\nContent-Length: 70000000\r\n\r\n{";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(
        text.contains("request body too large (request id: "),
        "{text}"
    );
}

#[tokio::test]
async fn seeded_ids_make_outputs_repeatable() {
    let mut outputs = Vec::new();
    for _ in 0..2 {
        let api = start_with(|c| c.seed_ids = true).await;
        api.set_clock(Some(1_767_225_600));
        let (_, body) = json_of(generate(&api, request(V45, "x", json!({}))).await).await;
        let url = body["data"][0]["url"].as_str().unwrap().to_owned();
        outputs.push(url.replace(&api.addr().to_string(), "HOST"));
    }
    assert_eq!(outputs[0], outputs[1]);
}

#[tokio::test]
async fn latency_follows_time_scale_and_the_524_waits_for_the_scaled_timeout() {
    // 4.5 at 2K takes 15 s upstream; scaled by 0.01 that is 150 ms (no jitter with seed_ids).
    let api = start_with(|c| {
        c.time_scale = 0.01;
        c.seed_ids = true;
        c.cf_timeout_s = 20.0;
    })
    .await;
    let started = std::time::Instant::now();
    assert_eq!(
        generate(&api, request(V45, "x", json!({}))).await.status(),
        200
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(150) && took < Duration::from_secs(2),
        "{took:?}"
    );
    let started = std::time::Instant::now();
    let cf = generate(&api, request(V45, "x [[fake:cf_524]]", json!({}))).await;
    assert_eq!(cf.status().as_u16(), 524);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn streaming_headers_wait_for_the_first_image_unless_configured_otherwise() {
    for delay_headers in [true, false] {
        let api = start_with(|c| {
            c.stream_passthrough = true;
            c.delay_headers_until_first_image = delay_headers;
        })
        .await;
        let extra = json!({"stream": true, "sequential_image_generation": "auto"});
        let started = std::time::Instant::now();
        let response = generate(&api, request(LITE, "[[fake:n=2,slow=150]] x", extra)).await;
        let headers_after = started.elapsed();
        let text = response.text().await.unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"));
        assert!(started.elapsed() >= Duration::from_millis(300));
        if delay_headers {
            assert!(
                headers_after >= Duration::from_millis(150),
                "{headers_after:?}"
            );
        } else {
            assert!(
                headers_after < Duration::from_millis(150),
                "{headers_after:?}"
            );
        }
    }
}

#[tokio::test]
async fn hostile_inputs_get_client_errors_and_never_break_the_server() {
    let api = start().await;
    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let bodies = [
        json!({"model": V45, "prompt": "x", "size": 123}),
        json!({"model": V45, "prompt": 42}),
        json!({"model": 7, "prompt": "x"}),
        json!({"model": V45, "prompt": "x", "image": [1, 2]}),
        json!({"model": V45, "prompt": "x", "image": {}}),
        json!({"model": V45, "prompt": "x", "image": []}),
        json!({"model": V45, "prompt": "x", "image": ""}),
        json!({"model": V45, "prompt": "x", "image": "data:image/png;base64,"}),
        json!({"model": V45, "prompt": "x", "stream": "yes", "watermark": "no"}),
        json!({"model": V45, "prompt": "x", "sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": 1e300}}),
        json!({"model": V45, "prompt": "x", "sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": -1}}),
        json!({"model": V45, "prompt": "x", "sequential_image_generation_options": 5}),
        json!({"model": V45, "prompt": "x", "size": "99999999999x1"}),
        json!({"model": LITE, "prompt": "x", "tools": "web_search"}),
        json!({"model": V45, "prompt": "x [[fake:slow=99999999999999999999999]]"}),
        json!({"model": V45, "prompt": "x [[fake:n=4294967296]]"}),
    ];
    for body in bodies {
        let status = generate(&api, body.clone()).await.status().as_u16();
        assert!((400..500).contains(&status), "{status} for {body}");
    }
    let response = post(&api).body(deep).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let max_capped = json!({"sequential_image_generation": "auto", "sequential_image_generation_options": {"max_images": 99}});
    assert_eq!(count_of(&api, "[[fake:n=20]] x", max_capped).await, 15);
}

/// `seedream-fake --api-key foo` accepts foo (and no longer the default key), and its start-up line
/// says which key it accepts without printing a chosen key.
#[tokio::test]
async fn the_fake_binary_accepts_the_key_it_is_given() {
    use tokio::io::AsyncBufReadExt as _;
    let chosen = "sk-chosen-key-7";
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seedream-fake"))
        .args(["--listen", "127.0.0.1:0", "--api-key", chosen])
        .env_remove("SEEDREAM_API_KEY")
        .env_remove("COMETAPI_KEY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a start-up line")
        .unwrap()
        .unwrap();
    assert!(
        line.contains("accepts the key given with --api-key"),
        "{line}"
    );
    assert!(
        !line.contains(chosen),
        "the chosen key is not printed: {line}"
    );
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") && w.ends_with("/v1"))
        .unwrap()
        .to_owned();
    let status = |key: &'static str| {
        let url = format!("{base}/images/generations");
        async move {
            reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&json!({"model": "doubao-seedream-4-0-250828", "prompt": "a fox", "size": "1K"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(chosen).await, 200);
    assert_eq!(status("test-key").await, 401);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_fake_binary_says_it_accepts_test_key_by_default() {
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seedream-fake"))
        .args(["--listen", "127.0.0.1:0"])
        .env_remove("SEEDREAM_API_KEY")
        .env_remove("COMETAPI_KEY")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("a start-up line")
        .unwrap()
        .unwrap();
    assert!(line.contains(r#"accepts the API key "test-key""#), "{line}");
    child.kill().await.unwrap();
}

//! The tools through a real MCP client (rmcp's, over an in-memory duplex) against the fake API.

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{call, client_for, config, connect, fake, is_error, text};

#[tokio::test]
async fn generate_image_returns_the_signed_url_verbatim_with_size_and_model() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "a red fox", "model": "4.5", "size": "2048x2048"}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    let structured = result
        .structured_content
        .clone()
        .expect("structured content");
    let url = structured["images"][0]["url"]
        .as_str()
        .expect("a url")
        .to_owned();
    assert!(
        url.contains("X-Tos-Credential=AKLTmockAKID%2F") && url.contains('&'),
        "{url}"
    );
    let t = text(&result);
    assert!(t.contains(&url), "the text holds the URL exactly: {t}");
    assert!(
        t.contains("2048x2048") && t.contains("doubao-seedream-4-5-251128"),
        "{t}"
    );
    assert_eq!(structured["images"][0]["width"], 2048);
    assert_eq!(structured["usage"]["generated_images"], 1);
    let download = reqwest::get(&url).await.unwrap();
    assert_eq!(download.status(), 200, "the URL works as given");
}

#[tokio::test]
async fn the_request_sent_upstream_has_exactly_the_expected_fields() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    call(
        &client,
        "generate_image",
        json!({"prompt": "  a red fox  ", "model": "4.5", "aspect_ratio": "16:9", "seed": 5}),
    )
    .await;

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    assert_eq!(
        body,
        &json!({"model": "doubao-seedream-4-5-251128", "prompt": "a red fox", "size": "2848x1600",
                "response_format": "url", "watermark": false})
    );
    assert_eq!(
        requests[0].authorization.as_deref(),
        Some("Bearer test-key")
    );
}

#[tokio::test]
async fn seedream_4_x_gets_jpeg_and_a_note_when_png_is_asked() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    let result = call(&client, "generate_image", json!({"prompt": "a fox", "model": "4.0", "response_format": "b64_json", "output_format": "png"})).await;

    assert_eq!(
        result
            .content
            .iter()
            .filter_map(|c| c.as_image())
            .next()
            .unwrap()
            .mime_type,
        "image/jpeg"
    );
    assert!(
        text(&result).contains("output_format `png` was not sent"),
        "{}",
        text(&result)
    );
    assert!(fake.requests()[0].body.get("output_format").is_none());
}

#[tokio::test]
async fn edit_image_sends_urls_verbatim_and_normalised_data_uris() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let png = tiny_png();
    let data_uri = format!(
        "data:image/PNG;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let url = "https://example.com/a%2Fb.jpg?x=1&y=2";

    let result = call(
        &client,
        "edit_image",
        json!({"prompt": "make it a watercolor", "images": [url, data_uri]}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    let sent = &fake.requests()[0].body["image"];
    assert_eq!(sent[0], url);
    assert!(
        sent[1]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
}

#[tokio::test]
async fn a_sequence_returns_successes_and_lists_each_failure_with_its_code() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    let result = call(
        &client,
        "generate_sequence",
        json!({"prompt": "[[fake:n=4,partial_sensitive=1]] four panels of a cat's day", "max_images": 4}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    let s = result.structured_content.clone().unwrap();
    assert_eq!(s["images"].as_array().unwrap().len(), 3);
    assert_eq!(s["failures"][0]["index"], 2);
    assert_eq!(
        s["failures"][0]["code"],
        "OutputImageSensitiveContentDetected"
    );
    assert!(
        text(&result).contains("Image 2 failed: OutputImageSensitiveContentDetected"),
        "{}",
        text(&result)
    );
    let body = &fake.requests()[0].body;
    assert_eq!(body["sequential_image_generation"], "auto");
    assert_eq!(body["sequential_image_generation_options"]["max_images"], 4);
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_that_name_the_fix_and_send_nothing() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let many: Vec<String> = (0..15)
        .map(|i| format!("https://example.com/{i}.png"))
        .collect();

    for (tool, arguments, expected) in [
        (
            "generate_image",
            json!({}),
            "Missing required argument `prompt`",
        ),
        ("generate_image", json!({"prompt": "   "}), "`prompt`"),
        (
            "generate_image",
            json!({"prompt": "p", "size": "huge"}),
            "e.g. 2048x2048",
        ),
        (
            "generate_image",
            json!({"prompt": "p", "model": "4.5", "size": "1K"}),
            "2K or 4K",
        ),
        (
            "generate_image",
            json!({"prompt": "p", "model": "4.5", "size": "1500x1500"}),
            "3,686,400 to 16,777,216",
        ),
        (
            "generate_image",
            json!({"prompt": "p", "n": 3}),
            "Unknown argument `n`",
        ),
        (
            "generate_image",
            json!({"prompt": 5}),
            "Invalid argument `prompt`",
        ),
        (
            "generate_image",
            json!({"prompt": "p", "seed": -5}),
            "`seed`",
        ),
        (
            "generate_image",
            json!({"prompt": "p", "aspect_ratio": "5:4"}),
            "16:9",
        ),
        (
            "edit_image",
            json!({"prompt": "p", "images": []}),
            "1 to 14",
        ),
        (
            "edit_image",
            json!({"prompt": "p", "images": many}),
            "at most 14",
        ),
        (
            "edit_image",
            json!({"prompt": "p", "images": ["/etc/passwd"]}),
            "images[0]",
        ),
        (
            "generate_sequence",
            json!({"prompt": "p", "max_images": 16}),
            "1 to 15",
        ),
        (
            "generate_sequence",
            json!({"prompt": "p", "max_images": "four"}),
            "`max_images`",
        ),
        (
            "generate_sequence",
            json!({"prompt": "p", "max_images": 13, "images": ["https://e.com/1.png", "https://e.com/2.png", "https://e.com/3.png"]}),
            "max_images 12 at most",
        ),
    ] {
        let result = call(&client, tool, arguments.clone()).await;
        assert!(is_error(&result), "{tool} {arguments}");
        assert!(
            text(&result).contains(expected),
            "{tool} {arguments}: {}",
            text(&result)
        );
    }
    assert!(fake.requests().is_empty(), "nothing reached the upstream");
    let ok = call(
        &client,
        "generate_image",
        json!({"prompt": "still serving"}),
    )
    .await;
    assert!(!is_error(&ok), "the server keeps serving: {}", text(&ok));
}

#[tokio::test]
async fn upstream_failures_become_tool_errors_with_advice() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    for (prompt, expected) in [
        ("[[fake:input_text_sensitive]] p", "rephrase"),
        ("[[fake:partial_sensitive=0]] p", "rephrase"),
        ("[[fake:ipm]] p", "rate limiting"),
        ("[[fake:quota]] p", "quota"),
        ("[[fake:internal]] p", "try again"),
        ("[[fake:comet_invalid_request_500]] p", "invalid_request"),
        ("[[fake:cf_524]] p", "billed"),
        (
            "[[fake:wrapped_upstream]] p",
            "OutputImageSensitiveContentDetected",
        ),
        ("[[fake:truncated]] p", "billed"),
        ("[[fake:html_502]] p", "502"),
    ] {
        let result = call(&client, "generate_image", json!({"prompt": prompt})).await;
        assert!(is_error(&result), "{prompt}");
        assert!(
            text(&result).contains(expected),
            "{prompt}: {}",
            text(&result)
        );
    }
    let ok = call(
        &client,
        "generate_image",
        json!({"prompt": "after the storm"}),
    )
    .await;
    assert!(!is_error(&ok), "the server keeps serving: {}", text(&ok));
}

#[tokio::test]
async fn a_wrong_key_is_reported_without_echoing_it() {
    let fake = fake().await;
    let client = connect(config(&fake.base_url(), "sk-wrong-and-secret", &[])).await;

    let result = call(&client, "generate_image", json!({"prompt": "p"})).await;

    assert!(is_error(&result));
    let t = text(&result);
    assert!(t.contains("401") && t.contains("SEEDREAM_API_KEY"), "{t}");
    assert!(!t.contains("sk-wrong-and-secret"));
    assert_eq!(fake.requests().len(), 1, "a 401 is not retried");
}

#[tokio::test]
async fn without_a_key_the_tools_are_listed_and_a_call_names_both_variables() {
    let fake = fake().await;
    let client = connect(config(&fake.base_url(), "", &[])).await;

    assert_eq!(client.list_all_tools().await.unwrap().len(), 4);
    let result = call(&client, "generate_image", json!({"prompt": "p"})).await;

    assert!(is_error(&result));
    assert!(text(&result).contains("SEEDREAM_API_KEY") && text(&result).contains("COMETAPI_KEY"));
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_ark_base_url_works_with_the_same_client() {
    let fake = fake().await;
    let client = connect(config(&fake.ark_base_url(), crate::support::KEY, &[])).await;

    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "4.5"}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(fake.requests()[0].path, "/api/v3/images/generations");
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let err = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("paint")
                .with_arguments(crate::support::args(json!({}))),
        )
        .await;
    assert!(err.is_err());
}

#[tokio::test]
async fn unknown_model_ids_pass_through_to_the_upstream() {
    let fake = seedream_fake::FakeApi::start(seedream_fake::FakeConfig {
        extra_models: vec!["doubao-seedream-6-0-270101".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let client = client_for(&fake).await;

    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "doubao-seedream-6-0-270101"}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    assert_eq!(
        fake.requests()[0].body["model"],
        Value::from("doubao-seedream-6-0-270101")
    );
}

fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 32, 32);
    enc.set_color(png::ColorType::Rgb);
    let mut w = enc.write_header().unwrap();
    w.write_image_data(&[200u8; 32 * 32 * 3]).unwrap();
    drop(w);
    out
}

#[tokio::test]
async fn images_that_could_not_be_saved_say_so_on_the_first_line_with_the_fix() {
    let fake = fake().await;
    // A folder below a regular file cannot be created, even by root.
    let file = crate::support::scratch_dir("unsaved").join("a-file");
    std::fs::write(&file, b"not a folder").unwrap();
    let output_dir = file.join("images").display().to_string();
    let client = connect(config(
        &fake.base_url(),
        crate::support::KEY,
        &["--output-dir", &output_dir],
    ))
    .await;

    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "a red fox", "model": "4.5"}),
    )
    .await;

    assert!(!is_error(&result), "{}", text(&result));
    let t = text(&result);
    let first = t.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("NOT SAVED:") && first.contains(&output_dir),
        "{t}"
    );
    assert!(
        first.contains("SEEDREAM_OUTPUT_DIR") && first.contains("use the URL"),
        "{t}"
    );
    assert_eq!(t.matches("cannot be created").count(), 1, "said once: {t}");
}

/// Numbers as hostile callers send them: huge, negative, fractional, at the edges of the
/// integer types, spelled as strings, or wrapped in arrays and objects.
fn hostile_number() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        any::<f64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-20.0..40.0f64).prop_map(Value::from),
        proptest::sample::select(vec![
            json!(1e300),
            json!(-1e300),
            json!(1e20),
            json!(1.8446744073709552e19),
            json!(f64::MAX),
            json!(f64::MIN_POSITIVE),
            json!(-0.0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(4294967296u64),
            json!(2147483648u64),
            json!(0),
            json!(15.5),
            json!("1e300"),
            json!("NaN"),
            json!("Infinity"),
            json!("-1"),
            json!("15"),
            json!([1e300]),
            json!({"value": 1e300}),
            json!(null),
            json!(true),
        ]),
    ]
}

fn hostile_size() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(w, h)| json!(format!("{w}x{h}"))),
        (any::<u32>(), any::<u32>()).prop_map(|(w, h)| json!(format!("{w}x{h}"))),
        (0u32..10_000, 0u32..10_000).prop_map(|(w, h)| json!(format!("{w}x{h}"))),
        proptest::sample::select(vec![
            json!("4294967295x4294967295"),
            json!("0x0"),
            json!("-1x-1"),
            json!("1e300x2"),
            json!("99999999999999999999x1"),
            json!("16384x1"),
            json!("9999K"),
            json!("0K"),
        ]),
    ]
}

fn hostile_ratio() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(w, h)| json!(format!("{w}:{h}"))),
        proptest::sample::select(vec![json!("0:0"), json!("1:0"), json!("4294967295:1")]),
    ]
}

/// A tool and its arguments: a plausible prompt, and hostile values in every numeric slot.
fn hostile_call(
    reference: String,
) -> impl proptest::strategy::Strategy<Value = (String, serde_json::Map<String, Value>)> {
    use proptest::prelude::*;
    let tool = proptest::sample::select(vec![
        "generate_image",
        "edit_image",
        "generate_sequence",
        "get_job",
    ]);
    let slot = |s: BoxedStrategy<Value>| proptest::option::of(s);
    (
        tool,
        slot(hostile_number().boxed()),
        slot(hostile_number().boxed()),
        slot(hostile_number().boxed()),
        slot(hostile_number().boxed()),
        slot(hostile_size().boxed()),
        slot(hostile_ratio().boxed()),
        any::<bool>(),
    )
        .prop_map(
            move |(tool, max_images, seed, guidance, wait, size, ratio, with_model)| {
                let mut args = serde_json::Map::new();
                if tool == "get_job" {
                    args.insert("job_id".into(), json!("job-x"));
                    if let Some(w) = wait {
                        args.insert("wait_seconds".into(), w);
                    }
                    return (tool.to_owned(), args);
                }
                args.insert("prompt".into(), json!("a fox"));
                if with_model {
                    args.insert("model".into(), json!("4.5"));
                }
                if tool == "edit_image" {
                    args.insert("images".into(), json!([reference.clone()]));
                }
                for (key, value) in [
                    (
                        "max_images",
                        max_images.or_else(|| (tool == "generate_sequence").then(|| json!(2))),
                    ),
                    ("seed", seed),
                    ("guidance_scale", guidance),
                    ("size", size),
                    ("aspect_ratio", ratio),
                ] {
                    if let Some(v) = value {
                        args.insert(key.into(), v);
                    }
                }
                (tool.to_owned(), args)
            },
        )
}

#[test]
fn no_numeric_argument_makes_any_tool_panic_or_hang() {
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_fake, client) = runtime.block_on(async {
        let fake = fake().await;
        let client = client_for(&fake).await;
        (fake, client)
    });
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(64, 64)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let reference = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png.into_inner())
    );
    runner
        .run(&hostile_call(reference), |(tool, args)| {
            let result = runtime.block_on(async {
                tokio::time::timeout(
                    std::time::Duration::from_secs(30),
                    call(&client, &tool, Value::Object(args.clone())),
                )
                .await
            });
            let result =
                result.map_err(|_| TestCaseError::fail(format!("{tool} {args:?} hung")))?;
            let t = text(&result);
            if t.starts_with("Internal error") || t.is_empty() {
                return Err(TestCaseError::fail(format!("{tool} {args:?}: {t}")));
            }
            Ok(())
        })
        .unwrap();
}

//! The wire spellings of requests and the lenient reading of answers.

use super::*;
use crate::size::Preset;

fn minimal() -> ImageRequest {
    ImageRequest {
        model: "doubao-seedream-4-5-251128".into(),
        prompt: "a red fox".into(),
        image: vec![],
        size: None,
        sequential_image_generation: None,
        sequential_image_generation_options: None,
        stream: None,
        response_format: ResponseFormat::Url,
        watermark: false,
        output_format: None,
        seed: None,
        guidance_scale: None,
        background: None,
        optimize_prompt_options: None,
        tools: Vec::new(),
    }
}

#[test]
fn a_minimal_request_sends_exactly_the_required_keys_and_no_nulls() {
    let v = serde_json::to_value(minimal()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["model", "prompt", "response_format", "watermark"]);
    assert_eq!(v["watermark"], false);
}

#[test]
fn a_full_request_uses_the_documented_spellings() {
    let mut r = minimal();
    r.image = vec!["https://example.com/a.png".into()];
    r.size = Some(Size::Preset(Preset::TwoK));
    r.sequential_image_generation = Some(SequentialMode::Auto);
    r.sequential_image_generation_options = Some(SequentialOptions { max_images: 4 });
    r.response_format = ResponseFormat::B64Json;
    r.output_format = Some(OutputFormat::Png);
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "model": "doubao-seedream-4-5-251128", "prompt": "a red fox",
            "image": ["https://example.com/a.png"], "size": "2K",
            "sequential_image_generation": "auto",
            "sequential_image_generation_options": {"max_images": 4},
            "response_format": "b64_json", "watermark": false, "output_format": "png"
        })
    );
    assert_eq!(r.max_outputs(), 4);
}

#[test]
fn responses_tolerate_unknown_fields_and_mixed_items() {
    let body = r#"{"model":"m","created":1,"extra":true,
        "data":[{"url":"https://x/1.jpeg?a=1&b=%2F","size":"2048x2048","new":1},
                {"error":{"code":"OutputImageSensitiveContentDetected","message":"no"}},
                {"b64_json":"/9j/","size":"1x1"},{"weird":1}],
        "usage":{"generated_images":2,"output_tokens":32768,"total_tokens":32768,"tool_usage":{"web_search":0}}}"#;
    let r: ImagesResponse = serde_json::from_str(body).unwrap();
    assert!(
        matches!(&r.data[0], ImageItem::Url { url, .. } if url == "https://x/1.jpeg?a=1&b=%2F")
    );
    assert!(
        matches!(&r.data[1], ImageItem::Failed { error } if error.code == "OutputImageSensitiveContentDetected")
    );
    assert!(matches!(&r.data[2], ImageItem::B64 { .. }));
    assert!(matches!(&r.data[3], ImageItem::Unknown(_)));
    assert_eq!(r.usage.unwrap().generated_images, Some(2));
}

#[test]
fn a_paid_url_survives_neighbouring_fields_of_unexpected_types() {
    for body in [
        r#"{"created":"1700000000","data":[{"url":"https://x/1.jpeg","size":2048}],"usage":{"generated_images":"1"}}"#,
        r#"{"created":1700000000.5,"model":7,"data":[{"url":"https://x/1.jpeg","size":null}],"usage":"n/a"}"#,
        r#"{"created":{"t":1},"data":{"url":"https://x/1.jpeg","size":[2048,2048]},"usage":{"generated_images":1.0,"total_tokens":"lots"}}"#,
    ] {
        let r: ImagesResponse =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert!(
            matches!(&r.data[..], [ImageItem::Url { url, .. }] if url == "https://x/1.jpeg"),
            "{body}: {:?}",
            r.data
        );
    }
    let r: ImagesResponse = serde_json::from_str(
        r#"{"created":"1700000000","data":[{"url":"u","size":2048}],"usage":{"generated_images":"1"}}"#,
    )
    .unwrap();
    assert_eq!(r.created, Some(1_700_000_000));
    assert_eq!(r.usage.unwrap().generated_images, Some(1));
    assert!(matches!(&r.data[0], ImageItem::Url { size: Some(s), .. } if s == "2048"));
}

#[test]
fn a_b64_payload_and_a_failure_survive_odd_neighbours() {
    let r: ImagesResponse = serde_json::from_str(
        r#"{"data":[{"b64_json":"/9j/","size":false},{"error":{"code":429,"message":["x"]}},{"error":"gone"}],"created":null}"#,
    )
    .unwrap();
    assert!(matches!(&r.data[0], ImageItem::B64 { b64_json, size: None } if b64_json == "/9j/"));
    assert!(matches!(&r.data[1], ImageItem::Failed { error } if error.code == "429"));
    assert!(matches!(&r.data[2], ImageItem::Failed { error } if error.message == "gone"));
}

#[test]
fn a_top_level_error_object_in_a_200_is_kept() {
    let r: ImagesResponse = serde_json::from_str(
        r#"{"error":{"code":"InternalServiceError","message":"the model crashed"},"data":[]}"#,
    )
    .unwrap();
    assert_eq!(r.error.unwrap().message, "the model crashed");
}

#[test]
fn a_response_with_no_data_still_parses() {
    let r: ImagesResponse = serde_json::from_str("{}").unwrap();
    assert!(r.data.is_empty());
}

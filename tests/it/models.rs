//! The newer models and options through the tools, against the fake: the exact body sent for
//! each option, and refusals that send nothing.

use serde_json::json;

use crate::support::{call, client_for, fake, is_error, text};

#[tokio::test]
async fn each_new_option_reaches_the_upstream_as_its_exact_field() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    for (args, expected) in [
        (
            json!({"prompt": "a mug", "model": "5.5", "size": "1K", "background": "transparent"}),
            json!({"model": "doubao-seedream-5-5-261028", "prompt": "a mug", "size": "1K",
                   "response_format": "url", "watermark": false, "output_format": "png",
                   "background": "transparent"}),
        ),
        (
            json!({"prompt": "today's weather in Paris", "web_search": true}),
            json!({"model": "doubao-seedream-5-0-260128", "prompt": "today's weather in Paris",
                   "size": "2K", "response_format": "url", "watermark": false,
                   "tools": [{"type": "web_search"}]}),
        ),
        (
            json!({"prompt": "a fox", "model": "4.0", "prompt_mode": "fast"}),
            json!({"model": "doubao-seedream-4-0-250828", "prompt": "a fox", "size": "2K",
                   "response_format": "url", "watermark": false,
                   "optimize_prompt_options": {"mode": "fast"}}),
        ),
        (
            json!({"prompt": "a fox", "model": "5.0-pro", "size": "2048x2048"}),
            json!({"model": "doubao-seedream-5-0-pro-260628", "prompt": "a fox",
                   "size": "2048x2048", "response_format": "url", "watermark": false}),
        ),
    ] {
        let before = fake.requests().len();
        let result = call(&client, "generate_image", args.clone()).await;
        assert!(!is_error(&result), "{args}: {}", text(&result));
        let requests = fake.requests();
        assert_eq!(requests.len(), before + 1);
        assert_eq!(requests[before].body, expected, "{args}");
    }
}

#[tokio::test]
async fn options_a_model_lacks_are_refused_before_anything_is_sent() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    for (tool, args, expected) in [
        (
            "generate_image",
            json!({"prompt": "a mug", "model": "4.5", "background": "transparent"}),
            "cannot make transparent images",
        ),
        (
            "generate_image",
            json!({"prompt": "a fox", "model": "5.5", "web_search": true}),
            "cannot search the web",
        ),
        (
            "generate_sequence",
            json!({"prompt": "4 panels", "max_images": 4, "model": "5.0-flash"}),
            "one image per call",
        ),
        (
            "generate_image",
            json!({"prompt": "a fox", "model": "5.0-pro", "size": "4K"}),
            "1K or 2K",
        ),
    ] {
        let result = call(&client, tool, args.clone()).await;
        assert!(is_error(&result), "{args}");
        assert!(
            text(&result).contains(expected),
            "{args}: {}",
            text(&result)
        );
    }
    assert!(fake.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn a_result_states_the_images_billed_and_an_estimated_cost() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let result = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "4.5"}),
    )
    .await;
    let t = text(&result);
    assert!(
        t.contains("Estimated cost: 0.04 USD for 1 billed image (an estimate"),
        "{t}"
    );
    let cost = &result.structured_content.clone().unwrap()["cost"];
    assert_eq!(
        cost,
        &json!({"estimated": 0.04, "currency": "USD", "images_billed": 1, "is_estimate": true})
    );
}

#[tokio::test]
async fn a_sequence_costs_only_the_images_that_were_billed() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    // The third image fails and ends the sequence: usage.generated_images is 2, and only
    // those are priced.
    let result = call(
        &client,
        "generate_sequence",
        json!({"prompt": "[[fake:n=4,internal_at=2]] four panels", "max_images": 4, "model": "4.0"}),
    )
    .await;
    let cost = &result.structured_content.clone().unwrap()["cost"];
    assert_eq!(cost["images_billed"], 2, "{}", text(&result));
    assert!((cost["estimated"].as_f64().unwrap() - 0.06).abs() < 1e-9);
}

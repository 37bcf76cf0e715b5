//! Property tests of argument parsing: any JSON object, with known or unknown keys and values of
//! any type or size, is parsed or refused with a short message naming the argument.

use proptest::prelude::*;
use rmcp::model::JsonObject;
use serde_json::Value;

use super::parse;
use crate::tools::params::{
    EditImageParams, GenerateImageParams, GenerateSequenceParams, GetJobParams,
};

const KEYS: &[&str] = &[
    "prompt",
    "images",
    "max_images",
    "size",
    "aspect_ratio",
    "model",
    "response_format",
    "output_format",
    "embed",
    "filename",
    "output_dir",
    "watermark",
    "seed",
    "guidance_scale",
    "job_id",
    "wait_seconds",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        proptest::sample::select(vec![
            "2K",
            "4096x4096",
            "16:9",
            "4.5",
            "png",
            "none",
            "url",
            "b64_json"
        ])
        .prop_map(Value::from),
        // Long strings (tens of kilobytes): refusals must not quote them back whole.
        ("[a-z]{1,3}", 10_000usize..30_000).prop_map(|(s, n)| Value::from(s.repeat(n))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn arguments() -> impl Strategy<Value = JsonObject> {
    let key = prop_oneof![
        4 => proptest::sample::select(KEYS.to_vec()).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => ("[a-z]{1,3}", 2_000usize..10_000).prop_map(|(s, n)| s.repeat(n)),
    ];
    proptest::collection::btree_map(key, json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// A refusal is short, and says which argument and what to do.
fn check_refusal(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        message.chars().count() < 2000,
        "{} chars",
        message.chars().count()
    );
    prop_assert!(
        message.starts_with("Unknown argument")
            || message.starts_with("Missing required argument `")
            || message.starts_with("Invalid argument `"),
        "{message:.300}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_arguments_are_parsed_or_refused_with_a_short_message_naming_the_argument(args in arguments()) {
        if let Err(e) = parse::<GenerateImageParams>(args.clone()) {
            check_refusal(&e.0)?;
        }
        if let Err(e) = parse::<EditImageParams>(args.clone()) {
            check_refusal(&e.0)?;
        }
        if let Err(e) = parse::<GenerateSequenceParams>(args.clone()) {
            check_refusal(&e.0)?;
        }
        if let Err(e) = parse::<GetJobParams>(args) {
            check_refusal(&e.0)?;
        }
    }
}

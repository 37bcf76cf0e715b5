//! `tools/list` is pinned, portable and small: an rmcp upgrade or a param change shows here.

use serde_json::Value;

use crate::support::{client_for, fake};

const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/snapshots/tools_list.json"
);

async fn tools_list() -> Value {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let tools = client.list_all_tools().await.unwrap();
    serde_json::json!({ "tools": tools })
}

#[tokio::test]
async fn tools_list_matches_the_snapshot() {
    let actual = serde_json::to_string_pretty(&tools_list().await).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(SNAPSHOT, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "tools/list changed; if intended, rerun with UPDATE_SNAPSHOTS=1 and review the diff"
    );
}

#[tokio::test]
async fn tools_list_stays_under_eight_kilobytes() {
    // Issue 14's cap; the per-model options (background, prompt_mode, web_search) took it past 6.
    let size = serde_json::to_string(&tools_list().await).unwrap().len();
    assert!(size < 8 * 1024, "tools/list is {size} bytes");
}

#[tokio::test]
async fn every_input_schema_uses_only_the_portable_profile() {
    let list = tools_list().await;
    let tools = list["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 4);
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}");
        assert!(schema["properties"].is_object(), "{name}");
        let required = if name == "get_job" {
            "job_id"
        } else {
            "prompt"
        };
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == required),
            "{name}"
        );
        assert_portable(name, schema);
        let annotations = &tool["annotations"];
        assert_eq!(
            (
                &annotations["readOnlyHint"],
                &annotations["destructiveHint"],
                &annotations["idempotentHint"],
                &annotations["openWorldHint"]
            ),
            if name == "get_job" {
                (
                    &Value::Bool(true),
                    &Value::Bool(false),
                    &Value::Bool(true),
                    &Value::Bool(false),
                )
            } else {
                (
                    &Value::Bool(false),
                    &Value::Bool(false),
                    &Value::Bool(false),
                    &Value::Bool(true),
                )
            },
            "{name}"
        );
        assert!(tool["title"].is_string(), "{name} has a title");
        for (prop, def) in schema["properties"].as_object().unwrap() {
            assert!(def["description"].is_string(), "{name}.{prop} is described");
        }
    }
}

/// OpenAI strict mode (and the Agents SDK's `ensure_strict_json_schema`) requires every property
/// in `required`; optional ones must then admit null, or a strict model has to invent a value.
#[tokio::test]
async fn every_property_is_required_and_the_optional_ones_admit_null() {
    let list = tools_list().await;
    for tool in list["tools"].as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        let schema = &tool["inputSchema"];
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        let truly_required: &[&str] = match name {
            "get_job" => &["job_id"],
            "edit_image" => &["prompt", "images"],
            "generate_sequence" => &["prompt", "max_images"],
            _ => &["prompt"],
        };
        for (prop, def) in schema["properties"].as_object().unwrap() {
            assert!(
                required.contains(&prop.as_str()),
                "{name}.{prop} is not required"
            );
            let nullable = def["type"]
                .as_array()
                .is_some_and(|t| t.contains(&Value::from("null")));
            assert_eq!(
                nullable,
                !truly_required.contains(&prop.as_str()),
                "{name}.{prop}: optional exactly when nullable"
            );
        }
        // google-genai's MCP conversion crashes on a boolean here; strict converters add it.
        assert!(schema.get("additionalProperties").is_none(), "{name}");
    }
}

fn assert_portable(path: &str, v: &Value) {
    match v {
        Value::Object(map) => {
            for banned in [
                "$schema",
                "$ref",
                "$defs",
                "definitions",
                "anyOf",
                "oneOf",
                "allOf",
                "format",
                "pattern",
            ] {
                assert!(!map.contains_key(banned), "{path} has {banned}");
            }
            match map.get("type") {
                None | Some(Value::String(_)) => {}
                // The one type array strict-mode hosts need: a single type or null.
                Some(Value::Array(types)) => assert!(
                    types.len() == 2 && types[0].is_string() && types[1] == "null",
                    "{path} has a type union {types:?}"
                ),
                Some(other) => panic!("{path} has type {other}"),
            }
            if map.get("type") == Some(&Value::from("array")) {
                assert!(
                    map.contains_key("items"),
                    "{path} is an array without items"
                );
            }
            for (k, child) in map {
                assert_portable(&format!("{path}.{k}"), child);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| assert_portable(path, i)),
        _ => {}
    }
}

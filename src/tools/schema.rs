//! Input schemas every major client accepts: one flat object, no `$ref`, unions, type arrays
//! or `format` (Cursor, Windsurf, Gemini and OpenAI strict hosts reject those).

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The portable input schema of `T`.
pub fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    Arc::new(schema_object::<T>())
}

/// The names of the properties `T` accepts, for refusing unknown arguments.
pub fn property_names<T: JsonSchema>() -> Vec<String> {
    match schema_object::<T>().get("properties") {
        Some(Value::Object(props)) => props.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The description of one property, used to explain a rejected argument.
pub fn property_description<T: JsonSchema>(name: &str) -> Option<String> {
    schema_object::<T>()
        .get("properties")?
        .get(name)?
        .get("description")?
        .as_str()
        .map(str::to_owned)
}

fn schema_object<T: JsonSchema>() -> JsonObject {
    let mut settings = SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    let mut value = serde_json::to_value(settings.into_generator().into_root_schema_for::<T>())
        .unwrap_or_default();
    simplify(&mut value);
    let mut object = match value {
        Value::Object(o) => o,
        _ => JsonObject::new(),
    };
    for key in ["$schema", "title", "description", "$defs"] {
        object.remove(key);
    }
    object
        .entry("properties")
        .or_insert_with(|| Value::Object(JsonObject::new()));
    object
        .entry("required")
        .or_insert_with(|| Value::Array(Vec::new()));
    object
}

/// Removes what portable hosts reject: nullable unions collapse to their non-null branch,
/// `format` and `default: null` go, and `null` leaves enums.
fn simplify(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("format");
            if map.get("default") == Some(&Value::Null) {
                map.remove("default");
            }
            if let Some(Value::Array(types)) = map.get("type") {
                let non_null: Vec<Value> = types
                    .iter()
                    .filter(|t| t.as_str() != Some("null"))
                    .cloned()
                    .collect();
                if let [single] = non_null.as_slice() {
                    map.insert("type".into(), single.clone());
                }
            }
            if let Some(Value::Array(variants)) = map.get("enum") {
                let kept: Vec<Value> = variants.iter().filter(|v| !v.is_null()).cloned().collect();
                map.insert("enum".into(), Value::Array(kept));
            }
            for key in ["anyOf", "oneOf"] {
                if let Some(Value::Array(branches)) = map.get(key) {
                    let non_null: Vec<Value> = branches
                        .iter()
                        .filter(|b| b.get("type").and_then(Value::as_str) != Some("null"))
                        .cloned()
                        .collect();
                    if let [Value::Object(single)] = non_null.as_slice() {
                        let single = single.clone();
                        map.remove(key);
                        for (k, v) in single {
                            map.entry(k).or_insert(v);
                        }
                    }
                }
            }
            for v in map.values_mut() {
                simplify(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(simplify),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(JsonSchema, serde::Deserialize)]
    #[allow(dead_code, reason = "only the schema is used")]
    struct Example {
        /// The prompt.
        prompt: String,
        /// A count.
        count: Option<u32>,
        /// A choice.
        choice: Option<Choice>,
    }

    #[derive(JsonSchema, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Choice {
        Left,
        Right,
    }

    #[test]
    fn optional_fields_become_plain_optional_properties() {
        let s = Value::Object((*input_schema::<Example>()).clone());
        assert_eq!(
            s,
            serde_json::json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "description": "The prompt."},
                    "count": {"type": "integer", "minimum": 0, "description": "A count."},
                    "choice": {"type": "string", "enum": ["left", "right"], "description": "A choice."}
                },
                "required": ["prompt"]
            })
        );
        assert_eq!(property_names::<Example>(), ["choice", "count", "prompt"]);
        assert_eq!(
            property_description::<Example>("count").as_deref(),
            Some("A count.")
        );
    }
}

//! Input schemas every major client accepts: one flat object, no `$ref`, `anyOf`/`oneOf` or
//! `format` (Cursor, Windsurf and Gemini reject those).
//!
//! Strict-mode hosts (OpenAI's function calling, the Agents SDK's `ensure_strict_json_schema`)
//! make every property required. So every property is listed in `required`, and an optional
//! one says how to leave it out: its type admits `null` (`["string","null"]`, the form OpenAI
//! documents and google-genai turns into `nullable`). `args::parse` reads a null, and an empty
//! string for an optional text, as "not given".
//!
//! `additionalProperties: false` is left out on purpose: google-genai 3.3's MCP conversion
//! (`_mcp_utils._filter_to_supported_schema`) crashes on a boolean there and Gemini's
//! OpenAPI-subset `parameters` refuse it, while strict converters add it themselves. Unknown
//! arguments are refused by `args::parse` with the list of accepted ones.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// The portable input schema of `T`.
pub fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    Arc::new(schema_object::<T>())
}

/// The names of the properties `T` accepts, for refusing unknown arguments.
pub fn property_names<T: JsonSchema + 'static>() -> Vec<String> {
    match portable_object::<T>().get("properties") {
        Some(Value::Object(props)) => props.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The properties a caller may leave out (those `T` does not require).
pub fn optional_names<T: JsonSchema + 'static>() -> Vec<String> {
    let object = portable_object::<T>();
    let required = required_of(&object);
    match object.get("properties") {
        Some(Value::Object(props)) => props
            .keys()
            .filter(|k| !required.contains(k))
            .cloned()
            .collect(),
        _ => Vec::new(),
    }
}

/// The description of one property, used to explain a rejected argument.
pub fn property_description<T: JsonSchema + 'static>(name: &str) -> Option<String> {
    schema_object::<T>()
        .get("properties")?
        .get(name)?
        .get("description")?
        .as_str()
        .map(str::to_owned)
}

/// The portable schema made strict-mode ready: every property required, optional ones nullable.
fn schema_object<T: JsonSchema + 'static>() -> JsonObject {
    let mut object = JsonObject::clone(&portable_object::<T>());
    let mut required = required_of(&object);
    if let Some(Value::Object(props)) = object.get_mut("properties") {
        for (name, def) in props.iter_mut() {
            if !required.contains(name) {
                make_nullable(def);
                required.push(name.clone());
            }
        }
    }
    object.insert(
        "required".into(),
        Value::Array(required.into_iter().map(Value::String).collect()),
    );
    object
}

fn required_of(object: &JsonObject) -> Vec<String> {
    match object.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(|n| n.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// `"type": "string"` becomes `["string", "null"]`. An `enum` keeps only its real values, as in
/// OpenAI's documented strict example: Gemini's enums are strings only.
fn make_nullable(def: &mut Value) {
    if let Some(Value::String(t)) = def.get("type") {
        let t = t.clone();
        if let Value::Object(map) = def {
            map.insert("type".into(), serde_json::json!([t, "null"]));
        }
    }
}

/// The portable schema of `T`, derived once per type: argument parsing reads it on every call
/// (the names it accepts, which are optional), and deriving it took about a tenth of a
/// call's own time.
fn portable_object<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    static DERIVED: LazyLock<Mutex<HashMap<TypeId, Arc<JsonObject>>>> =
        LazyLock::new(Mutex::default);
    let mut derived = DERIVED.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        derived
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(derive_portable::<T>())),
    )
}

/// The schema as schemars derives it, reduced to the portable profile.
fn derive_portable<T: JsonSchema>() -> JsonObject {
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
    fn optional_fields_are_required_but_nullable_for_strict_hosts() {
        let s = Value::Object((*input_schema::<Example>()).clone());
        assert_eq!(
            s,
            serde_json::json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "description": "The prompt."},
                    "count": {"type": ["integer", "null"], "minimum": 0, "description": "A count."},
                    "choice": {"type": ["string", "null"], "enum": ["left", "right"], "description": "A choice."}
                },
                "required": ["prompt", "choice", "count"]
            })
        );
        assert_eq!(property_names::<Example>(), ["choice", "count", "prompt"]);
        assert_eq!(optional_names::<Example>(), ["choice", "count"]);
        assert_eq!(
            property_description::<Example>("count").as_deref(),
            Some("A count.")
        );
    }
}

//! Reads tool arguments into typed params, and says exactly which argument is wrong and what
//! it should look like, so a model can fix its call in one step.

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::params::ImageOptions;
use super::schema;

/// An argument problem, already phrased for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ArgError(pub String);

/// Parses `args` as `T`, refusing arguments `T` does not have.
pub fn parse<T: DeserializeOwned + JsonSchema>(args: JsonObject) -> Result<T, ArgError> {
    let known = schema::property_names::<T>();
    let mut unknown: Vec<&String> = args.keys().filter(|k| !known.contains(k)).collect();
    if !unknown.is_empty() {
        unknown.sort();
        let names: Vec<String> = unknown.iter().map(|k| format!("`{k}`")).collect();
        return Err(ArgError(format!(
            "Unknown argument{} {}. This tool accepts: {}.",
            if names.len() > 1 { "s" } else { "" },
            names.join(", "),
            known.join(", ")
        )));
    }
    let value = serde_json::Value::Object(args.clone());
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut path = e.path().to_string();
        let mut inner = e.into_inner().to_string();
        if path == "." {
            // serde's `flatten` loses the path: find the shared option that failed on its own.
            if let Some((key, message)) = locate_option_error(&args) {
                (path, inner) = (key, message);
            }
        }
        if let Some(field) = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            let hint = schema::property_description::<T>(field)
                .map(|d| format!(" {d}"))
                .unwrap_or_default();
            return ArgError(format!("Missing required argument `{field}`.{hint}"));
        }
        // The top-level name carries the schema description; `images[2]` keeps its index.
        let top = path.split(['.', '[']).next().unwrap_or("");
        let hint = schema::property_description::<T>(top)
            .map(|d| format!(" Expected: {d}"))
            .unwrap_or_default();
        ArgError(format!("Invalid argument `{path}`: {inner}.{hint}"))
    })
}

fn locate_option_error(args: &JsonObject) -> Option<(String, String)> {
    args.iter().find_map(|(key, value)| {
        let single =
            serde_json::Value::Object(JsonObject::from_iter([(key.clone(), value.clone())]));
        serde_json::from_value::<ImageOptions>(single)
            .err()
            .map(|e| (key.clone(), e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::tools::params::{GenerateImageParams, GenerateSequenceParams};

    fn object(v: serde_json::Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_missing_prompt_is_named_with_its_description() {
        let e = parse::<GenerateImageParams>(object(json!({"size": "2K"}))).unwrap_err();
        assert!(
            e.0.starts_with("Missing required argument `prompt`. What to draw"),
            "{e}"
        );
    }

    #[test]
    fn a_wrong_type_names_the_argument_and_what_is_expected() {
        let e =
            parse::<GenerateSequenceParams>(object(json!({"prompt": "p", "max_images": "four"})))
                .unwrap_err();
        assert!(e.0.starts_with("Invalid argument `max_images`"), "{e}");
        assert!(e.0.contains("1-15"), "{e}");
    }

    #[test]
    fn a_bad_size_explains_the_accepted_forms() {
        let e = parse::<GenerateImageParams>(object(json!({"prompt": "p", "size": "huge"})))
            .unwrap_err();
        assert!(e.0.contains("`size`") && e.0.contains("2048x2048"), "{e}");
    }

    #[test]
    fn unknown_arguments_are_refused_with_the_accepted_list() {
        let e = parse::<GenerateImageParams>(object(
            json!({"prompt": "p", "n": 2, "negative_prompt": "x"}),
        ))
        .unwrap_err();
        assert!(
            e.0.starts_with("Unknown arguments `n`, `negative_prompt`."),
            "{e}"
        );
        assert!(e.0.contains("aspect_ratio"), "{e}");
    }

    #[test]
    fn nulls_for_optional_arguments_are_accepted() {
        let p = parse::<GenerateImageParams>(object(
            json!({"prompt": "p", "size": null, "seed": null}),
        ))
        .unwrap();
        assert!(p.options.size.is_none());
    }

    #[test]
    fn an_unknown_aspect_ratio_lists_the_choices() {
        let e = parse::<GenerateImageParams>(object(json!({"prompt": "p", "aspect_ratio": "5:4"})))
            .unwrap_err();
        assert!(
            e.0.contains("`aspect_ratio`") && e.0.contains("16:9"),
            "{e}"
        );
    }
}

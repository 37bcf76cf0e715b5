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
pub fn parse<T: DeserializeOwned + JsonSchema + 'static>(
    mut args: JsonObject,
) -> Result<T, ArgError> {
    let known = schema::property_names::<T>();
    let unlisted = unadvertised(&known);
    let mut unknown: Vec<&String> = args
        .keys()
        .filter(|k| !known.contains(k) && !unlisted.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        unknown.sort();
        let mut names: Vec<String> = unknown
            .iter()
            .take(MAX_NAMED)
            .map(|k| format!("`{}`", shorten(k, 40)))
            .collect();
        if unknown.len() > MAX_NAMED {
            names.push(format!("{} more", unknown.len() - MAX_NAMED));
        }
        return Err(ArgError(format!(
            "Unknown argument{} {}. This tool accepts: {}.",
            if names.len() > 1 { "s" } else { "" },
            names.join(", "),
            known.join(", ")
        )));
    }
    drop_unset::<T>(&mut args);
    let value = serde_json::Value::Object(args.clone());
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let mut path = shorten(&e.path().to_string(), 80);
        // serde quotes the offending value whole ("invalid type: string \"…\""), and a value
        // can be megabytes: keep the message readable and the result small.
        let mut inner = shorten(&e.into_inner().to_string(), 300);
        if path == "." {
            // serde's `flatten` loses the path: find the shared option that failed on its own.
            if let Some((key, message)) = locate_option_error(&args) {
                (path, inner) = (shorten(&key, 80), shorten(&message, 300));
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

/// Removes the values a strict-mode model sends for "no value", so they mean "not given": a
/// strict host makes every property required, and the model then fills the ones it does not
/// want with `null`, `""` or `0`. So: `null` anywhere; `""` (or only spaces) for an optional
/// argument; and `0` where it is outside the range anyway (`guidance_scale` is 1-10). A `0`
/// that means something (`seed`, `wait_seconds`) is kept.
fn drop_unset<T: JsonSchema + 'static>(args: &mut JsonObject) {
    let optional = schema::optional_names::<T>();
    args.retain(|key, value| {
        let unset = match value {
            serde_json::Value::Null => true,
            serde_json::Value::String(s) => s.trim().is_empty() && optional.contains(key),
            serde_json::Value::Number(n) => key == "guidance_scale" && n.as_f64() == Some(0.0),
            _ => false,
        };
        !unset
    });
}

/// The arguments `T` accepts without advertising them: [`ImageOptions::UNADVERTISED`] when `T`
/// carries the image options (its schema lists `watermark`, one of theirs).
fn unadvertised(known: &[String]) -> &'static [&'static str] {
    if known.iter().any(|k| k == "watermark") {
        ImageOptions::UNADVERTISED
    } else {
        &[]
    }
}

/// Unknown argument names listed one by one; the rest are counted.
const MAX_NAMED: usize = 10;

/// `s` cut to `max` characters, with an ellipsis when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or(s)),
        None => s.to_owned(),
    }
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
mod proptests;

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

    /// What a strict-mode model sends when it must fill every property and wants none.
    #[test]
    fn a_strict_model_s_placeholders_mean_not_given() {
        let p = parse::<GenerateImageParams>(object(json!({
            "prompt": "p", "size": "", "aspect_ratio": null, "model": "", "response_format": null,
            "output_format": " ", "embed": "", "filename": "", "output_dir": "",
            "watermark": null, "seed": null, "guidance_scale": 0
        })))
        .unwrap();
        let o = p.options;
        assert!(o.size.is_none() && o.model.is_none() && o.aspect_ratio.is_none());
        assert!(o.response_format.is_none() && o.output_format.is_none() && o.embed.is_none());
        assert!(o.filename.is_none() && o.output_dir.is_none() && o.watermark.is_none());
        assert!(o.seed.is_none() && o.guidance_scale.is_none());
        let s = parse::<GenerateSequenceParams>(object(
            json!({"prompt": "p", "max_images": 2, "images": null}),
        ))
        .unwrap();
        assert!(s.images.is_none());
    }

    #[test]
    fn placeholders_do_not_hide_a_missing_prompt_or_an_unknown_argument() {
        let p = parse::<GenerateImageParams>(object(json!({"prompt": ""}))).unwrap();
        assert_eq!(
            p.prompt, "",
            "an empty prompt is left to the tool's own refusal"
        );
        let e = parse::<GenerateImageParams>(object(json!({"prompt": null}))).unwrap_err();
        assert!(e.0.starts_with("Missing required argument `prompt`"), "{e}");
        let e =
            parse::<GenerateImageParams>(object(json!({"prompt": "p", "n": null}))).unwrap_err();
        assert!(e.0.starts_with("Unknown argument `n`"), "{e}");
        let p = parse::<GenerateImageParams>(object(json!({"prompt": "p", "seed": 0}))).unwrap();
        assert_eq!(p.options.seed, Some(0), "seed 0 is a real seed");
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

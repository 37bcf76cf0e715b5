//! `structuredContent`: the metadata of a result as typed JSON, and the `outputSchema` it
//! validates against. Built from the same [`Facts`] as the text, never by re-reading it, and
//! never holding base64 (the images travel as content blocks, links and resources).
//!
//! The four tools that return images share one schema. It stays small, since `tools/list`
//! repeats it in each tool and must stay under 8 KB: the fields a typed client needs are
//! declared (a failure's only by name; `items` without `"type": "array"`, which it implies),
//! the rest (an image's `bytes` and `mime_type`, `prompt`, `notes`, …) are present and allowed
//! but not spelled out.

use std::sync::{Arc, LazyLock};

use rmcp::model::JsonObject;
use serde_json::{Map, Value, json};

use super::{Facts, file_uri};
use crate::delivery::DeliveredImage;
use seedream::parse_dimensions;

/// The `outputSchema` of `generate_image`, `edit_image`, `generate_sequence` and `get_job`:
/// a finished result (`images`, `failures`, `model`, …) or a job still running (`job_id`,
/// `status: "running"`). `cost` is the estimate (`{"estimated", "currency", "images_billed",
/// "is_estimate"}`).
pub fn output_schema() -> Arc<JsonObject> {
    static SCHEMA: LazyLock<Arc<JsonObject>> = LazyLock::new(|| {
        let int = || json!({"type": "integer"});
        let text = || json!({"type": "string"});
        let schema = json!({
            "type": "object",
            "properties": {
                "model": text(),
                "images": {"items": {"properties": {
                    "index": int(), "width": int(), "height": int(),
                    "path": text(), "url": text(), "resource": text()
                }}},
                "failures": {"items": {"required": ["index", "code", "message"]}},
                "usage": {"type": "object"},
                "request_id": text(),
                "job_id": text(),
                "cost": {"type": "object"}
            }
        });
        Arc::new(match schema {
            Value::Object(o) => o,
            _ => JsonObject::new(),
        })
    });
    Arc::clone(&SCHEMA)
}

/// The structured content of a finished result.
pub fn of(facts: &Facts<'_>) -> Value {
    let outcome = facts.outcome;
    let generation = &outcome.generation;
    let images: Vec<Value> = outcome.delivery.images.iter().map(image).collect();
    let failures: Vec<Value> = facts
        .failures
        .iter()
        .map(|(i, f)| json!({"index": i, "code": f.code, "message": f.message}))
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), json!(facts.model));
    out.insert("prompt".into(), json!(outcome.request.prompt));
    out.insert("images".into(), Value::Array(images));
    out.insert("failures".into(), Value::Array(failures));
    if let Some(usage) = &generation.response.usage {
        out.insert("usage".into(), json!(usage));
    }
    out.insert("cost".into(), outcome.cost.json());
    if let Some(created) = generation.response.created {
        out.insert("created".into(), json!(created));
        out.insert("urls_expire_at".into(), json!(created + 24 * 3600));
    }
    if let Some(id) = &generation.request_id {
        out.insert("request_id".into(), json!(id));
    }
    if !facts.notes.is_empty() {
        out.insert("notes".into(), json!(facts.notes));
    }
    Value::Object(out)
}

/// One image: its size and format, where it is (saved path, URL, the resource to read it
/// from), and what went wrong with it.
fn image(i: &DeliveredImage) -> Value {
    let mut o = Map::new();
    o.insert("index".into(), json!(i.index));
    if let Some(url) = &i.url {
        o.insert("url".into(), json!(url));
    }
    if let Some(path) = &i.path {
        o.insert("path".into(), json!(path.display().to_string()));
    }
    // The full image as a resource: the one the server keeps, else the saved file.
    if let Some(kept) = &i.kept {
        o.insert("resource".into(), json!(kept.uri));
        o.insert("job_id".into(), json!(kept.job_id));
    } else if let Some(path) = &i.path {
        o.insert("resource".into(), json!(file_uri(path)));
    }
    if let Some(size) = &i.size {
        o.insert("size".into(), json!(size));
        if let Some((w, h)) = parse_dimensions(size) {
            o.insert("width".into(), json!(w));
            o.insert("height".into(), json!(h));
        }
    }
    if let Some(format) = i.format {
        o.insert("mime_type".into(), json!(format.mime()));
    }
    if let Some(bytes) = i.bytes {
        o.insert("bytes".into(), json!(bytes));
    }
    if let Some(e) = &i.embedded {
        o.insert(
            "embedded".into(),
            json!(if e.preview { "preview" } else { "full" }),
        );
    }
    if let Some(problem) = &i.problem {
        o.insert("problem".into(), json!(problem));
    }
    Value::Object(o)
}

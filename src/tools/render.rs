//! Turns a delivered generation (or its failure) into what the caller sees: first a text
//! block a person and a model can act on ([`summary`]), then the embedded images, then a link
//! per kept or saved file; `structuredContent` carries the same metadata and never base64.
//! Kept apart from delivery so the result shape can follow the protocol's evolution.

pub mod summary;

use std::path::Path;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, Resource};
use serde_json::{Map, Value, json};

use crate::delivery::DeliveredImage;
use crate::generation::{Outcome, ToolError};
use seedream::{ImageItem, ItemError, parse_dimensions};

/// Characters escaped in `file://` URIs.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The one way a failed tool call becomes a result: its text, flagged as an error.
impl From<ToolError> for CallToolResult {
    fn from(error: ToolError) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(error.to_string())])
    }
}

/// What the text and the structured content both say about an outcome.
pub struct Facts<'a> {
    pub outcome: &'a Outcome,
    /// The model that answered (or was asked, when the answer does not say).
    pub model: String,
    /// (1-based position, error) of the images that failed.
    pub failures: Vec<(usize, ItemError)>,
    /// Everything the caller should know, in order: preparing, the answer, delivery.
    pub notes: Vec<String>,
}

impl<'a> Facts<'a> {
    pub fn of(outcome: &'a Outcome) -> Facts<'a> {
        let response = &outcome.generation.response;
        let model = response
            .model
            .clone()
            .unwrap_or_else(|| outcome.request.model.clone());
        let mut notes = outcome.notes.clone();
        let mut failures = Vec::new();
        for (i, item) in response.data.iter().enumerate() {
            match item {
                ImageItem::Failed { error } => failures.push((i + 1, error.clone())),
                ImageItem::Unknown(_) => notes.push(format!(
                    "position {} of the answer held neither an image nor an error",
                    i + 1
                )),
                _ => {}
            }
        }
        notes.extend(outcome.generation.notes.iter().cloned());
        notes.extend(outcome.delivery.notes.iter().cloned());
        Facts {
            outcome,
            model,
            failures,
            notes,
        }
    }
}

/// Renders a successful generation.
pub fn success(outcome: &Outcome) -> CallToolResult {
    let facts = Facts::of(outcome);
    let images = &outcome.delivery.images;
    let mut content = vec![ContentBlock::text(summary::text(&facts))];
    for image in images {
        if let Some(e) = &image.embedded {
            content.push(ContentBlock::image(e.data_b64.clone(), e.mime));
        }
    }
    content.extend(images.iter().flat_map(links));
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured(&facts));
    result
}

/// The text of [`success`]'s result, for callers that print it (the one-shot command).
pub fn summary_text(outcome: &Outcome) -> String {
    summary::text(&Facts::of(outcome))
}

/// A link to the full image the server keeps, and one to the saved file.
fn links(image: &DeliveredImage) -> Vec<ContentBlock> {
    let kept = image
        .kept
        .as_ref()
        .map(|kept| (kept.uri.clone(), format!("image-{}", image.index)));
    let saved = image.path.as_ref().map(|path| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (file_uri(path), name)
    });
    kept.into_iter()
        .chain(saved)
        .map(|(uri, name)| {
            let mut resource = Resource::new(uri, name);
            if let Some(format) = image.format {
                resource = resource.with_mime_type(format.mime());
            }
            if let Some(bytes) = image.bytes {
                resource = resource.with_size(bytes as u64);
            }
            ContentBlock::resource_link(resource)
        })
        .collect()
}

fn structured(facts: &Facts<'_>) -> Value {
    let generation = &facts.outcome.generation;
    let images: Vec<Value> = facts
        .outcome
        .delivery
        .images
        .iter()
        .map(image_metadata)
        .collect();
    let failures: Vec<Value> = facts
        .failures
        .iter()
        .map(|(i, f)| json!({"index": i, "code": f.code, "message": f.message}))
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), json!(facts.model));
    out.insert("images".into(), Value::Array(images));
    out.insert("failures".into(), Value::Array(failures));
    if let Some(usage) = &generation.response.usage {
        out.insert("usage".into(), json!(usage));
    }
    out.insert("cost".into(), facts.outcome.cost.json());
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

fn image_metadata(i: &DeliveredImage) -> Value {
    let mut o = Map::new();
    o.insert("index".into(), json!(i.index));
    if let Some(url) = &i.url {
        o.insert("url".into(), json!(url));
    }
    if let Some(path) = &i.path {
        o.insert("path".into(), json!(path.display().to_string()));
    }
    if let Some(kept) = &i.kept {
        o.insert("resource".into(), json!(kept.uri));
        o.insert("job_id".into(), json!(kept.job_id));
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

/// The resource a kept image is read from.
pub fn kept_uri(job_id: &str, index: usize) -> String {
    format!("seedream://jobs/{job_id}/images/{index}")
}

/// `file:///abs/path` with the characters URIs cannot hold escaped.
pub fn file_uri(path: &Path) -> String {
    format!(
        "file://{}",
        utf8_percent_encode(&path.to_string_lossy(), PATH_ESCAPES)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_becomes_an_error_result_holding_exactly_its_text() {
        let result = CallToolResult::from(ToolError::invalid("size", "use 2K or 4K"));
        assert_eq!(result.is_error, Some(true));
        let [block] = result.content.as_slice() else {
            panic!("{result:?}");
        };
        assert_eq!(
            block.as_text().map(|t| t.text.as_str()),
            Some(
                "Invalid argument `size`: use 2K or 4K. Nothing was sent to the image API; fix the \
                 argument and call the tool again."
            )
        );
    }
}

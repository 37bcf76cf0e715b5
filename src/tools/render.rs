//! Turns a delivered generation (or its failure) into what the caller sees: first a text
//! block a person and a model can act on, then the embedded images, then a link per saved
//! file; `structuredContent` carries the same metadata and never base64. Kept apart from
//! delivery so the result shape can follow the protocol's evolution.

use std::path::Path;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, Resource};
use serde_json::{Map, Value, json};

use crate::delivery::{DeliveredImage, Delivery};
use crate::files::naming;
use crate::seedream::{self, Generation, ImageItem, ImageRequest, ItemError, parse_dimensions};

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

/// Renders a successful generation.
pub fn success(
    request: &ImageRequest,
    generation: &Generation,
    notes: &[String],
    delivery: &Delivery,
) -> CallToolResult {
    let response = &generation.response;
    let model = response
        .model
        .clone()
        .unwrap_or_else(|| request.model.clone());
    let mut notes = notes.to_vec();
    let mut failures: Vec<(usize, ItemError)> = Vec::new();
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
    notes.extend(generation.notes.iter().cloned());
    notes.extend(delivery.notes.iter().cloned());

    let text = summary_text(
        request,
        generation,
        &model,
        &delivery.images,
        &failures,
        &notes,
    );
    let mut content = vec![ContentBlock::text(text)];
    for image in &delivery.images {
        if let Some(e) = &image.embedded {
            content.push(ContentBlock::image(e.data_b64.clone(), e.mime));
        }
    }
    for image in &delivery.images {
        if let Some(path) = &image.path {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut resource = Resource::new(file_uri(path), name);
            if let Some(format) = image.format {
                resource = resource.with_mime_type(format.mime());
            }
            if let Some(bytes) = image.bytes {
                resource = resource.with_size(bytes as u64);
            }
            content.push(ContentBlock::resource_link(resource));
        }
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured(
        generation,
        &model,
        &delivery.images,
        &failures,
        &notes,
    ));
    result
}

fn summary_text(
    request: &ImageRequest,
    generation: &Generation,
    model: &str,
    images: &[DeliveredImage],
    failures: &[(usize, ItemError)],
    notes: &[String],
) -> String {
    let n = images.len();
    let asked = request.max_outputs() as usize;
    let mut out = if asked > 1 {
        format!("Generated {n} of up to {asked} images with {model}.\n")
    } else {
        format!(
            "Generated {n} image{} with {model}.\n",
            if n == 1 { "" } else { "s" }
        )
    };
    let expiry = generation
        .response
        .created
        .map(|c| format!("valid until {}", naming::utc_minute(c + 24 * 3600)))
        .unwrap_or_else(|| "valid for 24 hours".to_owned());
    for image in images {
        let mut line = format!(
            "Image {}: {}",
            image.index,
            image.size.as_deref().unwrap_or("size not reported")
        );
        if let (Some(format), Some(bytes)) = (image.format, image.bytes) {
            line.push_str(&format!(
                " {}, {}",
                format.subtype().to_ascii_uppercase(),
                human_bytes(bytes)
            ));
        }
        if let Some(path) = &image.path {
            line.push_str(&format!(", saved to {}", path.display()));
        }
        out.push_str(&line);
        out.push('\n');
        if let Some(url) = &image.url {
            out.push_str(&format!(
                "  URL ({expiry}; use exactly as written): {url}\n"
            ));
        }
        if let Some(problem) = &image.problem {
            out.push_str(&format!("  Not saved: {problem}\n"));
        }
    }
    for (index, f) in failures {
        out.push_str(&format!(
            "Image {index} failed: {}: {} (failed images are not billed)\n",
            f.code, f.message
        ));
    }
    // An internal error ends a sequence: nothing after it is made (seedream-api.md §6), so
    // blaming the model's choice of count would send the caller the wrong way.
    let stopped_at = failures
        .last()
        .filter(|(index, f)| {
            f.code.starts_with("InternalServiceError") && *index == generation.response.data.len()
        })
        .map(|(index, _)| *index);
    if asked > 1 && n + failures.len() < asked {
        match stopped_at {
            Some(index) => out.push_str(&format!(
                "The sequence stopped at image {index} after an internal error, so no later images were made: call again for the rest.\n"
            )),
            None => out.push_str(&format!(
                "The model chose to make {} of up to {asked}; to get more, state the exact number of images in the prompt.\n",
                n + failures.len()
            )),
        }
    }
    let embedded: Vec<&DeliveredImage> = images.iter().filter(|i| i.embedded.is_some()).collect();
    if let Some(first) = embedded.first().and_then(|i| i.embedded.as_ref()) {
        let which: Vec<String> = embedded.iter().map(|i| i.index.to_string()).collect();
        if embedded
            .iter()
            .all(|i| i.embedded.as_ref().is_some_and(|e| !e.preview))
        {
            out.push_str(&format!(
                "Attached: image {} at full resolution.\n",
                which.join(", ")
            ));
        } else {
            out.push_str(&format!(
                "Attached: preview{} of image {} ({}x{} JPEG); the full images are at the paths or URLs above.\n",
                if embedded.len() == 1 { "" } else { "s" },
                which.join(", "),
                first.width,
                first.height
            ));
        }
    }
    if let Some(usage) = &generation.response.usage {
        let billed = usage
            .generated_images
            .map(|g| format!("{g} image{} billed", if g == 1 { "" } else { "s" }));
        let tokens = usage.total_tokens.map(|t| format!("{t} tokens"));
        let parts: Vec<String> = billed.into_iter().chain(tokens).collect();
        if !parts.is_empty() {
            out.push_str(&format!("Usage: {}.\n", parts.join(", ")));
        }
    }
    if let Some(id) = &generation.request_id {
        out.push_str(&format!("Request id: {id}\n"));
    }
    for note in notes {
        out.push_str(&format!("Note: {note}\n"));
    }
    out.trim_end().to_owned()
}

fn structured(
    generation: &Generation,
    model: &str,
    images: &[DeliveredImage],
    failures: &[(usize, ItemError)],
    notes: &[String],
) -> Value {
    let images: Vec<Value> = images.iter().map(image_metadata).collect();
    let failures: Vec<Value> = failures
        .iter()
        .map(|(i, f)| json!({"index": i, "code": f.code, "message": f.message}))
        .collect();
    let mut out = Map::new();
    out.insert("model".into(), json!(model));
    out.insert("images".into(), Value::Array(images));
    out.insert("failures".into(), Value::Array(failures));
    if let Some(usage) = &generation.response.usage {
        out.insert("usage".into(), json!(usage));
    }
    if let Some(created) = generation.response.created {
        out.insert("created".into(), json!(created));
        out.insert("urls_expire_at".into(), json!(created + 24 * 3600));
    }
    if let Some(id) = &generation.request_id {
        out.insert("request_id".into(), json!(id));
    }
    if !notes.is_empty() {
        out.insert("notes".into(), json!(notes));
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

/// A failed call: what went wrong and what to change.
pub fn failure(error: &seedream::Error) -> CallToolResult {
    let mut text = format!("Image generation failed: {error}.");
    if let Some(advice) = error.advice() {
        text.push(' ');
        text.push_str(advice);
    }
    CallToolResult::error(vec![ContentBlock::text(text)])
}

/// A refused argument: nothing was sent upstream.
pub fn invalid(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{message} Nothing was sent to the image API; fix the argument and call the tool again."
    ))])
}

/// `file:///abs/path` with the characters URIs cannot hold escaped.
pub fn file_uri(path: &Path) -> String {
    format!(
        "file://{}",
        utf8_percent_encode(&path.to_string_lossy(), PATH_ESCAPES)
    )
}

fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{} KB", n.div_ceil(1000))
    }
}

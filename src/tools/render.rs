//! Turns a generation (or its failure) into what the caller sees: a text block a person and a
//! model can act on, structured metadata without base64, and embedded images when asked.
//! Kept apart from content selection so the result shape can evolve with the protocol.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use crate::seedream::{
    self, Generation, ImageFormat, ImageItem, ImageRequest, ItemError, parse_dimensions,
};

/// One generated image as reported.
#[derive(Debug, Clone)]
pub struct RenderedImage {
    /// 1-based position in the upstream's answer.
    pub index: usize,
    pub url: Option<String>,
    pub size: Option<String>,
    /// Embedded image data (base64) and its sniffed mime type.
    pub inline: Option<(String, &'static str)>,
}

/// Renders a successful generation.
pub fn success(
    request: &ImageRequest,
    generation: &Generation,
    notes: &[String],
) -> CallToolResult {
    let response = &generation.response;
    let model = response
        .model
        .clone()
        .unwrap_or_else(|| request.model.clone());
    let mut notes = notes.to_vec();
    let mut images = Vec::new();
    let mut failures: Vec<(usize, ItemError)> = Vec::new();
    for (i, item) in response.data.iter().enumerate() {
        let index = i + 1;
        match item {
            ImageItem::Url { url, size } => images.push(RenderedImage {
                index,
                url: Some(url.clone()),
                size: size.clone(),
                inline: None,
            }),
            ImageItem::B64 { b64_json, size } => match sniff_base64(b64_json) {
                Some(format) => images.push(RenderedImage {
                    index,
                    url: None,
                    size: size.clone(),
                    inline: Some((b64_json.clone(), format.mime())),
                }),
                None => failures.push((
                    index,
                    ItemError {
                        code: "UnreadableImage".into(),
                        message: "the embedded data is not a known image format".into(),
                    },
                )),
            },
            ImageItem::Failed { error } => failures.push((index, error.clone())),
            ImageItem::Unknown(_) => notes.push(format!(
                "position {index} of the answer held neither an image nor an error"
            )),
        }
    }

    let text = summary_text(request, generation, &model, &images, &failures, &notes);
    let mut content = vec![ContentBlock::text(text)];
    for image in &images {
        if let Some((data, mime)) = &image.inline {
            content.push(ContentBlock::image(data.clone(), *mime));
        }
    }
    let mut result = CallToolResult::success(content);
    result.structured_content = Some(structured(generation, &model, &images, &failures, &notes));
    result
}

fn summary_text(
    request: &ImageRequest,
    generation: &Generation,
    model: &str,
    images: &[RenderedImage],
    failures: &[(usize, ItemError)],
    notes: &[String],
) -> String {
    let n = images.len();
    let plural = if n == 1 { "image" } else { "images" };
    let asked = request.max_outputs() as usize;
    let mut out = if asked > 1 {
        format!(
            "Generated {n} of up to {asked} {} with {model}.\n",
            if asked == 1 { "image" } else { "images" }
        )
    } else {
        format!("Generated {n} {plural} with {model}.\n")
    };
    for image in images {
        let size = image.size.as_deref().unwrap_or("size not reported");
        match (&image.url, &image.inline) {
            (Some(url), _) => out.push_str(&format!("Image {}: {size} {url}\n", image.index)),
            (None, Some((data, mime))) => out.push_str(&format!(
                "Image {}: {size} {mime}, embedded below ({})\n",
                image.index,
                human_bytes(data.len() / 4 * 3)
            )),
            (None, None) => {}
        }
    }
    if images.iter().any(|i| i.url.is_some()) {
        out.push_str("Links are signed and expire 24 hours after generation: use each exactly as written, without re-encoding.\n");
    }
    for (index, f) in failures {
        out.push_str(&format!(
            "Image {index} failed: {} {} (failed images are not billed)\n",
            f.code, f.message
        ));
    }
    if asked > 1 && n + failures.len() < asked {
        out.push_str(&format!(
            "The model chose to make {} of up to {asked}; to get more, state the exact number of images in the prompt.\n",
            n + failures.len()
        ));
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
    images: &[RenderedImage],
    failures: &[(usize, ItemError)],
    notes: &[String],
) -> Value {
    let images: Vec<Value> = images
        .iter()
        .map(|i| {
            let mut o = Map::new();
            o.insert("index".into(), json!(i.index));
            if let Some(url) = &i.url {
                o.insert("url".into(), json!(url));
            }
            if let Some(size) = &i.size {
                o.insert("size".into(), json!(size));
                if let Some((w, h)) = parse_dimensions(size) {
                    o.insert("width".into(), json!(w));
                    o.insert("height".into(), json!(h));
                }
            }
            if let Some((_, mime)) = &i.inline {
                o.insert("mime_type".into(), json!(mime));
                o.insert("embedded".into(), json!(true));
            }
            Value::Object(o)
        })
        .collect();
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

fn sniff_base64(data: &str) -> Option<ImageFormat> {
    // 16 base64 characters decode to the 12 bytes the magic numbers need.
    let head = STANDARD.decode(data.get(..16)?).ok()?;
    ImageFormat::sniff(&head)
}

fn human_bytes(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1} MB", n as f64 / 1e6)
    } else {
        format!("{} KB", n.div_ceil(1000))
    }
}

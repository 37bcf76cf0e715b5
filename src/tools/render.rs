//! Turns a delivered generation (or its failure) into what the caller sees: first a text
//! block a person and a model can act on, then the embedded images, then a link per saved
//! file; `structuredContent` carries the same metadata and never base64. Kept apart from
//! delivery so the result shape can follow the protocol's evolution.

use std::path::Path;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use rmcp::model::{CallToolResult, ContentBlock, Resource};
use serde_json::{Map, Value, json};

use crate::advice;
use crate::delivery::{DeliveredImage, Delivery};
use crate::files::naming;
use seedream::{self, Generation, ImageItem, ImageRequest, ItemError, Kind, parse_dimensions};

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
        if let Some(kept) = &image.kept {
            let mut resource = Resource::new(&kept.uri, format!("image-{}", image.index));
            if let Some(format) = image.format {
                resource = resource.with_mime_type(format.mime());
            }
            if let Some(bytes) = image.bytes {
                resource = resource.with_size(bytes as u64);
            }
            content.push(ContentBlock::resource_link(resource));
        }
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
    // A result that reads as a success is taken as one: images that were meant to be saved
    // and were not must be the first thing said, with why and what to do.
    let (not_saved, notes) = unsaved(images, notes);
    let mut out = not_saved
        .map(|line| format!("{line}\n"))
        .unwrap_or_default();
    out.push_str(&if asked > 1 {
        format!("Generated {n} of up to {asked} images with {model}.\n")
    } else {
        format!(
            "Generated {n} image{} with {model}.\n",
            if n == 1 { "" } else { "s" }
        )
    });
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
        if let Some(kept) = &image.kept {
            out.push_str(&format!(
                "  Full image kept by the server for {} minutes: read resource {} (resources/read), or call get_job \
                 with job_id \"{}\" to receive it.\n",
                kept.minutes, kept.uri, kept.job_id
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
            f.kind == Kind::InternalError && *index == generation.response.data.len()
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
                "Attached: preview{} of image {} ({}x{} JPEG); the full images are where each image's line above says.\n",
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

/// How `delivery` phrases a folder that could not be created at start (see `DeliveryConfig::new`).
const SAVING_OFF_NOTE: &str = "images are not being saved";

/// The opening line when images meant to be saved were not, and the notes left to print after
/// it (the one it repeats is left out).
fn unsaved<'a>(
    images: &[DeliveredImage],
    notes: &'a [String],
) -> (Option<String>, Vec<&'a String>) {
    let (saving_off, rest): (Vec<&String>, Vec<&String>) =
        notes.iter().partition(|n| n.starts_with(SAVING_OFF_NOTE));
    // Fetched (its format is known) but no path: the write failed, not the download.
    let failed: Vec<&DeliveredImage> = images
        .iter()
        .filter(|i| i.path.is_none() && i.format.is_some() && i.problem.is_some())
        .collect();
    let opening = match (saving_off.first(), failed.first()) {
        // Already phrased as "images are not being saved: <why>; <fix>".
        (Some(note), _) => (*note).clone(),
        (None, Some(_)) => {
            let list: Vec<String> = failed.iter().map(|i| i.index.to_string()).collect();
            format!(
                "image {} could not be saved to disk: {}; pass a writable `output_dir` (or set SEEDREAM_OUTPUT_DIR \
                 to one) and check the folder's permissions and free space",
                list.join(", "),
                failed
                    .first()
                    .and_then(|i| i.problem.as_deref())
                    .unwrap_or("")
            )
        }
        (None, None) => return (None, rest),
    };
    let have_urls = images.iter().any(|i| i.url.is_some());
    let have_embeds = images.iter().any(|i| i.embedded.is_some());
    let still = match (have_urls, have_embeds) {
        (true, true) => " Until then use the URLs and attachments below.",
        (true, false) => " Until then use the URLs below.",
        (false, true) => " The attachments below are the only copies.",
        (false, false) => "",
    };
    (Some(format!("NOT SAVED: {opening}.{still}")), rest)
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

/// A failed call: what went wrong and what to change.
pub fn failure(error: &seedream::Error) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(advice::generation_failed(error))])
}

/// The resource a kept image is read from.
pub fn kept_uri(job_id: &str, index: usize) -> String {
    format!("seedream://jobs/{job_id}/images/{index}")
}

/// The caller's own key (`X-Seedream-Api-Key`) was refused upstream: only the caller can fix it.
pub fn caller_key_refused() -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(
        "Image generation failed: the image API refused the API key sent in your `X-Seedream-Api-Key` header \
         (401). Nothing was generated or billed. Put a valid key in that header in your MCP client's configuration \
         and call the tool again.",
    )])
}

/// A refused argument: nothing was sent upstream.
pub fn invalid(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "{message} Nothing was sent to the image API; fix the argument and call the tool again."
    ))])
}

/// A call to a server started with a bad setting: the setting, its fix, and where to make it.
pub fn misconfigured(problem: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "This server cannot generate images until its configuration is fixed: {problem}. Correct \
         the setting where this server is configured (the \"env\" or \"args\" of its entry in the MCP \
         client's configuration), then restart the server. Nothing was sent to the image API."
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use seedream::ImageFormat;

    fn image(index: usize, path: Option<&str>, problem: Option<&str>) -> DeliveredImage {
        DeliveredImage {
            index,
            url: Some(format!("https://cdn.example/{index}.jpeg")),
            size: Some("2048x2048".to_owned()),
            format: Some(ImageFormat::Jpeg),
            bytes: Some(1000),
            path: path.map(PathBuf::from),
            problem: problem.map(str::to_owned),
            embedded: None,
            kept: None,
        }
    }

    #[test]
    fn a_failed_write_is_the_opening_line_with_the_reason_and_the_fix() {
        let images = [
            image(1, Some("/out/a.jpeg"), None),
            image(
                2,
                None,
                Some("could not save to /out: Permission denied (os error 13)"),
            ),
        ];
        let (line, notes) = unsaved(&images, &[]);
        let line = line.expect("an opening line");
        assert!(line.starts_with("NOT SAVED: image 2 "), "{line}");
        assert!(
            line.contains("Permission denied") && line.contains("output_dir"),
            "{line}"
        );
        assert!(line.contains("use the URLs"), "{line}");
        assert!(notes.is_empty());
    }

    #[test]
    fn a_folder_that_could_not_be_created_is_said_first_and_not_repeated_as_a_note() {
        let notes = vec![
            "images are not being saved: the output folder /x cannot be created (File exists); set \
             SEEDREAM_OUTPUT_DIR to a writable folder"
                .to_owned(),
            "another note".to_owned(),
        ];
        let (line, rest) = unsaved(&[image(1, None, None)], &notes);
        let line = line.expect("an opening line");
        assert!(
            line.starts_with("NOT SAVED: images are not being saved: the output folder /x"),
            "{line}"
        );
        assert!(line.contains("SEEDREAM_OUTPUT_DIR"), "{line}");
        assert_eq!(rest, [&notes[1]]);
    }

    #[test]
    fn saved_images_and_failed_downloads_open_with_nothing() {
        let mut download_failed = image(2, None, Some("the download timed out"));
        download_failed.format = None;
        let (line, _) = unsaved(&[image(1, Some("/out/a.jpeg"), None), download_failed], &[]);
        assert_eq!(line, None);
    }
}

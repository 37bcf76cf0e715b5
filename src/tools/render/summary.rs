//! The text block of a result: what a person and a model read first. Also printed by the
//! one-shot command.

use super::Facts;
use crate::delivery::DeliveredImage;
use crate::files::naming;
use seedream::{Generation, ItemError, Kind};

/// The whole text, one statement per line.
pub fn text(facts: &Facts<'_>) -> String {
    let outcome = facts.outcome;
    let images = &outcome.delivery.images;
    // A result that reads as a success is taken as one: images that were meant to be saved
    // and were not must be the first thing said, with why and what to do.
    let (not_saved, notes) = unsaved(images, &facts.notes);
    let mut out = not_saved
        .map(|line| format!("{line}\n"))
        .unwrap_or_default();
    let asked = outcome.request.max_outputs() as usize;
    out.push_str(&generated_line(images.len(), asked, &facts.model));
    let expiry = expiry(&outcome.generation);
    for image in images {
        out.push_str(&image_lines(image, &expiry));
    }
    for (index, f) in &facts.failures {
        out.push_str(&format!(
            "Image {index} failed: {}: {} (failed images are not billed)\n",
            f.code, f.message
        ));
    }
    if let Some(line) = shortfall(
        images.len() + facts.failures.len(),
        asked,
        &facts.failures,
        &outcome.generation,
    ) {
        out.push_str(&line);
    }
    out.push_str(&attached_line(images));
    out.push_str(&usage_line(&outcome.generation));
    out.push_str(&outcome.cost.line());
    if let Some(id) = &outcome.generation.request_id {
        out.push_str(&format!("Request id: {id}\n"));
    }
    for note in notes {
        out.push_str(&format!("Note: {note}\n"));
    }
    out.trim_end().to_owned()
}

fn generated_line(n: usize, asked: usize, model: &str) -> String {
    if asked > 1 {
        format!("Generated {n} of up to {asked} images with {model}.\n")
    } else {
        format!(
            "Generated {n} image{} with {model}.\n",
            if n == 1 { "" } else { "s" }
        )
    }
}

/// How long the URLs work.
fn expiry(generation: &Generation) -> String {
    generation
        .response
        .created
        .map(|c| format!("valid until {}", naming::utc_minute(c + 24 * 3600)))
        .unwrap_or_else(|| "valid for 24 hours".to_owned())
}

/// One image: its size, format, where it was saved, its URL, where the server keeps it,
/// and why it was not saved.
fn image_lines(image: &DeliveredImage, expiry: &str) -> String {
    let mut out = format!(
        "Image {}: {}",
        image.index,
        image.size.as_deref().unwrap_or("size not reported")
    );
    if let (Some(format), Some(bytes)) = (image.format, image.bytes) {
        out.push_str(&format!(
            " {}, {}",
            format.subtype().to_ascii_uppercase(),
            human_bytes(bytes)
        ));
    }
    if let Some(path) = &image.path {
        out.push_str(&format!(", saved to {}", path.display()));
    }
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
    out
}

/// Why a sequence made fewer images than it could, and what to do about it.
fn shortfall(
    made: usize,
    asked: usize,
    failures: &[(usize, ItemError)],
    generation: &Generation,
) -> Option<String> {
    if asked <= 1 || made >= asked {
        return None;
    }
    // An internal error ends a sequence: nothing after it is made (seedream-api.md §6), so
    // blaming the model's choice of count would send the caller the wrong way.
    let stopped_at = failures
        .last()
        .filter(|(index, f)| {
            f.kind == Kind::InternalError && *index == generation.response.data.len()
        })
        .map(|(index, _)| *index);
    Some(match stopped_at {
        Some(index) => format!(
            "The sequence stopped at image {index} after an internal error, so no later images were made: call again for the rest.\n"
        ),
        None => format!(
            "The model chose to make {made} of up to {asked}; to get more, state the exact number of images in the prompt.\n"
        ),
    })
}

/// Which images are attached, and whether as previews.
fn attached_line(images: &[DeliveredImage]) -> String {
    let embedded: Vec<&DeliveredImage> = images.iter().filter(|i| i.embedded.is_some()).collect();
    let Some(first) = embedded.first().and_then(|i| i.embedded.as_ref()) else {
        return String::new();
    };
    let which: Vec<String> = embedded.iter().map(|i| i.index.to_string()).collect();
    if embedded
        .iter()
        .all(|i| i.embedded.as_ref().is_some_and(|e| !e.preview))
    {
        format!("Attached: image {} at full resolution.\n", which.join(", "))
    } else {
        format!(
            "Attached: preview{} of image {} ({}x{} JPEG); the full images are where each image's line above says.\n",
            if embedded.len() == 1 { "" } else { "s" },
            which.join(", "),
            first.width,
            first.height
        )
    }
}

fn usage_line(generation: &Generation) -> String {
    let Some(usage) = &generation.response.usage else {
        return String::new();
    };
    let billed = usage
        .generated_images
        .map(|g| format!("{g} image{} billed", if g == 1 { "" } else { "s" }));
    let tokens = usage.total_tokens.map(|t| format!("{t} tokens"));
    let parts: Vec<String> = billed.into_iter().chain(tokens).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("Usage: {}.\n", parts.join(", "))
    }
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

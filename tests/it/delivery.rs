//! Delivering images the way assistants can use them: saved files, previews within client
//! limits, resource links, local reference images.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{CallToolResult, ReadResourceRequestParams};
use seedream_fake::{FakeApi, FakeConfig, ImageBytes};
use serde_json::{Value, json};

use crate::support::{call, client_for, config, connect, fake, is_error, scratch_dir, text};

fn structured(r: &CallToolResult) -> Value {
    r.structured_content.clone().expect("structured content")
}

fn path_of(r: &CallToolResult, i: usize) -> PathBuf {
    PathBuf::from(
        structured(r)["images"][i]["path"]
            .as_str()
            .expect("a saved path"),
    )
}

/// The saved JPEG is `original` with its provenance spliced in: the same pixels, not re-encoded.
fn assert_same_image_with_provenance(saved: &[u8], original: &[u8]) {
    let decode = |b: &[u8]| jpeg_decoder::Decoder::new(b).decode().unwrap();
    assert_eq!(
        decode(saved),
        decode(original),
        "the saved file is the image"
    );
    assert!(saved.len() > original.len());
    let tail = &original[original.len() - 1000..];
    assert!(
        saved.ends_with(tail),
        "the image data is kept byte for byte"
    );
    let made = seedream_mcp::files::provenance::read(saved).expect("provenance in the file");
    assert!(made.ai_generated);
}

fn kinds(r: &CallToolResult) -> Vec<&'static str> {
    r.content
        .iter()
        .map(|c| {
            if c.as_text().is_some() {
                "text"
            } else if c.as_image().is_some() {
                "image"
            } else if c.as_resource_link().is_some() {
                "resource_link"
            } else {
                "other"
            }
        })
        .collect()
}

#[tokio::test]
async fn the_default_result_is_text_then_a_preview_then_a_link_to_the_saved_file() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    let r = call(
        &client,
        "generate_image",
        json!({"prompt": "a red fox in snow", "model": "4.5"}),
    )
    .await;

    assert!(!is_error(&r), "{}", text(&r));
    assert_eq!(kinds(&r), ["text", "image", "resource_link"]);
    let path = path_of(&r, 0);
    assert!(path.is_absolute() && path.exists(), "{path:?}");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.contains("-a-red-fox-in-snow-1.jpeg"), "{name}");
    let url = structured(&r)["images"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let downloaded = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    assert_same_image_with_provenance(&std::fs::read(&path).unwrap(), downloaded.as_ref());
    let t = text(&r);
    assert!(
        t.contains(&path.display().to_string()) && t.contains(&url) && t.contains("valid until"),
        "{t}"
    );
    let preview = r.content[1].as_image().unwrap();
    assert_eq!(preview.mime_type, "image/jpeg");
    let dims = imagesize::blob_size(&STANDARD.decode(&preview.data).unwrap()).unwrap();
    assert!(dims.width.max(dims.height) <= 1024, "{dims:?}");
    let link = r.content[2].as_resource_link().unwrap();
    assert!(
        link.uri.starts_with("file:///") && link.uri.ends_with(&name),
        "{}",
        link.uri
    );
    assert_eq!(link.mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(structured(&r)["images"][0]["embedded"], "preview");
}

#[tokio::test]
async fn results_stay_under_a_mebibyte_with_small_embeds_for_any_count_size_and_format() {
    let fake = FakeApi::start(FakeConfig {
        image_bytes: ImageBytes::Heavy,
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    let client = client_for(&fake).await;

    for count in [1u32, 4, 15] {
        for size in ["2048x2048", "4096x4096"] {
            for format in ["url", "b64_json"] {
                let prompt = format!("[[fake:n={count}]] {count} images of a lighthouse");
                let args = if count == 1 {
                    json!({"prompt": prompt, "model": "5.0", "size": size, "response_format": format})
                } else {
                    json!({"prompt": prompt, "model": "5.0", "size": size, "response_format": format, "max_images": count, "confirm_cost": true})
                };
                let tool = if count == 1 {
                    "generate_image"
                } else {
                    "generate_sequence"
                };
                let r = call(&client, tool, args).await;
                let case = format!("{count} x {size} {format}");
                assert!(!is_error(&r), "{case}: {}", text(&r));
                assert_eq!(
                    structured(&r)["images"].as_array().unwrap().len(),
                    count as usize,
                    "{case}"
                );
                let wire = serde_json::to_string(&r).unwrap();
                assert!(
                    wire.len() < 1_048_576,
                    "{case}: result is {} bytes",
                    wire.len()
                );
                for image in r.content.iter().filter_map(|c| c.as_image()) {
                    let dims =
                        imagesize::blob_size(&STANDARD.decode(&image.data).unwrap()).unwrap();
                    assert!(dims.width.max(dims.height) <= 1568, "{case}: {dims:?}");
                }
                let s = serde_json::to_string(&structured(&r)).unwrap();
                assert!(
                    s.split('"').all(|token| token.len() < 1000),
                    "{case}: base64 in structuredContent"
                );
                for i in 0..count as usize {
                    assert!(path_of(&r, i).exists(), "{case}: image {i} saved");
                }
            }
        }
    }
}

#[tokio::test]
async fn concurrent_calls_with_the_same_filename_get_distinct_files_and_leave_no_partials() {
    let fake = fake().await;
    let out = scratch_dir("concurrent");
    let client = connect(config(
        &fake.base_url(),
        crate::support::KEY,
        &["--output-dir", out.to_str().unwrap()],
    ))
    .await;

    let calls = (0..8).map(|i| {
        call(
            &client,
            "generate_image",
            json!({"prompt": format!("fox {i}"), "filename": "same"}),
        )
    });
    let results = futures_util::future::join_all(calls).await;

    let mut paths: Vec<PathBuf> = results.iter().map(|r| path_of(r, 0)).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 8);
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 8, "{names:?}");
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("same") && !n.contains("partial")),
        "{names:?}"
    );
}

#[tokio::test]
async fn filename_and_output_dir_escapes_are_refused_before_anything_is_generated() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let escape = format!("{}/../../escape", crate::support::scratch_root().display());

    for (args, param) in [
        (
            json!({"prompt": "p", "filename": "../../etc/x"}),
            "filename",
        ),
        (json!({"prompt": "p", "filename": "a/b"}), "filename"),
        (json!({"prompt": "p", "output_dir": "/etc"}), "output_dir"),
        (
            json!({"prompt": "p", "output_dir": "relative/dir"}),
            "output_dir",
        ),
        (json!({"prompt": "p", "output_dir": escape}), "output_dir"),
    ] {
        let r = call(&client, "generate_image", args.clone()).await;
        assert!(is_error(&r), "{args}");
        assert!(
            text(&r).contains(&format!("`{param}`")),
            "{args}: {}",
            text(&r)
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_download_refused_by_the_image_host_keeps_the_url_and_says_why() {
    let fake = fake().await;
    fake.update_config(|c| c.download_status = Some(403));
    let client = client_for(&fake).await;

    let r = call(&client, "generate_image", json!({"prompt": "a fox"})).await;

    assert!(
        !is_error(&r),
        "the image exists even if it could not be fetched: {}",
        text(&r)
    );
    let s = structured(&r);
    assert!(s["images"][0]["url"].as_str().unwrap().contains("/tos/"));
    assert!(
        s["images"][0]["problem"].as_str().unwrap().contains("403"),
        "{s}"
    );
    assert!(
        // The host's body is never quoted (it may come from anywhere): status and type only.
        text(&r).contains("Not saved")
            && text(&r).contains("application/json")
            && !text(&r).contains("AccessDenied"),
        "{}",
        text(&r)
    );
    assert!(s["images"][0].get("path").is_none());
}

#[tokio::test]
async fn a_folder_that_cannot_be_written_is_reported_without_losing_the_url() {
    let fake = fake().await;
    let out = scratch_dir("blocked");
    let client = connect(config(
        &fake.base_url(),
        crate::support::KEY,
        &["--output-dir", out.to_str().unwrap()],
    ))
    .await;
    std::fs::remove_dir(&out).unwrap();
    std::fs::write(&out, b"a file where the folder was").unwrap();

    let r = call(&client, "generate_image", json!({"prompt": "a fox"})).await;

    assert!(!is_error(&r), "{}", text(&r));
    let s = structured(&r);
    assert!(
        s["images"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("could not save"),
        "{s}"
    );
    assert!(text(&r).contains(s["images"][0]["url"].as_str().unwrap()));
}

#[tokio::test]
async fn with_saving_off_images_are_linked_and_previewed_but_not_written() {
    let fake = fake().await;
    let out = scratch_dir("nosave");
    let client = connect(config(
        &fake.base_url(),
        crate::support::KEY,
        &["--save", "false", "--output-dir", out.to_str().unwrap()],
    ))
    .await;

    let r = call(&client, "generate_image", json!({"prompt": "a fox"})).await;

    assert_eq!(kinds(&r), ["text", "image"]);
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[tokio::test]
async fn embed_none_returns_text_and_links_only() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let r = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "embed": "none"}),
    )
    .await;
    assert_eq!(kinds(&r), ["text", "resource_link"]);
}

#[tokio::test]
async fn b64_json_embeds_the_original_when_it_is_small_enough() {
    let fake = fake().await;
    let client = client_for(&fake).await;

    let r = call(
        &client,
        "generate_image",
        json!({"prompt": "a fox", "model": "4.0", "size": "1K", "response_format": "b64_json"}),
    )
    .await;

    assert_eq!(kinds(&r), ["text", "image", "resource_link"]);
    let image = r.content[1].as_image().unwrap();
    assert_eq!(image.mime_type, "image/jpeg");
    assert_same_image_with_provenance(
        &std::fs::read(path_of(&r, 0)).unwrap(),
        &STANDARD.decode(&image.data).unwrap(),
    );
    assert_eq!(structured(&r)["images"][0]["embedded"], "full");
}

fn write_image(dir: &Path, name: &str, format: image::ImageFormat, w: u32, h: u32) -> PathBuf {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let path = dir.join(name);
    if format == image::ImageFormat::Jpeg {
        // The image crate is built without its JPEG codec; jpeg-encoder writes JPEGs.
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 85)
            .encode(
                img.as_raw(),
                w as u16,
                h as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .unwrap();
        std::fs::write(&path, out).unwrap();
    } else {
        image::DynamicImage::ImageRgb8(img)
            .save_with_format(&path, format)
            .unwrap();
    }
    path
}

#[tokio::test]
async fn local_references_in_every_supported_format_are_sent_as_data_uris() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let dir = scratch_dir("refs");
    let cases = [
        ("a.jpg", image::ImageFormat::Jpeg, "image/jpeg"),
        ("a.png", image::ImageFormat::Png, "image/png"),
        ("a.webp", image::ImageFormat::WebP, "image/webp"),
        ("a.bmp", image::ImageFormat::Bmp, "image/bmp"),
        ("a.tiff", image::ImageFormat::Tiff, "image/tiff"),
        ("a.gif", image::ImageFormat::Gif, "image/gif"),
    ];
    let mut images = Vec::new();
    for (name, format, _) in cases {
        images.push(
            write_image(&dir, name, format, 64, 48)
                .display()
                .to_string(),
        );
    }
    images[1] = format!("file://{}", images[1]);

    let r = call(
        &client,
        "edit_image",
        json!({"prompt": "combine them", "images": images}),
    )
    .await;

    assert!(!is_error(&r), "{}", text(&r));
    let sent = fake.requests()[0].body["image"].as_array().unwrap().clone();
    for ((_, _, mime), uri) in cases.iter().zip(&sent) {
        assert!(
            uri.as_str()
                .unwrap()
                .starts_with(&format!("data:{mime};base64,")),
            "{mime}"
        );
    }
}

#[tokio::test]
async fn an_oversized_local_reference_is_downscaled_with_a_note() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let dir = scratch_dir("big");
    let big = write_image(&dir, "big.png", image::ImageFormat::Png, 6400, 6000);

    let r = call(
        &client,
        "edit_image",
        json!({"prompt": "restyle", "images": [big]}),
    )
    .await;

    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("images[0]"),
        "the result says what was changed: {}",
        text(&r)
    );
    let uri = fake.requests()[0].body["image"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let bytes = STANDARD.decode(uri.split_once(',').unwrap().1).unwrap();
    let dims = imagesize::blob_size(&bytes).unwrap();
    assert!((dims.width * dims.height) as u64 <= 36_000_000, "{dims:?}");
}

#[tokio::test]
async fn paths_outside_the_allowed_folders_and_non_images_are_refused_unread() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let dir = scratch_dir("refused");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "not an image").unwrap();
    let link = dir.join("escape.png");
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    // Enough `..` to reach `/` from wherever the checkout lives; extra ones stay at `/`.
    let dotdot = format!("{}/{}etc/passwd", dir.display(), "../".repeat(40));

    for (reference, expected) in [
        ("/etc/passwd".to_owned(), "outside the directories"),
        (dotdot, "outside the directories"),
        (link.display().to_string(), "outside the directories"),
        (notes.display().to_string(), "not an image"),
        ("file:///etc/shadow".to_owned(), "images[0]"),
    ] {
        let r = call(
            &client,
            "edit_image",
            json!({"prompt": "p", "images": [reference.clone()]}),
        )
        .await;
        assert!(is_error(&r), "{reference}");
        assert!(text(&r).contains(expected), "{reference}: {}", text(&r));
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn an_image_generated_earlier_works_as_a_reference_and_as_a_resource() {
    let fake = fake().await;
    let client = client_for(&fake).await;
    let first = call(&client, "generate_image", json!({"prompt": "a fox"})).await;
    let path = path_of(&first, 0);

    let edit = call(
        &client,
        "edit_image",
        json!({"prompt": "make it night", "images": [path.display().to_string()]}),
    )
    .await;
    assert!(!is_error(&edit), "{}", text(&edit));
    assert!(
        fake.requests()[1].body["image"][0]
            .as_str()
            .unwrap()
            .starts_with("data:image/jpeg;base64,")
    );

    let uri = first
        .content
        .iter()
        .find_map(|c| c.as_resource_link())
        .unwrap()
        .uri
        .clone();
    let read = client
        .read_resource(ReadResourceRequestParams::new(uri))
        .await
        .unwrap();
    let json = serde_json::to_value(&read).unwrap();
    assert_eq!(json["contents"][0]["mimeType"], "image/jpeg");
    assert_eq!(
        STANDARD
            .decode(json["contents"][0]["blob"].as_str().unwrap())
            .unwrap(),
        std::fs::read(&path).unwrap()
    );
    assert!(
        client
            .read_resource(ReadResourceRequestParams::new("file:///etc/passwd"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_failing_image_host_is_retried_a_bounded_number_of_times() {
    let fake = fake().await;
    fake.update_config(|c| c.download_status = Some(503));
    let client = client_for(&fake).await;

    let r = call(&client, "generate_image", json!({"prompt": "a fox"})).await;

    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        structured(&r)["images"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("503")
    );
    assert_eq!(
        fake.downloads().len(),
        3,
        "three attempts, then the URL is handed over"
    );
    assert_eq!(
        fake.requests().len(),
        1,
        "the generation itself is not repeated"
    );
}

#[tokio::test]
async fn an_output_folder_that_cannot_be_created_turns_saving_off_and_every_result_says_why() {
    let fake = fake().await;
    let blocker = scratch_dir("blocker").join("file");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let out = blocker.join("images");
    let client = connect(config(
        &fake.base_url(),
        crate::support::KEY,
        &["--output-dir", out.to_str().unwrap()],
    ))
    .await;

    let r = call(&client, "generate_image", json!({"prompt": "a fox"})).await;

    assert!(!is_error(&r), "{}", text(&r));
    assert!(
        text(&r).contains("images are not being saved") && text(&r).contains("SEEDREAM_OUTPUT_DIR"),
        "{}",
        text(&r)
    );
    assert_eq!(
        kinds(&r),
        ["text", "image"],
        "URL and preview still delivered"
    );
}

//! `seedream-mcp generate`: the one-shot command for people and scripts.

use std::process::Command;

use crate::support::{KEY, fake, scratch_dir};

#[tokio::test]
async fn generate_saves_the_images_and_prints_their_paths() {
    let fake = fake().await;
    let out = scratch_dir("oneshot");
    let base = fake.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
            .args([
                "generate",
                "[[fake:n=2]] two foxes",
                "--count",
                "2",
                "--out",
                out.to_str().unwrap(),
                "--model",
                "4.5",
            ])
            .env("SEEDREAM_API_KEY", KEY)
            .env("SEEDREAM_BASE_URL", base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let paths: Vec<&str> = stdout.lines().collect();
    assert_eq!(paths.len(), 2, "{stdout}");
    for p in paths {
        assert!(std::path::Path::new(p).exists(), "{p}");
    }
}

#[tokio::test]
async fn generate_exits_non_zero_with_the_reason_on_bad_input() {
    let fake = fake().await;
    let base = fake.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
            .args([
                "generate", "a fox", "--model", "4.5", "--size", "1K", "--save", "false",
            ])
            .env("SEEDREAM_API_KEY", KEY)
            .env("SEEDREAM_BASE_URL", base)
            .output()
            .unwrap()
    })
    .await
    .unwrap();

    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("2K or 4K"));
}

#[tokio::test]
async fn a_refused_reference_is_printed_once() {
    let fake = fake().await;
    let base = fake.base_url();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
            .args([
                "generate",
                "a lighthouse",
                "--ref",
                "./images/no-such-lighthouse.jpeg",
                "--save",
                "false",
            ])
            .env("SEEDREAM_API_KEY", KEY)
            .env("SEEDREAM_BASE_URL", base)
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let mentions = stderr
        .lines()
        .filter(|l| l.contains("no-such-lighthouse.jpeg"))
        .count();
    assert_eq!(mentions, 1, "{stderr}");
}

#[tokio::test]
async fn meta_prints_what_made_a_saved_image_and_refuses_a_file_without_it() {
    let fake = fake().await;
    let out = scratch_dir("meta");
    let base = fake.base_url();
    let dir = out.clone();
    let run = move |args: Vec<String>| {
        Command::new(env!("CARGO_BIN_EXE_seedream-mcp"))
            .args(args)
            .env("SEEDREAM_API_KEY", KEY)
            .env("SEEDREAM_BASE_URL", &base)
            .output()
            .unwrap()
    };
    let (generated, meta, plain) = tokio::task::spawn_blocking(move || {
        let generated = run(
            ["generate", "a red \"fox\"", "--out", dir.to_str().unwrap()]
                .map(String::from)
                .to_vec(),
        );
        let path = String::from_utf8(generated.stdout.clone()).unwrap();
        let meta = run(vec!["meta".to_owned(), path.trim().to_owned()]);
        let plain_file = dir.join("plain.txt");
        std::fs::write(&plain_file, b"not an image").unwrap();
        let plain = run(vec!["meta".to_owned(), plain_file.display().to_string()]);
        (generated, meta, plain)
    })
    .await
    .unwrap();

    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    assert!(
        meta.status.success(),
        "{}",
        String::from_utf8_lossy(&meta.stderr)
    );
    let printed = String::from_utf8(meta.stdout).unwrap();
    for (key, value) in [
        ("prompt:", "a red \"fox\""),
        ("model:", "doubao-seedream-"),
        ("size:", "2048x2048"),
        ("request id:", ""),
        ("created:", "20"),
        (
            "AI generated:",
            "yes (IPTC digital source type: trainedAlgorithmicMedia)",
        ),
    ] {
        let line = format!("\n{key:<14}{value}");
        assert!(
            format!("\n{printed}").contains(&line),
            "{line:?} in {printed}"
        );
    }
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr)
            .contains("carries no seedream-mcp provenance metadata")
    );
}

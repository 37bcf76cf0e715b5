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

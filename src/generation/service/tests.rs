//! The service without MCP or HTTP of its own: against the fake API, with a fixed clock, and
//! with paused time where it waits.

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, UNIX_EPOCH};

use clap::Parser;

use super::*;
use crate::config::ServerArgs;
use crate::generation::Options;
use seedream_fake::{FakeApi, FakeConfig};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServerArgs,
}

fn generator(base_url: &str, flags: &[&str]) -> Generator {
    let mut argv = vec![
        "seedream-mcp",
        "--base-url",
        base_url,
        "--api-key",
        "test-key",
        "--max-retries",
        "0",
    ];
    argv.extend_from_slice(flags);
    let config = Cli::try_parse_from(argv)
        .unwrap()
        .args
        .into_config()
        .unwrap();
    let client = seedream::Client::new(config.client.clone()).unwrap();
    Generator::new(client, &config)
}

fn request(prompt: &str) -> Request {
    Request {
        prompt: prompt.to_owned(),
        references: Vec::new(),
        max_images: None,
        options: Options::default(),
    }
}

fn access(generator: &Generator) -> Access {
    Access {
        api_key: None,
        caller: "local".to_owned(),
        roots: generator.roots().clone(),
    }
}

/// Progress kept for the test to read.
#[derive(Default)]
struct Recorded {
    phases: Mutex<Vec<String>>,
    sent: AtomicBool,
}

impl Progress for Recorded {
    fn phase(&self, phase: String) {
        self.phases.lock().unwrap().push(phase);
    }
    fn sent_upstream(&self) {
        self.sent.store(true, Ordering::Relaxed);
    }
}

impl Recorded {
    fn phases(&self) -> Vec<String> {
        self.phases.lock().unwrap().clone()
    }
    fn sent(&self) -> bool {
        self.sent.load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn a_generated_image_is_saved_under_a_name_from_the_given_clock() {
    let fake = FakeApi::start(FakeConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let generator = generator(
        &fake.base_url(),
        &["--output-dir", folder, "--allowed-dirs", folder],
    )
    .with_clock(|| UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let progress = Recorded::default();

    let outcome = generator
        .generate(request("a red fox"), access(&generator), &progress)
        .await
        .unwrap();

    let [image] = outcome.delivery.images.as_slice() else {
        panic!("{:?}", outcome.delivery);
    };
    let name = image.path.as_ref().unwrap().file_name().unwrap();
    assert!(
        name.to_string_lossy()
            .starts_with("20231114-221320-a-red-fox-1."),
        "{name:?}"
    );
    assert!(progress.sent());
    assert_eq!(
        progress.phases(),
        [
            "generating 1 image with doubao-seedream-5-0-260128",
            "image 1 of up to 1 done, generating 1 image with doubao-seedream-5-0-260128",
            "downloading, saving and previewing the images"
        ]
    );
}

#[tokio::test]
async fn a_refused_argument_sends_nothing_upstream() {
    let fake = FakeApi::start(FakeConfig::default()).await.unwrap();
    let generator = generator(&fake.base_url(), &["--save", "false"]);
    let mut asked = request("a fox");
    asked.options.filename = Some("fox".to_owned());
    let progress = Recorded::default();

    let error = generator
        .generate(asked, access(&generator), &progress)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, ToolError::InvalidArgument { param, .. } if param == "filename"),
        "{error:?}"
    );
    assert!(!progress.sent());
    assert!(fake.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_call_queues_for_a_busy_slot_and_a_shutdown_ends_the_wait_with_nothing_sent() {
    // Nothing listens here: the call must never get as far as sending.
    let generator = generator(
        "http://127.0.0.1:9/v1",
        &["--save", "false", "--max-concurrency", "1"],
    );
    let busy = generator.slots.try_acquire().unwrap();
    let progress = Recorded::default();
    let call = generator.generate(request("a fox"), access(&generator), &progress);
    tokio::pin!(call);

    let waited = tokio::time::timeout(Duration::from_secs(3600), &mut call).await;
    assert!(waited.is_err(), "did not wait for the slot");
    assert_eq!(progress.phases(), ["queued: all 1 upstream slots are busy"]);

    generator.close();
    let error = call.await.unwrap_err();
    assert!(matches!(error, ToolError::ShuttingDown), "{error:?}");
    assert!(!progress.sent());
    drop(busy);
}

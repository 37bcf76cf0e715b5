//! Generates one image and prints its link: the whole client in one page.
//!
//! ```bash
//! SEEDREAM_BASE_URL=https://api.cometapi.com/v1 SEEDREAM_API_KEY=sk-… \
//!     cargo run -p seedream --example generate -- "a red fox in fresh snow"
//! ```
//!
//! Without an account, run it against the repository's fake API (real images, no billing):
//!
//! ```bash
//! cargo run -p seedream-fake -- --listen 127.0.0.1:8790 &
//! SEEDREAM_BASE_URL=http://127.0.0.1:8790/v1 SEEDREAM_API_KEY=test-key \
//!     cargo run -p seedream --example generate -- "a red fox in fresh snow"
//! ```

use seedream::{
    Client, ClientConfig, GenerationSpec, ImageItem, Model, Preset, Profile, ResponseFormat,
    RetryPolicy, Size, Timeouts, prepare,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base_url = std::env::var("SEEDREAM_BASE_URL")
        .unwrap_or_else(|_| "https://api.cometapi.com/v1".to_owned());
    let api_key = std::env::var("SEEDREAM_API_KEY").ok().map(Into::into);
    let prompt = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let prompt = if prompt.trim().is_empty() {
        "a red fox in fresh snow, golden hour, photo".to_owned()
    } else {
        prompt
    };

    let client = Client::new(ClientConfig {
        base_url,
        api_key,
        retry: RetryPolicy::default(),
        timeouts: Timeouts::default(),
    })?;
    let spec = GenerationSpec {
        model: Model::V45,
        prompt,
        size: Some(Size::Preset(Preset::TwoK)),
        aspect_ratio: None,
        images: vec![],
        max_images: None,
        response_format: ResponseFormat::Url,
        output_format: None,
        watermark: false,
        seed: None,
        guidance_scale: None,
        background: None,
        prompt_mode: None,
        web_search: false,
    };
    // Checked against the model's rules before anything is sent.
    let prepared = prepare(spec, Size::Preset(Preset::TwoK), &Profile::default())?;
    for note in &prepared.notes {
        eprintln!("note: {note}");
    }
    match client.generate(&prepared.request).await {
        Ok(generation) => {
            for item in &generation.response.data {
                match item {
                    ImageItem::Url { url, size } => {
                        println!("{} {url}", size.as_deref().unwrap_or("?"));
                    }
                    ImageItem::Failed { error } => eprintln!("failed: {}", error.message),
                    _ => {}
                }
            }
            Ok(())
        }
        // The kind says what class of failure it was; what to do about it is the caller's call.
        Err(error) => {
            eprintln!("failed ({:?})", error.kind());
            Err(error.into())
        }
    }
}

//! Settings of the fake API: every toggle of the behaviour spec (M1–M15), hot-swappable.

use serde::{Deserialize, Serialize};

/// Settings of the fake API. Every field has a default, so a partial JSON object
/// (as sent to `POST /_fake/config`) deserializes into a full configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FakeConfig {
    /// The Bearer token accepted. `None` or an empty string accepts any non-empty token.
    pub api_key: Option<String>,
    /// What an unknown path answers in CometAPI mode (a gateway redirects or serves its web UI).
    pub unknown_path: UnknownPath,
    /// Which documentation revision of 5.0 lite the size rules follow (the docs drifted).
    pub lite_profile: LiteProfile,
    /// Largest decoded reference image accepted (10 MiB early 2026, 30 MiB later).
    pub ref_limit_bytes: u64,
    /// Reject fields the model does not support instead of silently ignoring them.
    pub strict_unsupported: bool,
    /// Reject `max_images` above 15 (or refs + `max_images` above 15) instead of capping.
    pub reject_over_15: bool,
    /// Answer `stream:true` with SSE; off models a gateway that answers plain JSON.
    pub stream_passthrough: bool,
    /// Streaming responses send their headers only with the first image, as measured upstream.
    pub delay_headers_until_first_image: bool,
    /// How heavy the served image files are.
    pub image_bytes: ImageBytes,
    /// Multiplies every simulated delay: 0 = instant (unit tests), ~0.01 for integration runs.
    pub time_scale: f64,
    /// Counter-based request ids and a fixed signing secret, for stable golden outputs.
    pub seed_ids: bool,
    /// Presets resolve to slightly off-table sizes (like the real `2720x1536`), so clients
    /// that assume the table instead of reading `data[].size` are caught.
    pub realistic_off_table: bool,
    /// How CometAPI relays upstream (Ark) errors; the real shape is unverified.
    pub upstream_error_style: UpstreamErrorStyle,
    /// Model ids answered with 404 `ModelNotOpen`.
    pub model_not_open: Vec<String>,
    /// Further model ids accepted with the 5.0-lite rules (tests an unknown id passed through).
    pub extra_models: Vec<String>,
    /// Generated images per model in a sliding 60 s window before 429.
    pub ipm_limit: u32,
    /// Concurrent generation requests before 429 `InflightBatchsizeExceeded`; `None` = no cap.
    pub max_inflight: Option<u32>,
    /// `host:port` put in signed URLs instead of this server's address.
    pub url_host: Option<String>,
    /// Seconds before the Cloudflare 524 page (scaled by `time_scale`).
    pub cf_timeout_s: f64,
    /// When set, every signed download answers this status instead of the image (403 and 404
    /// with the object store's bodies), for testing download failures.
    pub download_status: Option<u16>,
    /// Milliseconds every signed download waits before answering (a stalled object store),
    /// for testing download timeouts. Not scaled by `time_scale`.
    pub download_delay_ms: Option<u64>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            api_key: Some("test-key".to_owned()),
            unknown_path: UnknownPath::Redirect,
            lite_profile: LiteProfile::Oct2026,
            ref_limit_bytes: 10 * 1024 * 1024,
            strict_unsupported: false,
            reject_over_15: false,
            stream_passthrough: false,
            delay_headers_until_first_image: true,
            image_bytes: ImageBytes::Fast,
            time_scale: 0.0,
            seed_ids: false,
            realistic_off_table: false,
            upstream_error_style: UpstreamErrorStyle::ArkPassthrough,
            model_not_open: Vec::new(),
            extra_models: Vec::new(),
            ipm_limit: 500,
            max_inflight: None,
            url_host: None,
            cf_timeout_s: 100.0,
            download_status: None,
            download_delay_ms: None,
        }
    }
}

impl FakeConfig {
    /// This configuration with the keys of `patch` (a JSON object) replaced.
    pub fn merged(&self, patch: &serde_json::Value) -> Result<FakeConfig, serde_json::Error> {
        let mut current = serde_json::to_value(self.sanitized())?;
        if let (Some(target), Some(changes)) = (current.as_object_mut(), patch.as_object()) {
            for (key, value) in changes {
                target.insert(key.clone(), value.clone());
            }
        } else {
            // Not an object: let serde produce the error message.
            current = patch.clone();
        }
        serde_json::from_value::<FakeConfig>(current).map(|c| c.sanitized())
    }

    /// Non-finite or negative scales would make `Duration` arithmetic fail; clamp them.
    pub(crate) fn sanitized(&self) -> FakeConfig {
        let mut c = self.clone();
        if !c.time_scale.is_finite() || c.time_scale < 0.0 {
            c.time_scale = 0.0;
        }
        if !c.cf_timeout_s.is_finite() || c.cf_timeout_s < 0.0 {
            c.cf_timeout_s = 0.0;
        }
        c
    }

    /// Whether `token` is an accepted Bearer token.
    pub(crate) fn accepts_token(&self, token: &str) -> bool {
        match self.api_key.as_deref() {
            None | Some("") => !token.is_empty(),
            Some(key) => key == token,
        }
    }
}

/// What an unknown path answers in CometAPI mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownPath {
    /// `301` to the same path under `/v1`.
    Redirect,
    /// `200 text/html`, like a gateway's web UI.
    Html,
}

/// Documentation revision followed for 5.0 lite sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LiteProfile {
    /// 2K/3K/4K presets, at most 16,777,216 pixels.
    #[serde(rename = "2026-10")]
    Oct2026,
    /// 2K/3K presets, at most 10,404,496 pixels.
    #[serde(rename = "2026-02")]
    Feb2026,
}

/// How heavy the served image files are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageBytes {
    /// Small smooth gradients: fast to encode and transfer.
    Fast,
    /// Noise-filled files of realistic size (2K JPEG ~1 MB … 4K PNG ~20 MB).
    Heavy,
}

/// How CometAPI relays an upstream (Ark) error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamErrorStyle {
    /// The Ark body and status, unchanged.
    ArkPassthrough,
    /// The Ark fields flattened by a new-api relay: `type:""` plus a gateway `request_id`.
    NewApiFlat,
    /// A CometAPI envelope whose message embeds the Ark body ("all channels failed …").
    CometWrapped,
}

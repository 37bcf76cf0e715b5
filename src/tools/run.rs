//! The path every tool call takes: typed params → validated request → upstream → result.

use rmcp::model::{CallToolResult, JsonObject};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::params::ImageOptions;
use super::{args, references, render};
use crate::config::Defaults;
use crate::delivery::{self, DeliveryConfig, EmbedMode};
use crate::seedream::{self, GenerationSpec, Profile, ResponseFormat};

/// What every tool needs; shared by all clones of the server.
#[derive(Debug)]
pub struct Context {
    pub client: seedream::Client,
    pub defaults: Defaults,
    pub profile: Profile,
    pub delivery: DeliveryConfig,
}

/// The tool-specific parts of a request.
pub struct Ask {
    pub prompt: String,
    pub images: Vec<String>,
    pub max_images: Option<u32>,
    pub options: ImageOptions,
}

/// Parses `args` as `P`, turns them into an [`Ask`] with `to_ask`, and runs it.
pub async fn call<P, F>(
    ctx: &Context,
    tool: &'static str,
    args: JsonObject,
    to_ask: F,
) -> CallToolResult
where
    P: DeserializeOwned + JsonSchema,
    F: FnOnce(P) -> Result<Ask, String>,
{
    let ask = match args::parse::<P>(args).map_err(|e| e.0).and_then(to_ask) {
        Ok(ask) => ask,
        Err(message) => {
            tracing::info!(tool, %message, "refused arguments");
            return render::invalid(&message);
        }
    };
    execute(ctx, tool, ask).await
}

async fn execute(ctx: &Context, tool: &'static str, ask: Ask) -> CallToolResult {
    let o = ask.options;
    let response_format = o.response_format.unwrap_or(ctx.defaults.response_format);
    // Asking for the image data means wanting the image itself, where it fits.
    let embed = o
        .embed
        .unwrap_or(if response_format == ResponseFormat::B64Json {
            EmbedMode::Full
        } else {
            EmbedMode::Preview
        });
    let target = match ctx
        .delivery
        .target(o.filename.as_deref(), o.output_dir.as_deref(), embed)
    {
        Ok(t) => t,
        Err(e) => {
            return render::invalid(&format!("Invalid argument `{}`: {}.", e.param, e.message));
        }
    };
    let references =
        match references::materialize(ask.images, &ctx.delivery.roots, &ctx.profile).await {
            Ok(r) => r,
            Err(message) => {
                tracing::info!(tool, %message, "refused reference image");
                return render::invalid(&message);
            }
        };
    let spec = GenerationSpec {
        model: o.model.unwrap_or_else(|| ctx.defaults.model.clone()),
        prompt: ask.prompt,
        size: o.size,
        aspect_ratio: o.aspect_ratio,
        images: references.images,
        max_images: ask.max_images,
        response_format,
        output_format: o.output_format,
        watermark: o.watermark.unwrap_or(ctx.defaults.watermark),
        seed: o.seed,
        guidance_scale: o.guidance_scale,
    };
    let mut prepared = match seedream::prepare(spec, ctx.defaults.size, &ctx.profile) {
        Ok(p) => p,
        Err(e) => {
            tracing::info!(tool, error = %e, "refused request");
            return render::invalid(&format!("Invalid argument `{}`: {}.", e.param, e.message));
        }
    };
    prepared.notes.splice(0..0, references.notes);
    let request = &prepared.request;
    tracing::info!(
        tool,
        model = %request.model,
        size = ?request.size.map(|s| s.to_string()),
        references = request.image.len(),
        max_outputs = request.max_outputs(),
        prompt_chars = request.prompt.chars().count(),
        "generating"
    );
    match ctx.client.generate(request).await {
        Ok(generation) => {
            let delivery = delivery::deliver(
                &ctx.client,
                &ctx.delivery,
                &target,
                &request.prompt,
                &generation.response.data,
            )
            .await;
            render::success(request, &generation, &prepared.notes, &delivery)
        }
        Err(error) => {
            tracing::warn!(tool, %error, "generation failed");
            render::failure(&error)
        }
    }
}

//! `get_image`, the gallery's own tool (`_meta.ui.visibility: ["app"]`, listed only to clients
//! that render apps): one generated image at full resolution, or scaled down to `max_edge`,
//! as an image block. The pixels go from the server to the page through the host and never
//! into the model's context.
//!
//! It reads what `resources/read` reads (a saved file, an image a job keeps, under the same
//! per-caller rules), so whatever images become resources are shown too, and downloads an
//! image's upstream URL under delivery's guards (public hosts only, size cap) for images that
//! were neither saved nor kept: only a URL this server handed to the same caller, so it never
//! fetches arbitrary URLs for whoever asks.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::model::{CallToolResult, ContentBlock, JsonObject, ResourceContents};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ImageServer, args, resources, schema};
use crate::generation::ToolError;

/// Long edges outside this range are brought into it: tiny thumbnails are useless and a
/// larger edge than any model makes only upscales.
const EDGE: std::ops::RangeInclusive<u32> = 64..=8192;
/// JPEG quality of a scaled-down image: a screen, not an archive.
const QUALITY: u8 = 85;

/// Arguments of `get_image`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GetImageParams {
    /// The image's `resource` (file:// or seedream://) or `url` from a result.
    pub uri: String,
    /// Longest edge in pixels; omit for full resolution.
    pub max_edge: Option<u32>,
}

#[tool_router(router = app_router, vis = "pub(super)")]
impl ImageServer {
    /// Pixels of one generated image, for the gallery app.
    #[tool(
        input_schema = schema::input_schema::<GetImageParams>(),
        title = "Get image",
        annotations(title = "Get image", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_image(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.answer("get_image", self.image(args, &rc)).await)
    }
}

impl ImageServer {
    async fn image(&self, raw: JsonObject, rc: &RequestContext<RoleServer>) -> CallToolResult {
        let params = match args::parse::<GetImageParams>(raw) {
            Ok(p) => p,
            Err(e) => return ToolError::InvalidArguments(e.0).into(),
        };
        let (bytes, mime) = match self.image_bytes(&params.uri, rc).await {
            Ok(found) => found,
            Err(why) => return ToolError::invalid("uri", why).into(),
        };
        let Some(edge) = params.max_edge.map(|e| e.clamp(*EDGE.start(), *EDGE.end())) else {
            return image_result(&bytes, mime);
        };
        // Decoding a 4K image takes a core for a while: off the async threads.
        let scaled =
            tokio::task::spawn_blocking(move || crate::imaging::preview(&bytes, edge, QUALITY))
                .await;
        match scaled {
            Ok(Ok(preview)) => image_result(&preview.jpeg, "image/jpeg"),
            Ok(Err(e)) => {
                ToolError::invalid("uri", format!("the image cannot be read: {e}")).into()
            }
            Err(e) => ToolError::invalid("uri", format!("the image cannot be read: {e}")).into(),
        }
    }

    /// The image's bytes and media type, read as `resources/read` would, or downloaded.
    async fn image_bytes(
        &self,
        uri: &str,
        rc: &RequestContext<RoleServer>,
    ) -> Result<(Vec<u8>, String), String> {
        let caller = self.caller(&rc.extensions);
        let lower = uri.get(..8).unwrap_or(uri).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            if !self.saved.handed_url(uri, &caller.tenant) {
                return Err(format!(
                    "{uri} is not the URL of an image this server made for you (or it is too old to \
                     be remembered); pass an image's `resource` or `url` from a recent result"
                ));
            }
            let bytes = self
                .generator
                .download(uri)
                .await
                .map_err(|e| e.to_string())?;
            let mime = seedream::ImageFormat::sniff(&bytes)
                .map(|f| f.mime())
                .unwrap_or("application/octet-stream");
            return Ok((bytes, mime.to_owned()));
        }
        let read = resources::read(uri, self.readers(&caller.tenant))
            .await
            .map_err(|e| e.message.to_string())?;
        // The resource arrives base64-encoded; decoding it again costs milliseconds and keeps
        // one reader for both paths.
        match read.contents.into_iter().next() {
            Some(ResourceContents::BlobResourceContents {
                blob, mime_type, ..
            }) => {
                let bytes = STANDARD.decode(blob).map_err(|e| e.to_string())?;
                Ok((bytes, mime_type.unwrap_or_default()))
            }
            _ => Err(format!("{uri} is not an image")),
        }
    }
}

fn image_result(bytes: &[u8], mime: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::image(STANDARD.encode(bytes), mime)])
}

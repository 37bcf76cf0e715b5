//! The MCP face of the server: the tool router, server info and instructions. Each tool body
//! only delegates; parsing, validation and rendering live in the submodules.

mod args;
mod edit;
mod generate;
pub mod params;
mod references;
mod render;
mod resources;
mod run;
pub mod schema;
mod sequence;

use std::sync::Arc;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, Implementation, JsonObject, ListResourceTemplatesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use crate::config::Config;
use crate::delivery::DeliveryConfig;
use crate::seedream;
use params::{EditImageParams, GenerateImageParams, GenerateSequenceParams};
pub use run::Context;

const INSTRUCTIONS: &str = "Seedream image tools. generate_image: one image from text. \
edit_image: change or restyle existing pictures, or combine up to 14 reference images (local paths, \
file:// or http(s) URLs, data URIs; a path from an earlier result works). \
generate_sequence: a set of related, consistent images (story panels, variations, a product series), up to 15; \
state the count in the prompt. Results list each image's size, saved path and URL (URLs expire after 24 hours) \
and attach small previews. \
A failed call says which argument to change.";

/// The three tools, for callers that pick one without MCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    Generate,
    Edit,
    Sequence,
}

/// The MCP server. Cheap to clone: HTTP transports build one per session or request.
#[derive(Clone)]
pub struct ImageServer {
    ctx: Arc<Context>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl ImageServer {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let client = seedream::Client::new(config.client)?;
        let delivery = DeliveryConfig::new(config.delivery)?;
        let ctx = Context {
            client,
            defaults: config.defaults,
            profile: config.profile,
            delivery,
        };
        Ok(ImageServer {
            ctx: Arc::new(ctx),
            tool_router: Self::tool_router(),
        })
    }

    /// Runs a tool without MCP (the one-shot command): the same path as a tool call.
    pub async fn call(&self, kind: ToolKind, args: JsonObject) -> CallToolResult {
        match kind {
            ToolKind::Generate => run::call(&self.ctx, "generate_image", args, generate::ask).await,
            ToolKind::Edit => run::call(&self.ctx, "edit_image", args, edit::ask).await,
            ToolKind::Sequence => {
                run::call(&self.ctx, "generate_sequence", args, sequence::ask).await
            }
        }
    }

    /// Generate one image from a text prompt with ByteDance Seedream.
    #[tool(
        input_schema = schema::input_schema::<GenerateImageParams>(),
        title = "Generate image",
        annotations(title = "Generate image", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_image(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        Ok(run::call(&self.ctx, "generate_image", args, generate::ask).await)
    }

    /// Make a new image from 1-14 reference images and an instruction: edit, restyle, or combine them.
    #[tool(
        input_schema = schema::input_schema::<EditImageParams>(),
        title = "Edit image",
        annotations(title = "Edit image", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn edit_image(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        Ok(run::call(&self.ctx, "edit_image", args, edit::ask).await)
    }

    /// Generate a set of up to 15 related, consistent images in one call, optionally from reference images.
    #[tool(
        input_schema = schema::input_schema::<GenerateSequenceParams>(),
        title = "Generate image sequence",
        annotations(title = "Generate image sequence", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_sequence(&self, args: JsonObject) -> Result<CallToolResult, ErrorData> {
        Ok(run::call(&self.ctx, "generate_sequence", args, sequence::ask).await)
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ImageServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        resources::read(&request.uri, &self.ctx.delivery.roots)
            .await
            .map(Into::into)
    }
}

//! The MCP face of the server: the tool router, server info and instructions. Each tool body
//! only delegates; parsing, validation and rendering live in the submodules.

mod args;
mod edit;
mod generate;
mod get_job;
mod jobs;
pub mod params;
mod progress;
mod references;
mod render;
mod resources;
mod run;
pub mod schema;
mod sequence;
mod wait;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResult, CancelledNotificationParam, Implementation, JsonObject,
    ListResourceTemplatesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use secrecy::SecretString;

use crate::config::Config;
use crate::delivery::DeliveryConfig;
use crate::seedream;
use jobs::Jobs;
use params::{EditImageParams, GenerateImageParams, GenerateSequenceParams, GetJobParams};
use progress::Reporter;
pub use run::{Context, ToolKind};
use wait::Outcome;

const INSTRUCTIONS: &str = "Seedream image tools. generate_image: one image from text. \
edit_image: change or restyle existing pictures, or combine up to 14 reference images (local paths, \
file:// or http(s) URLs, data URIs; a path from an earlier result works). \
generate_sequence: a set of related, consistent images (story panels, variations, a product series), up to 15; \
state the count in the prompt. Results list each image's size, saved path and URL (URLs expire after 24 hours) \
and attach small previews. \
A call still running after the wait limit answers with a job_id: pass it to get_job to collect the \
images. A failed call says which argument to change.";

/// The header a multi-tenant HTTP caller puts its own upstream key in.
pub const CALLER_KEY_HEADER: &str = "x-seedream-api-key";

/// The MCP server. Cheap to clone: HTTP transports build one per session or request.
#[derive(Clone)]
pub struct ImageServer {
    ctx: Arc<Context>,
    jobs: Arc<Jobs>,
    wait: Duration,
    /// Whether HTTP callers may bring their own upstream key (`X-Seedream-Api-Key`).
    allow_caller_keys: bool,
    /// Whether a call whose request is cancelled without a reason (its transport closed) goes
    /// on: the legacy SSE transport ends a session when its stream drops, which is not the
    /// caller asking to stop.
    jobs_outlive_the_caller: bool,
    /// Why callers cancelled, by request id: a timeout keeps the job, a real cancel stops it.
    cancel_reasons: Arc<std::sync::Mutex<HashMap<String, String>>>,
    /// Fired when a shutdown's grace period ends: calls still running answer at once.
    grace_over: tokio_util::sync::CancellationToken,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl ImageServer {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let client = seedream::Client::new(config.client)?;
        let delivery = DeliveryConfig::new(config.delivery);
        let ctx = Context {
            client,
            defaults: config.defaults,
            profile: config.profile,
            delivery,
            slots: tokio::sync::Semaphore::new(config.jobs.max_concurrency),
            max_concurrency: config.jobs.max_concurrency,
        };
        Ok(ImageServer {
            ctx: Arc::new(ctx),
            jobs: Arc::new(Jobs::new(config.jobs.keep, config.jobs.instance.clone())),
            wait: config.jobs.wait,
            allow_caller_keys: false,
            jobs_outlive_the_caller: false,
            cancel_reasons: Arc::default(),
            grace_over: tokio_util::sync::CancellationToken::new(),
            tool_router: with_routing_header(Self::tool_router(), config.jobs.instance.is_some()),
        })
    }

    /// Runs a tool without MCP (the one-shot command): the same path as a tool call.
    pub async fn call(&self, kind: ToolKind, args: JsonObject) -> CallToolResult {
        run::run(&self.ctx, kind, args, &Reporter::silent(), None).await
    }

    /// Generate one image from a text prompt with ByteDance Seedream.
    #[tool(
        input_schema = schema::input_schema::<GenerateImageParams>(),
        title = "Generate image",
        annotations(title = "Generate image", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_image(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.start(ToolKind::Generate, args, rc).await)
    }

    /// Make a new image from 1-14 reference images and an instruction: edit, restyle, or combine them.
    #[tool(
        input_schema = schema::input_schema::<EditImageParams>(),
        title = "Edit image",
        annotations(title = "Edit image", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn edit_image(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.start(ToolKind::Edit, args, rc).await)
    }

    /// Generate a set of up to 15 related, consistent images in one call, optionally from reference images.
    #[tool(
        input_schema = schema::input_schema::<GenerateSequenceParams>(),
        title = "Generate image sequence",
        annotations(title = "Generate image sequence", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_sequence(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.start(ToolKind::Sequence, args, rc).await)
    }

    /// Collect the images of a call that answered with a job_id because it took long.
    #[tool(
        input_schema = schema::input_schema::<GetJobParams>(),
        title = "Get job result",
        annotations(title = "Get job result", read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_job(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(get_job::run(&self.jobs, self.wait, args, &rc).await)
    }
}

/// Whether a cancellation reason says the client merely timed out (rmcp: "request timeout";
/// the TypeScript SDK: "Request timed out").
fn is_timeout(reason: &str) -> bool {
    let r = reason.to_ascii_lowercase();
    r.contains("timeout") || r.contains("timed out")
}

impl ImageServer {
    /// Lets HTTP callers use their own upstream key for a call, in an `X-Seedream-Api-Key` header.
    pub fn with_caller_keys(mut self, allow: bool) -> Self {
        self.allow_caller_keys = allow;
        self
    }

    /// Starts nothing new from now on: calls waiting for an upstream slot, and calls made later,
    /// answer that the server is shutting down (nothing was sent or billed).
    pub fn begin_shutdown(&self) {
        self.ctx.slots.close();
    }

    /// The shutdown's grace period is over: calls still running answer now (their generation
    /// may be billed) instead of losing their answer when the transport closes.
    pub fn end_grace(&self) {
        self.grace_over.cancel();
    }

    /// The largest reference image accepted, in bytes (transports size their messages by it).
    pub fn reference_max_bytes(&self) -> usize {
        self.ctx.profile.reference_max_bytes
    }

    /// This instance's name when several share a load balancer.
    pub fn instance(&self) -> Option<&str> {
        self.jobs.instance()
    }

    pub fn with_jobs_outliving_the_caller(mut self, outlive: bool) -> Self {
        self.jobs_outlive_the_caller = outlive;
        self
    }

    /// The caller's own key, when allowed and sent. It lives only for this call and is never logged.
    fn caller_key(&self, rc: &RequestContext<RoleServer>) -> Option<SecretString> {
        if !self.allow_caller_keys {
            return None;
        }
        let parts = rc.extensions.get::<axum::http::request::Parts>()?;
        let value = parts.headers.get(CALLER_KEY_HEADER)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| SecretString::from(value.to_owned()))
    }

    /// The reason sent with the cancellation of request `id`. The cancellation token fires
    /// before the notification handler runs, so this waits a moment for it.
    async fn cancel_reason(&self, id: &str) -> Option<String> {
        for _ in 0..20 {
            if let Some(reason) = self.lock_reasons().remove(id) {
                return Some(reason);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    fn lock_reasons(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.cancel_reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Runs a tool call as a job and waits for it up to the wait limit.
    async fn start(
        &self,
        kind: ToolKind,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let ctx = Arc::clone(&self.ctx);
        let caller_key = self.caller_key(&rc);
        let handle = self.jobs.spawn(kind.name(), move |reporter| async move {
            run::run(&ctx, kind, args, &reporter, caller_key).await
        });
        let outcome = tokio::select! {
            outcome = wait::wait(handle.state.clone(), &rc, self.wait) => outcome,
            () = self.grace_over.cancelled() => {
                tracing::warn!(job = %handle.id, tool = kind.name(), "still running when the server stopped");
                return wait::server_stopped(&handle.id);
            }
        };
        match outcome {
            Outcome::Finished(result) => {
                // Delivered on the spot: nobody will ask for it by id, so it need not be kept.
                self.jobs.remove(&handle.id);
                result
            }
            Outcome::StillRunning => {
                tracing::info!(job = %handle.id, tool = kind.name(), "answering with a job id");
                let state = handle.state.borrow().clone();
                wait::still_running(&handle.id, kind.name(), &state, self.wait)
            }
            Outcome::Cancelled => {
                let reason = self.cancel_reason(&rc.id.to_string()).await;
                let keep = match reason.as_deref() {
                    Some(reason) => is_timeout(reason),
                    None => self.jobs_outlive_the_caller,
                };
                if keep {
                    // The client only stopped waiting: the images may already be paid for, so
                    // the job finishes and saves them.
                    tracing::info!(job = %handle.id, tool = kind.name(), "caller timed out or went away; the job goes on");
                } else {
                    tracing::info!(job = %handle.id, tool = kind.name(), ?reason, "cancelled by the caller");
                    self.jobs.remove(&handle.id);
                }
                CallToolResult::error(vec![rmcp::model::ContentBlock::text("Cancelled.")])
            }
        }
    }
}

/// With several instances, `get_job`'s `job_id` is marked `x-mcp-header` (SEP-2243): 2026-07-28
/// clients then copy it into an `Mcp-Param-Job-Id` header a load balancer can route on. Left
/// out otherwise, as some schema consumers refuse keywords they do not know.
fn with_routing_header(
    mut router: ToolRouter<ImageServer>,
    scaled: bool,
) -> ToolRouter<ImageServer> {
    if !scaled {
        return router;
    }
    if let Some(route) = router.map.get_mut("get_job") {
        let mut schema = (*route.attr.input_schema).clone();
        if let Some(job_id) = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("job_id"))
            .and_then(|j| j.as_object_mut())
        {
            job_id.insert("x-mcp-header".into(), "Job-Id".into());
        }
        route.attr.input_schema = Arc::new(schema);
    }
    router
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

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        _context: NotificationContext<RoleServer>,
    ) {
        if let Some(id) = notification.request_id {
            let mut reasons = self.lock_reasons();
            // Reasons are taken by the waiting call; cancellations of finished calls are not.
            if reasons.len() > 1000 {
                reasons.clear();
            }
            reasons.insert(id.to_string(), notification.reason.unwrap_or_default());
        }
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

//! The MCP face of the server: the tool router, server info and instructions. Each tool body
//! only delegates; parsing, validation and rendering live in the submodules.

mod app;
mod args;
mod call;
mod confirm;
mod edit;
mod generate;
mod generating;
mod get_image;
mod get_job;
mod guard;
mod history;
mod inflight;
pub mod params;
mod render;
mod resources;
mod saved;
pub mod schema;
mod sequence;
mod tasks;
mod wait;

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolResponse, CallToolResult, CancelTaskParams, CancelledNotificationParam, Extensions,
    GetTaskParams, GetTaskResult, Implementation, JsonObject, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_handler, tool_router};

use crate::caller::{CallerContext, Cancellation, Scope, Tenant};
use crate::config::Config;
use crate::generation::{Generator, ToolError};
use crate::jobs::Jobs;
use generating::ToolKind;
pub(crate) use guard::guarded;
use history::History;
use inflight::InFlight;
use params::{EditImageParams, GenerateImageParams, GenerateSequenceParams, GetJobParams};
pub use render::summary_text;
use saved::SavedFiles;

const INSTRUCTIONS: &str = "Seedream image tools. generate_image: one image from text. \
edit_image: change or restyle existing pictures, or combine up to 14 reference images (local paths, \
file:// or http(s) URLs, data URIs; a path from an earlier result works). \
generate_sequence: a set of related, consistent images (story panels, variations, a product series), up to 15; \
state the count in the prompt. Results list each image's size, saved path and URL (URLs expire after 24 hours) \
and attach small previews. \
A call still running after the wait limit answers with a job_id: pass it to get_job to collect the \
images. A failed call says which argument to change. \
The resource seedream://usage tells what was spent today and this month and what the caps leave.";

/// Where the tools learn who calls: the transport's reading of a request's extensions.
/// `None` (stdio, or a request no transport described) means the local operator.
pub type CallerSource = fn(&Extensions) -> Option<CallerContext>;

/// The MCP server. Cheap to clone: HTTP transports build one per session or request.
#[derive(Clone)]
pub struct ImageServer {
    generator: Arc<Generator>,
    jobs: Arc<Jobs>,
    /// Generating calls in flight, by request scope and id, for cancellations to find.
    calls: Arc<InFlight>,
    /// Who saved which file, for reading them back over HTTP.
    saved: Arc<SavedFiles>,
    /// What was made, listed as resources.
    history: Arc<History>,
    pace: wait::Pace,
    /// How long a task-declaring call runs before it answers with a task.
    task_after: std::time::Duration,
    /// Set by the transport: over HTTP it reads the caller its middleware identified.
    callers: CallerSource,
    /// Why the server cannot work (a bad setting), told to every tool call instead of exiting,
    /// which a stdio client would show only as "Connection closed".
    misconfigured: Option<Arc<str>>,
    /// Fired when a shutdown's grace period ends: calls still running answer at once.
    grace_over: tokio_util::sync::CancellationToken,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl ImageServer {
    /// What `resources/read` (and the gallery's `get_image`) may read for `tenant`.
    fn readers<'a>(&'a self, tenant: &'a Tenant) -> resources::Readers<'a> {
        resources::Readers {
            roots: self.generator.roots(),
            saved: &self.saved,
            jobs: &self.jobs,
            history: &self.history,
            spend: self.generator.spend(),
            tenant,
        }
    }

    pub fn new(config: Config) -> anyhow::Result<Self> {
        let client = seedream::Client::new(config.client.clone())?;
        let jobs = Jobs::for_settings(&config.jobs);
        Ok(ImageServer {
            generator: Arc::new(Generator::new(client, &config)),
            jobs,
            calls: Arc::default(),
            saved: Arc::default(),
            history: Arc::default(),
            pace: wait::Pace {
                limit: config.jobs.wait,
                heartbeat: wait::Pace::HEARTBEAT,
            },
            task_after: config.jobs.task_after,
            callers: |_| None,
            misconfigured: None,
            grace_over: tokio_util::sync::CancellationToken::new(),
            tool_router: Self::tool_router() + Self::app_router(),
        })
    }

    /// A server that lists its tools and answers every call with `problem`, the configuration
    /// error that keeps it from working.
    pub fn misconfigured(problem: String) -> anyhow::Result<Self> {
        let mut server = ImageServer::new(Config::inert()?)?;
        server.misconfigured = Some(problem.into());
        Ok(server)
    }

    /// Generate one image from a text prompt with ByteDance Seedream.
    #[tool(
        input_schema = schema::input_schema::<GenerateImageParams>(),
        output_schema = render::structured::output_schema(),
        title = "Generate image",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_image(
        &self,
        args: JsonObject,
        retry: confirm::Retry,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self
            .answer(
                "generate_image",
                self.start(ToolKind::Generate, args, retry, rc),
            )
            .await)
    }

    /// Make a new image from 1-14 reference images and an instruction: edit, restyle, or combine them.
    #[tool(
        input_schema = schema::input_schema::<EditImageParams>(),
        output_schema = render::structured::output_schema(),
        title = "Edit image",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn edit_image(
        &self,
        args: JsonObject,
        retry: confirm::Retry,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self
            .answer("edit_image", self.start(ToolKind::Edit, args, retry, rc))
            .await)
    }

    /// Up to 15 related, consistent images in one call, optionally from references.
    #[tool(
        input_schema = schema::input_schema::<GenerateSequenceParams>(),
        output_schema = render::structured::output_schema(),
        title = "Generate image sequence",
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_sequence(
        &self,
        args: JsonObject,
        retry: confirm::Retry,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self
            .answer(
                "generate_sequence",
                self.start(ToolKind::Sequence, args, retry, rc),
            )
            .await)
    }

    /// Collect the images of a call that answered with a job_id.
    #[tool(
        input_schema = schema::input_schema::<GetJobParams>(),
        output_schema = render::structured::output_schema(),
        title = "Get job result",
        annotations(read_only_hint = true, destructive_hint = false, idempotent_hint = true, open_world_hint = false)
    )]
    async fn get_job(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let caller = self.caller(&rc.extensions);
        Ok(self
            .answer(
                "get_job",
                get_job::respond(&self.jobs, self.pace, args, &caller.tenant, &rc),
            )
            .await)
    }
}

impl ImageServer {
    /// Lets the transport say who calls: `source` reads the caller from a request's extensions.
    pub fn with_callers(mut self, source: CallerSource) -> Self {
        self.callers = source;
        self
    }

    /// Sends progress every `heartbeat` while a job runs instead of every 2 s (tests set it
    /// small, so they need not wait whole seconds to see a heartbeat).
    pub fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        // A zero period would make tokio's interval panic.
        self.pace.heartbeat = heartbeat.max(Duration::from_millis(1));
        self
    }

    /// Marks `tool`'s argument `param` as one that clients copy into an `Mcp-Param-{header}`
    /// header (`x-mcp-header`, SEP-2243), which a load balancer can route on.
    pub fn with_header_param(mut self, tool: &str, param: &str, header: &str) -> Self {
        if let Some(route) = self.tool_router.map.get_mut(tool) {
            let mut schema = (*route.attr.input_schema).clone();
            if let Some(property) = schema
                .get_mut("properties")
                .and_then(|p| p.get_mut(param))
                .and_then(|j| j.as_object_mut())
            {
                property.insert("x-mcp-header".into(), header.into());
            }
            route.attr.input_schema = Arc::new(schema);
        }
        self
    }

    /// Starts nothing new from now on: calls waiting for an upstream slot, and calls made later,
    /// answer that the server is shutting down (nothing was sent or billed).
    pub fn begin_shutdown(&self) {
        self.generator.close();
    }

    /// The shutdown's grace period is over: calls still running answer now (their generation
    /// may be billed) instead of losing their answer when the transport closes.
    pub fn end_grace(&self) {
        self.grace_over.cancel();
    }

    /// The largest reference image accepted, in bytes (transports size their messages by it).
    pub fn reference_max_bytes(&self) -> usize {
        self.generator.reference_max_bytes()
    }

    /// This instance's name when several share a load balancer.
    pub fn instance(&self) -> Option<&str> {
        self.jobs.instance()
    }

    /// Applies a cancellation to the call with request id `id` in `scope` (also one that
    /// reached the transport but not rmcp: stateless HTTP drops notifications).
    pub fn cancel_request(&self, scope: &Scope, id: &str, why: Cancellation) -> bool {
        self.calls.cancel(scope, id, why)
    }

    /// Who sent the request with these extensions.
    fn caller(&self, extensions: &Extensions) -> CallerContext {
        (self.callers)(extensions).unwrap_or_else(CallerContext::local)
    }

    /// Answers a tool call with `work`'s result (or task), a panic as an internal error, or the
    /// configuration error when the server has no usable configuration.
    async fn answer<T: From<CallToolResult>>(
        &self,
        tool: &str,
        work: impl std::future::Future<Output = T>,
    ) -> T {
        match &self.misconfigured {
            Some(problem) => {
                CallToolResult::from(ToolError::Misconfigured(Arc::clone(problem))).into()
            }
            None => guard::guarded(tool, work).await,
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for ImageServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
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
        context: NotificationContext<RoleServer>,
    ) {
        if let Some(id) = notification.request_id {
            let caller = self.caller(&context.extensions);
            let why = Cancellation::from_reason(notification.reason.as_deref());
            self.cancel_request(&caller.scope, &id.to_string(), why);
        }
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let caller = self.caller(&context.extensions);
        tasks::get(&self.jobs, &request.task_id, &caller.tenant)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context.extensions);
        tasks::update(&self.jobs, &request.task_id, &caller.tenant)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context.extensions);
        tasks::cancel(&self.jobs, &request.task_id, &caller.tenant)
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let caller = self.caller(&context.extensions);
        self.history
            .rebuild_once(self.generator.output_dir(), &self.saved)
            .await;
        let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
        resources::list(&self.history, &caller.tenant, cursor)
    }

    /// The tools, linked to the gallery and with its own tool for a client that renders MCP
    /// Apps, as before for one that does not.
    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let apps = app::supported(context.client_capabilities().as_ref());
        let tools = app::tools_for(self.tool_router.list_all(), apps);
        Ok(ListToolsResult::with_all_items(tools))
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
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri == app::GALLERY_URI {
            return Ok(app::read_gallery().into());
        }
        let caller = self.caller(&context.extensions);
        self.history
            .rebuild_once(self.generator.output_dir(), &self.saved)
            .await;
        resources::read(&request.uri, self.readers(&caller.tenant))
            .await
            .map(Into::into)
    }
}

//! The MCP face of the server: the tool router, server info and instructions. Each tool body
//! only delegates; parsing, validation and rendering live in the submodules.

mod args;
pub mod caller;
mod edit;
mod generate;
mod generating;
mod get_job;
mod guard;
mod inflight;
mod jobs;
pub mod params;
mod progress;
mod render;
mod resources;
mod saved;
pub mod schema;
mod sequence;
mod wait;

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
use crate::generation::{Generator, ToolError};
pub use caller::CALLER_KEY_HEADER;
use caller::Caller;
use generating::ToolKind;
use inflight::{Decision, InFlight};
use jobs::Jobs;
use params::{EditImageParams, GenerateImageParams, GenerateSequenceParams, GetJobParams};
pub use render::summary_text;
use saved::SavedFiles;
use wait::Outcome;

const INSTRUCTIONS: &str = "Seedream image tools. generate_image: one image from text. \
edit_image: change or restyle existing pictures, or combine up to 14 reference images (local paths, \
file:// or http(s) URLs, data URIs; a path from an earlier result works). \
generate_sequence: a set of related, consistent images (story panels, variations, a product series), up to 15; \
state the count in the prompt. Results list each image's size, saved path and URL (URLs expire after 24 hours) \
and attach small previews. \
A call still running after the wait limit answers with a job_id: pass it to get_job to collect the \
images. A failed call says which argument to change.";

/// Whether HTTP callers pay with their own upstream key (`X-Seedream-Api-Key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKeys {
    /// The server's key pays for every call; the header is ignored.
    Off,
    /// Every call must bring its own key.
    Required,
    /// A call's own key pays when sent, else the server's key (an explicit operator choice).
    OrServerKey,
}

/// The MCP server. Cheap to clone: HTTP transports build one per session or request.
#[derive(Clone)]
pub struct ImageServer {
    generator: Arc<Generator>,
    jobs: Arc<Jobs>,
    /// Generating calls in flight, by request scope and id, for cancellations to find.
    calls: Arc<InFlight>,
    /// Who saved which file, for reading them back over HTTP.
    saved: Arc<SavedFiles>,
    wait: Duration,
    caller_keys: CallerKeys,
    /// Why the server cannot work (a bad setting), told to every tool call instead of exiting,
    /// which a stdio client would show only as "Connection closed".
    misconfigured: Option<Arc<str>>,
    /// Fired when a shutdown's grace period ends: calls still running answer at once.
    grace_over: tokio_util::sync::CancellationToken,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl ImageServer {
    pub fn new(config: Config) -> anyhow::Result<Self> {
        let client = seedream::Client::new(config.client.clone())?;
        Ok(ImageServer {
            generator: Arc::new(Generator::new(client, &config)),
            jobs: Arc::new(Jobs::new(config.jobs.keep, config.jobs.instance.clone())),
            calls: Arc::default(),
            saved: Arc::default(),
            wait: config.jobs.wait,
            caller_keys: CallerKeys::Off,
            misconfigured: None,
            grace_over: tokio_util::sync::CancellationToken::new(),
            tool_router: with_routing_header(Self::tool_router(), config.jobs.instance.is_some()),
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
        title = "Generate image",
        annotations(title = "Generate image", read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = true)
    )]
    async fn generate_image(
        &self,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self
            .answer("generate_image", self.start(ToolKind::Generate, args, rc))
            .await)
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
        Ok(self
            .answer("edit_image", self.start(ToolKind::Edit, args, rc))
            .await)
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
        Ok(self
            .answer(
                "generate_sequence",
                self.start(ToolKind::Sequence, args, rc),
            )
            .await)
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
        let caller = Caller::of(&rc.extensions, self.caller_keys != CallerKeys::Off);
        Ok(self
            .answer(
                "get_job",
                get_job::run(&self.jobs, self.wait, args, &caller.tenant, &rc),
            )
            .await)
    }
}

impl ImageServer {
    /// Lets HTTP callers pay with their own upstream key, sent as `X-Seedream-Api-Key`.
    pub fn with_caller_keys(mut self, keys: CallerKeys) -> Self {
        self.caller_keys = keys;
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

    /// Applies a `notifications/cancelled` that reached the transport but not rmcp (stateless
    /// HTTP drops notifications): the call it names, in the caller's scope, is cancelled.
    pub fn cancel_request(
        &self,
        extensions: &rmcp::model::Extensions,
        id: &str,
        reason: Option<&str>,
    ) -> bool {
        let caller = Caller::of(extensions, self.caller_keys != CallerKeys::Off);
        self.calls.cancel(&caller.scope, id, reason)
    }

    /// The key this call pays with: the caller's own, the server's (`None`), or a refusal.
    fn paying_key(
        &self,
        rc: &RequestContext<RoleServer>,
    ) -> Result<Option<SecretString>, CallToolResult> {
        if self.caller_keys == CallerKeys::Off {
            return Ok(None);
        }
        let sent = rc
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(caller::caller_key)
            .map(|key| SecretString::from(key.to_owned()));
        match (sent, self.caller_keys) {
            (Some(key), _) => Ok(Some(key)),
            (None, CallerKeys::Required) => Err(ToolError::CallerKeyMissing.into()),
            (None, _) => Ok(None),
        }
    }

    /// What a cancellation asked for. rmcp fires the request's token before the notification
    /// handler runs, so this waits a moment for the notification.
    async fn decision(&self, registration: &inflight::Registration) -> Option<Decision> {
        for _ in 0..20 {
            if let Some(decision) = registration.decision() {
                return Some(decision);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Answers a tool call with `work`'s result, a panic as an internal error, or the
    /// configuration error when the server has no usable configuration.
    async fn answer(
        &self,
        tool: &str,
        work: impl std::future::Future<Output = CallToolResult>,
    ) -> CallToolResult {
        match &self.misconfigured {
            Some(problem) => ToolError::Misconfigured(Arc::clone(problem)).into(),
            None => guard::guarded(tool, work).await,
        }
    }

    /// Runs a tool call as a job and waits for it up to the wait limit.
    async fn start(
        &self,
        kind: ToolKind,
        args: JsonObject,
        rc: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let caller = Caller::of(&rc.extensions, self.caller_keys != CallerKeys::Off);
        let caller_key = match self.paying_key(&rc) {
            Ok(key) => key,
            Err(refusal) => return refusal,
        };
        // Fired by the request's own cancellation, or by one that reached us another way.
        let stop = rc.ct.child_token();
        let registration =
            match self
                .calls
                .register(caller.scope.clone(), rc.id.to_string(), stop.clone())
            {
                Ok(r) => r,
                Err(in_use) => return ToolError::InvalidRequest(in_use.to_string()).into(),
            };
        let generator = Arc::clone(&self.generator);
        let saved = Arc::clone(&self.saved);
        let tenant = caller.tenant.clone();
        let handle = self.jobs.spawn(
            kind.name(),
            caller.tenant,
            move |reporter, job| async move {
                let call = generating::Call {
                    caller_key,
                    tenant,
                    saved,
                    job,
                };
                generating::respond(&generator, kind, args, &reporter, call).await
            },
        );
        let mut waiter = rc.clone();
        waiter.ct = stop;
        let outcome = tokio::select! {
            outcome = wait::wait(handle.state.clone(), &waiter, self.wait) => outcome,
            () = self.grace_over.cancelled() => {
                tracing::warn!(job = %handle.id, tool = kind.name(), "still running when the server stopped");
                return wait::server_stopped(&handle.id);
            }
        };
        match outcome {
            Outcome::Finished(result) => {
                // Delivered on the spot: nobody will ask for it by id, so it need not be kept
                // (unless it holds images nothing else does).
                self.jobs.delivered(&handle.id);
                result
            }
            Outcome::StillRunning => {
                tracing::info!(job = %handle.id, tool = kind.name(), "answering with a job id");
                let state = handle.state.borrow().clone();
                wait::still_running(&handle.id, kind.name(), &state, self.wait)
            }
            Outcome::Cancelled => self.cancelled(kind, &handle, &registration).await,
        }
    }

    /// Settles a call whose request was cancelled or whose stream closed: the job stops, or
    /// goes on for `get_job` when its images may already be billed.
    async fn cancelled(
        &self,
        kind: ToolKind,
        handle: &jobs::Handle,
        registration: &inflight::Registration,
    ) -> CallToolResult {
        let decision = self.decision(registration).await;
        let sent = handle.state.borrow().sent_upstream;
        // A closed stream with no cancellation is ambiguous (a timeout, a dropped connection, or
        // a 2026-07-28 client's abort): before anything was sent it costs nothing to stop; after,
        // the images may be billed, so they are kept.
        let keep = match decision {
            Some(Decision::KeepGoing) => true,
            Some(Decision::Cancel) => false,
            None => sent,
        };
        if keep {
            tracing::info!(job = %handle.id, tool = kind.name(), "caller timed out or went away; the job goes on");
        } else {
            tracing::info!(job = %handle.id, tool = kind.name(), ?decision, sent_upstream = sent, "cancelled by the caller");
            self.jobs.remove(&handle.id);
        }
        ToolError::Cancelled.into()
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
        context: NotificationContext<RoleServer>,
    ) {
        if let Some(id) = notification.request_id {
            self.cancel_request(
                &context.extensions,
                &id.to_string(),
                notification.reason.as_deref(),
            );
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
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = Caller::of(&context.extensions, self.caller_keys != CallerKeys::Off);
        let readers = resources::Readers {
            roots: self.generator.roots(),
            saved: &self.saved,
            jobs: &self.jobs,
            tenant: &caller.tenant,
        };
        resources::read(&request.uri, readers).await.map(Into::into)
    }
}

//! seedream-mcp: an MCP tool server for ByteDance Seedream image generation through CometAPI,
//! Volcengine Ark or BytePlus ModelArk.
//!
//! # Layout
//! - [`cli`]: the command line (`stdio`, `http`, `generate`); [`oneshot`]: the `generate` command.
//! - [`config`]: flags and environment variables, validated into a [`config::Config`].
//! - [`files`]: allowed folders, file names, atomic writes, local reference images.
//! - [`imaging`]: previews within size budgets; fitting reference images to upstream limits.
//! - [`generation`]: the generation service below MCP: request → checked → sent → delivered.
//! - [`delivery`]: download, save and choose embeds for generated images.
//! - [`advice`]: what to do about a failed generation or download, in this server's settings.
//! - [`jobs`]: generations that may outlive their call, collected with `get_job`.
//! - [`caller`]: who calls (tenant, scope, paying key) and why a call was cancelled, as typed values.
//! - [`tools`]: the MCP tools, their schemas and how results are rendered; saved images as resources.
//! - [`transport`]: stdio and HTTP wiring; decides who calls and how instances are routed.
//! - [`telemetry`]: logging to stderr.

pub mod advice;
pub mod caller;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod files;
pub mod generation;
pub mod imaging;
pub mod jobs;
pub mod oneshot;
pub mod spend;
pub mod tcp;
pub mod telemetry;
pub mod tools;
pub mod transport;

pub use cli::run;

//! seedream-mcp: an MCP tool server for ByteDance Seedream image generation through CometAPI,
//! Volcengine Ark or BytePlus ModelArk.
//!
//! # Layout
//! - [`cli`]: the command line (`stdio`, `fake-api`).
//! - [`config`]: flags and environment variables, validated into a [`config::Config`].
//! - [`seedream`]: the upstream API client; knows nothing about MCP.
//! - [`tools`]: the MCP tools, their schemas and how results are rendered.
//! - [`transport`]: stdio wiring.
//! - [`fake_api`]: a faithful local stand-in of the upstream, for tests and offline trials.
//! - [`telemetry`]: logging to stderr.

pub mod cli;
pub mod config;
pub mod fake_api;
pub mod imaging;
pub mod seedream;
pub mod telemetry;
pub mod tools;
pub mod transport;

pub use cli::run;

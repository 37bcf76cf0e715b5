//! Wiring the server to a transport; no tool logic here.

mod cancel;
mod conn;
mod guard;
pub mod http;
mod legacy_sse;
mod limits;
mod replay;
mod rpc;
mod sessions;
mod stdio;

pub use stdio::{line_limit, serve_io, serve_stdio};

//! Wiring the server to a transport; no tool logic here. The transport decides what only it
//! can know about a request (who calls, whether a cancellation arrived out of band, how a load
//! balancer routes) and hands it to the tools as typed values.

pub mod caller;
mod cancel;
mod conn;
mod guard;
pub mod http;
mod legacy_sse;
mod limits;
mod replay;
mod routing;
mod rpc;
mod sessions;
mod stdio;

pub use stdio::{line_limit, serve_io, serve_stdio};

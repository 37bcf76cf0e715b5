//! Wiring the server to a transport; no tool logic here.

mod cancel;
mod guard;
pub mod http;
mod legacy_sse;
mod limits;
mod stdio;

pub use stdio::serve_stdio;

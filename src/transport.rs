//! Wiring the server to a transport; no tool logic here.

pub mod http;
mod stdio;

pub use stdio::serve_stdio;

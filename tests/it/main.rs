//! One integration-test binary (one link step) made of modules.

mod client;
mod fake_api;
mod schema;
mod stdio;
mod support;
mod tools;

//! One integration-test binary (one link step) made of modules.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail loudly; clippy.toml's test allowances only cover #[test] functions"
)]

mod client;
mod confirm;
mod delivery;
mod faults;
mod gallery;
mod history;
mod http;
mod legacy_sse;
mod long;
mod models;
mod oneshot;
mod references;
mod restart;
mod scale;
mod schema;
mod spend;
mod stdio;
mod stdio_fuzz;
mod support;
mod tasks;
mod tenants;
mod tools;
mod transport;
mod upstream;

//! A faithful local fake of the Seedream image API: CometAPI in front of Ark on
//! `/v1`, plain Ark on `/api/v3`, signed downloads on `/tos`, following the behaviour spec
//! (M1–M15) of `reference/seedream-api.md`, with scenario injection for every failure class.
//!
//! # Layout
//! - `config`: [`FakeConfig`] and its enums.
//! - `routes`: the router, downloads, `/_fake/*`, unknown paths.
//! - `generate`: the generation pipeline (gateway checks → scenarios → validation → answer).
//! - `validate`, `refs`, `models`, `sizes`: request rules (fields, reference images, per-model sizes).
//! - `plan`: image count, size, partial failures, latency.
//! - `output`, `faults`: success bodies, event streams, and transport faults.
//! - `inject`: scenario failures that replace generation.
//! - `errors`, `comet`, `reply`: Ark and CometAPI error envelopes, response framing.
//! - `images`, `signing`: real image bytes and signed URLs.
//! - `scenario`: `X-Fake-Scenario` / `[[fake:...]]` directives.
//! - `state`, `clock`, `conn`: shared state, fake time and ids, the listener.

mod clock;
mod comet;
mod config;
mod conn;
mod errors;
mod faults;
mod generate;
mod images;
mod inject;
mod models;
mod output;
mod plan;
mod refs;
mod reply;
mod routes;
mod scenario;
mod signing;
mod sizes;
mod state;
mod tcp;
mod validate;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{FakeConfig, ImageBytes, LiteProfile, UnknownPath, UpstreamErrorStyle};
pub use state::RecordedRequest;
pub use tcp::bind;

use conn::{ConnHandle, FakeListener};
use state::{App, Shared};

/// How long [`FakeApi::shutdown`] waits for in-flight requests before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A running fake API on `127.0.0.1:<ephemeral port>`. Dropping it (or calling
/// [`shutdown`](Self::shutdown)) stops accepting connections and closes idle ones.
#[derive(Debug)]
pub struct FakeApi {
    app: App,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl FakeApi {
    /// Binds `127.0.0.1:0` and serves in a background task.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeApi> {
        let listener = crate::tcp::bind((Ipv4Addr::LOCALHOST, 0).into())?;
        let app = Arc::new(Shared::new(config, url_addr(listener.local_addr()?)));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(run(listener, Arc::clone(&app), async move {
            let _ = stopped.await;
        }));
        Ok(FakeApi {
            app,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.app.addr
    }

    /// `http://127.0.0.1:PORT/v1` (CometAPI mode).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.app.addr)
    }

    /// `http://127.0.0.1:PORT/api/v3` (Ark mode).
    pub fn ark_base_url(&self) -> String {
        format!("http://{}/api/v3", self.app.addr)
    }

    /// Generation requests received, oldest first (the last 1000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app.requests()
    }

    /// Raw path + query of every `GET /tos/...` received (the last 1000).
    pub fn downloads(&self) -> Vec<String> {
        self.app.downloads()
    }

    /// Changes the configuration; requests already running keep the one they started with.
    pub fn update_config(&self, f: impl FnOnce(&mut FakeConfig)) {
        self.app.update_config(f);
    }

    /// Freezes the fake clock at `unix` seconds (URL expiry, `created`), or releases it with `None`.
    pub fn set_clock(&self, unix: Option<i64>) {
        self.app.clock.set(unix);
    }

    /// Generation requests whose client hung up before the response was complete (best effort).
    pub fn connections_closed_early(&self) -> usize {
        self.app.closed_early()
    }

    /// Stops accepting, lets in-flight requests finish (up to a short grace period).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, task).await.is_err()
        {
            tracing::debug!("fake API: in-flight requests outlived the shutdown grace period");
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves the fake API on `listener` until `shutdown` resolves (the `fake-api` subcommand).
pub async fn serve(
    listener: TcpListener,
    config: FakeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Arc::new(Shared::new(config, url_addr(listener.local_addr()?)));
    run(listener, app, shutdown).await
}

async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let service = routes::router(app).into_make_service_with_connect_info::<ConnHandle>();
    axum::serve(FakeListener(listener), service)
        .with_graceful_shutdown(shutdown)
        .await
}

/// The address put in URLs: a wildcard bind (`0.0.0.0`) is reached through loopback.
fn url_addr(bound: SocketAddr) -> SocketAddr {
    match bound.ip() {
        ip if !ip.is_unspecified() => bound,
        IpAddr::V4(_) => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), bound.port()),
        IpAddr::V6(_) => SocketAddr::new(std::net::Ipv6Addr::LOCALHOST.into(), bound.port()),
    }
}

//! Serving HTTP/1 connections with the limits a public listener needs against slowloris: a
//! deadline for the request head, an idle timeout, and a bound on connections that have not yet
//! made an authenticated request (the oldest of them is dropped to admit a new one), so that
//! idle or half-sent connections cannot hold every slot. axum's `serve` has none of these.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; when all are taken, the oldest unauthenticated one is dropped,
    /// and if there is none, new clients wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections open at once that have not yet made an authenticated request.
    pub max_unauthenticated: usize,
    /// Time a connection has to make its first authenticated request, and each request has to
    /// send its head.
    pub header_timeout: Duration,
    /// A connection with no bytes moving either way for this long is closed. Event streams
    /// send a keep-alive every 15 s, so they never reach it.
    pub idle_timeout: Duration,
}

/// How long connections may take to finish after the server stops accepting.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Connections that have not authenticated yet, oldest first.
#[derive(Default)]
struct Gate {
    waiting: Mutex<BTreeMap<u64, CancellationToken>>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, CancellationToken>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the oldest unauthenticated connection; false when there is none.
    fn evict_oldest(&self) -> bool {
        let oldest = self.lock().pop_first();
        match oldest {
            Some((_, token)) => {
                token.cancel();
                true
            }
            None => false,
        }
    }
}

/// Put into every request's extensions: the token check marks its connection as trusted.
#[derive(Clone)]
pub struct ConnMark(Arc<ConnState>);

struct ConnState {
    seq: u64,
    authenticated: AtomicBool,
    gate: Arc<Gate>,
}

impl ConnMark {
    /// This connection made a request that passed the token check (or needed none).
    pub fn authenticated(&self) {
        if !self.0.authenticated.swap(true, Ordering::Relaxed) {
            self.0.gate.lock().remove(&self.0.seq);
        }
    }
}

/// Accepts and serves connections on `listener` with `app` until `stop` fires, then lets the
/// open connections finish their responses (at most [`CLOSE_LIMIT`]) and returns.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let gate = Arc::new(Gate::default());
    let max_unauthenticated = limits.max_unauthenticated.max(1);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut tasks = JoinSet::new();
    let mut seq = 0u64;
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = accept(&listener, &slots, &gate) => accepted,
        };
        while tasks.try_join_next().is_some() {}
        let Some((stream, _addr, permit)) = accepted else {
            continue;
        };
        seq += 1;
        let evict = CancellationToken::new();
        {
            let mut waiting = gate.lock();
            if waiting.len() >= max_unauthenticated
                && let Some((_, oldest)) = waiting.pop_first()
            {
                oldest.cancel();
            }
            waiting.insert(seq, evict.clone());
        }
        let state = Arc::new(ConnState {
            seq,
            authenticated: AtomicBool::new(false),
            gate: Arc::clone(&gate),
        });
        tasks.spawn(connection(
            Watched::new(stream, permit),
            app.clone(),
            builder.clone(),
            state,
            evict,
            stop.clone(),
            limits,
        ));
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_LIMIT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        tracing::info!(
            open = tasks.len(),
            "closing the connections still open at shutdown"
        );
    }
}

async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
    gate: &Gate,
) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
    // Accepted first, so that a connection is only ever dropped for one that is waiting.
    let (stream, addr) = match listener.accept().await {
        Ok(accepted) => accepted,
        Err(e) => {
            // Out of file descriptors and the like: back off instead of spinning.
            tracing::warn!(error = %e, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            return None;
        }
    };
    let permit = match Arc::clone(slots).try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            // Make room by dropping a connection that has not shown it may use the server.
            if !gate.evict_oldest() {
                tracing::warn!(
                    "connection limit reached; new connections wait (raise SEEDREAM_HTTP_MAX_CONNECTIONS)"
                );
            }
            Arc::clone(slots).acquire_owned().await.ok()?
        }
    };
    let _ = stream.set_nodelay(true);
    Some((stream, addr, permit))
}

async fn connection(
    io: Watched,
    app: Router,
    builder: http1::Builder,
    state: Arc<ConnState>,
    evict: CancellationToken,
    stop: CancellationToken,
    limits: Limits,
) {
    let last = Arc::clone(&io.last);
    let started = io.started;
    let mark = ConnMark(Arc::clone(&state));
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(mark.clone());
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, request.map(Body::new)).await }
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut check =
        tokio::time::interval((limits.idle_timeout / 4).max(Duration::from_millis(100)));
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                break;
            }
            () = evict.cancelled() => {
                tracing::debug!("dropped an unauthenticated connection to make room");
                break;
            }
            () = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = check.tick() => {
                let now = Instant::now();
                let idle = now.saturating_duration_since(started + Duration::from_millis(last.load(Ordering::Relaxed)));
                let trusted = state.authenticated.load(Ordering::Relaxed);
                if idle >= limits.idle_timeout {
                    tracing::debug!("closed an idle connection");
                    break;
                }
                if !trusted && now.saturating_duration_since(started) >= limits.header_timeout {
                    tracing::debug!("closed a connection that made no authenticated request in time");
                    break;
                }
            }
        }
    }
    state.gate.lock().remove(&state.seq);
}

/// A connection that notes when bytes last moved, and frees its slot when it closes.
struct Watched {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    started: Instant,
    /// Milliseconds after `started` of the last read or write.
    last: Arc<AtomicU64>,
}

impl Watched {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit) -> Self {
        Watched {
            stream,
            _permit: permit,
            started: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

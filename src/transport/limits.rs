//! Bounds on what HTTP clients can hold open: TCP connections, and long-lived SSE streams
//! (`GET /sse`, and `GET /mcp` in session mode). Without them a client that opens streams and
//! never closes them would use up memory and file descriptors.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::Listener;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::tcp::TcpWith;

/// A listener that stops accepting while `max` connections are open; further clients wait in
/// the kernel's backlog instead of being dropped.
pub struct LimitedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    max: usize,
}

impl LimitedListener {
    pub fn new(inner: TcpListener, max: usize) -> Self {
        let max = max.max(1);
        LimitedListener {
            inner,
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

impl Listener for LimitedListener {
    type Io = CountedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(
                    max = self.max,
                    "connection limit reached; new connections wait (raise SEEDREAM_HTTP_MAX_CONNECTIONS)"
                );
                match Arc::clone(&self.slots).acquire_owned().await {
                    Ok(permit) => permit,
                    // The semaphore is never closed; should it be, stop limiting rather than
                    // stop serving.
                    Err(_) => {
                        let (stream, addr) = Listener::accept(&mut self.inner).await;
                        return (CountedStream::new(stream, None), addr);
                    }
                }
            }
        };
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (CountedStream::new(stream, Some(permit)), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// A connection that frees its slot when it closes.
pub type CountedStream = TcpWith<Option<OwnedSemaphorePermit>>;

/// How many long-lived SSE streams may be open at once.
#[derive(Clone)]
pub struct StreamSlots {
    slots: Arc<Semaphore>,
    max: usize,
}

impl StreamSlots {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        StreamSlots {
            slots: Arc::new(Semaphore::new(max)),
            max,
        }
    }
}

/// Middleware: a `GET` that opens an event stream takes a slot for as long as its response body
/// lives, or gets 503 with `Retry-After` when none is free. POSTs answered with SSE are not
/// counted: they end with their call.
pub async fn limit_streams(
    State(slots): State<StreamSlots>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET {
        return next.run(request).await;
    }
    let Ok(permit) = Arc::clone(&slots.slots).try_acquire_owned() else {
        tracing::warn!(max = slots.max, "SSE stream limit reached");
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "too many open event streams (limit {}): close one or retry later; the limit is \
                 SEEDREAM_HTTP_MAX_STREAMS",
                slots.max
            ),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return response;
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let body = Body::from_stream(HoldWhileStreaming {
        body: body.into_data_stream(),
        _permit: permit,
    });
    Response::from_parts(parts, body)
}

/// A response body that keeps a stream slot until it is finished or dropped.
struct HoldWhileStreaming<S> {
    body: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: futures_util::Stream + Unpin> futures_util::Stream for HoldWhileStreaming<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

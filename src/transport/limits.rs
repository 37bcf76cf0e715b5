//! Bounds on the long-lived SSE streams HTTP clients can hold open (`GET /sse`, and `GET /mcp`
//! in session mode). Without them a client that opens streams and never closes them would use
//! up memory and file descriptors. Connections are bounded in `conn`.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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

//! A workaround for rmcp 3.11 replaying, on resume, the event the client already had.
//!
//! rmcp's `LocalSessionWorker::resume` passes the `Last-Event-ID` index to `CachedTx::sync`,
//! which replays the cache from that index *inclusive* (`skip(index - front)`), so the last
//! event a client received is sent again on every reconnection. The TypeScript SDK reconnects
//! every `retry` (3 s) after a cancel or timeout and so gets the same stale progress event
//! forever. Here the resumed stream drops every event whose id is not past `Last-Event-ID`.
//! Remove this once rmcp resumes from `index + 1`.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::Stream;

/// An rmcp event id: `index`, or `index/stream` for a request's own stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EventId {
    index: u64,
    stream: Option<u64>,
}

fn parse_event_id(raw: &str) -> Option<EventId> {
    let raw = raw.trim();
    match raw.split_once('/') {
        Some((index, stream)) => Some(EventId {
            index: index.parse().ok()?,
            stream: Some(stream.parse().ok()?),
        }),
        None => Some(EventId {
            index: raw.parse().ok()?,
            stream: None,
        }),
    }
}

/// Middleware: a `GET` with `Last-Event-ID` gets its stream without the events up to that id.
pub async fn skip_replayed(request: Request, next: Next) -> Response {
    let last = (request.method() == Method::GET)
        .then(|| request.headers().get("last-event-id"))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(parse_event_id);
    let response = next.run(request).await;
    let Some(last) = last else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let body = Body::from_stream(SkipSeen {
        body: body.into_data_stream(),
        last,
        pending: Vec::new(),
    });
    Response::from_parts(parts, body)
}

/// An SSE body with the events the client has seen taken out. Bytes are held back only until
/// the end of the event they belong to.
struct SkipSeen<S> {
    body: S,
    last: EventId,
    pending: Vec<u8>,
}

impl<S> SkipSeen<S> {
    /// The complete events in `pending` that the client has not seen, removed from it.
    fn take_events(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(end) = event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..end).collect();
            if !self.seen(&event) {
                out.extend_from_slice(&event);
            }
        }
        out
    }

    fn seen(&self, event: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(event) else {
            return false;
        };
        text.lines()
            .filter_map(|line| line.strip_prefix("id:"))
            .filter_map(parse_event_id)
            .any(|id| id.stream == self.last.stream && id.index <= self.last.index)
    }
}

/// Where the first event of `buf` ends, after its blank line (`\n\n`, `\r\n\r\n` or `\r\r`).
fn event_end(buf: &[u8]) -> Option<usize> {
    let mut previous_newline = false;
    let mut i = 0;
    while let Some(&b) = buf.get(i) {
        let newline_len = match b {
            b'\r' if buf.get(i + 1) == Some(&b'\n') => 2,
            b'\r' | b'\n' => 1,
            _ => 0,
        };
        if newline_len == 0 {
            previous_newline = false;
            i += 1;
            continue;
        }
        if previous_newline {
            return Some(i + newline_len);
        }
        previous_newline = true;
        i += newline_len;
    }
    None
}

impl<S, E> Stream for SkipSeen<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match Pin::new(&mut self.body).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.pending.extend_from_slice(&chunk);
                    let out = self.take_events();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(None) => {
                    // Whatever is left is not a complete event: pass it on as it came.
                    let rest = std::mem::take(&mut self.pending);
                    return Poll::Ready((!rest.is_empty()).then(|| Ok(Bytes::from(rest))));
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    async fn filtered(last: &str, chunks: &[&str]) -> String {
        let body = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, std::convert::Infallible>(Bytes::from(c.to_string())))
                .collect::<Vec<_>>(),
        );
        let stream = SkipSeen {
            body,
            last: parse_event_id(last).unwrap(),
            pending: Vec::new(),
        };
        let parts: Vec<_> = stream.collect().await;
        parts
            .into_iter()
            .map(|p| String::from_utf8(p.unwrap().to_vec()).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn events_up_to_the_last_event_id_are_not_sent_again() {
        let out = filtered(
            "1/0",
            &[
                "retry: 3000\nid: 0/0\ndata: \n\n",
                "id: 1/0\ndata: {\"old\":1}\n\nid: 2/",
                "0\ndata: {\"new\":2}\n\n",
                ":\n\n",
            ],
        )
        .await;
        assert_eq!(out, "id: 2/0\ndata: {\"new\":2}\n\n:\n\n");
    }

    #[tokio::test]
    async fn events_of_another_stream_and_without_ids_pass() {
        let out = filtered("5", &["id: 1/3\ndata: a\r\n\r\n", "data: b\n\n"]).await;
        assert_eq!(out, "id: 1/3\ndata: a\r\n\r\ndata: b\n\n");
    }
}

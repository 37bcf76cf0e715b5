//! Successful answers: the M7 JSON body and the M10 event stream, built from a [`Plan`].

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use futures_util::stream;
use serde_json::{Value, json};

use super::clock::RequestIds;
use super::config::FakeConfig;
use super::errors::ItemError;
use super::images::{self, ImageError, ImageKey};
use super::plan::{Outcome, Plan};
use super::reply::bytes_response;
use super::signing::signed_query;
use super::state::{App, StoredObject, Tracker};
use super::validate::GenRequest;

/// One slot of the answer: a finished image (its `url`/`b64_json` + `size` fields) or a failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    Image(serde_json::Map<String, Value>),
    Failed(ItemError),
}

/// Builds the items: URLs are signed (and served later), b64 items carry the real bytes.
pub(crate) async fn items(
    app: &App,
    config: &FakeConfig,
    req: &GenRequest,
    plan: &Plan,
    ids: &RequestIds,
) -> Result<Vec<Item>, ImageError> {
    let key = ImageKey {
        width: plan.width,
        height: plan.height,
        fmt: req.fmt,
        bytes: config.image_bytes,
    };
    let size = format!("{}x{}", plan.width, plan.height);
    let host = config
        .url_host
        .clone()
        .unwrap_or_else(|| app.addr.to_string());
    let mut out = Vec::with_capacity(plan.outcomes.len());
    for (i, outcome) in plan.outcomes.iter().enumerate() {
        let Outcome::Image = outcome else {
            if let Outcome::Failed(e) = outcome {
                out.push(Item::Failed(*e));
            }
            continue;
        };
        let mut fields = serde_json::Map::new();
        if req.b64 {
            let bytes = images::encoded(key).await?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
            fields.insert("b64_json".into(), Value::from(b64));
        } else {
            let path = format!(
                "/tos/{}/{}_{i}.{}",
                req.rules.family,
                ids.ark,
                req.fmt.extension()
            );
            let object = StoredObject {
                width: plan.width,
                height: plan.height,
                fmt: req.fmt,
                bytes: config.image_bytes,
            };
            app.remember_object(path.clone(), object);
            let query = signed_query(&app.secret, &path, app.clock.now_unix());
            fields.insert(
                "url".into(),
                Value::from(format!("http://{host}{path}?{query}")),
            );
        }
        fields.insert("size".into(), Value::from(size.clone()));
        out.push(Item::Image(fields));
    }
    Ok(out)
}

/// `usage`, with `tool_usage` when web search was on.
pub(crate) fn usage(req: &GenRequest, plan: &Plan, searches: u32) -> Value {
    let tokens = plan.output_tokens();
    let mut usage = json!({
        "generated_images": plan.successes(),
        "output_tokens": tokens,
        "total_tokens": tokens,
    });
    if req.web_search
        && let Some(map) = usage.as_object_mut()
    {
        map.insert("tool_usage".into(), json!({ "web_search": searches }));
    }
    usage
}

/// The M7 body.
pub(crate) fn json_body(model: &str, created: i64, items: &[Item], usage: Value) -> Value {
    let data: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Item::Image(fields) => Value::Object(fields.clone()),
            Item::Failed(e) => json!({ "error": e.body() }),
        })
        .collect();
    json!({ "model": model, "created": created, "data": data, "usage": usage })
}

/// One SSE frame: `event: <type>` + a single-line `data:`.
fn frame(kind: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {kind}\ndata: {data}\n\n"))
}

/// What the event stream should send, in order.
#[derive(Debug)]
pub(crate) struct StreamParts {
    pub model: String,
    pub items: Vec<Item>,
    pub delays: Vec<Duration>,
    pub usage: Value,
    /// Write a fatal `data: {"error":…}` after this many image events, and stop.
    pub error_after: Option<usize>,
    pub ark_id: String,
}

/// The M10 stream. With `delay_headers`, the caller has already waited for the first image.
pub(crate) fn event_stream(
    app: App,
    parts: StreamParts,
    delay_headers: bool,
    tracker: Option<Tracker>,
    ids: &RequestIds,
) -> Response {
    let StreamParts {
        model,
        items,
        delays,
        usage,
        error_after,
        ark_id,
    } = parts;
    let mut frames: VecDeque<(Duration, Frame)> = VecDeque::new();
    for (i, (item, delay)) in items.into_iter().zip(delays).enumerate() {
        if error_after == Some(i) {
            break;
        }
        let delay = if i == 0 && delay_headers {
            Duration::ZERO
        } else {
            delay
        };
        frames.push_back((delay, Frame::Item(i, item)));
    }
    let fatal = error_after.is_some_and(|j| j <= frames.len());
    if fatal {
        let message = format!("{} Request id: {ark_id}", ItemError::Internal.message());
        let data = json!({"error": {"code": "InternalServiceError", "message": message}});
        frames.push_back((
            Duration::ZERO,
            Frame::Raw(Bytes::from(format!("data: {data}\n\n"))),
        ));
    } else {
        frames.push_back((Duration::ZERO, Frame::Completed(usage)));
        frames.push_back((
            Duration::ZERO,
            Frame::Raw(Bytes::from_static(b"data: [DONE]\n\n")),
        ));
    }
    let state = (frames, tracker, app, model);
    let body = stream::unfold(state, |(mut frames, mut tracker, app, model)| async move {
        let Some((delay, next)) = frames.pop_front() else {
            if let Some(t) = tracker.take() {
                t.finish();
            }
            return None;
        };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let bytes = next.render(&model, app.clock.now_unix());
        Some((Ok::<_, Infallible>(bytes), (frames, tracker, app, model)))
    });
    let mut response = bytes_response(StatusCode::OK, "text/event-stream", Vec::new(), ids);
    *response.body_mut() = Body::from_stream(body);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[derive(Debug)]
enum Frame {
    Item(usize, Item),
    Completed(Value),
    Raw(Bytes),
}

impl Frame {
    fn render(self, model: &str, now: i64) -> Bytes {
        match self {
            Frame::Item(i, Item::Image(fields)) => {
                let mut data = json!({
                    "type": "image_generation.partial_succeeded",
                    "model": model, "created": now, "image_index": i,
                });
                if let Some(map) = data.as_object_mut() {
                    map.extend(fields);
                }
                frame("image_generation.partial_succeeded", &data)
            }
            Frame::Item(i, Item::Failed(e)) => frame(
                "image_generation.partial_failed",
                &json!({
                    "type": "image_generation.partial_failed",
                    "model": model, "created": now, "image_index": i, "error": e.body(),
                }),
            ),
            Frame::Completed(usage) => frame(
                "image_generation.completed",
                &json!({
                    "type": "image_generation.completed",
                    "model": model, "created": now, "usage": usage,
                }),
            ),
            Frame::Raw(bytes) => bytes,
        }
    }
}

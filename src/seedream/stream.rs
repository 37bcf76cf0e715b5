//! Seedream's streaming answer (`stream: true`): one SSE event per image as it completes, then
//! `completed` with usage and `[DONE]`. Frames are read as they arrive so callers can report
//! each image; a stream cut short still yields the images already announced (they are billed).

use serde::Deserialize;

use super::types::{ImageItem, ImagesResponse, ItemError, Usage};

/// What a caller hears while a generation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Image `index` (0-based, failures counted) finished; `ok` is false for a failed one.
    Image { index: usize, ok: bool },
}

/// Receives [`Event`]s; must not block.
pub type Observer<'a> = &'a (dyn Fn(Event) + Send + Sync);

/// One `data:` payload.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    image_index: Option<usize>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    b64_json: Option<String>,
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    error: Option<ItemError>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    created: Option<i64>,
}

/// Accumulates frames into the same shape a JSON answer has.
#[derive(Debug, Default)]
pub struct Assembler {
    buffer: Vec<u8>,
    response: ImagesResponse,
    /// A fatal error sent mid-stream.
    pub fatal: Option<ItemError>,
    pub done: bool,
}

impl Assembler {
    /// Feeds raw bytes; complete lines are parsed, the rest waits for more.
    pub fn push(&mut self, chunk: &[u8], observe: Observer<'_>) {
        self.buffer.extend_from_slice(chunk);
        while let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            self.line(String::from_utf8_lossy(&line).trim(), observe);
        }
    }

    fn line(&mut self, line: &str, observe: Observer<'_>) {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else {
            return;
        };
        if data == "[DONE]" {
            self.done = true;
            return;
        }
        let Ok(frame) = serde_json::from_str::<Frame>(data) else {
            tracing::debug!(chars = data.len(), "ignoring an unreadable stream frame");
            return;
        };
        if frame.model.is_some() {
            self.response.model = frame.model.clone();
        }
        if frame.created.is_some() && self.response.created.is_none() {
            self.response.created = frame.created;
        }
        let index = frame.image_index.unwrap_or(self.response.data.len());
        match frame.kind.as_str() {
            "image_generation.partial_succeeded" => {
                let item = match (frame.url, frame.b64_json) {
                    (Some(url), _) => ImageItem::Url {
                        url,
                        size: frame.size,
                    },
                    (None, Some(b64_json)) => ImageItem::B64 {
                        b64_json,
                        size: frame.size,
                    },
                    (None, None) => return,
                };
                self.place(index, item);
                observe(Event::Image { index, ok: true });
            }
            "image_generation.partial_failed" => {
                let error = frame.error.unwrap_or_default();
                self.place(index, ImageItem::Failed { error });
                observe(Event::Image { index, ok: false });
            }
            "image_generation.completed" => self.response.usage = frame.usage,
            // Unknown event types (e.g. partial_image) are ignored, as the SDK does.
            _ => {
                if let Some(error) = frame.error {
                    self.fatal = Some(error);
                }
            }
        }
    }

    fn place(&mut self, index: usize, item: ImageItem) {
        let data = &mut self.response.data;
        while data.len() < index {
            data.push(ImageItem::Unknown(serde_json::Value::Null));
        }
        match data.get_mut(index) {
            Some(slot) => *slot = item,
            None => data.push(item),
        }
    }

    pub fn has_images(&self) -> bool {
        self.response
            .data
            .iter()
            .any(|i| matches!(i, ImageItem::Url { .. } | ImageItem::B64 { .. }))
    }

    /// The images so far; a fatal error becomes a failure item after them.
    pub fn finish(mut self) -> ImagesResponse {
        self.response
            .data
            .retain(|i| !matches!(i, ImageItem::Unknown(serde_json::Value::Null)));
        if let Some(error) = self.fatal.take() {
            self.response.data.push(ImageItem::Failed { error });
        } else if !self.done {
            self.response.data.push(ImageItem::Failed {
                error: ItemError {
                    code: "StreamInterrupted".to_owned(),
                    message: "the stream ended before the generation completed; later images may be missing".to_owned(),
                },
            });
        }
        self.response
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const STREAM: &str = "event: image_generation.partial_succeeded\n\
data: {\"type\":\"image_generation.partial_succeeded\",\"model\":\"m\",\"created\":1,\"image_index\":0,\"url\":\"https://x/0.jpeg?a=1&b=%2F\",\"size\":\"2048x2048\"}\n\n\
event: image_generation.partial_failed\n\
data: {\"type\":\"image_generation.partial_failed\",\"image_index\":1,\"error\":{\"code\":\"OutputImageSensitiveContentDetected\",\"message\":\"no\"}}\n\n\
event: image_generation.partial_image\n\
data: {\"type\":\"image_generation.partial_image\",\"image_index\":2}\n\n\
event: image_generation.completed\n\
data: {\"type\":\"image_generation.completed\",\"usage\":{\"generated_images\":1,\"output_tokens\":16384,\"total_tokens\":16384}}\n\n\
data: [DONE]\n\n";

    #[test]
    fn frames_split_anywhere_assemble_into_the_json_shape() {
        let events = Mutex::new(Vec::new());
        let observe = |e: Event| events.lock().unwrap().push(e);
        let mut a = Assembler::default();
        for chunk in STREAM.as_bytes().chunks(7) {
            a.push(chunk, &observe);
        }
        assert!(a.done);
        let r = a.finish();
        assert!(
            matches!(&r.data[0], ImageItem::Url { url, .. } if url == "https://x/0.jpeg?a=1&b=%2F")
        );
        assert!(
            matches!(&r.data[1], ImageItem::Failed { error } if error.code == "OutputImageSensitiveContentDetected")
        );
        assert_eq!(r.data.len(), 2);
        assert_eq!(r.usage.unwrap().generated_images, Some(1));
        assert_eq!(
            *events.lock().unwrap(),
            [
                Event::Image { index: 0, ok: true },
                Event::Image {
                    index: 1,
                    ok: false
                }
            ]
        );
    }

    #[test]
    fn a_stream_cut_after_an_image_keeps_it_and_says_what_happened() {
        let mut a = Assembler::default();
        let cut = STREAM
            .split("event: image_generation.partial_failed")
            .next()
            .unwrap();
        a.push(cut.as_bytes(), &|_| {});
        a.push(
            b"data: {\"error\":{\"code\":\"InternalServiceError\",\"message\":\"boom\"}}\n",
            &|_| {},
        );
        let r = a.finish();
        assert!(matches!(&r.data[0], ImageItem::Url { .. }));
        assert!(
            matches!(&r.data[1], ImageItem::Failed { error } if error.code == "InternalServiceError")
        );
    }
}

//! Seedream's streaming answer (`stream: true`): one SSE event per image as it completes, then
//! `completed` with usage and `[DONE]`. Frames are read as they arrive so callers can report
//! each image; a stream cut short still yields the images already announced (they are billed).

use serde::Deserialize;

use super::types::{ImageItem, ImagesResponse, ItemError, Usage, lenient};

/// What a caller hears while a generation runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Image `index` finished.
    Image {
        /// 0-based, failures counted.
        index: usize,
        /// False for a failed image.
        ok: bool,
    },
}

/// Receives [`Event`]s; must not block.
pub type Observer<'a> = &'a (dyn Fn(Event) + Send + Sync);

/// One `data:` payload. Every field is read leniently (see `types::lenient`): a frame that
/// announces a paid image must not be dropped because a neighbouring field has an odd type.
#[derive(Debug, Deserialize)]
struct Frame {
    #[serde(
        default,
        rename = "type",
        deserialize_with = "lenient::string_or_empty"
    )]
    kind: String,
    /// Wide, so that a huge or negative index is seen as out of range rather than as absent.
    #[serde(default, deserialize_with = "lenient::int")]
    image_index: Option<i128>,
    #[serde(default, deserialize_with = "lenient::string")]
    url: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    b64_json: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    size: Option<String>,
    #[serde(default, deserialize_with = "lenient::item_error")]
    error: Option<ItemError>,
    #[serde(default, deserialize_with = "lenient::usage")]
    usage: Option<Usage>,
    #[serde(default, deserialize_with = "lenient::string")]
    model: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    created: Option<i64>,
}

/// What a stream may carry, from what was asked: a hostile or broken upstream cannot make the
/// client allocate or scan more than this.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Positions the request allows; frames for others are dropped (and counted).
    pub images: usize,
    /// Longest line (one frame); a `b64_json` frame holds one whole image.
    pub line_bytes: usize,
    /// All bytes of the stream.
    pub total_bytes: u64,
}

/// The stream broke a limit; reading stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overrun {
    Line { limit: usize },
    Total { limit: u64 },
}

/// Accumulates frames into the same shape a JSON answer has.
#[derive(Debug)]
pub struct Assembler {
    limits: StreamLimits,
    buffer: Vec<u8>,
    /// How much of `buffer` is known to hold no newline, so each byte is scanned once even
    /// when a line arrives in thousands of chunks.
    scanned: usize,
    received: u64,
    response: ImagesResponse,
    /// Frames for positions beyond what the request allows.
    pub dropped: usize,
    /// A fatal error sent mid-stream.
    pub fatal: Option<ItemError>,
    pub done: bool,
}

impl Assembler {
    pub fn new(limits: StreamLimits) -> Assembler {
        Assembler {
            limits,
            buffer: Vec::new(),
            scanned: 0,
            received: 0,
            response: ImagesResponse::default(),
            dropped: 0,
            fatal: None,
            done: false,
        }
    }

    /// Feeds raw bytes; complete lines are parsed, the rest waits for more.
    pub fn push(&mut self, chunk: &[u8], observe: Observer<'_>) -> Result<(), Overrun> {
        self.received = self.received.saturating_add(chunk.len() as u64);
        if self.received > self.limits.total_bytes {
            return Err(Overrun::Total {
                limit: self.limits.total_bytes,
            });
        }
        self.buffer.extend_from_slice(chunk);
        let mut start = 0;
        let mut from = self.scanned;
        while let Some(offset) = self
            .buffer
            .get(from..)
            .and_then(|rest| rest.iter().position(|b| *b == b'\n'))
        {
            let end = from + offset;
            let line = self.buffer.get(start..end).unwrap_or_default();
            let line = String::from_utf8_lossy(line).trim().to_owned();
            self.line(&line, observe);
            start = end + 1;
            from = start;
        }
        // One shift per chunk, not per line.
        self.buffer.drain(..start.min(self.buffer.len()));
        self.scanned = self.buffer.len();
        if self.buffer.len() > self.limits.line_bytes {
            return Err(Overrun::Line {
                limit: self.limits.line_bytes,
            });
        }
        Ok(())
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
        let index = match frame.image_index {
            Some(i) => usize::try_from(i).unwrap_or(usize::MAX),
            None => self.response.data.len(),
        };
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
                if self.place(index, item) {
                    observe(Event::Image { index, ok: true });
                }
            }
            "image_generation.partial_failed" => {
                let error = frame.error.unwrap_or_default();
                if self.place(index, ImageItem::Failed { error }) {
                    observe(Event::Image { index, ok: false });
                }
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

    /// Puts `item` at `index`, filling gaps; an index the request cannot have produced is
    /// dropped, so placeholders never outgrow the request (an `image_index` of 40,000,000
    /// once allocated 2.2 GB).
    fn place(&mut self, index: usize, item: ImageItem) -> bool {
        if index >= self.limits.images {
            self.dropped += 1;
            return false;
        }
        let data = &mut self.response.data;
        while data.len() < index {
            data.push(ImageItem::Unknown(serde_json::Value::Null));
        }
        match data.get_mut(index) {
            Some(slot) => *slot = item,
            None => data.push(item),
        }
        true
    }

    pub fn has_images(&self) -> bool {
        self.response
            .data
            .iter()
            .any(|i| matches!(i, ImageItem::Url { .. } | ImageItem::B64 { .. }))
    }

    /// The images so far; a fatal error becomes a failure item after them, unless every
    /// position the request allows is already filled (then nothing more was to come).
    pub fn finish(mut self) -> ImagesResponse {
        self.response
            .data
            .retain(|i| !matches!(i, ImageItem::Unknown(serde_json::Value::Null)));
        if self.response.data.len() >= self.limits.images {
            return self.response;
        }
        if let Some(error) = self.fatal.take() {
            self.response.data.push(ImageItem::Failed { error });
        } else if !self.done {
            self.response.data.push(ImageItem::Failed {
                error: ItemError::new(
                    "StreamInterrupted",
                    "the stream ended before the generation completed; later images may be missing",
                ),
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

    const LIMITS: StreamLimits = StreamLimits {
        images: 4,
        line_bytes: 4096,
        total_bytes: 1 << 20,
    };

    #[test]
    fn frames_split_anywhere_assemble_into_the_json_shape() {
        let events = Mutex::new(Vec::new());
        let observe = |e: Event| events.lock().unwrap().push(e);
        let mut a = Assembler::new(LIMITS);
        for chunk in STREAM.as_bytes().chunks(7) {
            a.push(chunk, &observe).unwrap();
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
        let mut a = Assembler::new(LIMITS);
        let cut = STREAM
            .split("event: image_generation.partial_failed")
            .next()
            .unwrap();
        a.push(cut.as_bytes(), &|_| {}).unwrap();
        a.push(
            b"data: {\"error\":{\"code\":\"InternalServiceError\",\"message\":\"boom\"}}\n",
            &|_| {},
        )
        .unwrap();
        let r = a.finish();
        assert!(matches!(&r.data[0], ImageItem::Url { .. }));
        assert!(
            matches!(&r.data[1], ImageItem::Failed { error } if error.code == "InternalServiceError")
        );
    }

    #[test]
    fn an_image_index_beyond_the_request_is_dropped_without_placeholders() {
        let mut a = Assembler::new(LIMITS);
        for index in ["40000000", "1000000000000000000000", "\"7\"", "-1"] {
            let frame = format!(
                "data: {{\"type\":\"image_generation.partial_succeeded\",\"image_index\":{index},\"url\":\"https://x/i\"}}\n\n"
            );
            a.push(frame.as_bytes(), &|_| {
                panic!("no event for a dropped frame")
            })
            .unwrap();
        }
        assert_eq!(a.dropped, 4);
        assert!(a.response.data.is_empty());
    }

    #[test]
    fn a_frame_with_oddly_typed_neighbours_still_yields_its_url() {
        let mut a = Assembler::new(LIMITS);
        a.push(
            b"data: {\"type\":\"image_generation.partial_succeeded\",\"image_index\":\"0\",\"created\":\"1700000000\",\"size\":2048,\"model\":1,\"url\":\"https://x/0\"}\n\ndata: [DONE]\n",
            &|_| {},
        )
        .unwrap();
        let r = a.finish();
        assert!(matches!(&r.data[..], [ImageItem::Url { url, .. }] if url == "https://x/0"));
        assert_eq!(r.created, Some(1_700_000_000));
    }

    #[test]
    fn a_line_longer_than_its_limit_stops_the_stream() {
        let mut a = Assembler::new(LIMITS);
        let mut result = Ok(());
        for _ in 0..100 {
            result = a.push(&[b'x'; 100], &|_| {});
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(Overrun::Line { limit: 4096 }));
        assert!(a.buffer.len() <= 4096 + 100);
    }

    #[test]
    fn a_stream_longer_than_its_total_limit_stops() {
        let mut a = Assembler::new(StreamLimits {
            total_bytes: 1000,
            ..LIMITS
        });
        let line = b"data: {\"type\":\"ping\"}\n";
        let mut pushed = 0;
        let outcome = loop {
            if let Err(e) = a.push(line, &|_| {}) {
                break e;
            }
            pushed += line.len();
            assert!(pushed <= 1000);
        };
        assert_eq!(outcome, Overrun::Total { limit: 1000 });
    }

    #[test]
    fn a_long_line_in_many_chunks_is_scanned_in_linear_time() {
        // 1 MiB in 4-byte chunks: rescanning the buffer on every chunk would be ~1.4e11 steps
        // (minutes); scanning each byte once is a quarter of a million.
        let mut a = Assembler::new(StreamLimits {
            line_bytes: 8 << 20,
            total_bytes: 16 << 20,
            ..LIMITS
        });
        let started = std::time::Instant::now();
        for _ in 0..(1 << 18) {
            a.push(b"xxxx", &|_| {}).unwrap();
        }
        a.push(b"\n", &|_| {}).unwrap();
        assert!(a.buffer.is_empty());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

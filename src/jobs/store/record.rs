//! A job as any store keeps it, and the clock its times are read from.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A job's lifecycle as the store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Finished,
    /// It was running when its server stopped.
    Interrupted,
    /// Its owner stopped it (`tasks/cancel`).
    Cancelled,
}

/// One kept image's place in a record; its bytes are in the images table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageMeta {
    pub index: usize,
    pub mime: String,
    pub len: u64,
}

/// A job as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The tenant's opaque hash, never a key or token.
    pub owner: String,
    pub tool: String,
    pub created: u64,
    pub finished: Option<u64>,
    pub status: Status,
    pub sent_upstream: bool,
    /// The last progress text.
    pub phase: String,
    /// The `CallToolResult`, once finished.
    pub result: Option<serde_json::Value>,
    pub images: Vec<ImageMeta>,
    /// The process running it, while it runs (a shared store's liveness key names it); `None`
    /// in records written before stores were shared.
    #[serde(default)]
    pub runner: Option<String>,
}

/// Unix seconds that move with tokio's clock (paused in tests).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    unix_at_base: u64,
    base: tokio::time::Instant,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}

impl Clock {
    pub fn new() -> Clock {
        let unix_at_base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Clock {
            unix_at_base,
            base: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> u64 {
        self.unix_at_base + self.base.elapsed().as_secs()
    }
}

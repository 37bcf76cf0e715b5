//! The generation service: one typed path from a request to delivered images, below MCP (no
//! `rmcp` types here). The MCP tools, the one-shot `generate` command and any later job or
//! task machinery all call [`Generator::generate`]; they only parse their input into a
//! [`Request`] and present the [`Outcome`] (or [`ToolError`]) their own way.
//!
//! # The stages of a request
//! 1. **Tool arguments** (JSON, or the command's flags) are parsed by the caller into a
//!    [`Request`]: typed, with each reference image told apart once as an [`ImageRef`].
//! 2. The request is checked against the model's rules with placeholder references
//!    (`seedream::GenerationSpec` → `seedream::prepare`), so a call refused anyway costs no
//!    decoding; where the images go (`output_dir`, `filename`) is checked too.
//! 3. Its references are read and fitted to the upstream limits ([`references`]), giving
//!    the wire references; the full request is checked again into a `seedream::Prepared`,
//!    whose `ImageRequest` is what goes upstream.
//! 4. Once an upstream slot is free it is sent; the upstream answers with a
//!    `seedream::Generation`.
//! 5. Its images are fetched, saved and chosen for embedding ([`crate::delivery`]): the
//!    [`Outcome`], which the tools render as a result and the command prints.
//!
//! Any stage may end the call with a [`ToolError`], whose text tells the caller what to change.

mod error;
mod image_ref;
pub mod references;
mod request;
mod service;

pub use error::ToolError;
pub use image_ref::ImageRef;
pub use request::{Options, Request};
pub use service::{Access, Generator};

use crate::delivery::Delivery;

/// What a call has done so far, for whoever watches it (progress notifications, `get_job`).
pub trait Progress: Send + Sync {
    /// What is happening now, for people: "generating up to 4 images with …".
    fn phase(&self, phase: String);
    /// The request is leaving for the upstream: from here on it may be billed.
    fn sent_upstream(&self);
}

/// Progress nobody watches.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwatched;

impl Progress for Unwatched {
    fn phase(&self, _phase: String) {}
    fn sent_upstream(&self) {}
}

/// A generation that reached the upstream and came back with images, delivered.
#[derive(Debug)]
pub struct Outcome {
    /// What was sent.
    pub request: seedream::ImageRequest,
    pub generation: seedream::Generation,
    /// What was changed on the way (references fitted, fields dropped), for the caller.
    pub notes: Vec<String>,
    pub delivery: Delivery,
    /// Images billed and the estimated cost.
    pub cost: crate::spend::Cost,
}

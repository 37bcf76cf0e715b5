//! A faithful local stand-in of the Seedream image API (CometAPI in front of Ark, or plain Ark).
//!
//! Placeholder: the real implementation lands on the `fake-api` branch.

/// Settings of the stand-in.
#[derive(Debug, Clone, Default)]
pub struct FakeConfig {}

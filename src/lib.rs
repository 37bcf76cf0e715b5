//! seedream-mcp: an MCP tool server for ByteDance Seedream image generation.

pub mod fake_api;
pub mod seedream;

//! The generation service against the fake API.

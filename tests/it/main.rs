//! One integration-test binary (one link step) made of modules.

mod fake_api;

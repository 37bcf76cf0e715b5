//! Logging to a writer chosen by the caller; the binary always passes stderr, because stdout
//! carries the protocol in stdio mode.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the global subscriber, filtered by `RUST_LOG`, else by `default_level` for our
/// own logs and [`DEFAULT_FILTER_RMCP`] for rmcp's. A second call is a no-op.
pub fn init<W>(writer: W, default_level: &str)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(default_level)));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .try_init();
}

/// rmcp logs the client's whole `InitializeRequestParams` and every notification at INFO:
/// noise at best, and whatever a client puts in them at worst. `RUST_LOG=rmcp=info` brings them back.
const DEFAULT_FILTER_RMCP: &str = "rmcp=warn";

fn default_filter(level: &str) -> String {
    format!("{level},{DEFAULT_FILTER_RMCP}")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rmcp_info_lines_are_left_out_by_default_but_ours_and_its_warnings_kept() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(default_filter("info")))
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "rmcp::service", peer_info = "clientInfo", "Service initialized as server");
            tracing::warn!(target: "rmcp::service", "rmcp warning");
            tracing::info!(target: "seedream_mcp::tools", "our info");
        });
        let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(!logs.contains("Service initialized"), "{logs}");
        assert!(
            logs.contains("rmcp warning") && logs.contains("our info"),
            "{logs}"
        );
    }
}

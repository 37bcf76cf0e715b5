//! A faithful local stand-in of the Seedream image API (CometAPI in front of Ark, or plain Ark).
//!
//! Placeholder: the real implementation lands on the `fake-api` branch.

/// Settings of the stand-in.
#[derive(Debug, Clone, Default)]
pub struct FakeConfig {}

/// Placeholder until the stand-in lands.
pub async fn serve(
    _listener: tokio::net::TcpListener,
    _config: FakeConfig,
    _shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Ok(())
}

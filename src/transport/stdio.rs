//! MCP over stdin/stdout.

use rmcp::ServiceExt;

use crate::tools::ImageServer;

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn serve_stdio(server: ImageServer) -> anyhow::Result<()> {
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        // stdin ended before a client said hello (a person trying the command, a probe): there
        // was no session to fail, so it is a normal end, not an error.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before a client connected; exiting");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    running.waiting().await?;
    Ok(())
}

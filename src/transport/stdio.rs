//! MCP over stdin/stdout.

use rmcp::ServiceExt;

use crate::tools::ImageServer;

/// Serves MCP over stdin/stdout until the client closes stdin.
pub async fn serve_stdio(server: ImageServer) -> anyhow::Result<()> {
    let running = server.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

//! Routing behind a load balancer. With an instance name set, job ids and legacy SSE session
//! ids name the instance, and `get_job`'s `job_id` is marked `x-mcp-header` (SEP-2243):
//! 2026-07-28 clients then copy it into an `Mcp-Param-Job-Id` header a load balancer can
//! route on. Left out otherwise, as some schema consumers refuse keywords they do not know.

use crate::tools::ImageServer;

/// The server as the transport advertises it: with the routing header when it is one of
/// several instances.
pub fn advertise(server: ImageServer) -> ImageServer {
    if server.instance().is_none() {
        return server;
    }
    server.with_header_param("get_job", "job_id", "Job-Id")
}

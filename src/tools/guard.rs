//! A panic in a tool must still answer its request: rmcp does not catch panics, so a panicking
//! handler would leave the client waiting forever (and an HTTP connection held open), and a
//! panicking job would drop its reporter and look cancelled to its waiter.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use rmcp::model::CallToolResult;

use crate::generation::ToolError;

/// Runs `work`, turning a panic into an `isError` result that names `tool`. `T` is a tool
/// result, or a tool call's answer that may also be a task.
pub async fn guarded<F, T>(tool: &str, work: F) -> T
where
    F: Future<Output = T>,
    T: From<CallToolResult>,
{
    // Unwind safety: what a tool shares (job table, cancel reasons) sits behind locks that
    // tolerate poisoning, and the panicked call's own state is dropped with it.
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => internal_error(tool, payload.as_ref()).into(),
    }
}

/// The result a caller gets for a panicked tool.
pub fn internal_error(tool: &str, payload: &(dyn Any + Send)) -> CallToolResult {
    let message = panic_message(payload);
    tracing::error!(tool, panic = %message, "a tool call panicked");
    ToolError::Internal {
        tool: tool.to_owned(),
        message,
    }
    .into()
}

/// The panic's message, when it has one, kept short.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".to_owned());
    match text.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or("")),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ContentBlock;

    fn text(r: &CallToolResult) -> String {
        r.content
            .iter()
            .find_map(|c| c.as_text().map(|t| t.text.clone()))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn a_panicking_tool_answers_with_an_internal_error() {
        let r = guarded("get_job", async {
            if std::hint::black_box(true) {
                panic!("boom at {}", 42);
            }
            CallToolResult::success(vec![])
        })
        .await;
        assert_eq!(r.is_error, Some(true));
        let t = text(&r);
        assert!(
            t.starts_with("Internal error in get_job: boom at 42.") && t.contains("bug"),
            "{t}"
        );
    }

    #[tokio::test]
    async fn a_tool_that_does_not_panic_is_untouched() {
        let r = guarded("t", async {
            CallToolResult::success(vec![ContentBlock::text("ok")])
        })
        .await;
        assert_eq!(r.is_error, Some(false));
        assert_eq!(text(&r), "ok");
    }

    #[test]
    fn a_long_panic_message_is_shortened() {
        let long = "x".repeat(5000);
        let r = internal_error("t", &long);
        assert!(text(&r).chars().count() < 600);
    }
}

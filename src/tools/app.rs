//! The MCP Apps face (SEP-1865, `io.modelcontextprotocol/ui`): the gallery page hosts render
//! inline in the conversation, the link from the image tools to it, and `get_image`, the
//! app-only tool that hands the page full-resolution pixels without passing them through the
//! model's context.
//!
//! A client that did not declare the extension sees exactly the tools it saw before: no
//! `_meta.ui` links and no `get_image`, so its `tools/list` (and its model's context) does not
//! grow. The page itself is built from `ui/gallery/` and checked in, so `cargo build` needs no
//! node.

use rmcp::model::{ClientCapabilities, MetaObject, ReadResourceResult, ResourceContents, Tool};
use serde_json::json;

/// The extension's id in capabilities.
const EXTENSION: &str = "io.modelcontextprotocol/ui";
/// The gallery resource the image tools link to.
pub const GALLERY_URI: &str = "ui://seedream/gallery";
/// MCP Apps' HTML profile (`RESOURCE_MIME_TYPE` in `@modelcontextprotocol/ext-apps`).
const MIME: &str = "text/html;profile=mcp-app";
/// The built page: one self-contained document, no external scripts, styles or fonts.
const GALLERY_HTML: &str = include_str!("../../assets/gallery.html");
/// The tools whose results the gallery shows.
const LINKED: [&str; 4] = [
    "generate_image",
    "edit_image",
    "generate_sequence",
    "get_job",
];
/// Tools only the page calls (`_meta.ui.visibility: ["app"]`).
pub const APP_ONLY: [&str; 1] = ["get_image"];

/// Whether the client renders MCP Apps (it declared the extension, with the HTML profile or
/// without naming any).
pub fn supported(caps: Option<&ClientCapabilities>) -> bool {
    caps.and_then(|c| c.extensions.as_ref())
        .and_then(|e| e.get(EXTENSION))
        .is_some_and(|ui| match ui.get("mimeTypes").and_then(|m| m.as_array()) {
            Some(types) => types.iter().any(|t| t.as_str() == Some(MIME)),
            None => true,
        })
}

/// The tools as `client` should see them: linked to the gallery and with the app-only tools
/// for a client that renders apps; without either for one that does not.
pub fn tools_for(tools: Vec<Tool>, apps: bool) -> Vec<Tool> {
    tools
        .into_iter()
        .filter(|t| apps || !APP_ONLY.contains(&t.name.as_ref()))
        .map(|mut tool| {
            if !apps {
                return tool;
            }
            let ui = if APP_ONLY.contains(&tool.name.as_ref()) {
                json!({ "visibility": ["app"] })
            } else if LINKED.contains(&tool.name.as_ref()) {
                json!({ "resourceUri": GALLERY_URI })
            } else {
                return tool;
            };
            let mut meta = tool.meta.take().unwrap_or_default();
            meta.0.insert("ui".into(), ui);
            tool.meta = Some(meta);
            tool
        })
        .collect()
}

/// `resources/read` of the gallery. Its CSP allows nothing beyond the page itself: images
/// arrive through `get_image` as data, so no upstream host needs to be named (their URLs are
/// signed, expire in a day and come from hosts that vary by region and provider).
pub fn read_gallery() -> ReadResourceResult {
    let mut meta = MetaObject::new();
    meta.0.insert(
        "ui".into(),
        json!({ "csp": { "connectDomains": [], "resourceDomains": [] }, "prefersBorder": false }),
    );
    ReadResourceResult::new(vec![
        ResourceContents::text(GALLERY_HTML, GALLERY_URI)
            .with_mime_type(MIME)
            .with_meta(meta),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(extensions: serde_json::Value) -> ClientCapabilities {
        serde_json::from_value(json!({ "extensions": extensions })).unwrap()
    }

    #[test]
    fn only_a_client_that_declared_the_html_profile_renders_apps() {
        assert!(supported(Some(&caps(
            json!({ EXTENSION: { "mimeTypes": [MIME] } })
        ))));
        assert!(supported(Some(&caps(json!({ EXTENSION: {} })))));
        assert!(!supported(Some(&caps(
            json!({ EXTENSION: { "mimeTypes": ["text/x-other"] } })
        ))));
        assert!(!supported(Some(&caps(json!({})))));
        assert!(!supported(None));
    }

    #[test]
    fn the_gallery_is_self_contained_and_small() {
        assert!(GALLERY_HTML.len() <= 150 * 1024, "{}", GALLERY_HTML.len());
        for external in ["<script src", "<link ", "@import", "https://", "http://"] {
            assert!(
                !GALLERY_HTML.contains(external),
                "the page loads {external}"
            );
        }
    }
}

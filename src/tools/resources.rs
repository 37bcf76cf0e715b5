//! Saved images as MCP resources (`file://` URIs), for clients that cannot open local files.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ReadResourceResult, ResourceContents, ResourceTemplate,
};

use crate::files::{AllowedRoots, local_ref};

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("file://{+path}", "saved-image")
            .with_title("Saved image")
            .with_description("An image this server saved (the file:// links in tool results); other images inside the allowed folders can be read too."),
    ])
}

/// Reads an image inside the allowed folders; anything else is `resource_not_found`.
pub async fn read(uri: &str, roots: &AllowedRoots) -> Result<ReadResourceResult, ErrorData> {
    let not_found =
        |why: String| ErrorData::resource_not_found(format!("cannot read {uri}: {why}"), None);
    if !uri
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
    {
        return Err(not_found(
            "only file:// URIs of saved images are served".to_owned(),
        ));
    }
    let path = local_ref::to_path(uri, None).map_err(|e| not_found(e.to_string()))?;
    let roots = roots.clone();
    let (bytes, format) = tokio::task::spawn_blocking(move || local_ref::read(&path, &roots))
        .await
        .map_err(|e| not_found(e.to_string()))?
        .map_err(|e| not_found(e.to_string()))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::blob(STANDARD.encode(&bytes), uri).with_mime_type(format.mime()),
    ]))
}

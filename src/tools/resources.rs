//! Images as MCP resources, for clients that cannot open local files: saved images
//! (`file://` URIs), the full images a job keeps when nothing else holds them
//! (`seedream://jobs/{job_id}/images/{n}`) and the jobs in the history
//! (`seedream://jobs/{job_id}`, see `history`); and what the caller spent
//! (`seedream://usage`). A caller reads only its own: a `file://` URI is served only for a file
//! this server saved (or found in its output folder after a restart) for that caller, never any
//! other file on the disk, and the usage is the caller's own spending.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rmcp::ErrorData;
use rmcp::model::{
    ListResourceTemplatesResult, ListResourcesResult, ReadResourceResult, Resource,
    ResourceContents, ResourceTemplate,
};

use super::history::{self, History};
use super::saved::{Access, SavedFiles};
use crate::caller::Tenant;
use crate::files::{AllowedRoots, local_ref};
use crate::jobs::Jobs;
use crate::spend::Spend;

const JOB_IMAGES: &str = "seedream://jobs/";
/// What the caller spent today and this month, with the caps.
pub const USAGE_URI: &str = "seedream://usage";

/// One page of `resources/list`: the usage first, then `owner`'s history.
pub fn list(
    history: &History,
    owner: &Tenant,
    cursor: Option<&str>,
) -> Result<ListResourcesResult, ErrorData> {
    let mut page = history::list(history, owner, cursor)?;
    if cursor.is_none() {
        let usage = Resource::new(USAGE_URI, "usage")
            .with_title("Spending today and this month")
            .with_description(
                "What you spent today and this month (images, estimated cost), the caps, what is left and when each resets.",
            )
            .with_mime_type("application/json");
        page.resources.insert(0, usage);
    }
    Ok(page)
}

pub fn templates() -> ListResourceTemplatesResult {
    ListResourceTemplatesResult::with_all_items(vec![
        ResourceTemplate::new("file://{+path}", "saved-image")
            .with_title("Saved image")
            .with_description("An image this server saved (the file:// links in tool results and resources/list)."),
        ResourceTemplate::new("seedream://jobs/{job_id}", "job")
            .with_title("Job")
            .with_description("What a call made: prompt, model, and its images' URIs (listed in resources/list).")
            .with_mime_type("application/json"),
        ResourceTemplate::new("seedream://jobs/{job_id}/images/{index}", "kept-image")
            .with_title("Kept image")
            .with_description("A full image the server keeps with its job when it was neither saved nor has a URL (the links in tool results)."),
    ])
}

/// What a read may draw on, for one caller.
pub struct Readers<'a> {
    pub roots: &'a AllowedRoots,
    pub saved: &'a SavedFiles,
    pub jobs: &'a Jobs,
    pub history: &'a History,
    pub spend: &'a Spend,
    pub tenant: &'a Tenant,
}

/// Reads an image the caller may see; anything else is `resource_not_found`.
pub async fn read(uri: &str, readers: Readers<'_>) -> Result<ReadResourceResult, ErrorData> {
    if uri == USAGE_URI {
        let usage = readers.spend.usage(readers.tenant.as_str()).await;
        return Ok(ReadResourceResult::new(vec![
            ResourceContents::text(usage.json().to_string(), uri)
                .with_mime_type("application/json"),
        ]));
    }
    if let Some(rest) = uri.strip_prefix(JOB_IMAGES) {
        if !rest.contains('/') {
            return history::read_job(readers.history, uri, rest, readers.tenant);
        }
        return read_kept(uri, rest, &readers);
    }
    let not_found =
        |why: String| ErrorData::resource_not_found(format!("cannot read {uri}: {why}"), None);
    if !uri
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("file://"))
    {
        return Err(not_found(
            "only file:// URIs of saved images, seedream://jobs/… URIs of kept images and seedream://usage are served"
                .to_owned(),
        ));
    }
    let path = local_ref::to_path(uri, None).map_err(|e| not_found(e.to_string()))?;
    // Another tenant's file, or one this server never saved, is as absent as a file that
    // never was.
    if readers.saved.access(&path, readers.tenant) != Access::Own {
        return Err(not_found("no such file".to_owned()));
    }
    let roots = readers.saved.roots_for(readers.roots, readers.tenant);
    let (bytes, format) = tokio::task::spawn_blocking(move || local_ref::read(&path, &roots))
        .await
        .map_err(|e| not_found(e.to_string()))?
        .map_err(|e| not_found(e.to_string()))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::blob(STANDARD.encode(&bytes), uri).with_mime_type(format.mime()),
    ]))
}

fn read_kept(
    uri: &str,
    rest: &str,
    readers: &Readers<'_>,
) -> Result<ReadResourceResult, ErrorData> {
    let image = rest
        .split_once("/images/")
        .and_then(|(job, index)| Some((job, index.parse::<usize>().ok()?)))
        .and_then(|(job, index)| readers.jobs.kept_image(job, index, readers.tenant));
    let Some(image) = image else {
        return Err(ErrorData::resource_not_found(
            format!(
                "cannot read {uri}: no such kept image (kept images expire with their job; check the URI in the tool result)"
            ),
            None,
        ));
    };
    Ok(ReadResourceResult::new(vec![
        ResourceContents::blob(STANDARD.encode(image.bytes.as_slice()), uri)
            .with_mime_type(image.mime),
    ]))
}

//! History as MCP resources: one page of `resources/list`, and the job summaries read with
//! `resources/read` of `seedream://jobs/{job_id}`.

use rmcp::ErrorData;
use rmcp::model::{
    Annotations, CacheScope, ListResourcesResult, ReadResourceResult, Resource, ResourceContents,
};
use serde_json::json;

use super::{Entry, History};
use crate::caller::Tenant;

/// Jobs per page (each with its images: at most 15 each).
const PAGE: usize = 20;

/// What a cursor starts with; the rest is the sequence number of the last job listed.
const CURSOR: &str = "history:";

/// Titles carry the prompt up to this many characters.
const TITLE_CHARS: usize = 80;

/// The URI of a job's summary.
pub fn job_uri(job: &str) -> String {
    format!("seedream://jobs/{job}")
}

/// One page of `owner`'s history, newest first: each job, then its images.
pub fn list(
    history: &History,
    owner: &Tenant,
    cursor: Option<&str>,
) -> Result<ListResourcesResult, ErrorData> {
    let before = match cursor {
        None => None,
        Some(c) => Some(
            c.strip_prefix(CURSOR)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| {
                    ErrorData::invalid_params(
                        "invalid cursor: pass the nextCursor of an earlier resources/list",
                        None,
                    )
                })?,
        ),
    };
    let (page, more) = history.page(owner, before, PAGE);
    let resources = page.iter().flat_map(|(_, e)| resources_of(e)).collect();
    let mut result = ListResourcesResult::with_all_items(resources);
    result.next_cursor = page
        .last()
        .filter(|_| more)
        .map(|(seq, _)| format!("{CURSOR}{seq}"));
    // Each caller has its own history.
    result.cache_scope = Some(CacheScope::Private);
    Ok(result)
}

fn resources_of(e: &Entry) -> Vec<Resource> {
    let title = short(&e.prompt);
    let modified = annotations(e.created);
    let job = e.job.as_ref().map(|id| {
        let what = e.tool.map_or_else(String::new, |t| format!("{t}, "));
        Resource::new(job_uri(id), format!("job {id}"))
            .with_title(title.clone())
            .with_description(format!(
                "{what}{} image(s) with {}: {}",
                e.images.len(),
                e.model,
                e.prompt
            ))
            .with_mime_type("application/json")
            .with_annotations(modified.clone())
    });
    let images = e.images.iter().filter(|i| e.live(i)).map(|i| {
        let name = i.path.as_ref().and_then(|p| p.file_name()).map_or_else(
            || format!("{}-{}", e.job.as_deref().unwrap_or("image"), i.index),
            |n| n.to_string_lossy().into_owned(),
        );
        let size = i
            .size
            .as_deref()
            .map_or_else(String::new, |s| format!("{s}, "));
        let mut r = Resource::new(i.uri.clone(), name)
            .with_title(format!("Image {}: {title}", i.index))
            .with_description(format!("{size}{}", e.model))
            .with_mime_type(i.mime)
            .with_annotations(modified.clone());
        if let Some(bytes) = i.bytes {
            r = r.with_size(bytes);
        }
        r
    });
    job.into_iter().chain(images).collect()
}

/// Reads `owner`'s job summary: what was asked, and where its images are.
pub fn read_job(
    history: &History,
    uri: &str,
    job: &str,
    owner: &Tenant,
) -> Result<ReadResourceResult, ErrorData> {
    let Some(e) = history.job(job, owner) else {
        return Err(ErrorData::resource_not_found(
            format!("cannot read {uri}: no such job in this server's history"),
            None,
        ));
    };
    let images: Vec<_> = e
        .images
        .iter()
        .filter(|i| e.live(i))
        .map(|i| {
            json!({
                "index": i.index,
                "uri": i.uri,
                "mime_type": i.mime,
                "size": i.size,
                "bytes": i.bytes,
                "path": i.path,
            })
        })
        .collect();
    let summary = json!({
        "job_id": job,
        "tool": e.tool,
        "created": rfc3339(e.created),
        "prompt": e.prompt,
        "model": e.model,
        "request_id": e.request_id,
        "images": images,
    });
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(summary.to_string(), uri).with_mime_type("application/json"),
    ]))
}

fn short(prompt: &str) -> String {
    let line = prompt.lines().next().unwrap_or_default();
    match line.char_indices().nth(TITLE_CHARS) {
        Some((cut, _)) => format!("{}…", line.get(..cut).unwrap_or_default()),
        None => line.to_owned(),
    }
}

fn rfc3339(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

fn annotations(created: i64) -> Annotations {
    let mut a = Annotations::default();
    a.last_modified = rfc3339(created);
    a
}

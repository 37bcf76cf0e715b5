//! History after a restart: the newest images in the output folder that carry this server's
//! provenance metadata, grouped back into the jobs that made them. Bounded: a folder of many
//! thousands of files costs a directory listing and the heads of a few hundred files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Entry, Image};
use crate::caller::Tenant;
use crate::files::provenance::{self, Provenance};
use crate::tools::render;
use seedream::ImageFormat;

/// Directory entries looked at, at most.
const MAX_LISTED: usize = 50_000;
/// Files whose metadata is read, newest first.
pub const MAX_READ: usize = 500;

/// The entries rebuilt from `dir`'s top level, oldest first.
pub fn scan(dir: &Path) -> Vec<Entry> {
    let Ok(root) = dir.canonicalize() else {
        return Vec::new();
    };
    let Ok(listing) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let mut files: Vec<(SystemTime, PathBuf, u64)> = listing
        .take(MAX_LISTED)
        .filter_map(Result::ok)
        // Regular files only: a symlink could point anywhere.
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| is_image_name(&e.file_name().to_string_lossy()))
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            Some((meta.modified().ok()?, e.path(), meta.len()))
        })
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    files.truncate(MAX_READ);
    let found: Vec<(PathBuf, u64, Provenance)> = files
        .into_iter()
        .filter_map(|(_, path, len)| {
            let made = provenance::read_file(&path).ok()??;
            Some((path, len, made))
        })
        .collect();
    group(found)
}

fn is_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !lower.starts_with('.') && [".png", ".jpeg", ".jpg"].iter().any(|e| lower.ends_with(e))
}

/// One entry per job (files without a job stand alone), oldest first, images in order.
fn group(found: Vec<(PathBuf, u64, Provenance)>) -> Vec<Entry> {
    let mut by_job: HashMap<String, usize> = HashMap::new();
    let mut entries: Vec<Entry> = Vec::new();
    for (path, len, made) in found {
        let mime = mime_of(&path);
        let image = Image {
            index: made.index.unwrap_or(1),
            uri: render::file_uri(&path),
            mime,
            size: made.size.clone(),
            bytes: Some(len),
            path: Some(path),
        };
        if let Some(&at) = made.job.as_ref().and_then(|j| by_job.get(j)) {
            if let Some(e) = entries.get_mut(at) {
                e.images.push(image);
                e.created = e.created.min(made.created_unix());
            }
            continue;
        }
        if let Some(job) = &made.job {
            by_job.insert(job.clone(), entries.len());
        }
        entries.push(Entry {
            job: made.job.clone(),
            owner: Tenant::local(),
            tool: None,
            created: made.created_unix(),
            prompt: made.prompt,
            model: made.model,
            request_id: made.request_id,
            images: vec![image],
            kept_until: None,
        });
    }
    for e in &mut entries {
        e.images.sort_by_key(|i| i.index);
    }
    entries.sort_by_key(|e| e.created);
    entries
}

fn mime_of(path: &Path) -> &'static str {
    let png = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if png {
        ImageFormat::Png.mime()
    } else {
        ImageFormat::Jpeg.mime()
    }
}

//! Reference images as callers give them — URLs, local paths, `file://` URIs, data URIs — made
//! into what the upstream accepts: URLs pass through verbatim; everything else is read (inside
//! the allowed folders only), sniffed, fitted to the upstream limits and sent as a data URI.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Semaphore;

use crate::files::{AllowedRoots, local_ref};
use crate::imaging::{self, Fitted, ImagingError, ReferenceLimits};
use seedream::Profile;

/// Decoding of reference images across all calls, bounded apart from the upstream concurrency:
/// decoding happens before a call waits for an upstream slot, so without this 16 calls could
/// each decode at once. Memory is counted in MiB of estimated peak (read from the headers
/// before decoding) and CPU by a few blocking workers.
#[derive(Debug)]
pub struct DecodeBudget {
    mebibytes: Arc<Semaphore>,
    total_mebibytes: u32,
    workers: Arc<Semaphore>,
}

const MIB: u64 = 1024 * 1024;

impl DecodeBudget {
    /// `total_bytes` of estimated decode memory and `workers` decodes at once.
    pub fn new(total_bytes: u64, workers: usize) -> Self {
        let total_mebibytes = u32::try_from(total_bytes / MIB).unwrap_or(u32::MAX).max(1);
        DecodeBudget {
            mebibytes: Arc::new(Semaphore::new(total_mebibytes as usize)),
            total_mebibytes,
            workers: Arc::new(Semaphore::new(workers.max(1))),
        }
    }

    /// The process-wide budget: two images at their largest allowed peak, decoded by at most
    /// two workers (or one on a single core), so the server's decode memory stays near 512 MiB
    /// whatever the number of calls. A process-wide limit, since memory and cores are.
    pub fn global() -> &'static DecodeBudget {
        static BUDGET: OnceLock<DecodeBudget> = OnceLock::new();
        BUDGET.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            DecodeBudget::new(2 * imaging::MAX_WORK_BYTES, cores.min(2))
        })
    }

    /// Fits one reference within the budget. Dropping the future (a cancelled call) stops the
    /// wait at once and the decode at its next stage or band of rows, which frees its share.
    pub async fn fit(
        &self,
        bytes: Vec<u8>,
        limits: ReferenceLimits,
    ) -> Result<Fitted, ImagingError> {
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
        let bytes = Arc::new(bytes);
        let busy = || ImagingError::internal("waiting to decode", "the server is shutting down");
        let worker = Arc::clone(&self.workers)
            .acquire_owned()
            .await
            .map_err(|_| busy())?;
        // The headers alone: cheap, but parsers are still better kept off the async threads.
        let header = Arc::clone(&bytes);
        let work =
            tokio::task::spawn_blocking(move || imaging::reference_work_bytes(&header, &limits))
                .await
                .map_err(|e| ImagingError::internal("reading the header", e))??;
        let mebibytes = u32::try_from(work.div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .min(self.total_mebibytes);
        // Taken after the worker, in one order everywhere: only running decodes hold memory,
        // and they always finish, so a waiting worker is never stuck.
        let memory = match mebibytes {
            0 => None,
            n => Some(
                Arc::clone(&self.mebibytes)
                    .acquire_many_owned(n)
                    .await
                    .map_err(|_| busy())?,
            ),
        };
        let flag = Arc::clone(&cancelled);
        tokio::task::spawn_blocking(move || {
            let _held = (worker, memory);
            imaging::fit_reference_cancellable(&bytes, &limits, &|| flag.load(Ordering::Relaxed))
        })
        .await
        .map_err(|e| ImagingError::internal("fitting the reference", e))?
    }
}

/// Tells the decode to stop when the call that waits for it goes away.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The references ready to send, and what was changed on the way.
pub struct Materialized {
    pub images: Vec<String>,
    pub notes: Vec<String>,
}

/// Reads and fits every non-URL reference within the process-wide [`DecodeBudget`]. `Err` is
/// a message naming `images[i]`.
pub async fn materialize(
    images: Vec<String>,
    roots: &AllowedRoots,
    profile: &Profile,
) -> Result<Materialized, String> {
    materialize_within(images, roots, profile, DecodeBudget::global()).await
}

/// [`materialize`] with the given budget.
pub async fn materialize_within(
    images: Vec<String>,
    roots: &AllowedRoots,
    profile: &Profile,
    budget: &DecodeBudget,
) -> Result<Materialized, String> {
    let limits = ReferenceLimits {
        max_bytes: profile.reference_max_bytes,
        max_pixels: 36_000_000,
        min_side: 15,
        max_ratio: 16.0,
    };
    let mut out = Materialized {
        images: Vec::with_capacity(images.len()),
        notes: Vec::new(),
    };
    for (i, raw) in images.into_iter().enumerate() {
        let param = format!("images[{i}]");
        let from_data_uri = !local_ref::is_local(&raw);
        let bytes = if local_ref::is_local(&raw) {
            let path = local_ref::to_path(&raw, dirs::home_dir().as_deref())
                .map_err(|e| format!("Invalid argument `{param}`: {e}."))?;
            let roots = roots.clone();
            let read = tokio::task::spawn_blocking(move || local_ref::read(&path, &roots)).await;
            match read {
                Ok(Ok((bytes, _))) => bytes,
                Ok(Err(e)) => return Err(format!("Invalid argument `{param}`: {e}.")),
                Err(e) => {
                    return Err(format!(
                        "Invalid argument `{param}`: the file could not be read ({e})."
                    ));
                }
            }
        } else if let Some(b) = data_uri_bytes(&raw) {
            match b {
                Ok(bytes) => bytes,
                // Let the upstream-rules check phrase the problem.
                Err(()) => {
                    out.images.push(raw);
                    continue;
                }
            }
        } else {
            out.images.push(raw);
            continue;
        };
        let fitted = budget
            .fit(bytes, limits)
            .await
            .map_err(|e| format!("Invalid argument `{param}`: {e}."))?;
        match fitted.note {
            Some(note) => out.notes.push(format!("{param}: {note}")),
            // A data URI already within the limits goes on as given (its label is normalised
            // later), saving a base64 round trip of up to the reference size limit.
            None if from_data_uri => {
                out.images.push(raw);
                continue;
            }
            None => {}
        }
        out.images.push(format!(
            "data:{};base64,{}",
            fitted.format.mime(),
            STANDARD.encode(&fitted.bytes)
        ));
    }
    Ok(out)
}

/// The bytes of a base64 data URI; `Some(Err)` for a data URI that does not decode.
fn data_uri_bytes(raw: &str) -> Option<Result<Vec<u8>, ()>> {
    let s = raw.trim();
    if !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:")) {
        return None;
    }
    let (header, payload) = s.split_once(',')?;
    if !header.to_ascii_lowercase().ends_with(";base64") {
        return Some(Err(()));
    }
    let cleaned: String = payload
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    Some(STANDARD.decode(cleaned.as_bytes()).map_err(|_| ()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A grey PNG of `side` x `side`.
    fn png(side: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        let mut writer = encoder.write_header().unwrap();
        writer
            .write_image_data(&vec![90u8; (side * side) as usize])
            .unwrap();
        drop(writer);
        out
    }

    /// Limits under which a 200 px PNG must be decoded and downscaled.
    const SMALL: ReferenceLimits = ReferenceLimits {
        max_pixels: 10_000,
        ..ReferenceLimits::SEEDREAM
    };

    #[tokio::test(start_paused = true)]
    async fn a_decode_waits_for_a_free_worker_and_a_given_up_wait_takes_nothing() {
        let budget = DecodeBudget::new(64 * MIB, 1);
        let busy = Arc::clone(&budget.workers).acquire_owned().await.unwrap();
        let waited =
            tokio::time::timeout(Duration::from_secs(60), budget.fit(png(200), SMALL)).await;
        assert!(waited.is_err(), "decoded without a worker");
        assert_eq!(budget.mebibytes.available_permits(), 64);
        drop(busy);
        let fitted = budget.fit(png(200), SMALL).await.unwrap();
        assert!(fitted.note.is_some());
        assert_eq!(budget.workers.available_permits(), 1);
        assert_eq!(budget.mebibytes.available_permits(), 64);
    }

    #[tokio::test(start_paused = true)]
    async fn a_decode_waits_for_memory_while_images_sent_unchanged_do_not() {
        let budget = DecodeBudget::new(8 * MIB, 2);
        let all = Arc::clone(&budget.mebibytes)
            .acquire_many_owned(8)
            .await
            .unwrap();
        let waited =
            tokio::time::timeout(Duration::from_secs(60), budget.fit(png(200), SMALL)).await;
        assert!(waited.is_err(), "decoded without memory");
        let unchanged = budget
            .fit(png(200), ReferenceLimits::SEEDREAM)
            .await
            .unwrap();
        assert_eq!(unchanged.note, None);
        drop(all);
        assert!(budget.fit(png(200), SMALL).await.unwrap().note.is_some());
        assert_eq!(budget.mebibytes.available_permits(), 8);
    }

    #[tokio::test]
    async fn a_hostile_reference_is_refused_naming_it_without_decoding() {
        // An 11000x11000 GIF screen in a few dozen bytes, as a data URI.
        let mut gif = b"GIF89a".to_vec();
        gif.extend_from_slice(&11000u16.to_le_bytes());
        gif.extend_from_slice(&11000u16.to_le_bytes());
        gif.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B]);
        let uri = format!("data:image/gif;base64,{}", STANDARD.encode(&gif));
        let roots = AllowedRoots::new(Vec::<std::path::PathBuf>::new());
        let profile = Profile::default();
        let budget = DecodeBudget::new(64 * MIB, 1);
        let Err(message) = materialize_within(vec![uri], &roots, &profile, &budget).await else {
            panic!("accepted");
        };
        assert!(message.contains("images[0]"), "{message}");
        assert!(message.contains("11000x11000"), "{message}");
        assert_eq!(budget.mebibytes.available_permits(), 64);
    }
}

//! Reference images as callers give them — URLs, local paths, `file://` URIs, data URIs — made
//! into what the upstream accepts: URLs pass through verbatim; everything else is read (inside
//! the allowed folders only), sniffed, fitted to the upstream limits and sent as a data URI.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Semaphore;

use super::{ImageRef, ToolError};
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

/// The references ready to send (URLs and data URIs), and what was changed on the way.
#[derive(Debug)]
pub struct References {
    pub wire: Vec<String>,
    pub notes: Vec<String>,
}

/// Reads and fits every reference that is not a URL within the process-wide [`DecodeBudget`].
pub async fn materialize(
    images: Vec<ImageRef>,
    roots: &AllowedRoots,
    profile: &Profile,
) -> Result<References, ToolError> {
    materialize_within(images, roots, profile, DecodeBudget::global()).await
}

/// [`materialize`] with the given budget.
pub async fn materialize_within(
    images: Vec<ImageRef>,
    roots: &AllowedRoots,
    profile: &Profile,
    budget: &DecodeBudget,
) -> Result<References, ToolError> {
    let limits = profile.reference_limits();
    let mut out = References {
        wire: Vec::with_capacity(images.len()),
        notes: Vec::new(),
    };
    for (i, image) in images.into_iter().enumerate() {
        let param = format!("images[{i}]");
        let (bytes, as_given) = match image {
            // Sent as given; the upstream-rules check phrases any problem.
            ImageRef::Url(uri) | ImageRef::Data { uri, bytes: None } => {
                out.wire.push(uri);
                continue;
            }
            ImageRef::Data {
                uri,
                bytes: Some(bytes),
            } => (bytes, Some(uri)),
            ImageRef::Local(path) => (read_local(path, roots, &param).await?, None),
        };
        let fitted = budget
            .fit(bytes, limits)
            .await
            .map_err(|e| ToolError::invalid(&param, e))?;
        let wire = match (fitted.note, as_given) {
            // A data URI already within the limits goes on as given (its label is normalised
            // later), saving a base64 round trip of up to the reference size limit.
            (None, Some(uri)) => uri,
            (note, _) => {
                out.notes
                    .extend(note.map(|note| format!("{param}: {note}")));
                format!(
                    "data:{};base64,{}",
                    fitted.format.mime(),
                    STANDARD.encode(&fitted.bytes)
                )
            }
        };
        out.wire.push(wire);
    }
    Ok(out)
}

/// Reads a local reference inside `roots`, off the async threads.
async fn read_local(
    path: PathBuf,
    roots: &AllowedRoots,
    param: &str,
) -> Result<Vec<u8>, ToolError> {
    let roots = roots.clone();
    match tokio::task::spawn_blocking(move || local_ref::read(&path, &roots)).await {
        Ok(Ok((bytes, _))) => Ok(bytes),
        Ok(Err(e)) => Err(ToolError::invalid(param, e)),
        Err(e) => Err(ToolError::invalid(
            param,
            format!("the file could not be read ({e})"),
        )),
    }
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
        ..ReferenceLimits::DOCUMENTED
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
            .fit(png(200), ReferenceLimits::DOCUMENTED)
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
        let image = ImageRef::parse(uri).unwrap();
        let Err(error) = materialize_within(vec![image], &roots, &profile, &budget).await else {
            panic!("accepted");
        };
        let message = error.to_string();
        assert!(message.contains("images[0]"), "{message}");
        assert!(message.contains("11000x11000"), "{message}");
        assert_eq!(budget.mebibytes.available_permits(), 64);
    }
}

//! Real, decodable image files for the sizes the fake API reports (M8), encoded once per
//! (size, format, weight) per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::body::Bytes;
use tokio::sync::OnceCell;

use super::config::ImageBytes;
use super::state::lock;

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Fmt {
    Jpeg,
    Png,
}

impl Fmt {
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Fmt::Jpeg => "jpeg",
            Fmt::Png => "png",
        }
    }

    pub(crate) fn mime(self) -> &'static str {
        match self {
            Fmt::Jpeg => "image/jpeg",
            Fmt::Png => "image/png",
        }
    }
}

/// Why an image could not be produced.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    #[error("JPEG encoding failed: {0}")]
    Jpeg(#[from] jpeg_encoder::EncodingError),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
    #[error("{0}x{1} is too large to encode")]
    TooLarge(u32, u32),
    #[error("the encoding task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What identifies an encoded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ImageKey {
    pub width: u32,
    pub height: u32,
    pub fmt: Fmt,
    pub bytes: ImageBytes,
}

/// Distinct encodings kept; a test suite uses a handful.
const MAX_CACHED: usize = 64;

type Cache = Mutex<HashMap<ImageKey, Arc<OnceCell<Bytes>>>>;

/// The cache is process-wide on purpose: every fake API in a test binary then shares the
/// cost of encoding a 4K image (seconds in heavy mode). It holds pure function results.
fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The encoded file for `key`, encoding it (off the async threads) on first use.
pub(crate) async fn encoded(key: ImageKey) -> Result<Bytes, ImageError> {
    let cell = {
        let mut map = lock(cache());
        if map.len() >= MAX_CACHED && !map.contains_key(&key) {
            map.clear();
        }
        Arc::clone(map.entry(key).or_default())
    };
    let bytes = cell
        .get_or_try_init(|| async move {
            let encoded = tokio::task::spawn_blocking(move || encode(key)).await??;
            Ok::<_, ImageError>(Bytes::from(encoded))
        })
        .await?;
    Ok(bytes.clone())
}

/// Encodes synchronously (tests and the blocking pool).
pub(crate) fn encode(key: ImageKey) -> Result<Vec<u8>, ImageError> {
    let (w, h) = (key.width, key.height);
    let (w16, h16) = match (u16::try_from(w), u16::try_from(h)) {
        (Ok(a), Ok(b)) if a > 0 && b > 0 => (a, b),
        _ => return Err(ImageError::TooLarge(w, h)),
    };
    let pixels = pixels(key);
    let mut out = Vec::new();
    match key.fmt {
        Fmt::Jpeg => {
            let encoder = jpeg_encoder::Encoder::new(&mut out, 85);
            encoder.encode(&pixels, w16, h16, jpeg_encoder::ColorType::Rgb)?;
        }
        Fmt::Png => {
            let mut encoder = png::Encoder::new(&mut out, w, h);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let mut writer = encoder.write_header()?;
            writer.write_image_data(&pixels)?;
            writer.finish()?;
        }
    }
    Ok(out)
}

/// Noise amplitude (levels per channel) tuned so heavy files land near realistic sizes:
/// 2K JPEG ~1 MB, 4K JPEG ~4 MB, 2K PNG ~6 MB, 4K PNG ~20 MB.
fn noise_amplitude(key: ImageKey) -> u8 {
    match (key.bytes, key.fmt) {
        (ImageBytes::Fast, _) => 0,
        (ImageBytes::Heavy, Fmt::Jpeg) => 32,
        (ImageBytes::Heavy, Fmt::Png) => 6,
    }
}

/// RGB rows: a horizontal gradient, plus noise in heavy mode. Rows repeat from a small tile
/// (a prime number of rows, longer than deflate's window) so building a 4K buffer stays
/// cheap in unoptimised test builds while the encoders still see no redundancy.
fn pixels(key: ImageKey) -> Vec<u8> {
    const TILE_ROWS: usize = 61;
    let (w, h) = (key.width as usize, key.height as usize);
    let row_len = w * 3;
    let base: Vec<u8> = (0..w)
        .flat_map(|x| {
            let t = (x * 255 / w.max(1)) as u8;
            [t, 96u8.wrapping_add(t / 3), 255 - t]
        })
        .collect();
    let amplitude = noise_amplitude(key);
    let tile: Vec<u8> = if amplitude == 0 {
        base.clone()
    } else {
        let mut rng = fastrand::Rng::with_seed(u64::from(key.width) << 32 | u64::from(key.height));
        let mut tile = Vec::with_capacity(row_len * TILE_ROWS);
        for _ in 0..TILE_ROWS {
            tile.extend(base.iter().map(|v| v.saturating_add(rng.u8(..amplitude))));
        }
        tile
    };
    let mut out = Vec::with_capacity(row_len * h);
    let rows_in_tile = tile.len() / row_len.max(1);
    for y in 0..h {
        let start = (y % rows_in_tile.max(1)) * row_len;
        out.extend_from_slice(tile.get(start..start + row_len).unwrap_or(&base));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(width: u32, height: u32, fmt: Fmt, bytes: ImageBytes) -> ImageKey {
        ImageKey {
            width,
            height,
            fmt,
            bytes,
        }
    }

    #[test]
    fn encoded_files_decode_to_the_requested_size() {
        for fmt in [Fmt::Jpeg, Fmt::Png] {
            let file = encode(key(1312, 736, fmt, ImageBytes::Fast)).unwrap();
            let size = imagesize::blob_size(&file).unwrap();
            assert_eq!((size.width, size.height), (1312, 736));
        }
    }

    #[test]
    fn heavy_images_have_realistic_sizes() {
        // Payload-limit tests depend on these: a 2K JPEG near 1 MB, a 2K PNG near 6 MB.
        let jpeg = encode(key(2048, 2048, Fmt::Jpeg, ImageBytes::Heavy))
            .unwrap()
            .len();
        let png = encode(key(2048, 2048, Fmt::Png, ImageBytes::Heavy))
            .unwrap()
            .len();
        assert!(
            (600_000..2_000_000).contains(&jpeg),
            "2K JPEG is {jpeg} bytes"
        );
        assert!(
            (3_000_000..9_000_000).contains(&png),
            "2K PNG is {png} bytes"
        );
    }
}

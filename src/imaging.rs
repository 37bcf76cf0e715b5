//! Image work on bytes, with no I/O, MCP or async: JPEG previews that fit what clients accept,
//! and reference images fitted to what the upstream accepts.
//!
//! # Layout
//! - `decode`: bytes to upright RGB at the size needed.
//! - `jpeg`: JPEG decoding by libjpeg-turbo, scaled in the DCT domain by any M/8.
//! - `transcode`: the common preview, JPEG to smaller JPEG row by row, with no image buffer.
//! - `pixels`: that RGB form; alpha flattening, CMYK, EXIF rotation.
//! - `resize`: target sizes and SIMD resampling.
//! - `encode`: JPEG encoding.
//! - `budget`: several previews under one base64 budget.
//! - `fit`: reference images within the upstream's limits.

mod budget;
mod decode;
mod encode;
mod error;
mod fit;
#[cfg(test)]
mod hostile;
mod jpeg;
mod pixels;
#[cfg(test)]
mod proptests;
mod resize;
#[cfg(test)]
pub(crate) mod test_images;
mod transcode;

pub use error::ImagingError;

use seedream::ImageFormat;

/// A JPEG preview and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// A JPEG preview whose long edge is at most `max_edge` (never upscaled; up to 15% under it when
/// a JPEG's DCT scaling lands there, which spares a resampling pass), at `quality` (1–100,
/// clamped). Transparency is flattened onto white and EXIF orientation applied.
pub fn preview(bytes: &[u8], max_edge: u32, quality: u8) -> Result<Preview, ImagingError> {
    if let Some(done) = transcode::preview(bytes, max_edge, quality) {
        return done;
    }
    let loaded = decode::load(bytes, &|w, h| resize::within_edge(w, h, max_edge))?;
    let jpeg = encode::jpeg(&loaded.pixels, quality)?;
    Ok(Preview {
        jpeg,
        width: loaded.pixels.width,
        height: loaded.pixels.height,
    })
}

/// Previews for several images whose base64 sizes together stay under `budget_b64_bytes`.
///
/// Starts at `max_edge` and quality 80, then lowers the quality and shrinks the long edge until
/// the sum fits. Each image is decoded once. `None` when even 256 px at quality 50 per image
/// cannot fit, or when an image cannot be read (logged; use [`preview`] for the reason).
pub fn previews_within_budget(
    images: &[&[u8]],
    max_edge: u32,
    budget_b64_bytes: usize,
) -> Option<Vec<Preview>> {
    budget::previews_within_budget(images, max_edge, budget_b64_bytes)
}

/// What the upstream accepts as a reference image: the `seedream` client owns these facts.
pub use seedream::ReferenceLimits;

/// A reference image the upstream will accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub bytes: Vec<u8>,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    /// What was changed and why, for the user; `None` when the bytes are the original ones.
    pub note: Option<String>,
}

/// Makes a reference image acceptable upstream.
///
/// Within limits it is returned unchanged. Over `max_pixels` it is downscaled to fit; over
/// `max_bytes` it is re-encoded as JPEG (and downscaled if still too big); re-encoding flattens
/// transparency onto white and applies EXIF orientation, and `note` says what was done. A side
/// under `min_side` or a ratio beyond `max_ratio` cannot be fixed by scaling and is an error,
/// as are bytes that are not a readable image.
pub fn fit_reference(bytes: &[u8], limits: &ReferenceLimits) -> Result<Fitted, ImagingError> {
    fit::fit_reference(bytes, limits, &decode::running)
}

/// [`fit_reference`], abandoned with [`ImagingError::Cancelled`] at the next stage or band of
/// rows once `cancelled()` turns true.
pub fn fit_reference_cancellable(
    bytes: &[u8],
    limits: &ReferenceLimits,
    cancelled: &dyn Fn() -> bool,
) -> Result<Fitted, ImagingError> {
    fit::fit_reference(bytes, limits, cancelled)
}

/// The peak memory [`fit_reference`] will need for `bytes`, read from the headers alone (0 when
/// the image goes on unchanged), at most [`MAX_WORK_BYTES`]; an error for anything it would
/// refuse (too large a canvas, too many scans, a bad shape), so that costs nothing either.
pub fn reference_work_bytes(bytes: &[u8], limits: &ReferenceLimits) -> Result<u64, ImagingError> {
    fit::work_bytes(bytes, limits)
}

/// The most memory one image's decoding may take.
pub const MAX_WORK_BYTES: u64 = decode::MAX_WORK_BYTES;

#[cfg(test)]
mod tests {
    use super::test_images::{self, encode_as};
    use super::*;

    #[test]
    fn a_preview_never_exceeds_max_edge_and_keeps_the_aspect_ratio() {
        for (w, h) in [(2400, 1200), (900, 1600), (1000, 1000), (1537, 311)] {
            let source = test_images::photo_jpeg(w, h);
            let p = preview(&source, 512, 80).unwrap();
            // At most 15% under: a DCT scale that lands that close is used without resampling.
            let edge = p.width.max(p.height);
            assert!(edge <= 512 && edge * 100 >= 512 * 85, "{w}x{h} -> {p:?}");
            let before = f64::from(w) / f64::from(h);
            let after = f64::from(p.width) / f64::from(p.height);
            assert!((before - after).abs() / before < 0.01, "{w}x{h} -> {p:?}");
            assert_eq!(test_images::jpeg_size(&p.jpeg), (p.width, p.height));
        }
    }

    #[test]
    fn a_small_image_is_not_upscaled() {
        let source = test_images::photo_jpeg(300, 200);
        let p = preview(&source, 1024, 80).unwrap();
        assert_eq!((p.width, p.height), (300, 200));
        assert_eq!(test_images::jpeg_size(&p.jpeg), (300, 200));
    }

    #[test]
    fn every_supported_format_gives_a_decodable_jpeg_preview() {
        for format in [
            image::ImageFormat::Png,
            image::ImageFormat::WebP,
            image::ImageFormat::Bmp,
            image::ImageFormat::Tiff,
            image::ImageFormat::Gif,
        ] {
            let source = encode_as(&test_images::photo_rgba(320, 240), format);
            let p = preview(&source, 160, 80).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((p.width, p.height), (160, 120), "{format:?}");
            assert_eq!(test_images::jpeg_size(&p.jpeg), (160, 120), "{format:?}");
        }
        let jpeg = preview(&test_images::photo_jpeg(320, 240), 160, 80).unwrap();
        assert_eq!(test_images::jpeg_size(&jpeg.jpeg), (160, 120));
    }

    #[test]
    fn progressive_grey_and_cmyk_jpegs_preview_like_any_other() {
        let rgb = test_images::photo_rgb(200, 100);
        let mut progressive = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut progressive, 85);
        encoder.set_progressive(true);
        encoder
            .encode(rgb.as_raw(), 200, 100, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        let mut grey = Vec::new();
        jpeg_encoder::Encoder::new(&mut grey, 85)
            .encode(
                &vec![128; 200 * 100],
                200,
                100,
                jpeg_encoder::ColorType::Luma,
            )
            .unwrap();
        let mut cmyk = Vec::new();
        jpeg_encoder::Encoder::new(&mut cmyk, 85)
            .encode(
                &vec![0; 200 * 100 * 4],
                200,
                100,
                jpeg_encoder::ColorType::Cmyk,
            )
            .unwrap();
        for (name, source) in [("progressive", progressive), ("grey", grey), ("cmyk", cmyk)] {
            let p = preview(&source, 50, 80).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((p.width, p.height), (50, 25), "{name}");
            assert_eq!(test_images::jpeg_size(&p.jpeg), (50, 25), "{name}");
        }
    }

    #[test]
    fn a_cmyk_jpeg_without_ink_previews_as_white() {
        let mut cmyk = Vec::new();
        jpeg_encoder::Encoder::new(&mut cmyk, 90)
            .encode(&vec![0; 32 * 32 * 4], 32, 32, jpeg_encoder::ColorType::Cmyk)
            .unwrap();
        let p = preview(&cmyk, 32, 90).unwrap();
        let rgb = jpeg_decoder::Decoder::new(p.jpeg.as_slice())
            .decode()
            .unwrap();
        assert!(rgb.iter().all(|&v| v > 245), "{:?}", &rgb[..6]);
    }

    #[test]
    fn a_transparent_png_previews_as_white() {
        let clear = image::RgbaImage::from_pixel(40, 40, image::Rgba([0, 0, 0, 0]));
        let source = encode_as(
            &image::DynamicImage::ImageRgba8(clear),
            image::ImageFormat::Png,
        );
        let p = preview(&source, 40, 90).unwrap();
        let mut decoder = jpeg_decoder::Decoder::new(p.jpeg.as_slice());
        let rgb = decoder.decode().unwrap();
        assert!(rgb.iter().all(|&v| v > 245));
    }

    #[test]
    fn an_exif_rotated_jpeg_previews_upright() {
        let source = test_images::with_exif_orientation(&test_images::photo_jpeg(400, 200), 6);
        let p = preview(&source, 100, 80).unwrap();
        assert_eq!((p.width, p.height), (50, 100));
    }

    #[test]
    fn garbage_bytes_are_refused_with_a_message_naming_the_formats() {
        let err = preview(b"<html>not found</html>", 512, 80).unwrap_err();
        assert_eq!(err, ImagingError::Unrecognised);
        assert!(err.to_string().contains("JPEG/PNG/WebP/BMP/TIFF/GIF"));
    }

    #[test]
    fn a_truncated_png_is_refused_not_panicked_on() {
        let source = encode_as(&test_images::photo_rgba(64, 64), image::ImageFormat::Png);
        let err = preview(&source[..source.len() / 2], 512, 80).unwrap_err();
        assert!(matches!(
            err,
            ImagingError::Undecodable {
                format: ImageFormat::Png,
                ..
            }
        ));
        assert!(err.to_string().contains("re-save it"), "{err}");
    }
}

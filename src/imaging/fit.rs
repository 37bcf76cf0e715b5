//! Reference images within the upstream's limits: untouched when they already comply, otherwise
//! downscaled and re-encoded as JPEG, with a note for the user saying what changed and why.

use super::decode::Cancelled;
use super::pixels::Pixels;
use super::{Fitted, ImagingError, ReferenceLimits, decode, encode, resize};
use seedream::ImageFormat;

/// High enough that a re-encoded reference shows no artefacts the model could copy.
const QUALITY: u8 = 90;
/// Tried at full resolution before giving up pixels, and kept when downscaling for size.
const SMALLER_QUALITY: u8 = 85;
/// Aim a little under the byte cap, since JPEG size does not fall exactly with pixel count.
const HEADROOM: f64 = 0.9;
const MAX_DOWNSCALES: usize = 6;

pub(super) fn fit_reference(
    bytes: &[u8],
    limits: &ReferenceLimits,
    cancelled: Cancelled<'_>,
) -> Result<Fitted, ImagingError> {
    let (format, width, height) = match assess(bytes, limits)? {
        Assessed::Unchanged(fitted) => return Ok(fitted),
        Assessed::Decode {
            format,
            width,
            height,
        } => (format, width, height),
    };
    let over_pixels = u64::from(width) * u64::from(height) > limits.max_pixels;
    let over_bytes = bytes.len() > limits.max_bytes;
    let loaded = decode::load_cancellable(
        bytes,
        &|w, h| resize::within_pixels(w, h, limits.max_pixels),
        cancelled,
    )?;
    let encoded = encode_within_bytes(&loaded.pixels, limits, cancelled)?;
    let note = note(format, &loaded, &encoded, limits, over_pixels, over_bytes);
    Ok(Fitted {
        bytes: encoded.jpeg,
        format: ImageFormat::Jpeg,
        width: encoded.size.0,
        height: encoded.size.1,
        note: Some(note),
    })
}

/// Peak memory [`fit_reference`] will take, from the headers alone: 0 for an image sent
/// unchanged; an error for one it would refuse.
pub(super) fn work_bytes(bytes: &[u8], limits: &ReferenceLimits) -> Result<u64, ImagingError> {
    match assess(bytes, limits)? {
        Assessed::Unchanged(_) => Ok(0),
        Assessed::Decode { .. } => Ok(decode::plan(bytes, &|w, h| {
            resize::within_pixels(w, h, limits.max_pixels)
        })?
        .work_bytes),
    }
}

enum Assessed {
    Unchanged(Fitted),
    Decode {
        format: ImageFormat,
        width: u32,
        height: u32,
    },
}

/// What the header says must be done, before any pixel is decoded.
fn assess(bytes: &[u8], limits: &ReferenceLimits) -> Result<Assessed, ImagingError> {
    let format = ImageFormat::sniff(bytes).ok_or(ImagingError::Unrecognised)?;
    let (width, height) = header_size(bytes, format)?;
    check_shape(width, height, limits)?;
    let over_pixels = u64::from(width) * u64::from(height) > limits.max_pixels;
    let over_bytes = bytes.len() > limits.max_bytes;
    if !over_pixels && !over_bytes {
        return Ok(Assessed::Unchanged(Fitted {
            bytes: bytes.to_vec(),
            format,
            width,
            height,
            note: None,
        }));
    }
    let (target_w, target_h) = resize::within_pixels(width, height, limits.max_pixels);
    if target_w < limits.min_side || target_h < limits.min_side {
        return Err(cannot_fit(
            format!("{} pixels", group(limits.max_pixels)),
            limits,
        ));
    }
    Ok(Assessed::Decode {
        format,
        width,
        height,
    })
}

/// A re-encoded reference.
struct Encoded {
    jpeg: Vec<u8>,
    size: (u32, u32),
    /// Pixels were given up to get under the byte cap.
    shrunk: bool,
}

/// What was done and which limit made it necessary, e.g. "downscaled from 8000x6000 to
/// 6928x5196 to stay under 36,000,000 pixels".
fn note(
    format: ImageFormat,
    loaded: &decode::Loaded,
    encoded: &Encoded,
    limits: &ReferenceLimits,
    over_pixels: bool,
    over_bytes: bool,
) -> String {
    let mut reasons = Vec::new();
    if over_pixels {
        reasons.push(format!("{} pixels", group(limits.max_pixels)));
    }
    if over_bytes || encoded.shrunk {
        reasons.push(format!("{} bytes", group(limits.max_bytes as u64)));
    }
    let (from, to) = (dims(loaded.source), dims(encoded.size));
    // A JPEG that was only downscaled needs no word about re-encoding.
    let mut note = match (
        encoded.size != loaded.source,
        format == ImageFormat::Jpeg && !over_bytes,
    ) {
        (true, true) => format!("downscaled from {from} to {to}"),
        (true, false) => format!("downscaled from {from} to {to} and re-encoded as JPEG"),
        (false, _) => "re-encoded as JPEG".to_owned(),
    };
    note.push_str(" to stay under ");
    note.push_str(&reasons.join(" and "));
    if loaded.reoriented {
        note.push_str("; turned upright as its EXIF orientation says");
    }
    if loaded.translucent {
        note.push_str("; transparent areas were flattened onto white");
    }
    if format == ImageFormat::Gif {
        note.push_str("; only the first frame of the GIF was kept");
    }
    note
}

/// The stored size, read from the header alone so compliant images are never decoded.
fn header_size(bytes: &[u8], format: ImageFormat) -> Result<(u32, u32), ImagingError> {
    let size = imagesize::blob_size(bytes).map_err(|e| {
        ImagingError::undecodable(format, format!("the header cannot be read: {e}"))
    })?;
    let side = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    Ok((side(size.width), side(size.height)))
}

/// Limits scaling cannot fix: it keeps the ratio, and enlarging a sliver only blurs it.
fn check_shape(width: u32, height: u32, limits: &ReferenceLimits) -> Result<(), ImagingError> {
    if width < limits.min_side || height < limits.min_side {
        return Err(ImagingError::TooSmall {
            width,
            height,
            min_side: limits.min_side,
        });
    }
    let ratio = f64::from(width.max(height)) / f64::from(width.min(height).max(1));
    if ratio > limits.max_ratio {
        return Err(ImagingError::AspectRatio {
            width,
            height,
            ratio,
            max_ratio: limits.max_ratio,
        });
    }
    Ok(())
}

/// JPEG bytes under `max_bytes`: quality 90, then 85, then downscaled at 85.
fn encode_within_bytes(
    pixels: &Pixels,
    limits: &ReferenceLimits,
    cancelled: Cancelled<'_>,
) -> Result<Encoded, ImagingError> {
    let size = (pixels.width, pixels.height);
    let jpeg = encode::jpeg(pixels, QUALITY)?;
    if jpeg.len() <= limits.max_bytes {
        return Ok(Encoded {
            jpeg,
            size,
            shrunk: false,
        });
    }
    decode::check(cancelled)?;
    let mut jpeg = encode::jpeg(pixels, SMALLER_QUALITY)?;
    let (mut width, mut height) = size;
    for _ in 0..MAX_DOWNSCALES {
        if jpeg.len() <= limits.max_bytes {
            return Ok(Encoded {
                jpeg,
                size: (width, height),
                shrunk: (width, height) != size,
            });
        }
        // Bytes follow pixel count, so each side shrinks with the square root of the overshoot.
        let scale = (limits.max_bytes as f64 / jpeg.len() as f64).sqrt() * HEADROOM;
        width = (f64::from(width) * scale) as u32;
        height = (f64::from(height) * scale) as u32;
        if width < limits.min_side || height < limits.min_side {
            break;
        }
        decode::check(cancelled)?;
        jpeg = encode::jpeg(&resize::resize(pixels, width, height)?, SMALLER_QUALITY)?;
    }
    Err(cannot_fit(
        format!("{} bytes", group(limits.max_bytes as u64)),
        limits,
    ))
}

fn cannot_fit(limit: String, limits: &ReferenceLimits) -> ImagingError {
    ImagingError::CannotFit {
        limit,
        min_side: limits.min_side,
    }
}

fn dims((width, height): (u32, u32)) -> String {
    format!("{width}x{height}")
}

/// 36000000 → "36,000,000": limits in messages are read by people.
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use image::{DynamicImage, ImageFormat as Codec, RgbImage};

    use super::super::test_images::{
        encode_as, jpeg_size, photo_jpeg, photo_rgba, with_exif_orientation,
    };
    use super::*;

    const SEEDREAM: ReferenceLimits = ReferenceLimits::DOCUMENTED;

    fn fit_reference(bytes: &[u8], limits: &ReferenceLimits) -> Result<Fitted, ImagingError> {
        super::fit_reference(bytes, limits, &decode::running)
    }

    fn limits(max_bytes: usize, max_pixels: u64) -> ReferenceLimits {
        ReferenceLimits {
            max_bytes,
            max_pixels,
            ..SEEDREAM
        }
    }

    #[test]
    fn images_within_limits_are_returned_unchanged() {
        let jpeg = photo_jpeg(640, 480);
        let png = encode_as(&photo_rgba(300, 200), Codec::Png);
        for (bytes, format, size) in [
            (&jpeg, ImageFormat::Jpeg, (640, 480)),
            (&png, ImageFormat::Png, (300, 200)),
        ] {
            let fitted = fit_reference(bytes, &SEEDREAM).unwrap();
            assert_eq!(fitted.bytes, *bytes);
            assert_eq!(fitted.format, format);
            assert_eq!((fitted.width, fitted.height), size);
            assert_eq!(fitted.note, None);
        }
    }

    #[test]
    fn an_image_over_the_pixel_cap_is_downscaled_to_fit() {
        let bytes = photo_jpeg(800, 600);
        let fitted = fit_reference(&bytes, &limits(usize::MAX, 360_000)).unwrap();
        assert_eq!((fitted.width, fitted.height), (692, 519));
        assert_eq!(jpeg_size(&fitted.bytes), (692, 519));
        assert_eq!(
            fitted.note.as_deref(),
            Some("downscaled from 800x600 to 692x519 to stay under 360,000 pixels")
        );
    }

    /// Decoding 8000x6000 at full size and resampling to 6928x5196 would peak near 380 MB
    /// (source, the resampler's one-axis buffer and the result), over the work budget; the
    /// DCT scale of 6/8 lands under the pixel cap with no resampling at all.
    #[test]
    fn an_8000x6000_photo_is_decoded_at_the_dct_scale_that_fits_the_work_budget() {
        let flat = RgbImage::from_pixel(8000, 6000, image::Rgb([120, 140, 160]));
        let bytes = super::super::test_images::encode_rgb_jpeg(&flat, 90);
        let fitted = fit_reference(&bytes, &SEEDREAM).unwrap();
        assert_eq!((fitted.width, fitted.height), (6000, 4500));
        assert_eq!(fitted.format, ImageFormat::Jpeg);
        assert_eq!(jpeg_size(&fitted.bytes), (6000, 4500));
        assert_eq!(
            fitted.note.as_deref(),
            Some("downscaled from 8000x6000 to 6000x4500 to stay under 36,000,000 pixels")
        );
    }

    #[test]
    fn an_oversized_file_is_re_encoded_as_jpeg_at_the_same_size() {
        let png = encode_as(&photo_rgba(400, 300), Codec::Png);
        let cap = png.len() / 2;
        let fitted = fit_reference(&png, &limits(cap, 36_000_000)).unwrap();
        assert!(fitted.bytes.len() <= cap, "{} > {cap}", fitted.bytes.len());
        assert_eq!(fitted.format, ImageFormat::Jpeg);
        assert_eq!((fitted.width, fitted.height), (400, 300));
        let note = fitted.note.unwrap();
        assert!(
            note.starts_with("re-encoded as JPEG to stay under"),
            "{note}"
        );
        assert!(note.contains("flattened onto white"), "{note}");
    }

    #[test]
    fn a_file_still_too_big_as_jpeg_is_also_downscaled() {
        let bytes = photo_jpeg(800, 600);
        let cap = bytes.len() / 4;
        let fitted = fit_reference(&bytes, &limits(cap, 36_000_000)).unwrap();
        assert!(fitted.bytes.len() <= cap);
        assert!(fitted.width < 800 && fitted.height < 600);
        assert_eq!(jpeg_size(&fitted.bytes), (fitted.width, fitted.height));
        let note = fitted.note.unwrap();
        assert!(note.starts_with("downscaled from 800x600 to "), "{note}");
        assert!(note.contains("re-encoded as JPEG to stay under"), "{note}");
    }

    #[test]
    fn a_rotated_photo_is_re_encoded_upright() {
        let bytes = with_exif_orientation(&photo_jpeg(400, 200), 6);
        let fitted = fit_reference(&bytes, &limits(usize::MAX, 20_000)).unwrap();
        assert_eq!((fitted.width, fitted.height), (100, 200));
        let note = fitted.note.unwrap();
        assert!(
            note.starts_with("downscaled from 200x400 to 100x200"),
            "{note}"
        );
        assert!(note.contains("upright"), "{note}");
    }

    #[test]
    fn a_sliver_is_refused_with_the_minimum_side() {
        let bytes = encode_as(&DynamicImage::new_rgb8(10, 400), Codec::Png);
        let err = fit_reference(&bytes, &SEEDREAM).unwrap_err();
        assert!(matches!(
            err,
            ImagingError::TooSmall {
                width: 10,
                height: 400,
                ..
            }
        ));
        assert!(
            err.to_string().contains("each side must be at least 15 px"),
            "{err}"
        );
    }

    #[test]
    fn a_twenty_to_one_image_is_refused_with_advice_to_crop() {
        let bytes = encode_as(&DynamicImage::new_rgb8(2000, 100), Codec::Png);
        let err = fit_reference(&bytes, &SEEDREAM).unwrap_err();
        assert!(matches!(err, ImagingError::AspectRatio { .. }));
        let text = err.to_string();
        assert!(
            text.contains("20.0:1") && text.contains("16:1") && text.contains("crop"),
            "{text}"
        );
    }

    #[test]
    fn garbage_bytes_are_refused_with_a_clear_message() {
        let err = fit_reference(b"\x00\x01 definitely not an image", &SEEDREAM).unwrap_err();
        assert_eq!(err, ImagingError::Unrecognised);
        let err = fit_reference(b"\x89PNG\r\n\x1a\nbroken", &SEEDREAM).unwrap_err();
        assert!(matches!(
            err,
            ImagingError::Undecodable {
                format: ImageFormat::Png,
                ..
            }
        ));
        assert!(err.to_string().contains("PNG data is damaged"), "{err}");
    }

    #[test]
    fn a_byte_cap_no_sensible_image_can_meet_is_an_error() {
        let bytes = photo_jpeg(200, 200);
        let err = fit_reference(&bytes, &limits(100, 36_000_000)).unwrap_err();
        assert!(matches!(
            err,
            ImagingError::CannotFit { ref limit, .. } if limit == "100 bytes"
        ));
    }

    #[test]
    fn a_pixel_cap_that_would_leave_a_side_too_short_is_an_error() {
        let bytes = photo_jpeg(200, 100);
        let err = fit_reference(&bytes, &limits(usize::MAX, 200)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the image cannot be brought under 200 pixels without shrinking a side below 15 px; \
             send a smaller or simpler image"
        );
    }

    #[test]
    fn limits_are_written_with_thousands_separators() {
        assert_eq!(group(36_000_000), "36,000,000");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
    }
}

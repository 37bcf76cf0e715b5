//! JPEG decoding through libjpeg-turbo (as built by the `mozjpeg` crate), scaled in the DCT
//! domain by any M/8: a 4096 px photo previewed at 1024 px is decoded straight to 1024 px, and
//! only the output rows are ever held (no full-size planes), which is most of a preview's memory.
//!
//! libjpeg reports a fatal error by unwinding out of its error handler; it is caught here and
//! becomes an [`ImagingError`], so a corrupt file is refused like any other bad input.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use mozjpeg::{Decompress, Format, Marker};

use super::ImagingError;
use super::decode::{MAX_DECODE_BYTES, Raw, Target, check_declared};
use super::pixels::Pixels;
use crate::seedream::ImageFormat;

/// Decodes `bytes` at the smallest M/8 scale that still covers `target(width, height)`.
pub(super) fn decode(bytes: &[u8], target: Target<'_>) -> Result<Raw, ImagingError> {
    guarded(|| decode_unguarded(bytes, target))
}

/// Runs `work`, which calls into libjpeg, turning a fatal libjpeg error (an unwind out of its
/// error handler) into a "cannot read this JPEG" error naming what libjpeg found.
pub(super) fn guarded<T>(
    work: impl FnOnce() -> Result<T, ImagingError>,
) -> Result<T, ImagingError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        Err(ImagingError::undecodable(
            ImageFormat::Jpeg,
            libjpeg_message(payload.as_ref()),
        ))
    })
}

fn decode_unguarded(bytes: &[u8], target: Target<'_>) -> Result<Raw, ImagingError> {
    let bad = |e: std::io::Error| ImagingError::undecodable(ImageFormat::Jpeg, e);
    // The declared size is checked before libjpeg allocates anything for it.
    let frame = frame(bytes);
    if let Some(frame) = &frame {
        check_declared(frame.width, frame.height)?;
    }
    let mut decoder = Decompress::with_markers(&[Marker::APP(1)])
        .from_mem(bytes)
        .map_err(bad)?;
    let (width, height) = decoder.size();
    let source = (side(width), side(height));
    check_declared(source.0, source.1)?;
    let channels = decoder.components().len().max(1) as u64;
    if frame.is_some_and(|f| f.progressive && too_many_coefficients(source, channels)) {
        return Err(ImagingError::TooLargeToDecode {
            width: source.0,
            height: source.1,
        });
    }
    let (want_w, want_h) = target(source.0, source.1);
    let eighths = scale_eighths(source, (want_w, want_h));
    let output_bytes =
        u64::from(scaled(source.0, eighths)) * u64::from(scaled(source.1, eighths)) * channels;
    if output_bytes > MAX_DECODE_BYTES {
        return Err(ImagingError::TooLargeToDecode {
            width: source.0,
            height: source.1,
        });
    }
    decoder.scale(eighths);
    let orientation = exif_orientation(&decoder);
    let pixels = match decoder.image().map_err(bad)? {
        Format::RGB(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let rgb = started.read_scanlines::<u8>().map_err(bad)?;
            started.finish().map_err(bad)?;
            Pixels {
                width: w,
                height: h,
                rgb,
            }
        }
        Format::Gray(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let luma = started.read_scanlines::<u8>().map_err(bad)?;
            started.finish().map_err(bad)?;
            Pixels::from_luma(w, h, &luma)
        }
        Format::CMYK(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let mut cmyk = started.read_scanlines::<u8>().map_err(bad)?;
            started.finish().map_err(bad)?;
            // libjpeg hands over the stored values; CMYK JPEGs come from Adobe software, which
            // stores them inverted (255 = no ink).
            cmyk.iter_mut().for_each(|v| *v = 255 - *v);
            Pixels::from_cmyk(w, h, &cmyk)
        }
    };
    if pixels.rgb.len() as u64 != u64::from(pixels.width) * u64::from(pixels.height) * 3 {
        return Err(ImagingError::undecodable(
            ImageFormat::Jpeg,
            "decoded data does not match the header's size",
        ));
    }
    Ok(Raw {
        pixels,
        source,
        orientation,
        translucent: false,
    })
}

/// Whether a progressive JPEG of this size would need more memory than decoding may take: it
/// keeps every full-size coefficient (2 bytes each) whatever the output scale.
pub(super) fn too_many_coefficients(source: (u32, u32), channels: u64) -> bool {
    u64::from(source.0) * u64::from(source.1) * channels * 2 > 2 * MAX_DECODE_BYTES
}

/// The EXIF orientation, from the APP1 segment the decoder was asked to keep.
pub(super) fn exif_orientation(decoder: &Decompress<&[u8]>) -> Orientation {
    decoder
        .markers()
        .find_map(|m| m.data.strip_prefix(b"Exif\0\0"))
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms)
}

/// The smallest M (of M/8) whose output covers the wanted size; libjpeg rounds sides up.
pub(super) fn scale_eighths(source: (u32, u32), want: (u32, u32)) -> u8 {
    (1..=8u8)
        .find(|&m| scaled(source.0, m) >= want.0 && scaled(source.1, m) >= want.1)
        .unwrap_or(8)
}

pub(super) fn scaled(side: u32, eighths: u8) -> u32 {
    u32::try_from((u64::from(side) * u64::from(eighths)).div_ceil(8)).unwrap_or(u32::MAX)
}

fn side(pixels: usize) -> u32 {
    u32::try_from(pixels).unwrap_or(u32::MAX)
}

/// What the first frame header (SOFn) declares.
#[derive(Debug, PartialEq)]
pub(super) struct Frame {
    pub(super) width: u32,
    pub(super) height: u32,
    /// SOF2, SOF6, SOF10 or SOF14.
    pub(super) progressive: bool,
}

/// Walks the marker segments from the start of the file to the first frame header. Anything
/// malformed gives `None` and is left for libjpeg to refuse with its own words.
pub(super) fn frame(bytes: &[u8]) -> Option<Frame> {
    let mut at = 2;
    while let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) {
        let field = |offset: usize| {
            let hi = *bytes.get(at + offset)?;
            let lo = *bytes.get(at + offset + 1)?;
            Some(u16::from_be_bytes([hi, lo]))
        };
        match marker {
            // Fill bytes before a marker.
            0xFF => at += 1,
            // Markers without a length.
            0x01 | 0xD0..=0xD8 => at += 2,
            // Huffman and arithmetic tables share the frame headers' range.
            0xC4 | 0xC8 | 0xCC => at += 2 + usize::from(field(2)?),
            0xC0..=0xCF => {
                return Some(Frame {
                    height: u32::from(field(5)?),
                    width: u32::from(field(7)?),
                    progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
                });
            }
            // The scan starts without a frame header.
            0xDA => return None,
            _ => at += 2 + usize::from(field(2)?),
        }
    }
    None
}

/// The text libjpeg unwound with, without its prefix ("Premature end of JPEG file", …).
fn libjpeg_message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("libjpeg stopped");
    text.trim_start_matches("libjpeg fatal error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::test_images::photo_jpeg;

    #[test]
    fn the_scale_is_the_smallest_that_covers_the_target() {
        assert_eq!(scale_eighths((4096, 4096), (1024, 1024)), 2);
        assert_eq!(scale_eighths((2048, 2048), (1024, 1024)), 4);
        assert_eq!(scale_eighths((2048, 2048), (1568, 1568)), 7);
        assert_eq!(scale_eighths((2304, 1728), (1024, 768)), 4);
        assert_eq!(scale_eighths((100, 100), (100, 100)), 8);
        assert_eq!(scale_eighths((4096, 4096), (1, 1)), 1);
    }

    #[test]
    fn the_frame_header_gives_the_size_and_whether_it_is_progressive() {
        let baseline = photo_jpeg(64, 48);
        let expected = Frame {
            width: 64,
            height: 48,
            progressive: false,
        };
        assert_eq!(frame(&baseline), Some(expected));
        let mut progressive = baseline.clone();
        let sof = progressive
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .unwrap();
        progressive[sof + 1] = 0xC2;
        assert!(frame(&progressive).unwrap().progressive);
        assert_eq!(frame(b"\xFF\xD8\xFF"), None);
        assert_eq!(frame(&baseline[..sof + 4]), None);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_what_libjpeg_found() {
        let mut bytes = photo_jpeg(64, 48);
        let sof = bytes.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // A frame header claiming 9 components.
        bytes[sof + 9] = 9;
        let error = decode(&bytes, &|w, h| (w, h)).unwrap_err().to_string();
        assert!(error.contains("JPEG"), "{error}");
        assert!(!error.contains("libjpeg fatal error"), "{error}");
    }

    #[test]
    fn a_4096_photo_decodes_straight_to_the_quarter_size() {
        let raw = decode(&photo_jpeg(4096, 2048), &|_, _| (1024, 512)).unwrap();
        assert_eq!((raw.pixels.width, raw.pixels.height), (1024, 512));
        assert_eq!(raw.source, (4096, 2048));
    }
}

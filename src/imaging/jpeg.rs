//! JPEG decoding through libjpeg-turbo (as built by the `mozjpeg` crate), scaled in the DCT
//! domain by any M/8: a 4096 px photo previewed at 1024 px is decoded straight to 1024 px, and
//! only the output rows are ever held (no full-size planes), which is most of a preview's memory.
//!
//! libjpeg reports a fatal error by unwinding out of its error handler; it is caught here and
//! becomes an [`ImagingError`], so a corrupt file is refused like any other bad input.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::metadata::Orientation;
use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{Decompress, Format, Marker};

use super::ImagingError;
use super::decode::{
    Cancelled, MAX_DECODE_BYTES, MAX_WORK_BYTES, Plan, Raw, Target, check, check_declared,
    work_bytes,
};
use super::pixels::Pixels;
use seedream::ImageFormat;

/// The most scans a JPEG may have. Each scan of a progressive JPEG is a pass over the whole
/// image (2,000 scans of one image took 38 s of CPU); encoders write about 10.
pub(super) const MAX_SCANS: usize = 64;

/// Decodes `bytes` at the DCT scale `plan` chose.
pub(super) fn decode(
    bytes: &[u8],
    plan: &Plan,
    cancelled: Cancelled<'_>,
) -> Result<Raw, ImagingError> {
    guarded(|| decode_unguarded(bytes, plan, cancelled))
}

/// The plan for `target(stored size)`: the smallest M/8 scale that covers it, or a smaller one
/// when that would cost more than [`MAX_WORK_BYTES`] (then the output is under `target`).
/// Counts what libjpeg holds too: a progressive JPEG keeps every full-size coefficient.
pub(super) fn plan(bytes: &[u8], target: Target<'_>) -> Result<Plan, ImagingError> {
    let frame = frame(bytes).ok_or_else(|| {
        ImagingError::undecodable(
            ImageFormat::Jpeg,
            "no readable frame header before the image data",
        )
    })?;
    let source = (frame.width, frame.height);
    check_declared(source.0, source.1)?;
    let scans = scan_count(bytes);
    if scans > MAX_SCANS {
        return Err(ImagingError::TooManyScans {
            scans,
            max: MAX_SCANS,
        });
    }
    let coefficients = if frame.progressive {
        frame.coefficient_bytes
    } else {
        0
    };
    let channels: u64 = match frame.components {
        1 => 1,
        4 => 4,
        _ => 3,
    };
    let wanted = target(source.0, source.1);
    for eighths in (1..=scale_eighths(source, wanted)).rev() {
        let decoded = (scaled(source.0, eighths), scaled(source.1, eighths));
        let covers = decoded.0 >= wanted.0 && decoded.1 >= wanted.1;
        let result = if covers { wanted } else { decoded };
        let pixels = u64::from(decoded.0) * u64::from(decoded.1);
        // Grey and CMYK rows are converted to RGB in a buffer of their own.
        let converted = if channels == 3 { 0 } else { pixels * 3 };
        let decode = coefficients + pixels * channels + converted;
        let work = work_bytes(decode, decoded, result);
        if work <= MAX_WORK_BYTES {
            return Ok(Plan {
                source,
                decoded,
                target: result,
                work_bytes: work,
            });
        }
    }
    Err(ImagingError::TooLargeToDecode {
        width: source.0,
        height: source.1,
    })
}

/// Start-of-scan markers: inside entropy-coded data 0xFF is always followed by 0x00 or a
/// restart marker, so each 0xFF 0xDA is a real scan.
pub(super) fn scan_count(bytes: &[u8]) -> usize {
    bytes.windows(2).filter(|w| *w == [0xFF, 0xDA]).count()
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

fn decode_unguarded(
    bytes: &[u8],
    plan: &Plan,
    cancelled: Cancelled<'_>,
) -> Result<Raw, ImagingError> {
    let bad = |e: std::io::Error| ImagingError::undecodable(ImageFormat::Jpeg, e);
    let mut decoder = Decompress::with_markers(&[Marker::APP(1)])
        .from_mem(bytes)
        .map_err(bad)?;
    let (width, height) = decoder.size();
    let source = (side(width), side(height));
    // libjpeg read the header itself: it must agree with what the plan was made from.
    if source != plan.source {
        return Err(ImagingError::undecodable(
            ImageFormat::Jpeg,
            "the frame header is inconsistent",
        ));
    }
    let eighths = (1..=8u8)
        .find(|&m| (scaled(source.0, m), scaled(source.1, m)) == plan.decoded)
        .unwrap_or(8);
    decoder.scale(eighths);
    let orientation = exif_orientation(&decoder);
    check(cancelled)?;
    let pixels = match decoder.image().map_err(bad)? {
        Format::RGB(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let rgb = read_rows(&mut started, 3, cancelled)?;
            started.finish().map_err(bad)?;
            Pixels {
                width: w,
                height: h,
                rgb,
            }
        }
        Format::Gray(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let luma = read_rows(&mut started, 1, cancelled)?;
            started.finish().map_err(bad)?;
            Pixels::from_luma(w, h, &luma)
        }
        Format::CMYK(mut started) => {
            let (w, h) = (side(started.width()), side(started.height()));
            let mut cmyk = read_rows(&mut started, 4, cancelled)?;
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

/// Rows a band at a time, checking between bands whether the caller has given up.
fn read_rows(
    started: &mut DecompressStarted<&[u8]>,
    channels: usize,
    cancelled: Cancelled<'_>,
) -> Result<Vec<u8>, ImagingError> {
    const BAND_ROWS: usize = 64;
    let line = started.width() * channels;
    let total = line * started.height();
    if total as u64 > MAX_DECODE_BYTES {
        return Err(ImagingError::TooLargeToDecode {
            width: side(started.width()),
            height: side(started.height()),
        });
    }
    let mut out = vec![0u8; total];
    for band in out.chunks_mut((line * BAND_ROWS).max(1)) {
        check(cancelled)?;
        started
            .read_scanlines_into(band)
            .map_err(|e| ImagingError::undecodable(ImageFormat::Jpeg, e))?;
    }
    Ok(out)
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
    /// Colour components (1 grey, 3 YCbCr, 4 CMYK).
    pub(super) components: u8,
    /// What libjpeg holds to decode it progressively: every DCT coefficient, 2 bytes each, of
    /// every component at its own sampling, in whole blocks.
    pub(super) coefficient_bytes: u64,
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
                let (height, width) = (u32::from(field(5)?), u32::from(field(7)?));
                let components = *bytes.get(at + 9)?;
                let sampling: Vec<(u64, u64)> = (0..usize::from(components))
                    .map(|i| {
                        let hv = *bytes.get(at + 11 + 3 * i)?;
                        Some((u64::from(hv >> 4).max(1), u64::from(hv & 0x0F).max(1)))
                    })
                    .collect::<Option<_>>()?;
                let h_max = sampling.iter().map(|s| s.0).max().unwrap_or(1);
                let v_max = sampling.iter().map(|s| s.1).max().unwrap_or(1);
                let blocks = |side: u32, factor: u64, max: u64| {
                    (u64::from(side) * factor).div_ceil(max).div_ceil(8) + factor
                };
                let coefficient_bytes = sampling
                    .iter()
                    .map(|&(h, v)| blocks(width, h, h_max) * blocks(height, v, v_max) * 128)
                    .sum();
                return Some(Frame {
                    height,
                    width,
                    progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
                    components,
                    coefficient_bytes,
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
        let found = frame(&baseline).unwrap();
        assert_eq!(
            (found.width, found.height, found.progressive),
            (64, 48, false)
        );
        assert_eq!(found.components, 3);
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
        let error = crate::imaging::decode::load(&bytes, &|w, h| (w, h))
            .unwrap_err()
            .to_string();
        assert!(error.contains("JPEG"), "{error}");
        assert!(!error.contains("libjpeg fatal error"), "{error}");
    }

    #[test]
    fn a_4096_photo_decodes_straight_to_the_quarter_size() {
        let bytes = photo_jpeg(4096, 2048);
        let plan = plan(&bytes, &|_, _| (1024, 512)).unwrap();
        let raw = decode(&bytes, &plan, &crate::imaging::decode::running).unwrap();
        assert_eq!((raw.pixels.width, raw.pixels.height), (1024, 512));
        assert_eq!(raw.source, (4096, 2048));
    }
}

//! The common preview, JPEG to smaller JPEG, row by row: libjpeg decodes straight to the
//! preview's size (the largest DCT scale of M/8 within the edge) and in YCbCr, the encoder
//! takes each row as it comes. No image-sized buffer exists and neither side converts colours,
//! so it is both the fastest and the leanest path. Anything else (another format, a size that
//! needs resampling, an EXIF rotation, CMYK or grey) is left to the general path.

use std::cell::RefCell;

use image::metadata::Orientation;
use jpeg_encoder::{Encoder, ImageBuffer, JpegColorType};
use mozjpeg::decompress::DecompressStarted;
use mozjpeg::{ColorSpace, Decompress, Marker};

use super::decode::{MAX_WORK_BYTES, check_declared};
use super::jpeg::{MAX_SCANS, exif_orientation, frame, guarded, scaled, scan_count};
use super::{ImagingError, Preview, resize};
use seedream::ImageFormat;

/// How far under the wanted edge a DCT scale may land and still be used as is. M/8 steps are
/// finer than this from 4/8 up, so the common cases (1024 px from 2K or 4K, 1568 from either)
/// all qualify.
const CLOSE_ENOUGH_PERCENT: u64 = 85;

/// The preview of `bytes` at `max_edge` and `quality`, or `None` when this path does not apply
/// (nothing has been decided about the image then; the general path reports any problem).
pub(super) fn preview(
    bytes: &[u8],
    max_edge: u32,
    quality: u8,
) -> Option<Result<Preview, ImagingError>> {
    if ImageFormat::sniff(bytes) != Some(ImageFormat::Jpeg) {
        return None;
    }
    let plan = plan(bytes, max_edge)?;
    guarded(|| stream(bytes, &plan, quality)).transpose()
}

/// What the frame header alone decides: the source size and the DCT scale to decode at.
struct Plan {
    source: (u32, u32),
    eighths: u8,
    width: u16,
    height: u16,
}

fn plan(bytes: &[u8], max_edge: u32) -> Option<Plan> {
    let frame = frame(bytes)?;
    let source = (frame.width, frame.height);
    check_declared(source.0, source.1).ok()?;
    // Anything the general path refuses is left to it, so it can say why.
    if frame.progressive && frame.coefficient_bytes > MAX_WORK_BYTES
        || scan_count(bytes) > MAX_SCANS
    {
        return None;
    }
    let (want_w, want_h) = resize::within_edge(source.0, source.1, max_edge);
    let wanted_edge = want_w.max(want_h);
    let eighths = (1..=8u8)
        .rev()
        .find(|&m| scaled(source.0, m).max(scaled(source.1, m)) <= wanted_edge)?;
    let (width, height) = (scaled(source.0, eighths), scaled(source.1, eighths));
    // A preview's edge is a limit, not a size to hit exactly: landing a few percent under it
    // (1536 px for 1568 from 2048 or 4096 px) spares a resampling pass and its buffer.
    if u64::from(width.max(height)) * 100 < u64::from(wanted_edge) * CLOSE_ENOUGH_PERCENT {
        return None;
    }
    Some(Plan {
        source,
        eighths,
        width: u16::try_from(width).ok()?,
        height: u16::try_from(height).ok()?,
    })
}

/// Decodes and encodes row by row; `Ok(None)` when the file turns out not to be an upright
/// YCbCr JPEG of the planned size.
fn stream(bytes: &[u8], plan: &Plan, quality: u8) -> Result<Option<Preview>, ImagingError> {
    let bad = |e: std::io::Error| ImagingError::undecodable(ImageFormat::Jpeg, e);
    let mut decoder = Decompress::with_markers(&[Marker::APP(1)])
        .from_mem(bytes)
        .map_err(bad)?;
    let (source_w, source_h) = (plan.source.0 as usize, plan.source.1 as usize);
    if exif_orientation(&decoder) != Orientation::NoTransforms
        || decoder.color_space() != ColorSpace::JCS_YCbCr
        || decoder.components().len() != 3
        || decoder.size() != (source_w, source_h)
    {
        return Ok(None);
    }
    decoder.scale(plan.eighths);
    let started = decoder.to_colorspace(ColorSpace::JCS_YCbCr).map_err(bad)?;
    let (width, height) = (usize::from(plan.width), usize::from(plan.height));
    if (started.width(), started.height()) != (width, height) {
        return Ok(None);
    }
    let rows = Rows {
        width: plan.width,
        height: plan.height,
        state: RefCell::new(RowState {
            decoder: started,
            row: vec![0; width * 3],
            next: 0,
            error: None,
        }),
    };
    let mut jpeg = Vec::new();
    let encoded = Encoder::new(&mut jpeg, quality.clamp(1, 100)).encode_image(&rows);
    let state = rows.state.into_inner();
    if let Some(error) = state.error {
        return Err(bad(error));
    }
    encoded.map_err(|e| ImagingError::internal("encoding", e))?;
    state.decoder.finish().map_err(bad)?;
    jpeg.shrink_to_fit();
    Ok(Some(Preview {
        jpeg,
        width: u32::from(plan.width),
        height: u32::from(plan.height),
    }))
}

/// The decoder's output as the encoder asks for it: one row at a time, top to bottom (the last
/// row again for the padding below it).
struct Rows<'a> {
    width: u16,
    height: u16,
    state: RefCell<RowState<'a>>,
}

struct RowState<'a> {
    decoder: DecompressStarted<&'a [u8]>,
    /// The most recently decoded row, as interleaved Y, Cb, Cr.
    row: Vec<u8>,
    /// The index of the row the decoder gives next.
    next: u32,
    /// The first read error; the rows after it are left black and the preview is refused.
    error: Option<std::io::Error>,
}

impl ImageBuffer for &Rows<'_> {
    fn get_jpeg_color_type(&self) -> JpegColorType {
        JpegColorType::Ycbcr
    }

    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn fill_buffers(&self, y: u16, buffers: &mut [Vec<u8>; 4]) {
        let Ok(mut state) = self.state.try_borrow_mut() else {
            return;
        };
        let state = &mut *state;
        while state.next <= u32::from(y) && state.error.is_none() {
            if let Err(error) = state.decoder.read_scanlines_into::<u8>(&mut state.row) {
                state.row.fill(0);
                state.error = Some(error);
            }
            state.next += 1;
        }
        let [luma, blue, red, _] = buffers;
        for pixel in state.row.chunks_exact(3) {
            if let [l, b, r] = *pixel {
                luma.push(l);
                blue.push(b);
                red.push(r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::imaging::test_images::{jpeg_size, photo_jpeg, with_exif_orientation};
    use crate::imaging::{decode, encode};

    #[test]
    fn a_photo_halved_exactly_takes_this_path_and_matches_the_general_one() {
        let bytes = photo_jpeg(512, 384);
        let fast = preview(&bytes, 256, 80).unwrap().unwrap();
        assert_eq!((fast.width, fast.height), (256, 192));
        assert_eq!(jpeg_size(&fast.jpeg), (256, 192));
        let general = decode::load(&bytes, &|w, h| resize::within_edge(w, h, 256)).unwrap();
        let slow = encode::jpeg(&general.pixels, 80).unwrap();
        let (a, b) = (rgb_of(&fast.jpeg), rgb_of(&slow));
        let mean_difference = a
            .iter()
            .zip(&b)
            .map(|(x, y)| x.abs_diff(*y) as u64)
            .sum::<u64>()
            / a.len() as u64;
        assert!(mean_difference <= 2, "{mean_difference}");
    }

    #[test]
    fn an_edge_between_scales_gets_the_largest_scale_under_it() {
        let bytes = photo_jpeg(512, 384);
        let preview = preview(&bytes, 392, 80).unwrap().unwrap();
        assert_eq!((preview.width, preview.height), (384, 288));
        assert_eq!(jpeg_size(&preview.jpeg), (384, 288));
    }

    #[test]
    fn sizes_that_need_resampling_rotated_and_other_formats_are_left_to_the_general_path() {
        let bytes = photo_jpeg(512, 384);
        assert!(
            preview(&bytes, 310, 80).is_none(),
            "256 px is too far under 310"
        );
        assert!(preview(&with_exif_orientation(&bytes, 6), 256, 80).is_none());
        assert!(preview(b"\x89PNG\r\n\x1a\n", 256, 80).is_none());
    }

    #[test]
    fn a_truncated_photo_still_gives_a_preview_of_the_right_size() {
        let bytes = photo_jpeg(512, 384);
        let cut = &bytes[..bytes.len() / 2];
        let preview = preview(cut, 256, 80).unwrap().unwrap();
        assert_eq!(jpeg_size(&preview.jpeg), (256, 192));
    }

    fn rgb_of(jpeg: &[u8]) -> Vec<u8> {
        jpeg_decoder::Decoder::new(jpeg).decode().unwrap()
    }
}

//! Hostile reference images, made here in memory: tiny files declaring huge canvases, a PNG
//! bomb, a JPEG claiming 16000x16000 and one with 2,000 scans. Each is refused from its
//! header, or planned within the per-image work budget, before any pixel is decoded.

use std::cell::Cell;

use super::decode::{self, MAX_WORK_BYTES};
use super::proptests::{sample, with_dimensions};
use super::test_images::photo_rgb;
use super::{
    ImagingError, ReferenceLimits, fit_reference, fit_reference_cancellable, preview,
    reference_work_bytes, resize,
};

const SEEDREAM: ReferenceLimits = ReferenceLimits::DOCUMENTED;

fn too_large(result: Result<impl std::fmt::Debug, ImagingError>) -> bool {
    matches!(result, Err(ImagingError::TooLargeToDecode { .. }))
}

#[test]
fn a_tiny_gif_declaring_an_11000_px_screen_is_refused_before_decoding() {
    let gif = with_dimensions(
        image::ImageFormat::Gif,
        sample(image::ImageFormat::Gif),
        11000,
        11000,
    );
    assert!(gif.len() < 2000, "{}", gif.len());
    assert!(too_large(reference_work_bytes(&gif, &SEEDREAM)));
    // Before the work budget the 484 MB screen was allocated and decoded.
    let refused = fit_reference(&gif, &SEEDREAM).unwrap_err();
    assert_eq!(
        refused,
        ImagingError::TooLargeToDecode {
            width: 11000,
            height: 11000
        }
    );
    assert!(
        refused.to_string().contains("downscale it first"),
        "{refused}"
    );
}

#[test]
fn every_format_declaring_a_canvas_past_the_work_budget_is_refused_from_its_header() {
    for format in [
        image::ImageFormat::Png,
        image::ImageFormat::Gif,
        image::ImageFormat::Bmp,
        image::ImageFormat::WebP,
        image::ImageFormat::Tiff,
    ] {
        let bytes = with_dimensions(format, sample(format), 11000, 11000);
        let started = std::time::Instant::now();
        let planned = reference_work_bytes(&bytes, &SEEDREAM);
        let fitted = fit_reference(&bytes, &SEEDREAM);
        // TIFF's parser may refuse the rewritten strips first; either way nothing is decoded.
        let refused = |r: Result<(), ImagingError>| {
            format == image::ImageFormat::Tiff && matches!(r, Err(ImagingError::Undecodable { .. }))
                || too_large(r)
        };
        assert!(
            refused(planned.clone().map(drop)),
            "{format:?}: {planned:?}"
        );
        assert!(refused(fitted.map(drop)), "{format:?}");
        assert!(
            started.elapsed().as_secs() < 2,
            "{format:?}: {:?}",
            started.elapsed()
        );
    }
}

/// 9000x9000 grey zeros: 81 MB of pixels deflated to well under a megabyte, which decoding
/// would inflate and then triple into RGB.
fn png_bomb() -> Vec<u8> {
    let side = 9000;
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; side as usize];
    for _ in 0..side {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    drop(writer);
    out
}

#[test]
fn a_png_bomb_is_refused_before_its_pixels_are_inflated() {
    let bomb = png_bomb();
    assert!(bomb.len() < 2 * 1024 * 1024, "{}", bomb.len());
    assert!(too_large(reference_work_bytes(&bomb, &SEEDREAM)));
    assert!(too_large(fit_reference(&bomb, &SEEDREAM)));
    assert!(too_large(preview(&bomb, 1024, 80)));
}

#[test]
fn a_jpeg_claiming_16000_px_is_planned_at_a_dct_scale_within_the_work_budget() {
    let jpeg = with_dimensions(
        image::ImageFormat::Jpeg,
        sample(image::ImageFormat::Jpeg),
        16000,
        16000,
    );
    assert!(jpeg.len() < 1000, "{}", jpeg.len());
    let plan = decode::plan(&jpeg, &|w, h| {
        resize::within_pixels(w, h, SEEDREAM.max_pixels)
    })
    .unwrap();
    assert_eq!(plan.source, (16000, 16000));
    assert!(plan.work_bytes <= MAX_WORK_BYTES, "{plan:?}");
    assert!(
        u64::from(plan.decoded.0) * u64::from(plan.decoded.1) <= SEEDREAM.max_pixels,
        "{plan:?}"
    );
    let work = reference_work_bytes(&jpeg, &SEEDREAM).unwrap();
    assert!(work > 0 && work <= MAX_WORK_BYTES, "{work}");
}

/// A small progressive JPEG whose last scan is repeated until it has `scans` of them.
fn jpeg_with_scans(scans: usize) -> Vec<u8> {
    let rgb = photo_rgb(64, 48);
    let mut bytes = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut bytes, 85);
    encoder.set_progressive(true);
    encoder
        .encode(rgb.as_raw(), 64, 48, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let end = bytes.len() - 2;
    let scan = bytes[last_scan..end].to_vec();
    let have = super::jpeg::scan_count(&bytes);
    bytes.truncate(end);
    for _ in have..scans {
        bytes.extend_from_slice(&scan);
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    bytes
}

#[test]
fn a_progressive_jpeg_with_2000_scans_is_refused_before_decoding() {
    let normal = jpeg_with_scans(0);
    assert!(fit_reference(&normal, &SEEDREAM).is_ok());
    assert!(preview(&normal, 32, 80).is_ok());
    let hostile = jpeg_with_scans(2000);
    assert_eq!(super::jpeg::scan_count(&hostile), 2000);
    // Over the byte cap, so fitting has to decode it.
    let small_cap = ReferenceLimits {
        max_bytes: 1000,
        ..SEEDREAM
    };
    let expected = ImagingError::TooManyScans {
        scans: 2000,
        max: super::jpeg::MAX_SCANS,
    };
    assert_eq!(
        reference_work_bytes(&hostile, &small_cap),
        Err(expected.clone())
    );
    assert_eq!(fit_reference(&hostile, &small_cap), Err(expected.clone()));
    assert_eq!(preview(&hostile, 32, 80), Err(expected.clone()));
    assert!(expected.to_string().contains("baseline"), "{expected}");
}

#[test]
fn a_cancelled_fit_stops_before_decoding_and_between_bands_of_rows() {
    let big = super::test_images::photo_jpeg(1600, 1200);
    let small = ReferenceLimits {
        max_pixels: 500_000,
        ..SEEDREAM
    };
    assert_eq!(
        fit_reference_cancellable(&big, &small, &|| true),
        Err(ImagingError::Cancelled)
    );
    // Cancelled after the first band: the decode stops part-way through its rows.
    let asked = Cell::new(0);
    let after_one_band = || {
        asked.set(asked.get() + 1);
        asked.get() > 2
    };
    assert_eq!(
        fit_reference_cancellable(&big, &small, &after_one_band),
        Err(ImagingError::Cancelled)
    );
    assert!(asked.get() >= 3, "{}", asked.get());
    assert!(fit_reference_cancellable(&big, &small, &|| false).is_ok());
}

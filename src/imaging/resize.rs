//! Target sizes and SIMD resampling. Sizes are computed here once so previews, budgets and
//! reference fitting round the same way.

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::pixels::U8x3;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::ImagingError;
use super::pixels::Pixels;

/// The size whose long edge is at most `max_edge`, keeping the aspect ratio; never larger than
/// the original.
pub(crate) fn within_edge(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let max_edge = max_edge.max(1);
    let long = width.max(height);
    if long <= max_edge {
        return (width, height);
    }
    let scale = f64::from(max_edge) / f64::from(long);
    let shrink = |side: u32| ((f64::from(side) * scale).round() as u32).clamp(1, max_edge);
    if width >= height {
        (max_edge, shrink(height))
    } else {
        (shrink(width), max_edge)
    }
}

/// The largest size with the same aspect ratio and at most `max_pixels` pixels; never larger
/// than the original.
pub(crate) fn within_pixels(width: u32, height: u32, max_pixels: u64) -> (u32, u32) {
    let pixels = u64::from(width) * u64::from(height);
    if pixels <= max_pixels {
        return (width, height);
    }
    let scale = (max_pixels as f64 / pixels as f64).sqrt();
    // Rounding down keeps the product under the cap; the loop guards float error at the edge.
    let mut w = ((f64::from(width) * scale).floor() as u32).max(1);
    let mut h = ((f64::from(height) * scale).floor() as u32).max(1);
    while u64::from(w) * u64::from(h) > max_pixels && (w > 1 || h > 1) {
        if w >= h {
            w -= 1;
        } else {
            h -= 1;
        }
    }
    (w, h)
}

/// Resamples to exactly `width` x `height`. Catmull-Rom: as sharp as Lanczos at preview sizes
/// for less work.
pub(crate) fn resize(src: &Pixels, width: u32, height: u32) -> Result<Pixels, ImagingError> {
    if (src.width, src.height) == (width, height) {
        return Ok(src.clone());
    }
    let failed = |e: &dyn std::fmt::Display| ImagingError::internal("resizing", e);
    let from =
        ImageRef::new(src.width, src.height, &src.rgb, PixelType::U8x3).map_err(|e| failed(&e))?;
    let mut to = Image::new(width, height, PixelType::U8x3);
    // Typed views: the untyped `resize` would instantiate the resampler for all 13 pixel types.
    let (Some(from_typed), Some(mut to_typed)) =
        (from.typed_image::<U8x3>(), to.typed_image_mut::<U8x3>())
    else {
        return Err(failed(&"pixel type mismatch"));
    };
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::CatmullRom));
    Resizer::new()
        .resize_typed(&from_typed, &mut to_typed, &options)
        .map_err(|e| failed(&e))?;
    Ok(Pixels {
        width,
        height,
        rgb: to.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_long_edge_is_capped_and_the_ratio_kept() {
        assert_eq!(within_edge(4096, 2048, 1024), (1024, 512));
        assert_eq!(within_edge(2000, 3000, 1000), (667, 1000));
    }

    #[test]
    fn small_images_keep_their_size() {
        assert_eq!(within_edge(300, 200, 1024), (300, 200));
    }

    #[test]
    fn a_sliver_keeps_at_least_one_pixel() {
        assert_eq!(within_edge(10_000, 2, 100), (100, 1));
    }

    #[test]
    fn eight_thousand_by_six_thousand_fits_thirty_six_megapixels_as_6928_by_5196() {
        assert_eq!(within_pixels(8000, 6000, 36_000_000), (6928, 5196));
    }

    #[test]
    fn the_pixel_cap_is_never_exceeded() {
        for (w, h) in [(9999, 7777), (12_345, 3_001), (6001, 6001), (30_000, 1_900)] {
            let (fw, fh) = within_pixels(w, h, 36_000_000);
            assert!(
                u64::from(fw) * u64::from(fh) <= 36_000_000,
                "{w}x{h} -> {fw}x{fh}"
            );
            let before = f64::from(w) / f64::from(h);
            let after = f64::from(fw) / f64::from(fh);
            assert!(
                (before - after).abs() / before < 0.01,
                "{w}x{h} -> {fw}x{fh}"
            );
        }
    }

    #[test]
    fn resizing_produces_the_requested_size() {
        let src = Pixels {
            width: 4,
            height: 2,
            rgb: vec![128; 4 * 2 * 3],
        };
        let out = resize(&src, 2, 1).unwrap();
        assert_eq!((out.width, out.height, out.rgb.len()), (2, 1, 6));
        assert!(out.rgb.iter().all(|&v| v == 128));
    }
}

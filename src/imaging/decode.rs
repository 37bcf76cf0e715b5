//! Bytes to upright RGB pixels at the size the caller asks for, decoding no more than needed:
//! JPEGs are scaled in the DCT domain (see [`super::jpeg`]), so a 4096 px photo previewed at
//! 1024 px never exists at full size. Other formats decode at full size and are resized straight away.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::ImagingError;
use super::pixels::Pixels;
use super::resize;
use crate::seedream::ImageFormat;

/// The most memory one decoded image may take (the `image` crate's own default): enough for
/// 36 MP RGBA with room to spare, and a refusal instead of an abort for decompression bombs.
pub(super) const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// The most pixels an image may declare in its header. Cost and memory follow the declared
/// size rather than the file size (a JPEG whose scan ends early is filled in with grey, so a
/// few hundred bytes can claim 65535x65535), so anything larger is refused before decoding.
/// 2^28 = 16384x16384 still takes the largest photos cameras make (about 200 MP).
pub(crate) const MAX_SOURCE_PIXELS: u64 = 1 << 28;

/// Refuses declared dimensions above [`MAX_SOURCE_PIXELS`], before anything is allocated.
pub(super) fn check_declared(width: u32, height: u32) -> Result<(), ImagingError> {
    if u64::from(width) * u64::from(height) > MAX_SOURCE_PIXELS {
        return Err(ImagingError::TooLargeToDecode { width, height });
    }
    Ok(())
}

/// An image decoded, resized and turned upright.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub pixels: Pixels,
    /// The size stored in the file before any scaling, as seen upright.
    pub source: (u32, u32),
    /// Some pixel was not fully opaque and has been flattened onto white.
    pub translucent: bool,
    /// The EXIF orientation turned or flipped the pixels.
    pub reoriented: bool,
}

/// The size wanted for an image of the given stored size; never larger.
pub(crate) type Target<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

/// Decodes `bytes` and resizes them to `target(stored_width, stored_height)`; the result is
/// then turned upright. (A `dyn` target keeps one copy of the generic decoder code.)
pub(crate) fn load(bytes: &[u8], target: Target<'_>) -> Result<Loaded, ImagingError> {
    let format = ImageFormat::sniff(bytes).ok_or(ImagingError::Unrecognised)?;
    let raw = match format {
        ImageFormat::Jpeg => super::jpeg::decode(bytes, target)?,
        other => decode_other(bytes, other)?,
    };
    let (width, height) = target(raw.source.0, raw.source.1);
    let pixels = if (raw.pixels.width, raw.pixels.height) == (width, height) {
        raw.pixels
    } else {
        resize::resize(&raw.pixels, width, height)?
    };
    let (pixels, reoriented) = pixels.orient(raw.orientation)?;
    let source = if swaps_axes(raw.orientation) {
        (raw.source.1, raw.source.0)
    } else {
        raw.source
    };
    Ok(Loaded {
        pixels,
        source,
        translucent: raw.translucent,
        reoriented,
    })
}

/// Pixels as decoded, before the final resize and rotation.
#[derive(Debug)]
pub(super) struct Raw {
    pub(super) pixels: Pixels,
    pub(super) source: (u32, u32),
    pub(super) orientation: Orientation,
    pub(super) translucent: bool,
}

fn decode_other(bytes: &[u8], format: ImageFormat) -> Result<Raw, ImagingError> {
    let codec = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        ImageFormat::Tiff => image::ImageFormat::Tiff,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Jpeg => image::ImageFormat::Jpeg,
    };
    let mut reader = ImageReader::with_format(Cursor::new(bytes), codec);
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| image_error(format, bytes, e))?;
    let source = decoder.dimensions();
    check_declared(source.0, source.1)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // GIF and animated WebP: the first frame, which is what a still reference can carry.
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, bytes, e))?;
    let (pixels, translucent) = Pixels::from_dynamic(image);
    Ok(Raw {
        pixels,
        source,
        orientation,
        translucent,
    })
}

fn image_error(format: ImageFormat, bytes: &[u8], error: image::ImageError) -> ImagingError {
    match error {
        image::ImageError::Limits(_) => {
            let size = imagesize::blob_size(bytes).ok();
            ImagingError::TooLargeToDecode {
                width: size.map_or(0, |s| u32::try_from(s.width).unwrap_or(u32::MAX)),
                height: size.map_or(0, |s| u32::try_from(s.height).unwrap_or(u32::MAX)),
            }
        }
        other => ImagingError::undecodable(format, other),
    }
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

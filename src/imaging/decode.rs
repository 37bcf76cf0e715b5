//! Bytes to upright RGB pixels at the size the caller asks for, decoding no more than needed:
//! JPEGs are scaled in the DCT domain (see [`super::jpeg`]), so a 4096 px photo previewed at
//! 1024 px never exists at full size. Other formats decode at full size and are resized straight away.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};

use super::ImagingError;
use super::pixels::Pixels;
use super::resize;
use seedream::ImageFormat;

/// The most memory the `image` crate may allocate for one image, whatever it is asked: a
/// backstop under [`MAX_WORK_BYTES`], which is what is checked first.
pub(super) const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// The most memory decoding, resizing and re-encoding one image may take, estimated from its
/// header before anything is allocated. 36 MP (the upstream's reference cap) in any 8-bit
/// format fits, so every image the upstream accepts can still be fitted; a canvas that would
/// need more (a 43-byte GIF declaring 11000x11000, a PNG bomb) is refused before it is decoded.
/// With the process's baseline this keeps one image's peak under 300 MB.
pub(crate) const MAX_WORK_BYTES: u64 = 256 * 1024 * 1024;

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

/// Whether the caller has given up: checked between decoding stages (and between rows of a
/// JPEG), so a cancelled call stops spending CPU and frees its memory soon.
pub(crate) type Cancelled<'a> = &'a dyn Fn() -> bool;

/// Never cancelled.
pub(crate) fn running() -> bool {
    false
}

/// How an image will be decoded, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The stored size.
    pub source: (u32, u32),
    /// The size the decoder produces (a JPEG's DCT scale), before resizing.
    pub decoded: (u32, u32),
    /// The size after resizing; at most `decoded`.
    pub target: (u32, u32),
    /// Estimated peak memory of the whole job in bytes, at most [`MAX_WORK_BYTES`].
    pub work_bytes: u64,
}

/// The plan for decoding `bytes` to `target(stored size)`, or why it would cost too much.
pub(crate) fn plan(bytes: &[u8], target: Target<'_>) -> Result<Plan, ImagingError> {
    match ImageFormat::sniff(bytes).ok_or(ImagingError::Unrecognised)? {
        ImageFormat::Jpeg => super::jpeg::plan(bytes, target),
        other => {
            let (decoder, _) = open_other(bytes, other)?;
            plan_other(&decoder, target)
        }
    }
}

/// Bytes of 8-bit RGB at this size.
pub(super) fn rgb_bytes((w, h): (u32, u32)) -> u64 {
    u64::from(w) * u64::from(h) * 3
}

/// The peak of the stages after decoding, given what decoding itself takes: the resize holds
/// source, its one-axis intermediate and result; rotating or re-encoding hold about two
/// results and a compressed copy.
pub(super) fn work_bytes(decode: u64, decoded: (u32, u32), target: (u32, u32)) -> u64 {
    let resize = if decoded == target {
        0
    } else {
        let intermediate = (u64::from(decoded.0) * u64::from(target.1))
            .max(u64::from(target.0) * u64::from(decoded.1))
            * 3;
        rgb_bytes(decoded) + intermediate + rgb_bytes(target)
    };
    let finish = rgb_bytes(target) * 9 / 4;
    decode.max(resize).max(finish)
}

fn too_large((width, height): (u32, u32)) -> ImagingError {
    ImagingError::TooLargeToDecode { width, height }
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
    load_cancellable(bytes, target, &running)
}

/// [`load`], refused when its [`plan`] costs more than [`MAX_WORK_BYTES`] and stopped between
/// stages once `cancelled` says so. A JPEG may come out smaller than `target` when decoding at
/// the covering DCT scale would cost too much.
pub(crate) fn load_cancellable(
    bytes: &[u8],
    target: Target<'_>,
    cancelled: Cancelled<'_>,
) -> Result<Loaded, ImagingError> {
    let format = ImageFormat::sniff(bytes).ok_or(ImagingError::Unrecognised)?;
    let (raw, plan) = match format {
        ImageFormat::Jpeg => {
            let plan = super::jpeg::plan(bytes, target)?;
            (super::jpeg::decode(bytes, &plan, cancelled)?, plan)
        }
        other => decode_other(bytes, other, target)?,
    };
    check(cancelled)?;
    let Raw {
        pixels,
        source,
        orientation,
        translucent,
    } = raw;
    let (width, height) = plan.target;
    let pixels = if (pixels.width, pixels.height) == (width, height)
        || pixels.width < width
        || pixels.height < height
    {
        pixels
    } else {
        // The source is dropped here, before rotating: two full-size buffers at most.
        resize::resize(&pixels, width, height)?
    };
    check(cancelled)?;
    let (pixels, reoriented) = pixels.orient(orientation)?;
    let source = if swaps_axes(orientation) {
        (source.1, source.0)
    } else {
        source
    };
    Ok(Loaded {
        pixels,
        source,
        translucent,
        reoriented,
    })
}

/// `Err(Cancelled)` once the caller has given up.
pub(crate) fn check(cancelled: Cancelled<'_>) -> Result<(), ImagingError> {
    if cancelled() {
        return Err(ImagingError::Cancelled);
    }
    Ok(())
}

/// Pixels as decoded, before the final resize and rotation.
#[derive(Debug)]
pub(super) struct Raw {
    pub(super) pixels: Pixels,
    pub(super) source: (u32, u32),
    pub(super) orientation: Orientation,
    pub(super) translucent: bool,
}

fn open_other(
    bytes: &[u8],
    format: ImageFormat,
) -> Result<(impl ImageDecoder + use<'_>, ImageFormat), ImagingError> {
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
    let decoder = reader
        .into_decoder()
        .map_err(|e| image_error(format, bytes, e))?;
    Ok((decoder, format))
}

/// The canvas every format declares (a GIF's logical screen, a TIFF's first page, PNG, WebP
/// and BMP headers) decides the cost: the decoded buffer in its own colour type, plus the
/// 8-bit copy made from it (RGBA is flattened to RGB in place, so it counts once).
fn plan_other(decoder: &impl ImageDecoder, target: Target<'_>) -> Result<Plan, ImagingError> {
    let source = decoder.dimensions();
    check_declared(source.0, source.1)?;
    let pixels = u64::from(source.0) * u64::from(source.1);
    let color = decoder.color_type();
    let converted = match color {
        image::ColorType::Rgb8 | image::ColorType::Rgba8 => 0,
        c if c.has_alpha() => pixels * 4,
        _ => pixels * 3,
    };
    let decode = decoder.total_bytes().saturating_add(converted);
    let wanted = target(source.0, source.1);
    // Resampling holds source, intermediate and result at once; when that is too much, the
    // decoded pixels are first averaged down by a whole factor in place (as a JPEG's DCT scale
    // does), which needs no second buffer.
    for factor in 1..=MAX_SHRINK {
        let decoded = shrunk(source, factor);
        let result = if decoded.0 >= wanted.0 && decoded.1 >= wanted.1 {
            wanted
        } else {
            decoded
        };
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
    Err(too_large(source))
}

/// The largest whole factor decoded pixels are averaged down by.
const MAX_SHRINK: u32 = 8;

fn shrunk((width, height): (u32, u32), factor: u32) -> (u32, u32) {
    if factor <= 1 || width < factor || height < factor {
        return (width, height);
    }
    (width / factor, height / factor)
}

fn decode_other(
    bytes: &[u8],
    format: ImageFormat,
    target: Target<'_>,
) -> Result<(Raw, Plan), ImagingError> {
    let (mut decoder, format) = open_other(bytes, format)?;
    let plan = plan_other(&decoder, target)?;
    // A GIF frame that does not cover the screen is decoded into a buffer of its own first,
    // sized by the frame's header (up to 65535x65535 whatever the screen): it gets what the
    // screen left of the work budget.
    if format == ImageFormat::Gif {
        let mut limits = Limits::default();
        limits.max_alloc = Some(MAX_WORK_BYTES.saturating_sub(decoder.total_bytes()).max(1));
        decoder
            .set_limits(limits)
            .map_err(|e| image_error(format, bytes, e))?;
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    // GIF, animated WebP and multi-page TIFF: the first frame only, which is what a still
    // reference can carry, so frame counts cost nothing.
    let image = DynamicImage::from_decoder(decoder).map_err(|e| image_error(format, bytes, e))?;
    let (pixels, translucent) = Pixels::from_dynamic(image);
    let factor = (1..=MAX_SHRINK)
        .find(|&f| shrunk(plan.source, f) == plan.decoded)
        .unwrap_or(1);
    let pixels = pixels.shrink_in_place(factor);
    Ok((
        Raw {
            pixels,
            source: plan.source,
            orientation,
            translucent,
        },
        plan,
    ))
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

//! What can go wrong when reading, shrinking or re-encoding an image, worded for the person who
//! supplied it.

use seedream::ImageFormat;

/// Why an image could not be previewed or made acceptable upstream.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImagingError {
    #[error(
        "the image is not a readable JPEG/PNG/WebP/BMP/TIFF/GIF: its first bytes match none of these \
         formats; send the image file itself, not a web page, an error message or a HEIC/AVIF/SVG file"
    )]
    Unrecognised,

    #[error(
        "the image is not a readable JPEG/PNG/WebP/BMP/TIFF/GIF: the {} data is damaged or unsupported \
         ({reason}); re-save it as a plain JPEG or PNG",
        .format.subtype().to_uppercase()
    )]
    Undecodable { format: ImageFormat, reason: String },

    #[error(
        "the image is {width}x{height} px, too large to decode in memory; downscale it first \
         (e.g. to 4096 px on its long edge)"
    )]
    TooLargeToDecode { width: u32, height: u32 },

    #[error(
        "the JPEG has {scans} scans; at most {max} are decoded, since each is another pass over \
         the whole image: re-save it as a baseline (non-progressive) JPEG or as PNG"
    )]
    TooManyScans { scans: usize, max: usize },

    #[error(
        "the image is {width}x{height} px; each side must be at least {min_side} px: use a larger \
         image (scaling a sliver up would only blur it)"
    )]
    TooSmall {
        width: u32,
        height: u32,
        min_side: u32,
    },

    #[error(
        "the image is {width}x{height} px, an aspect ratio of {ratio:.1}:1; at most {max_ratio}:1 \
         is accepted: crop it closer to square (scaling keeps the ratio, so it cannot fix this)"
    )]
    AspectRatio {
        width: u32,
        height: u32,
        ratio: f64,
        max_ratio: f64,
    },

    #[error(
        "the image cannot be brought under {limit} without shrinking a side below {min_side} px; \
         send a smaller or simpler image"
    )]
    CannotFit {
        /// The limit that could not be met, with its unit ("10,485,760 bytes").
        limit: String,
        min_side: u32,
    },

    /// The caller stopped waiting (a cancelled call) and the work was abandoned.
    #[error("the image was not processed because the call was cancelled")]
    Cancelled,

    /// Resizing or encoding failed on pixels we produced ourselves: a bug, not bad input.
    #[error("internal imaging error while {stage}: {reason}")]
    Internal { stage: &'static str, reason: String },
}

impl ImagingError {
    pub(crate) fn undecodable(format: ImageFormat, reason: impl ToString) -> Self {
        ImagingError::Undecodable {
            format,
            reason: reason.to_string(),
        }
    }

    pub(crate) fn internal(stage: &'static str, reason: impl ToString) -> Self {
        ImagingError::Internal {
            stage,
            reason: reason.to_string(),
        }
    }
}

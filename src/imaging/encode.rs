//! JPEG encoding of [`Pixels`], the only output format: every client and the upstream accept it,
//! and it is the smallest for photographic content.

use jpeg_encoder::{ColorType, Encoder};

use super::ImagingError;
use super::pixels::Pixels;

/// Encodes at `quality` (clamped to 1–100). Baseline, not progressive: half the encoding time,
/// and previews are read whole, never streamed.
pub(crate) fn jpeg(pixels: &Pixels, quality: u8) -> Result<Vec<u8>, ImagingError> {
    let too_wide = |_| ImagingError::internal("encoding", "JPEG sides are limited to 65,535 px");
    let width = u16::try_from(pixels.width).map_err(too_wide)?;
    let height = u16::try_from(pixels.height).map_err(too_wide)?;
    // Compressed photos land well under a byte per pixel; reserving avoids regrowing the buffer.
    let mut out = Vec::with_capacity(pixels.rgb.len() / 6);
    Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(&pixels.rgb, width, height, ColorType::Rgb)
        .map_err(|e| ImagingError::internal("encoding", e))?;
    // Previews are kept until the result is sent; the reserve is several times their size.
    out.shrink_to_fit();
    Ok(out)
}

/// The length of the padded base64 text of `bytes`: what a client counts against its limits.
pub(crate) fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_pixels_decode_to_the_same_size() {
        let pixels = Pixels {
            width: 33,
            height: 17,
            rgb: vec![90; 33 * 17 * 3],
        };
        let bytes = jpeg(&pixels, 80).unwrap();
        let mut decoder = jpeg_decoder::Decoder::new(bytes.as_slice());
        decoder.decode().unwrap();
        let info = decoder.info().unwrap();
        assert_eq!((info.width, info.height), (33, 17));
    }

    #[test]
    fn base64_length_counts_padding() {
        assert_eq!(base64_len(0), 0);
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
    }
}

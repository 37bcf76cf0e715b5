//! Property tests of the decoders behind previews and reference fitting: arbitrary, truncated
//! and corrupted bytes never panic, and headers declaring huge dimensions are refused from the
//! header alone (a refusal in microseconds, where decoding would allocate for the whole image).

use proptest::prelude::*;

use super::decode::MAX_SOURCE_PIXELS;
use super::test_images::{encode_as, photo_jpeg, photo_rgba};
use super::{ImagingError, ReferenceLimits, fit_reference, preview};

const FORMATS: [image::ImageFormat; 6] = [
    image::ImageFormat::Jpeg,
    image::ImageFormat::Png,
    image::ImageFormat::WebP,
    image::ImageFormat::Bmp,
    image::ImageFormat::Tiff,
    image::ImageFormat::Gif,
];

/// A small real image in `format`.
pub(super) fn sample(format: image::ImageFormat) -> Vec<u8> {
    match format {
        image::ImageFormat::Jpeg => photo_jpeg(24, 16),
        other => encode_as(&photo_rgba(24, 16), other),
    }
}

/// The largest sides each format's header can declare.
fn max_side(format: image::ImageFormat) -> u32 {
    match format {
        image::ImageFormat::Jpeg | image::ImageFormat::Gif => u32::from(u16::MAX),
        image::ImageFormat::WebP => 1 << 14,
        _ => 1 << 20,
    }
}

/// `bytes` (from [`sample`]) with its header saying `width` x `height`.
pub(super) fn with_dimensions(
    format: image::ImageFormat,
    mut b: Vec<u8>,
    width: u32,
    height: u32,
) -> Vec<u8> {
    let put =
        |b: &mut Vec<u8>, at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    match format {
        image::ImageFormat::Png => {
            put(&mut b, 16, &width.to_be_bytes());
            put(&mut b, 20, &height.to_be_bytes());
            let crc = crc32(&b[12..29]);
            put(&mut b, 29, &crc.to_be_bytes());
        }
        image::ImageFormat::Jpeg => {
            let sof = (0..b.len() - 1)
                .find(|&i| b[i] == 0xFF && (0xC0..=0xC2).contains(&b[i + 1]))
                .unwrap();
            put(&mut b, sof + 5, &(height as u16).to_be_bytes());
            put(&mut b, sof + 7, &(width as u16).to_be_bytes());
        }
        image::ImageFormat::Gif => {
            put(&mut b, 6, &(width as u16).to_le_bytes());
            put(&mut b, 8, &(height as u16).to_le_bytes());
        }
        image::ImageFormat::Bmp => {
            put(&mut b, 18, &(width as i32).to_le_bytes());
            put(&mut b, 22, &(height as i32).to_le_bytes());
        }
        image::ImageFormat::WebP => {
            let vp8l = b.windows(4).position(|w| w == b"VP8L").unwrap();
            // After the chunk header and the 0x2F signature: 14 bits each of width-1 and
            // height-1, then the alpha flag and version, which are kept.
            let at = vp8l + 9;
            let old = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
            let bits = (old & 0xF000_0000) | (width - 1) | ((height - 1) << 14);
            put(&mut b, at, &bits.to_le_bytes());
        }
        image::ImageFormat::Tiff => {
            assert_eq!(&b[..2], b"II", "the encoder writes little-endian TIFF");
            let ifd = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
            let entries = u16::from_le_bytes([b[ifd], b[ifd + 1]]) as usize;
            for e in (0..entries).map(|k| ifd + 2 + 12 * k) {
                let tag = u16::from_le_bytes([b[e], b[e + 1]]);
                let value = match tag {
                    256 => width,
                    257 => height,
                    _ => continue,
                };
                // Rewritten as a LONG so any size fits.
                put(&mut b, e + 2, &4u16.to_le_bytes());
                put(&mut b, e + 8, &value.to_le_bytes());
            }
        }
        other => unreachable!("{other:?}"),
    }
    b
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

fn format() -> impl Strategy<Value = image::ImageFormat> {
    proptest::sample::select(FORMATS.to_vec())
}

/// Both calls that decode untrusted bytes; neither may panic, whatever the outcome.
fn decode_both(bytes: &[u8]) -> (Result<(), ImagingError>, Result<(), ImagingError>) {
    (
        preview(bytes, 256, 70).map(drop),
        fit_reference(bytes, &ReferenceLimits::DOCUMENTED).map(drop),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_behind_any_magic_number_are_refused_without_panicking(
        magic in proptest::sample::select(vec![
            &b""[..], b"\xFF\xD8\xFF", b"\x89PNG\r\n\x1a\n", b"RIFF\0\0\0\0WEBPVP8L", b"BM", b"II*\0", b"MM\0*", b"GIF89a",
        ]),
        tail in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let bytes = [magic, &tail].concat();
        let _ = decode_both(&bytes);
    }

    #[test]
    fn truncated_or_corrupted_images_never_panic(
        format in format(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let mut bytes = sample(format);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value;
        }
        let keep = cut.index(bytes.len() + 1);
        bytes.truncate(keep.max(bytes.len() / 2));
        let _ = decode_both(&bytes);
        let _ = decode_both(&bytes[..keep]);
    }

    #[test]
    fn small_declared_dimensions_never_panic(format in format(), w in 1u32..300, h in 1u32..300) {
        let _ = decode_both(&with_dimensions(format, sample(format), w, h));
    }

    #[test]
    fn huge_declared_dimensions_are_refused_from_the_header(
        format in format(),
        (w, h) in (1u32..=u32::from(u16::MAX) * 16, 1u32..=u32::from(u16::MAX) * 16),
    ) {
        let (w, h) = (w.min(max_side(format)), h.min(max_side(format)));
        // WebP cannot declare more than 16384x16384; above 2^27 pixels its RGBA buffer alone
        // passes the decoder's 512 MiB allocation cap.
        let floor = if format == image::ImageFormat::WebP { 1 << 27 } else { MAX_SOURCE_PIXELS };
        prop_assume!(u64::from(w) * u64::from(h) > floor);
        let bytes = with_dimensions(format, sample(format), w, h);
        let started = std::time::Instant::now();
        let (previewed, fitted) = decode_both(&bytes);
        // JPEG, PNG and GIF headers carry the size alone, so the size check is what refuses
        // them. The other parsers refuse a rewritten size themselves (BMP over 65535 px a side,
        // TIFF strips or a WebP bitstream that no longer match), before allocating too.
        let refused = match &previewed {
            Err(ImagingError::TooLargeToDecode { .. }) => true,
            Err(ImagingError::Undecodable { .. }) => !matches!(
                format,
                image::ImageFormat::Jpeg | image::ImageFormat::Png | image::ImageFormat::Gif
            ),
            _ => false,
        };
        prop_assert!(refused, "{format:?} {w}x{h}: {previewed:?}");
        prop_assert!(fitted.is_err(), "{format:?} {w}x{h}");
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(1), "{format:?} {w}x{h} took {:?}", started.elapsed());
    }
}

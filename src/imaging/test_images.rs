//! Test fixtures made in memory: photo-like pixels (gradients plus noise, so JPEG sizes are
//! realistic rather than those of a flat colour) in every supported format.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Mutex, OnceLock};

use image::{DynamicImage, RgbImage, RgbaImage};

/// Smooth colour gradients with pixel noise: about 0.6 bytes per pixel as a quality-85 JPEG,
/// which keeps debug-build decoding of the 4K fixtures quick; the benchmark uses heavier noise.
pub fn photo_rgb(width: u32, height: u32) -> RgbImage {
    let mut state = 0x9E37_79B9_u32 ^ width.rotate_left(16) ^ height;
    let mut noise = move || {
        // xorshift32: cheap enough to fill 4K images in a debug build.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state & 15) as i32 - 8
    };
    let (w, h) = (width.max(1) as i32, height.max(1) as i32);
    let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..h {
        let gy = y * 255 / h;
        for x in 0..w {
            let gx = x * 255 / w;
            let n = noise();
            rgb.push((gx + n).clamp(0, 255) as u8);
            rgb.push((gy + n / 2).clamp(0, 255) as u8);
            rgb.push((255 - (gx + gy) / 2 + n).clamp(0, 255) as u8);
        }
    }
    RgbImage::from_raw(width, height, rgb).unwrap()
}

/// The same content with alpha falling from opaque (left) to half transparent (right).
pub fn photo_rgba(width: u32, height: u32) -> DynamicImage {
    let rgb = photo_rgb(width, height);
    let rgba = RgbaImage::from_fn(width, height, |x, y| {
        let [r, g, b] = rgb.get_pixel(x, y).0;
        image::Rgba([r, g, b, (255 - x * 128 / width.max(1)) as u8])
    });
    DynamicImage::ImageRgba8(rgba)
}

/// A quality-85 JPEG of [`photo_rgb`]; the large ones are built once per test run.
pub fn photo_jpeg(width: u32, height: u32) -> Vec<u8> {
    type Cache = Mutex<HashMap<(u32, u32), Vec<u8>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(bytes) = cache.lock().unwrap().get(&(width, height)) {
        return bytes.clone();
    }
    let bytes = encode_rgb_jpeg(&photo_rgb(width, height), 85);
    if width * height >= 1_000_000 {
        cache.lock().unwrap().insert((width, height), bytes.clone());
    }
    bytes
}

pub fn encode_rgb_jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, quality)
        .encode(
            image.as_raw(),
            image.width() as u16,
            image.height() as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

/// `image` in another container format, through the `image` crate's encoders.
pub fn encode_as(image: &DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// The size of a JPEG, by decoding it completely (so a broken file fails the test).
pub fn jpeg_size(bytes: &[u8]) -> (u32, u32) {
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    (u32::from(info.width), u32::from(info.height))
}

/// `jpeg` with an EXIF APP1 segment right after SOI carrying only an orientation tag (1–8).
pub fn with_exif_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let mut app1 = b"Exif\0\0".to_vec();
    // Little-endian TIFF header, one IFD entry: tag 0x0112 (Orientation), SHORT, count 1.
    app1.extend_from_slice(&[
        b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
    ]);
    app1.extend_from_slice(&[orientation, 0, 0, 0, 0, 0, 0, 0]);
    let len = (app1.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

//! The one in-memory form every decoder produces: 8-bit RGB, transparency already flattened, so
//! resizing and JPEG encoding need to handle a single layout.

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};

use super::ImagingError;

/// Tightly packed 8-bit RGB pixels, row by row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pixels {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl Pixels {
    /// Takes a decoded image of any colour type; reports whether any pixel was translucent.
    pub(crate) fn from_dynamic(image: DynamicImage) -> (Pixels, bool) {
        if image.color().has_alpha() {
            flatten_onto_white(image.into_rgba8())
        } else {
            (Pixels::from_rgb(image.into_rgb8()), false)
        }
    }

    /// Grey levels as RGB (JPEG's single-component images).
    pub(crate) fn from_luma(width: u32, height: u32, luma: &[u8]) -> Pixels {
        let rgb = luma.iter().flat_map(|&l| [l, l, l]).collect();
        Pixels { width, height, rgb }
    }

    /// JPEG CMYK as ink amounts (0 = none), the Adobe inversion
    /// already undone. Naive conversion without a colour profile, as for previews.
    pub(crate) fn from_cmyk(width: u32, height: u32, cmyk: &[u8]) -> Pixels {
        let rgb = cmyk
            .chunks_exact(4)
            .flat_map(|px| match *px {
                [c, m, y, k] => {
                    let paper = 255 - k;
                    [
                        mul255(255 - c, paper),
                        mul255(255 - m, paper),
                        mul255(255 - y, paper),
                    ]
                }
                _ => [0, 0, 0],
            })
            .collect();
        Pixels { width, height, rgb }
    }

    /// Averages each `factor` x `factor` block into one pixel, in the same buffer (every
    /// output pixel is written at or before the first input it reads, in raster order), so
    /// shrinking costs no second image. Leftover edge columns and rows are dropped.
    pub(crate) fn shrink_in_place(mut self, factor: u32) -> Pixels {
        let k = factor as usize;
        let (w, h) = (self.width as usize, self.height as usize);
        if k <= 1 || w < k || h < k {
            return self;
        }
        let (out_w, out_h) = (w / k, h / k);
        let area = (k * k) as u32;
        for y in 0..out_h {
            for x in 0..out_w {
                let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
                for dy in 0..k {
                    let start = ((y * k + dy) * w + x * k) * 3;
                    for px in self
                        .rgb
                        .get(start..start + 3 * k)
                        .unwrap_or_default()
                        .chunks_exact(3)
                    {
                        if let [pr, pg, pb] = *px {
                            r += u32::from(pr);
                            g += u32::from(pg);
                            b += u32::from(pb);
                        }
                    }
                }
                let average = |sum: u32| u8::try_from((sum + area / 2) / area).unwrap_or(u8::MAX);
                let at = (y * out_w + x) * 3;
                if let Some(out) = self.rgb.get_mut(at..at + 3) {
                    out.copy_from_slice(&[average(r), average(g), average(b)]);
                }
            }
        }
        self.rgb.truncate(out_w * out_h * 3);
        self.rgb.shrink_to_fit();
        Pixels {
            width: out_w as u32,
            height: out_h as u32,
            rgb: self.rgb,
        }
    }

    /// Turns the pixels upright as the EXIF orientation says; reports whether anything moved.
    pub(crate) fn orient(self, orientation: Orientation) -> Result<(Pixels, bool), ImagingError> {
        if orientation == Orientation::NoTransforms {
            return Ok((self, false));
        }
        let buffer = RgbImage::from_raw(self.width, self.height, self.rgb)
            .ok_or_else(|| ImagingError::internal("rotating", "pixel buffer size mismatch"))?;
        let mut image = DynamicImage::ImageRgb8(buffer);
        image.apply_orientation(orientation);
        Ok((Pixels::from_rgb(image.into_rgb8()), true))
    }

    fn from_rgb(image: RgbImage) -> Pixels {
        let (width, height) = image.dimensions();
        Pixels {
            width,
            height,
            rgb: image.into_raw(),
        }
    }
}

/// JPEG has no alpha; white matches how most viewers show transparency on a page.
///
/// Done in place (each RGB triple is written at or before the RGBA quad it comes from), so a
/// large RGBA image never exists twice: this is the peak of a PNG or GIF decode.
fn flatten_onto_white(image: RgbaImage) -> (Pixels, bool) {
    let (width, height) = image.dimensions();
    let mut buf = image.into_raw();
    let mut translucent = false;
    let count = buf.len() / 4;
    for i in 0..count {
        let Some(&[r, g, b, a]) = buf.get(4 * i..4 * i + 4) else {
            break;
        };
        let rgb = match a {
            255 => [r, g, b],
            _ => {
                translucent = true;
                [over_white(r, a), over_white(g, a), over_white(b, a)]
            }
        };
        if let Some(out) = buf.get_mut(3 * i..3 * i + 3) {
            out.copy_from_slice(&rgb);
        }
    }
    buf.truncate(3 * count);
    buf.shrink_to_fit();
    (
        Pixels {
            width,
            height,
            rgb: buf,
        },
        translucent,
    )
}

fn over_white(channel: u8, alpha: u8) -> u8 {
    let (c, a) = (u32::from(channel), u32::from(alpha));
    u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
}

fn mul255(a: u8, b: u8) -> u8 {
    u8::try_from((u32::from(a) * u32::from(b) + 127) / 255).unwrap_or(u8::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_pixels_become_white_and_opaque_ones_keep_their_colour() {
        let rgba = RgbaImage::from_raw(2, 1, vec![10, 20, 30, 0, 10, 20, 30, 255]).unwrap();
        let (pixels, translucent) = flatten_onto_white(rgba);
        assert!(translucent);
        assert_eq!(pixels.rgb, vec![255, 255, 255, 10, 20, 30]);
    }

    #[test]
    fn an_opaque_alpha_channel_is_not_reported_as_transparency() {
        let rgba = RgbaImage::from_raw(1, 1, vec![1, 2, 3, 255]).unwrap();
        assert!(!flatten_onto_white(rgba).1);
    }

    #[test]
    fn shrinking_in_place_averages_each_block_and_drops_leftover_edges() {
        let mut rgb = Vec::new();
        for y in 0..5u8 {
            for x in 0..5u8 {
                rgb.extend_from_slice(&[x * 10, y * 10, 200]);
            }
        }
        let pixels = Pixels {
            width: 5,
            height: 5,
            rgb,
        };
        let shrunk = pixels.shrink_in_place(2);
        assert_eq!((shrunk.width, shrunk.height), (2, 2));
        assert_eq!(
            shrunk.rgb,
            vec![5, 5, 200, 25, 5, 200, 5, 25, 200, 25, 25, 200]
        );
    }

    #[test]
    fn half_transparent_black_becomes_mid_grey() {
        assert_eq!(over_white(0, 128), 127);
    }

    #[test]
    fn cmyk_without_ink_is_white_and_full_key_is_black() {
        let pixels = Pixels::from_cmyk(3, 1, &[0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0]);
        assert_eq!(pixels.rgb, vec![255, 255, 255, 0, 0, 0, 0, 255, 255]);
    }

    #[test]
    fn a_quarter_turn_swaps_width_and_height() {
        let pixels = Pixels {
            width: 3,
            height: 1,
            rgb: vec![1, 1, 1, 2, 2, 2, 3, 3, 3],
        };
        let (turned, moved) = pixels.orient(Orientation::Rotate90).unwrap();
        assert!(moved);
        assert_eq!((turned.width, turned.height), (1, 3));
        assert_eq!(turned.rgb, vec![1, 1, 1, 2, 2, 2, 3, 3, 3]);
    }
}

//! Image formats the upstream accepts, recognised by their first bytes rather than by labels.
//! The client needs it itself (a data URI's label is checked against its bytes and corrected),
//! so callers that sniff downloaded images use the same table.

/// A reference or output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP.
    Webp,
    /// BMP.
    Bmp,
    /// TIFF.
    Tiff,
    /// GIF.
    Gif,
}

impl ImageFormat {
    /// Recognises the format from magic bytes.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        Some(match bytes {
            [0xFF, 0xD8, 0xFF, ..] => ImageFormat::Jpeg,
            [0x89, b'P', b'N', b'G', ..] => ImageFormat::Png,
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'E',
                b'B',
                b'P',
                ..,
            ] => ImageFormat::Webp,
            [b'B', b'M', ..] => ImageFormat::Bmp,
            [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => ImageFormat::Tiff,
            [b'G', b'I', b'F', b'8', ..] => ImageFormat::Gif,
            _ => return None,
        })
    }

    /// The lowercase subtype used in data URIs (`jpeg`, never `jpg`).
    pub fn subtype(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Gif => "gif",
        }
    }

    /// `image/jpeg`, `image/png`…
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Gif => "image/gif",
        }
    }

    /// Reads a data-URI subtype, accepting the common misspellings (`JPG`, `image/PNG`).
    pub fn from_subtype(s: &str) -> Option<ImageFormat> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" | "pjpeg" => ImageFormat::Jpeg,
            "png" => ImageFormat::Png,
            "webp" => ImageFormat::Webp,
            "bmp" | "x-ms-bmp" => ImageFormat::Bmp,
            "tiff" | "tif" => ImageFormat::Tiff,
            "gif" => ImageFormat::Gif,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_their_magic_bytes() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::sniff(b"\x89PNG\r\n\x1a\n"),
            Some(ImageFormat::Png)
        );
        assert_eq!(
            ImageFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(ImageFormat::sniff(b"BM\0\0"), Some(ImageFormat::Bmp));
        assert_eq!(ImageFormat::sniff(b"II*\0"), Some(ImageFormat::Tiff));
        assert_eq!(ImageFormat::sniff(b"MM\0*"), Some(ImageFormat::Tiff));
        assert_eq!(ImageFormat::sniff(b"GIF89a"), Some(ImageFormat::Gif));
        assert_eq!(ImageFormat::sniff(b"root:x:0:0"), None);
        assert_eq!(ImageFormat::sniff(b""), None);
    }

    #[test]
    fn data_uri_subtypes_are_normalised() {
        assert_eq!(
            ImageFormat::from_subtype("JPG").map(ImageFormat::subtype),
            Some("jpeg")
        );
        assert_eq!(
            ImageFormat::from_subtype("PNG").map(ImageFormat::subtype),
            Some("png")
        );
        assert_eq!(ImageFormat::from_subtype("svg+xml"), None);
    }
}

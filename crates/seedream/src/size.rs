//! Output sizes: presets (`2K`), explicit `WIDTHxHEIGHT`, and the aspect-ratio table that maps
//! a preset and a ratio to the pixel size the Seedream docs recommend.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A resolution class. The model picks the aspect ratio itself when only a preset is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Preset {
    /// About 1 megapixel (Seedream 4.0 only).
    OneK,
    /// About 4 megapixels.
    TwoK,
    /// About 9 megapixels.
    ThreeK,
    /// About 16 megapixels.
    FourK,
}

impl Preset {
    /// Every preset, smallest first.
    pub const ALL: [Preset; 4] = [Preset::OneK, Preset::TwoK, Preset::ThreeK, Preset::FourK];

    /// `1K`, `2K`, `3K` or `4K`.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::OneK => "1K",
            Preset::TwoK => "2K",
            Preset::ThreeK => "3K",
            Preset::FourK => "4K",
        }
    }
}

/// The `size` field: a preset or exact pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    /// A resolution class; the model picks the shape.
    Preset(Preset),
    /// Exact pixels.
    Pixels {
        /// In pixels.
        width: u32,
        /// In pixels.
        height: u32,
    },
}

/// Why a size string could not be read; the text tells the caller what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a size: use a preset (1K, 2K, 3K, 4K) or WIDTHxHEIGHT in pixels, e.g. 2048x2048 or 2848x1600; \
     for a shape without exact pixels use aspect_ratio (e.g. 16:9) instead"
)]
pub struct SizeParseError(String);

impl FromStr for Size {
    type Err = SizeParseError;

    /// Accepts `2k`, ` 2K `, `2048x2048`, `2048X2048`, `2048×2048` and `2048*2048` (V7).
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim().to_ascii_uppercase();
        if let Some(preset) = Preset::ALL.into_iter().find(|p| p.as_str() == s) {
            return Ok(Size::Preset(preset));
        }
        let err = || SizeParseError(raw.trim().chars().take(40).collect());
        let (w, h) = s.split_once(['X', '×', '*']).ok_or_else(err)?;
        let side = |v: &str| -> Result<u32, SizeParseError> {
            let v = v.trim();
            // At most five digits and no leading zero, as the upstream pattern requires.
            if v.is_empty()
                || v.len() > 5
                || v.starts_with('0')
                || !v.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(err());
            }
            v.parse().map_err(|_| err())
        };
        Ok(Size::Pixels {
            width: side(w)?,
            height: side(h)?,
        })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Size::Preset(p) => f.write_str(p.as_str()),
            Size::Pixels { width, height } => write!(f, "{width}x{height}"),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse().map_err(serde::de::Error::custom)
    }
}

/// Parses `2048x2048`, `2048×2048` or `2048X2048` as found in a response's `size` field (V23).
pub fn parse_dimensions(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.trim().split_once(['x', 'X', '×', '*'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// The aspect ratios the Seedream docs publish recommended sizes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AspectRatio {
    #[serde(rename = "1:1")]
    /// 1:1
    Square,
    #[serde(rename = "4:3")]
    /// 4:3
    Landscape4x3,
    #[serde(rename = "3:4")]
    /// 3:4
    Portrait3x4,
    #[serde(rename = "16:9")]
    /// 16:9
    Wide16x9,
    #[serde(rename = "9:16")]
    /// 9:16
    Tall9x16,
    #[serde(rename = "3:2")]
    /// 3:2
    Landscape3x2,
    #[serde(rename = "2:3")]
    /// 2:3
    Portrait2x3,
    #[serde(rename = "21:9")]
    /// 21:9
    Ultrawide21x9,
}

impl AspectRatio {
    /// The recommended pixel size for this ratio at a preset (seedream-api.md §4).
    pub fn pixels(self, preset: Preset) -> (u32, u32) {
        use AspectRatio::*;
        use Preset::*;
        match (self, preset) {
            (Square, OneK) => (1024, 1024),
            (Square, TwoK) => (2048, 2048),
            (Square, ThreeK) => (3072, 3072),
            (Square, FourK) => (4096, 4096),
            (Landscape4x3, OneK) => (1152, 864),
            (Landscape4x3, TwoK) => (2304, 1728),
            (Landscape4x3, ThreeK) => (3456, 2592),
            (Landscape4x3, FourK) => (4704, 3520),
            (Wide16x9, OneK) => (1312, 736),
            (Wide16x9, TwoK) => (2848, 1600),
            (Wide16x9, ThreeK) => (4096, 2304),
            (Wide16x9, FourK) => (5504, 3040),
            (Landscape3x2, OneK) => (1248, 832),
            (Landscape3x2, TwoK) => (2496, 1664),
            (Landscape3x2, ThreeK) => (3744, 2496),
            (Landscape3x2, FourK) => (4992, 3328),
            (Ultrawide21x9, OneK) => (1568, 672),
            (Ultrawide21x9, TwoK) => (3136, 1344),
            (Ultrawide21x9, ThreeK) => (4704, 2016),
            (Ultrawide21x9, FourK) => (6240, 2656),
            // Portrait ratios are the landscape rows turned on their side.
            (Portrait3x4, p) => swap(Landscape4x3.pixels(p)),
            (Tall9x16, p) => swap(Wide16x9.pixels(p)),
            (Portrait2x3, p) => swap(Landscape3x2.pixels(p)),
        }
    }
}

fn swap((w, h): (u32, u32)) -> (u32, u32) {
    (h, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_pixel_sizes_are_read_in_every_documented_spelling() {
        assert_eq!("2k".parse(), Ok(Size::Preset(Preset::TwoK)));
        assert_eq!(" 4K ".parse(), Ok(Size::Preset(Preset::FourK)));
        for s in [
            "2048x2048",
            "2048X2048",
            "2048×2048",
            "2048*2048",
            " 2048 x 2048 ",
        ] {
            assert_eq!(
                s.parse(),
                Ok(Size::Pixels {
                    width: 2048,
                    height: 2048
                }),
                "{s}"
            );
        }
    }

    #[test]
    fn sizes_the_upstream_rejects_by_shape_are_refused() {
        for s in [
            "auto", "adaptive", "16:9", "", "0x100", "100x", "123456x2", "2048x0", "-1x5", "2Kx",
        ] {
            let err = s.parse::<Size>().unwrap_err().to_string();
            assert!(err.contains("WIDTHxHEIGHT"), "{s}: {err}");
        }
    }

    #[test]
    fn sizes_serialize_as_lowercase_x() {
        let s: Size = "1600×2848".parse().unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"1600x2848\"");
        assert_eq!(Size::Preset(Preset::ThreeK).to_string(), "3K");
    }

    #[test]
    fn aspect_ratios_map_to_the_recommended_table() {
        assert_eq!(AspectRatio::Wide16x9.pixels(Preset::TwoK), (2848, 1600));
        assert_eq!(AspectRatio::Tall9x16.pixels(Preset::FourK), (3040, 5504));
        assert_eq!(AspectRatio::Portrait2x3.pixels(Preset::OneK), (832, 1248));
        assert_eq!(
            AspectRatio::Ultrawide21x9.pixels(Preset::ThreeK),
            (4704, 2016)
        );
    }

    #[test]
    fn response_sizes_parse_with_any_separator() {
        assert_eq!(parse_dimensions("2720x1536"), Some((2720, 1536)));
        assert_eq!(parse_dimensions("2720×1536"), Some((2720, 1536)));
        assert_eq!(parse_dimensions("big"), None);
    }
}

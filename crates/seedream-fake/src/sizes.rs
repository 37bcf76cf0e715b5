//! The size vocabulary (§4): presets and their recommended-size table, `WxH` parsing,
//! the aspect-ratio rule, and how a preset becomes concrete pixels (M6).

/// A size preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preset {
    P1K,
    P2K,
    P3K,
    P4K,
}

impl Preset {
    /// Presets are matched case-insensitively (`2k` = `2K`).
    pub(crate) fn parse(s: &str) -> Option<Preset> {
        match s.to_ascii_uppercase().as_str() {
            "1K" => Some(Preset::P1K),
            "2K" => Some(Preset::P2K),
            "3K" => Some(Preset::P3K),
            "4K" => Some(Preset::P4K),
            _ => None,
        }
    }

    /// The side of the square this preset is named after.
    fn side(self) -> u32 {
        match self {
            Preset::P1K => 1024,
            Preset::P2K => 2048,
            Preset::P3K => 3072,
            Preset::P4K => 4096,
        }
    }

    fn row(self) -> &'static [(u32, u32); 8] {
        match self {
            Preset::P1K => &TABLE_1K,
            Preset::P2K => &TABLE_2K,
            Preset::P3K => &TABLE_3K,
            Preset::P4K => &TABLE_4K,
        }
    }
}

/// Aspect ratios of the recommended-size table, in column order.
const RATIOS: [(u32, u32); 8] = [
    (1, 1),
    (4, 3),
    (3, 4),
    (16, 9),
    (9, 16),
    (3, 2),
    (2, 3),
    (21, 9),
];
const TABLE_1K: [(u32, u32); 8] = [
    (1024, 1024),
    (1152, 864),
    (864, 1152),
    (1312, 736),
    (736, 1312),
    (1248, 832),
    (832, 1248),
    (1568, 672),
];
const TABLE_2K: [(u32, u32); 8] = [
    (2048, 2048),
    (2304, 1728),
    (1728, 2304),
    (2848, 1600),
    (1600, 2848),
    (2496, 1664),
    (1664, 2496),
    (3136, 1344),
];
const TABLE_3K: [(u32, u32); 8] = [
    (3072, 3072),
    (3456, 2592),
    (2592, 3456),
    (4096, 2304),
    (2304, 4096),
    (3744, 2496),
    (2496, 3744),
    (4704, 2016),
];
const TABLE_4K: [(u32, u32); 8] = [
    (4096, 4096),
    (4704, 3520),
    (3520, 4704),
    (5504, 3040),
    (3040, 5504),
    (4992, 3328),
    (3328, 4992),
    (6240, 2656),
];

/// What `size` asked for, once accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SizeSpec {
    Preset(Preset),
    Exact(u32, u32),
}

/// The concrete size for `preset`: the table row nearest `ratio_hint` (1:1 without one),
/// or with `off_table` a nearby size like those Ark really returns, within [min, max] pixels.
pub(crate) fn resolve_preset(
    preset: Preset,
    ratio_hint: Option<f64>,
    off_table: bool,
    (min, max): (u64, u64),
) -> (u32, u32) {
    let column = ratio_hint.map_or(0, nearest_ratio_column);
    let (w, h) = preset
        .row()
        .get(column)
        .copied()
        .unwrap_or((preset.side(), preset.side()));
    if !off_table {
        return (w, h);
    }
    off_table_size(preset.side(), f64::from(w) / f64::from(h), min, max)
}

/// `WxH` with a lowercase ASCII `x`, as the wire format has it.
pub(crate) fn parse_wxh(raw: &str) -> Option<(u32, u32)> {
    let (w, h) = raw.split_once('x')?;
    let side = |s: &str| -> Option<u32> {
        if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().filter(|v| *v > 0)
    };
    Some((side(w)?, side(h)?))
}

/// Aspect ratio within [1/16, 16].
pub(crate) fn ratio_ok(w: u32, h: u32) -> bool {
    u64::from(w) <= 16 * u64::from(h) && u64::from(h) <= 16 * u64::from(w)
}

fn nearest_ratio_column(ratio: f64) -> usize {
    let target = ratio.ln();
    let mut best = (0, f64::INFINITY);
    for (i, (a, b)) in RATIOS.iter().enumerate() {
        let distance = (f64::from(*a) / f64::from(*b)).ln() - target;
        if distance.abs() < best.1 {
            best = (i, distance.abs());
        }
    }
    best.0
}

/// A size like the ones Ark really returns for a preset: about `side²·0.99` pixels, the
/// given ratio, multiples of 16 (2K 16:9 → 2720x1536), kept within the model's range.
fn off_table_size(side: u32, ratio: f64, min: u64, max: u64) -> (u32, u32) {
    let pixels = f64::from(side) * f64::from(side);
    let w = round16((pixels * ratio).sqrt(), false);
    let mut h = round16(f64::from(w) / ratio, true);
    while u64::from(w) * u64::from(h) > max && h > 16 {
        h -= 16;
    }
    while u64::from(w) * u64::from(h) < min {
        h += 16;
    }
    (w, h)
}

/// A multiple of 16: rounded to nearest, or down.
fn round16(v: f64, nearest: bool) -> u32 {
    let steps = if nearest {
        (v / 16.0).round()
    } else {
        (v / 16.0).floor()
    };
    // Sizes here stay far below u32::MAX; the float-to-int cast saturates anyway.
    (steps.max(1.0) as u32).saturating_mul(16)
}

/// The first `a:b` ratio written in the prompt (e.g. "16:9").
pub(crate) fn prompt_ratio(prompt: &str) -> Option<f64> {
    let b = prompt.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (a, after_a) = digits_at(b, i);
        if let Some(a) = a {
            let mut j = after_a;
            while b.get(j).is_some_and(|c| *c == b' ') {
                j += 1;
            }
            if b.get(j) == Some(&b':') {
                j += 1;
                while b.get(j).is_some_and(|c| *c == b' ') {
                    j += 1;
                }
                if let (Some(d), _) = digits_at(b, j)
                    && a > 0
                    && d > 0
                {
                    return Some(f64::from(a) / f64::from(d));
                }
            }
            i = after_a;
        } else {
            i += 1;
        }
    }
    None
}

/// A run of 1–3 ASCII digits starting at `i` (and where it ends); longer runs are not ratios.
fn digits_at(b: &[u8], i: usize) -> (Option<u32>, usize) {
    let mut j = i;
    let mut value: u32 = 0;
    while let Some(c) = b.get(j).filter(|c| c.is_ascii_digit()) {
        value = value.saturating_mul(10).saturating_add(u32::from(c - b'0'));
        j += 1;
    }
    if j == i {
        return (None, i);
    }
    (if j - i <= 3 { Some(value) } else { None }, j)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_resolve_by_ratio_hint_and_off_table() {
        let range = (3_686_400, 16_777_216);
        assert_eq!(
            resolve_preset(Preset::P2K, None, false, range),
            (2048, 2048)
        );
        let hint = prompt_ratio("a wide 16:9 shot");
        assert_eq!(
            resolve_preset(Preset::P2K, hint, false, range),
            (2848, 1600)
        );
        assert_eq!(
            resolve_preset(Preset::P2K, Some(16.0 / 9.0), true, range),
            (2720, 1536)
        );
        let (w, h) = resolve_preset(Preset::P4K, Some(21.0 / 9.0), true, range);
        assert!(u64::from(w) * u64::from(h) <= range.1 && w % 16 == 0 && h % 16 == 0);
    }

    #[test]
    fn ratios_are_read_from_the_prompt() {
        assert_eq!(prompt_ratio("poster 3 : 4, bold"), Some(0.75));
        assert_eq!(prompt_ratio("at 10:30 pm 1920:1080"), Some(1.0 / 3.0));
        assert_eq!(prompt_ratio("no ratio here"), None);
    }
}

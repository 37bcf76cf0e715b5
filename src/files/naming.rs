//! Readable, unique file names: `20261124-181500-a-red-fox-1.jpeg`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a requested file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilenameError {
    #[error(
        "invalid `filename` `{0}`: give a plain base name such as \"fox-portrait\", without folders, `..` or control characters (use output_dir to choose the folder)"
    )]
    Shape(String),
    /// Shown by code point: printed as is, the name would look different from what it is.
    #[error(
        "invalid `filename`: it contains the invisible character {0} (a text-direction, zero-width \
         or other formatting character, which can make a name display differently from what it is); \
         give a plain base name such as \"fox-portrait\" without it"
    )]
    Invisible(String),
}

/// Checks a caller's base name and drops any extension (the real one follows the bytes).
pub fn check_filename(raw: &str) -> Result<String, FilenameError> {
    let name = raw.trim();
    let bad = name.is_empty()
        || name.len() > 120
        || name.contains(['/', '\\', '\0'])
        || name.contains("..")
        || name.starts_with('.')
        || name.chars().any(char::is_control);
    if bad {
        return Err(FilenameError::Shape(raw.chars().take(60).collect()));
    }
    if let Some(c) = name.chars().find(|&c| invisible(c)) {
        return Err(FilenameError::Invisible(format!("U+{:04X}", u32::from(c))));
    }
    let stem = match name.rsplit_once('.') {
        Some((stem, ext))
            if matches!(
                ext.to_ascii_lowercase().as_str(),
                "png" | "jpg" | "jpeg" | "webp"
            ) =>
        {
            stem
        }
        _ => name,
    };
    Ok(stem.to_owned())
}

/// Format characters (Unicode category Cf: bidi overrides and isolates U+202A–U+202E and
/// U+2066–U+2069, zero-width joiners, the BOM…), line and paragraph separators and private-use
/// characters: they change how a name is shown without being seen, so `photo\u{202E}gpj.exe`
/// reads as `photoexe.jpg`.
fn invisible(c: char) -> bool {
    use unicode_general_category::{GeneralCategory as G, get_general_category};
    matches!(
        get_general_category(c),
        G::Format
            | G::Control
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::PrivateUse
            | G::Surrogate
    )
}

/// The stem for image `index` (1-based) of a call: the caller's name, or time + prompt slug.
pub fn stem(
    filename: Option<&str>,
    prompt: &str,
    index: usize,
    count: usize,
    now: SystemTime,
) -> String {
    match filename {
        Some(name) if count == 1 => name.to_owned(),
        Some(name) => format!("{name}-{index}"),
        None => format!("{}-{}-{index}", timestamp(now), slug(prompt)),
    }
}

/// Up to six words of the prompt, lowercase ASCII letters and digits joined by dashes.
pub fn slug(prompt: &str) -> String {
    let words: Vec<String> = prompt
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(6)
        .map(str::to_ascii_lowercase)
        .collect();
    let s = words.join("-");
    let s: String = s.chars().take(48).collect();
    let s = s.trim_end_matches('-').to_owned();
    if s.is_empty() { "image".to_owned() } else { s }
}

/// `YYYYMMDD-HHMMSS` in UTC.
pub fn timestamp(now: SystemTime) -> String {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD HH:MM UTC`, for telling people when a link expires.
pub fn utc_minute(unix_secs: i64) -> String {
    let secs = unix_secs.max(0) as u64;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to a calendar date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn names_carry_time_prompt_slug_and_index() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_975_200 + 3_723);
        assert_eq!(
            stem(None, "A red fox, in snow!", 2, 4, now),
            "20261129-190203-a-red-fox-in-snow-2"
        );
        assert_eq!(stem(Some("fox"), "p", 1, 1, now), "fox");
        assert_eq!(stem(Some("fox"), "p", 3, 4, now), "fox-3");
    }

    #[test]
    fn prompts_without_ascii_words_still_get_a_slug() {
        assert_eq!(slug("一只红狐狸"), "image");
        assert_eq!(
            slug("one two three four five six seven"),
            "one-two-three-four-five-six"
        );
    }

    #[test]
    fn filenames_with_folders_or_dot_dot_are_refused() {
        for bad in [
            "../x", "a/b", "a\\b", "..", ".hidden", "", "a\u{7}b", "x..y",
        ] {
            assert!(check_filename(bad).is_err(), "{bad:?}");
        }
        assert_eq!(check_filename("fox-portrait.png").unwrap(), "fox-portrait");
        assert_eq!(check_filename("v1.2 final").unwrap(), "v1.2 final");
    }

    #[test]
    fn filenames_with_bidi_overrides_or_other_invisible_characters_are_refused_by_code_point() {
        let bidi = (0x202A..=0x202E).chain(0x2066..=0x2069);
        let others = [
            0x200B, 0x200D, 0x200E, 0xFEFF, 0x00AD, 0x061C, 0x2028, 0xE000,
        ];
        for cp in bidi.chain(others) {
            let c = char::from_u32(cp).unwrap();
            let name = format!("photo{c}gpj.exe");
            let e = check_filename(&name).unwrap_err();
            assert_eq!(
                e,
                FilenameError::Invisible(format!("U+{cp:04X}")),
                "U+{cp:04X}"
            );
            assert!(e.to_string().contains("invisible character"), "{e}");
        }
        // Letters of any script, accents and emoji are not format characters.
        for fine in ["fuchs-ä", "狐狸", "лиса", "🦊-portrait", "café"] {
            assert_eq!(check_filename(fine).unwrap(), fine);
        }
    }

    #[test]
    fn dates_are_correct_across_leap_years() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229-000000"
        );
    }
}

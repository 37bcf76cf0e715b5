//! Readable, unique file names: `20261124-181500-a-red-fox-1.jpeg`.

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a requested file name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid `filename` `{0}`: give a plain base name such as \"fox-portrait\", without folders, `..` or control characters (use output_dir to choose the folder)"
)]
pub struct FilenameError(pub String);

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
        return Err(FilenameError(raw.chars().take(60).collect()));
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
    fn dates_are_correct_across_leap_years() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101-000000");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "20000229-000000"
        );
    }
}

//! The fake API's notion of time (real, or frozen by `POST /_fake/clock`), UTC formatting
//! for signed URLs, and request ids in the Ark and CometAPI formats.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::state::lock;

/// Wall-clock time, optionally frozen at a fake value (URL expiry and `created` use it).
#[derive(Debug, Default)]
pub(crate) struct Clock {
    frozen_unix: Mutex<Option<i64>>,
}

impl Clock {
    /// Freezes the clock at `unix` seconds, or returns to real time with `None`.
    pub(crate) fn set(&self, unix: Option<i64>) {
        *lock(&self.frozen_unix) = unix;
    }

    /// Current Unix time in milliseconds.
    pub(crate) fn now_ms(&self) -> i64 {
        match *lock(&self.frozen_unix) {
            Some(unix) => unix.saturating_mul(1000),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// Current Unix time in seconds.
    pub(crate) fn now_unix(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// Calendar fields of a UTC instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Utc {
    /// Splits Unix seconds into calendar fields (Howard Hinnant's civil_from_days).
    pub(crate) fn from_unix(unix: i64) -> Utc {
        let secs = unix.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(unix.div_euclid(86_400));
        Utc {
            year,
            month,
            day,
            hour: small(secs / 3600),
            minute: small(secs % 3600 / 60),
            second: small(secs % 60),
        }
    }

    /// Back to Unix seconds (days_from_civil).
    pub(crate) fn to_unix(self) -> i64 {
        let month = i64::from(self.month);
        let year = if month <= 2 { self.year - 1 } else { self.year };
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let mp = if month > 2 { month - 3 } else { month + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// `YYYYMMDD`, the date scope of a TOS credential.
    pub(crate) fn date_stamp(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYYMMDDTHHMMSSZ`, the `X-Tos-Date` format.
    pub(crate) fn tos_stamp(self) -> String {
        format!(
            "{}T{:02}{:02}{:02}Z",
            self.date_stamp(),
            self.hour,
            self.minute,
            self.second
        )
    }

    /// Parses `YYYYMMDDTHHMMSSZ`; `None` for anything else.
    pub(crate) fn parse_tos_stamp(s: &str) -> Option<Utc> {
        let b = s.as_bytes();
        if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
            return None;
        }
        let num = |from: usize, to: usize| -> Option<u32> {
            let part = s.get(from..to)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let utc = Utc {
            year: i64::from(num(0, 4)?),
            month: num(4, 6)?,
            day: num(6, 8)?,
            hour: num(9, 11)?,
            minute: num(11, 13)?,
            second: num(13, 15)?,
        };
        // Reject impossible dates by round-tripping.
        (Utc::from_unix(utc.to_unix()) == utc).then_some(utc)
    }
}

/// Every value fed here is already reduced below 100,000.
fn small(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// The two ids a request carries: Ark's (header, Ark messages, file names) and the gateway's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestIds {
    /// `02` + 13-digit epoch ms + 38 lowercase hex digits (53 characters).
    pub ark: String,
    /// 14-digit UTC timestamp + 18 digits (32 characters), as in "(request id: …)".
    pub comet: String,
}

/// A fixed instant (2026-01-01T00:00:00Z) used by counter-based ids so golden outputs stay stable.
const SEEDED_EPOCH_MS: i64 = 1_767_225_600_000;

impl RequestIds {
    /// Fresh ids: random, or from `counter` when `seeded`.
    pub(crate) fn new(now_ms: i64, seeded: bool, counter: u64) -> RequestIds {
        if seeded {
            let stamp = Utc::from_unix(SEEDED_EPOCH_MS / 1000);
            return RequestIds {
                ark: format!("02{SEEDED_EPOCH_MS:013}{counter:038x}"),
                comet: format!("{}000000{counter:018}", stamp.date_stamp()),
            };
        }
        let ms = now_ms.clamp(0, 9_999_999_999_999);
        let stamp = Utc::from_unix(ms / 1000);
        let hex = format!(
            "{:032x}{:06x}",
            fastrand::u128(..),
            fastrand::u32(..0x100_0000)
        );
        let digits = fastrand::u64(..1_000_000_000_000_000_000);
        RequestIds {
            ark: format!("02{ms:013}{hex}"),
            comet: format!(
                "{}{:02}{:02}{:02}{digits:018}",
                stamp.date_stamp(),
                stamp.hour,
                stamp.minute,
                stamp.second
            ),
        }
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_round_trips_through_calendar_fields() {
        for unix in [0, 951_782_400, 1_767_225_600, 1_757_322_902, 4_102_444_799] {
            assert_eq!(Utc::from_unix(unix).to_unix(), unix);
        }
        assert_eq!(
            Utc::from_unix(1_757_322_902).tos_stamp(),
            "20250908T091502Z"
        );
    }

    #[test]
    fn tos_stamps_parse_only_when_well_formed() {
        assert!(Utc::parse_tos_stamp("20260101T000000Z").is_some());
        assert!(Utc::parse_tos_stamp("20260230T000000Z").is_none());
        assert!(Utc::parse_tos_stamp("20260101T000000").is_none());
        assert!(Utc::parse_tos_stamp("2026010aT000000Z").is_none());
    }

    #[test]
    fn request_ids_have_the_upstream_lengths() {
        let ids = RequestIds::new(1_767_225_600_123, false, 0);
        assert_eq!(ids.ark.len(), 53);
        assert!(ids.ark.starts_with("021767225600123"));
        assert_eq!(ids.comet.len(), 32);
        assert!(ids.comet.starts_with("20260101000000"));
        let seeded = RequestIds::new(0, true, 7);
        assert_eq!(seeded.ark.len(), 53);
        assert!(seeded.ark.ends_with("0007"));
        assert_eq!(seeded.comet.len(), 32);
    }
}

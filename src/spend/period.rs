//! Caps per day and per month (UTC calendar), per caller: over stdio there is one caller, over
//! HTTP each token or key is its own. A call is refused when its worst case would take the
//! caller past a cap, saying which, what is left, when it resets and how to raise it.

use super::cost::amount;
use super::ledger::{Totals, Used};

/// The period caps; `None` is no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodCaps {
    pub images_per_day: Option<u64>,
    pub cost_per_day: Option<f64>,
    pub images_per_month: Option<u64>,
    pub cost_per_month: Option<f64>,
}

pub(super) const DAY: i64 = 24 * 3600;

/// One period: its name, when it started and when it resets (unix seconds).
pub(super) struct Window {
    pub name: &'static str,
    pub start: i64,
    pub reset: i64,
}

pub(super) fn day(now: i64) -> Window {
    let start = now - now.rem_euclid(DAY);
    Window {
        name: "daily",
        start,
        reset: start + DAY,
    }
}

pub(super) fn month(now: i64) -> Window {
    let days = now.div_euclid(DAY);
    let (y, m, d) = civil(days);
    let start = (days - (d - 1)) * DAY;
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let reset = days_from_civil(ny, nm, 1) * DAY;
    Window {
        name: "monthly",
        start,
        reset,
    }
}

impl PeriodCaps {
    pub fn is_empty(&self) -> bool {
        *self == PeriodCaps::default()
    }

    /// When today and this month started (unix seconds), the periods [`Used`] counts.
    pub fn starts(now: i64) -> (i64, i64) {
        (day(now).start, month(now).start)
    }

    /// Why a call that may make `worst.0` images costing `worst.1` may not be sent, given
    /// what the caller has `used`, or `None`.
    pub fn refusal(
        &self,
        used: Used,
        worst: (u64, Option<f64>),
        currency: &str,
        now: i64,
    ) -> Option<String> {
        for (window, spent, images_cap, cost_cap, flag) in [
            (
                day(now),
                used.day,
                self.images_per_day,
                self.cost_per_day,
                "day",
            ),
            (
                month(now),
                used.month,
                self.images_per_month,
                self.cost_per_month,
                "month",
            ),
        ] {
            let resets = format!("resets {}", when(window.reset, now));
            if let Some(cap) = images_cap
                && spent.images + worst.0 > cap
            {
                let left = cap.saturating_sub(spent.images);
                return Some(format!(
                    "the {} image cap would be exceeded: {} of {cap} images used, this call may make up to {}; \
                     {left} left, {resets}. Ask for at most {left} image(s), wait, or raise the cap \
                     (--cap-images-per-{flag} / SEEDREAM_CAP_IMAGES_PER_{})",
                    window.name,
                    spent.images,
                    worst.0,
                    flag.to_uppercase()
                ));
            }
            if let Some(cap) = cost_cap {
                let Some(cost) = worst.1 else {
                    return Some(format!(
                        "a {} cost cap is set and this model has no known price: set its price in \
                         SEEDREAM_MODELS_FILE, or pick a model with a price",
                        window.name
                    ));
                };
                if spent.cost + cost > cap + 1e-9 {
                    let left = (cap - spent.cost).max(0.0);
                    return Some(format!(
                        "the {} cost cap would be exceeded: {} of {} {currency} used (estimates), this call may \
                         cost up to {} {currency}; {} {currency} left, {resets}. Ask for fewer images or a \
                         cheaper model, wait, or raise the cap (--cap-cost-per-{flag} / SEEDREAM_CAP_COST_PER_{})",
                        window.name,
                        amount(spent.cost),
                        amount(cap),
                        amount(cost),
                        amount(left),
                        flag.to_uppercase()
                    ));
                }
            }
        }
        None
    }

    /// Today's and this month's spending (`billed`), with the caps.
    pub fn usage_text(&self, billed: Used, currency: &str, now: i64) -> String {
        let line = |w: Window, t: Totals, images: Option<u64>, cost: Option<f64>| {
            let cap_i = images.map(|c| format!(" of {c}")).unwrap_or_default();
            let cap_c = cost
                .map(|c| format!(" of {} {currency}", amount(c)))
                .unwrap_or_default();
            format!(
                "{}: {} image{}{cap_i}, estimated {} {currency}{cap_c} (resets {}).",
                if w.name == "daily" {
                    "Today (UTC)"
                } else {
                    "This month (UTC)"
                },
                t.images,
                if t.images == 1 { "" } else { "s" },
                amount(t.cost),
                when(w.reset, now)
            )
        };
        format!(
            "{} {}",
            line(day(now), billed.day, self.images_per_day, self.cost_per_day),
            line(
                month(now),
                billed.month,
                self.images_per_month,
                self.cost_per_month
            )
        )
    }
}

/// The UTC date of `at`: "2026-11-30".
pub(super) fn date(at: i64) -> String {
    let (y, m, d) = civil(at.div_euclid(DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

/// "at 2026-12-01 00:00 UTC (in 3 h 20 min)".
pub(super) fn when(at: i64, now: i64) -> String {
    let (y, m, d) = civil(at.div_euclid(DAY));
    let left = (at - now).max(0);
    format!(
        "at {y:04}-{m:02}-{d:02} 00:00 UTC (in {} h {} min)",
        left / 3600,
        left % 3600 / 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spend::{Entry, Ledger};

    // 2026-11-30 20:00 UTC.
    const NOW: i64 = 1_796_068_800;

    fn used(ledger: &Ledger, caller: &str) -> Used {
        let (day, month) = PeriodCaps::starts(NOW);
        Used {
            day: ledger.totals(Some(caller), day),
            month: ledger.totals(Some(caller), month),
        }
    }

    fn spent(ledger: &Ledger, at: i64, images: u64) {
        ledger.record(Entry {
            at,
            caller: "a".into(),
            model: "m".into(),
            images,
            tokens: 0,
            estimate: Some(0.04 * images as f64),
        });
    }

    #[test]
    fn calendar_arithmetic_finds_the_month_and_its_end() {
        assert_eq!(civil(NOW.div_euclid(DAY)), (2026, 11, 30));
        let m = month(NOW);
        assert_eq!(civil(m.start / DAY), (2026, 11, 1));
        assert_eq!(civil(m.reset / DAY), (2026, 12, 1));
        assert_eq!(day(NOW).reset, m.reset);
    }

    #[test]
    fn the_call_that_would_pass_the_daily_cap_is_refused_with_what_is_left_and_when() {
        let l = Ledger::memory();
        spent(&l, NOW - 3600, 8);
        spent(&l, NOW - 2 * DAY, 50);
        let caps = PeriodCaps {
            images_per_day: Some(10),
            ..PeriodCaps::default()
        };
        assert!(
            caps.refusal(used(&l, "a"), (2, Some(0.08)), "USD", NOW)
                .is_none()
        );
        let why = caps
            .refusal(used(&l, "a"), (3, Some(0.12)), "USD", NOW)
            .unwrap();
        assert!(
            why.contains("daily image cap") && why.contains("8 of 10"),
            "{why}"
        );
        assert!(
            why.contains("2 left") && why.contains("2026-12-01 00:00 UTC (in 4 h 0 min)"),
            "{why}"
        );
        assert!(why.contains("SEEDREAM_CAP_IMAGES_PER_DAY"), "{why}");
        // Another caller has its own allowance.
        assert!(
            caps.refusal(used(&l, "b"), (10, Some(0.4)), "USD", NOW)
                .is_none()
        );
    }

    #[test]
    fn a_monthly_cost_cap_counts_the_whole_month() {
        let l = Ledger::memory();
        spent(&l, NOW - 10 * DAY, 20);
        let caps = PeriodCaps {
            cost_per_month: Some(1.0),
            ..PeriodCaps::default()
        };
        assert!(
            caps.refusal(used(&l, "a"), (5, Some(0.2)), "USD", NOW)
                .is_none()
        );
        let why = caps
            .refusal(used(&l, "a"), (6, Some(0.24)), "USD", NOW)
            .unwrap();
        assert!(
            why.contains("monthly cost cap") && why.contains("0.20 USD left"),
            "{why}"
        );
        let usage = caps.usage_text(used(&l, "a"), "USD", NOW);
        assert!(
            usage.contains("This month (UTC): 20 images, estimated 0.80 USD of 1.00 USD"),
            "{usage}"
        );
    }
}

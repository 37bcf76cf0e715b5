//! What a caller spent today and this month, with the caps and what is left: the
//! `seedream://usage` resource (JSON) and the line a result adds when period caps are set.

use serde_json::{Value, json};

use super::caps::CallCaps;
use super::ledger::{Totals, Used};
use super::period::{self, PeriodCaps, Window};

/// One caller's spending at one moment.
#[derive(Debug, Clone)]
pub struct Usage {
    pub now: i64,
    /// Billed calls, today and this month.
    pub billed: Used,
    /// The worst case of the caller's calls in flight, counted against the caps until they end.
    pub in_flight: Totals,
    pub period: PeriodCaps,
    pub call: CallCaps,
    pub currency: String,
}

impl Usage {
    /// The line for people (the same one a result adds).
    pub fn text(&self) -> String {
        self.period
            .usage_text(self.billed, &self.currency, self.now)
    }

    /// The resource's JSON: spent, caps, left and when each period resets.
    pub fn json(&self) -> Value {
        let p = &self.period;
        json!({
            "currency": self.currency,
            "estimates": "costs are estimates from list prices, not an invoice",
            "today": self.window(period::day(self.now), self.billed.day, p.images_per_day, p.cost_per_day),
            "this_month": self.window(period::month(self.now), self.billed.month, p.images_per_month, p.cost_per_month),
            "in_flight": {"images": self.in_flight.images, "estimated_cost": round(self.in_flight.cost)},
            "per_call": {"max_images": self.call.max_images, "max_cost": self.call.max_cost},
            "summary": self.text(),
        })
    }

    fn window(
        &self,
        w: Window,
        billed: Totals,
        images_cap: Option<u64>,
        cost_cap: Option<f64>,
    ) -> Value {
        // What a new call may still use: the cap less what is billed and held in flight.
        let images_left =
            images_cap.map(|c| c.saturating_sub(billed.images + self.in_flight.images));
        let cost_left = cost_cap.map(|c| round((c - billed.cost - self.in_flight.cost).max(0.0)));
        json!({
            "since": format!("{}T00:00:00Z", period::date(w.start)),
            "images": billed.images,
            "estimated_cost": round(billed.cost),
            "cap": {"images": images_cap, "cost": cost_cap},
            "left": {"images": images_left, "cost": cost_left},
            "resets_at": format!("{}T00:00:00Z", period::date(w.reset)),
            "resets_in_seconds": (w.reset - self.now).max(0),
        })
    }
}

/// Micro-units at most: sums of float prices carry noise past them.
fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_says_what_is_spent_left_and_when_it_resets() {
        let u = Usage {
            // 2026-11-30 20:00 UTC.
            now: 1_796_068_800,
            billed: Used {
                day: Totals {
                    images: 3,
                    cost: 0.12,
                },
                month: Totals {
                    images: 10,
                    cost: 0.4,
                },
            },
            in_flight: Totals {
                images: 1,
                cost: 0.04,
            },
            period: PeriodCaps {
                images_per_day: Some(5),
                cost_per_month: Some(1.0),
                ..PeriodCaps::default()
            },
            call: CallCaps::default(),
            currency: "USD".into(),
        };
        let j = u.json();
        assert_eq!(j["today"]["images"], 3);
        assert_eq!(j["today"]["left"]["images"], 1);
        assert_eq!(j["today"]["since"], "2026-11-30T00:00:00Z");
        assert_eq!(j["today"]["resets_at"], "2026-12-01T00:00:00Z");
        assert_eq!(j["today"]["resets_in_seconds"], 4 * 3600);
        assert_eq!(j["today"]["left"]["cost"], Value::Null);
        assert_eq!(j["this_month"]["left"]["cost"], 0.56);
        assert_eq!(j["this_month"]["since"], "2026-11-01T00:00:00Z");
        assert!(
            j["summary"]
                .as_str()
                .unwrap()
                .contains("Today (UTC): 3 images of 5")
        );
    }
}

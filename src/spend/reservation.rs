//! A call's reservation: the room its worst case takes in the caller's day and month totals,
//! held from the cap check until the call is settled with its real cost or ends without one.

use std::sync::Arc;

use super::cost::Cost;
use super::ledger::{Entry, Ledger};
use super::shared::{self, Amount};

/// Held by a call from its cap check on. [`Reservation::settle`] records what the call was
/// billed in place of its worst case; dropped unsettled (the call failed, was refused further
/// on, or was cancelled) it frees its room.
#[derive(Debug)]
#[must_use = "a reservation frees its room when dropped: settle it with the call's cost"]
pub struct Reservation {
    ledger: Arc<Ledger>,
    caller: String,
    clock: fn() -> i64,
    /// The ledger's hold, when period caps are set.
    hold: Option<u64>,
    /// The room held in the shared counters instead, when they are used.
    shared: Option<shared::Held>,
}

impl Reservation {
    pub(super) fn new(ledger: Arc<Ledger>, caller: &str, clock: fn() -> i64) -> Reservation {
        Reservation {
            ledger,
            caller: caller.to_owned(),
            clock,
            hold: None,
            shared: None,
        }
    }

    pub(super) fn held(&mut self, id: u64) {
        self.hold = Some(id);
    }

    pub(super) fn shared(&mut self, held: shared::Held) {
        self.shared = Some(held);
    }

    /// Records the call as billed (`cost`, with `model`) and frees the room it held.
    pub async fn settle(mut self, model: &str, cost: &Cost) {
        let billed = cost.images > 0 || cost.tokens > 0;
        let entry = billed.then(|| Entry {
            at: (self.clock)(),
            caller: self.caller.clone(),
            model: model.to_owned(),
            images: cost.images,
            tokens: cost.tokens,
            estimate: cost.estimate,
        });
        self.ledger.settle(self.hold.take(), entry);
        if let Some(held) = self.shared.take() {
            held.settle(Amount::of(cost.images, cost.estimate.unwrap_or(0.0)))
                .await;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(id) = self.hold.take() {
            self.ledger.settle(Some(id), None);
        }
        if let Some(held) = self.shared.take() {
            held.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use seedream::{Model, Rules};

    use crate::spend::caps::tests::{request as prepared, rules as rules_of};
    use crate::spend::{CallCaps, Cost, PeriodCaps, Spend};

    fn noon() -> i64 {
        // 2026-11-30 12:00 UTC.
        1_796_040_000
    }

    fn spend(images_per_day: u64) -> Spend {
        let period = PeriodCaps {
            images_per_day: Some(images_per_day),
            ..PeriodCaps::default()
        };
        Spend::new(CallCaps::default(), period, "USD".into(), None).with_clock(noon)
    }

    fn request(max_images: Option<u32>) -> (seedream::ImageRequest, Rules) {
        (prepared(Model::V45, max_images), rules_of(&Model::V45))
    }

    fn billed(images: u64) -> Cost {
        Cost {
            images,
            tokens: 0,
            estimate: Some(0.04 * images as f64),
            currency: "USD".into(),
        }
    }

    #[tokio::test]
    async fn reservations_in_flight_count_against_the_cap_and_a_dropped_one_frees_its_room() {
        let spend = spend(2);
        let (one, rules) = request(None);
        let first = spend.reserve("a", &one, &rules).await.unwrap();
        let second = spend.reserve("a", &one, &rules).await.unwrap();
        let why = spend.reserve("a", &one, &rules).await.unwrap_err();
        assert!(
            why.contains("daily image cap") && why.contains("2 of 2"),
            "{why}"
        );
        // Another caller has its own room.
        drop(spend.reserve("b", &one, &rules).await.unwrap());
        drop(first);
        let third = spend.reserve("a", &one, &rules).await.unwrap();
        second.settle("m", &billed(1)).await;
        third.settle("m", &billed(1)).await;
        assert!(
            spend.reserve("a", &one, &rules).await.is_err(),
            "two billed images fill the cap"
        );
    }

    #[tokio::test]
    async fn a_settled_sequence_counts_what_was_billed_not_its_worst_case() {
        let spend = spend(5);
        let (four, rules) = request(Some(4));
        let sequence = spend.reserve("a", &four, &rules).await.unwrap();
        assert!(
            spend.reserve("a", &four, &rules).await.is_err(),
            "4 held + 4 > 5"
        );
        sequence.settle("m", &billed(1)).await;
        let again = spend.reserve("a", &four, &rules).await.unwrap();
        again.settle("m", &billed(0)).await;
        let usage = spend.usage("a").await.text();
        assert!(usage.contains("Today (UTC): 1 image of 5"), "{usage}");
    }
}

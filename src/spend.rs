//! Spend control: what a call cost, estimated from the model table's prices (computed from what
//! the upstream says it billed, so failed images cost nothing); a ledger of billed calls; and
//! caps per call, per day and per month, checked before anything goes upstream. Day and month
//! totals live in the ledger (memory, or its file next to the job store), or in Redis when the
//! job store is there, so every instance counts the same allowance.

mod caps;
mod confirm;
mod cost;
mod ledger;
mod period;
mod reservation;
mod shared;
mod usage;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub use caps::CallCaps;
pub use confirm::{ConfirmAbove, Quote};
pub use cost::Cost;
pub use ledger::{Entry, Ledger, Totals, Used};
pub use period::PeriodCaps;
pub use reservation::Reservation;
pub use usage::Usage;

use seedream::{ImageRequest, Rules};

/// The spend state of one server: its caps and its ledger.
#[derive(Debug)]
pub struct Spend {
    pub call: CallCaps,
    pub period: PeriodCaps,
    pub currency: String,
    /// The ledger's file; `None` keeps it in memory.
    path: Option<PathBuf>,
    /// Opened on first use, like the job store, so an idle server holds no file.
    ledger: OnceLock<Arc<Ledger>>,
    /// Day and month totals shared through Redis, in place of the ledger's, when set.
    shared: Option<Arc<shared::Counters>>,
    clock: fn() -> i64,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Spend {
    pub fn new(
        call: CallCaps,
        period: PeriodCaps,
        currency: String,
        path: Option<PathBuf>,
    ) -> Spend {
        Spend {
            call,
            period,
            currency,
            path,
            ledger: OnceLock::new(),
            shared: None,
            clock: unix_now,
        }
    }

    /// Keeps the day and month totals in the Redis server `client` reaches, shared with every
    /// instance using it. Nothing changes without period caps: nothing would read them.
    pub fn shared_in(mut self, client: redis::Client) -> Spend {
        if !self.period.is_empty() {
            self.shared = Some(shared::Counters::new(client));
        }
        self
    }

    /// Reads the time from `clock` (unix seconds) instead of the system's.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Spend {
        self.clock = clock;
        self
    }

    fn ledger(&self) -> &Arc<Ledger> {
        self.ledger.get_or_init(|| {
            Arc::new(match &self.path {
                Some(path) => Ledger::open(path, (self.clock)()),
                None => Ledger::memory(),
            })
        })
    }

    /// Room for `request` from `caller`, or why it may not be sent: the per-call caps, then
    /// what the caller has left today and this month against the call's worst case. The room
    /// counts towards the caller's totals (so concurrent calls cannot together pass a cap)
    /// until [`Reservation::settle`] records the real cost, or the reservation is dropped
    /// because the call failed or was cancelled.
    pub async fn reserve(
        &self,
        caller: &str,
        request: &ImageRequest,
        rules: &Rules,
    ) -> Result<Reservation, String> {
        if let Some(why) = self.call.refusal(request, rules, &self.currency) {
            return Err(why);
        }
        let ledger = Arc::clone(self.ledger());
        let mut reservation = Reservation::new(ledger, caller, self.clock);
        if self.period.is_empty() {
            return Ok(reservation);
        }
        let worst = caps::worst_case(request, rules);
        let now = (self.clock)();
        let Some(counters) = &self.shared else {
            let hold = (worst.0, worst.1.unwrap_or(0.0));
            let id = self
                .ledger()
                .hold(caller, PeriodCaps::starts(now), hold, |used| {
                    self.period.refusal(used, worst, &self.currency, now)
                })?;
            reservation.held(id);
            return Ok(reservation);
        };
        let held = self.reserve_shared(counters, caller, worst, now).await?;
        reservation.shared(held);
        Ok(reservation)
    }

    /// [`Spend::reserve`] against the shared counters.
    async fn reserve_shared(
        &self,
        counters: &Arc<shared::Counters>,
        caller: &str,
        worst: (u64, Option<f64>),
        now: i64,
    ) -> Result<shared::Held, String> {
        // A cost cap on a model without a price needs no totals (the script would count its
        // cost as nothing).
        let cost_capped =
            self.period.cost_per_day.is_some() || self.period.cost_per_month.is_some();
        if worst.1.is_none()
            && cost_capped
            && let Some(why) = self
                .period
                .refusal(Used::default(), worst, &self.currency, now)
        {
            return Err(why);
        }
        let held = shared::Held {
            counters: Arc::clone(counters),
            keys: shared::Keys::of(caller, now),
            amount: shared::Amount::of(worst.0, worst.1.unwrap_or(0.0)),
        };
        let (task, period) = (held.counters.clone(), self.period);
        let (keys, amount) = (held.keys.clone(), held.amount);
        let reserved = tokio::task::spawn_blocking(move || task.reserve(&keys, amount, &period))
            .await
            .map_err(|e| e.to_string())
            // The kind alone: an error's text may quote the URL, password included.
            .and_then(|r| r.map_err(|e| format!("{:?}", e.kind())));
        match reserved {
            Ok(Ok(())) => Ok(held),
            Ok(Err(used)) => Err(self
                .period
                .refusal(used, worst, &self.currency, now)
                .unwrap_or_else(|| "a daily or monthly cap would be exceeded".to_owned())),
            Err(e) => {
                tracing::warn!(error = %e, "shared spend counters unreachable");
                Err(
                    "the shared spend counters (Redis) cannot be reached, so the caps cannot be \
                     checked and nothing was sent: try again shortly"
                        .to_owned(),
                )
            }
        }
    }

    /// What `caller` spent today and this month, with the caps and what is left.
    pub async fn usage(&self, caller: &str) -> Usage {
        let now = (self.clock)();
        let (day, month) = PeriodCaps::starts(now);
        let ledger = self.ledger();
        let mut billed = Used {
            day: ledger.totals(Some(caller), day),
            month: ledger.totals(Some(caller), month),
        };
        let mut in_flight = ledger.held(caller);
        if let Some(counters) = self.shared.clone() {
            // The shared totals count calls in flight on every instance with the billed ones.
            let keys = shared::Keys::of(caller, now);
            match tokio::task::spawn_blocking(move || counters.used(&keys)).await {
                Ok(Ok(used)) => (billed, in_flight) = (used, Totals::default()),
                _ => {
                    tracing::warn!("shared spend counters unreachable: this instance's usage shown")
                }
            }
        }
        Usage {
            now,
            billed,
            in_flight,
            period: self.period,
            call: self.call,
            currency: self.currency.clone(),
        }
    }
}

//! Spend control: what a call cost, estimated from the model table's prices (computed from what
//! the upstream says it billed, so failed images cost nothing); a ledger of billed calls; and
//! caps per call, per day and per month, checked before anything goes upstream.

mod caps;
mod cost;
mod ledger;
mod period;
mod reservation;
mod usage;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub use caps::CallCaps;
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
            clock: unix_now,
        }
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
        let hold = (worst.0, worst.1.unwrap_or(0.0));
        let id = self
            .ledger()
            .hold(caller, PeriodCaps::starts(now), hold, |used| {
                self.period.refusal(used, worst, &self.currency, now)
            })?;
        reservation.held(id);
        Ok(reservation)
    }

    /// What `caller` spent today and this month, with the caps and what is left.
    pub async fn usage(&self, caller: &str) -> Usage {
        let now = (self.clock)();
        let (day, month) = PeriodCaps::starts(now);
        let ledger = self.ledger();
        Usage {
            now,
            billed: Used {
                day: ledger.totals(Some(caller), day),
                month: ledger.totals(Some(caller), month),
            },
            in_flight: ledger.held(caller),
            period: self.period,
            call: self.call,
            currency: self.currency.clone(),
        }
    }
}

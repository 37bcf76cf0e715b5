//! Spend control: what a call cost, estimated from the model table's prices (computed from what
//! the upstream says it billed, so failed images cost nothing); a ledger of billed calls; and
//! caps per call, per day and per month, checked before anything goes upstream.

mod caps;
mod confirm;
mod cost;
mod ledger;
mod period;

use std::path::PathBuf;
use std::sync::OnceLock;

pub use caps::CallCaps;
pub use confirm::{ConfirmAbove, Quote};
pub use cost::Cost;
pub use ledger::{Entry, Ledger, Totals};
pub use period::PeriodCaps;

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
    ledger: OnceLock<Ledger>,
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

    fn ledger(&self) -> &Ledger {
        self.ledger.get_or_init(|| match &self.path {
            Some(path) => Ledger::open(path, (self.clock)()),
            None => Ledger::memory(),
        })
    }

    /// Why `request` from `caller` may not be sent, or `None`: the per-call caps, then what the
    /// caller has left today and this month against the call's worst case.
    pub fn refusal(&self, caller: &str, request: &ImageRequest, rules: &Rules) -> Option<String> {
        if let Some(why) = self.call.refusal(request, rules, &self.currency) {
            return Some(why);
        }
        if self.period.is_empty() {
            return None;
        }
        let worst = caps::worst_case(request, rules);
        self.period
            .refusal(self.ledger(), caller, worst, &self.currency, (self.clock)())
    }

    /// Records a billed call.
    pub fn record(&self, caller: &str, model: &str, cost: &Cost) {
        if cost.images == 0 && cost.tokens == 0 {
            return;
        }
        self.ledger().record(Entry {
            at: (self.clock)(),
            caller: caller.to_owned(),
            model: model.to_owned(),
            images: cost.images,
            tokens: cost.tokens,
            estimate: cost.estimate,
        });
    }

    /// What `caller` spent today and this month, with the caps, for people.
    pub fn usage_text(&self, caller: &str) -> String {
        self.period
            .usage_text(self.ledger(), caller, &self.currency, (self.clock)())
    }
}

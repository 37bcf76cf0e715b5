//! Day and month totals shared through Redis, when the job store is there: several instances
//! behind a load balancer then count one allowance per caller, not one each.
//!
//! Keys: `seedream:spend:<caller>:d:<YYYY-MM-DD>` and `seedream:spend:<caller>:m:<YYYY-MM>`,
//! hashes of `images` and `micros` (the estimated cost in millionths, so sums are exact
//! integers), each expiring a day after its period ends. A call's worst case is added by one
//! script that checks every cap first (Redis runs a script alone, so concurrent calls on any
//! instance are counted one after the other); it is taken back, less the real cost, when the
//! call is settled, or whole when the call ends without one. Only used when day or month caps
//! are set; every call runs on the blocking pool, like the job store's.

use std::sync::Arc;

use redis::Connection;

use crate::jobs::store::RedisPool;

use super::ledger::{Totals, Used};
use super::period::{self, DAY, PeriodCaps};

/// Connections kept for reuse.
const POOL: usize = 8;

/// Checks every cap against the totals and, when the call fits, adds it to both. KEYS: the day
/// and month hashes. ARGV: images, micros, the four caps (day images, day micros, month images,
/// month micros; -1 for none), the two TTLs. Returns {fits, day images, day micros, month
/// images, month micros}, the totals before this call.
const RESERVE: &str = r"
local function get(k, f) return tonumber(redis.call('HGET', k, f) or '0') end
local di, dc = get(KEYS[1], 'images'), get(KEYS[1], 'micros')
local mi, mc = get(KEYS[2], 'images'), get(KEYS[2], 'micros')
local n, c = tonumber(ARGV[1]), tonumber(ARGV[2])
local function over(spent, add, cap)
  cap = tonumber(cap)
  return cap >= 0 and spent + add > cap
end
if over(di, n, ARGV[3]) or over(dc, c, ARGV[4]) or over(mi, n, ARGV[5]) or over(mc, c, ARGV[6]) then
  return {0, di, dc, mi, mc}
end
for i = 1, 2 do
  redis.call('HINCRBY', KEYS[i], 'images', n)
  redis.call('HINCRBY', KEYS[i], 'micros', c)
  redis.call('EXPIRE', KEYS[i], ARGV[6 + i])
end
return {1, di, dc, mi, mc}
";

/// The counters in one Redis server.
#[derive(Debug)]
pub struct Counters {
    pool: RedisPool,
}

/// One caller's day and month hashes at one moment, with how long each is kept.
#[derive(Debug, Clone)]
pub struct Keys {
    day: String,
    month: String,
    ttls: (i64, i64),
}

impl Keys {
    pub fn of(caller: &str, now: i64) -> Keys {
        let (day, month) = (period::day(now), period::month(now));
        let date = period::date(now);
        let ym = date.get(..7).unwrap_or(&date);
        Keys {
            day: format!("seedream:spend:{caller}:d:{date}"),
            month: format!("seedream:spend:{caller}:m:{ym}"),
            ttls: ((day.reset - now) + DAY, (month.reset - now) + DAY),
        }
    }
}

/// A call's worst case as the counters hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Amount {
    pub images: i64,
    pub micros: i64,
}

impl Amount {
    pub fn of(images: u64, cost: f64) -> Amount {
        Amount {
            images: i64::try_from(images).unwrap_or(i64::MAX),
            micros: micros(cost),
        }
    }
}

fn micros(cost: f64) -> i64 {
    (cost * 1e6).round() as i64
}

fn totals(images: i64, micros: i64) -> Totals {
    Totals {
        images: u64::try_from(images).unwrap_or(0),
        cost: micros.max(0) as f64 / 1e6,
    }
}

type Result<T> = std::result::Result<T, redis::RedisError>;

impl Counters {
    pub fn new(client: redis::Client) -> Arc<Counters> {
        Arc::new(Counters {
            pool: RedisPool::new(client, POOL),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        self.pool.with(f)
    }

    /// Adds `add` under `caps` unless it would pass one: `Ok(Ok(()))` when held, `Ok(Err(used))`
    /// with what the caller had used when it would not fit.
    pub fn reserve(
        &self,
        keys: &Keys,
        add: Amount,
        caps: &PeriodCaps,
    ) -> Result<std::result::Result<(), Used>> {
        let cap_images = |c: Option<u64>| c.map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
        let cap_micros = |c: Option<f64>| c.map_or(-1, micros);
        let reply: Vec<i64> = self.with(|c| {
            redis::cmd("EVAL")
                .arg(RESERVE)
                .arg(2)
                .arg(&keys.day)
                .arg(&keys.month)
                .arg(add.images)
                .arg(add.micros)
                .arg(cap_images(caps.images_per_day))
                .arg(cap_micros(caps.cost_per_day))
                .arg(cap_images(caps.images_per_month))
                .arg(cap_micros(caps.cost_per_month))
                .arg(keys.ttls.0.max(1))
                .arg(keys.ttls.1.max(1))
                .query(c)
        })?;
        let &[fits, di, dc, mi, mc] = reply.as_slice() else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "unexpected reply to the spend script",
            )));
        };
        if fits == 1 {
            return Ok(Ok(()));
        }
        Ok(Err(Used {
            day: totals(di, dc),
            month: totals(mi, mc),
        }))
    }

    /// Adds `delta` (negative to take back) to both hashes.
    pub fn adjust(&self, keys: &Keys, delta: Amount) -> Result<()> {
        if delta.images == 0 && delta.micros == 0 {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for key in [&keys.day, &keys.month] {
            pipe.hincr(key, "images", delta.images)
                .ignore()
                .hincr(key, "micros", delta.micros)
                .ignore();
        }
        self.with(|c| pipe.query::<()>(c))
    }

    /// What the caller has used today and this month (calls in flight on any instance included).
    pub fn used(&self, keys: &Keys) -> Result<Used> {
        let mut pipe = redis::pipe();
        pipe.hget(&keys.day, &["images", "micros"])
            .hget(&keys.month, &["images", "micros"]);
        let (day, month): (Vec<Option<i64>>, Vec<Option<i64>>) = self.with(|c| pipe.query(c))?;
        let of = |v: &[Option<i64>]| {
            totals(
                v.first().copied().flatten().unwrap_or(0),
                v.get(1).copied().flatten().unwrap_or(0),
            )
        };
        Ok(Used {
            day: of(&day),
            month: of(&month),
        })
    }
}

/// A reservation's part in the counters: taken back when dropped unsettled.
#[derive(Debug)]
pub struct Held {
    pub counters: Arc<Counters>,
    pub keys: Keys,
    pub amount: Amount,
}

impl Held {
    /// Replaces the worst case by what was billed.
    pub async fn settle(self, billed: Amount) {
        let delta = Amount {
            images: billed.images - self.amount.images,
            micros: billed.micros - self.amount.micros,
        };
        let Held { counters, keys, .. } = self;
        let done = tokio::task::spawn_blocking(move || counters.adjust(&keys, delta)).await;
        if !matches!(done, Ok(Ok(()))) {
            tracing::warn!("could not settle a call's cost in the shared spend counters");
        }
    }

    /// Takes the worst case back, in the background.
    pub fn release(self) {
        let delta = Amount {
            images: -self.amount.images,
            micros: -self.amount.micros,
        };
        let Held { counters, keys, .. } = self;
        let release = move || {
            if counters.adjust(&keys, delta).is_err() {
                tracing::warn!("could not release a call's room in the shared spend counters");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(release)),
            Err(_) => release(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_the_caller_and_the_period_and_outlive_it_by_a_day() {
        // 2026-11-30 20:00 UTC.
        let k = Keys::of("key:ab12", 1_796_068_800);
        assert_eq!(k.day, "seedream:spend:key:ab12:d:2026-11-30");
        assert_eq!(k.month, "seedream:spend:key:ab12:m:2026-11");
        assert_eq!(k.ttls, (4 * 3600 + DAY, 4 * 3600 + DAY));
        assert_eq!(Amount::of(2, 0.08).micros, 80_000);
    }
}

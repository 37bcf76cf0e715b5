//! The shared store: job records in Redis or Valkey, so every instance behind a load balancer
//! answers `get_job` and `tasks/*` for every job.
//!
//! Keys (all under `seedream:`, all with a TTL, so Redis bounds the store by itself):
//! `job:<id>` the record as JSON, `img:<id>:<index>` a kept image's bytes, `cancel:<id>` a
//! cancel asked for through another instance, `alive:<runner>` a running process's heartbeat,
//! `meta:tenant_key` the key every instance hashes tenants with.
//!
//! A record still "running" is only as alive as the process running it: each process renews
//! its heartbeat every [`BEAT`] and lets it lapse after [`ALIVE_FOR`]; a reader that finds a
//! running record whose runner's heartbeat has lapsed reports it interrupted.
//!
//! The client is the `redis` crate's synchronous one (no async runtime features, five crates
//! in the tree): store calls already run on the blocking pool for the embedded file, and a
//! small pool of connections keeps them off the connect path.

use std::time::Duration;

use redis::{Commands, Connection};

use super::pool::{Pool, connect};
use super::record::{Clock, Record, Status};
use super::{DbError, Records, StoreError};

const PREFIX: &str = "seedream:";
/// How often a process renews its heartbeat.
pub const BEAT: Duration = Duration::from_secs(2);
/// How long a heartbeat lives: three missed beats and the process counts as gone.
pub const ALIVE_FOR: Duration = Duration::from_secs(6);
/// A running record outlives the keep time by this much: no generation runs that long, and a
/// record whose runner died still expires.
const RUNNING_EXTRA: Duration = Duration::from_secs(6 * 3600);
/// Connections kept for reuse; more are opened under load and closed after.
const POOL: usize = 16;

/// A `redis://` URL. It may carry a password, so it prints without one.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Accepts `redis://[user:password@]host[:port][/db]`; says what is wrong otherwise.
    pub fn parse(raw: &str) -> Result<RedisUrl, String> {
        let raw = raw.trim();
        if raw.starts_with("rediss://") {
            return Err("TLS (`rediss://`) is not built in: reach Redis over a private network or a TLS tunnel, with redis://host:port".to_owned());
        }
        if !raw.starts_with("redis://") {
            return Err("use redis://host:port (or a file path, or `memory`)".to_owned());
        }
        redis::Client::open(raw)
            .map(|_| RedisUrl(raw.to_owned()))
            .map_err(|e| format!("not a usable Redis URL ({})", e.kind_str()))
    }

    /// A client of this server (it connects on first use), for other state kept there: the
    /// spend counters.
    pub fn client(&self) -> redis::RedisResult<redis::Client> {
        redis::Client::open(self.0.as_str())
    }

    /// The URL with any password replaced, for messages and logs.
    pub fn shown(&self) -> String {
        match self.0.rsplit_once('@') {
            Some((_, host)) => format!("redis://***@{host}"),
            None => self.0.clone(),
        }
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown())
    }
}

trait KindStr {
    fn kind_str(&self) -> &'static str;
}

impl KindStr for redis::RedisError {
    /// The kind alone: the error's text may quote the URL, password included.
    fn kind_str(&self) -> &'static str {
        match self.kind() {
            redis::ErrorKind::InvalidClientConfig => "invalid client configuration",
            redis::ErrorKind::AuthenticationFailed => "authentication failed",
            redis::ErrorKind::IoError => "cannot connect",
            _ => "unexpected error",
        }
    }
}

/// Records in Redis.
pub struct Shared {
    pool: Pool,
    keep: Duration,
    /// This process, as named in its heartbeat and the records it runs.
    runner: String,
    clock: Clock,
    url: RedisUrl,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("url", &self.url)
            .field("runner", &self.runner)
            .finish()
    }
}

impl Shared {
    /// Connects, checks the server answers, and starts this process's heartbeat.
    pub fn open(url: &RedisUrl, keep: Duration) -> Result<Shared, StoreError> {
        let fail = |source: DbError| StoreError::Redis {
            url: url.shown(),
            source,
        };
        let client = redis::Client::open(url.0.as_str()).map_err(|e| fail(e.into()))?;
        let shared = Shared {
            pool: Pool::new(client, POOL),
            keep,
            runner: uuid::Uuid::new_v4().simple().to_string(),
            clock: Clock::new(),
            url: url.clone(),
        };
        shared.beat().map_err(fail)?;
        shared.start_heartbeat();
        Ok(shared)
    }

    /// This process's name in records and heartbeats.
    pub fn runner(&self) -> &str {
        &self.runner
    }

    /// Whether the process that runs a record still beats.
    pub fn is_alive(&self, runner: &str) -> Result<bool, DbError> {
        self.with(|c| c.exists(key(&["alive:", runner])))
    }

    /// Asks whichever instance runs `id` to stop it.
    pub fn request_cancel(&self, id: &str) -> Result<(), DbError> {
        let ttl = self.keep.as_secs().max(1);
        self.with(|c| c.set_ex(key(&["cancel:", id]), 1u8, ttl))
    }

    /// Whether another instance asked to stop `id`.
    pub fn cancel_requested(&self, id: &str) -> Result<bool, DbError> {
        self.with(|c| c.exists(key(&["cancel:", id])))
    }

    fn beat(&self) -> Result<(), DbError> {
        let ms = ALIVE_FOR.as_millis() as u64;
        self.with(|c| c.pset_ex(key(&["alive:", &self.runner]), 1u8, ms))
    }

    /// Renews the heartbeat on a thread of its own, so a busy runtime cannot starve it; it
    /// lives as long as the process (a store is opened once per process).
    fn start_heartbeat(&self) {
        let (client, runner, url) = (
            self.pool.client().clone(),
            self.runner.clone(),
            self.url.shown(),
        );
        let spawned = std::thread::Builder::new()
            .name("seedream-heartbeat".to_owned())
            .spawn(move || heartbeat(&client, &runner, &url));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no heartbeat thread: other instances will report this one's running jobs as interrupted");
        }
    }

    /// Runs `f` on a pooled connection.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, DbError> {
        Ok(self.pool.with(f)?)
    }

    fn ttl(&self, record: &Record) -> u64 {
        let extra = match record.status {
            Status::Running => RUNNING_EXTRA,
            _ => Duration::ZERO,
        };
        (self.keep + extra).as_secs().max(1)
    }
}

fn heartbeat(client: &redis::Client, runner: &str, url: &str) {
    let name = key(&["alive:", runner]);
    let ms = ALIVE_FOR.as_millis() as u64;
    let mut conn: Option<Connection> = None;
    loop {
        std::thread::sleep(BEAT);
        if conn.is_none() {
            conn = connect(client).ok();
        }
        let beat = conn.as_mut().map(|c| c.pset_ex::<_, _, ()>(&name, 1u8, ms));
        if !matches!(beat, Some(Ok(()))) {
            tracing::warn!(store = %url, "job store heartbeat failed: retrying");
            conn = None;
        }
    }
}

fn key(parts: &[&str]) -> String {
    let mut k = String::from(PREFIX);
    parts.iter().for_each(|p| k.push_str(p));
    k
}

fn image_key(id: &str, index: usize) -> String {
    key(&["img:", id, ":", &index.to_string()])
}

impl Records for Shared {
    fn now(&self) -> u64 {
        self.clock.now()
    }

    fn tenant_key(&self, fresh: [u8; 32]) -> Result<[u8; 32], DbError> {
        let name = key(&["meta:tenant_key"]);
        let stored: Vec<u8> = self.with(|c| {
            // The first instance's key wins; later ones read it.
            let _: redis::Value = redis::cmd("SET")
                .arg(&name)
                .arg(fresh.as_slice())
                .arg("NX")
                .query(c)?;
            c.get(&name)
        })?;
        Ok(<[u8; 32]>::try_from(stored.as_slice()).unwrap_or(fresh))
    }

    fn put(&self, record: &Record, images: &[(usize, &[u8])]) -> Result<(), DbError> {
        let ttl = self.ttl(record);
        let json = serde_json::to_vec(record).unwrap_or_default();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(key(&["job:", &record.id]), json, ttl)
            .ignore();
        for (index, bytes) in images {
            pipe.set_ex(image_key(&record.id, *index), *bytes, ttl)
                .ignore();
        }
        if record.status != Status::Running {
            // Images written while it ran follow the record's new, shorter life.
            for meta in &record.images {
                pipe.expire(image_key(&record.id, meta.index), ttl as i64)
                    .ignore();
            }
        }
        self.with(|c| pipe.query::<()>(c))
    }

    fn get(&self, id: &str) -> Result<Option<Record>, DbError> {
        let raw: Option<Vec<u8>> = self.with(|c| c.get(key(&["job:", id])))?;
        Ok(raw.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    fn image(&self, id: &str, index: usize) -> Result<Option<Vec<u8>>, DbError> {
        self.with(|c| c.get(image_key(id, index)))
    }

    fn remove(&self, id: &str) -> Result<(), DbError> {
        let images = self.get(id)?.map(|r| r.images).unwrap_or_default();
        let mut keys = vec![key(&["job:", id]), key(&["cancel:", id])];
        keys.extend(images.iter().map(|m| image_key(id, m.index)));
        self.with(|c| c.del(keys))
    }

    /// Redis expires keys by itself.
    fn sweep(&self) -> Result<(), DbError> {
        Ok(())
    }
}

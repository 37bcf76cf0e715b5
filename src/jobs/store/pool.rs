//! A few Redis connections kept for reuse, with connect and I/O timeouts: the job store and the
//! shared spend counters both run their Redis calls on the blocking pool through one of these,
//! so a call seldom pays for a connect.

use std::sync::Mutex;
use std::time::Duration;

use redis::Connection;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections to one Redis server.
pub struct Pool {
    client: redis::Client,
    idle: Mutex<Vec<Connection>>,
    /// Idle connections kept at most.
    keep: usize,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client holds the URL, password included.
        f.write_str("Pool")
    }
}

impl Pool {
    pub fn new(client: redis::Client, keep: usize) -> Pool {
        Pool {
            client,
            idle: Mutex::new(Vec::new()),
            keep,
        }
    }

    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// Runs `f` on a pooled connection; a connection that failed is not reused.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> redis::RedisResult<T> {
        let pooled = self.idle.lock().ok().and_then(|mut p| p.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => connect(&self.client)?,
        };
        let out = f(&mut conn)?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.keep
        {
            idle.push(conn);
        }
        Ok(out)
    }
}

/// A connection with the connect and I/O timeouts.
pub fn connect(client: &redis::Client) -> redis::RedisResult<Connection> {
    let conn = client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
    conn.set_read_timeout(Some(IO_TIMEOUT))?;
    conn.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(conn)
}

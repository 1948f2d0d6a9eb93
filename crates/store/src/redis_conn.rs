//! One shared connection to Redis, used by the Redis cache, rate limiter and pub/sub.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// How long one command may take before it counts as a failure. Short, because every user of
/// Redis here sits on a request path and has a fallback answer (a cache miss, a 503).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A multiplexed, self-healing connection plus the key prefix of this deployment.
///
/// The connection is established lazily and re-established after Redis restarts, so the
/// service starts while Redis is down and recovers without a restart; readiness reports the
/// outage meanwhile.
#[derive(Clone)]
pub struct RedisConnection {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
}

impl fmt::Debug for RedisConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client holds the URL, which may hold a password.
        f.debug_struct("RedisConnection").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisConnection {
    /// Prepares a connection to `url`; nothing is sent until the first command.
    pub fn open(url: &SecretString, prefix: &str) -> Result<Self> {
        let client = redis::Client::open(url.expose_secret()).map_err(|_| Error::Config {
            key: "VARIOSYNC_REDIS_URL",
            message: "expected a URL such as redis://127.0.0.1:6379/0 or rediss://host:6380".into(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(Self { client, manager, prefix: prefix.to_owned() })
    }

    /// A handle for sending commands; cheap to clone.
    pub fn manager(&self) -> ConnectionManager {
        self.manager.clone()
    }

    /// The client, for connections that cannot be shared (subscriptions).
    pub fn client(&self) -> &redis::Client {
        &self.client
    }

    /// `{prefix}:{kind}:{name}`: every key this deployment writes.
    pub fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }

    /// Checks that Redis answers `PING`.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.manager();
        let ping = redis::cmd("PING");
        let probe = ping.query_async::<String>(&mut conn);
        let reply = tokio::time::timeout(RESPONSE_TIMEOUT + CONNECT_TIMEOUT, probe)
            .await
            .map_err(|_| Error::Timeout { what: "redis", after: RESPONSE_TIMEOUT })??;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(Error::Corrupt(format!("redis answered PING with {reply:?}")))
        }
    }
}

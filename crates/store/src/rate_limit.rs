//! Rate limiting by the generic cell rate algorithm (GCRA): per key, one stored timestamp
//! (the theoretical arrival time of the next request), a steady rate with a burst allowance,
//! and an exact "retry after". In-process by default; in Redis the whole check-and-update runs
//! as one Lua script on the server, with the server's clock, so replicas share limits exactly.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;

use crate::clock::Clock;
use crate::error::Result;
use crate::redis_conn::RedisConnection;

/// `limit` requests per `period`, all of which may arrive at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    limit: u32,
    period: Duration,
}

impl Quota {
    /// A quota of `limit` requests per `period`; `None` if either is zero.
    pub fn new(limit: u32, period: Duration) -> Option<Self> {
        (limit > 0 && !period.is_zero()).then_some(Self { limit, period })
    }

    /// The time one request "costs": the period divided by the limit, in microseconds.
    fn emission_micros(&self) -> u64 {
        (duration_micros(self.period) / u64::from(self.limit)).max(1)
    }

    /// The requests allowed in one burst.
    pub fn limit(&self) -> u32 {
        self.limit
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// How many more requests would be allowed right now.
    pub remaining: u32,
    /// When denied, how long until a request would be allowed.
    pub retry_after: Duration,
}

/// Counts requests per key against a quota.
#[async_trait]
pub trait RateLimiter: Send + Sync + fmt::Debug {
    /// Records one request under `key` if the quota allows it.
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision>;
}

fn duration_micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

/// The GCRA step shared in meaning with the Lua script below: given the stored theoretical
/// arrival time (`tat`, if any) and `now`, returns the decision and the new stored value.
fn gcra(tat: Option<u64>, now: u64, quota: Quota) -> (Decision, Option<u64>) {
    let emission = quota.emission_micros();
    let period = emission * u64::from(quota.limit);
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat + emission;
    let allow_at = new_tat.saturating_sub(period);
    if now < allow_at {
        let decision = Decision {
            allowed: false,
            remaining: 0,
            retry_after: Duration::from_micros(allow_at - now),
        };
        return (decision, None);
    }
    let remaining = (period - (new_tat - now)) / emission;
    let decision = Decision {
        allowed: true,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        retry_after: Duration::ZERO,
    };
    (decision, Some(new_tat))
}

/// The in-process limiter.
#[derive(Default)]
pub struct MemoryRateLimiter {
    // A plain mutex: the critical section is a few arithmetic operations.
    state: Mutex<HashMap<String, u64>>,
    clock: Clock,
}

impl fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRateLimiter").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// Past this many keys, expired entries are swept before inserting, so idle keys do not
/// accumulate forever.
const SWEEP_THRESHOLD: usize = 10_000;

impl MemoryRateLimiter {
    /// An empty limiter on the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty limiter that refills by `clock`.
    pub fn with_clock(clock: Clock) -> Self {
        Self { state: Mutex::default(), clock }
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision> {
        let now = duration_micros(self.clock.now().duration_since(UNIX_EPOCH).unwrap_or_default());
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.len() >= SWEEP_THRESHOLD {
            // A TAT in the past means the key is back to a full burst: forgetting it is exact.
            state.retain(|_, tat| *tat > now);
        }
        let (decision, new_tat) = gcra(state.get(key).copied(), now, quota);
        if let Some(new_tat) = new_tat {
            state.insert(key.to_owned(), new_tat);
        }
        Ok(decision)
    }
}

/// GCRA in one atomic server-side step. Times are microseconds from Redis' own clock, so
/// replicas with skewed clocks still agree. Lua numbers are doubles, exact up to 2^53 us
/// (about 285 years from 1970).
const GCRA_SCRIPT: &str = r"
local emission = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - period
if now < allow_at then
  return {0, 0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((period - (new_tat - now)) / emission), 0}
";

/// The limiter shared by every replica through Redis.
pub struct RedisRateLimiter {
    conn: RedisConnection,
    script: redis::Script,
}

impl fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRateLimiter").field("conn", &self.conn).finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    /// A limiter in `conn`'s key space.
    pub fn new(conn: RedisConnection) -> Self {
        Self { conn, script: redis::Script::new(GCRA_SCRIPT) }
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn check(&self, key: &str, quota: Quota) -> Result<Decision> {
        let emission = quota.emission_micros();
        let period = emission * u64::from(quota.limit);
        let (allowed, remaining, retry_after): (u8, u64, u64) = self
            .script
            .key(self.conn.key("rate", key))
            .arg(emission)
            .arg(period)
            .invoke_async(&mut self.conn.manager())
            .await?;
        Ok(Decision {
            allowed: allowed == 1,
            remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
            retry_after: Duration::from_micros(retry_after),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000;

    #[test]
    fn a_full_burst_is_allowed_then_the_next_request_waits_one_emission_interval() {
        let quota = Quota::new(4, Duration::from_secs(4)).unwrap();
        let mut tat = None;
        for expected_remaining in [3, 2, 1, 0] {
            let (decision, new_tat) = gcra(tat, 100 * SECOND, quota);
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
            tat = new_tat;
        }
        let (denied, unchanged) = gcra(tat, 100 * SECOND, quota);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after, Duration::from_secs(1));
        assert_eq!(unchanged, None);
        let (later, _) = gcra(tat, 101 * SECOND, quota);
        assert!(later.allowed);
    }

    #[test]
    fn a_quota_needs_a_positive_limit_and_period() {
        assert!(Quota::new(0, Duration::from_secs(1)).is_none());
        assert!(Quota::new(1, Duration::ZERO).is_none());
    }
}

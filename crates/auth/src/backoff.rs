//! Growing back-off per account after failed sign-ins: the first few mistakes cost nothing,
//! then each further failure doubles the wait before the next attempt, up to 15 minutes.
//! Kept in the shared cache, so every replica sees the same count; a success clears it.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use variosync_domain::Email;
use variosync_store::Cache;

use crate::error::{Error, Result};

/// Failures allowed before any wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// How long a run of failures is remembered after the last one.
const MEMORY: Duration = Duration::from_secs(60 * 60);

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Failures {
    count: u32,
    /// Unix milliseconds of the last failure.
    last_ms: i64,
}

fn key(email: &Email) -> String {
    format!("signin-failures:{email}")
}

/// The wait required after `count` failures.
fn wait_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_WAIT)
}

async fn load(cache: &dyn Cache, email: &Email) -> Result<Option<Failures>> {
    let bytes = cache.get(&key(email)).await?;
    Ok(bytes.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

/// Refuses an attempt that comes before the account's back-off has passed.
pub(crate) async fn check(cache: &dyn Cache, email: &Email) -> Result<()> {
    let Some(failures) = load(cache, email).await? else { return Ok(()) };
    let ready_ms = failures.last_ms
        + i64::try_from(wait_after(failures.count).as_millis()).unwrap_or(i64::MAX);
    let now_ms = chrono::Utc::now().timestamp_millis();
    if now_ms < ready_ms {
        let wait = Duration::from_millis(u64::try_from(ready_ms - now_ms).unwrap_or(0));
        return Err(Error::TooManyAttempts(wait));
    }
    Ok(())
}

/// Counts one more failure.
pub(crate) async fn record_failure(cache: &dyn Cache, email: &Email) -> Result<()> {
    let count = load(cache, email).await?.map_or(0, |failures| failures.count) + 1;
    let failures = Failures { count, last_ms: chrono::Utc::now().timestamp_millis() };
    let bytes = Bytes::from(serde_json::to_vec(&failures).unwrap_or_default());
    cache.set(&key(email), bytes, MEMORY).await?;
    Ok(())
}

/// Forgets the failures after a success.
pub(crate) async fn clear(cache: &dyn Cache, email: &Email) -> Result<()> {
    cache.delete(&key(email)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(wait_after(4), Duration::ZERO);
        assert_eq!(wait_after(5), Duration::from_secs(1));
        assert_eq!(wait_after(6), Duration::from_secs(2));
        assert_eq!(wait_after(10), Duration::from_secs(32));
        assert_eq!(wait_after(40), MAX_WAIT);
    }
}

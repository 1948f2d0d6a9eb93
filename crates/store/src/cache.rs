//! A byte cache with per-entry expiry: in-process (moka) by default, Redis when replicas must
//! share it. Values are opaque bytes; callers serialise.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use moka::Expiry;
use redis::AsyncCommands;

use crate::clock::Clock;
use crate::error::Result;
use crate::redis_conn::RedisConnection;

/// A key-value cache. A miss is `None`; an entry disappears after its time to live.
#[async_trait]
pub trait Cache: Send + Sync + fmt::Debug {
    /// The value under `key`, unless it expired or was never set.
    async fn get(&self, key: &str) -> Result<Option<Bytes>>;
    /// Stores `value` under `key` for `ttl`, replacing any previous value.
    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<()>;
    /// Removes `key`; removing a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
}

#[derive(Clone)]
struct Entry {
    value: Bytes,
    lifetime: Lifetime,
}

#[derive(Clone, Copy)]
enum Lifetime {
    /// Moka's own timer removes the entry after this long (the system clock).
    Timer(Duration),
    /// The entry goes stale at this moment of a manual clock, which moka's timer knows
    /// nothing of; `None` if that moment is beyond what `SystemTime` holds.
    Until(Option<SystemTime>),
}

impl Entry {
    fn is_fresh(&self, clock: &Clock) -> bool {
        match self.lifetime {
            Lifetime::Timer(_) => true,
            Lifetime::Until(deadline) => deadline.is_none_or(|deadline| clock.now() < deadline),
        }
    }
}

struct EntryExpiry;

impl EntryExpiry {
    fn ttl(entry: &Entry) -> Option<Duration> {
        match entry.lifetime {
            Lifetime::Timer(ttl) => Some(ttl),
            Lifetime::Until(_) => None,
        }
    }
}

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, entry: &Entry, _at: Instant) -> Option<Duration> {
        Self::ttl(entry)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _at: Instant,
        _remaining: Option<Duration>,
    ) -> Option<Duration> {
        Self::ttl(entry)
    }
}

/// The in-process cache, bounded by the total size of its values.
#[derive(Clone)]
pub struct MemoryCache {
    inner: moka::future::Cache<String, Entry>,
    clock: Clock,
}

impl fmt::Debug for MemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryCache")
            .field("entries", &self.inner.entry_count())
            .field("clock", &self.clock)
            .finish()
    }
}

impl MemoryCache {
    /// A cache that holds at most `max_bytes` of keys and values.
    pub fn new(max_bytes: u64) -> Self {
        Self::with_clock(max_bytes, Clock::System)
    }

    /// A cache whose entries expire by `clock`. With a manual clock, a stale entry is a miss
    /// at once but keeps its room until it is replaced or evicted.
    pub fn with_clock(max_bytes: u64, clock: Clock) -> Self {
        let inner = moka::future::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, entry: &Entry| {
                u32::try_from(key.len() + entry.value.len()).unwrap_or(u32::MAX)
            })
            .expire_after(EntryExpiry)
            .build();
        Self { inner, clock }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let entry = self.inner.get(key).await;
        Ok(entry.filter(|entry| entry.is_fresh(&self.clock)).map(|entry| entry.value))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<()> {
        let lifetime = match &self.clock {
            Clock::System => Lifetime::Timer(ttl),
            Clock::Manual(clock) => Lifetime::Until(clock.now().checked_add(ttl)),
        };
        self.inner.insert(key.to_owned(), Entry { value, lifetime }).await;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.invalidate(key).await;
        Ok(())
    }
}

/// The cache shared by every replica through Redis.
#[derive(Debug, Clone)]
pub struct RedisCache {
    conn: RedisConnection,
}

impl RedisCache {
    /// A cache in `conn`'s key space.
    pub fn new(conn: RedisConnection) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        let value: Option<Vec<u8>> = self.conn.manager().get(self.conn.key("cache", key)).await?;
        Ok(value.map(Bytes::from))
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<()> {
        // Redis rejects a zero expiry; the shortest it keeps is one millisecond.
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: () = self
            .conn
            .manager()
            .pset_ex(self.conn.key("cache", key), value.as_ref(), millis)
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let _: () = self.conn.manager().del(self.conn.key("cache", key)).await?;
        Ok(())
    }
}

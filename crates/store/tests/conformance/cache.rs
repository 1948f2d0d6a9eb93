use std::time::{Duration, Instant};

use bytes::Bytes;
use variosync_store::clock::{Clock, ManualClock};
use variosync_store::{Cache, MemoryCache, RedisCache, RedisConnection, testing};

/// `clock` is the cache's manual clock; without one, the cache keeps real time (the system
/// clock, or Redis' own), and the test waits for expiry as it happens.
async fn the_cache_conforms(cache: &dyn Cache, clock: Option<&ManualClock>) {
    assert_eq!(cache.get("absent").await.unwrap(), None);

    cache.set("greeting", Bytes::from_static(b"hello"), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.get("greeting").await.unwrap(), Some(Bytes::from_static(b"hello")));

    cache.set("greeting", Bytes::from_static(b"again"), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.get("greeting").await.unwrap(), Some(Bytes::from_static(b"again")));

    cache.delete("greeting").await.unwrap();
    assert_eq!(cache.get("greeting").await.unwrap(), None);
    cache.delete("greeting").await.expect("deleting a missing key is not an error");

    cache.set("brief", Bytes::from_static(b"x"), Duration::from_millis(100)).await.unwrap();
    cache.set("lasting", Bytes::from_static(b"y"), Duration::from_secs(60)).await.unwrap();
    if let Some(clock) = clock {
        clock.advance(Duration::from_millis(99));
        assert_eq!(
            cache.get("brief").await.unwrap(),
            Some(Bytes::from_static(b"x")),
            "an entry lives until its ttl"
        );
        clock.advance(Duration::from_millis(1));
    }
    // Real time only promises that the ttl has passed by the time the entry is gone, so
    // wait for that rather than for a guess at how long it takes.
    let deadline = Instant::now() + Duration::from_secs(30);
    while cache.get("brief").await.unwrap().is_some() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(cache.get("brief").await.unwrap(), None, "an entry expires after its ttl");
    assert_eq!(cache.get("lasting").await.unwrap(), Some(Bytes::from_static(b"y")));
}

#[tokio::test]
async fn the_cache_conforms_in_memory() {
    let clock = ManualClock::new();
    let cache = MemoryCache::with_clock(1024 * 1024, Clock::from(clock.clone()));
    the_cache_conforms(&cache, Some(&clock)).await;
}

#[tokio::test]
async fn the_cache_conforms_in_memory_on_the_system_clock() {
    the_cache_conforms(&MemoryCache::new(1024 * 1024), None).await;
}

#[tokio::test]
async fn the_cache_conforms_on_redis() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let conn = RedisConnection::open(settings.url.as_ref().unwrap(), &settings.key_prefix).unwrap();
    the_cache_conforms(&RedisCache::new(conn), None).await;
}

#[tokio::test]
async fn the_memory_cache_evicts_beyond_its_byte_budget() {
    let cache = MemoryCache::new(10 * 1024);
    for i in 0..100 {
        cache
            .set(&format!("k{i}"), Bytes::from(vec![0u8; 1024]), Duration::from_secs(60))
            .await
            .unwrap();
    }
    let mut kept = 0;
    for i in 0..100 {
        if cache.get(&format!("k{i}")).await.unwrap().is_some() {
            kept += 1;
        }
    }
    assert!(kept <= 10, "kept {kept} entries of 1 KiB in a 10 KiB cache");
}

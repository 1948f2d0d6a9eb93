use std::time::Duration;

use bytes::Bytes;
use variosync_store::{Cache, MemoryCache, RedisCache, RedisConnection, testing};

async fn the_cache_conforms(cache: &dyn Cache) {
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
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get("brief").await.unwrap(), None, "an entry expires after its ttl");
    assert_eq!(cache.get("lasting").await.unwrap(), Some(Bytes::from_static(b"y")));
}

#[tokio::test]
async fn the_cache_conforms_in_memory() {
    the_cache_conforms(&MemoryCache::new(1024 * 1024)).await;
}

#[tokio::test]
async fn the_cache_conforms_on_redis() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let conn = RedisConnection::open(settings.url.as_ref().unwrap(), &settings.key_prefix).unwrap();
    the_cache_conforms(&RedisCache::new(conn)).await;
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

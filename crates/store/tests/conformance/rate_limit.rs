use std::time::Duration;

use variosync_store::{
    MemoryRateLimiter, Quota, RateLimiter, RedisConnection, RedisRateLimiter, testing,
};

async fn the_rate_limiter_conforms(limiter: &dyn RateLimiter) {
    let quota = Quota::new(3, Duration::from_secs(60)).unwrap();
    for expected_remaining in [2, 1, 0] {
        let decision = limiter.check("client-a", quota).await.unwrap();
        assert!(decision.allowed);
        assert_eq!(decision.remaining, expected_remaining);
    }
    let denied = limiter.check("client-a", quota).await.unwrap();
    assert!(!denied.allowed);
    assert_eq!(denied.remaining, 0);
    // One request costs 20 s of the 60 s window; the wait is at most that.
    assert!(denied.retry_after > Duration::ZERO && denied.retry_after <= Duration::from_secs(20));

    let other = limiter.check("client-b", quota).await.unwrap();
    assert!(other.allowed, "keys are limited independently");

    // A fast quota refills: after one emission interval one more request passes.
    let fast = Quota::new(2, Duration::from_millis(200)).unwrap();
    assert!(limiter.check("client-c", fast).await.unwrap().allowed);
    assert!(limiter.check("client-c", fast).await.unwrap().allowed);
    assert!(!limiter.check("client-c", fast).await.unwrap().allowed);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(limiter.check("client-c", fast).await.unwrap().allowed);
}

#[tokio::test]
async fn the_rate_limiter_conforms_in_memory() {
    the_rate_limiter_conforms(&MemoryRateLimiter::new()).await;
}

#[tokio::test]
async fn the_rate_limiter_conforms_on_redis() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let conn = RedisConnection::open(settings.url.as_ref().unwrap(), &settings.key_prefix).unwrap();
    the_rate_limiter_conforms(&RedisRateLimiter::new(conn)).await;
}

#[tokio::test]
async fn concurrent_requests_on_redis_never_exceed_the_quota() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let conn = RedisConnection::open(settings.url.as_ref().unwrap(), &settings.key_prefix).unwrap();
    let quota = Quota::new(10, Duration::from_secs(60)).unwrap();
    // Two limiters stand for two replicas sharing the same Redis.
    let replicas = [RedisRateLimiter::new(conn.clone()), RedisRateLimiter::new(conn)];
    let checks = (0..50).map(|i| replicas[i % 2].check("shared", quota));
    let allowed = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|decision| decision.as_ref().unwrap().allowed)
        .count();
    assert_eq!(allowed, 10);
}

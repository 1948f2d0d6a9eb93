use std::time::{Duration, Instant};

use variosync_store::clock::{Clock, ManualClock};
use variosync_store::{
    MemoryRateLimiter, Quota, RateLimiter, RedisConnection, RedisRateLimiter, testing,
};

/// `clock` is the limiter's manual clock; without one, the limiter keeps real time (the
/// system clock, or Redis' own), and the test waits for the refill as it happens.
async fn the_rate_limiter_conforms(limiter: &dyn RateLimiter, clock: Option<&ManualClock>) {
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

    // A fast quota refills: after one emission interval one more request passes. The
    // interval is long enough that a busy machine does not let it pass between two checks.
    let fast = Quota::new(2, Duration::from_secs(2)).unwrap();
    assert!(limiter.check("client-c", fast).await.unwrap().allowed);
    assert!(limiter.check("client-c", fast).await.unwrap().allowed);
    let refused = limiter.check("client-c", fast).await.unwrap();
    assert!(!refused.allowed);
    let interval = Duration::from_secs(1);
    assert!(refused.retry_after > Duration::ZERO && refused.retry_after <= interval);
    if let Some(clock) = clock {
        clock.advance(refused.retry_after - Duration::from_micros(1));
        assert!(!limiter.check("client-c", fast).await.unwrap().allowed, "not a moment early");
        clock.advance(Duration::from_micros(1));
    }
    // Real time only promises that the interval has passed by the time a request passes, so
    // wait for that rather than for a guess at how long it takes; a refused check costs
    // nothing, so asking again changes nothing.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut allowed = limiter.check("client-c", fast).await.unwrap().allowed;
    while !allowed && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        allowed = limiter.check("client-c", fast).await.unwrap().allowed;
    }
    assert!(allowed, "one more request passes after one emission interval");
}

#[tokio::test]
async fn the_rate_limiter_conforms_in_memory() {
    let clock = ManualClock::new();
    let limiter = MemoryRateLimiter::with_clock(Clock::from(clock.clone()));
    the_rate_limiter_conforms(&limiter, Some(&clock)).await;
}

#[tokio::test]
async fn the_rate_limiter_conforms_in_memory_on_the_system_clock() {
    the_rate_limiter_conforms(&MemoryRateLimiter::new(), None).await;
}

#[tokio::test]
async fn the_rate_limiter_conforms_on_redis() {
    let Some(settings) = testing::fresh_redis() else {
        return;
    };
    let conn = RedisConnection::open(settings.url.as_ref().unwrap(), &settings.key_prefix).unwrap();
    the_rate_limiter_conforms(&RedisRateLimiter::new(conn), None).await;
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

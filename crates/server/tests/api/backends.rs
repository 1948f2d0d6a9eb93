//! The same application on its production backends: PostgreSQL, Redis and S3.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use variosync_store::settings::RedisSettings;
use variosync_store::testing::{self, S3TestServer};

use crate::helpers::{check_backends, failed_checks, spawn_app_with};

#[tokio::test]
async fn the_service_runs_ready_on_postgres_redis_and_s3() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    let Some(redis) = testing::fresh_redis() else {
        return;
    };
    let s3 = S3TestServer::start().await;
    let app = spawn_app_with(|settings| {
        settings.database = database;
        settings.redis = redis;
        settings.s3 = s3.settings.clone();
    })
    .await;
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(check_backends(&body), ["database=postgres", "object_store=s3", "redis=redis"]);
    assert_eq!(
        app.backends.users().count(variosync_store::Access::System).await.unwrap(),
        0,
        "migrations ran on PostgreSQL"
    );
    assert!(!app.data_dir.path().join("variosync.db").exists(), "no SQLite file was made");
}

#[tokio::test]
async fn a_missing_bucket_makes_the_service_unready_and_is_named() {
    let s3 = S3TestServer::start().await;
    let app = spawn_app_with(|settings| {
        settings.s3 = s3.settings.clone();
        settings.s3.bucket = Some("no-such-bucket".into());
    })
    .await;
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(failed_checks(&body), ["object_store"]);
}

/// A private `redis-server` on its own port, so the test can stop and start it.
struct PrivateRedis {
    port: u16,
    child: Child,
}

impl PrivateRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        Self { port, child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Whether `ready` comes true within 30 s: a deadline by the clock, not a count of tries,
/// since on a busy machine each try may itself take a while.
async fn wait_until(mut ready: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if ready().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn readiness_follows_redis_going_away_and_coming_back_without_a_restart() {
    // This test runs its own redis-server; it needs the same machine set-up as the Redis tests.
    if testing::service_url("VARIOSYNC_TEST_REDIS_URL").is_none() {
        return;
    }
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut redis = PrivateRedis::start(port);
    let url = format!("redis://127.0.0.1:{}/", redis.port);
    let probe = redis::Client::open(url.as_str()).unwrap();
    assert!(
        wait_until(async || probe.get_multiplexed_async_connection().await.is_ok()).await,
        "the private redis-server did not come up"
    );
    let app = spawn_app_with(|settings| {
        settings.redis =
            RedisSettings { url: Some(url.clone().into()), key_prefix: "restart-test".into() };
    })
    .await;
    assert_eq!(app.readiness().await.0, StatusCode::OK);

    redis.stop();
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(failed_checks(&body), ["redis"]);

    let _redis = PrivateRedis::start(port);
    assert!(
        wait_until(async || app.readiness().await.0 == StatusCode::OK).await,
        "readiness did not recover after redis came back"
    );
}

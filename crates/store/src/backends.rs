//! All storage backends of one process, opened from settings, and their readiness.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use variosync_domain::error_chain;

use crate::cache::{Cache, MemoryCache, RedisCache};
use crate::db::Database;
use crate::error::Result;
use crate::objects::ObjectStorage;
use crate::pubsub::{MemoryPubSub, PubSub, RedisPubSub};
use crate::rate_limit::{MemoryRateLimiter, RateLimiter, RedisRateLimiter};
use crate::redis_conn::RedisConnection;
use crate::settings::StoreSettings;
use crate::users::UserRepository;
use crate::{ApiKeyRepository, AuditLog, AuthTokenRepository, HourLedger, SessionRepository};

/// The in-process cache's budget for keys and values.
const MEMORY_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Every backend the process talks to, cheap to clone.
#[derive(Debug, Clone)]
pub struct Backends {
    /// The metadata database.
    pub db: Database,
    /// Object storage.
    pub objects: ObjectStorage,
    /// The cache (memory or Redis).
    pub cache: Arc<dyn Cache>,
    /// The rate limiter (memory or Redis).
    pub limiter: Arc<dyn RateLimiter>,
    /// Live-update fan-out (memory or Redis).
    pub pubsub: Arc<dyn PubSub>,
    /// The shared Redis connection, when one is configured.
    pub redis: Option<RedisConnection>,
}

impl Backends {
    /// Opens every backend the settings name; what is not configured runs embedded, with its
    /// files under `data_dir`. Does not apply migrations: see [`Database::migrate`].
    pub async fn open(settings: &StoreSettings, data_dir: &Path) -> Result<Self> {
        let db = Database::connect(&settings.database, data_dir).await?;
        let objects = ObjectStorage::open(&settings.s3, data_dir)?;
        let redis = match &settings.redis.url {
            Some(url) => Some(RedisConnection::open(url, &settings.redis.key_prefix)?),
            None => None,
        };
        let (cache, limiter, pubsub): (Arc<dyn Cache>, Arc<dyn RateLimiter>, Arc<dyn PubSub>) =
            match &redis {
                Some(conn) => (
                    Arc::new(RedisCache::new(conn.clone())),
                    Arc::new(RedisRateLimiter::new(conn.clone())),
                    Arc::new(RedisPubSub::start(conn.clone()).await),
                ),
                None => (
                    Arc::new(MemoryCache::new(MEMORY_CACHE_BYTES)),
                    Arc::new(MemoryRateLimiter::new()),
                    Arc::new(MemoryPubSub::new()),
                ),
            };
        Ok(Self { db, objects, cache, limiter, pubsub, redis })
    }

    /// The accounts repository.
    pub fn users(&self) -> UserRepository {
        UserRepository::new(self.db.clone())
    }

    /// Payments for hour packages.
    pub fn payments(&self) -> crate::PaymentRepository {
        crate::PaymentRepository::new(self.db.clone())
    }

    /// The job queue.
    pub fn jobs(&self) -> crate::JobRepository {
        crate::JobRepository::new(self.db.clone())
    }

    /// Resumable uploads.
    pub fn uploads(&self) -> crate::UploadRepository {
        crate::UploadRepository::new(self.db.clone())
    }

    /// Workspaces and memberships.
    pub fn workspaces(&self) -> crate::WorkspaceRepository {
        crate::WorkspaceRepository::new(self.db.clone())
    }

    /// Datasets and their versions.
    pub fn datasets(&self) -> crate::DatasetRepository {
        crate::DatasetRepository::new(self.db.clone())
    }

    /// Forecasts.
    pub fn forecasts(&self) -> crate::ForecastRepository {
        crate::ForecastRepository::new(self.db.clone())
    }

    /// Exports written by jobs.
    pub fn exports(&self) -> crate::exports::ExportRepository {
        crate::exports::ExportRepository::new(self.db.clone())
    }

    /// Browser sessions.
    pub fn sessions(&self) -> SessionRepository {
        SessionRepository::new(self.db.clone())
    }

    /// Personal API keys.
    pub fn api_keys(&self) -> ApiKeyRepository {
        ApiKeyRepository::new(self.db.clone())
    }

    /// One-time e-mail tokens.
    pub fn auth_tokens(&self) -> AuthTokenRepository {
        AuthTokenRepository::new(self.db.clone())
    }

    /// Secrets the server keeps for itself.
    pub fn server_secrets(&self) -> crate::ServerSecrets {
        crate::ServerSecrets::new(self.db.clone())
    }

    /// Identities at external issuers.
    pub fn identities(&self) -> crate::IdentityRepository {
        crate::IdentityRepository::new(self.db.clone())
    }

    /// The hour ledger.
    pub fn ledger(&self) -> HourLedger {
        HourLedger::new(self.db.clone())
    }

    /// The audit log.
    pub fn audit(&self) -> AuditLog {
        AuditLog::new(self.db.clone())
    }

    /// Probes every configured backend concurrently.
    pub async fn readiness(&self) -> Readiness {
        let database = timed("database", self.db.backend(), self.db.ping());
        let objects = timed("object_store", self.objects.backend(), self.objects.ping());
        let redis = async {
            match &self.redis {
                Some(redis) => Some(timed("redis", "redis", redis.ping()).await),
                None => None,
            }
        };
        let (database, objects, redis) = tokio::join!(database, objects, redis);
        let checks: Vec<Check> =
            [Some(database), Some(objects), redis].into_iter().flatten().collect();
        Readiness { ready: checks.iter().all(|check| check.ok), checks }
    }

    /// Closes pools, waiting for work in progress.
    pub async fn close(&self) {
        self.db.close().await;
    }
}

async fn timed(
    name: &'static str,
    backend: &'static str,
    probe: impl Future<Output = Result<()>>,
) -> Check {
    let started = Instant::now();
    let result = probe.await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    match result {
        Ok(()) => Check { name, backend, ok: true, latency_ms, error: None },
        Err(error) => {
            tracing::warn!(check = name, error = %error_chain(&error), "readiness check failed");
            Check { name, backend, ok: false, latency_ms, error: Some(error.to_string()) }
        }
    }
}

/// The outcome of probing every backend.
#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    /// Whether every check passed.
    pub ready: bool,
    /// One entry per configured backend.
    pub checks: Vec<Check>,
}

/// The outcome of probing one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `database`, `object_store` or `redis`.
    pub name: &'static str,
    /// Which implementation: `sqlite`, `postgres`, `local`, `s3`, `redis`.
    pub backend: &'static str,
    /// Whether it answered correctly.
    pub ok: bool,
    /// How long the probe took.
    pub latency_ms: f64,
    /// What failed, without internal detail (the full cause is logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

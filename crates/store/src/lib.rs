//! Persistence for Variosync: the metadata repositories (SQLite by default, PostgreSQL in
//! production), object storage with typed paths (a local directory by default, any
//! S3-compatible store in production), and the cache, rate limiter and pub/sub that are
//! in-process by default and Redis-backed when several replicas share them.
//!
//! Every backend pair sits behind one type or trait so that the layers above never know which
//! one runs, and each pair is held to the same conformance tests. This crate knows nothing of
//! HTTP, sessions or cookies; it never builds an object key or an SQL string from user text.

pub mod api_keys;
pub mod audit;
pub mod auth_tokens;
pub mod backends;
pub mod cache;
pub mod clock;
pub mod datasets;
pub mod db;
pub mod error;
pub mod exports;
pub mod forecasts;
pub mod identities;
pub mod jobs;
pub mod ledger;
pub mod objects;
pub mod payments;
pub mod pubsub;
pub mod rate_limit;
pub mod redis_conn;
pub mod server_secrets;
pub mod sessions;
pub mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod uploads;
pub mod users;
pub mod workspaces;

pub use api_keys::{ApiKey, ApiKeyRepository, NewApiKey};
pub use audit::{AuditEntry, AuditFilter, AuditLog, NewAuditEntry};
pub use auth_tokens::{AuthToken, AuthTokenRepository, NewAuthToken, PasswordHash};
pub use backends::{Backends, Check, Readiness};
pub use cache::{Cache, MemoryCache, RedisCache};
pub use datasets::{Dataset, DatasetRepository, NewVersion, Version};
pub use db::{Access, Database, Member, Owner};
pub use error::{Error, Result};
pub use forecasts::{Forecast, ForecastRepository, NewForecast};
pub use identities::IdentityRepository;
pub use jobs::{Job, JobRepository, JobStatus};
pub use ledger::{HourLedger, LedgerEntry};
pub use objects::{ObjectInfo, ObjectKey, ObjectStorage};
pub use payments::{NewPayment, Payment, PaymentRepository};
pub use pubsub::{Channel, MemoryPubSub, PubSub, RedisPubSub, Subscription};
pub use rate_limit::{Decision, MemoryRateLimiter, Quota, RateLimiter, RedisRateLimiter};
pub use redis_conn::RedisConnection;
pub use server_secrets::ServerSecrets;
pub use sessions::{NewSession, Session, SessionRepository};
pub use settings::{DatabaseSettings, RedisSettings, S3Settings, StoreSettings};
pub use uploads::{Upload, UploadChunk, UploadRepository};
pub use users::UserRepository;
pub use workspaces::WorkspaceRepository;

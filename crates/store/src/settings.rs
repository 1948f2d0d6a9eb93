//! The storage layer's own settings. The server composes them with the others and loads them
//! from defaults, a TOML file and `VARIOSYNC_*` variables; this module only says what they
//! mean and what they default to.

use secrecy::SecretString;
use serde::Deserialize;

/// All storage settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// The metadata database.
    pub database: DatabaseSettings,
    /// Object storage; a local directory unless `bucket` is set.
    pub s3: S3Settings,
    /// Shared cache, rate limits and pub/sub; in-process unless `url` is set.
    pub redis: RedisSettings,
}

/// Where the metadata lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `postgres://user:password@host/db` for PostgreSQL or `sqlite://path` for a specific
    /// SQLite file; unset means `variosync.db` in the data directory. A secret: it may carry a
    /// password.
    pub url: Option<SecretString>,
    /// The most connections one process keeps open.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing, in seconds.
    pub acquire_timeout_secs: u64,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self { url: None, max_connections: 10, acquire_timeout_secs: 5 }
    }
}

/// An S3-compatible object store (AWS S3, Wasabi, Cloudflare R2, MinIO, SeaweedFS...).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    /// The bucket. When unset, objects are kept under `objects/` in the data directory.
    pub bucket: Option<String>,
    /// The service endpoint, e.g. `https://s3.eu-central-1.wasabisys.com`; unset means AWS.
    pub endpoint: Option<String>,
    /// The region (`auto` for Cloudflare R2).
    pub region: String,
    /// Address buckets as `endpoint/bucket` instead of `bucket.endpoint`; MinIO and SeaweedFS
    /// usually need this.
    pub path_style: bool,
    /// The access key id; unset means the AWS credential chain (environment, instance role).
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<SecretString>,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: None,
            endpoint: None,
            region: "us-east-1".to_owned(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
        }
    }
}

/// A Redis server shared by all replicas.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db` or `rediss://` for TLS; unset means in-process
    /// cache, rate limits and pub/sub. A secret: it may carry a password.
    pub url: Option<SecretString>,
    /// Prefix of every key and channel, so that several deployments can share one Redis.
    pub key_prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self { url: None, key_prefix: "variosync".to_owned() }
    }
}

//! The service's settings: defaults, then an optional TOML file, then `VARIOSYNC_*`
//! environment variables (the environment wins). Every crate owns its part; this module
//! composes them, documents every key in one table ([`SETTINGS`]) and turns every mistake
//! into one line naming the key, the value and what was expected.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use secrecy::ExposeSecret;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use variosync_app::JobsSettings;
use variosync_auth::{
    AccountsSettings, BillingSettings, ExternalJwtSettings, GithubSettings, MailSettings,
    OidcSettings,
};
use variosync_store::{DatabaseSettings, RedisSettings, S3Settings, StoreSettings};
use variosync_web::{HttpSettings, RateLimitSettings};

/// Everything the binary can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded database and local objects live.
    pub data_dir: PathBuf,
    /// The address the web server listens on.
    pub listen: SocketAddr,
    /// How long shutdown waits for requests in flight before closing them, in seconds.
    pub shutdown_grace_secs: u64,
    /// Logging.
    pub log: LogSettings,
    /// HTTP limits.
    pub http: HttpSettings,
    /// The metadata database.
    pub database: DatabaseSettings,
    /// Object storage.
    pub s3: S3Settings,
    /// Redis.
    pub redis: RedisSettings,
    /// Proxies (comma-separated addresses or ranges) whose `X-Forwarded-For` and
    /// `CF-Connecting-IP` headers are believed.
    pub trusted_proxies: String,
    /// Accounts and sessions.
    pub accounts: AccountsSettings,
    /// Request quotas.
    pub rate_limit: RateLimitSettings,
    /// The SMTP server for outgoing mail; unset means the outbox folder.
    pub smtp_url: Option<SecretString>,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// Bearer tokens from an external issuer (Supabase Auth, an OIDC provider).
    pub external_jwt: ExternalJwtSettings,
    /// Sign-in with an OpenID Connect provider.
    pub oidc: OidcSettings,
    /// Sign-in with GitHub.
    pub github: GithubSettings,
    /// Job runners inside `serve` (0: none, jobs run only on `variosync worker` processes);
    /// also the number of runners of a `worker` process.
    pub workers: usize,
    /// Background jobs and their metering.
    pub jobs: JobsSettings,
    /// Hour packages and Stripe.
    pub billing: BillingSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./variosync-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            shutdown_grace_secs: 30,
            log: LogSettings::default(),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            s3: S3Settings::default(),
            redis: RedisSettings::default(),
            trusted_proxies: String::new(),
            accounts: AccountsSettings::default(),
            rate_limit: RateLimitSettings::default(),
            smtp_url: None,
            mail: MailSettings::default(),
            external_jwt: ExternalJwtSettings::default(),
            oidc: OidcSettings::default(),
            github: GithubSettings::default(),
            workers: 2,
            jobs: JobsSettings::default(),
            billing: BillingSettings::default(),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// Which events to keep, in `tracing` filter syntax (`info`, `variosync_web=debug,info`).
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Text, level: "info".to_owned() }
    }
}

/// The log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// How a setting's value is read from an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// Text that is never echoed in messages or logs.
    Secret,
    /// A non-negative whole number.
    Integer,
    /// `true` or `false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// A decimal number.
    Decimal,
}

/// One documented setting.
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    /// The dotted key in the TOML file, e.g. `database.url`.
    pub key: &'static str,
    /// How its environment value is read.
    pub kind: Kind,
    /// The default, as shown to people.
    pub default: &'static str,
    /// What an acceptable value looks like, for error messages.
    pub expected: &'static str,
    /// What it does.
    pub about: &'static str,
}

impl SettingDoc {
    /// The environment variable: `VARIOSYNC_` and the key in upper case with `_` for `.`.
    pub fn env_var(&self) -> String {
        format!("VARIOSYNC_{}", self.key.replace('.', "_").to_uppercase())
    }
}

/// Every setting, in the order the README and `config default` present them.
pub const SETTINGS: &[SettingDoc] = &[
    SettingDoc {
        key: "data_dir",
        kind: Kind::Text,
        default: "./variosync-data",
        expected: "a directory path",
        about: "Folder for the embedded SQLite database and local objects; created if missing.",
    },
    SettingDoc {
        key: "listen",
        kind: Kind::Text,
        default: "127.0.0.1:8080",
        expected: "an IP address and port such as 127.0.0.1:8080 or 0.0.0.0:80",
        about: "Address the web server listens on. Use 0.0.0.0:8080 behind a load balancer or in a container.",
    },
    SettingDoc {
        key: "shutdown_grace_secs",
        kind: Kind::Integer,
        default: "30",
        expected: "a whole number of seconds",
        about: "On SIGINT/SIGTERM, how long requests in flight may take to finish before they are cut.",
    },
    SettingDoc {
        key: "workers",
        kind: Kind::Integer,
        default: "2",
        expected: "a whole number, 0 or more",
        about: "Job runners inside `serve` (0 leaves jobs to `variosync worker` processes); also the runners of a `worker` process (at least 1).",
    },
    SettingDoc {
        key: "jobs.lease_secs",
        kind: Kind::Integer,
        default: "30",
        expected: "a whole number of seconds, at least 3",
        about: "How long a running job stays leased without a heartbeat: after a worker dies, its job goes to another this much later.",
    },
    SettingDoc {
        key: "jobs.min_charge_secs",
        kind: Kind::Integer,
        default: "1",
        expected: "a whole number of seconds",
        about: "The least compute time a finished job is charged.",
    },
    SettingDoc {
        key: "jobs.inline_import_bytes",
        kind: Kind::Integer,
        default: "16777216",
        expected: "a whole number of bytes",
        about: "Files up to this size (sent whole, or as a resumable upload) are imported on the request, metered by the CPU time they take; larger ones become import jobs on a worker, charged by the hour.",
    },
    SettingDoc {
        key: "jobs.sweep_secs",
        kind: Kind::Integer,
        default: "60",
        expected: "a whole number of seconds, at least 1",
        about: "How often each job runner deletes every account's expired uploads with what they received.",
    },
    SettingDoc {
        key: "jobs.import_reserve_secs_per_gib",
        kind: Kind::Integer,
        default: "120",
        expected: "a whole number of seconds",
        about: "Compute reserved per GiB when an import job is submitted (the unused part is given back at its end).",
    },
    SettingDoc {
        key: "jobs.export_expiry_secs",
        kind: Kind::Integer,
        default: "604800",
        expected: "a whole number of seconds, at least 1",
        about: "How long the file of an export job is kept (7 days by default); the job runners' sweep then deletes it with its record.",
    },
    SettingDoc {
        key: "log.format",
        kind: Kind::Text,
        default: "text",
        expected: "text or json",
        about: "Log format: human-readable text, or one JSON object per line for log collectors.",
    },
    SettingDoc {
        key: "log.level",
        kind: Kind::Text,
        default: "info",
        expected: "a tracing filter such as info, debug or variosync_web=debug,info",
        about: "Which log events to keep.",
    },
    SettingDoc {
        key: "http.body_limit_bytes",
        kind: Kind::Integer,
        default: "2097152",
        expected: "a whole number of bytes, at least 1024",
        about: "Largest request body accepted by ordinary API routes (uploads have their own limit).",
    },
    SettingDoc {
        key: "http.upload_limit_bytes",
        kind: Kind::Integer,
        default: "4294967296",
        expected: "a whole number of bytes, at least 1024",
        about: "Largest file an upload accepts; the file streams to disk, never whole into memory.",
    },
    SettingDoc {
        key: "http.upload_timeout_secs",
        kind: Kind::Integer,
        default: "3600",
        expected: "a whole number of seconds, at least 1",
        about: "How long an upload may take to arrive and be converted.",
    },
    SettingDoc {
        key: "http.request_timeout_secs",
        kind: Kind::Integer,
        default: "30",
        expected: "a whole number of seconds, at least 1",
        about: "How long a request may take to produce its response before it gets 408.",
    },
    SettingDoc {
        key: "http.public_url",
        kind: Kind::Text,
        default: "(unset)",
        expected: "an http:// or https:// URL",
        about: "Address people reach the service at, e.g. https://data.example.com: the base of e-mailed links and sign-in callbacks. HTTPS turns on HSTS; any host but localhost makes cookies Secure.",
    },
    SettingDoc {
        key: "database.url",
        kind: Kind::Secret,
        default: "(unset: SQLite in the data directory)",
        expected: "a URL starting with postgres://, postgresql:// or sqlite:",
        about: "Metadata database. postgres://user:password@host:5432/db for PostgreSQL.",
    },
    SettingDoc {
        key: "database.max_connections",
        kind: Kind::Integer,
        default: "10",
        expected: "a whole number, at least 1",
        about: "Most database connections one process keeps open.",
    },
    SettingDoc {
        key: "database.acquire_timeout_secs",
        kind: Kind::Integer,
        default: "5",
        expected: "a whole number of seconds, at least 1",
        about: "How long a query waits for a free connection before failing.",
    },
    SettingDoc {
        key: "s3.bucket",
        kind: Kind::Text,
        default: "(unset: objects under data_dir/objects)",
        expected: "a bucket name",
        about: "S3-compatible bucket for uploads, datasets, exports and forecasts.",
    },
    SettingDoc {
        key: "s3.endpoint",
        kind: Kind::Text,
        default: "(unset: AWS)",
        expected: "an http:// or https:// URL",
        about: "S3 endpoint, e.g. https://s3.eu-central-1.wasabisys.com, https://<account>.r2.cloudflarestorage.com, http://minio:9000.",
    },
    SettingDoc {
        key: "s3.region",
        kind: Kind::Text,
        default: "us-east-1",
        expected: "a region name",
        about: "S3 region (auto for Cloudflare R2).",
    },
    SettingDoc {
        key: "s3.path_style",
        kind: Kind::Bool,
        default: "false",
        expected: "true or false",
        about: "Address the bucket as endpoint/bucket (MinIO, SeaweedFS) instead of bucket.endpoint.",
    },
    SettingDoc {
        key: "s3.access_key_id",
        kind: Kind::Text,
        default: "(unset: AWS credential chain)",
        expected: "an access key id",
        about: "S3 access key id.",
    },
    SettingDoc {
        key: "s3.secret_access_key",
        kind: Kind::Secret,
        default: "(unset)",
        expected: "a secret access key",
        about: "S3 secret access key.",
    },
    SettingDoc {
        key: "redis.url",
        kind: Kind::Secret,
        default: "(unset: in-process cache, limits and pub/sub)",
        expected: "a URL starting with redis://, rediss:// or unix://",
        about: "Redis shared by all replicas for the cache, rate limits and live updates.",
    },
    SettingDoc {
        key: "redis.key_prefix",
        kind: Kind::Text,
        default: "variosync",
        expected: "a short name",
        about: "Prefix of every Redis key and channel, so deployments can share one Redis.",
    },
    SettingDoc {
        key: "trusted_proxies",
        kind: Kind::Text,
        default: "(unset: no proxy is trusted)",
        expected: "comma-separated IP addresses or ranges such as 10.0.0.0/8,127.0.0.1",
        about: "Load balancers or CDNs whose X-Forwarded-For / CF-Connecting-IP headers give the client's address.",
    },
    SettingDoc {
        key: "accounts.session_idle_minutes",
        kind: Kind::Integer,
        default: "10080",
        expected: "a whole number of minutes, at least 1",
        about: "A browser session unused this long ends (default one week).",
    },
    SettingDoc {
        key: "accounts.session_lifetime_hours",
        kind: Kind::Integer,
        default: "720",
        expected: "a whole number of hours, at least 1",
        about: "A browser session ends this long after sign-in however much it is used (default 30 days).",
    },
    SettingDoc {
        key: "accounts.free_grant_hours",
        kind: Kind::Decimal,
        default: "1",
        expected: "a number of hours between 0 and 10000",
        about: "Compute hours granted to every new account.",
    },
    SettingDoc {
        key: "rate_limit.auth_per_minute",
        kind: Kind::Integer,
        default: "10",
        expected: "a whole number, at least 1",
        about: "Sign-in and sign-up requests per minute from one client address; more get 429.",
    },
    SettingDoc {
        key: "rate_limit.api_per_minute",
        kind: Kind::Integer,
        default: "600",
        expected: "a whole number, at least 1",
        about: "API requests per minute per user; more get 429 with Retry-After.",
    },
    SettingDoc {
        key: "smtp_url",
        kind: Kind::Secret,
        default: "(unset: mail goes to data_dir/outbox as .eml files)",
        expected: "a URL such as smtps://user:password@mail.example.com:465 or smtp://host:587?tls=required",
        about: "SMTP server for sign-up confirmations, password resets and sign-in links.",
    },
    SettingDoc {
        key: "mail.from",
        kind: Kind::Text,
        default: "Variosync <noreply@localhost>",
        expected: "a mailbox such as Variosync <noreply@example.com>",
        about: "Sender of outgoing mail.",
    },
    SettingDoc {
        key: "mail.log_outbox_links",
        kind: Kind::Bool,
        default: "true",
        expected: "true or false",
        about: "Without SMTP, also log each message's link (handy on a laptop; turn off where logs are shared).",
    },
    SettingDoc {
        key: "external_jwt.issuer",
        kind: Kind::Text,
        default: "(unset: external tokens are refused)",
        expected: "the issuer URL the tokens carry in `iss`",
        about: "Accept bearer JWTs from this issuer, e.g. https://<project>.supabase.co/auth/v1, mapped to local accounts.",
    },
    SettingDoc {
        key: "external_jwt.audience",
        kind: Kind::Text,
        default: "(unset)",
        expected: "the audience the tokens carry in `aud`",
        about: "Required `aud` of external tokens (Supabase: authenticated).",
    },
    SettingDoc {
        key: "external_jwt.jwks_url",
        kind: Kind::Text,
        default: "(unset)",
        expected: "an https:// URL of a JWKS document",
        about: "Where the issuer publishes its signing keys (RS256, ES256, EdDSA...).",
    },
    SettingDoc {
        key: "external_jwt.hs256_secret",
        kind: Kind::Secret,
        default: "(unset)",
        expected: "the issuer's shared HS256 secret",
        about: "A shared HS256 secret instead of published keys (Supabase's JWT secret).",
    },
    SettingDoc {
        key: "external_jwt.trust_email",
        kind: Kind::Bool,
        default: "false",
        expected: "true or false",
        about: "Treat the token's email as verified without an email_verified claim (Supabase with confirmations on).",
    },
    SettingDoc {
        key: "oidc.issuer",
        kind: Kind::Text,
        default: "(unset: no provider button)",
        expected: "the provider's issuer URL (its discovery document is below it)",
        about: "OpenID Connect provider people may sign in with (Google, Keycloak, Authentik, Auth0...).",
    },
    SettingDoc {
        key: "oidc.client_id",
        kind: Kind::Text,
        default: "(unset)",
        expected: "the client id registered at the provider",
        about: "Client id; register {public_url}/auth/oidc/callback as its redirect URI.",
    },
    SettingDoc {
        key: "oidc.client_secret",
        kind: Kind::Secret,
        default: "(unset)",
        expected: "the client secret",
        about: "Client secret at the provider.",
    },
    SettingDoc {
        key: "oidc.name",
        kind: Kind::Text,
        default: "(unset)",
        expected: "a short label",
        about: "The provider's name on the sign-in button.",
    },
    SettingDoc {
        key: "github.client_id",
        kind: Kind::Text,
        default: "(unset: no GitHub button)",
        expected: "the OAuth app's client id",
        about: "GitHub OAuth app for sign-in; its callback URL is {public_url}/auth/github/callback.",
    },
    SettingDoc {
        key: "github.client_secret",
        kind: Kind::Secret,
        default: "(unset)",
        expected: "the OAuth app's client secret",
        about: "GitHub OAuth app secret.",
    },
    SettingDoc {
        key: "github.web_url",
        kind: Kind::Text,
        default: "https://github.com",
        expected: "an http:// or https:// URL",
        about: "Where people authorize: GitHub, or a GitHub Enterprise Server.",
    },
    SettingDoc {
        key: "github.api_url",
        kind: Kind::Text,
        default: "https://api.github.com",
        expected: "an http:// or https:// URL",
        about: "GitHub's REST API (https://HOST/api/v3 for GitHub Enterprise Server).",
    },
    SettingDoc {
        key: "billing.packages",
        kind: Kind::Text,
        default: "5:2500,10:4500,20:8000,50:18000",
        expected: "HOURS:CENTS pairs, comma-separated, each price at least 50 cents",
        about: "The hour packages on sale (5 h for 25.00, 10 h for 45.00, 20 h for 80.00, 50 h for 180.00 by default).",
    },
    SettingDoc {
        key: "billing.currency",
        kind: Kind::Text,
        default: "usd",
        expected: "a three-letter ISO 4217 code",
        about: "The currency of the package prices.",
    },
    SettingDoc {
        key: "billing.stripe_secret_key",
        kind: Kind::Secret,
        default: "(unset: buying is off, admins grant hours)",
        expected: "a Stripe secret API key (sk_...)",
        about: "Stripe account that sells the packages through Checkout; set with the webhook secret.",
    },
    SettingDoc {
        key: "billing.stripe_webhook_secret",
        kind: Kind::Secret,
        default: "(unset)",
        expected: "the signing secret of the webhook endpoint (whsec_...)",
        about: "Verifies the events Stripe sends to {public_url}/api/v1/billing/webhook (send checkout.session.completed).",
    },
    SettingDoc {
        key: "billing.stripe_api_url",
        kind: Kind::Text,
        default: "https://api.stripe.com",
        expected: "an http:// or https:// URL",
        about: "Stripe's API.",
    },
];

/// The documented example configuration printed by `variosync config default`.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// A setting that cannot be used, as one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(String);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SettingsError {}

/// A value from the environment, typed by the setting's [`Kind`] so that figment never
/// guesses (a numeric-looking password stays text).
#[derive(Serialize)]
#[serde(untagged)]
enum EnvValue {
    Text(String),
    Integer(u64),
    Decimal(f64),
    Bool(bool),
}

fn doc_for(key: &str) -> Option<&'static SettingDoc> {
    SETTINGS.iter().find(|doc| doc.key == key)
}

/// Where a setting's value came from, for messages.
struct Sources<'a> {
    file: Option<&'a Path>,
    env: &'a HashMap<String, String>,
}

impl Sources<'_> {
    fn env_value(&self, doc: &SettingDoc) -> Option<&str> {
        self.env.get(&doc.env_var()).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// `VARIOSYNC_X` when the environment set it, else the key in the file.
    fn name(&self, doc: &SettingDoc) -> String {
        match (self.env_value(doc), self.file) {
            (Some(_), _) | (None, None) => doc.env_var(),
            (None, Some(file)) => format!("`{}` in {}", doc.key, file.display()),
        }
    }

    fn invalid(&self, doc: &SettingDoc, shown: &str) -> SettingsError {
        let value = match doc.kind {
            Kind::Secret => "(hidden)".to_owned(),
            _ => format!("{shown:?}"),
        };
        SettingsError(format!(
            "invalid setting {} = {value}: expected {}",
            self.name(doc),
            doc.expected
        ))
    }
}

fn parse_env(doc: &SettingDoc, raw: &str) -> Option<EnvValue> {
    match doc.kind {
        Kind::Text | Kind::Secret => Some(EnvValue::Text(raw.to_owned())),
        Kind::Integer => raw.trim().parse().ok().map(EnvValue::Integer),
        Kind::Decimal => {
            raw.trim().parse().ok().filter(|v: &f64| v.is_finite()).map(EnvValue::Decimal)
        }
        Kind::Bool => match raw.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(EnvValue::Bool(true)),
            "false" | "0" | "no" | "off" => Some(EnvValue::Bool(false)),
            _ => None,
        },
    }
}

impl Settings {
    /// Loads settings from the defaults, `file` (if given; it must exist) and `env` (the
    /// process environment, passed in so that tests need not change it). Empty variables
    /// count as unset.
    pub fn load(file: Option<&Path>, env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let sources = Sources { file, env };
        let mut figment = Figment::new();
        if let Some(file) = file {
            if !file.is_file() {
                return Err(SettingsError(format!(
                    "configuration file {} does not exist or is not a file",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        for doc in SETTINGS {
            if let Some(raw) = sources.env_value(doc) {
                let value = parse_env(doc, raw).ok_or_else(|| sources.invalid(doc, raw))?;
                figment = figment.merge(Serialized::default(doc.key, value));
            }
        }
        let settings: Settings =
            figment.extract().map_err(|error| translate(&error, &figment, &sources))?;
        settings.validate(&sources)?;
        Ok(settings)
    }

    /// The storage layer's part.
    pub fn store(&self) -> StoreSettings {
        StoreSettings {
            database: self.database.clone(),
            s3: self.s3.clone(),
            redis: self.redis.clone(),
        }
    }

    /// One line per backend saying what these settings select, without secrets.
    pub fn describe_backends(&self) -> Vec<String> {
        let database = match self.database.url.as_ref().map(|u| u.expose_secret()) {
            Some(url) if url.starts_with("sqlite:") => {
                "database: SQLite (from VARIOSYNC_DATABASE_URL)".to_owned()
            }
            Some(_) => "database: PostgreSQL (VARIOSYNC_DATABASE_URL)".to_owned(),
            None => format!("database: SQLite at {}", self.data_dir.join("variosync.db").display()),
        };
        let objects = match &self.s3.bucket {
            Some(bucket) => format!(
                "objects: S3 bucket {bucket} at {}",
                self.s3.endpoint.as_deref().unwrap_or("AWS")
            ),
            None => format!("objects: local folder {}", self.data_dir.join("objects").display()),
        };
        let redis = if self.redis.url.is_some() {
            format!("cache, rate limits, pub/sub: Redis (key prefix {})", self.redis.key_prefix)
        } else {
            "cache, rate limits, pub/sub: in-process".to_owned()
        };
        vec![format!("listen: {}", self.listen), database, objects, redis]
    }

    /// Checks that go beyond types: URL schemes, lower bounds, filter syntax.
    fn validate(&self, sources: &Sources<'_>) -> Result<(), SettingsError> {
        let check = |ok: bool, key: &str, shown: &str| -> Result<(), SettingsError> {
            match (ok, doc_for(key)) {
                (true, _) => Ok(()),
                (false, Some(doc)) => Err(sources.invalid(doc, shown)),
                (false, None) => Err(SettingsError(format!("invalid setting {key}"))),
            }
        };
        let has_scheme =
            |value: &str, schemes: &[&str]| schemes.iter().any(|s| value.starts_with(s));
        if let Some(url) = &self.database.url {
            let url = url.expose_secret();
            check(
                has_scheme(url, &["postgres://", "postgresql://", "sqlite:"]),
                "database.url",
                url,
            )?;
        }
        check(
            self.database.max_connections >= 1,
            "database.max_connections",
            &self.database.max_connections.to_string(),
        )?;
        check(
            self.database.acquire_timeout_secs >= 1,
            "database.acquire_timeout_secs",
            &self.database.acquire_timeout_secs.to_string(),
        )?;
        if let Some(url) = &self.redis.url {
            let url = url.expose_secret();
            check(
                has_scheme(url, &["redis://", "rediss://", "unix://", "redis+unix://"]),
                "redis.url",
                url,
            )?;
        }
        if let Some(endpoint) = &self.s3.endpoint {
            check(has_scheme(endpoint, &["http://", "https://"]), "s3.endpoint", endpoint)?;
        }
        if let Some(url) = &self.http.public_url {
            check(has_scheme(url, &["http://", "https://"]), "http.public_url", url)?;
        }
        check(
            self.http.body_limit_bytes >= 1024,
            "http.body_limit_bytes",
            &self.http.body_limit_bytes.to_string(),
        )?;
        check(
            self.http.upload_limit_bytes >= 1024,
            "http.upload_limit_bytes",
            &self.http.upload_limit_bytes.to_string(),
        )?;
        check(
            variosync_auth::billing::parse_packages(&self.billing.packages, &self.billing.currency)
                .is_ok(),
            "billing.packages",
            &self.billing.packages,
        )?;
        check(
            self.billing.stripe_secret_key.is_some()
                == self.billing.stripe_webhook_secret.is_some(),
            "billing.stripe_webhook_secret",
            "(set both Stripe secrets, or neither)",
        )?;
        check(self.jobs.lease_secs >= 3, "jobs.lease_secs", &self.jobs.lease_secs.to_string())?;
        check(
            self.http.upload_timeout_secs >= 1,
            "http.upload_timeout_secs",
            &self.http.upload_timeout_secs.to_string(),
        )?;
        check(
            self.http.request_timeout_secs >= 1,
            "http.request_timeout_secs",
            &self.http.request_timeout_secs.to_string(),
        )?;
        check(
            tracing_subscriber::EnvFilter::try_new(&self.log.level).is_ok(),
            "log.level",
            &self.log.level,
        )?;
        check(
            variosync_web::parse_ranges(&self.trusted_proxies).is_ok(),
            "trusted_proxies",
            &self.trusted_proxies,
        )?;
        let accounts = &self.accounts;
        check(
            accounts.session_idle_minutes >= 1,
            "accounts.session_idle_minutes",
            &accounts.session_idle_minutes.to_string(),
        )?;
        check(
            accounts.session_lifetime_hours >= 1,
            "accounts.session_lifetime_hours",
            &accounts.session_lifetime_hours.to_string(),
        )?;
        check(
            accounts.free_grant_hours.is_finite()
                && (0.0..=10_000.0).contains(&accounts.free_grant_hours),
            "accounts.free_grant_hours",
            &accounts.free_grant_hours.to_string(),
        )?;
        check(
            self.rate_limit.auth_per_minute >= 1,
            "rate_limit.auth_per_minute",
            &self.rate_limit.auth_per_minute.to_string(),
        )?;
        check(
            self.rate_limit.api_per_minute >= 1,
            "rate_limit.api_per_minute",
            &self.rate_limit.api_per_minute.to_string(),
        )?;
        if let Some(url) = &self.smtp_url {
            let url = url.expose_secret();
            check(has_scheme(url, &["smtp://", "smtps://"]), "smtp_url", url)?;
        }
        check(
            variosync_auth::Mailer::check(self.smtp_url.as_ref(), &self.mail).is_ok(),
            if self.smtp_url.is_some() { "smtp_url" } else { "mail.from" },
            &self.mail.from,
        )?;
        if let Err(error) = variosync_auth::ExternalJwt::from_settings(&self.external_jwt) {
            return Err(SettingsError(error.to_string()));
        }
        if let Err(error) = variosync_auth::Oidc::from_settings(&self.oidc) {
            return Err(SettingsError(error.to_string()));
        }
        if let Err(error) = variosync_auth::Github::from_settings(&self.github) {
            return Err(SettingsError(error.to_string()));
        }
        check(
            has_scheme(&self.github.web_url, &["http://", "https://"]),
            "github.web_url",
            &self.github.web_url,
        )?;
        check(
            has_scheme(&self.github.api_url, &["http://", "https://"]),
            "github.api_url",
            &self.github.api_url,
        )?;
        check(
            has_scheme(&self.billing.stripe_api_url, &["http://", "https://"]),
            "billing.stripe_api_url",
            &self.billing.stripe_api_url,
        )?;
        if let Some(url) = &self.external_jwt.jwks_url {
            check(has_scheme(url, &["http://", "https://"]), "external_jwt.jwks_url", url)?;
        }
        let bucket = self.s3.bucket.as_deref();
        let half_credentials =
            self.s3.access_key_id.is_some() != self.s3.secret_access_key.is_some();
        if bucket.is_some() && half_credentials {
            return Err(SettingsError(
                "VARIOSYNC_S3_ACCESS_KEY_ID and VARIOSYNC_S3_SECRET_ACCESS_KEY must be set together"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// Turns figment's error into one line that names the setting the way the operator wrote it.
fn translate(error: &figment::Error, figment: &Figment, sources: &Sources<'_>) -> SettingsError {
    use figment::error::Kind as FigmentKind;
    let key = error.path.join(".");
    if let FigmentKind::UnknownField(field, _) = &error.kind {
        // figment's path may or may not already end with the unknown field.
        let full = if key.is_empty() {
            field.clone()
        } else if error.path.last() == Some(field) {
            key.clone()
        } else {
            format!("{key}.{field}")
        };
        let place = sources.file.map(|f| format!(" in {}", f.display())).unwrap_or_default();
        return SettingsError(format!(
            "unknown setting `{full}`{place}: `variosync config default` lists every setting"
        ));
    }
    if let Some(doc) = doc_for(&key) {
        let shown = match figment.find_value(&key) {
            Ok(figment::value::Value::String(_, text)) => text,
            Ok(other) => serde_json::to_string(&other).unwrap_or_default(),
            Err(_) => String::new(),
        };
        return sources.invalid(doc, &shown);
    }
    // A malformed file, most likely: figment's message names the file, line and column.
    SettingsError(error.to_string().replace('\n', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn with_nothing_set_everything_runs_embedded_on_localhost() {
        let settings = Settings::load(None, &HashMap::new()).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(settings.data_dir, PathBuf::from("./variosync-data"));
        assert!(settings.database.url.is_none());
        assert!(settings.s3.bucket.is_none());
        assert!(settings.redis.url.is_none());
        assert_eq!(settings.log.format, LogFormat::Text);
    }

    #[test]
    fn the_environment_wins_over_the_file_which_wins_over_defaults() {
        let config =
            file("listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/data\"\n[log]\nformat = \"json\"\n");
        let vars =
            env(&[("VARIOSYNC_LISTEN", "127.0.0.1:7000"), ("VARIOSYNC_S3_PATH_STYLE", "yes")]);
        let settings = Settings::load(Some(config.path()), &vars).unwrap();
        assert_eq!(settings.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(settings.data_dir, PathBuf::from("/srv/data"));
        assert_eq!(settings.log.format, LogFormat::Json);
        assert!(settings.s3.path_style);
    }

    #[test]
    fn every_documented_setting_can_be_set_from_its_environment_variable() {
        let sample = |doc: &SettingDoc| match (doc.key, doc.kind) {
            ("listen", _) => "10.0.0.1:1234",
            ("log.format", _) => "json",
            ("log.level", _) => "debug",
            ("database.url", _) => "postgres://u:p@db/variosync",
            ("redis.url", _) => "redis://cache:6379/1",
            ("s3.endpoint" | "http.public_url", _) => "https://example.com",
            ("trusted_proxies", _) => "10.0.0.0/8",
            ("smtp_url", _) => "smtps://u:p@mail.example.com:465",
            ("mail.from", _) => "Data <data@example.com>",
            ("external_jwt.jwks_url", _) => "https://issuer.example.com/jwks",
            ("external_jwt.hs256_secret", _) => "",
            ("oidc.issuer", _) => "https://accounts.example.com",
            ("github.web_url" | "github.api_url", _) => "https://github.example.com",
            ("billing.packages", _) => "2:1000,8:3000",
            ("billing.currency", _) => "eur",
            ("billing.stripe_api_url", _) => "https://stripe.example.com",
            (_, Kind::Integer) => "4096",
            (_, Kind::Decimal) => "2.5",
            (_, Kind::Bool) => "true",
            _ => "custom-value",
        };
        let vars: HashMap<String, String> =
            SETTINGS.iter().map(|doc| (doc.env_var(), sample(doc).to_owned())).collect();
        let settings = Settings::load(None, &vars).unwrap();
        let shown = format!("{settings:?}");
        assert_eq!(settings.listen, "10.0.0.1:1234".parse().unwrap());
        assert_eq!(settings.database.max_connections, 4096);
        assert_eq!(settings.http.public_url.as_deref(), Some("https://example.com"));
        assert_eq!(settings.s3.access_key_id.as_deref(), Some("custom-value"));
        assert_eq!(settings.redis.key_prefix, "custom-value");
        assert_eq!((settings.billing.packages.as_str(), settings.workers), ("2:1000,8:3000", 4096));
        assert_eq!(settings.jobs.inline_import_bytes, 4096);
        assert!(settings.s3.path_style);
        assert!(
            settings
                .redis
                .url
                .as_ref()
                .is_some_and(|u| u.expose_secret() == "redis://cache:6379/1")
        );
        // Secrets never show in Debug output.
        assert!(!shown.contains("u:p@db"), "{shown}");
        assert!(!shown.contains("cache:6379"), "{shown}");
    }

    #[test]
    fn a_bad_listen_address_names_the_variable_the_value_and_what_was_expected() {
        let error = Settings::load(None, &env(&[("VARIOSYNC_LISTEN", "nonsense")])).unwrap_err();
        let line = error.to_string();
        assert_eq!(
            line,
            "invalid setting VARIOSYNC_LISTEN = \"nonsense\": expected an IP address and port \
             such as 127.0.0.1:8080 or 0.0.0.0:80"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_bad_value_in_the_file_names_the_key_and_the_file() {
        let config = file("[database]\nmax_connections = \"many\"\n");
        let error = Settings::load(Some(config.path()), &HashMap::new()).unwrap_err().to_string();
        assert!(error.starts_with("invalid setting `database.max_connections` in "), "{error}");
        assert!(error.contains("\"many\""), "{error}");
        assert!(error.ends_with("expected a whole number, at least 1"), "{error}");
    }

    #[test]
    fn numbers_and_switches_from_the_environment_are_checked() {
        let error = Settings::load(None, &env(&[("VARIOSYNC_DATABASE_MAX_CONNECTIONS", "ten")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("VARIOSYNC_DATABASE_MAX_CONNECTIONS = \"ten\""), "{error}");
        let error = Settings::load(None, &env(&[("VARIOSYNC_S3_PATH_STYLE", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("expected true or false"), "{error}");
        let error = Settings::load(None, &env(&[("VARIOSYNC_DATABASE_MAX_CONNECTIONS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("= \"0\""), "{error}");
    }

    #[test]
    fn a_bad_secret_is_reported_without_echoing_it() {
        let vars = env(&[("VARIOSYNC_DATABASE_URL", "mysql://root:hunter2@db/x")]);
        let error = Settings::load(None, &vars).unwrap_err().to_string();
        assert!(error.starts_with("invalid setting VARIOSYNC_DATABASE_URL = (hidden)"), "{error}");
        assert!(!error.contains("hunter2"));
    }

    #[test]
    fn a_numeric_looking_secret_stays_text() {
        let vars = env(&[
            ("VARIOSYNC_S3_BUCKET", "b"),
            ("VARIOSYNC_S3_ACCESS_KEY_ID", "12345"),
            ("VARIOSYNC_S3_SECRET_ACCESS_KEY", "00012345"),
        ]);
        let settings = Settings::load(None, &vars).unwrap();
        assert_eq!(settings.s3.access_key_id.as_deref(), Some("12345"));
        assert_eq!(settings.s3.secret_access_key.unwrap().expose_secret(), "00012345");
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected_by_name() {
        let config = file("[databse]\nurl = \"x\"\n");
        let error = Settings::load(Some(config.path()), &HashMap::new()).unwrap_err().to_string();
        assert!(error.starts_with("unknown setting `databse`"), "{error}");
        let config = file("[log]\nfromat = \"json\"\n");
        let error = Settings::load(Some(config.path()), &HashMap::new()).unwrap_err().to_string();
        assert!(error.starts_with("unknown setting `log.fromat`"), "{error}");
    }

    #[test]
    fn a_missing_or_malformed_file_is_reported_on_one_line() {
        let error = Settings::load(Some(Path::new("/nonexistent/variosync.toml")), &HashMap::new())
            .unwrap_err()
            .to_string();
        assert!(error.contains("/nonexistent/variosync.toml does not exist"), "{error}");
        let config = file("listen = \n");
        let error = Settings::load(Some(config.path()), &HashMap::new()).unwrap_err().to_string();
        assert!(!error.contains('\n'), "{error}");
        assert!(error.contains(&config.path().display().to_string()), "{error}");
    }

    #[test]
    fn half_a_pair_of_s3_credentials_is_rejected() {
        let vars = env(&[("VARIOSYNC_S3_BUCKET", "b"), ("VARIOSYNC_S3_ACCESS_KEY_ID", "id")]);
        let error = Settings::load(None, &vars).unwrap_err().to_string();
        assert!(error.contains("must be set together"), "{error}");
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let settings = Settings::load(None, &env(&[("VARIOSYNC_REDIS_URL", "")])).unwrap();
        assert!(settings.redis.url.is_none());
    }

    #[test]
    fn the_documented_default_config_loads_and_matches_the_defaults() {
        let config = file(DEFAULT_CONFIG);
        let loaded = Settings::load(Some(config.path()), &HashMap::new()).unwrap();
        assert_eq!(format!("{loaded:?}"), format!("{:?}", Settings::default()));
        for doc in SETTINGS {
            let leaf = doc.key.rsplit('.').next().unwrap();
            assert!(
                DEFAULT_CONFIG.contains(leaf),
                "config/default.toml does not mention {}",
                doc.key
            );
        }
    }

    #[test]
    fn the_readme_documents_every_environment_variable() {
        let readme = include_str!("../../../README.md");
        for doc in SETTINGS {
            assert!(
                readme.contains(&doc.env_var()),
                "README.md does not document {}",
                doc.env_var()
            );
        }
    }
}

//! Personal API keys. A key reads `vsk_{prefix}_{secret}`: the prefix is stored in clear so
//! a key can be found and shown ("vsk_3fa9c2d1..."), the secret only as its SHA-256 hash.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{ApiKeyId, ApiScope, UserId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// How often a key's use is recorded at most.
pub const USE_RECORDED_EVERY: TimeDelta = TimeDelta::minutes(1);

/// A key as its owner may see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// Whose key.
    pub user_id: UserId,
    /// The owner's name for it.
    pub name: String,
    /// The visible part that identifies it.
    pub prefix: String,
    /// What it may do.
    pub scope: ApiScope,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What is needed to store a key.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Whose key.
    pub user_id: UserId,
    /// The owner's name for it.
    pub name: String,
    /// The visible, unique part.
    pub prefix: String,
    /// SHA-256 of the secret part.
    pub secret_hash: [u8; 32],
    /// What it may do.
    pub scope: ApiScope,
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: Uuid,
    user_id: Uuid,
    name: String,
    prefix: String,
    scope: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<KeyRow> for ApiKey {
    type Error = Error;

    fn try_from(row: KeyRow) -> Result<Self> {
        Ok(Self {
            id: ApiKeyId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            name: row.name,
            prefix: row.prefix,
            scope: row
                .scope
                .parse()
                .map_err(|e| Error::Corrupt(format!("api key {}: {e}", row.id)))?,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct KeyWithHash {
    #[sqlx(flatten)]
    key: KeyRow,
    secret_hash: Vec<u8>,
}

macro_rules! columns {
    () => {
        "id, user_id, name, prefix, scope, created_at, last_used_at, revoked_at"
    };
}

/// Stores, finds, lists and revokes API keys.
#[derive(Debug, Clone)]
pub struct ApiKeyRepository {
    db: Database,
}

impl ApiKeyRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Stores a new key.
    #[tracing::instrument(skip_all, fields(user_id = %new.user_id), err(level = "warn"))]
    pub async fn create(&self, new: NewApiKey) -> Result<ApiKey> {
        const SQL: &str = concat!(
            "INSERT INTO api_keys (id, user_id, name, prefix, secret_hash, scope, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ",
            columns!()
        );
        let row = transaction!(&self.db, Access::person(new.user_id), write, |conn| {
            sqlx::query_as::<_, KeyRow>(SQL)
                .bind(ApiKeyId::new().as_uuid())
                .bind(new.user_id.as_uuid())
                .bind(&new.name)
                .bind(&new.prefix)
                .bind(&new.secret_hash[..])
                .bind(new.scope.as_str())
                .bind(now())
                .fetch_one(&mut *conn)
                .await?
        });
        row.try_into()
    }

    /// The unrevoked key with this prefix and the hash of its secret, for the caller to
    /// compare in constant time. Runs with system access: the key is what identifies the
    /// user. Reads only: the caller records the use ([`Self::record_use`]) once the secret
    /// matched.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn find_by_prefix(&self, prefix: &str) -> Result<Option<(ApiKey, Vec<u8>)>> {
        const SQL: &str = concat!(
            "SELECT secret_hash, ",
            columns!(),
            " FROM api_keys WHERE prefix = $1 AND revoked_at IS NULL"
        );
        let row = transaction!(&self.db, Access::System, read, |conn| {
            sqlx::query_as::<_, KeyWithHash>(SQL).bind(prefix).fetch_optional(&mut *conn).await?
        });
        row.map(|row| Ok((ApiKey::try_from(row.key)?, row.secret_hash))).transpose()
    }

    /// Records a use of `key` at `at`, unless one was recorded less than
    /// [`USE_RECORDED_EVERY`] before: a key used for every request costs one write a
    /// minute, not one per request, however many replicas share it. `true` if written.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn record_use(&self, key: &ApiKey, at: DateTime<Utc>) -> Result<bool> {
        let at = at.trunc_subsecs(6);
        if key.last_used_at.is_some_and(|last| at - last < USE_RECORDED_EVERY) {
            return Ok(false);
        }
        let written = transaction!(&self.db, Access::System, write, |conn| {
            sqlx::query(
                "UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL \
                 AND (last_used_at IS NULL OR last_used_at <= $3)",
            )
            .bind(key.id.as_uuid())
            .bind(at)
            .bind(at - USE_RECORDED_EVERY)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(written > 0)
    }

    /// Whether the key exists and is not revoked (for tokens minted from it).
    pub async fn is_live(&self, id: ApiKeyId) -> Result<bool> {
        let live: i64 = transaction!(&self.db, Access::System, read, |conn| {
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.as_uuid())
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(live > 0)
    }

    /// The user's keys, revoked ones included, newest first.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn list(&self, access: Access, user: UserId) -> Result<Vec<ApiKey>> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM api_keys WHERE user_id = $1 AND ($2 IS NULL OR user_id = $2) \
             ORDER BY created_at DESC, id DESC"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, KeyRow>(SQL)
                .bind(user.as_uuid())
                .bind(access.scope())
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    /// Revokes one of the user's keys; returns the key if it was live until now.
    #[tracing::instrument(skip_all, fields(user_id = %user, key_id = %id), err(level = "warn"))]
    pub async fn revoke(
        &self,
        access: Access,
        user: UserId,
        id: ApiKeyId,
    ) -> Result<Option<ApiKey>> {
        const SQL: &str = concat!(
            "UPDATE api_keys SET revoked_at = $4 WHERE id = $1 AND user_id = $2 \
             AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL RETURNING ",
            columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, KeyRow>(SQL)
                .bind(id.as_uuid())
                .bind(user.as_uuid())
                .bind(access.scope())
                .bind(now())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(ApiKey::try_from).transpose()
    }
}

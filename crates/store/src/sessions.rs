//! Server-side browser sessions. The cookie carries a random secret; only its SHA-256 hash is
//! stored, so a copy of the database does not let anyone sign in.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{SessionId, UserId};

use crate::db::{Access, Database};
use crate::error::Result;
use crate::transaction;
use crate::users::now;

/// The longest user agent kept.
const MAX_USER_AGENT_LEN: usize = 512;

/// A session as its owner may see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// Whose session.
    pub user_id: UserId,
    /// Where it was opened from.
    pub ip: Option<String>,
    /// The browser that opened it.
    pub user_agent: Option<String>,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_seen_at: DateTime<Utc>,
    /// When it ends regardless of use.
    pub expires_at: DateTime<Utc>,
}

/// What is needed to open a session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Whose session.
    pub user_id: UserId,
    /// SHA-256 of the cookie's secret.
    pub token_hash: [u8; 32],
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// How long the session may last at most.
    pub lifetime: Duration,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    id: Uuid,
    user_id: Uuid,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: SessionId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            ip: row.ip,
            user_agent: row.user_agent,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            expires_at: row.expires_at,
        }
    }
}

macro_rules! columns {
    () => {
        "id, user_id, ip, user_agent, created_at, last_seen_at, expires_at"
    };
}

/// Opens, finds, lists and revokes sessions.
#[derive(Debug, Clone)]
pub struct SessionRepository {
    db: Database,
}

impl SessionRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Opens a session for its user.
    #[tracing::instrument(skip_all, fields(user_id = %new.user_id), err(level = "warn"))]
    pub async fn create(&self, new: NewSession) -> Result<Session> {
        let at = now();
        let user_agent =
            new.user_agent.map(|a| a.chars().take(MAX_USER_AGENT_LEN).collect::<String>());
        const SQL: &str = concat!(
            "INSERT INTO sessions (id, user_id, token_hash, ip, user_agent, created_at, \
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7) RETURNING ",
            columns!()
        );
        let row = transaction!(&self.db, Access::person(new.user_id), write, |conn| {
            sqlx::query_as::<_, SessionRow>(SQL)
                .bind(SessionId::new().as_uuid())
                .bind(new.user_id.as_uuid())
                .bind(&new.token_hash[..])
                .bind(new.ip)
                .bind(user_agent)
                .bind(at)
                .bind(at + new.lifetime)
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(row.into())
    }

    /// The live session whose secret hashes to `token_hash`: not revoked, not past its
    /// absolute expiry, and used within `idle_timeout`. Marks it as used now. A look-up by
    /// secret happens before the user is known, so it runs with system access.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn touch_live(
        &self,
        token_hash: &[u8; 32],
        idle_timeout: Duration,
    ) -> Result<Option<Session>> {
        let at = now();
        const SQL: &str = concat!(
            "UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL \
             AND expires_at > $2 AND last_seen_at > $3 RETURNING ",
            columns!()
        );
        let row = transaction!(&self.db, Access::System, write, |conn| {
            sqlx::query_as::<_, SessionRow>(SQL)
                .bind(&token_hash[..])
                .bind(at)
                .bind(at - idle_timeout)
                .fetch_optional(&mut *conn)
                .await?
        });
        Ok(row.map(Session::from))
    }

    /// Whether the session is live: not revoked and not past its absolute expiry (for tokens
    /// minted from it).
    pub async fn is_live(&self, id: SessionId) -> Result<bool> {
        let live: i64 = transaction!(&self.db, Access::System, read, |conn| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL \
                 AND expires_at > $2",
            )
            .bind(id.as_uuid())
            .bind(now())
            .fetch_one(&mut *conn)
            .await?
        });
        Ok(live > 0)
    }

    /// The user's live sessions, newest first.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn list(&self, access: Access, user: UserId) -> Result<Vec<Session>> {
        const SQL: &str = concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR user_id = $2) \
             AND revoked_at IS NULL AND expires_at > $3 ORDER BY created_at DESC"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, SessionRow>(SQL)
                .bind(user.as_uuid())
                .bind(access.scope())
                .bind(now())
                .fetch_all(&mut *conn)
                .await?
        });
        Ok(rows.into_iter().map(Session::from).collect())
    }

    /// Revokes one of the user's sessions; returns whether a live one was revoked.
    #[tracing::instrument(skip_all, fields(user_id = %user, session_id = %id), err(level = "warn"))]
    pub async fn revoke(&self, access: Access, user: UserId, id: SessionId) -> Result<bool> {
        let done = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $4 WHERE id = $1 AND user_id = $2 \
                 AND ($3 IS NULL OR user_id = $3) AND revoked_at IS NULL",
            )
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .bind(access.scope())
            .bind(now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(done > 0)
    }

    /// Revokes every live session of the user except `keep` (after a password change or
    /// reset); returns how many were revoked.
    #[tracing::instrument(skip_all, fields(user_id = %user), err(level = "warn"))]
    pub async fn revoke_all(
        &self,
        access: Access,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<u64> {
        let done = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE sessions SET revoked_at = $4 WHERE user_id = $1 \
                 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR id <> $3) \
                 AND revoked_at IS NULL AND expires_at > $4",
            )
            .bind(user.as_uuid())
            .bind(access.scope())
            .bind(keep.map(|id| id.as_uuid()))
            .bind(now())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(done)
    }
}

//! The audit log: an append-only record of security-relevant events, written by the server
//! only. Rows outlive the accounts they mention: deleting an account clears its ids from them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{AuditAction, AuditEntryId, UserId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// The longest user agent kept; browsers send a few hundred characters at most.
const MAX_USER_AGENT_LEN: usize = 512;

/// Who did what, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Whose account the event concerns.
    pub user_id: Option<UserId>,
    /// Who caused it, when not the user themselves (an admin).
    pub actor_id: Option<UserId>,
    /// What happened.
    pub action: AuditAction,
    /// Facts about the event as a JSON object (never secrets).
    pub detail: serde_json::Value,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// The entry's id.
    pub id: AuditEntryId,
    /// Whose account the event concerns (`None` once deleted, or for anonymous events).
    pub user_id: Option<UserId>,
    /// Who caused it, when not the user.
    pub actor_id: Option<UserId>,
    /// What happened.
    pub action: AuditAction,
    /// Facts about the event.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The client's address.
    pub ip: Option<String>,
    /// The client's user agent.
    pub user_agent: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: Uuid,
    user_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: String,
    detail: String,
    ip: Option<String>,
    user_agent: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<Self> {
        Ok(Self {
            id: AuditEntryId::from_uuid(row.id),
            user_id: row.user_id.map(UserId::from_uuid),
            actor_id: row.actor_id.map(UserId::from_uuid),
            action: row
                .action
                .parse()
                .map_err(|e| Error::Corrupt(format!("audit entry {}: {e}", row.id)))?,
            detail: serde_json::from_str(&row.detail)
                .map_err(|e| Error::Corrupt(format!("audit entry {}: {e}", row.id)))?,
            ip: row.ip,
            user_agent: row.user_agent,
            created_at: row.created_at,
        })
    }
}

/// Which entries to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this account's entries (admins may leave it open).
    pub user_id: Option<UserId>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only entries older than this one (the next page).
    pub before: Option<AuditEntryId>,
    /// At most this many.
    pub limit: u32,
}

/// Appends to and reads the audit log.
#[derive(Debug, Clone)]
pub struct AuditLog {
    db: Database,
}

impl AuditLog {
    /// An audit log over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Appends one event.
    #[tracing::instrument(skip_all, fields(action = %entry.action), err(level = "warn"))]
    pub async fn record(&self, access: Access, entry: NewAuditEntry) -> Result<AuditEntry> {
        let id = AuditEntryId::new();
        let user_agent = entry
            .user_agent
            .map(|agent| agent.chars().take(MAX_USER_AGENT_LEN).collect::<String>());
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, AuditRow>(
                "INSERT INTO audit_log \
                 (id, user_id, actor_id, action, detail, ip, user_agent, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id, user_id, actor_id, action, detail, ip, user_agent, created_at",
            )
            .bind(id.as_uuid())
            .bind(entry.user_id.map(|id| id.as_uuid()))
            .bind(entry.actor_id.map(|id| id.as_uuid()))
            .bind(entry.action.as_str())
            .bind(entry.detail.to_string())
            .bind(entry.ip)
            .bind(user_agent)
            .bind(now())
            .fetch_one(&mut *conn)
            .await?
        });
        row.try_into()
    }

    /// Entries matching `filter`, newest first. With user access only that user's entries
    /// are visible, whatever the filter says.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn list(&self, access: Access, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, AuditRow>(
                "SELECT id, user_id, actor_id, action, detail, ip, user_agent, created_at \
                 FROM audit_log WHERE ($1 IS NULL OR user_id = $1) \
                 AND ($2 IS NULL OR user_id = $2) AND ($3 IS NULL OR action = $3) \
                 AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
                 AND ($6 IS NULL OR id < $6) ORDER BY id DESC LIMIT $7",
            )
            .bind(access.scope())
            .bind(filter.user_id.map(|id| id.as_uuid()))
            .bind(filter.action.map(|action| action.as_str()))
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.before.map(|id| id.as_uuid()))
            .bind(i64::from(filter.limit))
            .fetch_all(&mut *conn)
            .await?
        });
        rows.into_iter().map(AuditEntry::try_from).collect()
    }
}

//! The hour ledger: an append-only record of every change to a user's prepaid hours, and the
//! balance derived from it.
//!
//! Each change is one transaction that moves the balance row and appends the ledger row, so
//! the two never disagree. The balance row's `CHECK (balance >= 0)` makes an overdraft fail
//! inside the database, atomically: concurrent charges can never drive a balance below zero,
//! whatever the interleaving.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use variosync_domain::{Hours, LedgerEntryId, UserId, WorkspaceId};

use crate::db::{Access, Database, Owner};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// The longest reason kept with an entry.
pub const MAX_REASON_LEN: usize = 500;

/// One change to a balance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    /// The entry's id.
    pub id: LedgerEntryId,
    /// Whose balance changed (`None` once the workspace is deleted).
    pub workspace_id: Option<WorkspaceId>,
    /// The person the change concerns: who ran the job, who bought, to whom hours were
    /// granted (`None` once the account is deleted).
    pub user_id: Option<UserId>,
    /// The change: positive for grants and purchases, negative for charges.
    pub delta: Hours,
    /// The balance right after this change.
    pub balance: Hours,
    /// Why, in words.
    pub reason: String,
    /// Who made the change, when it was a person (an admin's grant).
    pub actor_id: Option<UserId>,
    /// When.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    workspace_id: Option<Uuid>,
    user_id: Option<Uuid>,
    delta_micro: i64,
    balance_micro: i64,
    reason: String,
    actor_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<EntryRow> for LedgerEntry {
    fn from(row: EntryRow) -> Self {
        Self {
            id: LedgerEntryId::from_uuid(row.id),
            workspace_id: row.workspace_id.map(WorkspaceId::from_uuid),
            user_id: row.user_id.map(UserId::from_uuid),
            delta: Hours::from_micro(row.delta_micro),
            balance: Hours::from_micro(row.balance_micro),
            reason: row.reason,
            actor_id: row.actor_id.map(UserId::from_uuid),
            created_at: row.created_at,
        }
    }
}

/// Appends a ledger row in the transaction of `$conn` and moves the balance with it;
/// evaluates to the balance after it, in micro-hours. The balance row is made first if
/// missing (zero passes the check), then moved: the UPDATE takes the row lock, so concurrent
/// changes apply one after the other and the CHECK sees each result. (An upsert would not
/// do: SQLite checks the inserted candidate row before it notices the conflict.) An
/// overdraft fails with [`Error::InsufficientHours`]; an unknown workspace with `NotFound`.
/// `$workspace` is whose balance moves, `$user` the person the change concerns.
macro_rules! ledger_step {
    ($conn:expr, $id:expr, $workspace:expr, $user:expr, $delta:expr, $reason:expr, $actor:expr, $at:expr) => {{
        let workspace: uuid::Uuid = $workspace;
        sqlx::query(
            "INSERT INTO hour_balances (workspace_id, balance_micro, updated_at) \
             VALUES ($1, 0, $2) ON CONFLICT (workspace_id) DO NOTHING",
        )
        .bind(workspace)
        .bind($at)
        .execute(&mut *$conn)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                $crate::error::Error::NotFound("workspace")
            }
            _ => $crate::error::Error::from(error),
        })?;
        let balance: i64 = sqlx::query_scalar(
            "UPDATE hour_balances SET balance_micro = balance_micro + $2, updated_at = $3 \
             WHERE workspace_id = $1 RETURNING balance_micro",
        )
        .bind(workspace)
        .bind($delta)
        .bind($at)
        .fetch_one(&mut *$conn)
        .await
        .map_err(|error| match &error {
            sqlx::Error::Database(db) if db.is_check_violation() => {
                $crate::error::Error::InsufficientHours
            }
            _ => $crate::error::Error::from(error),
        })?;
        sqlx::query(
            "INSERT INTO hour_ledger \
             (id, workspace_id, user_id, delta_micro, balance_micro, reason, actor_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind($id.as_uuid())
        .bind(workspace)
        .bind($user)
        .bind($delta)
        .bind(balance)
        .bind($reason)
        .bind($actor)
        .bind($at)
        .execute(&mut *$conn)
        .await?;
        balance
    }};
}
pub(crate) use ledger_step;

/// Reads and appends to the hour ledger.
#[derive(Debug, Clone)]
pub struct HourLedger {
    db: Database,
}

impl HourLedger {
    /// A ledger over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Adds `delta` (negative for a charge) to `owner.workspace`'s balance, concerning
    /// `owner.user`, and records why. Fails with [`Error::InsufficientHours`] if the balance
    /// would go below zero; nothing is written then.
    #[tracing::instrument(skip_all, fields(workspace_id = %owner.workspace, delta = %delta), err(level = "warn"))]
    pub async fn apply(
        &self,
        access: Access,
        owner: Owner,
        delta: Hours,
        reason: &str,
        actor: Option<UserId>,
    ) -> Result<LedgerEntry> {
        if reason.trim().is_empty() || reason.chars().count() > MAX_REASON_LEN {
            return Err(Error::InvalidReason);
        }
        if let Some(scope) = access.workspace_scope()
            && scope != owner.workspace.as_uuid()
        {
            return Err(Error::NotFound("workspace"));
        }
        let at = now();
        let id = LedgerEntryId::new();
        let balance = transaction!(&self.db, access, write, |conn| {
            ledger_step!(
                conn,
                id,
                owner.workspace.as_uuid(),
                Some(owner.user.as_uuid()),
                delta.as_micro(),
                reason.trim(),
                actor.map(|actor| actor.as_uuid()),
                at
            )
        });
        Ok(LedgerEntry {
            id,
            workspace_id: Some(owner.workspace),
            user_id: Some(owner.user),
            delta,
            balance: Hours::from_micro(balance),
            reason: reason.trim().to_owned(),
            actor_id: actor,
            created_at: at,
        })
    }

    /// The workspace's current balance (zero if nothing was ever granted).
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace), err(level = "warn"))]
    pub async fn balance(&self, access: Access, workspace: WorkspaceId) -> Result<Hours> {
        let micro: Option<i64> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_scalar(
                "SELECT balance_micro FROM hour_balances \
                 WHERE workspace_id = $1 AND ($2 IS NULL OR workspace_id = $2)",
            )
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .fetch_optional(&mut *conn)
            .await?
        });
        Ok(Hours::from_micro(micro.unwrap_or(0)))
    }

    /// The workspace's entries, newest first, older than `before` when given.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace), err(level = "warn"))]
    pub async fn entries(
        &self,
        access: Access,
        workspace: WorkspaceId,
        before: Option<LedgerEntryId>,
        limit: u32,
    ) -> Result<Vec<LedgerEntry>> {
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, EntryRow>(
                "SELECT id, workspace_id, user_id, delta_micro, balance_micro, reason, actor_id, created_at \
                 FROM hour_ledger WHERE workspace_id = $1 AND ($2 IS NULL OR workspace_id = $2) \
                 AND ($3 IS NULL OR id < $3) ORDER BY id DESC LIMIT $4",
            )
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .bind(before.map(|id| id.as_uuid()))
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows.into_iter().map(LedgerEntry::from).collect())
    }
}

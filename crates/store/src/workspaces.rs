//! Workspaces and their members.
//!
//! A workspace owns datasets, uploads, jobs, forecasts and an hour balance. Every account
//! has a personal workspace with the account's id, made with the account, in which it is the
//! admin. The membership rows are what PostgreSQL's row-level security reads to decide which
//! workspace rows a person sees and may change.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use variosync_domain::{UserId, Workspace, WorkspaceId, WorkspaceRole};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;

/// The name a personal workspace is given.
pub const PERSONAL_NAME: &str = "Personal";

/// Makes `$user`'s personal workspace and their admin membership of it, in the transaction
/// of `$conn` (which must run with system access).
macro_rules! insert_personal {
    ($conn:expr, $user:expr, $at:expr) => {{
        let (user, at): (variosync_domain::UserId, chrono::DateTime<chrono::Utc>) = ($user, $at);
        sqlx::query(
            "INSERT INTO workspaces (id, name, personal_of, created_at) VALUES ($1, $2, $1, $3)",
        )
        .bind(user.as_uuid())
        .bind($crate::workspaces::PERSONAL_NAME)
        .bind(at)
        .execute(&mut *$conn)
        .await?;
        sqlx::query(
            "INSERT INTO workspace_members (workspace_id, user_id, role, created_at) \
             VALUES ($1, $1, 'admin', $2)",
        )
        .bind(user.as_uuid())
        .bind(at)
        .execute(&mut *$conn)
        .await?;
    }};
}
pub(crate) use insert_personal;

#[derive(sqlx::FromRow)]
struct MembershipRow {
    id: Uuid,
    name: String,
    personal_of: Option<Uuid>,
    created_at: DateTime<Utc>,
    role: String,
}

impl TryFrom<MembershipRow> for (Workspace, WorkspaceRole) {
    type Error = Error;

    fn try_from(row: MembershipRow) -> Result<Self> {
        let role = row
            .role
            .parse()
            .map_err(|e| Error::Corrupt(format!("membership of workspace {}: {e}", row.id)))?;
        let workspace = Workspace {
            id: WorkspaceId::from_uuid(row.id),
            name: row.name,
            personal_of: row.personal_of.map(UserId::from_uuid),
            created_at: row.created_at,
        };
        Ok((workspace, role))
    }
}

/// Reads workspaces and memberships.
#[derive(Debug, Clone)]
pub struct WorkspaceRepository {
    db: Database,
}

impl WorkspaceRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The workspaces `user` belongs to with their role in each, the personal one first.
    pub async fn memberships(
        &self,
        access: Access,
        user: UserId,
    ) -> Result<Vec<(Workspace, WorkspaceRole)>> {
        access.require_owner(user)?;
        const SQL: &str = "SELECT w.id, w.name, w.personal_of, w.created_at, m.role \
             FROM workspace_members m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 \
             ORDER BY (w.personal_of IS NULL), w.name, w.id";
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, MembershipRow>(SQL)
                .bind(user.as_uuid())
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// `user`'s role in `workspace`, or `None` if they are not a member: what an access in
    /// that workspace may be built from.
    pub async fn role(
        &self,
        access: Access,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<WorkspaceRole>> {
        Ok(self
            .memberships(access, user)
            .await?
            .into_iter()
            .find(|(candidate, _)| candidate.id == workspace)
            .map(|(_, role)| role))
    }
}

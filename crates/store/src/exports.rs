//! Exports written by a job. The row is recorded when the export is asked for (`pending`),
//! becomes `ready` once its object is stored (under a key made from its id alone), or
//! `failed` with the reason; past its expiry the object is deleted and the row removed.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{DatasetId, ExportId, JobId, UserId, WorkspaceId};

use crate::datasets::to_i64;
use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Its job has not finished.
    Pending,
    /// The file is stored and can be downloaded.
    Ready,
    /// Its job failed; the error says why.
    Failed,
}

impl ExportStatus {
    fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready => "ready",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "pending" => Ok(Self::Pending),
            "ready" => Ok(Self::Ready),
            "failed" => Ok(Self::Failed),
            other => Err(Error::Corrupt(format!("an export's status is {other:?}"))),
        }
    }
}

/// An export as its workspace sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Export {
    /// The export's id.
    pub id: ExportId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The person who asked for it.
    pub user_id: UserId,
    /// The dataset exported.
    pub dataset_id: DatasetId,
    /// The job writing it.
    pub job_id: Option<JobId>,
    /// Where it stands.
    pub status: ExportStatus,
    /// The file's name.
    pub file_name: String,
    /// The file's media type.
    pub media_type: String,
    /// What was asked for (version, series, columns, range, format and options).
    #[schema(value_type = Object)]
    pub request: serde_json::Value,
    /// Why it failed.
    pub error: Option<String>,
    /// The file's size, once ready.
    pub bytes: u64,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// When its job ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// When the file is deleted.
    pub expires_at: DateTime<Utc>,
}

/// What a new export records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExport {
    /// Its id.
    pub id: ExportId,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The file's name.
    pub file_name: String,
    /// The file's media type.
    pub media_type: String,
    /// What was asked for.
    pub request: serde_json::Value,
    /// When the file is deleted.
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    dataset_id: Uuid,
    job_id: Option<Uuid>,
    status: String,
    file_name: String,
    media_type: String,
    request: String,
    error: Option<String>,
    bytes: i64,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<ExportRow> for Export {
    type Error = Error;

    fn try_from(row: ExportRow) -> Result<Self> {
        Ok(Self {
            id: ExportId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            user_id: UserId::from_uuid(row.user_id),
            dataset_id: DatasetId::from_uuid(row.dataset_id),
            job_id: row.job_id.map(JobId::from_uuid),
            status: ExportStatus::parse(&row.status)?,
            file_name: row.file_name,
            media_type: row.media_type,
            request: serde_json::from_str(&row.request)
                .map_err(|e| Error::Corrupt(format!("export {}: {e}", row.id)))?,
            error: row.error,
            bytes: u64::try_from(row.bytes).unwrap_or_default(),
            created_at: row.created_at,
            finished_at: row.finished_at,
            expires_at: row.expires_at,
        })
    }
}

macro_rules! export_columns {
    () => {
        "id, workspace_id, user_id, dataset_id, job_id, status, file_name, media_type, request, \
         error, bytes, created_at, finished_at, expires_at"
    };
}

/// Reads and writes exports.
#[derive(Debug, Clone)]
pub struct ExportRepository {
    db: Database,
}

impl ExportRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records an export asked for, pending.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, export_id = %new.id), err(level = "warn"))]
    pub async fn create(
        &self,
        access: Access,
        workspace: WorkspaceId,
        new: &NewExport,
    ) -> Result<Export> {
        let owner = access.owner(workspace)?;
        const SQL: &str = concat!(
            "INSERT INTO exports (",
            export_columns!(),
            ") VALUES ($1, $2, $3, $4, NULL, 'pending', $5, $6, $7, NULL, 0, $8, NULL, $9) \
             RETURNING ",
            export_columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, ExportRow>(SQL)
                .bind(new.id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(new.dataset_id.as_uuid())
                .bind(&new.file_name)
                .bind(&new.media_type)
                .bind(new.request.to_string())
                .bind(now())
                .bind(new.expires_at)
                .fetch_one(&mut *conn)
                .await?
        });
        Export::try_from(row)
    }

    /// The export, if it is the workspace's.
    pub async fn get(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ExportId,
    ) -> Result<Option<Export>> {
        const SQL: &str = concat!(
            "SELECT ",
            export_columns!(),
            " FROM exports WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, ExportRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Export::try_from).transpose()
    }

    /// The workspace's exports, newest first.
    pub async fn list(
        &self,
        access: Access,
        workspace: WorkspaceId,
        limit: u32,
    ) -> Result<Vec<Export>> {
        const SQL: &str = concat!(
            "SELECT ",
            export_columns!(),
            " FROM exports WHERE workspace_id = $1 AND ($2 IS NULL OR workspace_id = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, ExportRow>(SQL)
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(Export::try_from).collect()
    }

    /// Notes the job writing a pending export.
    pub async fn set_job(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ExportId,
        job: JobId,
    ) -> Result<()> {
        access.require_writer(workspace)?;
        transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE exports SET job_id = $1 WHERE id = $2 AND workspace_id = $3 \
                 AND ($4 IS NULL OR workspace_id = $4)",
            )
            .bind(job.as_uuid())
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Ends a pending export: `ready` with its size, or `failed` with the reason. Whether it
    /// was pending (a finished export stays as it ended).
    pub async fn finish(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ExportId,
        outcome: std::result::Result<u64, String>,
    ) -> Result<bool> {
        access.require_writer(workspace)?;
        let (status, bytes, error) = match outcome {
            Ok(bytes) => (ExportStatus::Ready, bytes, None),
            Err(error) => (ExportStatus::Failed, 0, Some(error)),
        };
        let changed = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE exports SET status = $1, bytes = $2, error = $3, finished_at = $4 \
                 WHERE id = $5 AND workspace_id = $6 AND ($7 IS NULL OR workspace_id = $7) \
                 AND status = 'pending'",
            )
            .bind(status.name())
            .bind(to_i64(bytes))
            .bind(error)
            .bind(now())
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(changed > 0)
    }

    /// Deletes the export's row; whether it existed. The caller deletes its object.
    pub async fn delete(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ExportId,
    ) -> Result<bool> {
        access.require_writer(workspace)?;
        let deleted = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "DELETE FROM exports WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)",
            )
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(deleted > 0)
    }

    /// Up to `limit` expired exports of any workspace (for the workers' sweep, which deletes
    /// them with their objects): workspace and id.
    pub async fn expired_any(
        &self,
        access: Access,
        limit: u32,
    ) -> Result<Vec<(WorkspaceId, ExportId)>> {
        access.require_system()?;
        let rows: Vec<(Uuid, Uuid)> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as(
                "SELECT workspace_id, id FROM exports WHERE expires_at <= $1 \
                 ORDER BY expires_at LIMIT $2",
            )
            .bind(now())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(workspace, id)| (WorkspaceId::from_uuid(workspace), ExportId::from_uuid(id)))
            .collect())
    }
}

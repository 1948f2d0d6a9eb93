//! Resumable uploads: a file announced with its size, sent in chunks that may stop and
//! resume at the last byte received, and completed into a dataset. Each chunk is an object
//! written before its row; the row is inserted in the transaction that advances the
//! upload's offset, and only if the offset is still the chunk's start, so two requests
//! racing to send the same chunk cannot both count, and an interrupted one leaves nothing
//! counted.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{UploadId, UserId, WorkspaceId};

use crate::datasets::to_i64;
use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::objects::ObjectKey;
use crate::transaction;
use crate::users::now;

/// The longest file name kept.
const MAX_FILE_NAME: usize = 255;

/// An upload as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Upload {
    /// The upload's id.
    pub id: UploadId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The person sending it.
    pub user_id: UserId,
    /// The name of the file being sent.
    pub file_name: String,
    /// The file's size in bytes, announced when the upload began.
    pub size: u64,
    /// Bytes received so far: the offset of the next chunk.
    pub received: u64,
    /// When it began.
    pub created_at: DateTime<Utc>,
    /// When a chunk last arrived.
    pub updated_at: DateTime<Utc>,
    /// When it is discarded unless completed.
    pub expires_at: DateTime<Utc>,
}

/// A chunk received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChunk {
    /// Its first byte's offset in the file.
    pub start: u64,
    /// Its length.
    pub length: u64,
    /// Where it is stored.
    pub key: ObjectKey,
}

#[derive(sqlx::FromRow)]
struct UploadRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    file_name: String,
    size: i64,
    received: i64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<UploadRow> for Upload {
    fn from(row: UploadRow) -> Self {
        Self {
            id: UploadId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            user_id: UserId::from_uuid(row.user_id),
            file_name: row.file_name,
            size: u64::try_from(row.size).unwrap_or_default(),
            received: u64::try_from(row.received).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            expires_at: row.expires_at,
        }
    }
}

macro_rules! upload_columns {
    () => {
        "id, workspace_id, user_id, file_name, size, received, created_at, updated_at, expires_at"
    };
}

/// Reads and writes resumable uploads.
#[derive(Debug, Clone)]
pub struct UploadRepository {
    db: Database,
}

impl UploadRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Begins an upload of `size` bytes, discarded at `expires_at` unless completed.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, upload_id = %id), err(level = "warn"))]
    pub async fn create(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
        file_name: &str,
        size: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<Upload> {
        let owner = access.owner(workspace)?;
        let file_name: String = file_name.trim().chars().filter(|c| !c.is_control()).collect();
        let file_name: String = file_name.chars().take(MAX_FILE_NAME).collect();
        let at = now();
        const SQL: &str = concat!(
            "INSERT INTO uploads (id, workspace_id, user_id, file_name, size, received, \
             created_at, updated_at, expires_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7) \
             RETURNING ",
            upload_columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, UploadRow>(SQL)
                .bind(id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(&file_name)
                .bind(to_i64(size))
                .bind(at)
                .bind(expires_at)
                .fetch_one(&mut *conn)
                .await?
        });
        Ok(row.into())
    }

    /// The upload, if it is the workspace's and has not expired.
    pub async fn get(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
    ) -> Result<Option<Upload>> {
        const SQL: &str = concat!(
            "SELECT ",
            upload_columns!(),
            " FROM uploads WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3) \
             AND expires_at > $4"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, UploadRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .bind(now())
                .fetch_optional(&mut *conn)
                .await?
        });
        Ok(row.map(Upload::from))
    }

    /// Counts the chunk of `length` bytes at `start`, already stored at `key`. Refused with
    /// [`Error::UploadOffset`] unless `start` is where the received bytes end and the chunk
    /// fits in the announced size; [`Error::NotFound`] if the upload is gone.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, upload_id = %id), err(level = "warn"))]
    pub async fn add_chunk(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
        start: u64,
        length: u64,
        key: &ObjectKey,
    ) -> Result<Upload> {
        let owner = access.owner(workspace)?;
        const ADVANCE: &str = concat!(
            "UPDATE uploads SET received = received + $3, updated_at = $4 \
             WHERE id = $1 AND workspace_id = $2 AND received = $5 AND received + $3 <= size \
             AND expires_at > $4 AND claimed_until IS NULL RETURNING ",
            upload_columns!()
        );
        let at = now();
        let row = transaction!(&self.db, access, write, |conn| {
            let row = sqlx::query_as::<_, UploadRow>(ADVANCE)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(to_i64(length))
                .bind(at)
                .bind(to_i64(start))
                .fetch_optional(&mut *conn)
                .await?;
            match row {
                Some(row) => {
                    sqlx::query(
                        "INSERT INTO upload_chunks (upload_id, workspace_id, user_id, start, \
                         length, object_key) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(id.as_uuid())
                    .bind(owner.workspace.as_uuid())
                    .bind(owner.user.as_uuid())
                    .bind(to_i64(start))
                    .bind(to_i64(length))
                    .bind(key.as_str())
                    .execute(&mut *conn)
                    .await?;
                    Ok(row)
                }
                None => Err(()),
            }
        });
        match row {
            Ok(row) => Ok(row.into()),
            Err(()) => match self.get(access, workspace, id).await? {
                Some(upload) => {
                    Err(Error::UploadOffset { received: upload.received, size: upload.size })
                }
                None => Err(Error::NotFound("upload")),
            },
        }
    }

    /// The chunks received, in file order.
    pub async fn chunks(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
    ) -> Result<Vec<UploadChunk>> {
        access.require_reader(workspace)?;
        let rows: Vec<(i64, i64, String)> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as(
                "SELECT start, length, object_key FROM upload_chunks \
                 WHERE upload_id = $1 AND workspace_id = $2 ORDER BY start",
            )
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(start, length, key)| UploadChunk {
                start: u64::try_from(start).unwrap_or_default(),
                length: u64::try_from(length).unwrap_or_default(),
                key: ObjectKey::from_stored(&key),
            })
            .collect())
    }

    /// Claims a fully received upload for completion until `until`, so that one request
    /// makes it a dataset; `None` if it is not the workspace's, not fully received, or claimed by
    /// a completion still running.
    pub async fn claim(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
        until: DateTime<Utc>,
    ) -> Result<Option<Upload>> {
        access.require_reader(workspace)?;
        access.require_writer(workspace)?;
        const SQL: &str = concat!(
            "UPDATE uploads SET claimed_until = $3 WHERE id = $1 AND workspace_id = $2 \
             AND received = size AND expires_at > $4 \
             AND (claimed_until IS NULL OR claimed_until < $4) RETURNING ",
            upload_columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, UploadRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(until)
                .bind(now())
                .fetch_optional(&mut *conn)
                .await?
        });
        Ok(row.map(Upload::from))
    }

    /// Gives up a claim (the completion failed; the upload may be completed again).
    pub async fn release(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
    ) -> Result<()> {
        access.require_reader(workspace)?;
        access.require_writer(workspace)?;
        transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE uploads SET claimed_until = NULL WHERE id = $1 AND workspace_id = $2",
            )
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Extends a claim still held to `until` (a completion that is still running renews
    /// its short claim, so one whose process died frees the upload soon); whether it was
    /// still held.
    pub async fn renew_claim(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        access.require_reader(workspace)?;
        access.require_writer(workspace)?;
        let renewed = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "UPDATE uploads SET claimed_until = $3 WHERE id = $1 AND workspace_id = $2 \
                 AND claimed_until IS NOT NULL",
            )
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .bind(until)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        Ok(renewed > 0)
    }

    /// Deletes the upload and its chunk rows (the caller deletes the objects); whether it
    /// existed.
    pub async fn delete(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: UploadId,
    ) -> Result<bool> {
        access.require_writer(workspace)?;
        let deleted = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "DELETE FROM uploads WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)",
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

    /// The workspace's uploads that have expired (to delete with their objects).
    pub async fn expired(&self, access: Access, workspace: WorkspaceId) -> Result<Vec<UploadId>> {
        access.require_reader(workspace)?;
        let ids: Vec<Uuid> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_scalar(
                "SELECT id FROM uploads WHERE workspace_id = $1 AND expires_at <= $2",
            )
            .bind(workspace.as_uuid())
            .bind(now())
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(ids.into_iter().map(UploadId::from_uuid).collect())
    }

    /// Up to `limit` expired uploads of any account that no completion holds (for the
    /// workers' sweep, which deletes them with their objects): owner and id.
    pub async fn expired_any(
        &self,
        access: Access,
        limit: u32,
    ) -> Result<Vec<(WorkspaceId, UploadId)>> {
        access.require_system()?;
        let rows: Vec<(Uuid, Uuid)> = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as(
                "SELECT workspace_id, id FROM uploads WHERE expires_at <= $1 \
                 AND (claimed_until IS NULL OR claimed_until <= $1) ORDER BY expires_at LIMIT $2",
            )
            .bind(now())
            .bind(i64::from(limit))
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(workspace, id)| (WorkspaceId::from_uuid(workspace), UploadId::from_uuid(id)))
            .collect())
    }

    /// How many uploads the workspace has open (not expired).
    pub async fn open_count(&self, access: Access, workspace: WorkspaceId) -> Result<u64> {
        access.require_reader(workspace)?;
        let count: i64 = transaction!(&self.db, access, read, |conn| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM uploads WHERE workspace_id = $1 AND expires_at > $2",
            )
            .bind(workspace.as_uuid())
            .bind(now())
            .fetch_one(&mut *conn)
            .await?
        });
        Ok(u64::try_from(count).unwrap_or_default())
    }
}

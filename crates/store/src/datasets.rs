//! Datasets and their versions. Versions are immutable; a dataset points at its current
//! one. The caller writes a version's objects first (under keys made from the dataset's id,
//! generated beforehand) and records the version afterwards, in one transaction with the
//! dataset row, so a failure at any point leaves no row pointing at missing objects.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::names::{self, NameKind};
use variosync_domain::profile::Profile;
use variosync_domain::{DatasetId, UserId, WorkspaceId};

use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// The longest dataset name.
pub const MAX_NAME_LEN: usize = NameKind::Dataset.max_chars();
/// The most tags on one dataset.
pub const MAX_TAGS: usize = 32;

/// A dataset as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Dataset {
    /// The dataset's id.
    pub id: DatasetId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The person who made it.
    pub user_id: UserId,
    /// Its name.
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The version shown by default.
    pub current_version: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a new version records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVersion {
    /// What made it (`import`, a cleaning step...).
    pub operation: String,
    /// How many Parquet parts hold it.
    pub parts: u32,
    /// Rows in all parts.
    pub row_count: u64,
    /// Bytes of all parts.
    pub bytes: u64,
    /// The earliest time in it.
    pub time_from: Option<DateTime<Utc>>,
    /// The latest time in it.
    pub time_to: Option<DateTime<Utc>>,
    /// The series it holds.
    pub series: Vec<String>,
    /// Its profile (statistics).
    pub profile: Profile,
}

/// A stored version.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Version {
    /// The dataset.
    pub dataset_id: DatasetId,
    /// Its number, from 1.
    pub version: u32,
    /// The version it was made from.
    pub parent_version: Option<u32>,
    /// What made it.
    pub operation: String,
    /// Parquet parts.
    pub parts: u32,
    /// Rows.
    pub row_count: u64,
    /// Bytes.
    pub bytes: u64,
    /// Earliest time.
    pub time_from: Option<DateTime<Utc>>,
    /// Latest time.
    pub time_to: Option<DateTime<Utc>>,
    /// Series.
    pub series: Vec<String>,
    /// Profile: rows, time range, duplicates and rejects, and statistics of each series and
    /// column.
    pub profile: Profile,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct DatasetRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    name: String,
    tags: String,
    current_version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<DatasetRow> for Dataset {
    type Error = Error;

    fn try_from(row: DatasetRow) -> Result<Self> {
        Ok(Self {
            id: DatasetId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            user_id: UserId::from_uuid(row.user_id),
            name: row.name,
            tags: serde_json::from_str(&row.tags)
                .map_err(|e| Error::Corrupt(format!("dataset {}: {e}", row.id)))?,
            current_version: u32::try_from(row.current_version).unwrap_or_default(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    dataset_id: Uuid,
    version: i32,
    parent_version: Option<i32>,
    operation: String,
    parts: i32,
    row_count: i64,
    bytes: i64,
    time_from: Option<DateTime<Utc>>,
    time_to: Option<DateTime<Utc>>,
    series: String,
    profile: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<VersionRow> for Version {
    type Error = Error;

    fn try_from(row: VersionRow) -> Result<Self> {
        let corrupt = |e: serde_json::Error| {
            Error::Corrupt(format!("dataset {} v{}: {e}", row.dataset_id, row.version))
        };
        Ok(Self {
            dataset_id: DatasetId::from_uuid(row.dataset_id),
            version: u32::try_from(row.version).unwrap_or_default(),
            parent_version: row.parent_version.and_then(|v| u32::try_from(v).ok()),
            operation: row.operation,
            parts: u32::try_from(row.parts).unwrap_or_default(),
            row_count: u64::try_from(row.row_count).unwrap_or_default(),
            bytes: u64::try_from(row.bytes).unwrap_or_default(),
            time_from: row.time_from,
            time_to: row.time_to,
            series: serde_json::from_str(&row.series).map_err(corrupt)?,
            profile: serde_json::from_str(&row.profile).map_err(corrupt)?,
            created_at: row.created_at,
        })
    }
}

macro_rules! dataset_columns {
    () => {
        "id, workspace_id, user_id, name, tags, current_version, created_at, updated_at"
    };
}

macro_rules! version_columns {
    () => {
        "dataset_id, version, workspace_id, user_id, parent_version, operation, parts, row_count, bytes, \
         time_from, time_to, series, profile, created_at"
    };
}

/// Inserts one version row and returns it (inside a transaction of either backend).
macro_rules! insert_version {
    ($conn:expr, $id:expr, $owner:expr, $version:expr, $parent:expr, $new:expr, $at:expr) => {{
        const SQL: &str = concat!(
            "INSERT INTO dataset_versions (",
            version_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING ",
            version_columns!()
        );
        let new: &NewVersion = $new;
        sqlx::query_as::<_, VersionRow>(SQL)
            .bind($id.as_uuid())
            .bind($version)
            .bind($owner.workspace.as_uuid())
            .bind($owner.user.as_uuid())
            .bind($parent)
            .bind(&new.operation)
            .bind(i32::try_from(new.parts).unwrap_or(i32::MAX))
            .bind(to_i64(new.row_count))
            .bind(to_i64(new.bytes))
            .bind(new.time_from)
            .bind(new.time_to)
            .bind(serde_json::to_string(&new.series).unwrap_or_else(|_| "[]".to_owned()))
            .bind(serde_json::to_string(&new.profile).unwrap_or_else(|_| "{}".to_owned()))
            .bind($at)
            .fetch_one($conn)
            .await?
    }};
}

/// A dataset's name by the rule for names (see [`variosync_domain::names`]).
pub fn check_name(name: &str) -> Result<String> {
    Ok(names::check(NameKind::Dataset, name)?)
}

fn check_tags(tags: &[String]) -> Result<String> {
    let mut clean: Vec<String> = Vec::new();
    for tag in tags {
        let tag = names::check(NameKind::Tag, tag)?;
        if !clean.contains(&tag) {
            clean.push(tag);
        }
    }
    if clean.len() > MAX_TAGS {
        return Err(Error::InvalidTags);
    }
    Ok(serde_json::to_string(&clean).unwrap_or_else(|_| "[]".to_owned()))
}

/// A count or size as the database stores it (saturating: nothing we count reaches 2^63).
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads and writes datasets and versions.
#[derive(Debug, Clone)]
pub struct DatasetRepository {
    db: Database,
}

impl DatasetRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a new dataset with its first version, whose objects are already written under
    /// `id`. Both rows appear together or not at all.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, dataset_id = %id), err(level = "warn"))]
    pub async fn create(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
        name: &str,
        tags: &[String],
        first: &NewVersion,
    ) -> Result<(Dataset, Version)> {
        let owner = access.owner(workspace)?;
        let name = check_name(name)?;
        let tags = check_tags(tags)?;
        let at = now();
        const INSERT_DATASET: &str = concat!(
            "INSERT INTO datasets \
             (id, workspace_id, user_id, name, tags, current_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $6) RETURNING ",
            dataset_columns!()
        );
        let (dataset, version) = transaction!(&self.db, access, write, |conn| {
            let dataset = sqlx::query_as::<_, DatasetRow>(INSERT_DATASET)
                .bind(id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(&name)
                .bind(&tags)
                .bind(at)
                .fetch_one(&mut *conn)
                .await?;
            let version = insert_version!(&mut *conn, id, owner, 1, None::<i32>, first, at);
            (dataset, version)
        });
        Ok((dataset.try_into()?, version.try_into()?))
    }

    /// Records the next version of a dataset, made from `parent`, which must still be the
    /// current version (otherwise [`Error::StaleVersion`]: someone else changed it first).
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, dataset_id = %id), err(level = "warn"))]
    pub async fn add_version(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
        parent: u32,
        new: &NewVersion,
    ) -> Result<Version> {
        let owner = access.owner(workspace)?;
        let at = now();
        let parent = i32::try_from(parent).map_err(|_| Error::StaleVersion)?;
        let version = transaction!(&self.db, access, write, |conn| {
            let next: Option<i32> = sqlx::query_scalar(
                "UPDATE datasets SET current_version = current_version + 1, updated_at = $4 \
                 WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3) \
                 AND current_version = $5 RETURNING current_version",
            )
            .bind(id.as_uuid())
            .bind(workspace.as_uuid())
            .bind(access.workspace_scope())
            .bind(at)
            .bind(parent)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(next) = next else { return Err(Error::StaleVersion) };
            insert_version!(&mut *conn, id, owner, next, Some(parent), new, at)
        });
        version.try_into()
    }

    /// The dataset, if it is the workspace's.
    pub async fn get(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
    ) -> Result<Option<Dataset>> {
        const SQL: &str = concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, DatasetRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Dataset::try_from).transpose()
    }

    /// The workspace's datasets, most recently changed first, whose name contains `search`
    /// (without regard to case) when given.
    pub async fn list(
        &self,
        access: Access,
        workspace: WorkspaceId,
        search: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Dataset>> {
        // The search text is a bound value with LIKE's wildcards escaped: never SQL.
        let pattern = search.map(|text| {
            let escaped =
                text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            format!("%{escaped}%")
        });
        const SQL: &str = concat!(
            "SELECT ",
            dataset_columns!(),
            " FROM datasets WHERE workspace_id = $1 AND ($2 IS NULL OR workspace_id = $2) \
             AND ($3 IS NULL OR lower(name) LIKE $3 ESCAPE '\\') \
             ORDER BY updated_at DESC, id DESC LIMIT $4"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, DatasetRow>(SQL)
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .bind(pattern)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(Dataset::try_from).collect()
    }

    /// Every version of the workspace's dataset, oldest first.
    pub async fn versions(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
    ) -> Result<Vec<Version>> {
        const SQL: &str = concat!(
            "SELECT ",
            version_columns!(),
            " FROM dataset_versions WHERE dataset_id = $1 AND workspace_id = $2 \
             AND ($3 IS NULL OR workspace_id = $3) ORDER BY version"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, VersionRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(Version::try_from).collect()
    }

    /// Renames and retags the workspace's dataset; `None` if it is not the workspace's.
    pub async fn update(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
        name: &str,
        tags: &[String],
    ) -> Result<Option<Dataset>> {
        access.require_writer(workspace)?;
        let name = check_name(name)?;
        let tags = check_tags(tags)?;
        const SQL: &str = concat!(
            "UPDATE datasets SET name = $4, tags = $5, updated_at = $6 \
             WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3) RETURNING ",
            dataset_columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, DatasetRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .bind(&name)
                .bind(&tags)
                .bind(now())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Dataset::try_from).transpose()
    }

    /// Deletes the workspace's dataset and its versions (the caller deletes the objects);
    /// returns whether it existed.
    pub async fn delete(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: DatasetId,
    ) -> Result<bool> {
        access.require_writer(workspace)?;
        let deleted = transaction!(&self.db, access, write, |conn| {
            sqlx::query("DELETE FROM datasets WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)")
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(deleted > 0)
    }
}

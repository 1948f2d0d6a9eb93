//! Finished forecasts. The forecast points are a Parquet object written first (under a key
//! made from the forecast's id); the row is recorded afterwards, so a row never points at a
//! missing object.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{DatasetId, ForecastId, JobId, UserId, WorkspaceId};

use crate::datasets::to_i64;
use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::transaction;
use crate::users::now;

/// A forecast as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    /// The forecast's id.
    pub id: ForecastId,
    /// The workspace it belongs to.
    pub workspace_id: WorkspaceId,
    /// The person who asked for it.
    pub user_id: UserId,
    /// The dataset forecast.
    pub dataset_id: DatasetId,
    /// The version of the dataset.
    pub dataset_version: u32,
    /// The job that made it.
    pub job_id: Option<JobId>,
    /// The series.
    pub series: String,
    /// The value column.
    pub column: String,
    /// Steps forecast.
    pub horizon: u32,
    /// Interval levels, in percent.
    pub levels: Vec<f64>,
    /// The models asked for.
    pub models: Vec<String>,
    /// The model the backtests favour.
    pub best: Option<String>,
    /// The summary: the series' calendar, each model's form and the backtests.
    #[schema(value_type = Object)]
    pub report: serde_json::Value,
    /// Size of the stored points.
    pub bytes: u64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What a new forecast records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewForecast {
    /// Its id (its object is already stored under it).
    pub id: ForecastId,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The dataset's version.
    pub dataset_version: u32,
    /// The job that made it.
    pub job_id: Option<JobId>,
    /// The series.
    pub series: String,
    /// The value column.
    pub column: String,
    /// Steps forecast.
    pub horizon: u32,
    /// Interval levels.
    pub levels: Vec<f64>,
    /// The models asked for.
    pub models: Vec<String>,
    /// The model the backtests favour.
    pub best: Option<String>,
    /// The summary.
    pub report: serde_json::Value,
    /// Size of the stored points.
    pub bytes: u64,
}

#[derive(sqlx::FromRow)]
struct ForecastRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    dataset_id: Uuid,
    dataset_version: i32,
    job_id: Option<Uuid>,
    series: String,
    column_name: String,
    horizon: i32,
    levels: String,
    models: String,
    best: Option<String>,
    report: String,
    bytes: i64,
    created_at: DateTime<Utc>,
}

impl TryFrom<ForecastRow> for Forecast {
    type Error = Error;

    fn try_from(row: ForecastRow) -> Result<Self> {
        let corrupt = |e: serde_json::Error| Error::Corrupt(format!("forecast {}: {e}", row.id));
        Ok(Self {
            id: ForecastId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            user_id: UserId::from_uuid(row.user_id),
            dataset_id: DatasetId::from_uuid(row.dataset_id),
            dataset_version: u32::try_from(row.dataset_version).unwrap_or_default(),
            job_id: row.job_id.map(JobId::from_uuid),
            series: row.series,
            column: row.column_name,
            horizon: u32::try_from(row.horizon).unwrap_or_default(),
            levels: serde_json::from_str(&row.levels).map_err(corrupt)?,
            models: serde_json::from_str(&row.models).map_err(corrupt)?,
            best: row.best,
            report: serde_json::from_str(&row.report).map_err(corrupt)?,
            bytes: u64::try_from(row.bytes).unwrap_or_default(),
            created_at: row.created_at,
        })
    }
}

macro_rules! forecast_columns {
    () => {
        "id, workspace_id, user_id, dataset_id, dataset_version, job_id, series, column_name, horizon, \
         levels, models, best, report, bytes, created_at"
    };
}

/// Reads and writes forecasts.
#[derive(Debug, Clone)]
pub struct ForecastRepository {
    db: Database,
}

impl ForecastRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Records a forecast whose object is already stored.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, forecast_id = %new.id), err(level = "warn"))]
    pub async fn create(
        &self,
        access: Access,
        workspace: WorkspaceId,
        new: &NewForecast,
    ) -> Result<Forecast> {
        let owner = access.owner(workspace)?;
        const SQL: &str = concat!(
            "INSERT INTO forecasts (",
            forecast_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ",
            forecast_columns!()
        );
        let row = transaction!(&self.db, access, write, |conn| {
            sqlx::query_as::<_, ForecastRow>(SQL)
                .bind(new.id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(new.dataset_id.as_uuid())
                .bind(i32::try_from(new.dataset_version).unwrap_or(i32::MAX))
                .bind(new.job_id.map(|j| j.as_uuid()))
                .bind(&new.series)
                .bind(&new.column)
                .bind(i32::try_from(new.horizon).unwrap_or(i32::MAX))
                .bind(serde_json::to_string(&new.levels).unwrap_or_else(|_| "[]".to_owned()))
                .bind(serde_json::to_string(&new.models).unwrap_or_else(|_| "[]".to_owned()))
                .bind(&new.best)
                .bind(new.report.to_string())
                .bind(to_i64(new.bytes))
                .bind(now())
                .fetch_one(&mut *conn)
                .await?
        });
        Forecast::try_from(row)
    }

    /// The forecast, if it is the workspace's.
    pub async fn get(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ForecastId,
    ) -> Result<Option<Forecast>> {
        const SQL: &str = concat!(
            "SELECT ",
            forecast_columns!(),
            " FROM forecasts WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, ForecastRow>(SQL)
                .bind(id.as_uuid())
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Forecast::try_from).transpose()
    }

    /// The workspace's forecasts, newest first, of one dataset or of all.
    pub async fn list(
        &self,
        access: Access,
        workspace: WorkspaceId,
        dataset: Option<DatasetId>,
        limit: u32,
    ) -> Result<Vec<Forecast>> {
        const SQL: &str = concat!(
            "SELECT ",
            forecast_columns!(),
            " FROM forecasts WHERE workspace_id = $1 AND ($2 IS NULL OR workspace_id = $2) \
             AND ($3 IS NULL OR dataset_id = $3) ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, ForecastRow>(SQL)
                .bind(workspace.as_uuid())
                .bind(access.workspace_scope())
                .bind(dataset.map(|d| d.as_uuid()))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(Forecast::try_from).collect()
    }

    /// Deletes the forecast's row; whether it existed. The caller deletes its object.
    pub async fn delete(
        &self,
        access: Access,
        workspace: WorkspaceId,
        id: ForecastId,
    ) -> Result<bool> {
        access.require_writer(workspace)?;
        let deleted = transaction!(&self.db, access, write, |conn| {
            sqlx::query(
                "DELETE FROM forecasts WHERE id = $1 AND workspace_id = $2 AND ($3 IS NULL OR workspace_id = $3)",
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
}

//! Export jobs: ask for an export written into the object store by a job (for a dataset
//! too large to stream, or a file to fetch later), list them, read one with its download
//! link, download it through the link, delete it. Files expire (7 days by default).

use super::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_app::datasets::{parse_dataset_id, parse_time};
use variosync_app::exports::{
    ExportChoices, ExportFile, ExportJobRequest, ExportView, parse_export_id,
};

use super::openapi::{Changing, Reading};
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create, list))
        .routes(routes!(show, remove))
        .routes(routes!(download))
}

/// An export to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewExportRequest {
    /// The dataset.
    #[schema(value_type = uuid::Uuid)]
    pub dataset_id: String,
    /// Its version (default: the current one).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub version: Option<u32>,
    /// The series (default: every series).
    #[serde(default)]
    pub series: Vec<String>,
    /// The value columns (default: every column).
    #[serde(default)]
    pub columns: Vec<String>,
    /// The start, inclusive: RFC 3339, a date, or milliseconds since 1970 (default: the
    /// first row).
    pub from: Option<String>,
    /// The end, exclusive (default: after the last row).
    pub to: Option<String>,
    /// `csv` (default), `tsv`, `json`, `jsonl`, `parquet`, `arrow`, `arrows`, `feather`,
    /// `avro`, `xlsx`, `lp`, `openmetrics` or `timescale`.
    pub format: Option<String>,
    /// `gzip` or `zstd` around the file, or `zip` for a file per series.
    pub compression: Option<String>,
    /// CSV's delimiter: one ASCII character, or `tab`.
    pub delimiter: Option<String>,
    /// The decimal mark of CSV and TSV: `point` or `comma`.
    pub decimal: Option<String>,
    /// How times are written in text formats: `rfc3339`, `s`, `ms`, `us` or a strftime
    /// pattern.
    pub time: Option<String>,
    /// The zone times are written in (default `UTC`).
    pub tz: Option<String>,
    /// JSON's layout: `records` or `series`.
    pub json_layout: Option<String>,
    /// Excel's sheets: `one` or `series`.
    pub sheets: Option<String>,
    /// The table a `timescale` script creates (default: named after the dataset).
    pub table: Option<String>,
}

/// Ask for an export written by a job.
///
/// Checks the request whole (the same rules as the streamed export), records the export as
/// `pending` and runs it as an `export` job, paid by the hour. Follow it at the `Location`:
/// once `ready`, it carries a `download_url`, signed for an hour (a presigned URL of the
/// object store when it is S3).
#[utoipa::path(
    post,
    path = "/exports",
    tag = "exports",
    operation_id = "create_export",
    security(("bearer" = []), ("session" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeated request answer the first export")),
    request_body = NewExportRequest,
    responses(
        (status = 202, description = "The export, pending", body = ExportView),
        Changing,
        (
            status = 400,
            description = "A choice makes no sense (`invalid_export`), a time is not valid \
                (`invalid_time`) or the range is empty (`invalid_range`)",
            body = ApiError
        ),
        (status = 402, description = "Not enough hours to reserve (`insufficient_hours`)", body = ApiError),
        (
            status = 409,
            description = "The Idempotency-Key was used for another kind of job \
                (`idempotency_key_reused`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "No such dataset, version, series or column (`dataset_not_found`, \
                `version_not_found`, `series_not_found`, `column_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn create(
    State(state): State<AppState>,
    Actor(principal): Actor,
    headers: HeaderMap,
    Json(body): Json<NewExportRequest>,
) -> Result<Response, ApiError> {
    let key = super::jobs::idempotency_key(&headers)?;
    let request = ExportJobRequest {
        dataset_id: parse_dataset_id(&body.dataset_id)?,
        version: body.version,
        series: body.series,
        columns: body.columns,
        from: parse_time(body.from.as_deref(), "from")?,
        to: parse_time(body.to.as_deref(), "to")?,
        choices: ExportChoices {
            format: body.format,
            compression: body.compression,
            delimiter: body.delimiter,
            decimal: body.decimal,
            time: body.time,
            zone: body.tz,
            json_layout: body.json_layout,
            sheets: body.sheets,
            table: body.table,
        },
    };
    let view = state.app.request_export(&principal, request, key).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/exports/{}", view.export.id)).ok();
    let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// How many exports to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// At most this many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List exports, newest first.
#[utoipa::path(
    get,
    path = "/exports",
    tag = "exports",
    operation_id = "list_exports",
    security(("bearer" = []), ("session" = [])),
    params(ListQuery),
    responses((status = 200, description = "The exports", body = Vec<ExportView>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ExportView>>, ApiError> {
    Ok(Json(state.app.list_exports(&principal, query.limit).await?))
}

/// An export, with its download link once ready.
#[utoipa::path(
    get,
    path = "/exports/{id}",
    tag = "exports",
    operation_id = "get_export",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The export", body = ExportView),
        Reading,
        (status = 404, description = "There is no such export (`export_not_found`)", body = ApiError),
    )
)]
async fn show(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<ExportView>, ApiError> {
    Ok(Json(state.app.export_view(&principal, parse_export_id(&id)?).await?))
}

/// A download link's time and signature.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct LinkQuery {
    /// Until when the link works, in seconds since 1970.
    expires: i64,
    /// The link's signature.
    #[param(pattern = "^[0-9a-f]{64}$")]
    signature: String,
}

/// Download an export's file through its signed link.
#[utoipa::path(
    get,
    path = "/exports/{id}/download",
    tag = "exports",
    operation_id = "download_export",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The export's id"), LinkQuery),
    responses(
        (
            status = 200,
            description = "The file, as an attachment",
            content(
                (String = "text/csv"),
                (String = "text/tab-separated-values"),
                (String = "application/json"),
                (String = "application/jsonl"),
                (Vec<u8> = "application/vnd.apache.parquet"),
                (Vec<u8> = "application/vnd.apache.arrow.file"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (String = "text/plain"),
                (Vec<u8> = "application/avro"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "application/openmetrics-text"),
                (String = "application/sql"),
                (Vec<u8> = "application/gzip"),
                (Vec<u8> = "application/zstd"),
                (Vec<u8> = "application/zip")
            ),
            headers(("Content-Disposition" = String, description = "An attachment named after the dataset"))
        ),
        Reading,
        (status = 403, description = "The link's signature does not match (`invalid_signature`)", body = ApiError),
        (status = 404, description = "There is no such export (`export_not_found`)", body = ApiError),
        (status = 409, description = "The export is not written yet, or failed (`export_not_ready`)", body = ApiError),
        (status = 410, description = "The link or the export has expired (`export_expired`)", body = ApiError),
    )
)]
async fn download(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(link): Query<LinkQuery>,
) -> Result<Response, ApiError> {
    let id = parse_export_id(&id)?;
    let file = state.app.export_download(&principal, id, link.expires, &link.signature).await?;
    let ExportFile::Stream { file_name, media_type, bytes, stream } = file;
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
    // The name was made of letters, digits, `-`, `_` and `.` only.
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Delete an export's file before its time.
#[utoipa::path(
    delete,
    path = "/exports/{id}",
    tag = "exports",
    operation_id = "delete_export",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The export's id")),
    responses(
        (status = 204, description = "Deleted"),
        Changing,
        (status = 404, description = "There is no such export (`export_not_found`)", body = ApiError),
    )
)]
async fn remove(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_export(&principal, parse_export_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! Datasets: upload a file (raw body or multipart, streamed to disk, never whole in memory),
//! list, get, rename and tag, delete; versions, profile, the rejects file, chart windows
//! (MinMaxLTTB points or OHLC candles), resampling and pages of rows. Each handler extracts,
//! calls the use case and maps its answer.

use super::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_app::datasets::{self as uses, Candle, Resampled, Window, WindowAnswer};
use variosync_app::exports;
use variosync_app::imports::{
    FileImport, ImportOptions, ImportOutcome, ImportSummary, ReceivedFile,
};
use variosync_domain::profile::Profile;
use variosync_domain::{DatasetId, ErrorKind};
use variosync_store::{Dataset, Version};

use super::openapi::{Changing, Reading};
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

/// The unit of times in series data: microseconds since 1970 (UTC).
pub(crate) const MICROSECONDS: &str = "us";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        // The upload handler counts the bytes of the file itself, so that it can stream to disk.
        .routes(routes!(list, upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(events))
        .routes(routes!(show, update, remove))
        .routes(routes!(versions))
        .routes(routes!(profile))
        .routes(routes!(rejects))
        .routes(routes!(export))
        .routes(routes!(rows))
        .routes(routes!(window_query))
        .routes(routes!(resample_query))
}

/// A dataset id from a path segment.
fn dataset_id(text: &str) -> Result<DatasetId, ApiError> {
    Ok(uses::parse_dataset_id(text)?)
}

/// How to read an uploaded file.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct UploadQuery {
    /// The dataset's name (default: the file's name).
    name: Option<String>,
    /// `strict` (default: stop at the first bad row) or `lenient` (set bad rows aside).
    mode: Option<String>,
    /// The zone of timestamps without an offset: `UTC` (default), `+02:00`, `Europe/Berlin`.
    tz: Option<String>,
    /// `keep_last` (default), `keep_first` or `fail`.
    duplicates: Option<String>,
    /// The series of files without a series column (default: the file's name).
    series: Option<String>,
    /// Choices over the detected mapping, as a JSON object: which column is the time, the
    /// series, each value column, and how times are written.
    mapping: Option<String>,
}

impl UploadQuery {
    /// The import options the query names, checked.
    pub(super) fn options(self) -> Result<ImportOptions, ApiError> {
        let given = super::given;
        let options = ImportOptions {
            name: given(self.name),
            series: given(self.series),
            mode: given(self.mode),
            tz: given(self.tz),
            duplicates: given(self.duplicates),
            mapping: given(self.mapping),
        };
        options.check()?;
        Ok(options)
    }
}

/// The answer to an import: 201 with the dataset, or 202 with the job that will make it.
pub(super) fn import_answer(outcome: ImportOutcome) -> Response {
    match outcome {
        ImportOutcome::Imported(summary) => (StatusCode::CREATED, Json(*summary)).into_response(),
        ImportOutcome::Queued(job) => super::jobs::accepted(*job),
    }
}

/// The file of an upload form.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes a request body; the handler reads the form itself")]
struct UploadForm {
    /// The file; its name names the dataset unless `name` is given.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Receives the file of an upload request (the raw body, or the `file` field of a form) on
/// disk, with its name when the form gives one.
async fn receive_file(
    state: &AppState,
    request: Request,
) -> Result<(ReceivedFile, Option<String>), ApiError> {
    let app = &state.app;
    let limit = state.http.upload_limit_bytes;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        let body = request.into_body().into_data_stream();
        return Ok((app.receive("upload", body, limit).await?, None));
    }
    let invalid = |text: String| ApiError::new(ErrorKind::InvalidInput, "invalid_multipart", text);
    let mut multipart =
        Multipart::from_request(request, state).await.map_err(|e| invalid(e.body_text()))?;
    while let Some(field) = multipart.next_field().await.map_err(|e| invalid(e.body_text()))? {
        if field.name() == Some("file") || field.file_name().is_some() {
            let file_name = field.file_name().map(str::to_owned);
            let field = field.map(|chunk| chunk.map_err(|e| e.body_text()));
            return Ok((app.receive("upload", Box::pin(field), limit).await?, file_name));
        }
    }
    Err(ApiError::new(
        ErrorKind::InvalidInput,
        "no_file",
        "the form has no file field (name it \"file\")",
    ))
}

/// The size a request announces for its body, when it does.
fn announced_size(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// Upload a file
///
/// Makes a dataset of a file: CSV and other delimited text, JSON or JSON Lines, InfluxDB
/// line protocol, Parquet, Arrow IPC, Avro or a workbook (xlsx, xls, ods...), plain or
/// compressed (gzip, bzip2, zstd, zip). Send the file as the raw body (any content type),
/// or as the `file` field of a `multipart/form-data` form. The file streams to disk; files
/// larger than the upload limit are refused. A file up to
/// `VARIOSYNC_JOBS_INLINE_IMPORT_BYTES` is imported on the request (201); a larger one is
/// imported by an `import` job on a worker (202). Either way the import is charged its
/// measured CPU time, and a balance that cannot cover its reservation is refused (402)
/// before anything is stored. For very large files or unreliable lines, see resumable
/// uploads.
#[utoipa::path(
    post,
    path = "/datasets",
    tag = "datasets",
    operation_id = "upload_dataset",
    security(("bearer" = []), ("session" = [])),
    params(
        UploadQuery,
        (
            "Idempotency-Key" = Option<String>, Header,
            description = "Sent again with the same value, answers the job the first request \
                submitted (files imported by a job)"
        ),
    ),
    request_body(
        description = "The file: the whole body, or the `file` field of a form",
        content(
            (UploadForm = "multipart/form-data"),
            ("application/octet-stream"),
            ("*/*"),
        ),
    ),
    responses(
        (
            status = 201,
            description = "A file up to `VARIOSYNC_JOBS_INLINE_IMPORT_BYTES`: the new dataset, \
                its first version and what was set aside",
            body = ImportSummary
        ),
        (
            status = 202,
            description = "A larger file: the `import` job that makes the dataset on a worker, \
                with its hours reserved (its result is the same summary as the 201 answer); \
                follow it at the `Location`",
            body = variosync_store::Job,
            headers(("Location" = String, description = "The job"))
        ),
        (
            status = 402,
            description = "The hour balance cannot cover the import's reservation \
                (`insufficient_hours`)",
            body = ApiError
        ),
        Changing,
        (
            status = 400,
            description = "A choice is not valid (`invalid_mode`, `invalid_duplicates`, \
                `invalid_tz`, `invalid_mapping`); the body is empty (`empty_upload`) or broke off \
                (`upload_interrupted`); the form has no file (`no_file`, `invalid_multipart`); \
                the file cannot be read (`unsupported_format`, `unreadable_file`) or has no \
                readable row (`no_rows`); the name is not valid (`invalid_input`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "Rows repeat a series and time and `duplicates=fail` (`duplicate_rows`)",
            body = ApiError
        ),
        (
            status = 413,
            description = "The file is larger than the upload limit (`too_large`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn upload(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<Response, ApiError> {
    let options = query.options()?;
    let idempotency_key = super::jobs::idempotency_key(request.headers())?;
    if let Some(size) = announced_size(request.headers()) {
        // Refused before a byte is received when the balance cannot cover it.
        state.app.check_import_balance(&principal, size).await?;
    }
    let (file, file_name) = receive_file(&state, request).await?;
    let import = FileImport { file, file_name, options, idempotency_key };
    Ok(import_answer(state.app.import_file(&principal, import).await?))
}

/// Which datasets.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only datasets whose name contains this text (any case).
    search: Option<String>,
    /// How many, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// List datasets
///
/// The signed-in user's datasets, most recently changed first.
#[utoipa::path(
    get,
    path = "/datasets",
    tag = "datasets",
    operation_id = "list_datasets",
    security(("bearer" = []), ("session" = [])),
    params(ListQuery),
    responses((status = 200, description = "The datasets", body = Vec<Dataset>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Dataset>>, ApiError> {
    let query = uses::ListDatasets { search: query.search, limit: query.limit };
    Ok(Json(state.app.list_datasets(&principal, &query).await?))
}

/// A dataset and its current version.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DatasetDetail)]
struct DatasetView {
    dataset: Dataset,
    version: Version,
}

/// Get a dataset
///
/// The dataset and its current version.
#[utoipa::path(
    get,
    path = "/datasets/{id}",
    tag = "datasets",
    operation_id = "get_dataset",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id")),
    responses(
        (status = 200, description = "The dataset", body = DatasetView),
        Reading,
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`)",
            body = ApiError
        ),
    )
)]
async fn show(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<DatasetView>, ApiError> {
    let (dataset, version) = state.app.dataset_version(&principal, dataset_id(&id)?, None).await?;
    Ok(Json(DatasetView { dataset, version }))
}

/// What to change of a dataset; what is left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DatasetChange)]
struct Change {
    /// The new name, 1 to 200 characters.
    name: Option<String>,
    /// The new tags (all of them), 1 to 50 characters each, at most 32.
    #[schema(max_items = 32)]
    tags: Option<Vec<String>>,
}

/// Rename or retag a dataset
#[utoipa::path(
    patch,
    path = "/datasets/{id}",
    tag = "datasets",
    operation_id = "update_dataset",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id")),
    request_body = Change,
    responses(
        (status = 200, description = "The changed dataset", body = Dataset),
        Changing,
        (
            status = 400,
            description = "The name or the tags are not valid (`invalid_input`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn update(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Json(change): Json<Change>,
) -> Result<Json<Dataset>, ApiError> {
    let change = uses::DatasetChange { name: change.name, tags: change.tags };
    Ok(Json(state.app.update_dataset(&principal, dataset_id(&id)?, change).await?))
}

/// Follow the library live
///
/// A stream of server-sent events: one `dataset` event each time one of the caller's
/// datasets is imported, renamed or retagged, or deleted (from any replica or worker), with
/// `{"action", "dataset_id"}` as JSON; `action` is `dataset_imported`, `dataset_updated` or
/// `dataset_deleted`.
#[utoipa::path(
    get,
    path = "/datasets/events",
    tag = "datasets",
    operation_id = "dataset_events",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Server-sent events, `dataset` with the change as JSON", content_type = "text/event-stream", body = String),
        Reading,
    )
)]
async fn events(
    State(state): State<AppState>,
    current: crate::session::CurrentUser,
    crate::client::Client(client): crate::client::Client,
) -> Result<super::Events, ApiError> {
    let subscription = state.app.dataset_events(&current.principal(&client)).await?;
    Ok(super::event_stream(state, current, subscription, "dataset"))
}

/// Delete a dataset
///
/// Deletes the dataset with all its versions and files.
#[utoipa::path(
    delete,
    path = "/datasets/{id}",
    tag = "datasets",
    operation_id = "delete_dataset",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id")),
    responses(
        (status = 204, description = "Deleted"),
        Changing,
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn remove(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_dataset(&principal, dataset_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a dataset's versions
#[utoipa::path(
    get,
    path = "/datasets/{id}/versions",
    tag = "datasets",
    operation_id = "list_dataset_versions",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id")),
    responses(
        (status = 200, description = "The versions, oldest first", body = Vec<Version>),
        Reading,
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`)",
            body = ApiError
        ),
    )
)]
async fn versions(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<Vec<Version>>, ApiError> {
    Ok(Json(state.app.versions(&principal, dataset_id(&id)?).await?))
}

/// Which version.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// The version's number (default: the current version).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<u32>,
}

/// Get a version's profile
///
/// Rows, time range, duplicates and rejects, and statistics of each series and column.
#[utoipa::path(
    get,
    path = "/datasets/{id}/profile",
    tag = "datasets",
    operation_id = "get_dataset_profile",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id"), VersionQuery),
    responses(
        (status = 200, description = "The profile", body = Profile),
        Reading,
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`) or version \
                (`version_not_found`)",
            body = ApiError
        ),
    )
)]
async fn profile(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<Profile>, ApiError> {
    Ok(Json(state.app.profile(&principal, dataset_id(&id)?, query.version).await?))
}

/// Download a version's rejects
///
/// Every row of the version that was set aside as unreadable, as CSV.
#[utoipa::path(
    get,
    path = "/datasets/{id}/rejects",
    tag = "datasets",
    operation_id = "download_dataset_rejects",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id"), VersionQuery),
    responses(
        (
            status = 200,
            description = "The rejects",
            body = String,
            content_type = "text/csv",
            headers((
                "Content-Disposition" = String,
                description = "An attachment named after the dataset and version"
            ))
        ),
        Reading,
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`) or version \
                (`version_not_found`), or no row of the version was set aside (`no_rejects`)",
            body = ApiError
        ),
    )
)]
async fn rejects(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let (dataset, version, stream) =
        state.app.rejects(&principal, dataset_id(&id)?, query.version).await?;
    let name = format!("rejects-{}-v{}.csv", dataset.id, version.version);
    Ok(super::csv_attachment(Body::from_stream(stream), &name))
}

/// What to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// Comma-separated series (default: every series).
    series: Option<String>,
    /// Comma-separated value columns (default: every column).
    columns: Option<String>,
    /// The start, inclusive: RFC 3339 or milliseconds since 1970 (default: the first row).
    from: Option<String>,
    /// The end, exclusive: RFC 3339 or milliseconds since 1970 (default: after the last row).
    to: Option<String>,
    /// The version's number (default: the current version).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<u32>,
}

/// How to write an export (of a dataset or of a forecast's points).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportHow {
    /// `csv` (default), `tsv`, `json`, `jsonl`, `parquet`, `arrow` (Arrow IPC file),
    /// `arrows` (Arrow IPC stream), `feather`, `avro`, `xlsx` (Excel), `lp` (InfluxDB line
    /// protocol, QuestDB ILP), `openmetrics` (Prometheus) or `timescale` (a psql script:
    /// `CREATE TABLE`, a hypertable where TimescaleDB is installed, and `COPY` of the rows).
    format: Option<String>,
    /// `gzip` or `zstd` around the file, or `zip` for a zip with a file per series (per
    /// model, for a forecast) (default: none).
    compression: Option<String>,
    /// CSV's delimiter: one ASCII character, or `tab` (default `,`; `;` with a decimal comma).
    delimiter: Option<String>,
    /// The decimal mark of CSV and TSV: `point` (default) or `comma`.
    decimal: Option<String>,
    /// How times are written in text formats: `rfc3339` (default), `s`, `ms`, `us`, or a
    /// strftime pattern such as `%Y-%m-%d %H:%M:%S`.
    time: Option<String>,
    /// The zone times are written in: `UTC` (default) or a zone such as `Europe/Berlin`.
    tz: Option<String>,
    /// JSON's layout: `records` (default, an array of records) or `series` (an object of
    /// records per series, or per model).
    json_layout: Option<String>,
    /// Excel's sheets: `one` (default; continued past 1,048,575 rows) or `series` (a sheet
    /// per series, or per model).
    sheets: Option<String>,
    /// The table a `timescale` script creates (default: named after the dataset, or
    /// `forecast_<id>`).
    table: Option<String>,
}

impl ExportHow {
    /// The use case's choices.
    pub(super) fn choices(self) -> exports::ExportChoices {
        exports::ExportChoices {
            format: self.format,
            compression: self.compression,
            delimiter: self.delimiter,
            decimal: self.decimal,
            time: self.time,
            zone: self.tz,
            json_layout: self.json_layout,
            sheets: self.sheets,
            table: self.table,
        }
    }
}

/// Export a dataset
///
/// A version of the dataset (chosen series, columns and time range) in the format the next
/// tool wants, streamed as it is written. Floats are written exactly (the shortest text
/// that reads back to the same bits); JSON and line protocol cannot hold NaN or infinities,
/// and line protocol needs a value in every row: such a row ends the download early (the
/// transfer is cut, never completed with rows missing).
#[utoipa::path(
    get,
    path = "/datasets/{id}/export",
    tag = "datasets",
    operation_id = "export_dataset",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id"), ExportQuery, ExportHow),
    responses(
        (
            status = 200,
            description = "The file, as an attachment named after the dataset",
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
            headers((
                "Content-Disposition" = String,
                description = "An attachment named after the dataset"
            ))
        ),
        Reading,
        (
            status = 400,
            description = "A choice makes no sense (`invalid_export`), a time is not valid \
                (`invalid_time`) or the range is empty (`invalid_range`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`), version \
                (`version_not_found`), series (`series_not_found`) or column (`column_not_found`)",
            body = ApiError
        ),
    )
)]
async fn export(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(query): Query<ExportQuery>,
    Query(how): Query<ExportHow>,
) -> Result<Response, ApiError> {
    use axum::http::HeaderValue;
    let choices = how.choices();
    let request = exports::ExportRequest {
        version: query.version,
        series: list_of(query.series.as_deref()),
        columns: list_of(query.columns.as_deref()),
        from: uses::parse_time(query.from.as_deref(), "from")?,
        to: uses::parse_time(query.to.as_deref(), "to")?,
        options: choices.options(None)?,
    };
    let download = state.app.export(&principal, dataset_id(&id)?, request).await?;
    let mut response = Body::from_stream(download.stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(download.media_type));
    // The name is made of letters, digits, `-`, `_` and `.` only.
    if let Ok(value) =
        HeaderValue::from_str(&format!("attachment; filename=\"{}\"", download.file_name))
    {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// Which part of a series to chart.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct WindowQuery {
    /// The start, inclusive: RFC 3339 or milliseconds since 1970 (default: the first row).
    from: Option<String>,
    /// The end, exclusive: RFC 3339 or milliseconds since 1970 (default: after the last row).
    to: Option<String>,
    /// At most this many points per column, or candles: 3 to 20000 (default 2000).
    #[param(minimum = 3, maximum = 20000)]
    points: Option<usize>,
    /// Comma-separated column names (default: every numeric column).
    columns: Option<String>,
    /// `true` for OHLC candles instead of points.
    candles: Option<bool>,
    /// The version's number (default: the current version).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<u32>,
}

/// A comma-separated list, trimmed, without empty items.
fn list_of(text: Option<&str>) -> Vec<String> {
    let items = text.unwrap_or("").split(',').map(str::trim).filter(|c| !c.is_empty());
    items.map(str::to_owned).collect()
}

/// A chart window: points of each column, or OHLC candles.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = ChartWindow)]
enum WindowView {
    Points(PointsView),
    Candles(CandlesView),
}

/// Points of each column, at most `points` of them, chosen to keep the shape of the line
/// (MinMaxLTTB).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WindowPoints)]
struct PointsView {
    /// The series.
    series: String,
    /// Rows of the series in the range.
    rows: u64,
    /// Whether points were dropped to fit the limit.
    downsampled: bool,
    columns: Vec<PointsColumn>,
    /// The unit of times: always `us`, microseconds since 1970 (UTC).
    #[schema(example = "us")]
    unit: &'static str,
}

/// The points of one column.
#[derive(Debug, Serialize, ToSchema)]
struct PointsColumn {
    /// The column's name.
    name: String,
    /// Times of the points, microseconds since 1970 (UTC).
    ts: Vec<i64>,
    /// Their values, in the same order.
    values: Vec<f64>,
}

impl From<Window> for PointsView {
    fn from(window: Window) -> Self {
        let columns = window
            .columns
            .into_iter()
            .map(|c| PointsColumn { name: c.name, ts: c.ts, values: c.values })
            .collect();
        Self {
            series: window.series,
            rows: window.rows,
            downsampled: window.downsampled,
            columns,
            unit: MICROSECONDS,
        }
    }
}

/// OHLC candles of equal time buckets, at most `points` of them (every row its own candle
/// when there are few enough).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = WindowCandles)]
struct CandlesView {
    /// The series.
    series: String,
    /// Rows of the series in the range.
    rows: u64,
    /// The unit of times: always `us`, microseconds since 1970 (UTC).
    #[schema(example = "us")]
    unit: &'static str,
    candles: Vec<CandleView>,
}

/// One OHLC candle.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Candle)]
struct CandleView {
    /// The bucket's start, microseconds since 1970 (UTC).
    ts: i64,
    /// The first open in the bucket.
    open: f64,
    /// The highest high.
    high: f64,
    /// The lowest low.
    low: f64,
    /// The last close.
    close: f64,
    /// The summed volume, if the dataset has volumes.
    volume: Option<f64>,
}

impl From<Candle> for CandleView {
    fn from(c: Candle) -> Self {
        Self { ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }
    }
}

impl From<WindowAnswer> for WindowView {
    fn from(answer: WindowAnswer) -> Self {
        match answer {
            WindowAnswer::Points(window) => Self::Points(window.into()),
            WindowAnswer::Candles { series, rows, candles } => Self::Candles(CandlesView {
                series,
                rows,
                unit: MICROSECONDS,
                candles: candles.into_iter().map(CandleView::from).collect(),
            }),
        }
    }
}

/// Chart a series
///
/// A window of one series for a chart: at most `points` points per column, downsampled to
/// keep the line's shape, or with `candles=true` OHLC candles (the dataset needs open,
/// high, low and close columns). Wide ranges of large datasets are answered from
/// precomputed overviews.
#[utoipa::path(
    get,
    path = "/datasets/{id}/series/{series}/window",
    tag = "datasets",
    operation_id = "get_series_window",
    security(("bearer" = []), ("session" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The dataset's id"),
        ("series" = String, Path, description = "The series' name"),
        WindowQuery,
    ),
    responses(
        (
            status = 200,
            description = "Points or candles: JSON, or with `Accept: \
                application/vnd.apache.arrow.stream` an Arrow IPC stream of one batch (points \
                as rows of `column`, `ts`, `value`; candles as rows of `ts`, `open`, `high`, \
                `low`, `close`, `volume`; the series, its rows in range and whether points were \
                dropped in the schema's metadata), a fraction of the JSON's size",
            content(
                (WindowView = "application/json"),
                (Vec<u8> = "application/vnd.apache.arrow.stream")
            )
        ),
        Reading,
        (
            status = 400,
            description = "A time is not valid (`invalid_time`); `points` is out of range \
                (`invalid_points`); a column holds text, or candles lack an OHLC column \
                (`invalid_query`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`), version \
                (`version_not_found`), series (`series_not_found`) or column (`column_not_found`)",
            body = ApiError
        ),
    )
)]
async fn window_query(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path((id, series)): Path<(String, String)>,
    Query(query): Query<WindowQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = uses::WindowRequest {
        series,
        version: query.version,
        from: uses::parse_time(query.from.as_deref(), "from")?,
        to: uses::parse_time(query.to.as_deref(), "to")?,
        points: query.points,
        columns: list_of(query.columns.as_deref()),
        candles: query.candles.unwrap_or(false),
    };
    let answer = state.app.window(&principal, dataset_id(&id)?, request).await?;
    let arrow = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains(uses::ARROW_STREAM));
    if arrow {
        let bytes = answer.to_arrow_ipc()?;
        return Ok(([(header::CONTENT_TYPE, uses::ARROW_STREAM)], bytes).into_response());
    }
    Ok(Json(WindowView::from(answer)).into_response())
}

/// How to resample a series.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ResampleQuery {
    /// The bucket width: a count (1 to 1000) and a unit, `min`, `h`, `d`, `w` (weeks from
    /// Monday), `mo`, `q` or `y` (calendar months, quarters, years); e.g. `5min`, `1d`, `1mo`.
    interval: String,
    /// The start, inclusive: RFC 3339 or milliseconds since 1970 (default: the first row).
    from: Option<String>,
    /// The end, exclusive: RFC 3339 or milliseconds since 1970 (default: after the last row).
    to: Option<String>,
    /// Comma-separated `column` or `column:aggregation`, the aggregation one of `first`,
    /// `last`, `min`, `max`, `sum`, `mean` or `count` (default: every numeric column by its
    /// meaning: open first, high max, low min, close last, volume sum, others mean).
    columns: Option<String>,
    /// The version's number (default: the current version).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<u32>,
}

/// A series resampled to equal time buckets.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Resampled)]
struct ResampledView {
    /// The series.
    series: String,
    /// Rows read.
    rows: u64,
    /// The start of each bucket, microseconds since 1970 (UTC).
    ts: Vec<i64>,
    columns: Vec<ResampledColumn>,
    /// The unit of times: always `us`, microseconds since 1970 (UTC).
    #[schema(example = "us")]
    unit: &'static str,
}

/// One resampled column.
#[derive(Debug, Serialize, ToSchema)]
struct ResampledColumn {
    /// Its name.
    name: String,
    aggregation: Aggregation,
    /// One value per bucket, `null` where the bucket had no value of this column.
    values: Vec<Option<f64>>,
}

/// How a column's values in a bucket became one.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Aggregation {
    First,
    Last,
    Min,
    Max,
    Sum,
    Mean,
    Count,
}

impl From<uses::Aggregation> for Aggregation {
    fn from(aggregation: uses::Aggregation) -> Self {
        use uses::Aggregation as Used;
        match aggregation {
            Used::First => Self::First,
            Used::Last => Self::Last,
            Used::Min => Self::Min,
            Used::Max => Self::Max,
            Used::Sum => Self::Sum,
            Used::Mean => Self::Mean,
            Used::Count => Self::Count,
        }
    }
}

impl From<Resampled> for ResampledView {
    fn from(resampled: Resampled) -> Self {
        let columns = resampled
            .columns
            .into_iter()
            .map(|c| ResampledColumn {
                name: c.name,
                aggregation: c.aggregation.into(),
                values: c.values,
            })
            .collect();
        Self {
            series: resampled.series,
            rows: resampled.rows,
            ts: resampled.ts,
            columns,
            unit: MICROSECONDS,
        }
    }
}

/// Resample a series
///
/// One series in time buckets of one width (weeks start on Monday; months, quarters and
/// years follow the calendar), each column aggregated its own way.
#[utoipa::path(
    get,
    path = "/datasets/{id}/series/{series}/resample",
    tag = "datasets",
    operation_id = "resample_series",
    security(("bearer" = []), ("session" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The dataset's id"),
        ("series" = String, Path, description = "The series' name"),
        ResampleQuery,
    ),
    responses(
        (status = 200, description = "The resampled series", body = ResampledView),
        Reading,
        (
            status = 400,
            description = "A time is not valid (`invalid_time`); the interval or an aggregation \
                is unknown, or a column holds text (`invalid_query`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`), version \
                (`version_not_found`), series (`series_not_found`) or column (`column_not_found`)",
            body = ApiError
        ),
    )
)]
async fn resample_query(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path((id, series)): Path<(String, String)>,
    Query(query): Query<ResampleQuery>,
) -> Result<Json<ResampledView>, ApiError> {
    let request = uses::ResampleRequest {
        series,
        version: query.version,
        from: uses::parse_time(query.from.as_deref(), "from")?,
        to: uses::parse_time(query.to.as_deref(), "to")?,
        interval: query.interval,
        columns: list_of(query.columns.as_deref()),
    };
    Ok(Json(state.app.resample(&principal, dataset_id(&id)?, request).await?.into()))
}

/// Which rows.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RowsQuery {
    /// Only rows of this series (default: every series).
    series: Option<String>,
    /// The start, inclusive: RFC 3339 or milliseconds since 1970 (default: the first row).
    from: Option<String>,
    /// The end, exclusive: RFC 3339 or milliseconds since 1970 (default: after the last row).
    to: Option<String>,
    /// Rows to skip (default 0).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    offset: Option<u64>,
    /// Rows to return, 1 to 10000 (default 100).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<usize>,
    /// The version's number (default: the current version).
    #[param(minimum = 1, maximum = 2147483647)]
    version: Option<u32>,
}

/// A page of rows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Rows)]
struct RowsView {
    /// The column names, in the order of each row's values.
    columns: Vec<String>,
    /// The rows: strings, numbers, booleans and `null`s; times in microseconds since 1970.
    rows: Vec<Vec<serde_json::Value>>,
    /// Rows in the range (of the series asked for).
    total: u64,
    /// Rows skipped.
    offset: u64,
    /// The most rows of the page.
    limit: usize,
    /// The unit of times: always `us`, microseconds since 1970 (UTC).
    #[schema(example = "us")]
    unit: &'static str,
}

/// Read rows
///
/// A page of a version's rows, in series and time order.
#[utoipa::path(
    get,
    path = "/datasets/{id}/rows",
    tag = "datasets",
    operation_id = "list_dataset_rows",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The dataset's id"), RowsQuery),
    responses(
        (status = 200, description = "A page of rows", body = RowsView),
        Reading,
        (
            status = 400,
            description = "A time is not valid (`invalid_time`) or `limit` is out of range \
                (`invalid_limit`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such dataset (`dataset_not_found`) or version \
                (`version_not_found`)",
            body = ApiError
        ),
    )
)]
async fn rows(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(query): Query<RowsQuery>,
) -> Result<Json<RowsView>, ApiError> {
    let request = uses::RowsRequest {
        series: query.series,
        version: query.version,
        from: uses::parse_time(query.from.as_deref(), "from")?,
        to: uses::parse_time(query.to.as_deref(), "to")?,
        offset: match query.offset.unwrap_or(0) {
            offset if i64::try_from(offset).is_ok() => offset,
            _ => {
                let message = format!("offset must be 0 to {}", i64::MAX);
                return Err(variosync_app::Error::invalid("invalid_query", message).into());
            }
        },
        limit: query.limit,
    };
    let page = state.app.rows(&principal, dataset_id(&id)?, request).await?;
    let (columns, rows, total, offset, limit) =
        (page.columns, page.rows, page.total, page.offset, page.limit);
    Ok(Json(RowsView { columns, rows, total, offset, limit, unit: MICROSECONDS }))
}

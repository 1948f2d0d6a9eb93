//! Datasets: upload a file (raw body or multipart, streamed to disk, never whole in memory),
//! list, get, rename and tag, delete; versions, profile, the rejects file, chart windows
//! (MinMaxLTTB points or OHLC candles) and pages of rows. Changes go to the audit log.

use std::path::PathBuf;

use axum::Json;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_domain::{AuditAction, DatasetId, ErrorKind, UserId};
use variosync_engine::convert::ConvertError;
use variosync_engine::window::{self, Part, QueryError};
use variosync_formats::delimited::ReadError;
use variosync_formats::mapping::MappingError;
use variosync_formats::table::Reject;
use variosync_jobs::import::ImportError;
use variosync_jobs::uploads::ReadChoices;
use variosync_store::{Access, Dataset, NewAuditEntry, ObjectKey, Version};

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The most points a window may ask for.
const MAX_POINTS: usize = 20_000;
/// The most rows a page may hold.
const MAX_PAGE_ROWS: usize = 10_000;
/// The unit of times in series data: microseconds since 1970 (UTC).
const MICROSECONDS: &str = "us";

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        // The upload handler counts the bytes of the file itself, so that it can stream to disk.
        .routes(routes!(list, upload).layer(DefaultBodyLimit::disable()))
        .routes(routes!(events))
        .routes(routes!(show, update, remove))
        .routes(routes!(versions))
        .routes(routes!(profile))
        .routes(routes!(rejects))
        .routes(routes!(rows))
        .routes(routes!(window_query))
        .routes(routes!(resample_query))
}

fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "dataset_not_found", "there is no such dataset")
}

pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::InvalidInput, code, message)
}

pub(crate) fn internal(what: &str, error: &dyn std::error::Error) -> ApiError {
    tracing::error!(error = %variosync_domain::error_chain(error), "{what}");
    ApiError::new(
        ErrorKind::Internal,
        "internal",
        "something went wrong on our side; it has been logged",
    )
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Read(ReadError::Unsupported(message))
            | ImportError::Convert(ConvertError::Read(ReadError::Unsupported(message))) => {
                invalid("unsupported_format", message)
            }
            ImportError::Read(ReadError::Mapping(
                error @ (MappingError::UnknownColumn { .. } | MappingError::Invalid(_)),
            )) => invalid("invalid_mapping", error.to_string()),
            ImportError::Read(error) | ImportError::Convert(ConvertError::Read(error)) => {
                invalid("unreadable_file", error.to_string())
            }
            ImportError::Convert(ConvertError::Duplicates(error)) => {
                ApiError::new(ErrorKind::Conflict, "duplicate_rows", error.to_string())
            }
            ImportError::Convert(ConvertError::Empty) | ImportError::NothingRead(_) => {
                invalid("no_rows", error.to_string())
            }
            ImportError::Store(error) => error.into(),
            other => internal("import failed", &other),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Read(_) => internal("query failed", &error),
            QueryError::NoColumn(_) => {
                ApiError::new(ErrorKind::NotFound, "column_not_found", error.to_string())
            }
            other => invalid("invalid_query", other.to_string()),
        }
    }
}

pub(super) async fn audit(
    state: &AppState,
    user: UserId,
    client: &variosync_auth::ClientInfo,
    action: AuditAction,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry {
        user_id: Some(user),
        actor_id: None,
        action,
        detail,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    state.backends.audit().record(Access::User(user), entry).await?;
    Ok(())
}

/// Records a change to a dataset in the audit log and tells the owner's open pages.
pub(crate) async fn dataset_changed(
    state: &AppState,
    user: UserId,
    client: &variosync_auth::ClientInfo,
    action: AuditAction,
    dataset: DatasetId,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit(state, user, client, action, detail).await?;
    variosync_jobs::queue::announce_dataset(&state.backends, user, action, dataset).await;
    Ok(())
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

/// A row set aside as unreadable.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Reject)]
struct RejectView {
    /// Its line in the file, from 1.
    line: usize,
    /// The column that could not be read.
    column: String,
    /// What it held.
    value: String,
    /// What was expected there.
    expected: String,
}

impl From<Reject> for RejectView {
    fn from(r: Reject) -> Self {
        Self { line: r.line, column: r.column, value: r.value, expected: r.expected }
    }
}

/// The rows set aside as unreadable (lenient mode).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Rejects)]
struct RejectsView {
    /// Rows set aside.
    count: u64,
    /// The first of them.
    first: Vec<RejectView>,
    /// Where to download all of them as CSV.
    download: Option<String>,
}

/// A file made into a dataset.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Import)]
pub(super) struct ImportView {
    dataset: Dataset,
    version: Version,
    /// Things to check about how the file was read.
    warnings: Vec<String>,
    rejects: RejectsView,
}

/// A file being received on disk, removed when dropped.
pub(super) struct Received(pub(super) PathBuf);

impl Received {
    /// A new file in the work folder, named `prefix` and a fresh id.
    pub(super) async fn new(state: &AppState, prefix: &str) -> Result<Self, ApiError> {
        tokio::fs::create_dir_all(&state.scratch)
            .await
            .map_err(|e| internal("cannot create the work folder", &e))?;
        Ok(Self(state.scratch.join(format!("{prefix}-{}", uuid::Uuid::now_v7()))))
    }
}

impl Drop for Received {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Writes a body stream to `path`, refusing more than `limit` bytes.
pub(super) async fn receive<S, E>(
    mut chunks: S,
    path: &std::path::Path,
    limit: u64,
) -> Result<u64, ApiError>
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal("cannot create an upload file", &e))?;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk
            .map_err(|e| invalid("upload_interrupted", format!("the upload broke off: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(crate::middleware::too_large(limit));
        }
        file.write_all(&chunk).await.map_err(|e| internal("cannot write an upload file", &e))?;
    }
    file.flush().await.map_err(|e| internal("cannot write an upload file", &e))?;
    Ok(written)
}

/// The stem of a file name, without folders or extensions.
fn stem(file_name: &str) -> Option<String> {
    let base = file_name.rsplit(['/', '\\']).next()?;
    let stem = base.split('.').next().unwrap_or(base).trim();
    (!stem.is_empty()).then(|| stem.to_owned())
}

/// How the person asked for an uploaded file to be read, checked before any byte of the
/// file is received; the dataset's name and default series wait for the file's name.
pub(super) struct Choices(ReadChoices);

impl Choices {
    /// Checks the query.
    pub(super) fn parse(query: &UploadQuery) -> Result<Self, ApiError> {
        let mapping = match query.mapping.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                invalid("invalid_mapping", format!("the mapping is not valid: {e}"))
            })?,
            None => Default::default(),
        };
        let choices = ReadChoices {
            name: String::new(),
            default_series: String::new(),
            mode: query.mode.clone().unwrap_or_else(|| "strict".to_owned()),
            tz: query.tz.clone().unwrap_or_else(|| "UTC".to_owned()),
            duplicates: query.duplicates.clone().unwrap_or_else(|| "keep_last".to_owned()),
            mapping,
        };
        choices.options().map_err(|(code, message)| invalid(code, message))?;
        Ok(Self(choices))
    }

    /// The choices for the file called `file_name`: the dataset is named after it unless
    /// the query names it, and so is the series of a file without a series column.
    pub(super) fn named(self, query: &UploadQuery, file_name: Option<&str>) -> ReadChoices {
        let from_file = file_name.and_then(stem);
        let name =
            query.name.clone().or_else(|| from_file.clone()).unwrap_or_else(|| "upload".to_owned());
        let default_series = query.series.clone().or(from_file).unwrap_or_else(|| name.clone());
        ReadChoices { name, default_series, ..self.0 }
    }
}

/// Upload a file
///
/// Makes a dataset of a file: CSV and other delimited text, JSON or JSON Lines, InfluxDB
/// line protocol, Parquet, Arrow IPC, Avro or a workbook (xlsx, xls, ods...), plain or
/// compressed (gzip, bzip2, zstd, zip). Send the file as the raw body (any content type),
/// or as the `file` field of a `multipart/form-data` form. The file streams to disk; files
/// larger than the upload limit are refused. For very large files or unreliable lines, see
/// resumable uploads.
#[utoipa::path(
    post,
    path = "/datasets",
    tag = "datasets",
    operation_id = "upload_dataset",
    security(("bearer" = []), ("session" = [])),
    params(UploadQuery),
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
            description = "The new dataset, its first version and what was set aside",
            body = ImportView
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
#[tracing::instrument(skip_all, err)]
async fn upload(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ImportView>), ApiError> {
    let choices = Choices::parse(&query)?;
    let received = Received::new(&state, "upload").await?;
    let limit = state.http.upload_limit_bytes;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut file_name = None;
    if is_multipart {
        let mut multipart = Multipart::from_request(request, &state)
            .await
            .map_err(|e| invalid("invalid_multipart", e.body_text()))?;
        let mut found = false;
        while let Some(field) =
            multipart.next_field().await.map_err(|e| invalid("invalid_multipart", e.body_text()))?
        {
            if field.name() == Some("file") || field.file_name().is_some() {
                file_name = field.file_name().map(str::to_owned);
                let field = field.map(|chunk| chunk.map_err(|e| e.body_text()));
                receive(Box::pin(field), &received.0, limit).await?;
                found = true;
                break;
            }
        }
        if !found {
            return Err(invalid("no_file", "the form has no file field (name it \"file\")"));
        }
    } else {
        let body = request.into_body().into_data_stream();
        let size = receive(body, &received.0, limit).await?;
        if size == 0 {
            return Err(invalid(
                "empty_upload",
                "the request body is empty: send the file as the body",
            ));
        }
    }
    let view =
        import_received(&state, &client, current.user.id, &query, choices, received, file_name)
            .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Makes a dataset of a file received on disk, and records it in the audit log.
pub(super) async fn import_received(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    user: UserId,
    query: &UploadQuery,
    choices: Choices,
    received: Received,
    file_name: Option<String>,
) -> Result<ImportView, ApiError> {
    let choices = choices.named(query, file_name.as_deref());
    let (options, policy) = choices.options().map_err(|(code, message)| invalid(code, message))?;
    let input = variosync_formats::source::Input::Path(received.0.clone());
    let imported = variosync_jobs::import::import_stream(
        &state.backends,
        user,
        &choices.name,
        input,
        &options,
        policy,
        &state.scratch,
    )
    .await?;
    drop(received);
    let id = imported.dataset.id;
    let detail = variosync_jobs::uploads::audit_detail(&imported, None);
    dataset_changed(state, user, client, AuditAction::DatasetImported, id, detail).await?;
    let rejects = RejectsView {
        count: imported.profile.rejects,
        first: imported.rejects.into_iter().map(RejectView::from).collect(),
        download: imported.rejects_key.map(|_| format!("/api/v1/datasets/{id}/rejects")),
    };
    Ok(ImportView {
        dataset: imported.dataset,
        version: imported.version,
        warnings: imported.warnings,
        rejects,
    })
}

/// The file of an upload form.
#[derive(ToSchema)]
#[allow(dead_code, reason = "describes a request body; the handler reads the form itself")]
struct UploadForm {
    /// The file; its name names the dataset unless `name` is given.
    #[schema(value_type = String, content_media_type = "application/octet-stream")]
    file: Vec<u8>,
}

/// Which datasets.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only datasets whose name contains this text (any case).
    search: Option<String>,
    /// How many, 1 to 200 (default 50).
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
    current: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Dataset>>, ApiError> {
    let user = current.user.id;
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    let search = query.search.as_deref().filter(|s| !s.trim().is_empty());
    Ok(Json(state.backends.datasets().list(Access::User(user), user, search, limit).await?))
}

pub(crate) async fn find(state: &AppState, user: UserId, id: &str) -> Result<Dataset, ApiError> {
    let id: DatasetId = super::parse_id(id, "dataset_not_found")?;
    state.backends.datasets().get(Access::User(user), user, id).await?.ok_or_else(not_found)
}

/// The dataset's version `wanted`, or its current one.
pub(crate) async fn version_of(
    state: &AppState,
    user: UserId,
    dataset: &Dataset,
    wanted: Option<u32>,
) -> Result<Version, ApiError> {
    let versions = state.backends.datasets().versions(Access::User(user), user, dataset.id).await?;
    choose_version(dataset, &versions, wanted)
}

/// Version `wanted` of `versions` (the dataset's), or its current one.
pub(crate) fn choose_version(
    dataset: &Dataset,
    versions: &[Version],
    wanted: Option<u32>,
) -> Result<Version, ApiError> {
    let number = wanted.unwrap_or(dataset.current_version);
    versions.iter().find(|v| v.version == number).cloned().ok_or_else(|| {
        ApiError::new(
            ErrorKind::NotFound,
            "version_not_found",
            format!("the dataset has no version {number}"),
        )
    })
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
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<DatasetView>, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    let version = version_of(&state, user, &dataset, None).await?;
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
#[tracing::instrument(skip_all, err)]
async fn update(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<Change>,
) -> Result<Json<Dataset>, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    let name = change.name.clone().unwrap_or_else(|| dataset.name.clone());
    let tags = change.tags.clone().unwrap_or_else(|| dataset.tags.clone());
    let updated = state
        .backends
        .datasets()
        .update(Access::User(user), user, dataset.id, &name, &tags)
        .await?
        .ok_or_else(not_found)?;
    let detail = json!({
        "dataset_id": dataset.id,
        "name": { "from": dataset.name, "to": updated.name },
        "tags": { "from": dataset.tags, "to": updated.tags },
    });
    dataset_changed(&state, user, &client, AuditAction::DatasetUpdated, dataset.id, detail).await?;
    Ok(Json(updated))
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
    current: CurrentUser,
) -> Result<super::Events, ApiError> {
    let channel = variosync_jobs::queue::dataset_channel(current.user.id);
    super::event_stream(&state, &channel, "dataset").await
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
#[tracing::instrument(skip_all, err)]
async fn remove(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    if !state.backends.datasets().delete(Access::User(user), user, dataset.id).await? {
        return Err(not_found());
    }
    // The rows are gone, so nothing points at the objects any more; a failure here leaves
    // unreachable objects, never a dataset with missing ones.
    let prefix = ObjectKey::dataset_prefix(user, dataset.id);
    if let Err(error) = state.backends.objects.delete_prefix(&prefix).await {
        tracing::error!(error = %variosync_domain::error_chain(&error), "cannot delete the objects of a deleted dataset");
    }
    let detail = json!({ "dataset_id": dataset.id, "name": dataset.name });
    dataset_changed(&state, user, &client, AuditAction::DatasetDeleted, dataset.id, detail).await?;
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
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Version>>, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    Ok(Json(state.backends.datasets().versions(Access::User(user), user, dataset.id).await?))
}

/// Which version.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct VersionQuery {
    /// The version's number (default: the current version).
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
        (status = 200, description = "The profile", body = Object),
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
    current: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    Ok(Json(version_of(&state, user, &dataset, query.version).await?.profile))
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
    current: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<VersionQuery>,
) -> Result<Response, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    let version = version_of(&state, user, &dataset, query.version).await?;
    let key = ObjectKey::dataset_rejects(user, dataset.id, version.version);
    let stream = match state.backends.objects.get_stream(&key).await {
        Ok(stream) => stream,
        Err(variosync_store::Error::ObjectNotFound(_)) => {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                "no_rejects",
                "no row of this version was set aside",
            ));
        }
        Err(error) => return Err(error.into()),
    };
    let body = Body::from_stream(stream.map(|chunk| chunk.map_err(std::io::Error::other)));
    let name = format!("rejects-{}-v{}.csv", dataset.id, version.version);
    Ok(super::csv_attachment(body, &name))
}

/// A time given as RFC 3339 or as milliseconds since 1970; microseconds since 1970.
fn parse_time(text: Option<&str>, name: &str, default: i64) -> Result<i64, ApiError> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(default) };
    if let Ok(millis) = text.parse::<i64>() {
        return millis
            .checked_mul(1000)
            .ok_or_else(|| invalid("invalid_time", format!("{name} is out of range")));
    }
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_micros()).map_err(|_| {
        invalid(
            "invalid_time",
            format!("{name} must be an RFC 3339 time or milliseconds since 1970, not {text:?}"),
        )
    })
}

/// The version asked for of a dataset that has `series`, and the time range asked for.
async fn series_range(
    state: &AppState,
    user: UserId,
    id: &str,
    series: &str,
    version: Option<u32>,
    (from, to): (Option<&str>, Option<&str>),
) -> Result<(Version, i64, i64), ApiError> {
    let dataset = find(state, user, id).await?;
    let version = version_of(state, user, &dataset, version).await?;
    if !version.series.iter().any(|s| s == series) {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "series_not_found",
            format!("the dataset has no series {series:?}"),
        ));
    }
    let from = parse_time(from, "from", i64::MIN)?;
    let to = parse_time(to, "to", i64::MAX)?;
    Ok((version, from, to))
}

/// Opens the file of a dataset version for queries.
pub(crate) async fn open_part(
    state: &AppState,
    user: UserId,
    version: &Version,
) -> Result<Part, ApiError> {
    let key = ObjectKey::dataset_part(user, version.dataset_id, version.version, 0);
    let cache = state.scratch.join("cache");
    let path = state.backends.objects.local_file(&key, &cache).await?;
    for size in variosync_engine::overview::LEVELS {
        let overview =
            ObjectKey::dataset_part_overview(user, version.dataset_id, version.version, 0, size);
        match state.backends.objects.local_file(&overview, &cache).await {
            // A version written before overviews existed is answered from its rows.
            Ok(_) | Err(variosync_store::Error::ObjectNotFound(_)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    tokio::task::spawn_blocking(move || Part::open(&path))
        .await
        .map_err(|e| internal("a query stopped", &e))?
        .map_err(ApiError::from)
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
    points: Option<usize>,
    /// Comma-separated column names (default: every numeric column).
    columns: Option<String>,
    /// `true` for OHLC candles instead of points.
    candles: Option<bool>,
    /// The version's number (default: the current version).
    version: Option<u32>,
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

impl From<window::Window> for PointsView {
    fn from(window: window::Window) -> Self {
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

impl From<window::Candle> for CandleView {
    fn from(c: window::Candle) -> Self {
        Self { ts: c.ts, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }
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
        (status = 200, description = "Points or candles", body = WindowView),
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
    current: CurrentUser,
    Path((id, series)): Path<(String, String)>,
    Query(query): Query<WindowQuery>,
) -> Result<Json<WindowView>, ApiError> {
    let user = current.user.id;
    let range = (query.from.as_deref(), query.to.as_deref());
    let (version, from, to) =
        series_range(&state, user, &id, &series, query.version, range).await?;
    let points = query.points.unwrap_or(2000);
    if !(3..=MAX_POINTS).contains(&points) {
        return Err(invalid("invalid_points", format!("points must be 3 to {MAX_POINTS}")));
    }
    let columns: Vec<String> = query
        .columns
        .as_deref()
        .map(|c| c.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let part = open_part(&state, user, &version).await?;
    let candles = query.candles.unwrap_or(false);
    let answer = tokio::task::spawn_blocking(move || {
        if candles {
            let (rows, candles) = window::candles(&part, &series, from, to, points)?;
            let candles = candles.into_iter().map(CandleView::from).collect();
            Ok::<_, QueryError>(WindowView::Candles(CandlesView {
                series,
                rows,
                unit: MICROSECONDS,
                candles,
            }))
        } else {
            let window = window::window(&part, &series, &columns, from, to, points)?;
            Ok(WindowView::Points(window.into()))
        }
    })
    .await
    .map_err(|e| internal("a query stopped", &e))??;
    Ok(Json(answer))
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

impl From<variosync_engine::resample::Aggregation> for Aggregation {
    fn from(aggregation: variosync_engine::resample::Aggregation) -> Self {
        use variosync_engine::resample::Aggregation as Engine;
        match aggregation {
            Engine::First => Self::First,
            Engine::Last => Self::Last,
            Engine::Min => Self::Min,
            Engine::Max => Self::Max,
            Engine::Sum => Self::Sum,
            Engine::Mean => Self::Mean,
            Engine::Count => Self::Count,
        }
    }
}

impl From<variosync_engine::resample::Resampled> for ResampledView {
    fn from(resampled: variosync_engine::resample::Resampled) -> Self {
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
    current: CurrentUser,
    Path((id, series)): Path<(String, String)>,
    Query(query): Query<ResampleQuery>,
) -> Result<Json<ResampledView>, ApiError> {
    use variosync_engine::resample::{Aggregation, Interval, resample};
    let user = current.user.id;
    let range = (query.from.as_deref(), query.to.as_deref());
    let (version, from, to) =
        series_range(&state, user, &id, &series, query.version, range).await?;
    let interval: Interval = query.interval.parse()?;
    let mut columns = Vec::new();
    for item in query.columns.as_deref().unwrap_or("").split(',').map(str::trim) {
        if item.is_empty() {
            continue;
        }
        let (name, aggregation) = match item.split_once(':') {
            Some((name, aggregation)) => (name, Some(aggregation.parse::<Aggregation>()?)),
            None => (item, None),
        };
        columns.push((name.to_owned(), aggregation));
    }
    let part = open_part(&state, user, &version).await?;
    let resampled =
        tokio::task::spawn_blocking(move || resample(&part, &series, &columns, from, to, interval))
            .await
            .map_err(|e| internal("a query stopped", &e))??;
    Ok(Json(resampled.into()))
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
    offset: Option<u64>,
    /// Rows to return, 1 to 10000 (default 100).
    limit: Option<usize>,
    /// The version's number (default: the current version).
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
    current: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<RowsQuery>,
) -> Result<Json<RowsView>, ApiError> {
    let user = current.user.id;
    let dataset = find(&state, user, &id).await?;
    let version = version_of(&state, user, &dataset, query.version).await?;
    let from = parse_time(query.from.as_deref(), "from", i64::MIN)?;
    let to = parse_time(query.to.as_deref(), "to", i64::MAX)?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_PAGE_ROWS).contains(&limit) {
        return Err(invalid("invalid_limit", format!("limit must be 1 to {MAX_PAGE_ROWS}")));
    }
    let offset = query.offset.unwrap_or(0);
    let part = open_part(&state, user, &version).await?;
    let series = query.series.clone();
    let page = tokio::task::spawn_blocking(move || {
        window::rows(&part, series.as_deref(), from, to, offset, limit)
    })
    .await
    .map_err(|e| internal("a query stopped", &e))??;
    let (columns, rows) = match &page.batch {
        Some(batch) => rows_as_json(batch),
        None => (Vec::new(), Vec::new()),
    };
    Ok(Json(RowsView { columns, rows, total: page.total, offset, limit, unit: MICROSECONDS }))
}

/// A batch as column names and rows of JSON values (times in microseconds since 1970).
fn rows_as_json(batch: &arrow_array::RecordBatch) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::DataType;
    let schema = batch.schema();
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = vec![Vec::with_capacity(columns.len()); batch.num_rows()];
    for column in batch.columns() {
        for (row, out) in rows.iter_mut().enumerate() {
            let value = if column.is_null(row) {
                serde_json::Value::Null
            } else {
                match column.data_type() {
                    DataType::Dictionary(_, _) => {
                        let dictionary = column.as_dictionary::<Int32Type>();
                        let names = dictionary.values().as_string::<i32>();
                        json!(names.value(dictionary.keys().value(row) as usize))
                    }
                    DataType::Timestamp(_, _) => {
                        json!(column.as_primitive::<TimestampMicrosecondType>().value(row))
                    }
                    DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(row)),
                    DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(row)),
                    DataType::Utf8 => json!(column.as_string::<i32>().value(row)),
                    DataType::Boolean => json!(column.as_boolean().value(row)),
                    _ => serde_json::Value::Null,
                }
            };
            out.push(value);
        }
    }
    (columns, rows)
}

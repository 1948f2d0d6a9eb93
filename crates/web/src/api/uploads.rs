//! Resumable uploads, for files too large to send in one request or over a line that may
//! drop: announce the file's size, send it in chunks (each `PATCH` carries the offset it
//! starts at, in `Upload-Offset`), ask how much arrived after a break and go on from there,
//! then complete it into a dataset with the same choices as a direct upload. Chunks are
//! stored as objects, so any replica may take the next one. An upload not completed within
//! a day is discarded.

use super::Json;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_app::imports::ImportSummary;
use variosync_app::uploads::parse_upload_id;
use variosync_domain::ErrorKind;
use variosync_store::Upload;

use super::datasets::{UploadQuery, import_answer};
use super::openapi::{Changing, Reading};
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

/// The header carrying a chunk's offset, and the bytes received so far in answers.
pub(crate) const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create))
        .routes(routes!(show, append, remove).layer(DefaultBodyLimit::disable()))
        .routes(routes!(complete))
}

/// An upload and where to send it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = UploadStatus)]
struct UploadView {
    #[serde(flatten)]
    upload: Upload,
    /// Where to send chunks and ask for progress.
    url: String,
    /// Where to turn it into a dataset once every byte arrived.
    complete: String,
}

/// The upload, with the bytes received in `Upload-Offset`.
fn view(upload: Upload) -> Response {
    let offset = HeaderValue::from(upload.received);
    let url = format!("/api/v1/uploads/{}", upload.id);
    let complete = format!("{url}/complete");
    let mut response = Json(UploadView { upload, url, complete }).into_response();
    response.headers_mut().insert(UPLOAD_OFFSET, offset);
    response
}

/// A file about to be sent in chunks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewUpload {
    /// The file's name (its stem names the dataset unless completion says otherwise).
    #[schema(min_length = 1, pattern = "\\S")]
    file_name: String,
    /// The file's size in bytes (at most the server's upload limit: larger is 413).
    #[schema(minimum = 1, maximum = 9223372036854775807_i64)]
    size: u64,
}

/// Start an upload
///
/// Announces a file to send in chunks. The upload is discarded unless completed within a
/// day; one person may have 20 open at once.
#[utoipa::path(
    post,
    path = "/uploads",
    tag = "uploads",
    operation_id = "create_upload",
    security(("bearer" = []), ("session" = [])),
    request_body = NewUpload,
    responses(
        (
            status = 201,
            description = "The upload, with nothing received yet",
            body = UploadView,
            headers(("Upload-Offset" = u64, description = "Bytes received so far: 0"))
        ),
        Changing,
        (
            status = 400,
            description = "The size is 0 (`empty_upload`) or the file name is empty \
                (`invalid_file_name`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "20 uploads are open already (`too_many_uploads`)",
            body = ApiError
        ),
        (
            status = 413,
            description = "The file is larger than the upload limit (`too_large`)",
            body = ApiError
        ),
    )
)]
async fn create(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Json(new): Json<NewUpload>,
) -> Result<(StatusCode, Response), ApiError> {
    let upload = state.app.create_upload(&principal, &new.file_name, new.size).await?;
    Ok((StatusCode::CREATED, view(upload)))
}

/// Get an upload's progress
///
/// How many bytes arrived, so that a broken upload can go on from there.
#[utoipa::path(
    get,
    path = "/uploads/{id}",
    tag = "uploads",
    operation_id = "get_upload",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The upload's id")),
    responses(
        (
            status = 200,
            description = "The upload",
            body = UploadView,
            headers((
                "Upload-Offset" = u64,
                description = "Bytes received so far: the offset of the next chunk"
            ))
        ),
        Reading,
        (
            status = 404,
            description = "There is no such upload, or it expired (`upload_not_found`)",
            body = ApiError
        ),
    )
)]
async fn show(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(view(state.app.upload(&principal, parse_upload_id(&id)?).await?))
}

/// The chunk's offset from its `Upload-Offset` header.
fn offset(headers: &HeaderMap) -> Result<u64, ApiError> {
    let header = headers.get(&UPLOAD_OFFSET).ok_or_else(|| {
        ApiError::new(
            ErrorKind::InvalidInput,
            "missing_offset",
            "send the chunk's offset in the file in an Upload-Offset header",
        )
    })?;
    header.to_str().ok().and_then(|text| text.trim().parse().ok()).ok_or_else(|| {
        ApiError::new(
            ErrorKind::InvalidInput,
            "invalid_offset",
            "Upload-Offset must be a whole number of bytes",
        )
    })
}

/// Send a chunk
///
/// Appends the bytes of the body to the upload. The chunk must start where the received
/// bytes end (its offset in `Upload-Offset`) and must not run past the announced size.
/// Chunks may go to any replica.
#[utoipa::path(
    patch,
    path = "/uploads/{id}",
    tag = "uploads",
    operation_id = "append_upload_chunk",
    security(("bearer" = []), ("session" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The upload's id"),
        (
            "Upload-Offset" = u64,
            Header,
            description = "The offset in the file of the chunk's first byte: the bytes received \
                so far"
        ),
    ),
    request_body(
        description = "The chunk's bytes",
        content(("application/offset+octet-stream"), ("*/*")),
    ),
    responses(
        (
            status = 200,
            description = "The upload after the chunk",
            body = UploadView,
            headers((
                "Upload-Offset" = u64,
                description = "Bytes received so far: the offset of the next chunk"
            ))
        ),
        Changing,
        (
            status = 400,
            description = "`Upload-Offset` is missing (`missing_offset`) or not a number \
                (`invalid_offset`); the chunk is empty (`empty_chunk`) or broke off \
                (`upload_interrupted`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such upload, or it expired (`upload_not_found`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "The chunk does not start where the received bytes end \
                (`offset_mismatch`; the message says where to resume), or runs past the \
                announced size (`chunk_too_large`)",
            body = ApiError
        ),
        (
            status = 413,
            description = "The body is larger than the upload limit (`too_large`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn append(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let start = offset(request.headers())?;
    let body = request.into_body().into_data_stream();
    let upload = state.app.append_chunk(&principal, parse_upload_id(&id)?, start, body).await?;
    Ok(view(upload))
}

/// Delete an upload
///
/// Discards the upload and the chunks received.
#[utoipa::path(
    delete,
    path = "/uploads/{id}",
    tag = "uploads",
    operation_id = "delete_upload",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The upload's id")),
    responses(
        (status = 204, description = "Deleted"),
        Changing,
        (
            status = 404,
            description = "There is no such upload, or it expired (`upload_not_found`)",
            body = ApiError
        ),
    )
)]
async fn remove(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_upload(&principal, parse_upload_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Complete an upload
///
/// Makes a dataset of an upload whose every byte arrived, with the same choices as a direct
/// upload (`POST /api/v1/datasets`). On success the upload is gone; on failure it stays, to
/// be completed again, perhaps with other choices.
#[utoipa::path(
    post,
    path = "/uploads/{id}/complete",
    tag = "uploads",
    operation_id = "complete_upload",
    security(("bearer" = []), ("session" = [])),
    params(
        ("id" = uuid::Uuid, Path, description = "The upload's id"),
        (
            "Idempotency-Key" = Option<String>, Header,
            description = "Sent again with the same value, answers the job the first request \
                submitted"
        ),
        UploadQuery
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
                follow it at the `Location`. An `Idempotency-Key` header sent again answers \
                the same job",
            body = variosync_store::Job,
            headers(("Location" = String, description = "The job"))
        ),
        Changing,
        (
            status = 402,
            description = "The hour balance cannot cover the import's reservation \
                (`insufficient_hours`)",
            body = ApiError
        ),
        (
            status = 400,
            description = "A choice is not valid (`invalid_mode`, `invalid_duplicates`, \
                `invalid_tz`, `invalid_mapping`); the file cannot be read (`unsupported_format`, \
                `unreadable_file`) or has no readable row (`no_rows`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such upload, or it expired (`upload_not_found`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "Bytes are missing (`upload_incomplete`); another request is completing \
                it (`upload_completing`); rows repeat a series and time and `duplicates=fail` \
                (`duplicate_rows`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn complete(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let options = query.options()?;
    let key = super::jobs::idempotency_key(&headers)?;
    let id = parse_upload_id(&id)?;
    Ok(import_answer(state.app.complete_upload(&principal, id, &options, key).await?))
}

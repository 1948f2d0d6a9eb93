//! Resumable uploads, for files too large to send in one request or over a line that may
//! drop: announce the file's size, send it in chunks (each `PATCH` carries the offset it
//! starts at, in `Upload-Offset`), ask how much arrived after a break and go on from there,
//! then complete it into a dataset with the same choices as a direct upload. Chunks are
//! stored as objects, so any replica may take the next one. An upload not completed within
//! a day is discarded.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_domain::{ErrorKind, UploadId, UserId};
use variosync_jobs::uploads::ImportPayload;
use variosync_store::jobs::NewJob;
use variosync_store::{Access, ObjectKey, Upload};

use super::datasets::{Choices, ImportView, Received, UploadQuery, import_received, internal};
use super::datasets::{invalid, receive};
use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The header carrying a chunk's offset, and the bytes received so far in answers.
pub(crate) const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
/// How long an upload may take from its start to its completion.
const LIFETIME_HOURS: i64 = 24;
/// The most uploads one person may have open at once.
const MAX_OPEN: u64 = 20;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create))
        // A chunk's handler counts its bytes itself, so that it can stream to disk.
        .routes(routes!(show, append, remove).layer(DefaultBodyLimit::disable()))
        .routes(routes!(complete))
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "upload_not_found",
        "there is no such upload (or it expired)",
    )
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
    file_name: String,
    /// The file's size in bytes.
    size: u64,
}

/// Deletes an upload's row, then its chunks.
async fn discard(state: &AppState, user: UserId, id: UploadId) -> Result<bool, ApiError> {
    Ok(variosync_jobs::uploads::discard(&state.backends, user, id).await?)
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
    current: CurrentUser,
    Json(new): Json<NewUpload>,
) -> Result<(StatusCode, Response), ApiError> {
    let user = current.user.id;
    let limit = state.http.upload_limit_bytes;
    if new.size == 0 {
        return Err(invalid("empty_upload", "size must be at least 1 byte"));
    }
    if new.size > limit {
        return Err(crate::middleware::too_large(limit));
    }
    if new.file_name.trim().is_empty() {
        return Err(invalid("invalid_file_name", "file_name must not be empty"));
    }
    let uploads = state.backends.uploads();
    for expired in uploads.expired(user).await? {
        discard(&state, user, expired).await?;
    }
    if uploads.open_count(user).await? >= MAX_OPEN {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "too_many_uploads",
            format!("at most {MAX_OPEN} uploads may be open at once: complete or delete one"),
        ));
    }
    let expires = chrono::Utc::now() + chrono::Duration::hours(LIFETIME_HOURS);
    let upload = uploads.create(user, UploadId::new(), &new.file_name, new.size, expires).await?;
    Ok((StatusCode::CREATED, view(upload)))
}

async fn find(state: &AppState, user: UserId, id: &str) -> Result<Upload, ApiError> {
    let id: UploadId = super::parse_id(id, "upload_not_found")?;
    state.backends.uploads().get(Access::User(user), user, id).await?.ok_or_else(not_found)
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
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(view(find(&state, current.user.id, &id).await?))
}

/// The `Upload-Offset` header of a chunk.
fn offset(headers: &HeaderMap) -> Result<u64, ApiError> {
    let header = headers.get(&UPLOAD_OFFSET).ok_or_else(|| {
        invalid("missing_offset", "send the chunk's offset in the file in an Upload-Offset header")
    })?;
    header
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| invalid("invalid_offset", "Upload-Offset must be a whole number of bytes"))
}

fn offset_conflict(received: u64, size: u64) -> ApiError {
    ApiError::new(
        ErrorKind::Conflict,
        "offset_mismatch",
        format!(
            "the upload has received {received} of {size} bytes: send the chunk starting at byte {received}"
        ),
    )
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
                (`invalid_offset`); the chunk is empty (`empty_chunk`), runs past the announced \
                size (`chunk_too_large`) or broke off (`upload_interrupted`)",
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
                (`offset_mismatch`); the message says where to resume",
            body = ApiError
        ),
        (
            status = 413,
            description = "The body is larger than the upload limit (`too_large`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err)]
async fn append(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let user = current.user.id;
    let upload = find(&state, user, &id).await?;
    let start = offset(request.headers())?;
    if start != upload.received {
        return Err(offset_conflict(upload.received, upload.size));
    }
    let remaining = upload.size - upload.received;
    let received = Received::new(&state, "chunk").await?;
    let body = request.into_body().into_data_stream();
    let length = match receive(body, &received.0, remaining).await {
        Ok(length) => length,
        Err(error) if error.code() == "too_large" => {
            return Err(invalid(
                "chunk_too_large",
                format!("the chunk runs past the announced size: {remaining} bytes remain"),
            ));
        }
        Err(error) => return Err(error),
    };
    if length == 0 {
        return Err(invalid("empty_chunk", "the chunk is empty: send its bytes as the body"));
    }
    let key = ObjectKey::upload_chunk(user, upload.id, start, rand::random());
    state.backends.objects.put_file(&key, &received.0).await?;
    drop(received);
    match state.backends.uploads().add_chunk(user, upload.id, start, length, &key).await {
        Ok(upload) => Ok(view(upload)),
        Err(error) => {
            // Another request counted this offset first, or the upload is gone: this copy
            // of the chunk is not needed.
            if let Err(e) = state.backends.objects.delete(&key).await {
                tracing::warn!(error = %e, "an unneeded upload chunk was not deleted");
            }
            match error {
                variosync_store::Error::UploadOffset { received, size } => {
                    Err(offset_conflict(received, size))
                }
                variosync_store::Error::NotFound(_) => Err(not_found()),
                other => Err(other.into()),
            }
        }
    }
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
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = current.user.id;
    let upload = find(&state, user, &id).await?;
    if !discard(&state, user, upload.id).await? {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Joins the chunks, in order, into one file on disk.
async fn assemble(state: &AppState, user: UserId, upload: &Upload) -> Result<Received, ApiError> {
    use variosync_jobs::uploads::AssembleError;
    let joined = Received::new(state, "assembled").await?;
    match variosync_jobs::uploads::assemble(&state.backends, user, upload, &joined.0).await {
        Ok(()) => Ok(joined),
        Err(AssembleError::Store(error)) => Err(error.into()),
        Err(error) => Err(internal("cannot join an upload", &error)),
    }
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
            body = ImportView
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
#[tracing::instrument(skip_all, err)]
async fn complete(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user = current.user.id;
    let choices = Choices::parse(&query)?;
    let key = super::jobs::idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(job) = state.backends.jobs().by_key(user, key).await?
    {
        // The same request again (its answer was lost): the job it submitted.
        return Ok(super::jobs::accepted(job));
    }
    let upload = find(&state, user, &id).await?;
    if upload.received < upload.size {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "upload_incomplete",
            format!(
                "the upload has received {} of {} bytes: send the rest first",
                upload.received, upload.size
            ),
        ));
    }
    let inline = upload.size <= state.jobs.inline_import_bytes;
    // A job holds the upload until it ends (and gives it back if the file is at fault).
    let until = if inline {
        chrono::Utc::now()
            + chrono::Duration::seconds(
                i64::try_from(state.http.upload_timeout_secs).unwrap_or(3600),
            )
    } else {
        upload.expires_at
    };
    let uploads = state.backends.uploads();
    let Some(upload) = uploads.claim(user, upload.id, until).await? else {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "upload_completing",
            "this upload is being completed by another request",
        ));
    };
    if !inline {
        let file_name = upload.file_name.clone();
        let payload = ImportPayload {
            upload_id: upload.id,
            choices: choices.named(&query, Some(&file_name)),
        };
        let new = NewJob {
            kind: "import".to_owned(),
            payload: serde_json::to_value(&payload).unwrap_or_default(),
            max_attempts: 3,
            reserve: state.jobs.import_reserve(upload.size),
            idempotency_key: key,
        };
        let submitted = super::jobs::submit(&state, &client, user, &new).await;
        if submitted.is_err() {
            uploads.release(user, upload.id).await?;
        }
        return Ok(super::jobs::accepted(submitted?));
    }
    let outcome = match assemble(&state, user, &upload).await {
        Ok(joined) => {
            let file_name = Some(upload.file_name.clone());
            import_received(&state, &client, user, &query, choices, joined, file_name).await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(view) => {
            discard(&state, user, upload.id).await?;
            Ok((StatusCode::CREATED, Json(view)).into_response())
        }
        Err(error) => {
            // The file stays: it may be completed again, with other choices.
            uploads.release(user, upload.id).await?;
            Err(error)
        }
    }
}

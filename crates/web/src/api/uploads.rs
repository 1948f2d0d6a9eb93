//! Resumable uploads, for files too large to send in one request or over a line that may
//! drop: announce the file's size, send it in chunks (each `PATCH` carries the offset it
//! starts at, in `Upload-Offset`), ask how much arrived after a break and go on from there,
//! then complete it into a dataset with the same choices as a direct upload. Chunks are
//! stored as objects, so any replica may take the next one. An upload not completed within
//! a day is discarded.

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use variosync_domain::{ErrorKind, UploadId, UserId};
use variosync_store::{Access, ObjectKey, Upload};

use super::datasets::{Choices, ImportView, Received, UploadQuery, import_received, internal};
use super::datasets::{invalid, receive};
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

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/uploads", post(create))
        .route(
            "/uploads/{id}",
            get(show)
                .patch(append)
                .delete(remove)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/uploads/{id}/complete", post(complete))
}

fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "upload_not_found",
        "there is no such upload (or it expired)",
    )
}

/// An upload as the API shows it.
#[derive(Debug, Serialize)]
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUpload {
    /// The file's name (its stem names the dataset unless completion says otherwise).
    file_name: String,
    /// The file's size in bytes.
    size: u64,
}

/// Deletes an upload's row, then its chunks.
async fn discard(state: &AppState, user: UserId, id: UploadId) -> Result<bool, ApiError> {
    let existed = state.backends.uploads().delete(Access::User(user), user, id).await?;
    if let Err(error) = state.backends.objects.delete_prefix(&ObjectKey::upload(user, id)).await {
        tracing::warn!(upload_id = %id, error = %error, "the chunks of an upload were not deleted");
    }
    Ok(existed)
}

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
    use tokio::io::AsyncWriteExt;
    let chunks = state.backends.uploads().chunks(user, upload.id).await?;
    let joined = Received::new(state, "assembled").await?;
    let mut file = tokio::fs::File::create(&joined.0)
        .await
        .map_err(|e| internal("cannot create an upload file", &e))?;
    let mut expected = 0;
    for chunk in &chunks {
        if chunk.start != expected {
            return Err(internal(
                "an upload's chunks do not join up",
                &std::io::Error::other(format!("chunk at {} after {expected}", chunk.start)),
            ));
        }
        let mut stream = state.backends.objects.get_stream(&chunk.key).await?;
        while let Some(bytes) = stream.next().await {
            let bytes = bytes?;
            file.write_all(&bytes).await.map_err(|e| internal("cannot write an upload", &e))?;
        }
        expected += chunk.length;
    }
    file.flush().await.map_err(|e| internal("cannot write an upload", &e))?;
    if expected != upload.size {
        return Err(internal(
            "an upload's chunks do not add up",
            &std::io::Error::other(format!("{expected} of {} bytes", upload.size)),
        ));
    }
    Ok(joined)
}

#[tracing::instrument(skip_all, err)]
async fn complete(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
) -> Result<(StatusCode, Json<ImportView>), ApiError> {
    let user = current.user.id;
    let choices = Choices::parse(&query)?;
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
    let until = chrono::Utc::now()
        + chrono::Duration::seconds(i64::try_from(state.http.upload_timeout_secs).unwrap_or(3600));
    let uploads = state.backends.uploads();
    let Some(upload) = uploads.claim(user, upload.id, until).await? else {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "upload_completing",
            "this upload is being completed by another request",
        ));
    };
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
            Ok((StatusCode::CREATED, Json(view)))
        }
        Err(error) => {
            // The file stays: it may be completed again, with other choices.
            uploads.release(user, upload.id).await?;
            Err(error)
        }
    }
}

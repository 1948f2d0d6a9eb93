//! How a file would be read, from its first bytes: the upload page shows this before the
//! file is sent, so an ambiguous reading can be corrected first.

use super::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_app::preview::{PREVIEW_BYTES, Preview, PreviewRequest};

use super::openapi::Reading;
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview).layer(DefaultBodyLimit::max(PREVIEW_BYTES + 1024)))
}

/// What to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// `true` when the body is the whole file, `false` (default) when it is the file's first
    /// bytes.
    whole: Option<bool>,
    /// The zone of timestamps without an offset (default `UTC`).
    tz: Option<String>,
    /// Choices over the detected mapping, as a JSON object, as `POST /datasets` takes them.
    mapping: Option<String>,
}

/// Preview a file
///
/// How a file would be read, from its first bytes (up to 1 MiB) or the whole of a small
/// file: the detected format, the time, series and value columns, the warnings and the first
/// rows. Nothing is stored. When no time column is found, `problem` says so and `columns`
/// lists the file's columns to choose from. Parquet, Arrow files and workbooks are read only
/// whole: for their first bytes the answer has `read: false`.
#[utoipa::path(
    post,
    path = "/datasets/preview",
    tag = "datasets",
    operation_id = "preview_dataset",
    security(("bearer" = []), ("session" = [])),
    params(PreviewQuery),
    request_body(description = "The file's first bytes, or the whole file", content(("*/*"))),
    responses(
        (status = 200, description = "How the file would be read", body = Preview),
        Reading,
        (
            status = 400,
            description = "The body is empty (`empty_upload`); a choice is not valid \
                (`invalid_tz`, `invalid_mapping`); the file cannot be read \
                (`unsupported_format`, `unreadable_file`)",
            body = ApiError
        ),
        (status = 413, description = "The body is larger than 1 MiB", body = ApiError),
    )
)]
async fn preview(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(query): Query<PreviewQuery>,
    body: Bytes,
) -> Result<Json<Preview>, ApiError> {
    let whole = query.whole.unwrap_or(false);
    let request =
        PreviewRequest { whole, tz: super::given(query.tz), mapping: super::given(query.mapping) };
    Ok(Json(state.app.preview(&principal, body, request).await?))
}

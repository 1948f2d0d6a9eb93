//! The signed-in user's sessions: list and revoke.

use super::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{ErrorKind, SessionId};
use variosync_store::Session;

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list)).routes(routes!(revoke))
}

/// A live session.
#[derive(Serialize, ToSchema)]
#[schema(as = ListedSession)]
struct Listed {
    #[serde(flatten)]
    session: Session,
    /// Whether this is the session making the request.
    current: bool,
}

/// List sessions
///
/// The signed-in user's live browser sessions.
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    operation_id = "list_sessions",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The sessions", body = Vec<Listed>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<Vec<Listed>>, ApiError> {
    let sessions = state.accounts.sessions(current.user.id).await?;
    let mine = current.session_id();
    Ok(Json(
        sessions
            .into_iter()
            .map(|session| Listed { current: Some(session.id) == mine, session })
            .collect(),
    ))
}

/// Revoke a session
///
/// Ends one of the signed-in user's sessions, which signs that browser out.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "sessions",
    operation_id = "revoke_session",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Revoked"),
        Changing,
        (
            status = 404,
            description = "There is no such live session (`session_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn revoke(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = super::parse_id(&id, "session_not_found")?;
    if state.accounts.revoke_session(current.user.id, id, &client).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::new(
            ErrorKind::NotFound,
            "session_not_found",
            "there is no such live session",
        ))
    }
}

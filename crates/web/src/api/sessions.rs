//! The signed-in user's sessions: list and revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Serialize;
use variosync_domain::{ErrorKind, SessionId};
use variosync_store::Session;

use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/sessions", get(list)).route("/sessions/{id}", delete(revoke))
}

#[derive(Serialize)]
struct Listed {
    #[serde(flatten)]
    session: Session,
    /// Whether this is the session making the request.
    current: bool,
}

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

#[tracing::instrument(skip_all, err)]
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

//! The signed-in user's own account: who am I, change password, delete the account.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use variosync_domain::{Hours, User};
use variosync_store::Access;

use crate::client::Client;
use crate::error::ApiError;
use crate::session::{CurrentUser, clear_session_cookie};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/me", get(me).delete(delete_account))
        .route("/me/password", post(change_password))
        .route("/me/email", post(request_email_change))
}

#[derive(Serialize)]
struct Me {
    user: User,
    balance: Hours,
}

async fn me(State(state): State<AppState>, current: CurrentUser) -> Result<Json<Me>, ApiError> {
    let id = current.user.id;
    let balance = state.backends.ledger().balance(Access::User(id), id).await?;
    Ok(Json(Me { user: current.user, balance }))
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

#[tracing::instrument(skip_all, err)]
async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    state
        .accounts
        .change_password(
            &current.user,
            &change.current_password,
            &change.new_password,
            current.session_id(),
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, err)]
async fn delete_account(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    state.accounts.delete_account(current.user.id, &client).await?;
    let cookie = clear_session_cookie(state.http.secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize)]
struct EmailChange {
    new_email: String,
    /// The current password, when the account has one.
    #[serde(default)]
    password: String,
}

#[tracing::instrument(skip_all, err)]
async fn request_email_change(
    State(state): State<AppState>,
    current: CurrentUser,
    Json(change): Json<EmailChange>,
) -> Result<StatusCode, ApiError> {
    state.accounts.request_email_change(&current.user, &change.new_email, &change.password).await?;
    Ok(StatusCode::ACCEPTED)
}

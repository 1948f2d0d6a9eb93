//! The signed-in user's own account: who am I, change password, delete the account.

use super::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{Hours, User};

use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::{CurrentUser, clear_session_cookie};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(me, delete_account))
        .routes(routes!(change_password))
        .routes(routes!(request_email_change))
}

/// The signed-in user and their hour balance.
#[derive(Serialize, ToSchema)]
struct Me {
    user: User,
    balance: Hours,
}

/// Who am I
///
/// The account of the credential and its compute-hour balance.
#[utoipa::path(
    get,
    path = "/me",
    tag = "account",
    operation_id = "get_me",
    security(("bearer" = []), ("session" = [])),
    responses((status = 200, description = "The account", body = Me), Reading)
)]
async fn me(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
) -> Result<Json<Me>, ApiError> {
    let balance = state.app.balance(&current.principal(&client)).await?;
    Ok(Json(Me { user: current.user, balance }))
}

/// A new password, with the current one.
#[derive(Deserialize, ToSchema)]
struct PasswordChange {
    current_password: String,
    /// 10 to 256 characters, not one repeated character, not a common password.
    #[schema(format = Password, min_length = 10, max_length = 256)]
    new_password: String,
}

/// Change the password
///
/// Needs the current password. Every other session of the account ends.
#[utoipa::path(
    post,
    path = "/me/password",
    tag = "account",
    operation_id = "change_password",
    security(("bearer" = []), ("session" = [])),
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed"),
        Changing,
        (
            status = 400,
            description = "The new password is too weak (`weak_password`)",
            body = ApiError
        ),
        (
            status = 401,
            description = "No valid credential (`unauthenticated`), or the current password is \
                wrong (`wrong_credentials`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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

/// Delete the account
///
/// Deletes the account with its sessions, keys and data, and clears the session cookie.
#[utoipa::path(
    delete,
    path = "/me",
    tag = "account",
    operation_id = "delete_me",
    security(("bearer" = []), ("session" = [])),
    responses(
        (
            status = 204,
            description = "Deleted",
            headers(("Set-Cookie" = String, description = "Clears the session cookie"))
        ),
        Changing,
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn delete_account(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    state.accounts.delete_account(current.user.id, &client).await?;
    let cookie = clear_session_cookie(state.http.secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// The new sign-in address.
#[derive(Deserialize, ToSchema)]
struct EmailChange {
    #[schema(format = Email)]
    new_email: String,
    /// The current password, when the account has one.
    #[serde(default)]
    password: String,
}

/// Change the e-mail address
///
/// Sends a confirmation link to the new address; the address changes when the link is
/// followed (`POST /api/v1/auth/email-change/confirm`).
#[utoipa::path(
    post,
    path = "/me/email",
    tag = "account",
    operation_id = "change_email",
    security(("bearer" = []), ("session" = [])),
    request_body = EmailChange,
    responses(
        (status = 202, description = "A confirmation link is on its way to the new address"),
        Changing,
        (status = 400, description = "The address is not valid (`invalid_email`)", body = ApiError),
        (
            status = 401,
            description = "No valid credential (`unauthenticated`), or the password is wrong \
                (`wrong_credentials`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "The address belongs to another account (`email_taken`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn request_email_change(
    State(state): State<AppState>,
    current: CurrentUser,
    Json(change): Json<EmailChange>,
) -> Result<StatusCode, ApiError> {
    state.accounts.request_email_change(&current.user, &change.new_email, &change.password).await?;
    Ok(StatusCode::ACCEPTED)
}

//! Sign-up, sign-in and sign-out with a password.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use variosync_auth::SignedIn;
use variosync_domain::User;

use crate::client::Client;
use crate::error::ApiError;
use crate::session::{CurrentUser, clear_session_cookie, cookie_for, csrf_token};
use crate::state::AppState;

pub(super) fn router(state: &AppState) -> Router<AppState> {
    let limited = Router::new()
        .route("/auth/signup", post(sign_up))
        .route("/auth/signin", post(sign_in))
        .route("/auth/password-reset", post(request_reset))
        .route("/auth/password-reset/confirm", post(confirm_reset))
        .route("/auth/magic-link", post(request_magic_link))
        .route("/auth/magic-link/confirm", post(confirm_magic_link))
        .route("/auth/verify-email", post(verify_email))
        .route("/auth/email-change/confirm", post(confirm_email_change))
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::throttle::limit_by_ip));
    limited.route("/auth/signout", post(sign_out)).route("/auth/token", post(issue_token))
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Serialize)]
struct SignedInBody {
    user: User,
    session_id: variosync_domain::SessionId,
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Send back as `X-CSRF-Token` on every state-changing request made with the cookie.
    csrf_token: String,
}

fn signed_in(state: &AppState, status: StatusCode, signed: SignedIn) -> Response {
    let cookie = cookie_for(&signed, state.http.secure_cookies());
    let body = SignedInBody {
        csrf_token: csrf_token(signed.token.expose()),
        session_id: signed.session.id,
        expires_at: signed.session.expires_at,
        user: signed.user,
    };
    (status, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

#[tracing::instrument(skip_all, err)]
async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Credentials>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.sign_up(&form.email, &form.password, &client).await?;
    Ok(signed_in(&state, StatusCode::CREATED, signed))
}

#[tracing::instrument(skip_all, err)]
async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Credentials>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.sign_in(&form.email, &form.password, &client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

#[tracing::instrument(skip_all, err)]
async fn sign_out(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
) -> Result<Response, ApiError> {
    if let Some(session) = current.session_id() {
        state.accounts.sign_out(current.user.id, session, &client).await?;
    }
    let cookie = clear_session_cookie(state.http.secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize)]
struct Address {
    email: String,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

#[derive(Deserialize)]
struct Reset {
    token: String,
    new_password: String,
}

#[derive(Serialize)]
struct Accepted {
    message: &'static str,
}

/// The same answer whether or not the address has an account.
fn link_sent() -> Response {
    let message = "if the address can receive it, a link is on its way";
    (StatusCode::ACCEPTED, Json(Accepted { message })).into_response()
}

#[tracing::instrument(skip_all, err)]
async fn request_reset(
    State(state): State<AppState>,
    Json(form): Json<Address>,
) -> Result<Response, ApiError> {
    state.accounts.request_password_reset(&form.email).await?;
    Ok(link_sent())
}

#[tracing::instrument(skip_all, err)]
async fn confirm_reset(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Reset>,
) -> Result<StatusCode, ApiError> {
    state.accounts.reset_password(&form.token, &form.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[tracing::instrument(skip_all, err)]
async fn request_magic_link(
    State(state): State<AppState>,
    Json(form): Json<Address>,
) -> Result<Response, ApiError> {
    state.accounts.request_magic_link(&form.email).await?;
    Ok(link_sent())
}

#[tracing::instrument(skip_all, err)]
async fn confirm_magic_link(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.sign_in_with_link(&form.token, &client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

#[tracing::instrument(skip_all, err)]
async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.accounts.verify_email(&form.token, &client).await?))
}

#[tracing::instrument(skip_all, err)]
async fn confirm_email_change(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.accounts.confirm_email_change(&form.token, &client).await?))
}

/// Mints a short-lived access token from the API key or session of the request. The token
/// carries the key's scope (an admin's session gives admin scope, a user's session write)
/// and stops working when that key or session is revoked.
#[tracing::instrument(skip_all, err)]
async fn issue_token(
    State(state): State<AppState>,
    current: CurrentUser,
) -> Result<Json<variosync_auth::AccessToken>, ApiError> {
    use crate::session::Credential;
    use variosync_auth::Origin;
    use variosync_domain::{ApiScope, ErrorKind, Role};
    let (origin, scope) = match current.credential {
        Credential::ApiKey { id, scope } => (Origin::ApiKey(id), scope),
        Credential::Session { id } => {
            let scope =
                if current.user.role == Role::Admin { ApiScope::Admin } else { ApiScope::Write };
            (Origin::Session(id), scope)
        }
        Credential::AccessToken { .. } | Credential::External => {
            return Err(ApiError::new(
                ErrorKind::Forbidden,
                "token_from_token",
                "mint access tokens from an API key or a session, not from another token",
            ));
        }
    };
    Ok(Json(state.tokens.mint(current.user.id, scope, origin)?))
}

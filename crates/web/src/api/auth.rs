//! Sign-up, sign-in and sign-out with a password.

use super::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_auth::SignedIn;
use variosync_domain::User;

use super::openapi::{Changing, Throttled};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::{CurrentUser, clear_session_cookie, cookie_for, csrf_token};
use crate::state::AppState;

pub(super) fn router(state: &AppState) -> OpenApiRouter<AppState> {
    let limited = OpenApiRouter::default()
        .routes(routes!(sign_up))
        .routes(routes!(sign_in))
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(request_magic_link))
        .routes(routes!(confirm_magic_link))
        .routes(routes!(verify_email))
        .routes(routes!(confirm_email_change))
        .route_layer(middleware::from_fn_with_state(state.clone(), crate::throttle::limit_by_ip));
    // Finishing a sign-up needs the mailed link's token, which no one guesses: it does not
    // spend the address's quota of attempts (a sign-up would otherwise cost two).
    limited.routes(routes!(confirm_sign_up)).routes(routes!(sign_out)).routes(routes!(issue_token))
}

/// An e-mail address and a password.
#[derive(Deserialize, ToSchema)]
struct Credentials {
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password)]
    password: String,
}

/// The address and password of a new account.
#[derive(Deserialize, ToSchema)]
struct NewAccount {
    #[schema(format = Email)]
    email: String,
    /// 10 to 256 characters, not one repeated character, not a common password.
    #[schema(format = Password, min_length = 10, max_length = 256)]
    password: String,
}

/// A new session: the account, the session and its CSRF token. The session's secret is in
/// the `Set-Cookie` header only.
#[derive(Serialize, ToSchema)]
#[schema(as = SignedIn)]
struct SignedInBody {
    user: User,
    session_id: variosync_domain::SessionId,
    /// When the session ends, however much it is used.
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

/// Sign up
///
/// Starts a sign-up with a password. The answer is the same whether or not the address has
/// an account: a new address is e-mailed a link that makes the account and signs it in
/// (`POST /auth/signup/confirm`); the owner of an existing account is told someone tried.
#[utoipa::path(
    post,
    path = "/auth/signup",
    tag = "auth",
    operation_id = "sign_up",
    request_body = NewAccount,
    responses(
        (status = 202, description = "Taken: the next step arrives by e-mail", body = Accepted),
        Throttled,
        (
            status = 400,
            description = "The address is not valid (`invalid_email`) or the password is too weak \
                (`weak_password`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<NewAccount>,
) -> Result<Response, ApiError> {
    state.accounts.sign_up(&form.email, &form.password, &client).await?;
    let message = "check your mail: a link to finish signing up is on its way";
    Ok((StatusCode::ACCEPTED, Json(Accepted { message })).into_response())
}

/// Finish signing up
///
/// Makes the account with the token of the link e-mailed at sign-up (its address is then
/// confirmed) and signs it in, once: the answer sets the session cookie.
#[utoipa::path(
    post,
    path = "/auth/signup/confirm",
    tag = "auth",
    operation_id = "confirm_sign_up",
    request_body = Token,
    responses(
        (
            status = 201,
            description = "Signed up and signed in",
            body = SignedInBody,
            headers(("Set-Cookie" = String, description = "The session cookie"))
        ),
        Throttled,
        (
            status = 401,
            description = "The link is invalid, used or expired (`invalid_token`)",
            body = ApiError
        ),
        (
            status = 403,
            description = "The account is disabled (`account_disabled`), or the request came from \
                a page of another site (`cross_origin`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn confirm_sign_up(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.confirm_sign_up(&form.token, &client).await?;
    Ok(signed_in(&state, StatusCode::CREATED, signed))
}

/// Sign in
///
/// Signs in with address and password: the answer sets the session cookie.
#[utoipa::path(
    post,
    path = "/auth/signin",
    tag = "auth",
    operation_id = "sign_in",
    request_body = Credentials,
    responses(
        (
            status = 200,
            description = "Signed in",
            body = SignedInBody,
            headers(("Set-Cookie" = String, description = "The session cookie"))
        ),
        Throttled,
        (
            status = 401,
            description = "The address or the password is wrong (`wrong_credentials`)",
            body = ApiError
        ),
        (
            status = 403,
            description = "The account is disabled (`account_disabled`), or the request came from \
                a page of another site (`cross_origin`)",
            body = ApiError
        ),
        (
            status = 429,
            description = "Too many requests from this address, or too many failed sign-ins for \
                this account (`rate_limited`)",
            body = ApiError,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again."))
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn sign_in(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Credentials>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.sign_in(&form.email, &form.password, &client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

/// Sign out
///
/// Ends the session of the request (if it is one) and clears the session cookie.
#[utoipa::path(
    post,
    path = "/auth/signout",
    tag = "auth",
    operation_id = "sign_out",
    security(("bearer" = []), ("session" = [])),
    responses(
        (
            status = 204,
            description = "Signed out",
            headers(("Set-Cookie" = String, description = "Clears the session cookie"))
        ),
        Changing,
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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

/// Where to send a link.
#[derive(Deserialize, ToSchema)]
struct Address {
    #[schema(format = Email)]
    email: String,
}

/// The token of an e-mailed link.
#[derive(Deserialize, ToSchema)]
#[schema(as = LinkToken)]
struct Token {
    token: String,
}

/// The token of a password-reset link and the new password.
#[derive(Deserialize, ToSchema)]
#[schema(as = PasswordReset)]
struct Reset {
    token: String,
    /// 10 to 256 characters, not one repeated character, not a common password.
    #[schema(format = Password, min_length = 10, max_length = 256)]
    new_password: String,
}

/// A request was taken; what happens next arrives by e-mail, if at all.
#[derive(Serialize, ToSchema)]
struct Accepted {
    message: &'static str,
}

/// The same answer whether or not the address has an account.
fn link_sent() -> Response {
    let message = "if the address can receive it, a link is on its way";
    (StatusCode::ACCEPTED, Json(Accepted { message })).into_response()
}

/// Ask for a password-reset link
///
/// E-mails a link to reset the password if the address has an active account. The answer
/// is the same either way.
#[utoipa::path(
    post,
    path = "/auth/password-reset",
    tag = "auth",
    operation_id = "request_password_reset",
    request_body = Address,
    responses((status = 202, description = "Taken", body = Accepted), Throttled)
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn request_reset(
    State(state): State<AppState>,
    Json(form): Json<Address>,
) -> Result<Response, ApiError> {
    state.accounts.request_password_reset(&form.email).await?;
    Ok(link_sent())
}

/// Reset the password
///
/// Sets a new password with the token of a reset link, and ends every session of the
/// account.
#[utoipa::path(
    post,
    path = "/auth/password-reset/confirm",
    tag = "auth",
    operation_id = "reset_password",
    request_body = Reset,
    responses(
        (status = 204, description = "The password is changed"),
        Throttled,
        (
            status = 400,
            description = "The password is too weak (`weak_password`)",
            body = ApiError
        ),
        (
            status = 401,
            description = "The link is invalid, used or expired (`invalid_token`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn confirm_reset(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Reset>,
) -> Result<StatusCode, ApiError> {
    state.accounts.reset_password(&form.token, &form.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ask for a sign-in link
///
/// E-mails a link that signs in without a password (and makes an account for an address
/// that has none). The answer is the same whether or not the address has an account.
#[utoipa::path(
    post,
    path = "/auth/magic-link",
    tag = "auth",
    operation_id = "request_magic_link",
    request_body = Address,
    responses((status = 202, description = "Taken", body = Accepted), Throttled)
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn request_magic_link(
    State(state): State<AppState>,
    Json(form): Json<Address>,
) -> Result<Response, ApiError> {
    state.accounts.request_magic_link(&form.email).await?;
    Ok(link_sent())
}

/// Sign in with a link
///
/// Signs in with the token of a sign-in link, once: the answer sets the session cookie.
#[utoipa::path(
    post,
    path = "/auth/magic-link/confirm",
    tag = "auth",
    operation_id = "sign_in_with_link",
    request_body = Token,
    responses(
        (
            status = 200,
            description = "Signed in",
            body = SignedInBody,
            headers(("Set-Cookie" = String, description = "The session cookie"))
        ),
        Throttled,
        (
            status = 401,
            description = "The link is invalid, used or expired (`invalid_token`)",
            body = ApiError
        ),
        (
            status = 403,
            description = "The account is disabled (`account_disabled`), or the request came from \
                a page of another site (`cross_origin`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn confirm_magic_link(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Response, ApiError> {
    let signed = state.accounts.sign_in_with_link(&form.token, &client).await?;
    Ok(signed_in(&state, StatusCode::OK, signed))
}

/// Confirm an address
///
/// Confirms the address of an account with the token of the link e-mailed at sign-up.
#[utoipa::path(
    post,
    path = "/auth/verify-email",
    tag = "auth",
    operation_id = "verify_email",
    request_body = Token,
    responses(
        (status = 200, description = "The account, its address confirmed", body = User),
        Throttled,
        (
            status = 401,
            description = "The link is invalid, used or expired (`invalid_token`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.accounts.verify_email(&form.token, &client).await?))
}

/// Confirm a new address
///
/// Makes the new address the account's sign-in address, with the token of the link
/// e-mailed to it (`POST /api/v1/me/email`).
#[utoipa::path(
    post,
    path = "/auth/email-change/confirm",
    tag = "auth",
    operation_id = "confirm_email_change",
    request_body = Token,
    responses(
        (status = 200, description = "The account with its new address", body = User),
        Throttled,
        (
            status = 401,
            description = "The link is invalid, used or expired (`invalid_token`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "The address got an account meanwhile (`email_taken`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Client(client): Client,
    Json(form): Json<Token>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.accounts.confirm_email_change(&form.token, &client).await?))
}

/// Mint an access token
///
/// Mints a short-lived access token from the API key or session of the request. The token
/// carries the key's scope (an admin's session gives admin scope, a user's session write)
/// and stops working when that key or session is revoked.
#[utoipa::path(
    post,
    path = "/auth/token",
    tag = "auth",
    operation_id = "issue_token",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The token", body = variosync_auth::AccessToken),
        Changing,
        (
            status = 403,
            description = "The credential is itself an access token or an external token \
                (`token_from_token`), or a session request has no CSRF token (`csrf_failed`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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

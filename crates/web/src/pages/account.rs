//! The account settings page: balance, sessions, API keys, password, sign-out and deletion.
//! Signed in by cookie only; every form carries the session's CSRF token.

use askama::Template;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use variosync_domain::{ApiScope, SessionId, User};

use super::render;
use crate::client::Client;
use crate::session::{SESSION_COOKIE, clear_session_cookie, cookie, csrf_token};
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(show))
        .route("/account/signout", post(sign_out))
        .route("/account/sessions/{id}/revoke", post(revoke_session))
        .route("/account/api-keys", post(create_key))
        .route("/account/api-keys/{id}/revoke", post(revoke_key))
        .route("/account/password", post(change_password))
        .route("/account/email", post(change_email))
        .route("/account/delete", post(delete))
}

/// The user of a page request, signed in by cookie; anyone else is sent to the sign-in page.
pub(super) struct PageUser {
    user: User,
    session: SessionId,
    csrf: String,
}

impl FromRequestParts<AppState> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_signin = || Redirect::to("/signin").into_response();
        let secret = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(to_signin)?;
        match state.accounts.authenticate_session(secret).await {
            Ok(Some((user, session))) => {
                Ok(Self { user, session: session.id, csrf: csrf_token(secret) })
            }
            Ok(None) => Err(to_signin()),
            Err(error) => Err(crate::ApiError::from(error).into_response()),
        }
    }
}

impl PageUser {
    /// The signed-in account.
    pub(super) fn user(&self) -> &User {
        &self.user
    }

    /// The session's CSRF token, for forms and scripts of the page.
    /// The acting principal for the use cases: this user (a browser session may do all its
    /// role allows), from `client`.
    pub(super) fn principal(
        &self,
        client: &variosync_auth::ClientInfo,
    ) -> variosync_app::Principal {
        variosync_app::Principal::person(
            self.user.id,
            self.user.role,
            client.ip.clone(),
            client.user_agent.clone(),
        )
    }

    /// The acting principal for reading: no change is made, so nothing is audited.
    pub(super) fn reader(&self) -> variosync_app::Principal {
        variosync_app::Principal::person(self.user.id, self.user.role, None, None)
    }

    pub(super) fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether a form carries this session's CSRF token.
    pub(super) fn csrf_ok(&self, sent: &str) -> bool {
        sent.as_bytes().ct_eq(self.csrf.as_bytes()).into()
    }
}

/// The answer to a form without the session's CSRF token.
pub(super) fn stale_form() -> Response {
    (StatusCode::FORBIDDEN, "the form is stale or came from another site; reload the page")
        .into_response()
}

struct SessionRow {
    id: String,
    created: String,
    last_seen: String,
    from: String,
    current: bool,
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    scope: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    email: String,
    admin: bool,
    verified: bool,
    balance: String,
    csrf: String,
    sessions: Vec<SessionRow>,
    keys: Vec<KeyRow>,
    error: Option<String>,
    notice: Option<String>,
    new_key: Option<String>,
}

pub(super) fn when(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn session_row(s: variosync_store::Session, current: SessionId) -> SessionRow {
    SessionRow {
        id: s.id.to_string(),
        created: when(s.created_at),
        last_seen: when(s.last_seen_at),
        from: [s.ip.unwrap_or_default(), s.user_agent.unwrap_or_default()].join(" "),
        current: s.id == current,
    }
}

fn key_row(k: variosync_store::ApiKey) -> KeyRow {
    KeyRow {
        id: k.id.to_string(),
        name: k.name,
        prefix: k.prefix,
        scope: k.scope.to_string(),
        last_used: k.last_used_at.map(when).unwrap_or_else(|| "never".into()),
        revoked: k.revoked_at.is_some(),
    }
}

async fn account_page(
    state: &AppState,
    current: &PageUser,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    new_key: Option<String>,
) -> Response {
    let id = current.user.id;
    let loaded = async {
        let balance = state.app.balance(&current.reader()).await?;
        let sessions = state.accounts.sessions(id).await?;
        let keys = state.accounts.api_keys(id).await?;
        Ok::<_, crate::ApiError>((balance, sessions, keys))
    };
    let (balance, sessions, keys) = match loaded.await {
        Ok(loaded) => loaded,
        Err(error) => return error.into_response(),
    };
    let page = AccountPage {
        email: current.user.email.to_string(),
        admin: current.user.role == variosync_domain::Role::Admin,
        verified: current.user.email_verified_at.is_some(),
        balance: balance.to_string(),
        csrf: current.csrf.clone(),
        sessions: sessions.into_iter().map(|s| session_row(s, current.session)).collect(),
        keys: keys.into_iter().map(key_row).collect(),
        error,
        notice,
        new_key,
    };
    (status, render(&page)).into_response()
}

/// The account page again, with the reason an action was refused.
async fn refused(state: &AppState, current: &PageUser, error: variosync_auth::Error) -> Response {
    let error = crate::ApiError::from(error);
    account_page(state, current, error.status(), Some(error.message().to_owned()), None, None).await
}

async fn show(State(state): State<AppState>, current: PageUser) -> Response {
    account_page(&state, &current, StatusCode::OK, None, None, None).await
}

#[derive(Deserialize)]
pub(super) struct Csrf {
    pub(super) csrf_token: String,
}

async fn sign_out(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Form(form): Form<Csrf>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    if let Err(error) = state.accounts.sign_out(current.user.id, current.session, &client).await {
        return crate::ApiError::from(error).into_response();
    }
    (
        [(header::SET_COOKIE, clear_session_cookie(state.http.secure_cookies()))],
        Redirect::to("/signin"),
    )
        .into_response()
}

async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    let Ok(id) = id.parse::<SessionId>() else { return Redirect::to("/account").into_response() };
    match state.accounts.revoke_session(current.user.id, id, &client).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
struct NewKey {
    csrf_token: String,
    name: String,
    scope: ApiScope,
}

async fn create_key(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Form(form): Form<NewKey>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    match state.accounts.create_api_key(current.user.id, &form.name, form.scope, &client).await {
        Ok((_, secret)) => {
            account_page(&state, &current, StatusCode::CREATED, None, None, Some(secret.expose()))
                .await
        }
        Err(error) => refused(&state, &current, error).await,
    }
}

async fn revoke_key(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    let Ok(id) = id.parse() else { return Redirect::to("/account").into_response() };
    match state.accounts.revoke_api_key(current.user.id, id, &client).await {
        Ok(_) => Redirect::to("/account").into_response(),
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf_token: String,
    #[serde(default)]
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Form(form): Form<PasswordForm>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    let result = state
        .accounts
        .change_password(
            &current.user,
            &form.current_password,
            &form.new_password,
            Some(current.session),
            &client,
        )
        .await;
    match result {
        Ok(()) => {
            let notice = "Password changed; your other sessions were signed out.".to_owned();
            account_page(&state, &current, StatusCode::OK, None, Some(notice), None).await
        }
        Err(error) => refused(&state, &current, error).await,
    }
}

async fn delete(
    State(state): State<AppState>,
    Client(client): Client,
    current: PageUser,
    Form(form): Form<Csrf>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    match state.accounts.delete_account(current.user.id, &client).await {
        Ok(()) => (
            [(header::SET_COOKIE, clear_session_cookie(state.http.secure_cookies()))],
            render(&super::auth::Message {
                heading: "Account deleted",
                message: "Your account and its data are gone.",
                next: "/",
            }),
        )
            .into_response(),
        Err(error) => crate::ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
struct EmailForm {
    csrf_token: String,
    new_email: String,
    #[serde(default)]
    password: String,
}

async fn change_email(
    State(state): State<AppState>,
    current: PageUser,
    Form(form): Form<EmailForm>,
) -> Response {
    if !current.csrf_ok(&form.csrf_token) {
        return stale_form();
    }
    match state.accounts.request_email_change(&current.user, &form.new_email, &form.password).await
    {
        Ok(()) => {
            let notice = "A confirmation link is on its way to the new address; the change happens when you open it.";
            account_page(&state, &current, StatusCode::OK, None, Some(notice.to_owned()), None)
                .await
        }
        Err(error) => refused(&state, &current, error).await,
    }
}

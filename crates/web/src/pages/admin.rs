//! The admin pages: accounts (disable, enable, grant hours), everyone's jobs (cancel, run
//! again) and the audit log. Only admins see them; every form carries the CSRF token.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use variosync_domain::Role;
use variosync_store::Access;
use variosync_store::audit::AuditFilter;

use super::account::{Csrf, PageUser, stale_form, when};
use super::render;
use super::work::JobRow;
use crate::client::Client;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(users_page))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/hours", post(grant))
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/jobs/{id}/cancel", post(cancel_job))
        .route("/admin/jobs/{id}/retry", post(retry_job))
        .route("/admin/audit", get(audit_page))
}

/// The answer to someone who is not an admin.
fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, "this page is for admins").into_response()
}

fn is_admin(user: &PageUser) -> bool {
    user.user().role == Role::Admin
}

/// Why a request cannot go on: not an admin, or (for a form) a stale CSRF token.
fn refused(admin: &PageUser, csrf: Option<&str>) -> Option<Response> {
    if !is_admin(admin) {
        Some(forbidden())
    } else if csrf.is_some_and(|token| !admin.csrf_ok(token)) {
        Some(stale_form())
    } else {
        None
    }
}

struct UserRow {
    id: String,
    email: String,
    role: String,
    verified: bool,
    disabled: bool,
    created: String,
    balance: String,
    myself: bool,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    csrf: String,
    users: Vec<UserRow>,
    total: u64,
    error: Option<String>,
    notice: Option<String>,
}

async fn users_listing(
    state: &AppState,
    admin: &PageUser,
    error: Option<String>,
    notice: Option<String>,
) -> Result<Response, crate::ApiError> {
    let users = state.accounts.list_users(None, 200).await?;
    let total = state.backends.users().count(Access::System).await?;
    let mut rows = Vec::with_capacity(users.len());
    for user in &users {
        let balance = state.app.balance_of(&admin.reader(), user.id).await?;
        rows.push(UserRow {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            role: user.role.as_str().to_owned(),
            verified: user.email_verified_at.is_some(),
            disabled: user.disabled_at.is_some(),
            created: when(user.created_at),
            balance: balance.to_string(),
            myself: user.id == admin.user().id,
        });
    }
    Ok(render(&UsersPage { csrf: admin.csrf().to_owned(), users: rows, total, error, notice }))
}

async fn users_page(
    State(state): State<AppState>,
    admin: PageUser,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(&admin, None) {
        return Ok(refusal);
    }
    users_listing(&state, &admin, None, None).await
}

async fn set_disabled(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    admin: &PageUser,
    id: &str,
    csrf: &str,
    disabled: bool,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(admin, Some(csrf)) {
        return Ok(refusal);
    }
    let user = crate::api::admin::user_id(id)?;
    match state.accounts.set_disabled(admin.user().id, user, disabled, client).await {
        Ok(_) => Ok(Redirect::to("/admin").into_response()),
        Err(error) => {
            let message = crate::ApiError::from(error).message().to_owned();
            users_listing(state, admin, Some(message), None).await
        }
    }
}

async fn disable(
    State(state): State<AppState>,
    Client(client): Client,
    admin: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, crate::ApiError> {
    set_disabled(&state, &client, &admin, &id, &form.csrf_token, true).await
}

async fn enable(
    State(state): State<AppState>,
    Client(client): Client,
    admin: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, crate::ApiError> {
    set_disabled(&state, &client, &admin, &id, &form.csrf_token, false).await
}

#[derive(Deserialize)]
struct GrantForm {
    csrf_token: String,
    hours: String,
    reason: String,
}

async fn grant(
    State(state): State<AppState>,
    Client(client): Client,
    admin: PageUser,
    Path(id): Path<String>,
    Form(form): Form<GrantForm>,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(&admin, Some(&form.csrf_token)) {
        return Ok(refusal);
    }
    let user = crate::api::admin::user_id(&id)?;
    let granted = async {
        let hours: f64 = form.hours.trim().parse().map_err(|_| {
            crate::ApiError::new(
                variosync_domain::ErrorKind::InvalidInput,
                "invalid_hours",
                format!("{:?} is not a number of hours", form.hours),
            )
        })?;
        let principal = admin.principal(&client);
        Ok::<_, crate::ApiError>(
            state.app.grant_hours(&principal, user, hours, &form.reason).await?,
        )
    }
    .await;
    match granted {
        Ok(entry) => {
            let notice = format!("Done: the balance is now {}.", entry.balance);
            users_listing(&state, &admin, None, Some(notice)).await
        }
        Err(error) => users_listing(&state, &admin, Some(error.message().to_owned()), None).await,
    }
}

#[derive(Template)]
#[template(path = "admin_jobs.html")]
struct JobsPage {
    csrf: String,
    jobs: Vec<JobRow>,
    error: Option<String>,
}

async fn jobs_listing(
    state: &AppState,
    admin: &PageUser,
    error: Option<String>,
) -> Result<Response, crate::ApiError> {
    let query = variosync_app::jobs::ListJobs { status: None, limit: Some(200) };
    let jobs = state.app.list_jobs(&admin.reader(), &query, true).await?;
    Ok(render(&JobsPage {
        csrf: admin.csrf().to_owned(),
        jobs: jobs.iter().map(JobRow::from).collect(),
        error,
    }))
}

async fn jobs_page(
    State(state): State<AppState>,
    admin: PageUser,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(&admin, None) {
        return Ok(refusal);
    }
    jobs_listing(&state, &admin, None).await
}

async fn cancel_job(
    State(state): State<AppState>,
    Client(client): Client,
    admin: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, crate::ApiError> {
    job_action(&state, &client, &admin, &id, &form.csrf_token, false).await
}

async fn retry_job(
    State(state): State<AppState>,
    Client(client): Client,
    admin: PageUser,
    Path(id): Path<String>,
    Form(form): Form<Csrf>,
) -> Result<Response, crate::ApiError> {
    job_action(&state, &client, &admin, &id, &form.csrf_token, true).await
}

/// Cancels job `id`, or with `retry` runs it again, and shows the jobs.
async fn job_action(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    admin: &PageUser,
    id: &str,
    csrf: &str,
    retry: bool,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(admin, Some(csrf)) {
        return Ok(refusal);
    }
    let principal = admin.principal(client);
    let done = async {
        let id = variosync_app::jobs::parse_job_id(id)?;
        if retry {
            state.app.retry_job(&principal, id).await
        } else {
            state.app.cancel_job(&principal, id, true).await
        }
    }
    .await;
    match done {
        Ok(_) => Ok(Redirect::to("/admin/jobs").into_response()),
        Err(error) => {
            jobs_listing(state, admin, Some(crate::ApiError::from(error).message().to_owned()))
                .await
        }
    }
}

struct AuditRow {
    when: String,
    action: String,
    user: String,
    actor: String,
    from: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    entries: Vec<AuditRow>,
}

async fn audit_page(
    State(state): State<AppState>,
    admin: PageUser,
) -> Result<Response, crate::ApiError> {
    if let Some(refusal) = refused(&admin, None) {
        return Ok(refusal);
    }
    let filter = AuditFilter { limit: 200, ..AuditFilter::default() };
    let entries = state.backends.audit().list(Access::System, &filter).await?;
    let id =
        |user: Option<variosync_domain::UserId>| user.map(|u| u.to_string()).unwrap_or_default();
    Ok(render(&AuditPage {
        entries: entries
            .iter()
            .map(|e| AuditRow {
                when: when(e.created_at),
                action: e.action.as_str().to_owned(),
                user: id(e.user_id),
                actor: id(e.actor_id),
                from: e.ip.clone().unwrap_or_default(),
                detail: e.detail.to_string(),
            })
            .collect(),
    }))
}

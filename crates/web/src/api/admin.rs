//! Admin endpoints: accounts, their status and role, and hour grants. Every handler starts
//! with [`CurrentUser::require_admin`].

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use variosync_domain::{ErrorKind, Hours, Role, User, UserId};
use variosync_store::LedgerEntry;

use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list))
        .route("/admin/users/{id}/disable", post(disable))
        .route("/admin/users/{id}/enable", post(enable))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/hours", post(grant_hours))
}

#[derive(Deserialize)]
struct Page {
    after: Option<UserId>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<Vec<User>>, ApiError> {
    current.require_admin()?;
    let limit = page.limit.unwrap_or(100).clamp(1, 500);
    Ok(Json(state.accounts.list_users(page.after, limit).await?))
}

fn user_id(text: &str) -> Result<UserId, ApiError> {
    super::parse_id(text, "user_not_found")
}

async fn disable(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    set_disabled(&state, &client, &current, &id, true).await
}

async fn enable(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    set_disabled(&state, &client, &current, &id, false).await
}

#[tracing::instrument(skip_all, fields(disabled), err)]
async fn set_disabled(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    current: &CurrentUser,
    id: &str,
    disabled: bool,
) -> Result<Json<User>, ApiError> {
    current.require_admin()?;
    Ok(Json(state.accounts.set_disabled(current.user.id, user_id(id)?, disabled, client).await?))
}

#[derive(Deserialize)]
struct RoleChange {
    role: Role,
}

#[tracing::instrument(skip_all, err)]
async fn set_role(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<RoleChange>,
) -> Result<Json<User>, ApiError> {
    current.require_admin()?;
    Ok(Json(state.accounts.set_role(current.user.id, user_id(&id)?, change.role, &client).await?))
}

#[derive(Deserialize)]
struct Grant {
    /// Decimal hours; negative takes hours back.
    hours: f64,
    reason: String,
}

#[tracing::instrument(skip_all, err)]
async fn grant_hours(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
    Json(grant): Json<Grant>,
) -> Result<Json<LedgerEntry>, ApiError> {
    current.require_admin()?;
    let hours = Hours::from_hours_f64(grant.hours)
        .filter(|hours| *hours != Hours::ZERO && hours.as_hours_f64().abs() <= 100_000.0)
        .ok_or_else(|| {
            ApiError::new(
                ErrorKind::InvalidInput,
                "invalid_hours",
                "hours must be a non-zero number of at most 100000",
            )
        })?;
    let user = user_id(&id)?;
    Ok(Json(
        state.accounts.grant_hours(current.user.id, user, hours, &grant.reason, &client).await?,
    ))
}

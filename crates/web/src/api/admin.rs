//! Admin endpoints: accounts, their status and role, and hour grants. Every handler starts
//! with [`CurrentUser::require_admin`].

use super::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{Role, User, UserId};
use variosync_store::LedgerEntry;

use super::openapi::AdminOnly;
use crate::client::Client;
use crate::error::ApiError;
use crate::session::{Actor, CurrentUser};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(set_role))
        .routes(routes!(grant_hours))
}

/// A page of accounts, in the order they were made.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Page {
    /// The id of the last account of the previous page.
    #[param(inline)]
    after: Option<UserId>,
    /// How many accounts, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// List accounts
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    operation_id = "list_users",
    security(("bearer" = []), ("session" = [])),
    params(Page),
    responses((status = 200, description = "A page of accounts", body = Vec<User>), AdminOnly)
)]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(page): Query<Page>,
) -> Result<Json<Vec<User>>, ApiError> {
    current.require_admin()?;
    let limit = variosync_app::Error::bounded("limit", page.limit, 100, 1, 500)?;
    Ok(Json(state.accounts.list_users(page.after, limit).await?))
}

pub(crate) fn user_id(text: &str) -> Result<UserId, ApiError> {
    super::parse_id(text, "user_not_found")
}

/// Disable an account
///
/// The account can no longer sign in, and every session of it ends.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/disable",
    tag = "admin",
    operation_id = "disable_user",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The disabled account", body = User),
        AdminOnly,
        (
            status = 404,
            description = "There is no such account (`user_not_found`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "An admin cannot disable their own account (`self_lockout`)",
            body = ApiError
        ),
    )
)]
async fn disable(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    set_disabled(&state, &client, &current, &id, true).await
}

/// Enable an account
#[utoipa::path(
    post,
    path = "/admin/users/{id}/enable",
    tag = "admin",
    operation_id = "enable_user",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    responses(
        (status = 200, description = "The enabled account", body = User),
        AdminOnly,
        (
            status = 404,
            description = "There is no such account (`user_not_found`)",
            body = ApiError
        ),
    )
)]
async fn enable(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    set_disabled(&state, &client, &current, &id, false).await
}

#[tracing::instrument(skip_all, fields(disabled), err(level = "warn"))]
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

/// The account's new role.
#[derive(Deserialize, ToSchema)]
struct RoleChange {
    role: Role,
}

/// Change an account's role
#[utoipa::path(
    post,
    path = "/admin/users/{id}/role",
    tag = "admin",
    operation_id = "set_user_role",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    request_body = RoleChange,
    responses(
        (status = 200, description = "The account with its new role", body = User),
        AdminOnly,
        (
            status = 404,
            description = "There is no such account (`user_not_found`)",
            body = ApiError
        ),
        (
            status = 409,
            description = "An admin cannot demote their own account (`self_lockout`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
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

/// Hours to add to an account's balance, and why.
#[derive(Deserialize, ToSchema)]
#[schema(as = HourGrant)]
struct Grant {
    /// Decimal hours; negative takes hours back.
    hours: f64,
    /// Why, in words (1 to 500 characters); the account's owner sees it in their ledger.
    reason: String,
}

/// Grant hours
///
/// Adds hours to an account's balance, or with a negative amount takes them back (never
/// below zero), as one ledger entry.
#[utoipa::path(
    post,
    path = "/admin/users/{id}/hours",
    tag = "admin",
    operation_id = "grant_hours",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The account's id")),
    request_body = Grant,
    responses(
        (status = 200, description = "The new ledger entry", body = LedgerEntry),
        AdminOnly,
        (
            status = 400,
            description = "The hours are zero or beyond 100000 (`invalid_hours`), or the reason \
                is empty or too long (`invalid_reason`)",
            body = ApiError
        ),
        (
            status = 402,
            description = "Taking back more hours than the balance holds (`insufficient_hours`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "There is no such account (`user_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn grant_hours(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Json(grant): Json<Grant>,
) -> Result<Json<LedgerEntry>, ApiError> {
    let user = user_id(&id)?;
    Ok(Json(state.app.grant_hours(&principal, user, grant.hours, &grant.reason).await?))
}

//! The audit log: a user's own entries, or everyone's for an admin.

use super::Json;
use axum::extract::{Query, State};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{AuditAction, AuditEntryId, UserId};
use variosync_store::{Access, AuditEntry, AuditFilter};

use super::openapi::Reading;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The largest page.
const MAX_LIMIT: u32 = 500;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(list))
}

/// Which entries, newest first.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// Only entries of this action.
    #[param(inline)]
    action: Option<AuditAction>,
    /// Only entries at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Only entries before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// The id of the last entry of the previous page.
    #[param(inline)]
    before: Option<AuditEntryId>,
    /// Only entries of this account (admins only; ignored for others).
    #[param(inline)]
    user_id: Option<UserId>,
    /// How many entries, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// Read the audit log
///
/// The signed-in user's own entries, newest first; an admin's credential with the `admin`
/// scope sees everyone's.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    operation_id = "list_audit_entries",
    security(("bearer" = []), ("session" = [])),
    params(Params),
    responses((status = 200, description = "A page of entries", body = Vec<AuditEntry>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(params): Query<Params>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let is_admin = current.require_admin().is_ok();
    let access = if is_admin { Access::System } else { Access::person(current.user.id) };
    let filter = AuditFilter {
        user_id: if is_admin { params.user_id } else { Some(current.user.id) },
        action: params.action,
        from: params.from,
        to: params.to,
        before: params.before,
        limit: variosync_app::Error::bounded("limit", params.limit, 100, 1, MAX_LIMIT)?,
    };
    Ok(Json(state.backends.audit().list(access, &filter).await?))
}

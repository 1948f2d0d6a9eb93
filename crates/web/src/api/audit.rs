//! The audit log: a user's own entries, or everyone's for an admin.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use variosync_domain::{AuditAction, AuditEntryId, UserId};
use variosync_store::{Access, AuditEntry, AuditFilter};

use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The largest page.
const MAX_LIMIT: u32 = 500;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Deserialize)]
struct Params {
    action: Option<AuditAction>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    before: Option<AuditEntryId>,
    user_id: Option<UserId>,
    limit: Option<u32>,
}

async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(params): Query<Params>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let is_admin = current.require_admin().is_ok();
    let access = if is_admin { Access::System } else { Access::User(current.user.id) };
    let filter = AuditFilter {
        user_id: if is_admin { params.user_id } else { Some(current.user.id) },
        action: params.action,
        from: params.from,
        to: params.to,
        before: params.before,
        limit: params.limit.unwrap_or(100).clamp(1, MAX_LIMIT),
    };
    Ok(Json(state.backends.audit().list(access, &filter).await?))
}

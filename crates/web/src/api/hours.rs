//! The signed-in user's hour balance and ledger.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use variosync_domain::{Hours, LedgerEntryId};
use variosync_store::{Access, LedgerEntry};

use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/hours", get(show))
}

#[derive(Deserialize)]
struct Params {
    before: Option<LedgerEntryId>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct Ledger {
    balance: Hours,
    entries: Vec<LedgerEntry>,
}

async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(params): Query<Params>,
) -> Result<Json<Ledger>, ApiError> {
    let id = current.user.id;
    let ledger = state.backends.ledger();
    let balance = ledger.balance(Access::User(id), id).await?;
    let limit = params.limit.unwrap_or(100).clamp(1, 500);
    let entries = ledger.entries(Access::User(id), id, params.before, limit).await?;
    Ok(Json(Ledger { balance, entries }))
}

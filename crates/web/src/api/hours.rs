//! The signed-in user's hour balance and ledger.

use super::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{Hours, LedgerEntryId};
use variosync_store::LedgerEntry;

use super::openapi::Reading;
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default().routes(routes!(show))
}

/// Which ledger entries, newest first.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct Params {
    /// The id of the last entry of the previous page.
    #[param(inline)]
    before: Option<LedgerEntryId>,
    /// How many entries, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// The balance and a page of the ledger.
#[derive(Serialize, ToSchema)]
struct Ledger {
    balance: Hours,
    /// Newest first.
    entries: Vec<LedgerEntry>,
}

/// Read the hour balance
///
/// The signed-in user's compute-hour balance and a page of its ledger, newest first.
#[utoipa::path(
    get,
    path = "/hours",
    tag = "hours",
    operation_id = "get_hours",
    security(("bearer" = []), ("session" = [])),
    params(Params),
    responses((status = 200, description = "The balance and ledger", body = Ledger), Reading)
)]
async fn show(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(params): Query<Params>,
) -> Result<Json<Ledger>, ApiError> {
    let balance = state.app.balance(&principal).await?;
    let entries = state.app.ledger(&principal, params.before, params.limit).await?;
    Ok(Json(Ledger { balance, entries }))
}

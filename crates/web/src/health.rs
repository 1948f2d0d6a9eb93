//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use variosync_store::Check;

use crate::state::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

#[derive(Serialize)]
struct Liveness {
    status: &'static str,
    version: &'static str,
}

/// The process is up and serving; says nothing about its backends, so an orchestrator does
/// not restart a healthy process because the database blipped.
async fn healthz(State(state): State<AppState>) -> Json<Liveness> {
    Json(Liveness { status: "ok", version: state.build.version })
}

#[derive(Serialize)]
struct ReadinessBody {
    status: &'static str,
    /// Names of the failed checks, for a quick look.
    failed: Vec<&'static str>,
    checks: Vec<Check>,
}

/// Every configured backend answers: 200 when all do, 503 naming those that do not.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = state.backends.readiness().await;
    let failed: Vec<&'static str> =
        readiness.checks.iter().filter(|check| !check.ok).map(|check| check.name).collect();
    let (status, word) = if readiness.ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    (status, Json(ReadinessBody { status: word, failed, checks: readiness.checks }))
}

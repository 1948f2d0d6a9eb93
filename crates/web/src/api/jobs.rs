//! Background jobs: the caller's jobs, one job, cancelling it, a live stream of job events,
//! the hours used by day and kind; for admins, everyone's jobs, cancel and retry. Jobs are
//! submitted by the endpoints that start heavy work (completing a large upload, ...), with
//! their estimated hours reserved; a submission the balance cannot cover answers 402.

use super::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_app::jobs::{ListJobs, UsageReport, parse_job_id};
use variosync_store::jobs::Job;

use super::openapi::{AdminOnly, Changing, Reading};
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(list))
        .routes(routes!(events))
        .routes(routes!(show))
        .routes(routes!(cancel))
        .routes(routes!(usage))
        .routes(routes!(admin_list))
        .routes(routes!(admin_cancel))
        .routes(routes!(admin_retry))
}

/// The `Idempotency-Key` header, if sent: 1 to 200 visible characters.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    // A header that is not visible text is as invalid as an empty one.
    Ok(variosync_app::jobs::idempotency_key(Some(value.to_str().unwrap_or_default()))?)
}

/// 202 with the job and its address in `Location`.
pub(super) fn accepted(job: Job) -> Response {
    let location = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)).ok();
    let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// Which jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only jobs in this state: `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    #[param(pattern = "^(queued|running|succeeded|failed|cancelled)$")]
    status: Option<String>,
    /// How many, newest first, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

impl From<ListParams> for ListJobs {
    fn from(params: ListParams) -> Self {
        Self { status: params.status, limit: params.limit }
    }
}

/// List jobs
///
/// The caller's jobs, newest first.
#[utoipa::path(
    get,
    path = "/jobs",
    tag = "jobs",
    operation_id = "list_jobs",
    security(("bearer" = []), ("session" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "The jobs, newest first", body = Vec<Job>),
        Reading,
        (status = 400, description = "An unknown status (`invalid_status`)", body = ApiError),
    )
)]
async fn list(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Job>>, ApiError> {
    Ok(Json(state.app.list_jobs(&principal, &params.into(), false).await?))
}

/// Read a job
///
/// Its state, progress, attempts, hours reserved and charged, and its result or error.
#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "jobs",
    operation_id = "get_job",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = Job),
        Reading,
        (status = 404, description = "There is no such job (`job_not_found`)", body = ApiError),
    )
)]
async fn show(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(state.app.job(&principal, parse_job_id(&id)?).await?))
}

/// Cancel a job
///
/// A queued job stops at once and its whole reservation is given back; a running job is
/// asked to stop, and is charged the compute it used. A job that has ended stays as it is.
#[utoipa::path(
    post,
    path = "/jobs/{id}/cancel",
    tag = "jobs",
    operation_id = "cancel_job",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job after the request", body = Job),
        Changing,
        (status = 404, description = "There is no such job (`job_not_found`)", body = ApiError),
    )
)]
async fn cancel(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(state.app.cancel_job(&principal, parse_job_id(&id)?, false).await?))
}

/// Follow jobs live
///
/// A stream of server-sent events: one `job` event, whose data is the job as JSON, each time
/// one of the caller's jobs starts, reports progress or ends (from any worker or replica).
#[utoipa::path(
    get,
    path = "/jobs/events",
    tag = "jobs",
    operation_id = "job_events",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Server-sent events, `job` with the job as JSON", content_type = "text/event-stream", body = String),
        Reading,
    )
)]
async fn events(
    State(state): State<AppState>,
    current: crate::session::CurrentUser,
    crate::client::Client(client): crate::client::Client,
) -> Result<super::Events, ApiError> {
    let subscription = state.app.job_events(&current.principal(&client)).await?;
    Ok(super::event_stream(state, current, subscription, "job"))
}

/// Which days of usage.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageParams {
    /// How many days back, 1 to 366 (default 30).
    #[param(minimum = 1, maximum = 366)]
    days: Option<u32>,
}

/// Read usage
///
/// The hours charged for the caller's jobs, by day and job kind.
#[utoipa::path(
    get,
    path = "/usage",
    tag = "jobs",
    operation_id = "get_usage",
    security(("bearer" = []), ("session" = [])),
    params(UsageParams),
    responses((status = 200, description = "Hours by day and kind", body = UsageReport), Reading)
)]
async fn usage(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(params): Query<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    Ok(Json(state.app.usage(&principal, params.days).await?))
}

/// List everyone's jobs
#[utoipa::path(
    get,
    path = "/admin/jobs",
    tag = "admin",
    operation_id = "admin_list_jobs",
    security(("bearer" = []), ("session" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "Jobs of every user, newest first", body = Vec<Job>),
        AdminOnly,
        (status = 400, description = "An unknown status (`invalid_status`)", body = ApiError),
    )
)]
async fn admin_list(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Job>>, ApiError> {
    Ok(Json(state.app.list_jobs(&principal, &params.into(), true).await?))
}

/// Cancel anyone's job
#[utoipa::path(
    post,
    path = "/admin/jobs/{id}/cancel",
    tag = "admin",
    operation_id = "admin_cancel_job",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job after the request", body = Job),
        AdminOnly,
        (status = 404, description = "There is no such job (`job_not_found`)", body = ApiError),
    )
)]
async fn admin_cancel(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(state.app.cancel_job(&principal, parse_job_id(&id)?, true).await?))
}

/// Run a job again
///
/// Submits a copy of a failed or cancelled job for the same user, with the same
/// reservation (402 when their balance cannot cover it).
#[utoipa::path(
    post,
    path = "/admin/jobs/{id}/retry",
    tag = "admin",
    operation_id = "admin_retry_job",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The job's id")),
    responses(
        (status = 202, description = "The new job", body = Job),
        AdminOnly,
        (status = 402, description = "The owner's balance cannot cover it (`insufficient_hours`)", body = ApiError),
        (status = 404, description = "There is no such job (`job_not_found`)", body = ApiError),
        (status = 409, description = "The job has not failed or been cancelled (`job_not_retryable`)", body = ApiError),
    )
)]
async fn admin_retry(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(accepted(state.app.retry_job(&principal, parse_job_id(&id)?).await?))
}

//! Background jobs: the caller's jobs, one job, cancelling it, a live stream of job events,
//! the hours used by day and kind; for admins, everyone's jobs, cancel and retry. Jobs are
//! submitted by the endpoints that start heavy work (completing a large upload, ...), with
//! their estimated hours reserved; a submission the balance cannot cover answers 402.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{AuditAction, ErrorKind, Hours, JobId, UserId};
use variosync_store::jobs::{Job, JobStatus, NewJob, Usage};
use variosync_store::{Access, NewAuditEntry};

use super::openapi::{AdminOnly, Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 200;

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

fn not_found() -> ApiError {
    ApiError::new(ErrorKind::NotFound, "job_not_found", "there is no such job")
}

/// The `Idempotency-Key` header, if sent: a request sent again with the same key answers
/// the job the first one submitted.
pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(key) if !key.trim().is_empty() && key.len() <= MAX_KEY_LEN => {
            Ok(Some(key.trim().to_owned()))
        }
        _ => Err(ApiError::new(
            ErrorKind::InvalidInput,
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"),
        )),
    }
}

/// The answer to a request that started a job: 202, the job, and where to follow it.
pub(super) fn accepted(job: Job) -> Response {
    let location = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)).ok();
    let mut response = (StatusCode::ACCEPTED, Json(job)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

async fn record(
    state: &AppState,
    user: UserId,
    actor: Option<UserId>,
    client: &variosync_auth::ClientInfo,
    action: AuditAction,
    job: &Job,
) -> Result<(), ApiError> {
    let entry = NewAuditEntry {
        user_id: Some(user),
        actor_id: actor,
        action,
        detail: json!({ "job_id": job.id, "kind": job.kind, "reserved": job.reserved }),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    state.backends.audit().record(Access::System, entry).await?;
    Ok(())
}

/// Submits `new` for `user`, reserving its hours; 402 when the balance cannot cover them.
pub(super) async fn submit(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    user: UserId,
    new: &NewJob,
) -> Result<Job, ApiError> {
    match variosync_jobs::queue::submit(&state.backends, user, new).await {
        Ok((job, created)) => {
            if created {
                record(state, user, None, client, AuditAction::JobSubmitted, &job).await?;
            }
            Ok(job)
        }
        Err(variosync_store::Error::InsufficientHours) => {
            let balance = state.backends.ledger().balance(Access::User(user), user).await?;
            Err(ApiError::new(
                ErrorKind::PaymentRequired,
                "insufficient_hours",
                format!(
                    "this {} job needs {} reserved; the balance is {balance}: buy hours or \
                     ask an admin for a grant",
                    new.kind, new.reserve
                ),
            ))
        }
        Err(error) => Err(error.into()),
    }
}

/// Which jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only jobs in this state: `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    status: Option<String>,
    /// How many, newest first, 1 to 500 (default 50).
    limit: Option<u32>,
}

fn parse_status(text: Option<&str>) -> Result<Option<JobStatus>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    JobStatus::from_name(text).map(Some).ok_or_else(|| {
        ApiError::new(
            ErrorKind::InvalidInput,
            "invalid_status",
            format!("status must be queued, running, succeeded, failed or cancelled, not {text:?}"),
        )
    })
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
    current: CurrentUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Job>>, ApiError> {
    let status = parse_status(params.status.as_deref())?;
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let access = Access::User(current.user.id);
    Ok(Json(state.backends.jobs().list(access, status, limit).await?))
}

fn job_id(text: &str) -> Result<JobId, ApiError> {
    super::parse_id(text, "job_not_found")
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
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    let id = job_id(&id)?;
    let job = state.backends.jobs().get(Access::User(current.user.id), id).await?;
    Ok(Json(job.ok_or_else(not_found)?))
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
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    Ok(Json(cancel_job(&state, &client, current.user.id, false, &id).await?))
}

/// Cancels job `id`: one of `user`'s, or, with `admin`, anyone's (`user` is then recorded as
/// the admin who did it).
pub(crate) async fn cancel_job(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    user: UserId,
    admin: bool,
    id: &str,
) -> Result<Job, ApiError> {
    let id = job_id(id)?;
    let access = if admin { Access::System } else { Access::User(user) };
    let job = state.backends.jobs().cancel(access, id).await?.ok_or_else(not_found)?;
    let actor = admin.then_some(user);
    record(state, job.user_id, actor, client, AuditAction::JobCancelled, &job).await?;
    Ok(job)
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
    current: CurrentUser,
) -> Result<super::Events, ApiError> {
    let channel = variosync_jobs::queue::user_channel(current.user.id);
    super::event_stream(&state, &channel, "job").await
}

/// Which days of usage.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UsageParams {
    /// How many days back, 1 to 366 (default 30).
    days: Option<u32>,
}

/// The hours used.
#[derive(Debug, Serialize, ToSchema)]
struct UsageReport {
    /// The first day counted (UTC).
    since: chrono::DateTime<chrono::Utc>,
    /// Hours charged in all.
    total: Hours,
    /// Per day and job kind, newest day first.
    days: Vec<Usage>,
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
    current: CurrentUser,
    Query(params): Query<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    let days = i64::from(params.days.unwrap_or(30).clamp(1, 366));
    let today = chrono::Utc::now().date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let since = today - chrono::Duration::days(days - 1);
    let days = state.backends.jobs().usage(current.user.id, since).await?;
    let total = days.iter().map(|day| day.hours).sum();
    Ok(Json(UsageReport { since, total, days }))
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
    current: CurrentUser,
    Query(params): Query<ListParams>,
) -> Result<Json<Vec<Job>>, ApiError> {
    current.require_admin()?;
    let status = parse_status(params.status.as_deref())?;
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(state.backends.jobs().list(Access::System, status, limit).await?))
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
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Job>, ApiError> {
    current.require_admin()?;
    Ok(Json(cancel_job(&state, &client, current.user.id, true, &id).await?))
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
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    current.require_admin()?;
    let job = retry_job(&state, &client, current.user.id, &id).await?;
    Ok(accepted(job))
}

/// Submits a copy of the failed or cancelled job `id` for its owner, on `admin`'s request.
pub(crate) async fn retry_job(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    admin: UserId,
    id: &str,
) -> Result<Job, ApiError> {
    let id = job_id(id)?;
    let old = state.backends.jobs().get(Access::System, id).await?.ok_or_else(not_found)?;
    if !matches!(old.status, JobStatus::Failed | JobStatus::Cancelled) {
        return Err(ApiError::new(
            ErrorKind::Conflict,
            "job_not_retryable",
            "only a failed or cancelled job can be run again",
        ));
    }
    let new = NewJob {
        kind: old.kind.clone(),
        payload: old.payload.clone(),
        max_attempts: old.max_attempts,
        reserve: old.reserved,
        idempotency_key: None,
    };
    let job = submit(state, client, old.user_id, &new).await?;
    let admin = Some(admin);
    record(state, job.user_id, admin, client, AuditAction::JobRetried, &job).await?;
    Ok(job)
}

//! Forecasts: start one (a `forecast` job, paid by the hour) for a column of a series of a
//! dataset, list them, read one with its points, download its points as CSV, delete it.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_domain::{AuditAction, DatasetId, ErrorKind, ForecastId, UserId};
use variosync_forecast::Model;
use variosync_forecast::prophet::Event;
use variosync_forecast::run::{ModelForecast, RegressorInput, Request};
use variosync_jobs::forecast::{ForecastPayload, Points};
use variosync_store::jobs::NewJob;
use variosync_store::{Access, Forecast, NewAuditEntry, ObjectKey};

use super::datasets::{find, invalid, version_of};
use super::openapi::{Changing, Reading};
use crate::client::Client;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create, list))
        .routes(routes!(show, remove))
        .routes(routes!(download))
}

/// A forecast to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewForecastRequest {
    /// The dataset.
    #[schema(value_type = uuid::Uuid)]
    pub dataset_id: String,
    /// Its version (default: the current one).
    pub version: Option<u32>,
    /// The series.
    pub series: String,
    /// The numeric column to forecast.
    pub column: String,
    /// Models: `auto`, `ets`, `arima`, `theta`, `mstl`, `prophet`, `naive`,
    /// `seasonal_naive`, `drift` (default: `auto`).
    #[serde(default)]
    pub models: Vec<String>,
    /// Steps to forecast, on the series' own calendar.
    pub horizon: usize,
    /// Interval levels in percent (default: 80 and 95).
    pub levels: Option<Vec<f64>>,
    /// Rolling-origin backtest windows (default 3).
    pub windows: Option<usize>,
    /// Events for Prophet (holidays, for instance), each with its own effect.
    #[serde(default)]
    pub events: Vec<EventBody>,
    /// Other numeric columns of the series that Prophet uses as regressors, each with its
    /// values over the horizon.
    #[serde(default)]
    pub regressors: Vec<RegressorBody>,
}

/// An event: a name and the days it falls on, past and future.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventBody {
    /// Its name: 1 to 64 letters, digits, `_`, `-` or spaces.
    pub name: String,
    /// Its days, `YYYY-MM-DD` (UTC).
    #[schema(value_type = Vec<String>, format = Date)]
    pub dates: Vec<chrono::NaiveDate>,
    /// Days before each date that it covers too (0 to 30; default 0).
    #[serde(default)]
    pub before: u32,
    /// Days after each date that it covers too (0 to 30; default 0).
    #[serde(default)]
    pub after: u32,
}

/// A regressor: another numeric column of the series and its values over the horizon.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegressorBody {
    /// The column.
    pub column: String,
    /// One value per step of the horizon.
    pub future: Vec<f64>,
}

/// Checks a request against the dataset; the job's payload.
pub(crate) async fn payload(
    state: &AppState,
    user: UserId,
    body: &NewForecastRequest,
) -> Result<ForecastPayload, ApiError> {
    let dataset = find(state, user, &body.dataset_id).await?;
    let version = version_of(state, user, &dataset, body.version).await?;
    if !version.series.contains(&body.series) {
        return Err(ApiError::new(
            ErrorKind::NotFound,
            "series_not_found",
            format!("the dataset has no series {:?}", body.series),
        ));
    }
    let columns = version.profile["columns"].as_array().cloned().unwrap_or_default();
    numeric_column(&columns, &body.column, "forecast")?;
    for (i, regressor) in body.regressors.iter().enumerate() {
        numeric_column(&columns, &regressor.column, "used as regressors")?;
        if regressor.column == body.column
            || body.regressors[..i].iter().any(|r| r.column == regressor.column)
        {
            return Err(invalid(
                "invalid_forecast",
                format!(
                    "column {:?} is the one forecast or a regressor already: a regressor must \
                     be another column, once",
                    regressor.column
                ),
            ));
        }
    }
    let names = if body.models.is_empty() { vec!["auto".to_owned()] } else { body.models.clone() };
    let mut models = Vec::new();
    for name in &names {
        let model = Model::parse(name).map_err(|e| invalid("unknown_model", e.to_string()))?;
        if !models.contains(&model) {
            models.push(model);
        }
    }
    let request = Request {
        models,
        horizon: body.horizon,
        levels: body.levels.clone().unwrap_or_else(|| vec![80.0, 95.0]),
        windows: body.windows.unwrap_or(variosync_forecast::auto::WINDOWS),
        events: body
            .events
            .iter()
            .map(|e| Event {
                name: e.name.clone(),
                dates: e.dates.clone(),
                before: e.before,
                after: e.after,
            })
            .collect(),
        regressors: body
            .regressors
            .iter()
            .map(|r| RegressorInput { column: r.column.clone(), future: r.future.clone() })
            .collect(),
    };
    request.check().map_err(|e| invalid("invalid_forecast", e.to_string()))?;
    Ok(ForecastPayload {
        dataset_id: dataset.id,
        version: version.version,
        series: body.series.clone(),
        column: body.column.clone(),
        request,
    })
}

/// Checks that the dataset's profile has `name` as a numeric column.
fn numeric_column(columns: &[serde_json::Value], name: &str, use_: &str) -> Result<(), ApiError> {
    let kind =
        columns.iter().find(|c| c["name"].as_str() == Some(name)).and_then(|c| c["kind"].as_str());
    match kind {
        Some("float" | "integer") => Ok(()),
        Some(kind) => Err(invalid(
            "column_not_numeric",
            format!("column {name:?} holds {kind} values: only numbers can be {use_}"),
        )),
        None => Err(ApiError::new(
            ErrorKind::NotFound,
            "column_not_found",
            format!("the dataset has no column {name:?}"),
        )),
    }
}

/// Submits a forecast job for a checked request.
pub(crate) async fn start(
    state: &AppState,
    client: &variosync_auth::ClientInfo,
    user: UserId,
    payload: &ForecastPayload,
    idempotency_key: Option<String>,
) -> Result<variosync_store::Job, ApiError> {
    let new = NewJob {
        kind: "forecast".to_owned(),
        payload: serde_json::to_value(payload).unwrap_or_default(),
        max_attempts: 3,
        reserve: variosync_jobs::forecast::reserve(&payload.request),
        idempotency_key,
    };
    super::jobs::submit(state, client, user, &new).await
}

/// Start a forecast.
///
/// Checks the request, then runs it as a `forecast` job on a worker: the series becomes
/// regular on its own calendar (missing steps interpolated, trading days kept as they
/// are), each model is backtested by rolling origin and forecasts `horizon` steps with
/// intervals. Follow the job at the `Location`; its result names the forecast.
#[utoipa::path(
    post,
    path = "/forecasts",
    tag = "forecasts",
    operation_id = "create_forecast",
    security(("bearer" = []), ("session" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeated request answer the first job")),
    request_body = NewForecastRequest,
    responses(
        (status = 202, description = "The job that makes the forecast", body = variosync_store::Job),
        Changing,
        (
            status = 400,
            description = "An unknown model (`unknown_model`), a horizon, level or window count \
                out of bounds (`invalid_forecast`), a text column (`column_not_numeric`)",
            body = ApiError
        ),
        (status = 402, description = "Not enough hours to reserve (`insufficient_hours`)", body = ApiError),
        (
            status = 404,
            description = "No such dataset, version, series or column (`dataset_not_found`, \
                `version_not_found`, `series_not_found`, `column_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err)]
async fn create(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    headers: HeaderMap,
    Json(body): Json<NewForecastRequest>,
) -> Result<Response, ApiError> {
    let user = current.user.id;
    let key = super::jobs::idempotency_key(&headers)?;
    if let Some(key) = &key
        && let Some(job) = state.backends.jobs().by_key(user, key).await?
    {
        return Ok(super::jobs::accepted(job));
    }
    let payload = payload(&state, user, &body).await?;
    let job = start(&state, &client, user, &payload, key).await?;
    Ok(super::jobs::accepted(job))
}

/// Which forecasts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only those of this dataset.
    dataset_id: Option<String>,
    /// At most this many (1 to 200, default 50).
    limit: Option<u32>,
}

/// List forecasts, newest first.
#[utoipa::path(
    get,
    path = "/forecasts",
    tag = "forecasts",
    operation_id = "list_forecasts",
    security(("bearer" = []), ("session" = [])),
    params(ListQuery),
    responses((status = 200, description = "The forecasts", body = Vec<Forecast>), Reading)
)]
async fn list(
    State(state): State<AppState>,
    current: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Forecast>>, ApiError> {
    let user = current.user.id;
    let dataset = match query.dataset_id.as_deref() {
        Some(id) => Some(super::parse_id::<DatasetId>(id, "dataset_not_found")?),
        None => None,
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 200);
    Ok(Json(state.backends.forecasts().list(Access::User(user), user, dataset, limit).await?))
}

/// A forecast with its points.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ForecastView {
    /// The forecast.
    pub forecast: Forecast,
    /// The steps' times, milliseconds since 1970 (UTC).
    pub times: Vec<i64>,
    /// Each model's forecast: `model`, `chosen`, and `prediction` with `mean` and `bands`
    /// (`level`, `lower`, `upper`).
    #[schema(value_type = Vec<Object>)]
    pub forecasts: Vec<ModelForecast>,
}

pub(crate) async fn find_forecast(
    state: &AppState,
    user: UserId,
    id: &str,
) -> Result<Forecast, ApiError> {
    let id: ForecastId = super::parse_id(id, "forecast_not_found")?;
    state.backends.forecasts().get(Access::User(user), user, id).await?.ok_or_else(|| {
        ApiError::new(ErrorKind::NotFound, "forecast_not_found", "there is no such forecast")
    })
}

/// The stored points of a forecast.
pub(crate) async fn points(state: &AppState, forecast: &Forecast) -> Result<Points, ApiError> {
    let key = ObjectKey::forecast(forecast.user_id, forecast.id);
    let bytes = state.backends.objects.get(&key).await?;
    variosync_jobs::forecast::from_parquet(bytes, &forecast.levels).map_err(|e| {
        tracing::error!(forecast_id = %forecast.id, error = %e, "a stored forecast cannot be read");
        ApiError::new(ErrorKind::Internal, "internal", "the stored forecast cannot be read")
    })
}

/// A forecast with its points.
#[utoipa::path(
    get,
    path = "/forecasts/{id}",
    tag = "forecasts",
    operation_id = "get_forecast",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The forecast's id")),
    responses(
        (status = 200, description = "The forecast and its points", body = ForecastView),
        Reading,
        (status = 404, description = "There is no such forecast (`forecast_not_found`)", body = ApiError),
    )
)]
async fn show(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ForecastView>, ApiError> {
    let forecast = find_forecast(&state, current.user.id, &id).await?;
    let points = points(&state, &forecast).await?;
    Ok(Json(ForecastView {
        times: points.times.iter().map(|t| t.div_euclid(1000)).collect(),
        forecasts: points.forecasts,
        forecast,
    }))
}

/// Download a forecast's points as CSV.
///
/// Columns `time,model,chosen,mean`, then `lower_L,upper_L` per interval level; one row per
/// model and step; times in RFC 3339 (UTC).
#[utoipa::path(
    get,
    path = "/forecasts/{id}/csv",
    tag = "forecasts",
    operation_id = "download_forecast",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The forecast's id")),
    responses(
        (
            status = 200,
            description = "The points",
            body = String,
            content_type = "text/csv",
            headers(("Content-Disposition" = String, description = "An attachment named after the forecast"))
        ),
        Reading,
        (status = 404, description = "There is no such forecast (`forecast_not_found`)", body = ApiError),
    )
)]
async fn download(
    State(state): State<AppState>,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let forecast = find_forecast(&state, current.user.id, &id).await?;
    let points = points(&state, &forecast).await?;
    let csv = variosync_forecast::run::csv(&points.times, &points.forecasts, &forecast.levels);
    Ok(super::csv_attachment(csv, &format!("forecast-{}.csv", forecast.id)))
}

/// Delete a forecast and its points.
#[utoipa::path(
    delete,
    path = "/forecasts/{id}",
    tag = "forecasts",
    operation_id = "delete_forecast",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The forecast's id")),
    responses(
        (status = 204, description = "Deleted"),
        Changing,
        (status = 404, description = "There is no such forecast (`forecast_not_found`)", body = ApiError),
    )
)]
async fn remove(
    State(state): State<AppState>,
    Client(client): Client,
    current: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = current.user.id;
    let forecast = find_forecast(&state, user, &id).await?;
    state.backends.forecasts().delete(Access::User(user), user, forecast.id).await?;
    let key = ObjectKey::forecast(user, forecast.id);
    if let Err(error) = state.backends.objects.delete(&key).await {
        tracing::warn!(forecast_id = %forecast.id, error = %error, "a forecast's points were not deleted");
    }
    let entry = NewAuditEntry {
        user_id: Some(user),
        actor_id: None,
        action: AuditAction::ForecastDeleted,
        detail: json!({ "forecast_id": forecast.id, "dataset_id": forecast.dataset_id }),
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    state.backends.audit().record(Access::System, entry).await?;
    Ok(StatusCode::NO_CONTENT)
}

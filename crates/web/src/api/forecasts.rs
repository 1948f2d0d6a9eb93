//! Forecasts: start one (a `forecast` job, paid by the hour) for a column of a series of a
//! dataset, list them, read one with its points, download its points as CSV, delete it.
//! Times are in microseconds since 1970 (UTC), as everywhere in the API.

use super::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use variosync_app::datasets::parse_dataset_id;
use variosync_app::forecasts::{
    Event, ForecastRequest, ModelForecast, RegressorInput, parse_forecast_id,
};
use variosync_store::Forecast;

use super::datasets::{ExportHow, MICROSECONDS};
use super::openapi::{Changing, Reading};
use crate::error::ApiError;
use crate::session::Actor;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::default()
        .routes(routes!(create, list))
        .routes(routes!(show, remove))
        .routes(routes!(download))
        .routes(routes!(export))
}

/// A forecast to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewForecastRequest {
    /// The dataset.
    #[schema(value_type = uuid::Uuid)]
    pub dataset_id: String,
    /// Its version (default: the current one).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub version: Option<u32>,
    /// The series.
    pub series: String,
    /// The numeric column to forecast.
    pub column: String,
    /// Models: `auto`, `ets`, `arima`, `theta`, `mstl`, `prophet`, `naive`,
    /// `seasonal_naive`, `drift` (default: `auto`).
    #[serde(default)]
    #[schema(inline, value_type = Vec<ModelName>)]
    pub models: Vec<String>,
    /// Steps to forecast, on the series' own calendar: 1 to 10000.
    #[schema(minimum = 1, maximum = 10000)]
    pub horizon: usize,
    /// Interval levels in percent, each above 0 and below 100, at most 4 (default: 80 and
    /// 95).
    #[schema(max_items = 4, value_type = Option<Vec<Level>>)]
    pub levels: Option<Vec<f64>>,
    /// Rolling-origin backtest windows, 1 to 10 (default 3).
    #[schema(minimum = 1, maximum = 10)]
    pub windows: Option<usize>,
    /// Events for Prophet (holidays, for instance), each with its own effect; at most 50.
    #[serde(default)]
    #[schema(max_items = 50)]
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
    #[schema(minimum = 0, maximum = 30)]
    pub before: u32,
    /// Days after each date that it covers too (0 to 30; default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 30)]
    pub after: u32,
}

/// A forecasting model's name (any case; `-` reads as `_`), or one of its aliases.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code, reason = "describes the names a request takes; the use case parses them")]
enum ModelName {
    Auto,
    Ets,
    AutoEts,
    Autoets,
    Arima,
    AutoArima,
    Autoarima,
    Theta,
    AutoTheta,
    Autotheta,
    Mstl,
    Prophet,
    Naive,
    SeasonalNaive,
    Snaive,
    Drift,
    RandomWalkWithDrift,
}

/// An interval level in percent, above 0 and below 100.
#[derive(ToSchema)]
#[schema(value_type = f64, exclusive_minimum = 0, exclusive_maximum = 100)]
#[allow(dead_code, reason = "describes the levels a request takes")]
struct Level(f64);

/// A regressor: another numeric column of the series and its values over the horizon.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegressorBody {
    /// The column.
    pub column: String,
    /// One value per step of the horizon.
    pub future: Vec<f64>,
}

impl NewForecastRequest {
    /// The use case's request.
    pub(crate) fn into_request(self) -> Result<ForecastRequest, ApiError> {
        Ok(ForecastRequest {
            dataset_id: parse_dataset_id(&self.dataset_id)?,
            version: self.version,
            series: self.series,
            column: self.column,
            models: self.models,
            horizon: self.horizon,
            levels: self.levels,
            windows: self.windows,
            events: self
                .events
                .into_iter()
                .map(|e| Event { name: e.name, dates: e.dates, before: e.before, after: e.after })
                .collect(),
            regressors: self
                .regressors
                .into_iter()
                .map(|r| RegressorInput { column: r.column, future: r.future })
                .collect(),
        })
    }
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
            status = 409,
            description = "The Idempotency-Key was used for another kind of job \
                (`idempotency_key_reused`)",
            body = ApiError
        ),
        (
            status = 404,
            description = "No such dataset, version, series or column (`dataset_not_found`, \
                `version_not_found`, `series_not_found`, `column_not_found`)",
            body = ApiError
        ),
    )
)]
#[tracing::instrument(skip_all, err(level = "warn"))]
async fn create(
    State(state): State<AppState>,
    Actor(principal): Actor,
    headers: HeaderMap,
    Json(body): Json<NewForecastRequest>,
) -> Result<Response, ApiError> {
    let key = super::jobs::idempotency_key(&headers)?;
    let job = state.app.request_forecast(&principal, body.into_request()?, key).await?;
    Ok(super::jobs::accepted(job))
}

/// Which forecasts to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only those of this dataset.
    #[param(value_type = Option<uuid::Uuid>)]
    dataset_id: Option<String>,
    /// At most this many (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
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
    Actor(principal): Actor,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Forecast>>, ApiError> {
    let dataset = query.dataset_id.as_deref().map(parse_dataset_id).transpose()?;
    Ok(Json(state.app.list_forecasts(&principal, dataset, query.limit).await?))
}

/// A forecast with its points.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ForecastView {
    /// The forecast.
    pub forecast: Forecast,
    /// The steps' times, microseconds since 1970 (UTC).
    pub times: Vec<i64>,
    /// Each model's forecast: `model`, `chosen`, and `prediction` with `mean` and `bands`
    /// (`level`, `lower`, `upper`).
    #[schema(value_type = Vec<Object>)]
    pub forecasts: Vec<ModelForecast>,
    /// The unit of times: always `us`, microseconds since 1970 (UTC).
    #[schema(example = "us")]
    pub unit: &'static str,
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
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Json<ForecastView>, ApiError> {
    let found = state.app.forecast_points(&principal, parse_forecast_id(&id)?).await?;
    Ok(Json(ForecastView {
        forecast: found.forecast,
        times: found.points.times,
        forecasts: found.points.forecasts,
        unit: MICROSECONDS,
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
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (forecast, csv) = state.app.forecast_csv(&principal, parse_forecast_id(&id)?).await?;
    Ok(super::csv_attachment(csv, &format!("forecast-{}.csv", forecast.id)))
}

/// Download a forecast's points in an export format.
///
/// One row per model and step: the model as `series_id`, the step's time as `ts`, `mean`,
/// then `lower_L` and `upper_L` per interval level, then `chosen` (what Auto chose; not in
/// OpenMetrics, which holds numbers only). Any export format and option of a dataset's
/// export.
#[utoipa::path(
    get,
    path = "/forecasts/{id}/export",
    tag = "forecasts",
    operation_id = "export_forecast",
    security(("bearer" = []), ("session" = [])),
    params(("id" = uuid::Uuid, Path, description = "The forecast's id"), ExportHow),
    responses(
        (
            status = 200,
            description = "The points, as an attachment",
            content(
                (String = "text/csv"),
                (String = "text/tab-separated-values"),
                (String = "application/json"),
                (String = "application/jsonl"),
                (Vec<u8> = "application/vnd.apache.parquet"),
                (Vec<u8> = "application/vnd.apache.arrow.file"),
                (Vec<u8> = "application/vnd.apache.arrow.stream"),
                (String = "text/plain"),
                (Vec<u8> = "application/avro"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
                (String = "application/openmetrics-text"),
                (String = "application/sql"),
                (Vec<u8> = "application/gzip"),
                (Vec<u8> = "application/zstd"),
                (Vec<u8> = "application/zip")
            ),
            headers(("Content-Disposition" = String, description = "An attachment named after the forecast"))
        ),
        Reading,
        (status = 400, description = "A choice makes no sense (`invalid_export`)", body = ApiError),
        (status = 404, description = "There is no such forecast (`forecast_not_found`)", body = ApiError),
    )
)]
async fn export(
    State(state): State<AppState>,
    Actor(principal): Actor,
    Path(id): Path<String>,
    Query(how): Query<ExportHow>,
) -> Result<Response, ApiError> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let choices = how.choices();
    let options = choices.options(None)?;
    let id = parse_forecast_id(&id)?;
    let (file_name, media_type, bytes) = state.app.forecast_export(&principal, id, options).await?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
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
    Actor(principal): Actor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.app.delete_forecast(&principal, parse_forecast_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The `forecast` job kind: one column of one series of a dataset version is forecast by
//! the models asked for (see [`variosync_forecast::run`]); the points go to a Parquet
//! object, then the forecast's row is recorded with the summary and the backtests. If the
//! row cannot be recorded the object is deleted again.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use variosync_domain::profile::Profile;
use variosync_domain::{DatasetId, ForecastId};
use variosync_forecast::run::{self, Report, Request};
use variosync_forecast::{Band, Prediction};
use variosync_store::{Forecast, NewForecast, ObjectKey};

pub use variosync_forecast::Model;
pub use variosync_forecast::prophet::Event;
pub use variosync_forecast::run::{ModelForecast, RegressorInput};

use crate::queue::{JobContext, JobError, JobKind};

/// What the `forecast` job works on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForecastPayload {
    /// The dataset.
    pub dataset_id: DatasetId,
    /// Its version.
    pub version: u32,
    /// The series.
    pub series: String,
    /// The value column.
    pub column: String,
    /// Models, horizon, levels and backtest windows.
    pub request: Request,
}

/// The `forecast` job kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct ForecastJob;

/// The points of a forecast as a Parquet file: `model`, `chosen`, `time` (UTC
/// microseconds), `mean`, then `lower_L` and `upper_L` per level; one row per model and
/// step.
pub fn to_parquet(report: &Report, levels: &[f64]) -> Result<Vec<u8>, String> {
    let mut fields = vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("chosen", DataType::Utf8, false),
        Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), false),
        Field::new("mean", DataType::Float64, false),
    ];
    for level in levels {
        fields.push(Field::new(format!("lower_{level}"), DataType::Float64, false));
        fields.push(Field::new(format!("upper_{level}"), DataType::Float64, false));
    }
    let schema = Arc::new(Schema::new(fields));
    let (mut models, mut chosen, mut times, mut means) = (vec![], vec![], vec![], vec![]);
    let mut bounds: Vec<Vec<f64>> = vec![Vec::new(); 2 * levels.len()];
    for forecast in &report.forecasts {
        let Some(prediction) = &forecast.prediction else { continue };
        for (i, time) in report.times.iter().enumerate() {
            models.push(forecast.model.name());
            chosen.push(forecast.chosen.clone().unwrap_or_default());
            times.push(*time);
            means.push(prediction.mean[i]);
            for (k, band) in prediction.bands.iter().enumerate() {
                bounds[2 * k].push(band.lower[i]);
                bounds[2 * k + 1].push(band.upper[i]);
            }
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(models)),
        Arc::new(StringArray::from(chosen)),
        Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        Arc::new(Float64Array::from(means)),
    ];
    columns.extend(bounds.into_iter().map(|b| Arc::new(Float64Array::from(b)) as ArrayRef));
    let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, schema, None).map_err(|e| e.to_string())?;
    writer.write(&batch).map_err(|e| e.to_string())?;
    writer.close().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Stored points read back: the times of the steps and one forecast per model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Points {
    /// The steps' times (microseconds since 1970, UTC).
    pub times: Vec<i64>,
    /// One forecast per model, in the order stored.
    pub forecasts: Vec<ModelForecast>,
}

/// Reads points written by [`to_parquet`].
pub fn from_parquet(bytes: bytes::Bytes, levels: &[f64]) -> Result<Points, String> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampMicrosecondType};
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(bytes, 8192)
        .map_err(|e| e.to_string())?;
    let mut points = Points { times: Vec::new(), forecasts: Vec::new() };
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| format!("the stored forecast lacks {name}"))
        };
        let models = column("model")?.as_string::<i32>().clone();
        let chosen = column("chosen")?.as_string::<i32>().clone();
        let times = column("time")?.as_primitive::<TimestampMicrosecondType>().clone();
        let means = column("mean")?.as_primitive::<Float64Type>().clone();
        let mut bounds = Vec::new();
        for level in levels {
            bounds.push((
                column(&format!("lower_{level}"))?.as_primitive::<Float64Type>().clone(),
                column(&format!("upper_{level}"))?.as_primitive::<Float64Type>().clone(),
            ));
        }
        for row in 0..batch.num_rows() {
            let model = Model::parse(models.value(row)).map_err(|e| e.to_string())?;
            if points.forecasts.last().is_none_or(|f| f.model != model) {
                points.forecasts.push(ModelForecast {
                    model,
                    chosen: Some(chosen.value(row).to_owned()),
                    prediction: Some(Prediction {
                        mean: Vec::new(),
                        bands: levels
                            .iter()
                            .map(|level| Band { level: *level, lower: vec![], upper: vec![] })
                            .collect(),
                    }),
                    error: None,
                });
            }
            if points.forecasts.len() == 1 {
                points.times.push(times.value(row));
            }
            let Some(prediction) = points.forecasts.last_mut().and_then(|f| f.prediction.as_mut())
            else {
                continue;
            };
            prediction.mean.push(means.value(row));
            for (band, (lower, upper)) in prediction.bands.iter_mut().zip(&bounds) {
                band.lower.push(lower.value(row));
                band.upper.push(upper.value(row));
            }
        }
    }
    Ok(points)
}

/// The summary stored with a forecast: everything but the points.
pub fn summary(report: &Report) -> serde_json::Value {
    serde_json::json!({
        "frequency": report.frequency,
        "rows": report.rows,
        "left_out": report.left_out,
        "filled": report.filled,
        "merged": report.merged,
        "seasons": report.seasons,
        "models": report.forecasts.iter().map(|f| serde_json::json!({
            "model": f.model,
            "chosen": f.chosen,
            "error": f.error,
        })).collect::<Vec<_>>(),
        "backtests": report.backtests,
        "auto": report.auto,
    })
}

#[async_trait]
impl JobKind for ForecastJob {
    fn name(&self) -> &'static str {
        "forecast"
    }

    async fn run(&self, context: &JobContext) -> Result<serde_json::Value, JobError> {
        let crate::JobPayload::Forecast(payload) =
            crate::JobPayload::of(&context.job).map_err(JobError::internal)?
        else {
            return Err(JobError::internal("the job is not a forecast"));
        };
        let owner = context.principal();
        let backends = &context.backends;
        let versions = backends
            .datasets()
            .versions(owner.access(), owner.workspace, payload.dataset_id)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        if !versions.iter().any(|v| v.version == payload.version) {
            return Err(JobError::user("the dataset or its version is gone (it was deleted)"));
        }
        context.progress(0.0, "reading the series");
        let key = ObjectKey::dataset_part(owner.workspace, payload.dataset_id, payload.version, 0);
        let path = backends
            .objects
            .local_file(&key, &context.scratch)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        let reporter = context.reporter();
        let cancel = context.cancellation();
        let work = payload.clone();
        let computed = context
            .blocking(move || {
                let part =
                    variosync_engine::window::Part::open(&path).map_err(|e| e.to_string())?;
                let (times, target, values) =
                    read_columns(&part, &work.series, &work.column, &work.request)
                        .map_err(|e| e.to_string())?;
                if times.is_empty() {
                    return Err(format!("the dataset has no series {:?}", work.series));
                }
                let mut progress = |p: f64, message: &str| {
                    reporter.report(p * 0.95, message);
                    !cancel.is_cancelled()
                };
                let report =
                    run::forecast_with(&times, &target, &values, &work.request, &mut progress)
                        .map_err(|e| e.to_string())?;
                let bytes = to_parquet(&report, &work.request.levels)?;
                Ok::<_, String>((report, bytes))
            })
            .await?;
        let (report, bytes) = match computed {
            Ok(done) => done,
            Err(_) if context.is_cancelled() => {
                return Err(JobError::user("the forecast was cancelled"));
            }
            Err(message) => return Err(JobError::user(message)),
        };
        context.progress(96.0, "storing the forecast");
        let id = ForecastId::new();
        let object = ObjectKey::forecast(owner.workspace, id);
        let size = bytes.len() as u64;
        backends
            .objects
            .put(&object, bytes.into())
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        let new = NewForecast {
            id,
            dataset_id: payload.dataset_id,
            dataset_version: payload.version,
            job_id: Some(context.job.id),
            series: payload.series.clone(),
            column: payload.column.clone(),
            horizon: u32::try_from(payload.request.horizon).unwrap_or(u32::MAX),
            levels: payload.request.levels.clone(),
            models: payload.request.models.iter().map(|m| m.name().to_owned()).collect(),
            best: report.best.map(|m| m.name().to_owned()),
            report: summary(&report),
            bytes: size,
        };
        let forecast = match backends
            .forecasts()
            .create(owner.access(), owner.workspace, &new)
            .await
        {
            Ok(forecast) => forecast,
            Err(error) => {
                if let Err(cleanup) = backends.objects.delete(&object).await {
                    tracing::error!(error = %cleanup, "cannot delete the object of a failed forecast");
                }
                return Err(JobError::transient(error.to_string()));
            }
        };
        Ok(serde_json::json!({
            "forecast_id": forecast.id,
            "dataset_id": forecast.dataset_id,
            "best": forecast.best,
            "url": format!("/api/v1/forecasts/{}", forecast.id),
        }))
    }
}

/// Seconds of compute reserved per model fitted (Auto counts its candidates too); the
/// unused part is given back when the job ends. Ten years of daily prices take about a
/// second per model.
pub const RESERVE_SECS_PER_MODEL: u64 = 60;

/// The times of a series, its forecast column and its regressor columns.
pub type Columns = (Vec<i64>, Vec<f64>, Vec<Vec<f64>>);

/// The times of `series` in a part, the values of `column`, and those of each of the
/// request's regressor columns, in the request's order: what [`run::forecast_with`] takes.
pub fn read_columns(
    part: &variosync_engine::window::Part,
    series: &str,
    column: &str,
    request: &Request,
) -> Result<Columns, variosync_engine::window::QueryError> {
    let columns: Vec<String> = std::iter::once(column.to_owned())
        .chain(request.regressors.iter().map(|r| r.column.clone()))
        .collect();
    let (times, mut values) = variosync_engine::window::columns_values(part, series, &columns)?;
    let target = values.remove(0);
    Ok((times, target, values))
}

/// The hours to reserve for a forecast request.
pub fn reserve(request: &Request) -> variosync_domain::Hours {
    let fits: u64 = request
        .models
        .iter()
        .map(|m| if *m == Model::Auto { 1 + Model::ALL.len() as u64 } else { 1 })
        .sum();
    variosync_domain::Hours::from_millis_ceil(fits.max(1) * RESERVE_SECS_PER_MODEL * 1000)
}

/// A forecast as it is asked for: which column of which series, the models and how far.
#[derive(Debug, Clone, Default)]
pub struct ForecastRequest {
    /// The dataset.
    pub dataset_id: DatasetId,
    /// Its version (default: the current one).
    pub version: Option<u32>,
    /// The series.
    pub series: String,
    /// The numeric column to forecast.
    pub column: String,
    /// Model names (default: `auto`).
    pub models: Vec<String>,
    /// Steps ahead.
    pub horizon: usize,
    /// Interval levels in percent (default 80 and 95).
    pub levels: Option<Vec<f64>>,
    /// Backtest origins (default [`variosync_forecast::auto::WINDOWS`]).
    pub windows: Option<usize>,
    /// Event days (Prophet, Auto).
    pub events: Vec<Event>,
    /// Other numeric columns as regressors, with their future values.
    pub regressors: Vec<RegressorInput>,
}

/// A stored forecast with its points; times in microseconds since 1970 (UTC).
#[derive(Debug, Clone)]
pub struct ForecastPoints {
    /// The forecast.
    pub forecast: Forecast,
    /// Its points.
    pub points: Points,
}

fn forecast_not_found() -> crate::Error {
    crate::Error::not_found("forecast_not_found", "there is no such forecast")
}

/// Parses a forecast id from text; anything else is simply not found.
pub fn parse_forecast_id(text: &str) -> crate::Result<ForecastId> {
    text.parse().map_err(|_| crate::Error::malformed_id("forecast", text))
}

/// Checks that `name` is a numeric column of `profile`, for `use_`.
fn numeric_column(profile: &Profile, name: &str, use_: &str) -> crate::Result<()> {
    match profile.columns.iter().find(|c| c.name == name).map(|c| c.kind.as_str()) {
        Some("float" | "integer") => Ok(()),
        Some(kind) => Err(crate::Error::invalid(
            "column_not_numeric",
            format!("column {name:?} holds {kind} values: only numbers can be {use_}"),
        )),
        None => Err(crate::Error::not_found(
            "column_not_found",
            format!("the dataset has no column {name:?}"),
        )),
    }
}

impl crate::App {
    /// Checks a forecast request against the dataset: the series, the columns, the models
    /// and the options; what a `forecast` job carries.
    pub async fn forecast_payload(
        &self,
        principal: &crate::Principal,
        asked: ForecastRequest,
    ) -> crate::Result<ForecastPayload> {
        use crate::Error;
        let (dataset, version) =
            self.dataset_version(principal, asked.dataset_id, asked.version).await?;
        if !version.series.contains(&asked.series) {
            return Err(Error::not_found(
                "series_not_found",
                format!("the dataset has no series {:?}", asked.series),
            ));
        }
        let profile = &version.profile;
        numeric_column(profile, &asked.column, "forecast")?;
        for (i, regressor) in asked.regressors.iter().enumerate() {
            numeric_column(profile, &regressor.column, "used as regressors")?;
            if regressor.column == asked.column
                || asked.regressors[..i].iter().any(|r| r.column == regressor.column)
            {
                return Err(Error::invalid(
                    "invalid_forecast",
                    format!(
                        "column {:?} is the one forecast or a regressor already: a regressor \
                         must be another column, once",
                        regressor.column
                    ),
                ));
            }
        }
        let names =
            if asked.models.is_empty() { vec!["auto".to_owned()] } else { asked.models.clone() };
        let mut models = Vec::new();
        for name in &names {
            let model =
                Model::parse(name).map_err(|e| Error::invalid("unknown_model", e.to_string()))?;
            if !models.contains(&model) {
                models.push(model);
            }
        }
        let request = Request {
            models,
            horizon: asked.horizon,
            levels: asked.levels.unwrap_or_else(|| vec![80.0, 95.0]),
            windows: asked.windows.unwrap_or(variosync_forecast::auto::WINDOWS),
            events: asked.events,
            regressors: asked.regressors,
        };
        request.check().map_err(|e| Error::invalid("invalid_forecast", e.to_string()))?;
        Ok(ForecastPayload {
            dataset_id: dataset.id,
            version: version.version,
            series: asked.series,
            column: asked.column,
            request,
        })
    }

    /// Starts a forecast as a `forecast` job with its hours reserved (402 when the balance
    /// cannot cover them). A repeated idempotency key answers the first job.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn request_forecast(
        &self,
        principal: &crate::Principal,
        asked: ForecastRequest,
        idempotency_key: Option<String>,
    ) -> crate::Result<variosync_store::Job> {
        // Checked first: a repeated key never makes an invalid request look accepted.
        let payload = self.forecast_payload(principal, asked).await?;
        if let Some(job) = self.job_by_key(principal, idempotency_key.as_deref()).await? {
            if job.kind != "forecast" {
                return Err(crate::jobs::key_reused(&job));
            }
            return Ok(job);
        }
        let reserve = reserve(&payload.request);
        let submission = crate::jobs::Submission {
            payload: crate::JobPayload::Forecast(payload),
            reserve,
            idempotency_key,
        };
        self.submit(principal, principal, &submission).await
    }

    /// The principal's forecasts, newest first, of one dataset or all.
    pub async fn list_forecasts(
        &self,
        principal: &crate::Principal,
        dataset: Option<DatasetId>,
        limit: Option<u32>,
    ) -> crate::Result<Vec<Forecast>> {
        let limit = crate::Error::bounded("limit", limit, 50, 1, 200)?;
        let workspace = principal.workspace;
        Ok(self.backends.forecasts().list(principal.access(), workspace, dataset, limit).await?)
    }

    /// One of the principal's forecasts.
    pub async fn forecast(
        &self,
        principal: &crate::Principal,
        id: ForecastId,
    ) -> crate::Result<Forecast> {
        let workspace = principal.workspace;
        self.backends
            .forecasts()
            .get(principal.access(), workspace, id)
            .await?
            .ok_or_else(forecast_not_found)
    }

    /// One of the principal's forecasts with its points.
    pub async fn forecast_points(
        &self,
        principal: &crate::Principal,
        id: ForecastId,
    ) -> crate::Result<ForecastPoints> {
        let forecast = self.forecast(principal, id).await?;
        let key = ObjectKey::forecast(forecast.workspace_id, forecast.id);
        let bytes = self.backends.objects.get(&key).await?;
        let points = from_parquet(bytes, &forecast.levels)
            .map_err(|e| crate::Error::internal("a stored forecast cannot be read", e))?;
        Ok(ForecastPoints { forecast, points })
    }

    /// A forecast's points as CSV: one row per time, the mean and bounds of each model.
    pub async fn forecast_csv(
        &self,
        principal: &crate::Principal,
        id: ForecastId,
    ) -> crate::Result<(Forecast, String)> {
        let ForecastPoints { forecast, points } = self.forecast_points(principal, id).await?;
        let csv = run::csv(&points.times, &points.forecasts, &forecast.levels);
        Ok((forecast, csv))
    }

    /// A forecast's points in an export format: one row per model and step, the model as
    /// the series, `mean`, then `lower_L` and `upper_L` per level, then `chosen` (what Auto
    /// chose; left out of OpenMetrics, which holds numbers only). Answers the file's name,
    /// media type and bytes.
    pub async fn forecast_export(
        &self,
        principal: &crate::Principal,
        id: ForecastId,
        options: variosync_formats::export::ExportOptions,
    ) -> crate::Result<(String, &'static str, Vec<u8>)> {
        use variosync_formats::export::Format;
        let ForecastPoints { forecast, points } = self.forecast_points(principal, id).await?;
        let with_chosen = options.format != Format::OpenMetrics;
        let batch = points_batch(&points, &forecast.levels, with_chosen)
            .map_err(|e| crate::Error::internal("a forecast's points cannot be laid out", e))?;
        let mut options = options;
        if options.table.is_none() {
            options.table = Some(format!("forecast_{}", forecast.id.as_uuid().simple()));
        }
        let written = tokio::task::spawn_blocking(move || {
            let out = SharedBuffer::default();
            let mut writer =
                variosync_formats::export::writer(out.clone(), batch.schema(), &options)?;
            writer.write(&batch)?;
            writer.finish()?;
            Ok::<_, variosync_formats::export::ExportError>((out.take(), options))
        })
        .await?;
        let (bytes, options) =
            written.map_err(|e| crate::Error::invalid("invalid_export", e.to_string()))?;
        let file_name = options.file_name(&format!("forecast-{}", forecast.id));
        Ok((file_name, options.media_type(), bytes))
    }

    /// Deletes a forecast and its points.
    #[tracing::instrument(skip_all, fields(forecast_id = %id), err(level = "warn"))]
    pub async fn delete_forecast(
        &self,
        principal: &crate::Principal,
        id: ForecastId,
    ) -> crate::Result<()> {
        principal.require_editor()?;
        let forecast = self.forecast(principal, id).await?;
        let workspace = forecast.workspace_id;
        self.backends.forecasts().delete(principal.access(), workspace, forecast.id).await?;
        let key = ObjectKey::forecast(workspace, forecast.id);
        if let Err(error) = self.backends.objects.delete(&key).await {
            tracing::warn!(forecast_id = %forecast.id, error = %error, "a forecast's points were not deleted");
        }
        let detail =
            serde_json::json!({ "forecast_id": forecast.id, "dataset_id": forecast.dataset_id });
        let action = variosync_domain::AuditAction::ForecastDeleted;
        self.audit(principal, principal.user, action, detail).await
    }
}

/// A `Write` into a buffer that stays readable after the writer that owns it is done.
#[derive(Debug, Clone, Default)]
struct SharedBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A forecast's points as a canonical batch: the model as the series, the step's time, the
/// mean and the bounds of each level, and (with `chosen`) what Auto chose.
fn points_batch(
    points: &Points,
    levels: &[f64],
    chosen: bool,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut fields = vec![
        Field::new(variosync_domain::schema::SERIES_ID, DataType::Utf8, false),
        Field::new(
            variosync_domain::schema::TS,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("mean", DataType::Float64, false),
    ];
    for level in levels {
        fields.push(Field::new(format!("lower_{level}"), DataType::Float64, false));
        fields.push(Field::new(format!("upper_{level}"), DataType::Float64, false));
    }
    if chosen {
        fields.push(Field::new("chosen", DataType::Utf8, true));
    }
    let (mut models, mut times, mut means, mut picked) = (vec![], vec![], vec![], vec![]);
    let mut bounds: Vec<Vec<f64>> = vec![Vec::new(); 2 * levels.len()];
    for forecast in &points.forecasts {
        let Some(prediction) = &forecast.prediction else { continue };
        for (i, time) in points.times.iter().enumerate() {
            models.push(forecast.model.name());
            times.push(*time);
            means.push(prediction.mean[i]);
            picked.push(forecast.chosen.clone().filter(|c| !c.is_empty()));
            for (k, band) in prediction.bands.iter().enumerate().take(levels.len()) {
                bounds[2 * k].push(band.lower[i]);
                bounds[2 * k + 1].push(band.upper[i]);
            }
        }
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(models)),
        Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        Arc::new(Float64Array::from(means)),
    ];
    columns.extend(bounds.into_iter().map(|b| Arc::new(Float64Array::from(b)) as ArrayRef));
    if chosen {
        columns.push(Arc::new(StringArray::from(picked)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_points_read_back_as_they_were_forecast() {
        let hour = 3_600_000_000i64;
        let times: Vec<i64> = (0..200).map(|t| t * hour).collect();
        let values: Vec<f64> = (0..200)
            .map(|t| 50.0 + 10.0 * ((t % 24) as f64 / 24.0 * std::f64::consts::TAU).sin())
            .collect();
        let request = Request {
            models: vec![Model::SeasonalNaive, Model::Drift],
            horizon: 12,
            levels: vec![80.0, 95.0],
            windows: 2,
            events: vec![],
            regressors: vec![],
        };
        let report = run::forecast(&times, &values, &request, &mut |_, _| true).unwrap();
        let bytes = to_parquet(&report, &request.levels).unwrap();
        let points = from_parquet(bytes.into(), &request.levels).unwrap();
        assert_eq!(points.times, report.times);
        assert_eq!(points.forecasts, report.forecasts);
        assert_eq!(
            run::csv(&points.times, &points.forecasts, &request.levels),
            report.to_csv(&request.levels)
        );
        assert!(from_parquet(bytes::Bytes::from_static(b"PAR1"), &request.levels).is_err());
        // As an export: a row per model and step, the bands beside the mean.
        let batch = points_batch(&points, &request.levels, true).unwrap();
        assert_eq!(batch.num_rows(), 24);
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["series_id", "ts", "mean", "lower_80", "upper_80", "lower_95", "upper_95", "chosen"]
        );
        assert!(reserve(&request) > variosync_domain::Hours::ZERO);
    }
}

//! One forecast request, start to finish: the rows become a regular series on their own
//! calendar, the models asked for (and, for Auto, every candidate) are backtested by
//! rolling origin, each model is fitted on the whole series and forecasts the steps after
//! it, on the series' calendar.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::auto::{self, Trial};
use crate::calendar::{self, Regular};
use crate::prophet::{Event, Extras, Regressor};
use crate::{ForecastError, MAX_HORIZON, Model, Prediction, Series, check_request};

/// The most interval levels one request may ask for.
pub const MAX_LEVELS: usize = 4;
/// The most origins one backtest may use.
pub const MAX_WINDOWS: usize = 10;
/// The most recent values the models are fitted on: older ones seldom help a forecast,
/// and every model's cost grows with the length (a minute series of a year is half a
/// million values).
pub const MAX_VALUES: usize = 20_000;

/// What to forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The models, each forecast separately.
    pub models: Vec<Model>,
    /// Steps to forecast.
    pub horizon: usize,
    /// Interval levels, in percent.
    pub levels: Vec<f64>,
    /// Backtest origins.
    pub windows: usize,
    /// Events (holidays, for instance) for Prophet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<Event>,
    /// Other columns of the series that Prophet uses as regressors, with their values over
    /// the horizon; their history is passed to [`forecast_with`] in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressors: Vec<RegressorInput>,
}

/// A column used as a regressor, and its values at the steps to forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressorInput {
    /// The column.
    pub column: String,
    /// One value per step of the horizon.
    pub future: Vec<f64>,
}

impl Request {
    /// Checks the request's bounds, with a message per problem.
    pub fn check(&self) -> Result<(), ForecastError> {
        check_request(self.horizon, &self.levels)?;
        if self.models.is_empty() {
            return Err(ForecastError::UnknownModel(String::new()));
        }
        if self.levels.len() > MAX_LEVELS {
            return Err(ForecastError::Fit {
                model: "the request".into(),
                reason: format!("at most {MAX_LEVELS} interval levels, not {}", self.levels.len()),
            });
        }
        if self.windows == 0 || self.windows > MAX_WINDOWS {
            return Err(ForecastError::Fit {
                model: "the request".into(),
                reason: format!(
                    "backtest windows must be 1 to {MAX_WINDOWS}, not {}",
                    self.windows
                ),
            });
        }
        let extras = !self.events.is_empty() || !self.regressors.is_empty();
        if extras && !self.models.iter().any(|m| matches!(m, Model::Prophet | Model::Auto)) {
            return Err(ForecastError::Fit {
                model: "the request".into(),
                reason: "events and regressors are used by prophet (and auto) alone".into(),
            });
        }
        for regressor in &self.regressors {
            if regressor.future.len() != self.horizon {
                return Err(ForecastError::Fit {
                    model: "the request".into(),
                    reason: format!(
                        "regressor {:?} has {} future values; the horizon is {} steps",
                        regressor.column,
                        regressor.future.len(),
                        self.horizon
                    ),
                });
            }
            if let Some(step) = regressor.future.iter().position(|v| !v.is_finite()) {
                return Err(ForecastError::Fit {
                    model: "the request".into(),
                    reason: format!(
                        "regressor {:?} is {} at step {} of the horizon: only finite numbers \
                         can be used",
                        regressor.column,
                        regressor.future[step],
                        step + 1
                    ),
                });
            }
        }
        // Names and sizes, as the fit will check them.
        let regressors = self
            .regressors
            .iter()
            .map(|r| Regressor {
                name: r.column.clone(),
                times: vec![0; r.future.len()],
                values: r.future.clone(),
            })
            .collect();
        Extras { events: self.events.clone(), regressors }.check()
    }
}

/// One model's forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelForecast {
    /// The model asked for.
    pub model: Model,
    /// The form it took (for instance `ETS(M,Ad,M)`, or Auto's choice).
    pub chosen: Option<String>,
    /// Its forecast, when it could be fitted.
    pub prediction: Option<Prediction>,
    /// Why it could not be.
    pub error: Option<String>,
}

/// What a request produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The series' step, in words.
    pub frequency: String,
    /// Values the models were fitted on (after the calendar's filling).
    pub rows: usize,
    /// Older values left out (beyond [`MAX_VALUES`]).
    pub left_out: usize,
    /// Steps that were missing and filled by interpolation.
    pub filled: usize,
    /// Rows replaced by a later row at the same step.
    pub merged: usize,
    /// The season lengths given to the models.
    pub seasons: Vec<usize>,
    /// The times of the steps forecast (microseconds since 1970, UTC).
    pub times: Vec<i64>,
    /// One forecast per model asked for, in order.
    pub forecasts: Vec<ModelForecast>,
    /// The backtest of every model tried, in order (Auto's candidates included).
    pub backtests: Vec<Trial>,
    /// The model the backtests favour among those asked for.
    pub best: Option<Model>,
    /// The candidate Auto chose, when Auto was asked for.
    pub auto: Option<Model>,
}

/// Says how far the work is (0 to 100, and what it is doing); returns false to stop it.
pub type Progress<'a> = &'a mut dyn FnMut(f64, &str) -> bool;

/// Forecasts rows sorted by time (values that are not finite count as missing).
pub fn forecast(
    times: &[i64],
    values: &[f64],
    request: &Request,
    progress: Progress<'_>,
) -> Result<Report, ForecastError> {
    forecast_with(times, values, &[], request, progress)
}

/// As [`forecast`], with the history of each of the request's regressors: one column per
/// regressor, in the request's order, one value per row (not finite: missing).
pub fn forecast_with(
    times: &[i64],
    values: &[f64],
    regressors: &[Vec<f64>],
    request: &Request,
    progress: Progress<'_>,
) -> Result<Report, ForecastError> {
    request.check()?;
    let mut regular: Regular = calendar::regularize(times, values)?;
    let left_out = regular.values.len().saturating_sub(MAX_VALUES);
    if left_out > 0 {
        regular.values.drain(..left_out);
        regular.times.drain(..left_out);
    }
    let seasons = calendar::seasons(regular.frequency);
    let series = Series { values: &regular.values, times: &regular.times, seasons: &seasons };
    let last = *regular.times.last().unwrap_or(&0);
    let future = calendar::future(last, regular.frequency, request.horizon);
    debug_assert!(request.horizon <= MAX_HORIZON);
    let extras = Arc::new(extras(request, times, regressors, &regular.times, &future)?);

    // Backtest every model asked for, and Auto's candidates when Auto is asked for.
    let mut tried: Vec<Model> = Vec::new();
    for model in &request.models {
        let add: Vec<Model> =
            if *model == Model::Auto { auto::Auto::new(1).candidates } else { vec![*model] };
        for model in add {
            if !tried.contains(&model) {
                tried.push(model);
            }
        }
    }
    let mut plan = auto::plan(&series, request.horizon, request.windows);
    plan.levels = request.levels.clone();
    let steps = (tried.len() + request.models.len()) as f64;
    let mut backtests = Vec::with_capacity(tried.len());
    for (i, model) in tried.iter().enumerate() {
        if !progress(100.0 * i as f64 / steps, &format!("backtesting {}", model.name())) {
            return Err(ForecastError::Cancelled);
        }
        backtests.extend(auto::compare(&[*model], &series, &plan, &extras));
    }
    let chosen_by_auto = auto::best(&backtests).unwrap_or(Model::Ets);

    let mut forecasts = Vec::with_capacity(request.models.len());
    for (i, model) in request.models.iter().enumerate() {
        let done = 100.0 * (tried.len() + i) as f64 / steps;
        if !progress(done, &format!("fitting {}", model.name())) {
            return Err(ForecastError::Cancelled);
        }
        let fitted_model = if *model == Model::Auto { chosen_by_auto } else { *model };
        let result = fitted_model
            .forecaster_with(request.horizon, &extras)
            .fit(&series)
            .and_then(|fitted| Ok((fitted.describe(), fitted.predict(&future, &request.levels)?)));
        forecasts.push(match result {
            Ok((described, prediction)) => ModelForecast {
                model: *model,
                chosen: Some(if *model == Model::Auto {
                    format!("auto: {described}")
                } else {
                    described
                }),
                prediction: Some(prediction),
                error: None,
            },
            Err(err) => ModelForecast {
                model: *model,
                chosen: None,
                prediction: None,
                error: Some(err.to_string()),
            },
        });
    }
    if forecasts.iter().all(|f| f.prediction.is_none()) {
        let reason =
            forecasts.iter().filter_map(|f| f.error.clone()).collect::<Vec<_>>().join("; ");
        return Err(ForecastError::Fit { model: "every model".into(), reason });
    }
    // Only models asked for were backtested, and Auto's candidates when Auto was asked for:
    // a candidate that wins stands for Auto.
    let best = auto::best(&backtests)
        .filter(|m| request.models.contains(m))
        .or_else(|| request.models.contains(&Model::Auto).then_some(Model::Auto))
        .or_else(|| forecasts.iter().find(|f| f.prediction.is_some()).map(|f| f.model));
    progress(100.0, "done");
    Ok(Report {
        frequency: regular.frequency.to_string(),
        rows: regular.values.len(),
        left_out,
        filled: regular.filled,
        merged: regular.merged,
        seasons: series.usable_seasons(),
        times: future,
        forecasts,
        backtests,
        best,
        auto: request.models.contains(&Model::Auto).then_some(chosen_by_auto),
    })
}

/// The request's events and regressors, each regressor's history carried onto the regular
/// calendar (`at`: linear between its rows, the nearest row beyond them) and followed by
/// its values at the `future` times.
fn extras(
    request: &Request,
    times: &[i64],
    columns: &[Vec<f64>],
    at: &[i64],
    future: &[i64],
) -> Result<Extras, ForecastError> {
    let invalid = |reason: String| ForecastError::Fit { model: "prophet".into(), reason };
    if columns.len() != request.regressors.len() {
        return Err(invalid(format!(
            "{} regressors were asked for but {} columns given",
            request.regressors.len(),
            columns.len()
        )));
    }
    let mut regressors = Vec::with_capacity(columns.len());
    // The request was checked: names, and one finite future value per step.
    for (input, column) in request.regressors.iter().zip(columns) {
        let known: Vec<(i64, f64)> = times
            .iter()
            .zip(column)
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| (*t, *v))
            .collect();
        if known.is_empty() {
            return Err(invalid(format!("regressor {:?} has no values", input.column)));
        }
        let mut values: Vec<f64> = at.iter().map(|t| interpolate(&known, *t)).collect();
        values.extend_from_slice(&input.future);
        regressors.push(Regressor {
            name: input.column.clone(),
            times: at.iter().chain(future).copied().collect(),
            values,
        });
    }
    // Prophet checks them again, whole, when it fits.
    Ok(Extras { events: request.events.clone(), regressors })
}

/// The value of sorted `(time, value)` points at `t`: linear between them, the nearest
/// beyond them.
fn interpolate(points: &[(i64, f64)], t: i64) -> f64 {
    // `after` is past every row at `t`: a repeated time takes its last row, as the calendar
    // does.
    let after = points.partition_point(|(time, _)| *time <= t);
    match (after.checked_sub(1).map(|i| points[i]), points.get(after).copied()) {
        (Some((time, value)), _) if time == t => value,
        (Some((t0, v0)), Some((t1, v1))) => v0 + (v1 - v0) * (t - t0) as f64 / (t1 - t0) as f64,
        (Some((_, v)), None) | (None, Some((_, v))) => v,
        (None, None) => f64::NAN,
    }
}

impl Report {
    /// The forecasts as CSV (see [`csv`]).
    pub fn to_csv(&self, levels: &[f64]) -> String {
        csv(&self.times, &self.forecasts, levels)
    }
}

/// Forecasts as CSV: `time,model,chosen,mean`, then `lower_L,upper_L` per level; times in
/// RFC 3339 (UTC), one row per model and step.
pub fn csv(times: &[i64], forecasts: &[ModelForecast], levels: &[f64]) -> String {
    let mut out = String::from("time,model,chosen,mean");
    for level in levels {
        out.push_str(&format!(",lower_{level},upper_{level}"));
    }
    out.push('\n');
    for forecast in forecasts {
        let Some(prediction) = &forecast.prediction else { continue };
        let chosen = forecast.chosen.as_deref().unwrap_or_default();
        for (i, time) in times.iter().enumerate() {
            let time = crate::format_time(*time);
            out.push_str(&format!(
                "{time},{},\"{}\",{}",
                forecast.model.name(),
                chosen.replace('"', "\"\""),
                prediction.mean[i]
            ));
            for band in &prediction.bands {
                out.push_str(&format!(",{},{}", band.lower[i], band.upper[i]));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regressors_are_carried_onto_the_calendar() {
        // A repeated time takes its last row, as the calendar does.
        let points = [(0, 1.0), (10, 2.0), (10, 3.0), (20, 5.0)];
        assert_eq!(interpolate(&points, 10), 3.0);
        assert_eq!(interpolate(&points, 5), 1.5);
        assert_eq!(interpolate(&points, 15), 4.0);
        assert_eq!(interpolate(&points, -5), 1.0);
        assert_eq!(interpolate(&points, 25), 5.0);
        assert!(interpolate(&[], 0).is_nan());
    }

    #[test]
    fn monthly_rows_are_forecast_on_their_calendar_with_backtests() {
        let text = include_str!("../../../testdata/air_passengers.csv");
        let (times, values): (Vec<i64>, Vec<f64>) = text
            .lines()
            .skip(1)
            .map(|line| {
                let (date, value) = line.split_once(',').unwrap();
                let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
                let micros = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
                (micros, value.parse::<f64>().unwrap())
            })
            .unzip();
        let request = Request {
            models: vec![Model::Auto, Model::Naive],
            horizon: 12,
            levels: vec![80.0, 95.0],
            windows: 3,
            events: vec![],
            regressors: vec![],
        };
        let mut seen = Vec::new();
        let report = forecast(&times, &values, &request, &mut |p, m| {
            seen.push((p, m.to_owned()));
            true
        })
        .unwrap();
        assert_eq!(report.frequency, "month");
        assert_eq!(report.seasons, vec![12]);
        assert_eq!(report.times.len(), 12);
        let first = chrono::DateTime::from_timestamp_micros(report.times[0]).unwrap();
        assert_eq!(first.to_rfc3339(), "1961-01-01T00:00:00+00:00");
        assert_eq!(
            report.backtests.len(),
            auto::Auto::new(1).candidates.len(),
            "Auto's candidates, naive among them"
        );
        assert!(report.backtests.iter().all(|t| t.backtest.is_some()));
        assert_eq!(report.forecasts.len(), 2);
        let auto = &report.forecasts[0];
        assert!(auto.chosen.as_deref().unwrap().starts_with("auto: "), "{auto:?}");
        assert_eq!(auto.prediction.as_ref().unwrap().bands.len(), 2);
        assert!(seen.len() >= 6 && seen.last().unwrap().0 == 100.0);
        assert_eq!(report.best, Some(Model::Auto));
        let csv = report.to_csv(&request.levels);
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some("time,model,chosen,mean,lower_80,upper_80,lower_95,upper_95")
        );
        assert!(lines.next().unwrap().starts_with("1961-01-01T00:00:00Z,auto,\"auto: "));
        assert_eq!(csv.lines().count(), 1 + 24);
    }

    #[test]
    fn only_the_latest_values_are_fitted() {
        let n = MAX_VALUES + 500;
        let times: Vec<i64> = (0..n as i64).map(|t| t * 60_000_000).collect();
        let values: Vec<f64> = (0..n).map(|t| (t % 7) as f64).collect();
        let request = Request {
            models: vec![Model::Naive],
            horizon: 3,
            levels: vec![],
            windows: 1,
            events: vec![],
            regressors: vec![],
        };
        let report = forecast(&times, &values, &request, &mut |_, _| true).unwrap();
        assert_eq!((report.rows, report.left_out), (MAX_VALUES, 500));
        assert_eq!(report.times[0], n as i64 * 60_000_000);
    }

    #[test]
    fn a_stop_and_bad_requests_are_errors() {
        let times: Vec<i64> = (0..50).map(|t| t * 3_600_000_000).collect();
        let values: Vec<f64> = (0..50).map(|t| t as f64).collect();
        let mut request = Request {
            models: vec![Model::Ets],
            horizon: 5,
            levels: vec![95.0],
            windows: 2,
            events: vec![],
            regressors: vec![],
        };
        let stopped = forecast(&times, &values, &request, &mut |_, _| false);
        assert_eq!(stopped.unwrap_err(), ForecastError::Cancelled);
        request.windows = 0;
        assert!(forecast(&times, &values, &request, &mut |_, _| true).is_err());
        request.windows = 2;
        request.horizon = 0;
        assert!(matches!(
            forecast(&times, &values, &request, &mut |_, _| true),
            Err(ForecastError::Horizon { .. })
        ));
    }
}

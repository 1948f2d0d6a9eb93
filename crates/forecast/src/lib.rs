//! Forecasting models, backtesting and accuracy metrics.
//!
//! Pure, synchronous compute over in-memory series: no I/O, no async runtime. Heavy
//! dependencies stay behind cargo features so that crates which do not forecast never pay
//! for their build.
//!
//! Every model implements [`Forecaster`]: it is fitted on a regular series (its values, its
//! timestamps and its season lengths, see [`Series`]) and the fit predicts any number of
//! steps with prediction intervals at the levels asked for ([`Fitted::predict`]).
//! [`calendar`] turns a dataset's irregular rows into such a series and continues its
//! calendar into the future; [`backtest`] scores models by rolling-origin evaluation.

pub mod arima;
pub mod auto;
pub mod backtest;
pub mod calendar;
#[cfg(feature = "prophet")]
mod descent;
pub mod ets;
pub mod metrics;
pub mod mstl;
pub mod naive;
mod optim;
pub mod prophet;
pub mod run;
mod stats;
pub mod theta;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Why a model could not be fitted or could not predict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    /// The series has fewer points than the model needs.
    #[error("{model} needs at least {needs} points, the series has {got}")]
    TooShort {
        /// The model.
        model: String,
        /// The fewest points it can work with.
        needs: usize,
        /// The points given.
        got: usize,
    },
    /// A value is missing, infinite or not a number.
    #[error("value {index} of the series is {value}: only finite numbers can be forecast")]
    NotFinite {
        /// Its position (from 0).
        index: usize,
        /// The value.
        value: f64,
    },
    /// The timestamps do not match the values.
    #[error("the series has {values} values but {times} timestamps")]
    Misaligned {
        /// Values given.
        values: usize,
        /// Timestamps given.
        times: usize,
    },
    /// An interval level outside (0, 100).
    #[error("interval level {0} is not between 0 and 100 (exclusive)")]
    Level(f64),
    /// A horizon of zero steps, or too many.
    #[error("the horizon must be between 1 and {max} steps, not {got}")]
    Horizon {
        /// Steps asked for.
        got: usize,
        /// The largest horizon allowed.
        max: usize,
    },
    /// No model name matched.
    #[error("unknown model {0:?}: expected one of {list}", list = Model::NAMES.join(", "))]
    UnknownModel(String),
    /// The work was stopped.
    #[error("the forecast was stopped")]
    Cancelled,
    /// An extra regressor has no value at a time the model needs.
    #[error("regressor {name:?} has no value at {time}")]
    MissingRegressor {
        /// The regressor.
        name: String,
        /// The time, RFC 3339.
        time: String,
    },
    /// The estimation did not reach a usable model.
    #[error("{model} could not be fitted: {reason}")]
    Fit {
        /// The model.
        model: String,
        /// What went wrong.
        reason: String,
    },
}

impl ForecastError {
    /// What kind of failure this is: the request or the series is at fault, except for a
    /// forecast stopped on purpose (a conflict with its cancellation).
    pub fn kind(&self) -> variosync_domain::ErrorKind {
        match self {
            Self::Cancelled => variosync_domain::ErrorKind::Conflict,
            _ => variosync_domain::ErrorKind::InvalidInput,
        }
    }
}

/// A time in microseconds since 1970 as RFC 3339 (UTC), as forecasts print them.
pub fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
        .unwrap_or_else(|| format!("{micros} µs"))
}

/// The largest horizon any model is asked for.
pub const MAX_HORIZON: usize = 10_000;

/// A regular series to fit: one value per step, oldest first.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The values, all finite.
    pub values: &'a [f64],
    /// Their times, microseconds since 1970 (UTC), one per value; may be empty where a model
    /// needs no times.
    pub times: &'a [i64],
    /// Season lengths in steps (for instance 7 for days of the week, 24 and 168 on hourly
    /// data), ascending; lengths below 2 are ignored.
    pub seasons: &'a [usize],
}

impl<'a> Series<'a> {
    /// A series without times or seasons.
    pub fn plain(values: &'a [f64]) -> Self {
        Self { values, times: &[], seasons: &[] }
    }

    /// Checks that the values are finite and the times line up.
    pub fn check(&self) -> Result<(), ForecastError> {
        if !self.times.is_empty() && self.times.len() != self.values.len() {
            return Err(ForecastError::Misaligned {
                values: self.values.len(),
                times: self.times.len(),
            });
        }
        match self.values.iter().position(|v| !v.is_finite()) {
            Some(index) => Err(ForecastError::NotFinite { index, value: self.values[index] }),
            None => Ok(()),
        }
    }

    /// Checks the series as [`Series::check`] does, and that `model` has the `needs` values
    /// it works with.
    pub fn require(&self, model: &str, needs: usize) -> Result<(), ForecastError> {
        self.check()?;
        if self.values.len() < needs {
            return Err(ForecastError::TooShort {
                model: model.to_owned(),
                needs,
                got: self.values.len(),
            });
        }
        Ok(())
    }

    /// The season lengths a model can use: at least 2 and at most half the series.
    pub fn usable_seasons(&self) -> Vec<usize> {
        let mut seasons: Vec<usize> = self
            .seasons
            .iter()
            .copied()
            .filter(|&m| m >= 2 && 2 * m <= self.values.len())
            .collect();
        seasons.sort_unstable();
        seasons.dedup();
        seasons
    }
}

/// A prediction interval at one level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// The level, in percent (for instance 80 or 95).
    pub level: f64,
    /// The lower bound per step.
    pub lower: Vec<f64>,
    /// The upper bound per step.
    pub upper: Vec<f64>,
}

/// What a fitted model predicts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// The point forecast per step.
    pub mean: Vec<f64>,
    /// One band per level asked for, in the order asked.
    pub bands: Vec<Band>,
}

/// A forecasting method: fitted on a series, it gives a [`Fitted`] model.
pub trait Forecaster: Send + Sync {
    /// The method's name, as [`Model::parse`] reads it.
    fn name(&self) -> &'static str;

    /// Fits the method on a series.
    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError>;
}

/// A model fitted on one series.
pub trait Fitted: Send + Sync + std::fmt::Debug {
    /// The model chosen, in words (for instance `ETS(M,Ad,M)`).
    fn describe(&self) -> String;

    /// Predicts the steps after the series. `future` holds their times (microseconds), one
    /// per step; models that need no times only count them. `levels` are interval levels in
    /// percent.
    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError>;
}

/// Checks a horizon and interval levels.
pub(crate) fn check_request(horizon: usize, levels: &[f64]) -> Result<(), ForecastError> {
    if horizon == 0 || horizon > MAX_HORIZON {
        return Err(ForecastError::Horizon { got: horizon, max: MAX_HORIZON });
    }
    match levels.iter().find(|l| !(**l > 0.0 && **l < 100.0)) {
        Some(level) => Err(ForecastError::Level(*level)),
        None => Ok(()),
    }
}

/// Bands from a point forecast and a standard deviation per step, assuming normal errors.
pub(crate) fn normal_bands(mean: &[f64], sd: &[f64], levels: &[f64]) -> Vec<Band> {
    levels
        .iter()
        .map(|&level| {
            let z = stats::normal_quantile(0.5 + level / 200.0);
            Band {
                level,
                lower: mean.iter().zip(sd).map(|(m, s)| m - z * s).collect(),
                upper: mean.iter().zip(sd).map(|(m, s)| m + z * s).collect(),
            }
        })
        .collect()
}

/// The models offered, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    /// The last value, repeated.
    Naive,
    /// The value one season before.
    SeasonalNaive,
    /// The line from the first to the last value, extended.
    Drift,
    /// Exponential smoothing, its form chosen by AICc.
    Ets,
    /// Seasonal ARIMA, its order chosen by a stepwise search on AICc.
    Arima,
    /// The Theta method, its form chosen by in-sample error.
    Theta,
    /// Several seasons taken out by STL, the rest forecast by ETS.
    Mstl,
    /// Prophet: trend with changepoints, Fourier seasons, events and regressors.
    Prophet,
    /// The candidate with the best rolling-origin backtest.
    Auto,
}

impl Model {
    /// Every model's name.
    pub const NAMES: &'static [&'static str] =
        &["naive", "seasonal_naive", "drift", "ets", "arima", "theta", "mstl", "prophet", "auto"];

    /// Every model.
    pub const ALL: &'static [Model] = &[
        Model::Naive,
        Model::SeasonalNaive,
        Model::Drift,
        Model::Ets,
        Model::Arima,
        Model::Theta,
        Model::Mstl,
        Model::Prophet,
        Model::Auto,
    ];

    /// Reads a model's name (case-insensitive; `snaive` and `auto_ets` are accepted too).
    pub fn parse(name: &str) -> Result<Self, ForecastError> {
        match name.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "naive" => Ok(Self::Naive),
            "seasonal_naive" | "snaive" => Ok(Self::SeasonalNaive),
            "drift" | "random_walk_with_drift" => Ok(Self::Drift),
            "ets" | "auto_ets" | "autoets" => Ok(Self::Ets),
            "theta" | "auto_theta" | "autotheta" => Ok(Self::Theta),
            "arima" | "auto_arima" | "autoarima" => Ok(Self::Arima),
            "mstl" => Ok(Self::Mstl),
            "prophet" => Ok(Self::Prophet),
            "auto" => Ok(Self::Auto),
            _ => Err(ForecastError::UnknownModel(name.to_owned())),
        }
    }

    /// The model's name.
    pub fn name(self) -> &'static str {
        self.forecaster(1).name()
    }

    /// Whether this build can fit the model (Prophet needs the `prophet` feature).
    pub fn available(self) -> bool {
        self != Self::Prophet || cfg!(feature = "prophet")
    }

    /// The method behind the name, for forecasts of `horizon` steps (Auto chooses for it).
    pub fn forecaster(self, horizon: usize) -> Box<dyn Forecaster> {
        self.forecaster_with(horizon, &Arc::default())
    }

    /// As [`Model::forecaster`], with the events and regressors that Prophet (alone, or
    /// among Auto's candidates) may use.
    pub fn forecaster_with(
        self,
        horizon: usize,
        extras: &Arc<prophet::Extras>,
    ) -> Box<dyn Forecaster> {
        match self {
            Self::Auto => {
                Box::new(auto::Auto { extras: extras.clone(), ..auto::Auto::new(horizon) })
            }
            Self::Prophet => Box::new(prophet::Prophet { extras: extras.clone() }),
            Self::Naive => Box::new(naive::Naive),
            Self::SeasonalNaive => Box::new(naive::SeasonalNaive),
            Self::Drift => Box::new(naive::Drift),
            Self::Ets => Box::new(ets::AutoEts::default()),
            Self::Arima => Box::new(arima::AutoArima),
            Self::Theta => Box::new(theta::AutoTheta),
            Self::Mstl => Box::new(mstl::Mstl),
        }
    }
}

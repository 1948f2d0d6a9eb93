//! Rolling-origin evaluation: the model is fitted on the series up to an origin and scored
//! on the `horizon` values after it, for `windows` origins `step` values apart, the last
//! origin leaving exactly `horizon` values after it.

use serde::{Deserialize, Serialize};

use crate::metrics::{self, Coverage, Scores};
use crate::{ForecastError, Forecaster, Series};

/// How to backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Values forecast from each origin.
    pub horizon: usize,
    /// Origins (at most; fewer when the series is short).
    pub windows: usize,
    /// Values between origins (the horizon when `None`).
    pub step: Option<usize>,
    /// Interval levels whose coverage is measured, in percent.
    pub levels: Vec<f64>,
    /// The season of the seasonal naive scale of MASE (1 for none).
    pub season: usize,
}

/// The fewest values a model is fitted on in a backtest window.
pub const MIN_TRAINING: usize = 3;

/// A model's backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backtest {
    /// The origins used.
    pub windows: usize,
    /// Scores pooled over every window (MASE averaged over windows).
    pub scores: Scores,
}

impl Plan {
    /// The training lengths of the windows that fit in `n` values, oldest first.
    pub fn origins(&self, n: usize, min_training: usize) -> Vec<usize> {
        let step = self.step.unwrap_or(self.horizon).max(1);
        (0..self.windows)
            .rev()
            .filter_map(|k| n.checked_sub(self.horizon + k * step))
            .filter(|&end| end >= min_training.max(1))
            .collect()
    }
}

/// Backtests one method on a series.
pub fn backtest(
    forecaster: &dyn Forecaster,
    series: &Series<'_>,
    plan: &Plan,
) -> Result<Backtest, ForecastError> {
    series.check()?;
    let n = series.values.len();
    let origins = plan.origins(n, MIN_TRAINING);
    if origins.is_empty() || plan.horizon == 0 {
        return Err(ForecastError::TooShort {
            model: format!("a backtest of {} over {} values", forecaster.name(), plan.horizon),
            needs: plan.horizon + MIN_TRAINING,
            got: n,
        });
    }
    let (mut actual_all, mut forecast_all) = (Vec::new(), Vec::new());
    let mut inside = vec![0usize; plan.levels.len()];
    let mut mases = Vec::new();
    for &end in &origins {
        let times = if series.times.is_empty() { &[][..] } else { &series.times[..end] };
        let training = Series { values: &series.values[..end], times, seasons: series.seasons };
        let future: Vec<i64> = if series.times.is_empty() {
            vec![0; plan.horizon]
        } else {
            series.times[end..end + plan.horizon].to_vec()
        };
        let prediction = forecaster.fit(&training)?.predict(&future, &plan.levels)?;
        let actual = &series.values[end..end + plan.horizon];
        for (count, band) in inside.iter_mut().zip(&prediction.bands) {
            *count += actual
                .iter()
                .zip(band.lower.iter().zip(&band.upper))
                .filter(|(a, (l, u))| *l <= *a && *a <= *u)
                .count();
        }
        if let Some(mase) = metrics::mase(actual, &prediction.mean, training.values, plan.season) {
            mases.push(mase);
        }
        actual_all.extend_from_slice(actual);
        forecast_all.extend(prediction.mean);
    }
    let total = actual_all.len() as f64;
    Ok(Backtest {
        windows: origins.len(),
        scores: Scores {
            mae: metrics::mae(&actual_all, &forecast_all),
            rmse: metrics::rmse(&actual_all, &forecast_all),
            mape: metrics::mape(&actual_all, &forecast_all),
            smape: metrics::smape(&actual_all, &forecast_all),
            mase: (!mases.is_empty()).then(|| mases.iter().sum::<f64>() / mases.len() as f64),
            coverage: plan
                .levels
                .iter()
                .zip(&inside)
                .map(|(level, count)| Coverage {
                    level: *level,
                    share: 100.0 * *count as f64 / total,
                })
                .collect(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::naive::{Naive, SeasonalNaive};

    fn plan(horizon: usize, windows: usize) -> Plan {
        Plan { horizon, windows, step: None, levels: vec![80.0, 95.0], season: 1 }
    }

    #[test]
    fn origins_step_back_from_the_end() {
        assert_eq!(plan(3, 3).origins(20, 3), vec![11, 14, 17]);
        assert_eq!(plan(3, 5).origins(10, 3), vec![4, 7]);
        assert!(plan(3, 2).origins(5, 3).is_empty());
    }

    #[test]
    fn a_seasonal_series_favours_the_seasonal_method() {
        let y: Vec<f64> =
            (0..48).map(|t| [10.0, 20.0, 15.0, 5.0][t % 4] + t as f64 * 0.01).collect();
        let series = Series { values: &y, times: &[], seasons: &[4] };
        let naive = backtest(&Naive, &series, &plan(4, 3)).unwrap();
        let seasonal = backtest(&SeasonalNaive, &series, &plan(4, 3)).unwrap();
        assert_eq!(naive.windows, 3);
        assert!(seasonal.scores.mae < naive.scores.mae / 10.0);
        assert!(seasonal.scores.mase.unwrap() < naive.scores.mase.unwrap());
        assert_eq!(seasonal.scores.coverage.len(), 2);
    }

    #[test]
    fn too_short_a_series_is_a_clear_error() {
        let err = backtest(&Naive, &Series::plain(&[1.0, 2.0, 3.0]), &plan(3, 2)).unwrap_err();
        assert!(err.to_string().contains("needs at least 6 points"), "{err}");
    }
}

//! Auto: every candidate model is backtested by rolling origin on the series, over the
//! horizon asked for, and the one with the smallest mean MASE (sMAPE where MASE is not
//! defined) is fitted on the whole series.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::backtest::{Backtest, Plan, backtest};
use crate::prophet::Extras;
use crate::{Fitted, ForecastError, Forecaster, Model, Prediction, Series};

/// Origins Auto backtests on, at most.
pub const WINDOWS: usize = 3;

/// The automatic choice.
#[derive(Debug, Clone)]
pub struct Auto {
    /// The horizon the choice is made for.
    pub horizon: usize,
    /// Origins to backtest on.
    pub windows: usize,
    /// The models to choose from.
    pub candidates: Vec<Model>,
    /// Events and regressors for the candidates that use them.
    pub extras: Arc<Extras>,
}

impl Auto {
    /// Auto over every other model, for a horizon.
    pub fn new(horizon: usize) -> Self {
        Self {
            horizon: horizon.max(1),
            windows: WINDOWS,
            candidates: Model::ALL
                .iter()
                .copied()
                .filter(|m| *m != Model::Auto && m.available())
                .collect(),
            extras: Arc::default(),
        }
    }
}

/// One candidate's backtest, or why it could not be backtested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// The candidate.
    pub model: Model,
    /// Its backtest.
    pub backtest: Option<Backtest>,
    /// Why it has none.
    pub error: Option<String>,
}

impl Trial {
    /// The score Auto ranks by: MASE, else sMAPE (lower is better).
    pub fn rank(&self) -> Option<(u8, f64)> {
        let scores = &self.backtest.as_ref()?.scores;
        match scores.mase {
            Some(mase) if mase.is_finite() => Some((0, mase)),
            _ => scores.smape.is_finite().then_some((1, scores.smape)),
        }
    }
}

/// Backtests each model on a series with one plan.
pub fn compare(
    models: &[Model],
    series: &Series<'_>,
    plan: &Plan,
    extras: &Arc<Extras>,
) -> Vec<Trial> {
    models
        .iter()
        .map(|&model| {
            match backtest(model.forecaster_with(plan.horizon, extras).as_ref(), series, plan) {
                Ok(backtest) => Trial { model, backtest: Some(backtest), error: None },
                Err(err) => Trial { model, backtest: None, error: Some(err.to_string()) },
            }
        })
        .collect()
}

/// The best trial's model, if any could be backtested.
pub fn best(trials: &[Trial]) -> Option<Model> {
    trials
        .iter()
        .filter_map(|t| t.rank().map(|rank| (rank, t.model)))
        .min_by(|(a, _), (b, _)| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, model)| model)
}

/// The backtest plan Auto uses on a series.
pub fn plan(series: &Series<'_>, horizon: usize, windows: usize) -> Plan {
    Plan {
        horizon,
        windows,
        step: None,
        levels: Vec::new(),
        season: series.usable_seasons().first().copied().unwrap_or(1),
    }
}

/// The model Auto chose, fitted on the whole series.
#[derive(Debug)]
struct Chosen {
    model: Model,
    fitted: Box<dyn Fitted>,
}

impl Forecaster for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.check()?;
        let plan = plan(series, self.horizon, self.windows);
        let trials = compare(&self.candidates, series, &plan, &self.extras);
        // Too short to backtest: exponential smoothing, which copes with short series.
        let model = best(&trials).unwrap_or(Model::Ets);
        let fitted = model.forecaster_with(self.horizon, &self.extras).fit(series)?;
        Ok(Box::new(Chosen { model, fitted }))
    }
}

impl Fitted for Chosen {
    fn describe(&self) -> String {
        let inner = self.fitted.describe();
        format!("auto: {inner}{}", if inner.is_empty() { self.model.name() } else { "" })
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        self.fitted.predict(future, levels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_strong_season_chooses_a_seasonal_model() {
        let y: Vec<f64> = (0..96)
            .map(|t| 100.0 + [10.0, -5.0, 20.0, -25.0][t % 4] + ((t * 7919) % 13) as f64 * 0.1)
            .collect();
        let series = Series { values: &y, times: &[], seasons: &[4] };
        let trials =
            compare(&Auto::new(8).candidates, &series, &plan(&series, 8, 3), &Arc::default());
        assert_eq!(trials.len(), Model::ALL.iter().filter(|m| m.available()).count() - 1);
        let chosen = best(&trials).unwrap();
        assert!(
            matches!(
                chosen,
                Model::SeasonalNaive
                    | Model::Ets
                    | Model::Arima
                    | Model::Theta
                    | Model::Mstl
                    | Model::Prophet
            ),
            "{chosen:?}"
        );
        let fitted = Auto::new(8).fit(&series).unwrap();
        assert!(fitted.describe().starts_with("auto: "), "{}", fitted.describe());
        assert_eq!(fitted.predict(&[0; 8], &[90.0]).unwrap().mean.len(), 8);
    }

    #[test]
    fn too_short_to_backtest_falls_back_to_ets() {
        let fitted = Auto::new(10).fit(&Series::plain(&[1.0, 2.0, 3.0])).unwrap();
        assert!(fitted.describe().contains("ETS"), "{}", fitted.describe());
    }
}

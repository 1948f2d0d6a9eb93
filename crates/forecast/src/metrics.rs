//! Accuracy measures of a forecast against what happened.
//!
//! sMAPE is on the 0-200 scale of the M competitions; MASE divides by the in-sample mean
//! absolute error of the seasonal naive method (Hyndman and Koehler, 2006).

use serde::{Deserialize, Serialize};

/// Mean absolute error.
pub fn mae(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(a, f)| (a - f).abs()))
}

/// Root mean squared error.
pub fn rmse(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(a, f)| (a - f).powi(2))).sqrt()
}

/// Mean absolute percentage error, in percent, over the non-zero actual values (`None` when
/// every actual value is zero).
pub fn mape(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    let terms: Vec<f64> = actual
        .iter()
        .zip(forecast)
        .filter(|(a, _)| **a != 0.0)
        .map(|(a, f)| 100.0 * ((a - f) / a).abs())
        .collect();
    (!terms.is_empty()).then(|| mean(terms.into_iter()))
}

/// Symmetric mean absolute percentage error, 0 to 200 (a step where both are zero counts
/// as 0).
pub fn smape(actual: &[f64], forecast: &[f64]) -> f64 {
    mean(actual.iter().zip(forecast).map(|(a, f)| {
        let denominator = a.abs() + f.abs();
        if denominator == 0.0 { 0.0 } else { 200.0 * (a - f).abs() / denominator }
    }))
}

/// The in-sample mean absolute error of the seasonal naive method with season `m` (`None`
/// when the history is too short or constant).
pub fn naive_scale(history: &[f64], m: usize) -> Option<f64> {
    let m = m.max(1);
    if history.len() <= m {
        return None;
    }
    let scale = mean(history.windows(m + 1).map(|w| (w[m] - w[0]).abs()));
    (scale > 0.0).then_some(scale)
}

/// Mean absolute scaled error against the history's seasonal naive method.
pub fn mase(actual: &[f64], forecast: &[f64], history: &[f64], m: usize) -> Option<f64> {
    naive_scale(history, m).map(|scale| mae(actual, forecast) / scale)
}

/// The share of actual values inside `[lower, upper]`, in percent.
pub fn coverage(actual: &[f64], lower: &[f64], upper: &[f64]) -> f64 {
    100.0
        * mean(
            actual
                .iter()
                .zip(lower.iter().zip(upper))
                .map(|(a, (l, u))| if l <= a && a <= u { 1.0 } else { 0.0 }),
        )
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 { f64::NAN } else { sum / count as f64 }
}

/// Every measure of one forecast (or of several, pooled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Mean absolute percentage error, when defined.
    pub mape: Option<f64>,
    /// Symmetric MAPE, 0-200.
    pub smape: f64,
    /// Mean absolute scaled error, when defined.
    pub mase: Option<f64>,
    /// Interval coverage in percent, per level.
    pub coverage: Vec<Coverage>,
}

/// How often one level's interval held the actual value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Coverage {
    /// The nominal level, in percent.
    pub level: f64,
    /// The share of actual values inside, in percent.
    pub share: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_match_hand_computations() {
        let actual = [2.0, 4.0, 0.0];
        let forecast = [1.0, 5.0, 0.0];
        assert!((mae(&actual, &forecast) - 2.0 / 3.0).abs() < 1e-12);
        assert!((rmse(&actual, &forecast) - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((mape(&actual, &forecast).unwrap() - 37.5).abs() < 1e-12);
        let want = (200.0 / 3.0 + 200.0 / 9.0) / 3.0;
        assert!((smape(&actual, &forecast) - want).abs() < 1e-12);
        assert_eq!(mape(&[0.0], &[1.0]), None);
        assert_eq!(smape(&[1.0], &[-1.0]), 200.0);
    }

    #[test]
    fn mase_scales_by_the_seasonal_naive_error() {
        let history = [1.0, 2.0, 1.0, 2.0, 1.0, 2.0];
        // Lag 1 changes by 1 each step; lag 2 not at all.
        assert_eq!(naive_scale(&history, 1), Some(1.0));
        assert_eq!(naive_scale(&history, 2), None);
        assert_eq!(mase(&[3.0], &[1.0], &history, 1), Some(2.0));
        assert_eq!(coverage(&[1.0, 5.0], &[0.0, 0.0], &[2.0, 2.0]), 50.0);
    }
}

//! The benchmark methods: naive, seasonal naive and drift, with the usual normal intervals
//! (Hyndman and Athanasopoulos, *Forecasting: Principles and Practice*, 5.5).

use crate::{Fitted, ForecastError, Forecaster, Prediction, Series, check_request, normal_bands};

/// The last value, repeated.
#[derive(Debug, Clone, Copy, Default)]
pub struct Naive;

/// The value one season before; the season is the shortest usable season length (the last
/// value when there is none).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeasonalNaive;

/// The line from the first to the last value, extended.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drift;

/// A fitted benchmark method.
#[derive(Debug, Clone)]
struct Benchmark {
    name: String,
    /// The last season (one value for naive and drift).
    last: Vec<f64>,
    slope: f64,
    sigma: f64,
    n: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Naive,
    Seasonal,
    Drift,
}

/// The residual standard deviation of differences at lag `m` less `offset`.
fn lag_sigma(y: &[f64], m: usize, offset: f64, parameters: usize) -> f64 {
    let residuals = y.len().saturating_sub(m);
    if residuals <= parameters {
        return 0.0;
    }
    let sum: f64 = y.windows(m + 1).map(|w| (w[m] - w[0] - offset).powi(2)).sum();
    (sum / (residuals - parameters) as f64).sqrt()
}

impl Forecaster for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.require(self.name(), 1)?;
        let y = series.values;
        Ok(Box::new(Benchmark {
            name: "Naive".into(),
            last: vec![y[y.len() - 1]],
            slope: 0.0,
            sigma: lag_sigma(y, 1, 0.0, 0),
            n: y.len(),
            kind: Kind::Naive,
        }))
    }
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        "seasonal_naive"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.require(self.name(), 1)?;
        let y = series.values;
        let m = series.usable_seasons().first().copied().unwrap_or(1);
        Ok(Box::new(Benchmark {
            name: format!("SeasonalNaive({m})"),
            last: y[y.len() - m..].to_vec(),
            slope: 0.0,
            sigma: lag_sigma(y, m, 0.0, 0),
            n: y.len(),
            kind: Kind::Seasonal,
        }))
    }
}

impl Forecaster for Drift {
    fn name(&self) -> &'static str {
        "drift"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.require(self.name(), 2)?;
        let y = series.values;
        let n = y.len();
        let slope = (y[n - 1] - y[0]) / (n - 1) as f64;
        Ok(Box::new(Benchmark {
            name: "Drift".into(),
            last: vec![y[n - 1]],
            slope,
            sigma: lag_sigma(y, 1, slope, 1),
            n,
            kind: Kind::Drift,
        }))
    }
}

impl Fitted for Benchmark {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(future.len(), levels)?;
        let m = self.last.len();
        let mut mean = Vec::with_capacity(future.len());
        let mut sd = Vec::with_capacity(future.len());
        for step in 1..=future.len() {
            let h = step as f64;
            mean.push(self.last[(step - 1) % m] + self.slope * h);
            sd.push(
                self.sigma
                    * match self.kind {
                        Kind::Naive => h.sqrt(),
                        Kind::Seasonal => (((step - 1) / m + 1) as f64).sqrt(),
                        Kind::Drift => (h * (1.0 + h / self.n as f64)).sqrt(),
                    },
            );
        }
        let bands = normal_bands(&mean, &sd, levels);
        Ok(Prediction { mean, bands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn predict(model: &dyn Forecaster, y: &[f64], seasons: &[usize], h: usize) -> Prediction {
        let series = Series { values: y, times: &[], seasons };
        model.fit(&series).unwrap().predict(&vec![0; h], &[80.0, 95.0]).unwrap()
    }

    #[test]
    fn naive_repeats_the_last_value_with_widening_bands() {
        let p = predict(&Naive, &[1.0, 3.0, 2.0, 4.0], &[], 3);
        assert_eq!(p.mean, vec![4.0; 3]);
        let width = |i: usize| p.bands[1].upper[i] - p.bands[1].lower[i];
        assert!(width(0) > 0.0 && width(2) > width(0));
        assert!(p.bands[0].upper[0] < p.bands[1].upper[0]);
    }

    #[test]
    fn seasonal_naive_repeats_the_last_season() {
        let y = [1.0, 2.0, 3.0, 1.5, 2.5, 3.5, 2.0, 3.0, 4.0];
        let p = predict(&SeasonalNaive, &y, &[3], 5);
        assert_eq!(p.mean, vec![2.0, 3.0, 4.0, 2.0, 3.0]);
    }

    #[test]
    fn drift_extends_the_line() {
        let p = predict(&Drift, &[1.0, 2.0, 3.0, 4.0], &[], 2);
        assert_eq!(p.mean, vec![5.0, 6.0]);
        // A perfect line leaves no residual spread.
        assert_eq!(p.bands[0].lower, p.mean);
    }

    #[test]
    fn empty_and_bad_input_are_refused() {
        let empty = Series::plain(&[]);
        assert!(matches!(Naive.fit(&empty), Err(ForecastError::TooShort { needs: 1, .. })));
        assert!(matches!(
            Drift.fit(&Series::plain(&[1.0])),
            Err(ForecastError::TooShort { needs: 2, .. })
        ));
        assert!(matches!(
            Naive.fit(&Series::plain(&[1.0, f64::NAN])),
            Err(ForecastError::NotFinite { index: 1, .. })
        ));
        let fitted = Naive.fit(&Series::plain(&[1.0])).unwrap();
        assert!(matches!(fitted.predict(&[], &[]), Err(ForecastError::Horizon { .. })));
        assert!(matches!(fitted.predict(&[0], &[100.0]), Err(ForecastError::Level(_))));
    }
}

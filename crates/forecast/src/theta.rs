//! The Theta method in its state-space forms (Fiorucci, Pellegrini, Louzada, Petropoulos
//! and Koehler, 2016): the standard (θ = 2) and optimised (θ estimated) methods, each with
//! static or dynamic trend coefficients; AutoTheta keeps the form with the smallest
//! in-sample mean squared error, as statsforecast's AutoTheta does. A seasonal series (by
//! the 90% autocorrelation test at its season) is adjusted by classical multiplicative
//! decomposition first and its forecasts reseasoned.

use crate::optim::{Stop, nelder_mead};
use crate::stats::{mean, seasonal_figure};
use crate::{Fitted, ForecastError, Forecaster, Prediction, Series, check_request, normal_bands};

/// One Theta form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Standard: θ = 2, static trend.
    Standard,
    /// Optimised θ, static trend.
    Optimised,
    /// Standard, dynamic trend.
    DynamicStandard,
    /// Optimised θ, dynamic trend.
    DynamicOptimised,
}

impl Form {
    const ALL: [Form; 4] =
        [Form::Standard, Form::Optimised, Form::DynamicStandard, Form::DynamicOptimised];

    fn name(self) -> &'static str {
        match self {
            Self::Standard => "STM",
            Self::Optimised => "OTM",
            Self::DynamicStandard => "DSTM",
            Self::DynamicOptimised => "DOTM",
        }
    }

    fn dynamic(self) -> bool {
        matches!(self, Self::DynamicStandard | Self::DynamicOptimised)
    }

    fn optimised(self) -> bool {
        matches!(self, Self::Optimised | Self::DynamicOptimised)
    }
}

/// AutoTheta: every form, the smallest in-sample MSE wins.
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoTheta;

/// What a run over the series leaves.
#[derive(Debug, Clone, Copy)]
struct End {
    mse: f64,
    level: f64,
    a: f64,
    b: f64,
}

/// Runs a form over `y` with `alpha`, `theta` and the initial level; `None` where it
/// breaks down.
fn run(form: Form, y: &[f64], alpha: f64, theta: f64, level0: f64) -> Option<End> {
    let n = y.len();
    let weight = 1.0 - 1.0 / theta;
    let (a_static, b_static) = if form.dynamic() { (0.0, 0.0) } else { coefficients(y) };
    let (mut a, mut b) = if form.dynamic() { (0.0, 0.0) } else { (a_static, b_static) };
    let mut level = level0;
    let mut mean_y = 0.0;
    let mut decay = 1.0; // (1 - alpha)^(t-1)
    let mut sse = 0.0;
    for (i, &value) in y.iter().enumerate() {
        let t = (i + 1) as f64;
        let mu = level + weight * (decay * a + (1.0 - decay * (1.0 - alpha)) / alpha * b);
        let e = value - mu;
        sse += e * e;
        level = alpha * value + (1.0 - alpha) * level;
        decay *= 1.0 - alpha;
        if form.dynamic() {
            let previous_mean = mean_y;
            mean_y = ((t - 1.0) * mean_y + value) / t;
            b = if i == 0 {
                0.0
            } else {
                (t - 2.0) / t * b + 6.0 / t * (value - previous_mean) / (t + 1.0)
            };
            a = mean_y - (t + 1.0) / 2.0 * b;
        }
    }
    let mse = sse / n as f64;
    mse.is_finite().then_some(End { mse, level, a, b })
}

/// The intercept and slope of the least-squares line through `(t, y_t)`, t from 1.
fn coefficients(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.len() < 2 {
        return (y.first().copied().unwrap_or(0.0), 0.0);
    }
    let mean_y = mean(y);
    let weighted: f64 = y.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v).sum();
    let b = 6.0 / (n * n - 1.0) * (2.0 / n * weighted - (1.0 + n) * mean_y);
    (mean_y - b * (n + 1.0) / 2.0, b)
}

/// Whether `y` is seasonal at `m` by the 90% autocorrelation test.
fn seasonal(y: &[f64], m: usize) -> bool {
    let n = y.len();
    if m < 2 || n < 3 * m {
        return false;
    }
    let mean_y = mean(y);
    let denominator: f64 = y.iter().map(|v| (v - mean_y).powi(2)).sum();
    if denominator <= 0.0 {
        return false;
    }
    let acf = |lag: usize| -> f64 {
        (lag..n).map(|t| (y[t] - mean_y) * (y[t - lag] - mean_y)).sum::<f64>() / denominator
    };
    let r: Vec<f64> = (1..=m).map(acf).collect();
    let spread = (1.0 + 2.0 * r[..m - 1].iter().map(|x| x * x).sum::<f64>()) / n as f64;
    r[m - 1].abs() / spread.sqrt() > 1.644_853_626_951_472
}

/// A fitted Theta form.
#[derive(Debug, Clone)]
pub struct ThetaFit {
    form: Form,
    alpha: f64,
    theta: f64,
    end: End,
    n: usize,
    scale: f64,
    /// Seasonal indexes, position 0 at the first value; empty when not seasonal.
    figure: Vec<f64>,
}

impl Forecaster for AutoTheta {
    fn name(&self) -> &'static str {
        "theta"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        Ok(Box::new(self.estimate(series)?))
    }
}

impl AutoTheta {
    /// Estimates every form and keeps the best.
    pub fn estimate(&self, series: &Series<'_>) -> Result<ThetaFit, ForecastError> {
        series.require("theta", 3)?;
        let values = series.values;
        let scale = crate::stats::scale_of(values);
        let mut y: Vec<f64> = values.iter().map(|v| v / scale).collect();
        let m = series.usable_seasons().first().copied().unwrap_or(1);
        let mut figure = Vec::new();
        if y.iter().all(|v| *v > 0.0)
            && seasonal(&y, m)
            && let Some(found) = seasonal_figure(&y, m, true)
            && found.iter().all(|v| *v > 0.0)
        {
            for (t, v) in y.iter_mut().enumerate() {
                *v /= found[t % m];
            }
            figure = found;
        }
        let mut best: Option<ThetaFit> = None;
        for form in Form::ALL {
            let Some(fit) = Self::fit_form(form, &y) else { continue };
            if best.as_ref().is_none_or(|b| fit.end.mse < b.end.mse) {
                best = Some(ThetaFit { scale, figure: figure.clone(), ..fit });
            }
        }
        best.ok_or_else(|| ForecastError::Fit {
            model: "theta".into(),
            reason: "no form could be estimated".into(),
        })
    }

    fn fit_form(form: Form, y: &[f64]) -> Option<ThetaFit> {
        // Parameters: initial level, alpha, and theta when optimised.
        let objective = |x: &[f64]| -> f64 {
            let (level0, alpha) = (x[0], x[1]);
            let theta = if form.optimised() { x[2] } else { 2.0 };
            if !(0.1..=0.99).contains(&alpha) || !(1.0..=1e3).contains(&theta) {
                return f64::INFINITY;
            }
            run(form, y, alpha, theta, level0).map_or(f64::INFINITY, |end| end.mse)
        };
        let mut x0 = vec![y[0] / 2.0, 0.5];
        if form.optimised() {
            x0.push(2.0);
        }
        let steps: Vec<f64> = x0.iter().map(|v| 0.1 * v.abs().max(0.1)).collect();
        let found = nelder_mead(
            objective,
            &x0,
            &steps,
            Stop { max_evals: 1_000, reltol: 1e-10, abstol: 0.0 },
        );
        let theta = if form.optimised() { found.x[2] } else { 2.0 };
        let end = run(form, y, found.x[1], theta, found.x[0])?;
        Some(ThetaFit {
            form,
            alpha: found.x[1],
            theta,
            end,
            n: y.len(),
            scale: 1.0,
            figure: Vec::new(),
        })
    }
}

impl Fitted for ThetaFit {
    fn describe(&self) -> String {
        format!("Theta({}, θ={:.2})", self.form.name(), self.theta)
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        let h = future.len();
        check_request(h, levels)?;
        let (alpha, n) = (self.alpha, self.n as f64);
        let weight = 1.0 - 1.0 / self.theta;
        let decay_n = (1.0 - alpha).powf(n);
        let sigma = self.end.mse.sqrt();
        let mut mean_out = Vec::with_capacity(h);
        let mut sd = Vec::with_capacity(h);
        for step in 1..=h {
            let k = step as f64;
            let trend = decay_n * self.end.a
                + ((k - 1.0) + (1.0 - decay_n * (1.0 - alpha)) / alpha) * self.end.b;
            let index = if self.figure.is_empty() {
                1.0
            } else {
                self.figure[(self.n + step - 1) % self.figure.len()]
            };
            mean_out.push((self.end.level + weight * trend) * index * self.scale);
            sd.push(sigma * (1.0 + alpha * alpha * (k - 1.0)).sqrt() * index * self.scale);
        }
        let bands = normal_bands(&mean_out, &sd, levels);
        Ok(Prediction { mean: mean_out, bands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trend_is_followed_and_a_season_restored() {
        let y: Vec<f64> =
            (0..96).map(|t| (100.0 + 2.0 * t as f64) * [0.8, 1.0, 1.3, 0.9][t % 4]).collect();
        let fit = AutoTheta.estimate(&Series { values: &y, times: &[], seasons: &[4] }).unwrap();
        assert!(!fit.figure.is_empty(), "the season was found");
        let p = fit.predict(&[0; 8], &[95.0]).unwrap();
        // The peak quarter stays above the trough, and the level keeps rising.
        assert!(p.mean[2] > p.mean[0] * 1.3, "{:?}", p.mean);
        assert!(p.mean[6] > p.mean[2], "{:?}", p.mean);
        assert!(p.bands[0].lower[7] < p.mean[7] && p.mean[7] < p.bands[0].upper[7]);
    }

    #[test]
    fn static_coefficients_match_least_squares() {
        let (a, b) = coefficients(&[3.0, 5.0, 7.0, 9.0]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    }
}

//! Prophet (Taylor and Letham, 2018): a piecewise-linear trend with automatic changepoints,
//! Fourier seasonalities, optional events (holidays, launches, earnings days) and extra
//! regressors, fitted by maximum a posteriori estimation of Prophet's Stan model.
//!
//! augurs-prophet prepares the data (scaling, changepoints, Fourier and event features) and
//! predicts; the posterior is maximised natively here (its log density, gradient and
//! Hessian written out from `prophet.stan`), which is several times faster than Stan
//! itself. Prophet's Stan model, compiled to WebAssembly and run in wasmtime
//! (augurs-prophet's `wasmstan`: nothing to install, nothing downloaded), fits logistic
//! growth and whatever the native optimiser does not see through. The options are Python
//! prophet's defaults, so that the two agree: yearly, weekly and daily seasonality where
//! the history's span and spacing call for them, 25 changepoints over the first 80% of the
//! history, Newton's method below 100 points and L-BFGS from there, intervals from 1000
//! simulated paths.
//!
//! A series without timestamps is taken as one value a day, with a Fourier seasonality per
//! season length instead of the calendar's. Two histories have no maximum-likelihood fit:
//! a constant one is forecast as that constant, and one Prophet's trend fits exactly (a
//! perfect line, or fewer values than parameters: neither optimiser converges) by the trend
//! Prophet starts from, the line through its first and last values; the model's
//! description says which.

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Fitted, ForecastError, Forecaster, Prediction, Series};

/// Events a forecast may carry, at most.
pub const MAX_EVENTS: usize = 50;
/// Days one event may cover around each of its dates, before or after.
pub const MAX_EVENT_WINDOW: u32 = 30;
/// Dates one event may have, at most.
pub const MAX_EVENT_DATES: usize = 1_000;
/// Extra regressors a forecast may carry, at most.
pub const MAX_REGRESSORS: usize = 10;

/// A named event on given days, such as a holiday: Prophet gives it its own effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Its name (letters, digits, `_`, `-` and spaces).
    pub name: String,
    /// The days it falls on (UTC), past and future.
    pub dates: Vec<NaiveDate>,
    /// Days before each date that it covers too.
    #[serde(default)]
    pub before: u32,
    /// Days after each date that it covers too.
    #[serde(default)]
    pub after: u32,
}

/// An extra series that moves the one forecast, known at every time of the history and of
/// the steps to predict (a backtest predicts steps of the history).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regressor {
    /// Its name.
    pub name: String,
    /// Times (microseconds since 1970, UTC), one per value.
    pub times: Vec<i64>,
    /// Its values, all finite.
    pub values: Vec<f64>,
}

/// What Prophet may use beyond the series: events and regressors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// Events, holidays for instance.
    pub events: Vec<Event>,
    /// Extra regressors.
    pub regressors: Vec<Regressor>,
}

impl Extras {
    /// Checks the names, sizes and values.
    pub fn check(&self) -> Result<(), ForecastError> {
        let invalid = |reason: String| ForecastError::Fit { model: "prophet".into(), reason };
        if self.events.len() > MAX_EVENTS {
            return Err(invalid(format!("at most {MAX_EVENTS} events, not {}", self.events.len())));
        }
        if self.regressors.len() > MAX_REGRESSORS {
            return Err(invalid(format!(
                "at most {MAX_REGRESSORS} regressors, not {}",
                self.regressors.len()
            )));
        }
        let mut names: Vec<&str> = Vec::new();
        let valid = |name: &str| {
            !name.is_empty()
                && name.trim() == name
                && name.chars().count() <= 64
                && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
        };
        for name in
            self.events.iter().map(|e| &e.name).chain(self.regressors.iter().map(|r| &r.name))
        {
            if !valid(name) {
                return Err(invalid(format!(
                    "{name:?} is not a usable name: 1 to 64 letters, digits, '_', '-' or inner \
                     spaces"
                )));
            }
            if names.contains(&name.as_str()) {
                return Err(invalid(format!("the name {name:?} is used twice")));
            }
            names.push(name);
        }
        for event in &self.events {
            if event.dates.is_empty() {
                return Err(invalid(format!("event {:?} has no dates", event.name)));
            }
            if event.dates.len() > MAX_EVENT_DATES {
                return Err(invalid(format!(
                    "event {:?} has {} dates: at most {MAX_EVENT_DATES}",
                    event.name,
                    event.dates.len()
                )));
            }
            if event.before > MAX_EVENT_WINDOW || event.after > MAX_EVENT_WINDOW {
                return Err(invalid(format!(
                    "event {:?} may cover at most {MAX_EVENT_WINDOW} days before and after \
                     each date",
                    event.name
                )));
            }
        }
        for regressor in &self.regressors {
            if regressor.times.len() != regressor.values.len() {
                return Err(invalid(format!(
                    "regressor {:?} has {} values for {} times",
                    regressor.name,
                    regressor.values.len(),
                    regressor.times.len()
                )));
            }
            if let Some(i) = regressor.values.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!(
                    "regressor {:?} is {} at {}: only finite numbers can be used",
                    regressor.name,
                    regressor.values[i],
                    crate::format_time(regressor.times[i])
                )));
            }
        }
        Ok(())
    }
}

/// Prophet, with the events and regressors it may use.
#[derive(Debug, Clone, Default)]
pub struct Prophet {
    /// Events and regressors.
    pub extras: Arc<Extras>,
}

impl Forecaster for Prophet {
    fn name(&self) -> &'static str {
        "prophet"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.require("prophet", 3)?;
        self.extras.check()?;
        let values = series.values;
        let synthetic = series.times.is_empty();
        if synthetic && !(self.extras.regressors.is_empty() && self.extras.events.is_empty()) {
            return Err(ForecastError::Fit {
                model: "prophet".into(),
                reason: "events and regressors need the series' timestamps".into(),
            });
        }
        let n = values.len();
        if series.times.windows(2).any(|w| w[1] - w[0] < 1_000_000) {
            return Err(ForecastError::Fit {
                model: "prophet".into(),
                reason: "Prophet counts time in whole seconds: the series steps by less than a \
                         second"
                    .into(),
            });
        }
        if values.iter().all(|v| *v == values[0]) {
            return Ok(Box::new(Substitute {
                fitted: crate::naive::Naive.fit(series)?,
                describe: "Prophet (constant history)",
            }));
        }
        match engine::fit(self, series, synthetic) {
            Ok(fit) => Ok(Box::new(fit)),
            Err(Failure::Input(reason)) => Err(ForecastError::Fit {
                model: "prophet".into(),
                reason: format!("{reason} (on {n} values)"),
            }),
            // Both optimisers stop abnormally where the likelihood has no maximum: histories
            // that Prophet's trend fits exactly (a perfect line; fewer values than its
            // parameters). What is left is the trend Prophet starts from: the line through the
            // first and last values, that is, the drift method, and it says so.
            Err(Failure::Optimizer) => Ok(Box::new(Substitute {
                fitted: crate::naive::Drift.fit(series)?,
                describe: "Prophet's initial trend, the line through the first and last values \
                           (neither optimiser converged)",
            })),
        }
    }
}

/// Why a fit failed.
#[derive(Debug)]
enum Failure {
    /// The input cannot be used.
    Input(String),
    /// Neither optimiser reached a maximum.
    #[cfg_attr(not(feature = "prophet"), allow(dead_code))]
    Optimizer,
}

/// What stands in for Prophet where its fit has no maximum: the simpler method that Prophet
/// reduces to there, under a description that says so.
#[derive(Debug)]
struct Substitute {
    fitted: Box<dyn Fitted>,
    describe: &'static str,
}

impl Fitted for Substitute {
    fn describe(&self) -> String {
        self.describe.into()
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        self.fitted.predict(future, levels)
    }
}

#[cfg(feature = "prophet")]
mod engine {
    //! The fit itself, through augurs-prophet.

    use std::collections::HashMap;
    use std::num::NonZeroU32;
    use std::sync::OnceLock;

    use augurs_prophet::TrendIndicator;
    use augurs_prophet::optimizer::{Data, InitialParams, OptimizeOpts, OptimizedParams};
    use augurs_prophet::wasmstan::WasmstanOptimizer;
    use augurs_prophet::{
        Algorithm, Holiday, HolidayOccurrence, IntervalWidth, PositiveFloat, PredictionData,
        ProphetOptions, Regressor, Seasonality, SeasonalityOption, TrainingData,
    };

    use super::{Failure, Prophet};
    use crate::descent::{Lbfgs, NEWTON_EPSILON, STENCIL, Smooth, dot, lbfgs, newton};
    use crate::{Band, Fitted, ForecastError, Prediction, Series, check_request};

    const DAY: i64 = 86_400;

    /// Seconds since 1970 of each time in microseconds.
    fn seconds(times: &[i64]) -> Vec<i64> {
        times.iter().map(|t| t.div_euclid(1_000_000)).collect()
    }

    impl super::Regressor {
        /// Its value at each of `times`, or the first time it has none for.
        fn at(&self, index: &HashMap<i64, f64>, times: &[i64]) -> Result<Vec<f64>, ForecastError> {
            times
                .iter()
                .map(|t| {
                    index.get(t).copied().ok_or_else(|| ForecastError::MissingRegressor {
                        name: self.name.clone(),
                        time: crate::format_time(*t),
                    })
                })
                .collect()
        }
    }

    /// The compiled Stan model, shared by every fit of the process.
    fn stan() -> WasmstanOptimizer {
        static OPTIMIZER: OnceLock<WasmstanOptimizer> = OnceLock::new();
        OPTIMIZER.get_or_init(WasmstanOptimizer::new).clone()
    }

    /// Finds the maximum a posteriori estimate of Prophet's Stan model natively: the log
    /// density of `prophet.stan`, its gradient and (for additive features) its Hessian
    /// written out, maximised with the methods Python prophet has Stan use (Newton's method
    /// below 100 values, L-BFGS from there, Stan's stopping criteria). Logistic growth,
    /// and any fit it does not see through, go to the Stan model itself, compiled to
    /// WebAssembly, with the options asked for.
    #[derive(Debug, Clone)]
    pub(super) struct Optimizer {
        /// Try the native optimiser first (else straight to the Stan model).
        native: bool,
    }

    impl augurs_prophet::Optimizer for Optimizer {
        fn optimize(
            &self,
            init: &InitialParams,
            data: &Data,
            opts: &OptimizeOpts,
        ) -> Result<OptimizedParams, augurs_prophet::optimizer::Error> {
            if self.native
                && data.trend_indicator != TrendIndicator::Logistic
                && consistent(init, data)
            {
                // augurs-prophet orders the features as a hash map iterates, which differs
                // from one process to the next; in a canonical order the same history always
                // gets the same fit.
                let order = canonical_order(data);
                let (data, init) = (permute_data(data, &order), permute_init(init, &order));
                if let Some(mut found) = Posterior::new(&data).and_then(|p| p.maximise(&init)) {
                    let mut beta = vec![0.0; found.beta.len()];
                    for (position, &column) in order.iter().enumerate() {
                        beta[column] = found.beta[position];
                    }
                    found.beta = beta;
                    return Ok(found);
                }
            }
            stan().optimize(init, data, opts)
        }
    }

    /// Whether the sizes agree and the changepoints are sorted, as the native optimiser
    /// assumes (augurs-prophet keeps them so; anything else goes to the Stan model).
    fn consistent(init: &InitialParams, data: &Data) -> bool {
        let (t, s, k) = (data.T as usize, data.S as usize, data.K as usize);
        data.y.len() == t
            && data.t.len() == t
            && data.X.len() == t * k
            && data.t_change.len() == s
            && data.sigmas.len() == k
            && data.s_a.len() == k
            && data.s_m.len() == k
            && init.delta.len() == s
            && init.beta.len() == k
            && data.t_change.windows(2).all(|w| w[0] <= w[1])
    }

    /// The feature columns sorted by their values (bit patterns), prior scale and mode.
    fn canonical_order(data: &Data) -> Vec<usize> {
        let k = data.K as usize;
        let column = |j: usize| data.X.iter().skip(j).step_by(k.max(1)).map(|v| v.to_bits());
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            column(a)
                .cmp(column(b))
                .then(f64::from(data.sigmas[a]).total_cmp(&f64::from(data.sigmas[b])))
                .then(data.s_a[a].cmp(&data.s_a[b]))
                .then(data.s_m[a].cmp(&data.s_m[b]))
        });
        order
    }

    /// `data` with its feature columns in `order`.
    fn permute_data(data: &Data, order: &[usize]) -> Data {
        let k = order.len();
        let mut permuted = data.clone();
        for (i, row) in permuted.X.chunks_exact_mut(k.max(1)).enumerate() {
            for (position, &column) in order.iter().enumerate() {
                row[position] = data.X[i * k + column];
            }
        }
        permuted.sigmas = order.iter().map(|&j| data.sigmas[j]).collect();
        permuted.s_a = order.iter().map(|&j| data.s_a[j]).collect();
        permuted.s_m = order.iter().map(|&j| data.s_m[j]).collect();
        permuted
    }

    /// `init` with its feature coefficients in `order`.
    fn permute_init(init: &InitialParams, order: &[usize]) -> InitialParams {
        let mut permuted = init.clone();
        permuted.beta = order.iter().map(|&j| init.beta[j]).collect();
        permuted
    }

    /// Fits `y` at `ds` (seconds) with the default options and returns the native
    /// optimum's objective beside the Stan model's, both through L-BFGS, on the same data.
    #[cfg(test)]
    pub(super) fn objectives(ds: &[i64], y: &[f64]) -> (f64, f64) {
        use std::sync::{Arc, Mutex};
        #[derive(Debug, Default, Clone)]
        struct Both(Arc<Mutex<Option<(f64, f64)>>>);
        impl augurs_prophet::Optimizer for Both {
            fn optimize(
                &self,
                init: &InitialParams,
                data: &Data,
                _: &OptimizeOpts,
            ) -> Result<OptimizedParams, augurs_prophet::optimizer::Error> {
                let value = |p: &OptimizedParams| {
                    let mut x = vec![p.k, p.m];
                    x.extend(&p.delta);
                    x.push(f64::from(p.sigma_obs).ln());
                    x.extend(&p.beta);
                    let mut g = vec![0.0; x.len()];
                    Posterior::new(data).map_or(f64::NAN, |mut post| post.eval(&x, &mut g))
                };
                let native =
                    Optimizer { native: true }.optimize(init, data, &OptimizeOpts::default())?;
                let lbfgs = OptimizeOpts {
                    algorithm: Some(Algorithm::Lbfgs),
                    iter: Some(10_000),
                    ..OptimizeOpts::default()
                };
                let stan = stan().optimize(init, data, &lbfgs)?;
                *self.0.lock().unwrap() = Some((value(&native), value(&stan)));
                Ok(native)
            }
        }
        let both = Both::default();
        let mut model = augurs_prophet::Prophet::new(ProphetOptions::default(), both.clone());
        let data = TrainingData::new(ds.to_vec(), y.to_vec()).unwrap();
        model.fit(data, OptimizeOpts::default()).unwrap();
        both.0.lock().unwrap().unwrap()
    }

    /// The negative log posterior of `prophet.stan` (up to a constant, without the Jacobian
    /// of `sigma_obs`'s transform, as Prophet optimises it), over
    /// `[k, m, delta.., log sigma_obs, beta..]`.
    struct Posterior<'a> {
        data: &'a Data,
        flat: bool,
        /// Per changepoint, the first time index at or after it.
        first: Vec<usize>,
        /// Feature values times their coefficients (scratch).
        additive: Vec<f64>,
        multiplicative: Vec<f64>,
        trend: Vec<f64>,
        /// d(-log posterior)/d(trend) per time (scratch).
        weight: Vec<f64>,
        residual: Vec<f64>,
        /// Coefficients of the additive and the multiplicative features (scratch).
        beta_additive: Vec<f64>,
        beta_multiplicative: Vec<f64>,
        any_multiplicative: bool,
    }

    impl<'a> Posterior<'a> {
        fn new(data: &'a Data) -> Option<Self> {
            let t = data.T as usize;
            let k = data.K as usize;
            if data.y.len() != t || data.t.len() != t || data.X.len() != t * k {
                return None;
            }
            let first = data.t_change.iter().map(|c| data.t.partition_point(|x| x < c)).collect();
            Some(Self {
                data,
                flat: data.trend_indicator == TrendIndicator::Flat,
                first,
                additive: vec![0.0; t],
                multiplicative: vec![0.0; t],
                trend: vec![0.0; t],
                weight: vec![0.0; t],
                residual: vec![0.0; t],
                beta_additive: vec![0.0; k],
                beta_multiplicative: vec![0.0; k],
                any_multiplicative: data.s_m.iter().any(|m| *m != 0),
            })
        }

        fn maximise(mut self, init: &InitialParams) -> Option<OptimizedParams> {
            let s = self.data.S as usize;
            let mut x0 = vec![init.k, init.m];
            x0.extend_from_slice(&init.delta);
            x0.push(f64::from(init.sigma_obs).ln());
            x0.extend_from_slice(&init.beta);
            // Python prophet's choice: Newton's method below 100 values, L-BFGS from there
            // (and where Newton does not converge).
            let mut found = if self.data.T < 100 {
                newton(&mut self, &x0, 10_000)
            } else {
                // L-BFGS stalls at the kinks of the changepoint prior: start it again from
                // where it stopped, with a fresh curvature estimate, while that still helps.
                let mut found = lbfgs(&mut self, &x0, &Lbfgs::default());
                for _ in 0..20 {
                    if !found.converged {
                        break;
                    }
                    let again = lbfgs(&mut self, &found.x, &Lbfgs::default());
                    let gain = found.value - again.value;
                    let better = again.converged && gain > 0.0;
                    if better {
                        found = again;
                    }
                    if !better || gain < 1e-7 * found.value.abs().max(1.0) {
                        break;
                    }
                }
                found
            };
            if !found.converged && self.data.T < 100 {
                found = lbfgs(&mut self, &x0, &Lbfgs::default());
            }
            if !found.converged
                || !found.value.is_finite()
                || found.x.iter().any(|v| !v.is_finite())
            {
                return None;
            }
            let x = found.x;
            let mut gradient = vec![0.0; x.len()];
            self.eval(&x, &mut gradient);
            Some(OptimizedParams {
                k: x[0],
                m: x[1],
                delta: x[2..2 + s].to_vec(),
                sigma_obs: PositiveFloat::try_from(x[2 + s].exp()).ok()?,
                beta: x[3 + s..].to_vec(),
                trend: self.trend,
            })
        }
    }

    impl Smooth for Posterior<'_> {
        /// In closed form where every feature is additive: the fitted values are then linear
        /// in everything but the noise scale. The changepoint prior's kink gets what the
        /// finite differences make of it.
        fn hessian(&mut self, x: &[f64], out: &mut [f64]) -> bool {
            if self.any_multiplicative {
                return false;
            }
            let data = self.data;
            let (n, s, kk) = (data.T as usize, data.S as usize, data.K as usize);
            let p = x.len();
            let u = 2 + s;
            let mut gradient = vec![0.0; p];
            self.eval(x, &mut gradient);
            let precision = (-2.0 * x[u]).exp();
            let mut row = vec![0.0; p];
            let mut squares = 0.0;
            let mut next = 0;
            for i in 0..n {
                // The derivatives of the fitted value at time i.
                row.iter_mut().for_each(|v| *v = 0.0);
                row[1] = 1.0;
                if !self.flat {
                    row[0] = data.t[i];
                    while next < s && data.t[i] >= data.t_change[next] {
                        next += 1;
                    }
                    for j in 0..next {
                        row[2 + j] = data.t[i] - data.t_change[j];
                    }
                }
                for j in 0..kk {
                    if data.s_a[j] != 0 {
                        row[3 + s + j] = data.X[i * kk + j];
                    }
                }
                let r = self.residual[i];
                squares += r * r;
                for a in 0..p {
                    if row[a] == 0.0 {
                        continue;
                    }
                    let ra = row[a] * precision;
                    for b in 0..p {
                        out[a * p + b] += ra * row[b];
                    }
                    // Noise scale: d/du of -precision * r * row[a].
                    out[a * p + u] += 2.0 * precision * r * row[a];
                }
            }
            for a in 0..p {
                out[u * p + a] = out[a * p + u];
            }
            let sigma2 = (2.0 * x[u]).exp();
            out[u * p + u] = 2.0 * squares * precision + 8.0 * sigma2;
            out[0] += 1.0 / 25.0;
            out[p + 1] += 1.0 / 25.0;
            let tau = f64::from(data.tau);
            for j in 0..s {
                let d = x[2 + j];
                let kink: f64 = STENCIL
                    .iter()
                    .map(|(offset, weight)| {
                        let moved = d + offset * NEWTON_EPSILON;
                        let sign = if moved == 0.0 { 0.0 } else { moved.signum() };
                        weight / NEWTON_EPSILON * sign / tau
                    })
                    .sum();
                out[(2 + j) * p + 2 + j] += kink;
            }
            for (j, scale) in data.sigmas.iter().enumerate() {
                let scale = f64::from(*scale);
                out[(3 + s + j) * p + 3 + s + j] += 1.0 / (scale * scale);
            }
            true
        }

        fn eval(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
            let data = self.data;
            let (n, s, kk) = (data.T as usize, data.S as usize, data.K as usize);
            let (k, m) = (x[0], x[1]);
            let delta = &x[2..2 + s];
            let log_sigma = x[2 + s];
            let beta = &x[3 + s..];
            let tau = f64::from(data.tau);
            // Features: each coefficient split into its additive and multiplicative parts.
            for (j, b) in beta.iter().enumerate() {
                self.beta_additive[j] = if data.s_a[j] != 0 { *b } else { 0.0 };
                self.beta_multiplicative[j] = if data.s_m[j] != 0 { *b } else { 0.0 };
            }
            for i in 0..n {
                let row = &data.X[i * kk..(i + 1) * kk];
                self.additive[i] = dot(row, &self.beta_additive);
                self.multiplicative[i] =
                    if self.any_multiplicative { dot(row, &self.beta_multiplicative) } else { 0.0 };
            }
            // Trend: rate k plus the changes passed, offset keeping it continuous.
            if self.flat {
                self.trend.iter_mut().for_each(|v| *v = m);
            } else {
                let (mut rate, mut offset, mut next) = (k, m, 0);
                for i in 0..n {
                    while next < s && data.t[i] >= data.t_change[next] {
                        rate += delta[next];
                        offset -= delta[next] * data.t_change[next];
                        next += 1;
                    }
                    self.trend[i] = rate * data.t[i] + offset;
                }
            }
            let mut squares = 0.0;
            for i in 0..n {
                let r =
                    data.y[i] - self.trend[i] * (1.0 + self.multiplicative[i]) - self.additive[i];
                self.residual[i] = r;
                squares += r * r;
            }
            let sigma = log_sigma.exp();
            let variance = sigma * sigma;
            if !(variance > 0.0 && variance.is_finite() && squares.is_finite()) {
                return f64::NAN;
            }
            let mut value = (k * k + m * m) / 50.0
                + 2.0 * variance
                + n as f64 * log_sigma
                + squares / (2.0 * variance);
            value += delta.iter().map(|d| d.abs()).sum::<f64>() / tau;
            for (b, scale) in beta.iter().zip(&data.sigmas) {
                let scale = f64::from(*scale);
                value += b * b / (2.0 * scale * scale);
            }
            // Gradient.
            g.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..n {
                self.weight[i] = -self.residual[i] / variance * (1.0 + self.multiplicative[i]);
            }
            g[0] = k / 25.0;
            g[1] = m / 25.0 + self.weight.iter().sum::<f64>();
            if !self.flat {
                g[0] += self.weight.iter().zip(&data.t).map(|(w, t)| w * t).sum::<f64>();
                // Suffix sums of the weight and of weight × time, from each changepoint on.
                let (mut total, mut timed, mut i) = (0.0, 0.0, n);
                for j in (0..s).rev() {
                    while i > self.first[j] {
                        i -= 1;
                        total += self.weight[i];
                        timed += self.weight[i] * data.t[i];
                    }
                    g[2 + j] = timed - data.t_change[j] * total;
                }
            }
            for (j, d) in delta.iter().enumerate() {
                if *d != 0.0 {
                    g[2 + j] += d.signum() / tau;
                }
            }
            g[2 + s] = 4.0 * variance + n as f64 - squares / variance;
            // d/d beta_j = sum_i -r_i / variance * X_ij * (s_a_j + s_m_j * trend_i).
            let (additive_part, multiplicative_part) =
                (&mut self.beta_additive, &mut self.beta_multiplicative);
            additive_part.iter_mut().for_each(|v| *v = 0.0);
            multiplicative_part.iter_mut().for_each(|v| *v = 0.0);
            for i in 0..n {
                let r = -self.residual[i] / variance;
                let row = &data.X[i * kk..(i + 1) * kk];
                additive_part.iter_mut().zip(row).for_each(|(a, x)| *a += r * x);
                if self.any_multiplicative {
                    let rt = r * self.trend[i];
                    multiplicative_part.iter_mut().zip(row).for_each(|(a, x)| *a += rt * x);
                }
            }
            for j in 0..kk {
                let mut sum = 0.0;
                if data.s_a[j] != 0 {
                    sum += additive_part[j];
                }
                if data.s_m[j] != 0 {
                    sum += multiplicative_part[j];
                }
                g[3 + s + j] = sum;
            }
            for (j, (b, scale)) in beta.iter().zip(&data.sigmas).enumerate() {
                let scale = f64::from(*scale);
                g[3 + s + j] += b / (scale * scale);
            }
            value
        }
    }

    /// A fitted Prophet model.
    #[derive(Debug, Clone)]
    pub(super) struct ProphetFit {
        model: augurs_prophet::Prophet<Optimizer>,
        /// Timestamps were made up: one value a day from 1970.
        synthetic: usize,
        /// Each regressor's values by time (microseconds).
        regressors: Regressors,
        events: usize,
    }

    /// The model and its training data.
    type Built = (augurs_prophet::Prophet<Optimizer>, TrainingData, Regressors);
    type Regressors = Vec<(super::Regressor, HashMap<i64, f64>)>;

    fn build(
        prophet: &Prophet,
        series: &Series<'_>,
        synthetic: bool,
        native: bool,
    ) -> Result<Built, String> {
        let n = series.values.len();
        let ds: Vec<i64> = if synthetic {
            (0..n as i64).map(|i| i * DAY).collect()
        } else {
            seconds(series.times)
        };
        let mut options = ProphetOptions::default();
        if synthetic {
            options.yearly_seasonality = SeasonalityOption::Manual(false);
            options.weekly_seasonality = SeasonalityOption::Manual(false);
            options.daily_seasonality = SeasonalityOption::Manual(false);
        }
        let extras = &prophet.extras;
        for event in &extras.events {
            let occurrences = event
                .dates
                .iter()
                .map(|date| {
                    let start = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp();
                    HolidayOccurrence::new(
                        start - i64::from(event.before) * DAY,
                        start + (1 + i64::from(event.after)) * DAY,
                    )
                })
                .collect();
            options.holidays.insert(event.name.clone(), Holiday::new(occurrences));
        }
        let mut model = augurs_prophet::Prophet::new(options, Optimizer { native });
        if synthetic {
            for m in series.usable_seasons() {
                let order = NonZeroU32::new((m as u32 / 2).clamp(1, 10)).unwrap_or(NonZeroU32::MIN);
                let period = PositiveFloat::try_from(m as f64).map_err(|e| e.to_string())?;
                model
                    .add_seasonality(format!("season_{m}"), Seasonality::new(period, order))
                    .map_err(|e| e.to_string())?;
            }
        }
        let mut data = TrainingData::new(ds, series.values.to_vec()).map_err(|e| e.to_string())?;
        let mut regressors = Vec::with_capacity(extras.regressors.len());
        if !extras.regressors.is_empty() {
            let mut columns = HashMap::new();
            for regressor in &extras.regressors {
                let index: HashMap<i64, f64> =
                    regressor.times.iter().copied().zip(regressor.values.iter().copied()).collect();
                let history = regressor.at(&index, series.times).map_err(|e| e.to_string())?;
                model.add_regressor(regressor.name.clone(), Regressor::additive());
                columns.insert(regressor.name.clone(), history);
                regressors.push((regressor.clone(), index));
            }
            data = data.with_regressors(columns).map_err(|e| e.to_string())?;
        }
        Ok((model, data, regressors))
    }

    /// Fits with Python prophet's choice of optimiser (Newton below 100 values, L-BFGS from
    /// there) and, as Python prophet does, the other one when the first stops abnormally.
    pub(super) fn fit(
        prophet: &Prophet,
        series: &Series<'_>,
        synthetic: bool,
    ) -> Result<ProphetFit, Failure> {
        let n = series.values.len();
        let first = if n < 100 { Algorithm::Newton } else { Algorithm::Lbfgs };
        let second = if n < 100 { Algorithm::Lbfgs } else { Algorithm::Newton };
        // The native optimiser first; where it does not see the fit through, the Stan model
        // with each algorithm in turn.
        for (attempt, algorithm) in [first, second].into_iter().enumerate() {
            let (mut model, data, regressors) =
                build(prophet, series, synthetic, attempt == 0).map_err(Failure::Input)?;
            let optimize = OptimizeOpts {
                algorithm: Some(algorithm),
                iter: Some(10_000),
                ..OptimizeOpts::default()
            };
            match model.fit(data, optimize) {
                Ok(()) => {
                    return Ok(ProphetFit {
                        model,
                        synthetic: if synthetic { n } else { 0 },
                        regressors,
                        events: prophet.extras.events.len(),
                    });
                }
                Err(augurs_prophet::Error::OptimizationFailed(_)) => {}
                Err(other) => return Err(Failure::Input(other.to_string())),
            }
        }
        Err(Failure::Optimizer)
    }

    impl Fitted for ProphetFit {
        fn describe(&self) -> String {
            let mut parts = Vec::new();
            if self.events > 0 {
                let plural = if self.events == 1 { "" } else { "s" };
                parts.push(format!("{} event{plural}", self.events));
            }
            if !self.regressors.is_empty() {
                let names: Vec<&str> =
                    self.regressors.iter().map(|(r, _)| r.name.as_str()).collect();
                parts.push(format!("regressors {}", names.join(", ")));
            }
            if parts.is_empty() {
                "Prophet".into()
            } else {
                format!("Prophet ({})", parts.join("; "))
            }
        }

        fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
            let h = future.len();
            check_request(h, levels)?;
            let failed = |e: augurs_prophet::Error| ForecastError::Fit {
                model: "prophet".into(),
                reason: e.to_string(),
            };
            let ds: Vec<i64> = if self.synthetic > 0 {
                (self.synthetic as i64..(self.synthetic + h) as i64).map(|i| i * DAY).collect()
            } else {
                seconds(future)
            };
            let mut data = PredictionData::new(ds);
            if !self.regressors.is_empty() {
                let mut columns = HashMap::new();
                for (regressor, index) in &self.regressors {
                    columns.insert(regressor.name.clone(), regressor.at(index, future)?);
                }
                data = data.with_regressors(columns).map_err(failed)?;
            }
            let mut model = self.model.clone();
            if levels.is_empty() {
                model.opts_mut().uncertainty_samples = 0;
                let predicted = model.predict(data).map_err(failed)?;
                return finite(Prediction { mean: predicted.yhat.point, bands: Vec::new() });
            }
            let mut mean = Vec::new();
            let mut bands = Vec::with_capacity(levels.len());
            for &level in levels {
                let width = IntervalWidth::try_new(level / 100.0).map_err(failed)?;
                model.set_interval_width(width);
                let predicted = model.predict(data.clone()).map_err(failed)?;
                let (Some(lower), Some(upper)) = (predicted.yhat.lower, predicted.yhat.upper)
                else {
                    return Err(ForecastError::Fit {
                        model: "prophet".into(),
                        reason: "no interval was simulated".into(),
                    });
                };
                // The simulated bounds are quantiles of paths; the point is the model's mean.
                let point = predicted.yhat.point;
                bands.push(Band {
                    level,
                    lower: lower.iter().zip(&point).map(|(l, p)| l.min(*p)).collect(),
                    upper: upper.iter().zip(&point).map(|(u, p)| u.max(*p)).collect(),
                });
                mean = point;
            }
            // Each level is its own simulation: where their noise crosses, a narrower band
            // is kept inside every wider one, as quantiles are.
            let mut order: Vec<usize> = (0..bands.len()).collect();
            order.sort_by(|a, b| bands[*b].level.total_cmp(&bands[*a].level));
            for pair in order.windows(2) {
                let (wide, narrow) = (pair[0], pair[1]);
                for step in 0..h {
                    let (low, high) = (bands[wide].lower[step], bands[wide].upper[step]);
                    let band = &mut bands[narrow];
                    band.lower[step] = band.lower[step].max(low);
                    band.upper[step] = band.upper[step].min(high);
                }
            }
            finite(Prediction { mean, bands })
        }
    }

    fn finite(prediction: Prediction) -> Result<Prediction, ForecastError> {
        let all = prediction
            .mean
            .iter()
            .chain(prediction.bands.iter().flat_map(|b| b.lower.iter().chain(b.upper.iter())));
        match all.copied().find(|v| !v.is_finite()) {
            Some(v) => Err(ForecastError::Fit {
                model: "prophet".into(),
                reason: format!("the fit predicts {v}"),
            }),
            None => Ok(prediction),
        }
    }
}

#[cfg(not(feature = "prophet"))]
mod engine {
    //! Builds without the `prophet` feature have no Stan model to fit.

    use super::{Failure, Prophet};
    use crate::{Fitted, ForecastError, Prediction, Series};

    #[derive(Debug)]
    pub(super) enum ProphetFit {}

    pub(super) fn fit(_: &Prophet, _: &Series<'_>, _: bool) -> Result<ProphetFit, Failure> {
        Err(Failure::Input(
            "this build has no Prophet: it was built without the `prophet` feature".into(),
        ))
    }

    impl Fitted for ProphetFit {
        fn describe(&self) -> String {
            match *self {}
        }

        fn predict(&self, _: &[i64], _: &[f64]) -> Result<Prediction, ForecastError> {
            match *self {}
        }
    }
}

#[cfg(all(test, feature = "prophet"))]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn daily(n: usize) -> Vec<i64> {
        (0..n as i64).map(|i| (1_600_000_000 + i * DAY) * 1_000_000).collect()
    }

    #[test]
    fn a_weekly_pattern_is_learned_from_daily_times() {
        let times = daily(140);
        let values: Vec<f64> = (0..140)
            .map(|t| 50.0 + 0.1 * t as f64 + [0.0, 2.0, 4.0, 6.0, 4.0, -8.0, -8.0][t % 7])
            .collect();
        let series = Series { values: &values, times: &times, seasons: &[7] };
        let fitted = Prophet::default().fit(&series).unwrap();
        let future = &daily(154)[140..];
        let p = fitted.predict(future, &[80.0, 95.0]).unwrap();
        let truth: Vec<f64> = (140..154)
            .map(|t| 50.0 + 0.1 * t as f64 + [0.0, 2.0, 4.0, 6.0, 4.0, -8.0, -8.0][t % 7])
            .collect();
        let error = crate::metrics::mae(&truth, &p.mean);
        assert!(error < 0.5, "mean absolute error {error}: {:?}", p.mean);
        assert!(
            p.bands[0].upper[0] - p.bands[0].lower[0] < p.bands[1].upper[0] - p.bands[1].lower[0]
        );
        for step in 0..14 {
            assert!(p.bands[1].lower[step] <= p.bands[0].lower[step], "step {step}: {p:?}");
            assert!(p.bands[0].upper[step] <= p.bands[1].upper[step], "step {step}: {p:?}");
        }
    }

    #[test]
    fn the_same_history_always_gets_the_same_fit() {
        // Two years and more of days: yearly and weekly seasonality, whose features
        // augurs-prophet orders differently from one model to the next.
        let times = daily(900);
        let values: Vec<f64> = (0..900)
            .map(|t| {
                let year = (t as f64 / 365.25 * std::f64::consts::TAU).sin();
                100.0
                    + 0.05 * t as f64
                    + 8.0 * year
                    + [0.0, 1.0, 2.0, 3.0, 2.0, -4.0, -4.0][t % 7]
                    + ((t * 7919) % 17) as f64 * 0.3
            })
            .collect();
        let series = Series { values: &values, times: &times[..800], seasons: &[7, 365] };
        let series = Series { values: &values[..800], ..series };
        let first = Prophet::default().fit(&series).unwrap().predict(&times[800..], &[]).unwrap();
        for _ in 0..4 {
            let again =
                Prophet::default().fit(&series).unwrap().predict(&times[800..], &[]).unwrap();
            // Prediction still sums the features in a model's own order: the last bit may
            // differ, nothing more (an order-dependent fit differs by about 1e-5 here).
            for (a, b) in again.mean.iter().zip(&first.mean) {
                assert!((a - b).abs() <= 1e-9 * b.abs(), "{a} against {b}");
            }
        }
    }

    #[test]
    fn an_event_and_a_regressor_are_used() {
        let n = 200;
        let times = daily(n + 10);
        let promo: Vec<f64> = (0..n + 10).map(|t| if t % 9 == 0 { 1.0 } else { 0.0 }).collect();
        let dates: Vec<NaiveDate> = (0..n + 10)
            .filter(|t| t % 30 == 4)
            .map(|t| chrono::DateTime::from_timestamp_micros(times[t]).unwrap().date_naive())
            .collect();
        let values: Vec<f64> = (0..n)
            .map(|t| 100.0 + 20.0 * promo[t] + if t % 30 == 4 { -30.0 } else { 0.0 })
            .collect();
        let extras = Extras {
            events: vec![Event { name: "closing".into(), dates, before: 0, after: 0 }],
            regressors: vec![Regressor {
                name: "promo".into(),
                times: times.clone(),
                values: promo.clone(),
            }],
        };
        let prophet = Prophet { extras: Arc::new(extras) };
        let series = Series { values: &values, times: &times[..n], seasons: &[] };
        let fitted = prophet.fit(&series).unwrap();
        assert_eq!(fitted.describe(), "Prophet (1 event; regressors promo)");
        let p = fitted.predict(&times[n..], &[]).unwrap();
        // Day 207 is promoted (207 = 9 × 23), day 214 is an event day (214 = 30 × 7 + 4).
        for (step, mean) in p.mean.iter().enumerate() {
            let t = n + step;
            let expected = 100.0 + 20.0 * promo[t] + if t % 30 == 4 { -30.0 } else { 0.0 };
            assert!((mean - expected).abs() < 3.0, "day {t}: {mean} for {expected}");
        }
        let beyond = times[n + 9] + DAY * 1_000_000;
        let err = fitted.predict(&[beyond], &[]).unwrap_err();
        assert!(matches!(err, ForecastError::MissingRegressor { .. }), "{err}");
    }

    /// The M4 series of `file` named `id`: times in seconds, values.
    fn m4(file: &str, id: &str) -> (Vec<i64>, Vec<f64>) {
        let path = format!("{}/../../testdata/{file}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (fields[0] == id).then(|| {
                    let date = NaiveDate::parse_from_str(fields[1], "%Y-%m-%d").unwrap();
                    let time = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
                    (time, fields[2].parse::<f64>().unwrap())
                })
            })
            .unzip()
    }

    #[test]
    fn the_native_optimum_is_as_good_as_the_stan_models() {
        // Newton below 100 values, L-BFGS above: each reaches at least the log posterior
        // that Stan's own L-BFGS reaches on the same data (lower is better here).
        for (file, id) in
            [("m4_yearly.csv", "Y100"), ("m4_monthly.csv", "M1"), ("m4_weekly.csv", "W10")]
        {
            let (ds, y) = m4(file, id);
            let (native, stan) = engine::objectives(&ds, &y);
            assert!(native.is_finite() && stan.is_finite(), "{id}: {native} {stan}");
            assert!(native <= stan + 1e-3 * stan.abs().max(1.0), "{id}: {native} > {stan}");
        }
    }

    #[test]
    fn bad_extras_are_refused_by_name() {
        let extras = Extras {
            events: vec![Event { name: "x".into(), dates: vec![], before: 0, after: 0 }],
            regressors: vec![],
        };
        let err = extras.check().unwrap_err().to_string();
        assert!(err.contains("event \"x\" has no dates"), "{err}");
        let twice = Extras {
            events: vec![],
            regressors: vec![
                Regressor { name: "a".into(), times: vec![], values: vec![] },
                Regressor { name: "a".into(), times: vec![], values: vec![] },
            ],
        };
        assert!(twice.check().unwrap_err().to_string().contains("used twice"));
        let day = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let crowded = Extras {
            events: vec![Event {
                name: "daily".into(),
                dates: vec![day; 1_001],
                before: 0,
                after: 0,
            }],
            regressors: vec![],
        };
        assert!(crowded.check().unwrap_err().to_string().contains("1001 dates: at most 1000"));
        let padded = Extras {
            events: vec![Event { name: " x".into(), dates: vec![day], before: 0, after: 0 }],
            regressors: vec![],
        };
        assert!(padded.check().unwrap_err().to_string().contains("not a usable name"));
        // Steps under a second cannot be told apart in Prophet's whole seconds.
        let times: Vec<i64> = (0..20).map(|t| t * 500_000).collect();
        let values: Vec<f64> = (0..20).map(f64::from).collect();
        let fast = Series { values: &values, times: &times, seasons: &[] };
        let err = Prophet::default().fit(&fast).unwrap_err().to_string();
        assert!(err.contains("whole seconds"), "{err}");
    }
}

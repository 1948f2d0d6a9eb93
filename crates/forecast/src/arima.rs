//! Seasonal ARIMA with automatic order selection, after Hyndman and Khandakar (2008) as in
//! R's `forecast::auto.arima` and statsforecast's `AutoARIMA`: the number of differences
//! by the KPSS test (5%), the seasonal differences by the strength of the season (above
//! 0.64), then a stepwise search over (p, q)(P, Q) and the constant from four starting
//! models, each estimated by conditional sum of squares and compared by AICc. Forecasts
//! and their intervals come from the model's ψ-weights, differences included.

use crate::ets::roots_within;
use crate::optim::{Stop, nelder_mead};
use crate::stats::mean;
use crate::{Fitted, ForecastError, Forecaster, Prediction, Series, check_request, normal_bands};

const MAX_P: usize = 5;
const MAX_Q: usize = 5;
const MAX_SEASONAL: usize = 2;
const MAX_ORDER: usize = 5;
const MAX_MODELS: usize = 94;
/// Roots closer to the unit circle than this are refused (R's 1.01).
const ROOT_MARGIN: f64 = 1.01;

/// An ARIMA order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Order {
    /// AR terms.
    pub p: usize,
    /// Differences.
    pub d: usize,
    /// MA terms.
    pub q: usize,
    /// Seasonal AR terms.
    pub sp: usize,
    /// Seasonal differences.
    pub sd: usize,
    /// Seasonal MA terms.
    pub sq: usize,
    /// With a constant (a mean, or a drift after one difference).
    pub constant: bool,
}

/// AutoARIMA.
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoArima;

/// A fitted ARIMA model.
#[derive(Debug, Clone)]
pub struct ArimaFit {
    order: Order,
    m: usize,
    ar: Vec<f64>,
    ma: Vec<f64>,
    sar: Vec<f64>,
    sma: Vec<f64>,
    mu: f64,
    sigma2: f64,
    aicc: f64,
    /// The series (scaled) and the residuals of the differenced series.
    y: Vec<f64>,
    residuals: Vec<f64>,
    scale: f64,
}

/// `y` differenced `d` times at lag `lag`.
fn difference(y: &[f64], lag: usize, times: usize) -> Vec<f64> {
    let mut out = y.to_vec();
    for _ in 0..times {
        if out.len() <= lag {
            return Vec::new();
        }
        out = (lag..out.len()).map(|t| out[t] - out[t - lag]).collect();
    }
    out
}

/// The KPSS statistic for level stationarity, with `trunc(4 (n/100)^(1/4))` lags.
fn kpss(y: &[f64]) -> f64 {
    let n = y.len();
    let m = mean(y);
    let e: Vec<f64> = y.iter().map(|v| v - m).collect();
    let mut s = 0.0;
    let mut eta = 0.0;
    for v in &e {
        s += v;
        eta += s * s;
    }
    let nf = n as f64;
    eta /= nf * nf;
    let lags = (4.0 * (nf / 100.0).powf(0.25)).trunc() as usize;
    let mut variance = e.iter().map(|v| v * v).sum::<f64>() / nf;
    for l in 1..=lags.min(n.saturating_sub(1)) {
        let w = 1.0 - l as f64 / (lags as f64 + 1.0);
        let c: f64 = (l..n).map(|t| e[t] * e[t - l]).sum::<f64>() / nf;
        variance += 2.0 * w * c;
    }
    if variance <= 0.0 { 0.0 } else { eta / variance }
}

fn is_constant(y: &[f64]) -> bool {
    y.windows(2).all(|w| (w[1] - w[0]).abs() <= 1e-12 * (1.0 + w[0].abs()))
}

/// Differences needed by the KPSS test at 5% (at most 2).
fn ndiffs(y: &[f64]) -> usize {
    let mut x = y.to_vec();
    let mut d = 0;
    while d < 2 && x.len() > 3 && !is_constant(&x) && kpss(&x) > 0.463 {
        x = difference(&x, 1, 1);
        d += 1;
    }
    d
}

/// The product of `1 - Σ a_i B^i` and `1 - Σ s_j B^(m j)`, as the coefficients `c` of
/// `1 - Σ c_k B^k` (k from 1).
fn ar_product(a: &[f64], s: &[f64], m: usize) -> Vec<f64> {
    let len = a.len() + m * s.len();
    let mut poly = vec![0.0; len + 1];
    poly[0] = 1.0;
    let left: Vec<f64> = std::iter::once(1.0).chain(a.iter().map(|v| -v)).collect();
    let mut right = vec![0.0; m * s.len() + 1];
    right[0] = 1.0;
    for (j, v) in s.iter().enumerate() {
        right[m * (j + 1)] = -v;
    }
    poly.iter_mut().for_each(|v| *v = 0.0);
    for (i, l) in left.iter().enumerate() {
        for (j, r) in right.iter().enumerate() {
            poly[i + j] += l * r;
        }
    }
    poly[1..].iter().map(|v| -v).collect()
}

/// The same for MA polynomials `1 + Σ a_i B^i` times `1 + Σ s_j B^(m j)`: `c` of
/// `1 + Σ c_k B^k`.
fn ma_product(a: &[f64], s: &[f64], m: usize) -> Vec<f64> {
    let negate = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
    negate(&ar_product(&negate(a), &negate(s), m))
}

/// Whether `1 - Σ a_i z^i` has every root outside the circle of radius 1.01 (`sign` -1),
/// or `1 + Σ a_i z^i` (`sign` 1).
fn outside(a: &[f64], sign: f64) -> bool {
    if a.is_empty() {
        return true;
    }
    // Reversed: z^p (1 ± a1/z ...) has its roots inverted.
    let mut reversed: Vec<f64> = a.iter().rev().map(|v| sign * v).collect();
    reversed.push(1.0);
    roots_within(&reversed, 1.0 / ROOT_MARGIN)
}

/// The conditional sum of squares of ARMA(`ar`, `ma`) on `w` less `mu`, and the residuals.
fn css(
    w: &[f64],
    mu: f64,
    ar: &[(usize, f64)],
    ma: &[(usize, f64)],
    from: usize,
) -> (f64, Vec<f64>) {
    let n = w.len();
    let mut e = vec![0.0; n];
    let mut sse = 0.0;
    for t in from..n {
        let mut value = w[t] - mu;
        for &(lag, c) in ar {
            value -= c * (w[t - lag] - mu);
        }
        for &(lag, c) in ma {
            if lag <= t {
                value -= c * e[t - lag];
            }
        }
        e[t] = value;
        sse += value * value;
    }
    (sse, e)
}

/// Non-seasonal models of series up to this long are estimated by exact likelihood.
const EXACT_UP_TO: usize = 300;

/// The exact Gaussian log-likelihood of ARMA(`ar`, `ma`) on `w` less `mu` (Kalman filter
/// on Harvey's state space, the variance concentrated out), with that variance; `None`
/// where the filter breaks down.
fn exact_loglik(w: &[f64], mu: f64, ar: &[f64], ma: &[f64]) -> Option<(f64, f64)> {
    let r = ar.len().max(ma.len() + 1);
    let phi = |i: usize| ar.get(i).copied().unwrap_or(0.0);
    let theta: Vec<f64> =
        (0..r).map(|i| if i == 0 { 1.0 } else { ma.get(i - 1).copied().unwrap_or(0.0) }).collect();
    // The stationary state covariance: P = T P T' + R R', solved as a linear system.
    let size = r * r;
    let mut a = vec![0.0; size * (size + 1)];
    let t = |i: usize, j: usize| -> f64 {
        if j == 0 {
            phi(i)
        } else if j == i + 1 {
            1.0
        } else {
            0.0
        }
    };
    for i in 0..r {
        for j in 0..r {
            let row = i * r + j;
            for k in 0..r {
                for l in 0..r {
                    let coefficient = t(i, k) * t(j, l);
                    if coefficient != 0.0 {
                        a[row * (size + 1) + k * r + l] -= coefficient;
                    }
                }
            }
            a[row * (size + 1) + row] += 1.0;
            a[row * (size + 1) + size] = theta[i] * theta[j];
        }
    }
    let p0 = solve(&mut a, size)?;
    let mut p: Vec<f64> = p0;
    let mut state = vec![0.0; r];
    let (mut sum_log, mut ssq) = (0.0, 0.0);
    let mut m = vec![0.0; size];
    for value in w {
        let v = value - mu - state[0];
        let f = p[0];
        if !(f > 0.0 && f.is_finite()) {
            return None;
        }
        sum_log += f.ln();
        ssq += v * v / f;
        // Update with the observation.
        let gain: Vec<f64> = (0..r).map(|i| p[i * r] / f).collect();
        for i in 0..r {
            state[i] += gain[i] * v;
        }
        let first: Vec<f64> = (0..r).map(|j| p[j]).collect();
        for i in 0..r {
            for j in 0..r {
                p[i * r + j] -= gain[i] * first[j];
            }
        }
        // Predict: a = T a, P = T P T' + R R'.
        let head = state[0];
        for i in 0..r {
            state[i] = phi(i) * head + if i + 1 < r { state[i + 1] } else { 0.0 };
        }
        for i in 0..r {
            for j in 0..r {
                m[i * r + j] = phi(i) * p[j] + if i + 1 < r { p[(i + 1) * r + j] } else { 0.0 };
            }
        }
        for i in 0..r {
            for j in 0..r {
                p[i * r + j] = phi(j) * m[i * r]
                    + if j + 1 < r { m[i * r + j + 1] } else { 0.0 }
                    + theta[i] * theta[j];
            }
        }
    }
    let n = w.len() as f64;
    let sigma2 = ssq / n;
    if !(sigma2 > 0.0 && sigma2.is_finite()) {
        return None;
    }
    Some((-0.5 * (n * (2.0 * std::f64::consts::PI * sigma2).ln() + sum_log + n), sigma2))
}

/// Solves the `size` × `size` system in `a` (rows with the right-hand side last) by
/// Gaussian elimination with partial pivoting.
fn solve(a: &mut [f64], size: usize) -> Option<Vec<f64>> {
    let width = size + 1;
    for col in 0..size {
        let pivot = (col..size)
            .max_by(|x, y| a[x * width + col].abs().total_cmp(&a[y * width + col].abs()))?;
        if a[pivot * width + col].abs() < 1e-12 {
            return None;
        }
        if pivot != col {
            for k in 0..width {
                a.swap(pivot * width + k, col * width + k);
            }
        }
        for row in col + 1..size {
            let factor = a[row * width + col] / a[col * width + col];
            if factor != 0.0 {
                for k in col..width {
                    a[row * width + k] -= factor * a[col * width + k];
                }
            }
        }
    }
    let mut x = vec![0.0; size];
    for row in (0..size).rev() {
        let mut value = a[row * width + size];
        for k in row + 1..size {
            value -= a[row * width + k] * x[k];
        }
        x[row] = value / a[row * width + row];
    }
    Some(x)
}

fn sparse(c: &[f64]) -> Vec<(usize, f64)> {
    c.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i + 1, *v)).collect()
}

/// Estimates one order on the scaled series `y`; `None` when it cannot be.
fn estimate(y: &[f64], order: Order, m: usize) -> Option<ArimaFit> {
    let w = difference(&difference(y, m, order.sd), 1, order.d);
    let from = order.p + m * order.sp;
    let n_eff = w.len().checked_sub(from)?;
    let k = order.p + order.q + order.sp + order.sq + usize::from(order.constant);
    if n_eff <= k + 2 {
        return None;
    }
    let start_mu = if order.constant { mean(&w) } else { 0.0 };
    let unpack = |x: &[f64]| {
        let (ar, rest) = x.split_at(order.p);
        let (ma, rest) = rest.split_at(order.q);
        let (sar, rest) = rest.split_at(order.sp);
        let (sma, rest) = rest.split_at(order.sq);
        let mu = if order.constant { rest[0] } else { 0.0 };
        (ar.to_vec(), ma.to_vec(), sar.to_vec(), sma.to_vec(), mu)
    };
    let objective = |x: &[f64]| -> f64 {
        let (ar, ma, sar, sma, mu) = unpack(x);
        if !outside(&ar, -1.0) || !outside(&sar, -1.0) || !outside(&ma, 1.0) || !outside(&sma, 1.0)
        {
            return f64::INFINITY;
        }
        let full_ar = sparse(&ar_product(&ar, &sar, m));
        let full_ma = sparse(&ma_product(&ma, &sma, m));
        css(&w, mu, &full_ar, &full_ma, from).0
    };
    let mut x0 = vec![0.0; k];
    if order.constant {
        x0[k - 1] = start_mu;
    }
    let spread = (w.iter().map(|v| (v - mean(&w)).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
    let steps: Vec<f64> = (0..k)
        .map(|i| if order.constant && i == k - 1 { 0.1 * spread.max(1e-6) } else { 0.1 })
        .collect();
    let found = if k == 0 {
        crate::optim::Minimum { x: Vec::new(), value: objective(&[]) }
    } else {
        nelder_mead(objective, &x0, &steps, Stop { max_evals: 400 * k, reltol: 1e-8, abstol: 0.0 })
    };
    if !found.value.is_finite() {
        return None;
    }
    // Short non-seasonal series: from the conditional estimates to exact likelihood, as
    // R's CSS-ML does (conditioning on the first values costs too much of a short series).
    let exact = m == 1 && w.len() <= EXACT_UP_TO;
    let found = if exact && k > 0 {
        let negative = |x: &[f64]| -> f64 {
            let (ar, ma, sar, sma, mu) = unpack(x);
            if !outside(&ar, -1.0) || !outside(&ma, 1.0) || !sar.is_empty() || !sma.is_empty() {
                return f64::INFINITY;
            }
            exact_loglik(&w, mu, &ar, &ma).map_or(f64::INFINITY, |(l, _)| -l)
        };
        let refined = nelder_mead(
            negative,
            &found.x,
            &steps,
            Stop { max_evals: 400 * k, reltol: 1e-8, abstol: 0.0 },
        );
        if refined.value.is_finite() { refined } else { found }
    } else {
        found
    };
    let (ar, ma, sar, sma, mu) = unpack(&found.x);
    let (sse, residuals) =
        css(&w, mu, &sparse(&ar_product(&ar, &sar, m)), &sparse(&ma_product(&ma, &sma, m)), from);
    let nf = n_eff as f64;
    let (loglik, sigma2, used) = match exact.then(|| exact_loglik(&w, mu, &ar, &ma)).flatten() {
        Some((loglik, sigma2)) => (loglik, sigma2, w.len() as f64),
        None if sse > 0.0 => {
            let sigma2 = sse / nf;
            (-0.5 * nf * ((2.0 * std::f64::consts::PI * sigma2).ln() + 1.0), sigma2, nf)
        }
        // A perfect fit leaves nothing to model: the best possible criterion.
        None => (f64::INFINITY, 0.0, nf),
    };
    let params = (k + 1) as f64;
    let aicc = if used - params - 1.0 > 0.0 {
        -2.0 * loglik + 2.0 * params + 2.0 * params * (params + 1.0) / (used - params - 1.0)
    } else {
        f64::INFINITY
    };
    Some(ArimaFit {
        order,
        m,
        ar,
        ma,
        sar,
        sma,
        mu,
        sigma2,
        aicc,
        y: y.to_vec(),
        residuals,
        scale: 1.0,
    })
}

impl Forecaster for AutoArima {
    fn name(&self) -> &'static str {
        "arima"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        Ok(Box::new(self.estimate(series)?))
    }
}

impl AutoArima {
    /// Chooses and estimates a model.
    pub fn estimate(&self, series: &Series<'_>) -> Result<ArimaFit, ForecastError> {
        series.require("arima", 3)?;
        let values = series.values;
        let scale = crate::stats::scale_of(values);
        let y: Vec<f64> = values.iter().map(|v| v / scale).collect();
        let m = series.usable_seasons().first().copied().unwrap_or(1);
        if is_constant(&y) {
            // Nothing to estimate: the mean, exactly.
            let order = Order { p: 0, d: 0, q: 0, sp: 0, sd: 0, sq: 0, constant: true };
            return Ok(ArimaFit {
                order,
                m,
                ar: Vec::new(),
                ma: Vec::new(),
                sar: Vec::new(),
                sma: Vec::new(),
                mu: y[0],
                sigma2: 0.0,
                aicc: f64::NEG_INFINITY,
                residuals: vec![0.0; y.len()],
                y,
                scale,
            });
        }
        let seasonal = m > 1 && y.len() >= 2 * m + 2;
        let sd = usize::from(
            seasonal && !is_constant(&y) && crate::mstl::seasonal_strength(&y, m) > 0.64,
        );
        let d = ndiffs(&difference(&y, m, sd));
        let constant = d + sd <= 1;
        let base = Order { p: 0, d, q: 0, sp: 0, sd, sq: 0, constant };
        let mut starts = vec![
            Order { p: 2, q: 2, sp: usize::from(seasonal), sq: usize::from(seasonal), ..base },
            base,
            Order { p: 1, sp: usize::from(seasonal), ..base },
            Order { q: 1, sq: usize::from(seasonal), ..base },
        ];
        if constant {
            starts.push(Order { constant: false, ..base });
        }
        let mut tried = std::collections::HashSet::new();
        let mut best: Option<ArimaFit> = None;
        let mut consider = |order: Order, best: &mut Option<ArimaFit>| -> bool {
            let valid = order.p <= MAX_P
                && order.q <= MAX_Q
                && order.sp <= MAX_SEASONAL
                && order.sq <= MAX_SEASONAL
                && order.p + order.q + order.sp + order.sq <= MAX_ORDER
                && (seasonal || (order.sp == 0 && order.sq == 0))
                && (!order.constant || order.d + order.sd <= 1);
            if !valid || tried.len() >= MAX_MODELS || !tried.insert(order) {
                return false;
            }
            let Some(fit) = estimate(&y, order, m) else { return false };
            if best.as_ref().is_none_or(|b| fit.aicc < b.aicc) {
                *best = Some(fit);
                return true;
            }
            false
        };
        for order in starts {
            consider(order, &mut best);
        }
        while let Some(current) = best.as_ref().map(|b| b.order) {
            let mut neighbours = Vec::new();
            let step = |v: usize, by: i32| usize::try_from(v as i32 + by).ok();
            for (dp, dq) in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (1, 1), (-1, 1), (1, -1)] {
                if let (Some(p), Some(q)) = (step(current.p, dp), step(current.q, dq)) {
                    neighbours.push(Order { p, q, ..current });
                }
                if seasonal
                    && let (Some(sp), Some(sq)) = (step(current.sp, dp), step(current.sq, dq))
                {
                    neighbours.push(Order { sp, sq, ..current });
                }
            }
            neighbours.push(Order { constant: !current.constant, ..current });
            let improved = neighbours.into_iter().any(|order| consider(order, &mut best));
            if !improved {
                break;
            }
        }
        let mut fit = best.ok_or_else(|| ForecastError::Fit {
            model: "arima".into(),
            reason: "no order could be estimated".into(),
        })?;
        fit.scale = scale;
        Ok(fit)
    }
}

impl ArimaFit {
    /// The chosen order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The full AR polynomial of `y` (differences included) as `1 - Σ c_k B^k`.
    fn integrated_ar(&self) -> Vec<f64> {
        let mut poly = vec![1.0];
        let multiply = |poly: &[f64], other: &[f64]| {
            let mut out = vec![0.0; poly.len() + other.len() - 1];
            for (i, a) in poly.iter().enumerate() {
                for (j, b) in other.iter().enumerate() {
                    out[i + j] += a * b;
                }
            }
            out
        };
        let arma: Vec<f64> = std::iter::once(1.0)
            .chain(ar_product(&self.ar, &self.sar, self.m).iter().map(|v| -v))
            .collect();
        poly = multiply(&poly, &arma);
        for _ in 0..self.order.d {
            poly = multiply(&poly, &[1.0, -1.0]);
        }
        for _ in 0..self.order.sd {
            let mut seasonal = vec![0.0; self.m + 1];
            seasonal[0] = 1.0;
            seasonal[self.m] = -1.0;
            poly = multiply(&poly, &seasonal);
        }
        poly[1..].iter().map(|v| -v).collect()
    }
}

impl Fitted for ArimaFit {
    fn describe(&self) -> String {
        let o = &self.order;
        let seasonal = if o.sp + o.sd + o.sq > 0 {
            format!("({},{},{})[{}]", o.sp, o.sd, o.sq, self.m)
        } else {
            String::new()
        };
        let constant = match (o.constant, o.d + o.sd) {
            (false, _) => "",
            (true, 0) => " with mean",
            (true, _) => " with drift",
        };
        format!("ARIMA({},{},{}){seasonal}{constant}", o.p, o.d, o.q)
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        let h = future.len();
        check_request(h, levels)?;
        // Forecast the differenced series, then undo the differences.
        let w = difference(&difference(&self.y, self.m, self.order.sd), 1, self.order.d);
        let ar = ar_product(&self.ar, &self.sar, self.m);
        let ma = ma_product(&self.ma, &self.sma, self.m);
        let n = w.len();
        let mut wf: Vec<f64> = w.clone();
        let mut e = self.residuals.clone();
        for _ in 0..h {
            let t = wf.len();
            let mut value = self.mu;
            for (i, c) in ar.iter().enumerate() {
                let lag = i + 1;
                if lag <= t {
                    value += c * (wf[t - lag] - self.mu);
                }
            }
            for (j, c) in ma.iter().enumerate() {
                let lag = j + 1;
                if lag <= t && t - lag < n {
                    value += c * e[t - lag];
                }
            }
            wf.push(value);
            e.push(0.0);
        }
        // Undo the ordinary differences, then the seasonal ones.
        let seasonal = difference(&self.y, self.m, self.order.sd);
        let mut levels_d: Vec<Vec<f64>> = vec![seasonal.clone()];
        for _ in 0..self.order.d {
            let last = levels_d.last().cloned().unwrap_or_default();
            levels_d.push(difference(&last, 1, 1));
        }
        let mut forecast: Vec<f64> = wf[n..].to_vec();
        for k in (0..self.order.d).rev() {
            let base = &levels_d[k];
            let mut previous = base.last().copied().unwrap_or(0.0);
            for value in forecast.iter_mut() {
                *value += previous;
                previous = *value;
            }
        }
        if self.order.sd > 0 {
            let mut history = self.y.clone();
            for value in forecast.iter_mut() {
                *value += history[history.len() - self.m];
                history.push(*value);
            }
        }
        // ψ-weights of the whole model for the variances.
        let full_ar = self.integrated_ar();
        let mut psi = vec![1.0; h];
        for j in 1..h {
            let mut value = ma.get(j - 1).copied().unwrap_or(0.0);
            for (i, c) in full_ar.iter().enumerate().take(j) {
                value += c * psi[j - 1 - i];
            }
            psi[j] = value;
        }
        let mut total = 0.0;
        let sd: Vec<f64> = psi
            .iter()
            .map(|p| {
                total += p * p;
                (self.sigma2 * total).sqrt() * self.scale
            })
            .collect();
        let mean_out: Vec<f64> = forecast.iter().map(|v| v * self.scale).collect();
        let bands = normal_bands(&mean_out, &sd, levels);
        Ok(Prediction { mean: mean_out, bands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ar1_is_recovered() {
        let mut y = vec![0.0; 400];
        let mut rng = crate::stats::Normal::new(3);
        for t in 1..y.len() {
            y[t] = 0.7 * y[t - 1] + rng.draw();
        }
        let y: Vec<f64> = y.iter().map(|v| v + 50.0).collect();
        let fit = AutoArima.estimate(&Series::plain(&y)).unwrap();
        assert_eq!(fit.order.d, 0, "{}", fit.describe());
        let p = fit.predict(&[0; 20], &[95.0]).unwrap();
        // The forecast decays towards the mean, and its band widens.
        assert!((p.mean[19] - 50.0).abs() < 1.0, "{:?}", p.mean);
        let width = |i: usize| p.bands[0].upper[i] - p.bands[0].lower[i];
        assert!(width(19) > width(0));
    }

    #[test]
    fn a_random_walk_with_drift_is_differenced() {
        let mut rng = crate::stats::Normal::new(5);
        let mut y = vec![100.0];
        for _ in 0..300 {
            let last = *y.last().unwrap();
            y.push(last + 0.5 + rng.draw());
        }
        let fit = AutoArima.estimate(&Series::plain(&y)).unwrap();
        assert_eq!(fit.order.d, 1, "{}", fit.describe());
        let p = fit.predict(&[0; 10], &[]).unwrap();
        assert!(p.mean[9] > y[300] + 2.0, "the drift continues: {:?}", p.mean);
    }

    #[test]
    fn air_passengers_is_seasonal() {
        let text = include_str!("../../../testdata/air_passengers.csv");
        let y: Vec<f64> =
            text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
        let fit = AutoArima.estimate(&Series { values: &y, times: &[], seasons: &[12] }).unwrap();
        assert_eq!(fit.order.sd, 1, "{}", fit.describe());
        let p = fit.predict(&[0; 12], &[80.0]).unwrap();
        assert!(p.mean[6] > p.mean[10] * 1.1, "{:?}", p.mean);
    }

    #[test]
    fn the_exact_likelihood_of_an_ar1_matches_its_closed_form() {
        let w = [0.5, -0.2, 0.9, 1.4, 0.3, -0.7, 0.1];
        let phi: f64 = 0.6;
        let (loglik, sigma2) = exact_loglik(&w, 0.0, &[phi], &[]).unwrap();
        let ssq = w[0] * w[0] * (1.0 - phi * phi)
            + w.windows(2).map(|p| (p[1] - phi * p[0]).powi(2)).sum::<f64>();
        let n = w.len() as f64;
        let want_sigma2 = ssq / n;
        let want = -0.5
            * (n * (2.0 * std::f64::consts::PI * want_sigma2).ln() - (1.0 - phi * phi).ln() + n);
        assert!((sigma2 - want_sigma2).abs() < 1e-12, "{sigma2} {want_sigma2}");
        assert!((loglik - want).abs() < 1e-9, "{loglik} {want}");
    }

    #[test]
    fn polynomials_multiply_out() {
        // (1 - 0.5B)(1 - 0.3B^4) = 1 - 0.5B - 0.3B^4 + 0.15B^5
        let c = ar_product(&[0.5], &[0.3], 4);
        assert_eq!(c, vec![0.5, 0.0, 0.0, 0.3, -0.15]);
        assert!(outside(&[0.5], -1.0) && !outside(&[1.2], -1.0));
    }
}

//! Exponential smoothing state-space models (ETS) with automatic model selection.
//!
//! The models and their estimation follow Hyndman, Koehler, Ord and Snyder, *Forecasting
//! with Exponential Smoothing* (2008), as implemented by R's `forecast::ets` and Python's
//! statsforecast `AutoETS`: errors additive or multiplicative; trend none, additive or
//! additive damped; season none, additive or multiplicative. Smoothing parameters and
//! initial states are estimated together by maximum likelihood (Nelder-Mead), within the
//! usual bounds intersected with the admissible region; the form with the smallest AICc is
//! kept. Models with infinite variance (additive errors with multiplicative seasons) are
//! not considered, nor are multiplicative ones on data that is not strictly positive.
//!
//! Intervals are exact for the linear models (additive errors, no multiplicative season)
//! and simulated from the fitted model for the others.
//!
//! The series is divided by its mean absolute value before estimation. Every likelihood
//! shifts by the same constant under scaling, so the choice of model is unchanged, while
//! the optimiser works on parameters of similar size.

use crate::optim::{Stop, nelder_mead};
use crate::stats::{Normal, line, mean, quantile_sorted, seasonal_figure};
use crate::{Band, Fitted, ForecastError, Forecaster, Prediction, Series, check_request};

/// Longest season ETS models: longer seasons are left to MSTL.
pub const MAX_SEASON: usize = 24;

/// Sample paths drawn for simulated intervals.
const PATHS: usize = 4_000;

const LOWER: [f64; 4] = [1e-4, 1e-4, 1e-4, 0.8];
const UPPER: [f64; 4] = [0.9999, 0.9999, 0.9999, 0.98];
const TOLERANCE: f64 = 1e-10;

/// The search stops when its likelihood criteria differ by less than this: far below what
/// changes a choice by AICc.
const TOLERANCE_LIK: f64 = 1e-3;

/// How a component enters the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// Absent.
    None,
    /// Added.
    Additive,
    /// Multiplied.
    Multiplicative,
}

impl Component {
    fn letter(self) -> char {
        match self {
            Self::None => 'N',
            Self::Additive => 'A',
            Self::Multiplicative => 'M',
        }
    }
}

/// One ETS form, for instance ETS(M,Ad,M).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Form {
    /// Additive or multiplicative errors.
    pub error: Component,
    /// No trend or an additive one.
    pub trend: Component,
    /// Whether the trend is damped.
    pub damped: bool,
    /// No season, an additive or a multiplicative one.
    pub season: Component,
}

impl std::fmt::Display for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let damped = if self.damped { "d" } else { "" };
        write!(
            f,
            "ETS({},{}{damped},{})",
            self.error.letter(),
            self.trend.letter(),
            self.season.letter()
        )
    }
}

impl Form {
    /// Every form worth trying on a series, given its season length and whether it is
    /// strictly positive.
    fn candidates(seasonal: bool, positive: bool) -> Vec<Form> {
        use Component::{Additive as A, Multiplicative as M, None as N};
        let mut forms = Vec::new();
        for error in [A, M] {
            for (trend, damped) in [(N, false), (A, false), (A, true)] {
                for season in [N, A, M] {
                    let multiplicative = error == M || season == M;
                    if (season != N && !seasonal)
                        || (multiplicative && !positive)
                        || (error == A && season == M)
                    {
                        continue;
                    }
                    forms.push(Form { error, trend, damped, season });
                }
            }
        }
        forms
    }

    /// Parameters estimated: smoothing parameters and initial states.
    fn parameters(&self, m: usize) -> usize {
        let mut count = 2;
        if self.trend != Component::None {
            count += 2;
        }
        if self.damped {
            count += 1;
        }
        if self.season != Component::None {
            count += m;
        }
        count
    }

    /// Whether the model is linear, with exact interval formulas (class 1).
    fn linear(&self) -> bool {
        self.error == Component::Additive && self.season != Component::Multiplicative
    }
}

/// Automatic ETS: every admissible form is estimated and the smallest AICc wins.
#[derive(Debug, Clone, Default)]
pub struct AutoEts {
    /// Only this form, when set.
    pub form: Option<Form>,
}

/// Smoothing parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Smoothing {
    alpha: f64,
    beta: f64,
    gamma: f64,
    phi: f64,
    /// `beta / alpha`, the trend's share of a level change.
    ratio: f64,
}

/// The state after the last value: level, trend and the last season, the value for step
/// `t` (counted from the first value) at `season[t % m]`.
#[derive(Debug, Clone, PartialEq)]
struct State {
    level: f64,
    trend: f64,
    season: Vec<f64>,
}

/// One form estimated on one series.
#[derive(Debug, Clone)]
pub struct EtsFit {
    form: Form,
    m: usize,
    smoothing: Smoothing,
    state: State,
    /// Steps seen, to place the season.
    n: usize,
    sigma2: f64,
    scale: f64,
    /// The information criteria of the fit, on the scaled series.
    pub aicc: f64,
}

/// The one-step forecast from a state, and the values the update needs.
#[inline(always)]
fn step_forecast(form: &Form, phi: f64, level: f64, trend: f64, seasonal: f64) -> (f64, f64) {
    let q = match form.trend {
        Component::None => level,
        _ => level + phi * trend,
    };
    let f = match form.season {
        Component::None => q,
        Component::Additive => q + seasonal,
        Component::Multiplicative => q * seasonal,
    };
    (q, f)
}

/// Updates a state with an observation `y` whose one-step forecast was `f` (from `q`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn update(
    form: &Form,
    s: &Smoothing,
    y: f64,
    q: f64,
    level: &mut f64,
    trend: &mut f64,
    seasonal: &mut f64,
) -> bool {
    let p = match form.season {
        Component::None => y,
        Component::Additive => y - *seasonal,
        Component::Multiplicative => {
            if seasonal.abs() < TOLERANCE {
                return false;
            }
            y / *seasonal
        }
    };
    let old_level = *level;
    *level = q + s.alpha * (p - q);
    if form.trend != Component::None {
        let phib = s.phi * *trend;
        *trend = phib + s.ratio * (*level - old_level - phib);
    }
    match form.season {
        Component::None => {}
        Component::Additive => *seasonal += s.gamma * (y - q - *seasonal),
        Component::Multiplicative => {
            if q.abs() < TOLERANCE {
                return false;
            }
            *seasonal += s.gamma * (y / q - *seasonal);
        }
    }
    true
}

/// Runs the model over the series from initial states; returns the likelihood criterion
/// (`n log(SSE)`, plus `2 Σ log|f|` for multiplicative errors) or `None` where it breaks
/// down. `season` holds the initial season (oldest first) and ends as the last one.
fn run(
    form: &Form,
    s: &Smoothing,
    y: &[f64],
    level0: f64,
    trend0: f64,
    season: &mut [f64],
    mut residuals: Option<&mut Vec<f64>>,
) -> Option<(f64, f64, f64)> {
    let m = season.len().max(1);
    let (mut level, mut trend) = (level0, trend0);
    let mut none = 0.0;
    let (mut sse, mut log_f, mut product) = (0.0, 0.0, 1.0f64);
    let multiplicative = form.error == Component::Multiplicative;
    let mut at = 0;
    for &value in y {
        let seasonal = if season.is_empty() { &mut none } else { &mut season[at] };
        at += 1;
        if at == m {
            at = 0;
        }
        let (q, f) = step_forecast(form, s.phi, level, trend, *seasonal);
        let e = if multiplicative {
            // Forecasts of a scaled series far from 1 are breakdowns (and keep the product
            // of forecasts below within range).
            if !(f > 1e-100 && f < 1e100) {
                return None;
            }
            // One logarithm per run of factors, not per step.
            product *= f;
            if !(1e-100..=1e100).contains(&product) {
                log_f += product.ln();
                product = 1.0;
            }
            (value - f) / f
        } else {
            value - f
        };
        if let Some(out) = residuals.as_deref_mut() {
            out.push(e);
        }
        sse += e * e;
        if !update(form, s, value, q, &mut level, &mut trend, seasonal) {
            return None;
        }
    }
    log_f += product.ln();
    let n = y.len() as f64;
    let mut lik = n * sse.ln();
    if multiplicative {
        lik += 2.0 * log_f;
    }
    if lik.is_nan() {
        return None;
    }
    Some((lik.max(-1e10), level, trend))
}

/// Whether all roots of `Σ a[k] z^k` lie within the circle of radius `1 + 1e-10`
/// (Schur-Cohn).
fn roots_inside(coefficients: &[f64]) -> bool {
    roots_within(coefficients, 1.0 + 1e-10)
}

/// Whether all roots of `Σ a[k] z^k` (degree at most 26) lie within `radius` (Schur-Cohn).
pub(crate) fn roots_within(coefficients: &[f64], radius: f64) -> bool {
    let mut a = [0.0f64; MAX_SEASON + 3];
    let mut next = [0.0f64; MAX_SEASON + 3];
    if coefficients.len() > a.len() {
        return false;
    }
    let mut power = 1.0;
    for (slot, c) in a.iter_mut().zip(coefficients) {
        *slot = c * power;
        power *= radius;
    }
    let mut len = coefficients.len();
    while len > 1 {
        let d = len - 1;
        if a[0].abs() >= a[d].abs() {
            return false;
        }
        for k in 0..d {
            next[k] = a[d] * a[k + 1] - a[0] * a[d - 1 - k];
        }
        // Normalise: the coefficients otherwise shrink quadratically and underflow.
        let lead = next[d - 1].abs();
        if lead == 0.0 || !lead.is_finite() {
            return false;
        }
        for k in 0..d {
            a[k] = next[k] / lead;
        }
        len = d;
    }
    true
}

/// Hyndman et al.'s admissible region (R's `admissible`).
fn admissible(form: &Form, s: &Smoothing, m: usize) -> bool {
    let phi = if form.damped { s.phi } else { 1.0 };
    let (alpha, gamma) = (s.alpha, s.gamma);
    let beta = if form.trend == Component::None { 0.0 } else { s.beta };
    if !(0.0..=1.0 + 1e-8).contains(&phi) {
        return false;
    }
    if form.season == Component::None || m < 2 {
        if alpha < 1.0 - 1.0 / phi || alpha > 1.0 + 1.0 / phi {
            return false;
        }
        return form.trend == Component::None
            || (beta >= alpha * (phi - 1.0) && beta <= (1.0 + phi) * (2.0 - alpha));
    }
    let mf = m as f64;
    if gamma < (1.0 - 1.0 / phi - alpha).max(0.0) || gamma > 1.0 + 1.0 / phi - alpha {
        return false;
    }
    if alpha < 1.0 - 1.0 / phi - gamma * (1.0 - mf + phi + phi * mf) / (2.0 * phi * mf) {
        return false;
    }
    if beta < -(1.0 - phi) * (gamma / mf + alpha) {
        return false;
    }
    if m > MAX_SEASON {
        return false;
    }
    let mut p = [0.0f64; MAX_SEASON + 2];
    p[0] = phi * (1.0 - alpha - gamma);
    p[1] = alpha + beta - alpha * phi + gamma - 1.0;
    for c in &mut p[2..m] {
        *c = alpha + beta - alpha * phi;
    }
    p[m] = alpha + beta - phi;
    p[m + 1] = 1.0;
    roots_inside(&p[..m + 2])
}

/// The estimation problem for one form.
struct Problem<'a> {
    form: Form,
    y: &'a [f64],
    m: usize,
}

impl Problem<'_> {
    fn seasonal(&self) -> bool {
        self.form.season != Component::None
    }

    /// Splits a parameter vector into smoothing parameters and initial states; the season
    /// is written oldest first into `season`. `None` outside the usual bounds.
    fn unpack(&self, x: &[f64], season: &mut [f64]) -> Option<(Smoothing, f64, f64)> {
        let form = &self.form;
        let mut i = 0;
        let mut next = || {
            i += 1;
            x[i - 1]
        };
        let alpha = next();
        if !(LOWER[0]..=UPPER[0]).contains(&alpha) {
            return None;
        }
        let mut s = Smoothing { alpha, beta: 0.0, gamma: 0.0, phi: 1.0, ratio: 0.0 };
        if form.trend != Component::None {
            s.beta = next();
            if s.beta < LOWER[1] || s.beta > UPPER[1] || s.beta > alpha {
                return None;
            }
            s.ratio = s.beta / alpha;
        }
        if self.seasonal() {
            s.gamma = next();
            if s.gamma < LOWER[2] || s.gamma > UPPER[2] || s.gamma > 1.0 - alpha {
                return None;
            }
        }
        if form.damped {
            s.phi = next();
            if !(LOWER[3]..=UPPER[3]).contains(&s.phi) {
                return None;
            }
        }
        let level = next();
        let trend = if form.trend != Component::None { next() } else { 0.0 };
        if self.seasonal() {
            // Free states are newest first; the oldest makes the season sum to 0 (or m).
            let m = self.m;
            let mut total = 0.0;
            for k in 0..m - 1 {
                let value = next();
                season[m - 1 - k] = value;
                total += value;
            }
            season[0] = match form.season {
                Component::Multiplicative => m as f64 - total,
                _ => -total,
            };
            if form.season == Component::Multiplicative && season.iter().any(|v| *v <= 0.0) {
                return None;
            }
        }
        Some((s, level, trend))
    }

    /// Smoothing parameters estimated (they come first in a parameter vector).
    fn smoothing_count(&self) -> usize {
        1 + usize::from(self.form.trend != Component::None)
            + usize::from(self.seasonal())
            + usize::from(self.form.damped)
    }

    /// Starting values (R's `initparam` and `initstate`).
    fn start(&self) -> Option<Vec<f64>> {
        let (y, m, form) = (self.y, self.m, &self.form);
        let mut x = Vec::new();
        let period = if self.seasonal() { m as f64 } else { 1.0 };
        let alpha = LOWER[0] + 0.2 * (UPPER[0] - LOWER[0]) / period;
        x.push(alpha);
        if form.trend != Component::None {
            x.push(LOWER[1] + 0.1 * (UPPER[1].min(alpha) - LOWER[1]));
        }
        if self.seasonal() {
            x.push(LOWER[2] + 0.05 * (UPPER[2].min(1.0 - alpha) - LOWER[2]));
        }
        if form.damped {
            x.push(LOWER[3] + 0.99 * (UPPER[3] - LOWER[3]));
        }
        let multiplicative = form.season == Component::Multiplicative;
        let (adjusted, figure, first) = if self.seasonal() {
            let head = &y[..y.len().min(3 * m)];
            let mut figure = seasonal_figure(head, m, multiplicative)?;
            if multiplicative {
                figure.iter_mut().for_each(|v| *v = v.max(1e-2));
            }
            let adjusted: Vec<f64> = y
                .iter()
                .enumerate()
                .map(|(t, v)| if multiplicative { v / figure[t % m] } else { v - figure[t % m] })
                .collect();
            (adjusted, figure, y.len().min((2 * m).max(10)))
        } else {
            (y.to_vec(), Vec::new(), y.len().min(10))
        };
        if form.trend == Component::None {
            x.push(mean(&adjusted[..first]));
        } else {
            let (mut level, mut slope) = line(&adjusted[..first]);
            if (level + slope).abs() < 1e-8 {
                level *= 1.0 + 1e-3;
                slope *= 1.0 + 1e-3;
            }
            x.push(level);
            x.push(slope);
        }
        // Newest first, without the first season position (it is the normaliser).
        x.extend(figure.iter().skip(1).rev());
        Some(x)
    }

    /// The likelihood criterion at a parameter vector (infinite outside the region).
    fn objective(&self, x: &[f64], season: &mut [f64]) -> f64 {
        let Some((s, level, trend)) = self.unpack(x, season) else {
            return f64::INFINITY;
        };
        if !admissible(&self.form, &s, self.m) {
            return f64::INFINITY;
        }
        match run(&self.form, &s, self.y, level, trend, season, None) {
            Some((lik, _, _)) => lik,
            None => f64::INFINITY,
        }
    }

    fn fit(&self) -> Option<EtsFit> {
        let mut x0 = self.start()?;
        let steps: Vec<f64> =
            x0.iter().map(|v| if *v == 0.0 { 2.5e-4 } else { 0.05 * v.abs() }).collect();
        let mut season = vec![0.0; if self.seasonal() { self.m } else { 0 }];
        // First the smoothing parameters alone, from the heuristic initial states: in one
        // joint search of up to 30 dimensions they move too slowly to be found.
        let k = self.smoothing_count();
        let states = x0[k..].to_vec();
        let mut full = x0.clone();
        let found = nelder_mead(
            |theta: &[f64]| {
                full[..k].copy_from_slice(theta);
                full[k..].copy_from_slice(&states);
                self.objective(&full, &mut season)
            },
            &x0[..k],
            &steps[..k],
            Stop { max_evals: 400, reltol: 0.0, abstol: TOLERANCE_LIK },
        );
        x0[..k].copy_from_slice(&found.x);
        let steps: Vec<f64> =
            x0.iter().map(|v| if *v == 0.0 { 2.5e-4 } else { 0.05 * v.abs() }).collect();
        let found = nelder_mead(
            |x: &[f64]| self.objective(x, &mut season),
            &x0,
            &steps,
            Stop { max_evals: 2_000, reltol: 0.0, abstol: TOLERANCE_LIK },
        );
        if !found.value.is_finite() {
            return None;
        }
        let mut season = vec![0.0; if self.seasonal() { self.m } else { 0 }];
        let (smoothing, level0, trend0) = self.unpack(&found.x, &mut season)?;
        let mut residuals = Vec::with_capacity(self.y.len());
        let (lik, level, trend) =
            run(&self.form, &smoothing, self.y, level0, trend0, &mut season, Some(&mut residuals))?;
        let n = self.y.len() as f64;
        let np = (found.x.len() + 1) as f64;
        let sse: f64 = residuals.iter().map(|e| e * e).sum();
        let sigma2 = if n > np { sse / (n - np) } else { sse / n };
        let aic = lik + 2.0 * np;
        let aicc = if n - np - 1.0 > 0.0 {
            aic + 2.0 * np * (np + 1.0) / (n - np - 1.0)
        } else {
            f64::INFINITY
        };
        Some(EtsFit {
            form: self.form,
            m: self.m,
            smoothing,
            state: State { level, trend, season },
            n: self.y.len(),
            sigma2,
            scale: 1.0,
            aicc,
        })
    }
}

impl Forecaster for AutoEts {
    fn name(&self) -> &'static str {
        "ets"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        Ok(Box::new(self.estimate(series)?))
    }
}

impl AutoEts {
    /// Estimates the forms and keeps the best.
    pub fn estimate(&self, series: &Series<'_>) -> Result<EtsFit, ForecastError> {
        series.require("ets", 2)?;
        let values = series.values;
        let scale = crate::stats::scale_of(values);
        let y: Vec<f64> = values.iter().map(|v| v / scale).collect();
        let m = series.usable_seasons().into_iter().find(|m| *m <= MAX_SEASON).unwrap_or(1);
        let positive = y.iter().all(|v| *v > 0.0);
        let candidates = match self.form {
            Some(form) => {
                if form.season != Component::None && m < 2 {
                    return Err(fit_error(format!("{form} needs a season; the series has none")));
                }
                if (form.error == Component::Multiplicative
                    || form.season == Component::Multiplicative)
                    && !positive
                {
                    return Err(fit_error(format!("{form} needs strictly positive values")));
                }
                vec![form]
            }
            None => Form::candidates(m >= 2, positive),
        };
        let mut best: Option<EtsFit> = None;
        for form in &candidates {
            if self.form.is_none() && y.len() <= form.parameters(m) + 4 {
                continue;
            }
            let problem = Problem { form: *form, y: &y, m };
            if let Some(fit) = problem.fit()
                && best.as_ref().is_none_or(|b| fit.aicc < b.aicc || !b.aicc.is_finite())
            {
                best = Some(fit);
            }
        }
        if best.is_none() && self.form.is_none() {
            // Too short for selection: simple exponential smoothing.
            let form = Form {
                error: Component::Additive,
                trend: Component::None,
                damped: false,
                season: Component::None,
            };
            best = Problem { form, y: &y, m: 1 }.fit();
        }
        let mut fit = best.ok_or_else(|| fit_error("no form could be estimated".into()))?;
        fit.scale = scale;
        Ok(fit)
    }
}

fn fit_error(reason: String) -> ForecastError {
    ForecastError::Fit { model: "ets".into(), reason }
}

impl EtsFit {
    /// The form chosen.
    pub fn form(&self) -> Form {
        self.form
    }

    /// The point forecast `h` steps ahead, on the scaled series.
    fn points(&self, h: usize) -> Vec<f64> {
        let s = &self.smoothing;
        let mut out = Vec::with_capacity(h);
        let mut phistar = s.phi;
        for i in 0..h {
            let mut f = self.state.level;
            if self.form.trend != Component::None {
                f += phistar * self.state.trend;
            }
            if self.form.season != Component::None {
                let seasonal = self.state.season[(self.n + i) % self.m];
                f = match self.form.season {
                    Component::Multiplicative => f * seasonal,
                    _ => f + seasonal,
                };
            }
            out.push(f);
            phistar += if self.form.damped { s.phi.powi(i as i32 + 2) } else { 1.0 };
        }
        out
    }

    /// Exact forecast variances of a linear model.
    fn linear_variances(&self, h: usize) -> Vec<f64> {
        let s = &self.smoothing;
        let mut out = Vec::with_capacity(h);
        let (mut total, mut phi_j, mut phi_power) = (1.0, 0.0, 1.0);
        for step in 1..=h {
            out.push(self.sigma2 * total);
            let j = step;
            phi_power *= if self.form.damped { s.phi } else { 1.0 };
            phi_j += phi_power;
            let mut c = s.alpha;
            if self.form.trend != Component::None {
                c += s.beta * phi_j;
            }
            if self.form.season != Component::None && j % self.m == 0 {
                c += s.gamma;
            }
            total += c * c;
        }
        out
    }

    /// Simulated sample paths: `paths[step]` holds every path's value at that step.
    fn simulate(&self, h: usize) -> Vec<Vec<f64>> {
        let sigma = self.sigma2.sqrt();
        let mut rng = Normal::new(0x5eed_f0e7);
        let mut paths = vec![Vec::with_capacity(PATHS); h];
        let mut season = self.state.season.clone();
        let mut none = 0.0;
        for _ in 0..PATHS {
            let (mut level, mut trend) = (self.state.level, self.state.trend);
            season.copy_from_slice(&self.state.season);
            for (i, path) in paths.iter_mut().enumerate() {
                let seasonal =
                    if season.is_empty() { &mut none } else { &mut season[(self.n + i) % self.m] };
                let (q, f) = step_forecast(&self.form, self.smoothing.phi, level, trend, *seasonal);
                let e = sigma * rng.draw();
                let y = match self.form.error {
                    Component::Multiplicative => f * (1.0 + e),
                    _ => f + e,
                };
                path.push(y);
                if !update(&self.form, &self.smoothing, y, q, &mut level, &mut trend, seasonal) {
                    // A path that breaks down keeps its last value.
                    level = y;
                }
            }
        }
        paths
    }
}

impl Fitted for EtsFit {
    fn describe(&self) -> String {
        self.form.to_string()
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        let h = future.len();
        check_request(h, levels)?;
        let scale = self.scale;
        let mean: Vec<f64> = self.points(h).iter().map(|v| v * scale).collect();
        let bands = if levels.is_empty() {
            Vec::new()
        } else if self.form.linear() {
            let sd: Vec<f64> =
                self.linear_variances(h).iter().map(|v| v.max(0.0).sqrt() * scale).collect();
            crate::normal_bands(&mean, &sd, levels)
        } else {
            let mut paths = self.simulate(h);
            paths.iter_mut().for_each(|p| p.sort_by(f64::total_cmp));
            levels
                .iter()
                .map(|&level| {
                    let tail = (100.0 - level) / 200.0;
                    Band {
                        level,
                        lower: paths.iter().map(|p| quantile_sorted(p, tail) * scale).collect(),
                        upper: paths
                            .iter()
                            .map(|p| quantile_sorted(p, 1.0 - tail) * scale)
                            .collect(),
                    }
                })
                .collect()
        };
        Ok(Prediction { mean, bands })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn air_passengers() -> Vec<f64> {
        let text = include_str!("../../../testdata/air_passengers.csv");
        text.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect()
    }

    #[test]
    fn schur_cohn_matches_known_roots() {
        // (z - 0.5)(z + 0.9) = z^2 + 0.4z - 0.45
        assert!(roots_inside(&[-0.45, 0.4, 1.0]));
        // (z - 1.1)(z + 0.2) = z^2 - 0.9z - 0.22
        assert!(!roots_inside(&[-0.22, -0.9, 1.0]));
    }

    #[test]
    fn air_passengers_chooses_a_multiplicative_season() {
        let y = air_passengers();
        let series = Series { values: &y, times: &[], seasons: &[12] };
        let fit = AutoEts::default().estimate(&series).unwrap();
        // R's forecast::ets and statsforecast both choose ETS(M,Ad,M) here.
        assert_eq!(fit.form.season, Component::Multiplicative, "{}", fit.form);
        assert_eq!(fit.form.error, Component::Multiplicative, "{}", fit.form);
        let p = fit.predict(&[0; 24], &[95.0]).unwrap();
        // The seasonal peak in July stays above the trough in November.
        assert!(p.mean[6] > p.mean[10] * 1.2, "{:?}", p.mean);
        for i in 0..24 {
            assert!(p.bands[0].lower[i] < p.mean[i] && p.mean[i] < p.bands[0].upper[i]);
        }
        assert!(
            p.bands[0].upper[23] - p.bands[0].lower[23] > p.bands[0].upper[0] - p.bands[0].lower[0]
        );
    }

    #[test]
    fn a_linear_trend_is_extended() {
        let y: Vec<f64> =
            (0..60).map(|t| 5.0 + 2.0 * t as f64 + if t % 2 == 0 { 0.3 } else { -0.3 }).collect();
        let fit = AutoEts::default().estimate(&Series::plain(&y)).unwrap();
        let p = fit.predict(&[0; 5], &[]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            let want = 5.0 + 2.0 * (60 + i) as f64;
            assert!((v - want).abs() < 2.0, "step {i}: {v} vs {want} ({})", fit.form);
        }
    }

    #[test]
    fn a_fixed_form_is_respected_or_refused() {
        let y = air_passengers();
        let form = Form {
            error: Component::Additive,
            trend: Component::Additive,
            damped: false,
            season: Component::Additive,
        };
        let series = Series { values: &y, times: &[], seasons: &[12] };
        let fit = AutoEts { form: Some(form) }.estimate(&series).unwrap();
        assert_eq!(fit.describe(), "ETS(A,A,A)");
        let negative: Vec<f64> = y.iter().map(|v| -v).collect();
        let form = Form { error: Component::Multiplicative, ..form };
        let err = AutoEts { form: Some(form) }
            .estimate(&Series { values: &negative, times: &[], seasons: &[12] })
            .unwrap_err();
        assert!(err.to_string().contains("strictly positive"), "{err}");
    }
}

//! MSTL (Bandara, Hyndman and Bergmeir, 2021): the series is split into one seasonal
//! component per season length (STL, Cleveland et al. 1990, applied in turn to the series
//! less the other components, twice), and what is left, trend and remainder, is forecast
//! by non-seasonal ETS; each seasonal component repeats its last cycle. So hourly data can
//! carry a daily and a weekly pattern at once, and seasons longer than ETS's own (24) are
//! modelled.

use crate::ets::{AutoEts, EtsFit};
use crate::stats::mean;
use crate::{Band, Fitted, ForecastError, Forecaster, Prediction, Series, check_request};

/// Passes of the decomposition over every season.
const ITERATIONS: usize = 2;
/// Inner loops of each STL.
const INNER: usize = 2;

/// MSTL with ETS on the seasonally adjusted series.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mstl;

/// A fitted MSTL.
#[derive(Debug, Clone)]
pub struct MstlFit {
    seasons: Vec<usize>,
    /// Each season's component over the series.
    components: Vec<Vec<f64>>,
    trend: EtsFit,
}

/// The smallest odd number at least `x`.
fn odd_at_least(x: f64) -> usize {
    let n = x.ceil().max(1.0) as usize;
    if n.is_multiple_of(2) { n + 1 } else { n }
}

/// Locally linear regression with tricube weights over the `q` values nearest to
/// position `at` (values at positions 0, 1, ...).
fn loess_at(y: &[f64], q: usize, at: f64) -> f64 {
    let n = y.len();
    if n == 0 {
        return 0.0;
    }
    if n == 1 {
        return y[0];
    }
    let q = q.max(2);
    let (lo, hi) = if q >= n {
        (0, n - 1)
    } else {
        let centre = at.round().clamp(0.0, (n - 1) as f64) as usize;
        let lo = centre.saturating_sub(q / 2).min(n - q);
        (lo, lo + q - 1)
    };
    let mut h = (at - lo as f64).max(hi as f64 - at);
    if q > n {
        h += ((q - n) / 2) as f64;
    }
    let h = h.max(1e-9);
    let (mut sw, mut swx, mut swy, mut swxx, mut swxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for (j, value) in y.iter().enumerate().take(hi + 1).skip(lo) {
        let x = j as f64;
        let d = (x - at).abs() / h;
        if d >= 1.0 {
            continue;
        }
        let w = (1.0 - d * d * d).powi(3);
        sw += w;
        swx += w * x;
        swy += w * value;
        swxx += w * x * x;
        swxy += w * x * value;
    }
    if sw <= 0.0 {
        return y[at.round().clamp(0.0, (n - 1) as f64) as usize];
    }
    let (mx, my) = (swx / sw, swy / sw);
    let var = swxx / sw - mx * mx;
    if var.abs() < 1e-12 * (1.0 + mx * mx) {
        return my;
    }
    let slope = (swxy / sw - mx * my) / var;
    my + slope * (at - mx)
}

fn loess(y: &[f64], q: usize) -> Vec<f64> {
    (0..y.len()).map(|i| loess_at(y, q, i as f64)).collect()
}

fn moving_average(y: &[f64], width: usize) -> Vec<f64> {
    if y.len() < width || width == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(y.len() - width + 1);
    let mut sum: f64 = y[..width].iter().sum();
    out.push(sum / width as f64);
    for i in width..y.len() {
        sum += y[i] - y[i - width];
        out.push(sum / width as f64);
    }
    out
}

/// STL's seasonal component of `y` at `period`, with seasonal window `window`.
fn stl_seasonal(y: &[f64], period: usize, window: usize) -> Vec<f64> {
    stl(y, period, window).0
}

/// The strength of the season `period` in `y` (Wang, Smith and Hyndman, 2006): 1 less the
/// remainder's variance over that of the remainder and season together, 0 to 1.
pub(crate) fn seasonal_strength(y: &[f64], period: usize) -> f64 {
    let (seasonal, trend) = stl(y, period, 11);
    let remainder: Vec<f64> = (0..y.len()).map(|t| y[t] - seasonal[t] - trend[t]).collect();
    let detrended: Vec<f64> = remainder.iter().zip(&seasonal).map(|(r, s)| r + s).collect();
    let variance = |v: &[f64]| {
        let m = mean(v);
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>()
    };
    let total = variance(&detrended);
    if total <= 0.0 { 0.0 } else { (1.0 - variance(&remainder) / total).clamp(0.0, 1.0) }
}

/// STL (without robustness weights): the seasonal and trend components.
fn stl(y: &[f64], period: usize, window: usize) -> (Vec<f64>, Vec<f64>) {
    let n = y.len();
    let low_pass = odd_at_least(period as f64);
    let trend_window = odd_at_least(1.5 * period as f64 / (1.0 - 1.5 / window as f64));
    let mut trend = vec![0.0; n];
    let mut seasonal = vec![0.0; n];
    for _ in 0..INNER {
        let detrended: Vec<f64> = y.iter().zip(&trend).map(|(v, t)| v - t).collect();
        // Cycle-subseries, each smoothed and extended one cycle before and after.
        let mut cycles = vec![0.0; n + 2 * period];
        for k in 0..period {
            let sub: Vec<f64> = detrended.iter().skip(k).step_by(period).copied().collect();
            let len = sub.len();
            for j in 0..len + 2 {
                let at = j as f64 - 1.0;
                let position = k + j * period;
                if position < cycles.len() {
                    cycles[position] = loess_at(&sub, window, at);
                }
            }
        }
        let smoothed = moving_average(&moving_average(&moving_average(&cycles, period), period), 3);
        let low = loess(&smoothed, low_pass);
        for i in 0..n {
            seasonal[i] = cycles[period + i] - low.get(i).copied().unwrap_or(0.0);
        }
        let adjusted: Vec<f64> = y.iter().zip(&seasonal).map(|(v, s)| v - s).collect();
        trend = loess(&adjusted, trend_window);
    }
    (seasonal, trend)
}

/// The seasonal components of `y`, one per season length (ascending).
pub fn decompose(y: &[f64], seasons: &[usize]) -> Vec<Vec<f64>> {
    let mut components = vec![vec![0.0; y.len()]; seasons.len()];
    let mut adjusted = y.to_vec();
    for _ in 0..ITERATIONS {
        for (i, &period) in seasons.iter().enumerate() {
            // Put this season back, then take it out afresh.
            for (a, s) in adjusted.iter_mut().zip(&components[i]) {
                *a += s;
            }
            components[i] = stl_seasonal(&adjusted, period, 7 + 4 * (i + 1));
            for (a, s) in adjusted.iter_mut().zip(&components[i]) {
                *a -= s;
            }
        }
    }
    components
}

impl Forecaster for Mstl {
    fn name(&self) -> &'static str {
        "mstl"
    }

    fn fit(&self, series: &Series<'_>) -> Result<Box<dyn Fitted>, ForecastError> {
        series.require("mstl", 3)?;
        let y = series.values;
        let seasons = series.usable_seasons();
        let components = decompose(y, &seasons);
        let adjusted: Vec<f64> =
            (0..y.len()).map(|t| y[t] - components.iter().map(|c| c[t]).sum::<f64>()).collect();
        if adjusted.iter().any(|v| !v.is_finite()) {
            return Err(ForecastError::Fit {
                model: "mstl".into(),
                reason: "the decomposition did not converge".into(),
            });
        }
        let trend = AutoEts::default().estimate(&Series::plain(&adjusted))?;
        Ok(Box::new(MstlFit { seasons, components, trend }))
    }
}

impl Fitted for MstlFit {
    fn describe(&self) -> String {
        let seasons: Vec<String> = self.seasons.iter().map(|s| s.to_string()).collect();
        format!("MSTL({}) + {}", seasons.join(","), self.trend.describe())
    }

    fn predict(&self, future: &[i64], levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(future.len(), levels)?;
        let base = self.trend.predict(future, levels)?;
        let n = self.components.first().map_or(0, Vec::len);
        let seasonal: Vec<f64> = (0..future.len())
            .map(|step| {
                self.seasons.iter().zip(&self.components).map(|(&m, c)| c[n - m + step % m]).sum()
            })
            .collect();
        let shift = |values: &[f64]| -> Vec<f64> {
            values.iter().zip(&seasonal).map(|(v, s)| v + s).collect()
        };
        Ok(Prediction {
            mean: shift(&base.mean),
            bands: base
                .bands
                .iter()
                .map(|b| Band { level: b.level, lower: shift(&b.lower), upper: shift(&b.upper) })
                .collect(),
        })
    }
}

/// How much of the series' variance the seasonal components explain (0 to 1), for tests
/// and diagnostics.
pub fn seasonal_share(y: &[f64], components: &[Vec<f64>]) -> f64 {
    let m = mean(y);
    let total: f64 = y.iter().map(|v| (v - m).powi(2)).sum();
    let rest: f64 = (0..y.len())
        .map(|t| y[t] - components.iter().map(|c| c[t]).sum::<f64>())
        .map(|v| (v - m).powi(2))
        .sum();
    if total > 0.0 { 1.0 - rest / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three weeks of hours with a daily and a weekly pattern and a slow trend.
    fn hourly() -> Vec<f64> {
        (0..24 * 7 * 4)
            .map(|t| {
                let day = (t % 24) as f64 / 24.0 * std::f64::consts::TAU;
                let week = (t % 168) as f64 / 168.0 * std::f64::consts::TAU;
                100.0
                    + 0.01 * t as f64
                    + 10.0 * day.sin()
                    + 5.0 * week.cos()
                    + ((t * 7919) % 17) as f64 * 0.05
            })
            .collect()
    }

    #[test]
    fn two_seasons_are_separated() {
        let y = hourly();
        let components = decompose(&y, &[24, 168]);
        assert!(seasonal_share(&y, &components) > 0.9);
        // The daily component swings by about ±10, the weekly by about ±5.
        let range = |c: &[f64]| {
            c.iter().copied().fold(f64::MIN, f64::max) - c.iter().copied().fold(f64::MAX, f64::min)
        };
        assert!((15.0..25.0).contains(&range(&components[0])), "{}", range(&components[0]));
        assert!((6.0..14.0).contains(&range(&components[1])), "{}", range(&components[1]));
    }

    #[test]
    fn the_forecast_repeats_both_patterns() {
        let y = hourly();
        let series = Series { values: &y, times: &[], seasons: &[24, 168] };
        let fitted = Mstl.fit(&series).unwrap();
        assert!(fitted.describe().starts_with("MSTL(24,168) + ETS("), "{}", fitted.describe());
        let p = fitted.predict(&[0; 48], &[95.0]).unwrap();
        let n = y.len();
        let truth: Vec<f64> = (n..n + 48)
            .map(|t| {
                let day = (t % 24) as f64 / 24.0 * std::f64::consts::TAU;
                let week = (t % 168) as f64 / 168.0 * std::f64::consts::TAU;
                100.0 + 0.01 * t as f64 + 10.0 * day.sin() + 5.0 * week.cos() + 0.4
            })
            .collect();
        let mae = crate::metrics::mae(&truth, &p.mean);
        assert!(mae < 1.5, "mean absolute error {mae}");
        assert!(p.bands[0].lower.iter().zip(&p.mean).all(|(l, m)| l < m));
    }
}

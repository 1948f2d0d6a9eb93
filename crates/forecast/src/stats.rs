//! Small numerical helpers shared by the models.

/// The standard normal quantile function (Acklam's rational approximation, relative error
/// below 1.2e-9).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let low = 0.024_25;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// The mean of a slice (0 for an empty one).
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { 0.0 } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// The mean absolute value of a series (1 when it is all zeros): models divide by it so
/// that their parameters are of similar size whatever the units.
pub(crate) fn scale_of(values: &[f64]) -> f64 {
    let scale = values.iter().map(|v| v.abs()).sum::<f64>() / values.len().max(1) as f64;
    if scale > 0.0 && scale.is_finite() { scale } else { 1.0 }
}

/// Least-squares line through `(1, y[0]), (2, y[1]), ...`: `(intercept, slope)`.
pub(crate) fn line(y: &[f64]) -> (f64, f64) {
    let n = y.len() as f64;
    if y.len() < 2 {
        return (y.first().copied().unwrap_or(0.0), 0.0);
    }
    let mean_x = (n + 1.0) / 2.0;
    let mean_y = mean(y);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, v) in y.iter().enumerate() {
        let dx = (i + 1) as f64 - mean_x;
        sxy += dx * (v - mean_y);
        sxx += dx * dx;
    }
    let slope = sxy / sxx;
    (mean_y - slope * mean_x, slope)
}

/// The centred moving average of order `m` (2×m when `m` is even), `None` where the window
/// does not fit.
pub(crate) fn centred_average(y: &[f64], m: usize) -> Vec<Option<f64>> {
    let n = y.len();
    let mut out = vec![None; n];
    if m < 2 || n < m + 1 {
        return out;
    }
    let half = m / 2;
    for (t, slot) in out.iter_mut().enumerate().take(n - half).skip(half) {
        let value = if m % 2 == 1 {
            y[t - half..=t + half].iter().sum::<f64>() / m as f64
        } else {
            let inner: f64 = y[t + 1 - half..t + half].iter().sum();
            (inner + 0.5 * (y[t - half] + y[t + half])) / m as f64
        };
        *slot = Some(value);
    }
    out
}

/// The seasonal figure of a classical decomposition: one index per position in the season
/// (position 0 is the first value's), centred to sum 0 (additive) or average 1
/// (multiplicative). `None` when no position can be estimated.
pub(crate) fn seasonal_figure(y: &[f64], m: usize, multiplicative: bool) -> Option<Vec<f64>> {
    let trend = centred_average(y, m);
    let mut sums = vec![0.0; m];
    let mut counts = vec![0usize; m];
    for (t, level) in trend.iter().enumerate() {
        if let Some(level) = level {
            let detrended = if multiplicative { y[t] / level } else { y[t] - level };
            if detrended.is_finite() {
                sums[t % m] += detrended;
                counts[t % m] += 1;
            }
        }
    }
    if counts.contains(&0) {
        return None;
    }
    let mut figure: Vec<f64> = sums.iter().zip(&counts).map(|(s, c)| s / *c as f64).collect();
    let centre = mean(&figure);
    for value in &mut figure {
        if multiplicative {
            *value /= centre;
        } else {
            *value -= centre;
        }
    }
    Some(figure)
}

/// A small deterministic generator of normal draws (xorshift64* and Box-Muller), so that
/// simulated intervals are the same on every run.
#[derive(Debug)]
pub(crate) struct Normal {
    state: u64,
    spare: Option<f64>,
}

impl Normal {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed.max(1), spare: None }
    }

    fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        (bits as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn draw(&mut self) -> f64 {
        if let Some(value) = self.spare.take() {
            return value;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let radius = (-2.0 * u.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * v;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

/// The `q` quantile (0..1) of a sorted slice, interpolating linearly.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles_match_tables() {
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
        assert!((normal_quantile(0.9) - 1.281_551_565_544_601).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.001) + 3.090_232_306_167_813).abs() < 1e-8);
    }

    #[test]
    fn line_fits_exactly() {
        let (a, b) = line(&[3.0, 5.0, 7.0, 9.0]);
        assert!((a - 1.0).abs() < 1e-12 && (b - 2.0).abs() < 1e-12);
    }

    #[test]
    fn seasonal_figure_recovers_a_pattern() {
        let pattern = [1.0, -2.0, 0.5, 0.5];
        let y: Vec<f64> = (0..24).map(|t| 10.0 + 0.1 * t as f64 + pattern[t % 4]).collect();
        let figure = seasonal_figure(&y, 4, false).unwrap();
        for (got, want) in figure.iter().zip(pattern) {
            assert!((got - want).abs() < 1e-9, "{figure:?}");
        }
    }

    #[test]
    fn normal_draws_have_unit_variance() {
        let mut rng = Normal::new(7);
        let draws: Vec<f64> = (0..100_000).map(|_| rng.draw()).collect();
        let m = mean(&draws);
        let var = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
        assert!(m.abs() < 0.02 && (var - 1.0).abs() < 0.02, "{m} {var}");
    }
}

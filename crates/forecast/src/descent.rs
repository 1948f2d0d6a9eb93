//! Gradient-based minimisation for Prophet's posterior: limited-memory BFGS with a strong
//! Wolfe line search, and Newton's method after Stan's, both stopping on Stan's
//! criteria.

/// When limited-memory BFGS stops: Stan's criteria and defaults (the relative tolerances
/// are in units of the machine epsilon).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lbfgs {
    /// Pairs of updates kept.
    pub history: usize,
    /// The most iterations.
    pub max_iters: usize,
    /// Stop when the objective changes by less than this...
    pub tol_obj: f64,
    /// ... or by less than this many epsilons relative to its size...
    pub tol_rel_obj: f64,
    /// ... or the gradient's norm is below this...
    pub tol_grad: f64,
    /// ... or the gradient scaled by the inverse Hessian estimate is below this many
    /// epsilons relative to the objective...
    pub tol_rel_grad: f64,
    /// ... or the step is shorter than this.
    pub tol_param: f64,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self {
            history: 5,
            max_iters: 10_000,
            tol_obj: 1e-12,
            tol_rel_obj: 1e4,
            tol_grad: 1e-8,
            tol_rel_grad: 1e7,
            tol_param: 1e-8,
        }
    }
}

/// Where limited-memory BFGS ended.
#[derive(Debug, Clone)]
pub(crate) struct Descent {
    pub x: Vec<f64>,
    pub value: f64,
    /// A stopping criterion was met (or no step along the gradient decreases the objective
    /// any more), rather than the iteration limit or a non-finite objective.
    pub converged: bool,
}

/// The dot product (four running sums, which the compiler vectorises).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a4, b4) = (a[..n].chunks_exact(4), b[..n].chunks_exact(4));
    let (ra, rb) = (a4.remainder(), b4.remainder());
    let mut sums = [0.0; 4];
    for (x, y) in a4.zip(b4) {
        for k in 0..4 {
            sums[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail
}

/// The objective with its gradient written into the second argument.
pub(crate) trait Smooth {
    fn eval(&mut self, x: &[f64], gradient: &mut [f64]) -> f64;

    /// Writes the Hessian that [`newton`]'s finite differences would find (row-major), where
    /// the objective knows it in closed form; false to have it differenced.
    fn hessian(&mut self, _x: &[f64], _out: &mut [f64]) -> bool {
        false
    }
}

impl<F: FnMut(&[f64], &mut [f64]) -> f64> Smooth for F {
    fn eval(&mut self, x: &[f64], gradient: &mut [f64]) -> f64 {
        self(x, gradient)
    }
}

/// A point on the search line: step, value, directional derivative, position, gradient.
struct Probe {
    step: f64,
    value: f64,
    slope: f64,
    x: Vec<f64>,
    gradient: Vec<f64>,
}

fn probe(f: &mut impl Smooth, x: &[f64], d: &[f64], step: f64) -> Probe {
    let point: Vec<f64> = x.iter().zip(d).map(|(x, d)| x + step * d).collect();
    let mut gradient = vec![0.0; x.len()];
    let value = f.eval(&point, &mut gradient);
    let slope = dot(&gradient, d);
    Probe { step, value, slope, x: point, gradient }
}

/// The minimiser of the cubic through two points with their slopes, kept inside the
/// middle 80% of the interval (bisection where the cubic has none).
fn cubic_step(a: &Probe, b: &Probe) -> f64 {
    let (lo, hi) = (a.step.min(b.step), a.step.max(b.step));
    let d1 = a.slope + b.slope - 3.0 * (a.value - b.value) / (a.step - b.step);
    let radicand = d1 * d1 - a.slope * b.slope;
    let middle = 0.5 * (lo + hi);
    if radicand.is_nan() || radicand < 0.0 {
        return middle;
    }
    let d2 = (b.step - a.step).signum() * radicand.sqrt();
    let step = b.step - (b.step - a.step) * (b.slope + d2 - d1) / (b.slope - a.slope + 2.0 * d2);
    let margin = 0.1 * (hi - lo);
    if step.is_finite() { step.clamp(lo + margin, hi - margin) } else { middle }
}

/// A step along `d` meeting the strong Wolfe conditions (Nocedal and Wright, algorithms 3.5
/// and 3.6), or the best decrease found.
fn line_search(
    f: &mut impl Smooth,
    x: &[f64],
    value: f64,
    slope: f64,
    d: &[f64],
    first: f64,
) -> Option<Probe> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let origin = Probe { step: 0.0, value, slope, x: x.to_vec(), gradient: Vec::new() };
    let sufficient = |p: &Probe| p.value <= value + C1 * p.step * slope;
    let curvature = |p: &Probe| p.slope.abs() <= -C2 * slope;
    let mut previous = origin;
    let mut step = first;
    let mut best: Option<Probe> = None;
    let keep = |best: &mut Option<Probe>, p: &Probe| {
        if p.value.is_finite() && p.value < value && best.as_ref().is_none_or(|b| p.value < b.value)
        {
            *best = Some(Probe { x: p.x.clone(), gradient: p.gradient.clone(), ..*p });
        }
    };
    let (mut lo, mut hi);
    let mut i = 0;
    loop {
        let current = probe(f, x, d, step);
        if !current.value.is_finite() {
            // Out of the objective's domain: come back towards the last good step.
            step = previous.step + 0.1 * (step - previous.step);
            i += 1;
            if i > 60 {
                return best;
            }
            continue;
        }
        keep(&mut best, &current);
        if !sufficient(&current) || (i > 0 && current.value >= previous.value) {
            (lo, hi) = (previous, current);
            break;
        }
        if curvature(&current) {
            return Some(current);
        }
        if current.slope >= 0.0 {
            (lo, hi) = (current, previous);
            break;
        }
        step *= 2.0;
        previous = current;
        i += 1;
        if i > 60 {
            return best;
        }
    }
    // Zoom: `lo` is the best point meeting sufficient decrease, `hi` bounds the interval.
    for _ in 0..60 {
        let current = probe(f, x, d, cubic_step(&lo, &hi));
        if !current.value.is_finite() {
            hi = current;
            hi.value = f64::INFINITY;
            hi.slope = f64::NAN;
            continue;
        }
        keep(&mut best, &current);
        if !sufficient(&current) || current.value >= lo.value {
            hi = current;
        } else {
            if curvature(&current) {
                return Some(current);
            }
            if current.slope * (hi.step - lo.step) >= 0.0 {
                hi = lo;
            }
            lo = current;
        }
        if (hi.step - lo.step).abs() <= 1e-16 * lo.step.abs().max(1e-300) {
            break;
        }
    }
    best
}

/// Minimises a smooth objective from `x0` by limited-memory BFGS (Nocedal and Wright,
/// algorithm 7.5), stopping on Stan's criteria.
pub(crate) fn lbfgs(f: &mut impl Smooth, x0: &[f64], settings: &Lbfgs) -> Descent {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut value = f.eval(&x, &mut g);
    if !value.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return Descent { x, value, converged: false };
    }
    let mut pairs: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::new();
    let mut alphas = vec![0.0; settings.history];
    let mut moved = false;
    for _ in 0..settings.max_iters {
        // The quasi-Newton direction, by the two-loop recursion.
        let mut q = g.clone();
        for (k, (s, y, rho)) in pairs.iter().enumerate().rev() {
            alphas[k] = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= alphas[k] * y);
        }
        let gamma = pairs.back().map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y));
        q.iter_mut().for_each(|q| *q *= gamma);
        for (k, (s, y, rho)) in pairs.iter().enumerate() {
            let beta = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(q, s)| *q += s * (alphas[k] - beta));
        }
        let mut d: Vec<f64> = q.iter().map(|q| -q).collect();
        let mut slope = dot(&d, &g);
        let norm = dot(&g, &g).sqrt();
        let mut first = if pairs.is_empty() { (1.0 / norm).min(1.0) } else { 1.0 };
        if slope.is_nan() || slope >= 0.0 {
            pairs.clear();
            d = g.iter().map(|g| -g).collect();
            slope = -norm * norm;
            first = (1.0 / norm).min(1.0);
        }
        let found = match line_search(f, &x, value, slope, &d, first) {
            Some(found) => found,
            None if !pairs.is_empty() => {
                // The curvature estimate misleads: start again along the gradient.
                pairs.clear();
                continue;
            }
            // No step along the gradient decreases the objective: a minimum (at a kink),
            // unless no step was ever taken (nothing but non-finite values around).
            None => return Descent { x, value, converged: moved },
        };
        moved = true;
        let s: Vec<f64> = found.x.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = found.gradient.iter().zip(&g).map(|(a, b)| a - b).collect();
        let change = (value - found.value).abs();
        let step_norm = dot(&s, &s).sqrt();
        let sy = dot(&s, &y);
        (x, value, g) = (found.x, found.value, found.gradient);
        if sy > 1e-12 * step_norm * dot(&y, &y).sqrt() {
            if pairs.len() == settings.history {
                pairs.pop_front();
            }
            pairs.push_back((s, y, 1.0 / sy));
        }
        let scale = value.abs().max(1.0);
        let gnorm = dot(&g, &g).sqrt();
        let curvature_gamma = pairs.back().map_or(1.0, |(s, y, _)| dot(s, y) / dot(y, y));
        if change < settings.tol_obj
            || change / scale < settings.tol_rel_obj * f64::EPSILON
            || gnorm < settings.tol_grad
            || curvature_gamma * gnorm * gnorm / scale < settings.tol_rel_grad * f64::EPSILON
            || step_norm < settings.tol_param
        {
            return Descent { x, value, converged: true };
        }
    }
    Descent { x, value, converged: false }
}

/// Solves `a x = b` by Cholesky for a symmetric `a` (row-major, `n` × `n`); `None` where
/// `a` is not positive definite.
fn cholesky_solve(a: &[f64], n: usize, b: &[f64]) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j];
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum.is_nan() || sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let sum: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - sum) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let sum: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - sum) / l[i * n + i];
    }
    Some(x)
}

/// The eigenvalues and eigenvectors (columns, row-major) of a symmetric matrix; `None` if
/// the iteration does not converge.
fn symmetric_eigen(a: &[f64], n: usize) -> Option<(Vec<f64>, Vec<f64>)> {
    let eigen = nalgebra::DMatrix::from_row_slice(n, n, a)
        .try_symmetric_eigen(f64::EPSILON, 1_000 * n.max(1))?;
    let mut vectors = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            vectors[i * n + k] = eigen.eigenvectors[(i, k)];
        }
    }
    Some((eigen.eigenvalues.iter().copied().collect(), vectors))
}

/// Stan's finite-difference stencil for the Hessian: offsets (in steps of
/// [`NEWTON_EPSILON`]) and weights.
pub(crate) const STENCIL: [(f64, f64); 4] =
    [(-2.0, 1.0 / 12.0), (-1.0, -2.0 / 3.0), (1.0, 2.0 / 3.0), (2.0, -1.0 / 12.0)];
/// Stan's finite-difference step for the Hessian.
pub(crate) const NEWTON_EPSILON: f64 = 1e-3;

/// Newton's method after Stan's: the Hessian by a fourth-order central difference of the
/// gradient (steps of 10⁻³) unless the objective knows it in closed form, each eigenvalue
/// replaced by its absolute value, the step halved until the objective does not increase,
/// until an iteration gains less than 10⁻⁸.
pub(crate) fn newton(f: &mut impl Smooth, x0: &[f64], max_iters: usize) -> Descent {
    const EPSILON: f64 = NEWTON_EPSILON;
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut g = vec![0.0; n];
    let mut value = f.eval(&x, &mut g);
    if !value.is_finite() {
        return Descent { x, value, converged: false };
    }
    let mut hessian = vec![0.0; n * n];
    let mut moved = vec![0.0; n];
    let mut scratch = vec![0.0; n];
    for _ in 0..max_iters {
        hessian.iter_mut().for_each(|h| *h = 0.0);
        if !f.hessian(&x, &mut hessian) {
            for i in 0..n {
                for (offset, weight) in STENCIL {
                    moved.copy_from_slice(&x);
                    moved[i] += offset * EPSILON;
                    f.eval(&moved, &mut scratch);
                    for j in 0..n {
                        hessian[i * n + j] += weight / EPSILON * scratch[j];
                    }
                }
            }
        }
        for i in 0..n {
            for j in 0..i {
                let mean = 0.5 * (hessian[i * n + j] + hessian[j * n + i]);
                hessian[i * n + j] = mean;
                hessian[j * n + i] = mean;
            }
        }
        if hessian.iter().any(|h| !h.is_finite()) {
            return Descent { x, value, converged: false };
        }
        // Positive definite (the usual case near a minimum): |eigenvalues| change nothing
        // and Cholesky solves it; otherwise through the eigenvectors.
        let minus_g: Vec<f64> = g.iter().map(|v| -v).collect();
        let solved = cholesky_solve(&hessian, n, &minus_g).or_else(|| {
            let (values, vectors) = symmetric_eigen(&hessian, n)?;
            let mut d = vec![0.0; n];
            for k in 0..n {
                let projection: f64 = (0..n).map(|i| vectors[i * n + k] * g[i]).sum();
                let scaled = -projection / values[k].abs().max(1e-300);
                for i in 0..n {
                    d[i] += vectors[i * n + k] * scaled;
                }
            }
            Some(d)
        });
        let Some(d) = solved else { return Descent { x, value, converged: false } };
        let mut step = 1.0;
        let mut accepted = None;
        while step >= 1e-50 {
            let trial: Vec<f64> = x.iter().zip(&d).map(|(x, d)| x + step * d).collect();
            let mut trial_g = vec![0.0; n];
            let trial_value = f.eval(&trial, &mut trial_g);
            if trial_value.is_finite() && trial_value <= value {
                accepted = Some((trial, trial_value, trial_g));
                break;
            }
            step *= 0.5;
        }
        let Some((next, next_value, next_g)) = accepted else {
            return Descent { x, value, converged: true };
        };
        let gain = value - next_value;
        (x, value, g) = (next, next_value, next_g);
        if gain < 1e-8 {
            return Descent { x, value, converged: true };
        }
    }
    Descent { x, value, converged: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function and its gradient, minimal at (1, 1).
    fn rosenbrock(x: &[f64], g: &mut [f64]) -> f64 {
        g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
        g[1] = 200.0 * (x[1] - x[0] * x[0]);
        (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2)
    }

    #[test]
    fn lbfgs_finds_the_rosenbrock_minimum_from_its_gradient() {
        let found = lbfgs(&mut { rosenbrock }, &[-1.2, 1.0], &Lbfgs::default());
        assert!(found.converged, "{found:?}");
        assert!((found.x[0] - 1.0).abs() < 1e-5 && (found.x[1] - 1.0).abs() < 1e-5, "{found:?}");
    }

    #[test]
    fn lbfgs_stops_at_a_kink() {
        // |x - 3| + (y + 1)^2: not differentiable at the minimum.
        let mut kinked = |x: &[f64], g: &mut [f64]| {
            // The subgradient nearest zero at the kink, as Prophet's changepoint prior takes.
            g[0] = if x[0] == 3.0 { 0.0 } else { (x[0] - 3.0).signum() };
            g[1] = 2.0 * (x[1] + 1.0);
            (x[0] - 3.0).abs() + (x[1] + 1.0).powi(2)
        };
        let found = lbfgs(&mut kinked, &[0.0, 0.0], &Lbfgs::default());
        assert!(found.converged && found.value < 1e-6, "{found:?}");
        assert!((found.x[0] - 3.0).abs() < 1e-3 && (found.x[1] + 1.0).abs() < 1e-3, "{found:?}");
    }

    #[test]
    fn newton_finds_the_rosenbrock_minimum() {
        let found = newton(&mut { rosenbrock }, &[-1.2, 1.0], 500);
        assert!(found.converged, "{found:?}");
        assert!((found.x[0] - 1.0).abs() < 1e-3 && (found.x[1] - 1.0).abs() < 1e-3, "{found:?}");
    }
}

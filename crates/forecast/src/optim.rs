//! Nelder-Mead minimisation with the dimension-adaptive coefficients of Gao and Han (2012).
//! The objective returns `f64::INFINITY` outside the feasible region.

/// When to stop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stop {
    /// The most objective evaluations.
    pub max_evals: usize,
    /// Stop when the best and worst vertices differ by less than this, relative to the best
    /// value...
    pub reltol: f64,
    /// ... plus this.
    pub abstol: f64,
}

impl Default for Stop {
    fn default() -> Self {
        Self { max_evals: 2_000, reltol: 1e-8, abstol: 0.0 }
    }
}

/// The best point found and its value.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    pub x: Vec<f64>,
    pub value: f64,
}

/// Minimises `f` from `x0`, the first simplex stepping `steps[i]` along each axis (or back,
/// where forward is infeasible).
pub(crate) fn nelder_mead(
    mut f: impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    steps: &[f64],
    stop: Stop,
) -> Minimum {
    let n = x0.len();
    let value0 = f(x0);
    if n == 0 {
        return Minimum { x: Vec::new(), value: value0 };
    }
    let dim = n as f64;
    let (reflect, expand, contract, shrink) =
        (1.0, 1.0 + 2.0 / dim, 0.75 - 1.0 / (2.0 * dim), 1.0 - 1.0 / dim);
    let mut evals = 1;
    let mut simplex: Vec<Vec<f64>> = vec![x0.to_vec()];
    let mut values = vec![value0];
    for i in 0..n {
        let mut vertex = x0.to_vec();
        vertex[i] += steps[i];
        let mut value = f(&vertex);
        evals += 1;
        if !value.is_finite() {
            vertex[i] = x0[i] - steps[i];
            value = f(&vertex);
            evals += 1;
        }
        simplex.push(vertex);
        values.push(value);
    }
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut second = vec![0.0; n];
    loop {
        order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
        let (best, worst) = (order[0], order[n]);
        let (low, high) = (values[best], values[worst]);
        if evals >= stop.max_evals
            || (low.is_finite()
                && high - low <= stop.reltol * (low.abs() + stop.reltol) + stop.abstol)
        {
            break;
        }
        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &vertex in &order[..n] {
            for (c, x) in centroid.iter_mut().zip(&simplex[vertex]) {
                *c += x / dim;
            }
        }
        let along = |t: f64, out: &mut Vec<f64>, simplex: &[Vec<f64>]| {
            for ((o, c), w) in out.iter_mut().zip(&centroid).zip(&simplex[worst]) {
                *o = c + t * (c - w);
            }
        };
        along(reflect, &mut trial, &simplex);
        let reflected = f(&trial);
        evals += 1;
        let next_worst = values[order[n - 1]];
        if reflected < low {
            along(expand, &mut second, &simplex);
            let expanded = f(&second);
            evals += 1;
            if expanded < reflected {
                simplex[worst].copy_from_slice(&second);
                values[worst] = expanded;
            } else {
                simplex[worst].copy_from_slice(&trial);
                values[worst] = reflected;
            }
            continue;
        }
        if reflected < next_worst {
            simplex[worst].copy_from_slice(&trial);
            values[worst] = reflected;
            continue;
        }
        // Contract outside when the reflection improved on the worst, inside otherwise.
        let outside = reflected < high;
        along(if outside { contract } else { -contract }, &mut second, &simplex);
        let contracted = f(&second);
        evals += 1;
        if contracted < if outside { reflected } else { high } {
            simplex[worst].copy_from_slice(&second);
            values[worst] = contracted;
            continue;
        }
        // Shrink towards the best vertex.
        let anchor = simplex[best].clone();
        for &vertex in &order[1..] {
            for (x, a) in simplex[vertex].iter_mut().zip(&anchor) {
                *x = a + shrink * (*x - a);
            }
            values[vertex] = f(&simplex[vertex]);
            evals += 1;
        }
    }
    let best = (0..=n).min_by(|a, b| values[*a].total_cmp(&values[*b])).unwrap_or(0);
    Minimum { x: simplex.swap_remove(best), value: values[best] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let rosenbrock = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let found = nelder_mead(
            rosenbrock,
            &[-1.2, 1.0],
            &[0.1, 0.1],
            Stop { max_evals: 5_000, reltol: 1e-14, abstol: 0.0 },
        );
        assert!((found.x[0] - 1.0).abs() < 1e-4 && (found.x[1] - 1.0).abs() < 1e-4, "{found:?}");
    }

    #[test]
    fn respects_an_infeasible_region() {
        // Minimum of (x-2)^2 subject to x <= 1.
        let bounded = |x: &[f64]| if x[0] > 1.0 { f64::INFINITY } else { (x[0] - 2.0).powi(2) };
        let found = nelder_mead(bounded, &[0.0], &[0.5], Stop::default());
        assert!(found.x[0] <= 1.0 && found.x[0] > 0.999, "{found:?}");
    }
}

//! Unusual jumps in a series: steps from one value to the next that are far outside the
//! series' usual steps. The scale is robust (the median absolute deviation of the steps), so
//! a few wild values cannot hide themselves by inflating it.

use serde::Serialize;

use crate::duplicates::Keys;
use crate::window::{Part, QueryError, as_f64};

/// How many robust standard deviations a step must be from the median step to count.
pub const THRESHOLD: f64 = 8.0;
/// How many of the largest jumps are listed per column.
const LISTED: usize = 5;
/// The MAD of a normal distribution times this is its standard deviation.
const MAD_TO_SIGMA: f64 = 1.4826;

/// One unusual step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jump {
    /// When it arrived, microseconds since 1970 (UTC).
    pub ts: i64,
    /// The value before it.
    pub from: f64,
    /// The value it jumped to.
    pub to: f64,
    /// How many robust standard deviations the step is from the median step.
    pub score: f64,
}

/// The unusual steps of one column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnOutliers {
    /// The column.
    pub name: String,
    /// Steps looked at (pairs of consecutive values).
    pub steps: u64,
    /// Steps beyond the threshold.
    pub count: u64,
    /// The largest of them, largest first.
    pub largest: Vec<Jump>,
}

/// The unusual jumps of every numeric column of `series`.
pub fn outliers(part: &Part, series: &str) -> Result<Vec<ColumnOutliers>, QueryError> {
    let names = part.numeric_column_names();
    let indices = part.numeric_indices(&names)?;
    let mut ts: Vec<i64> = Vec::new();
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); names.len()];
    part.scan_series(series, i64::MIN, i64::MAX, &indices, |batch| {
        ts.extend_from_slice(Keys::of(batch).times());
        for (name, column) in names.iter().zip(values.iter_mut()) {
            match batch.column_by_name(name) {
                Some(array) => column.extend(as_f64(array)),
                None => column.extend(std::iter::repeat_n(None, batch.num_rows())),
            }
        }
        Ok(true)
    })?;
    Ok(names.into_iter().zip(values).map(|(name, column)| jumps(name, &ts, &column)).collect())
}

/// The unusual steps between the present values of one column.
fn jumps(name: String, ts: &[i64], column: &[Option<f64>]) -> ColumnOutliers {
    let present: Vec<(i64, f64)> = ts
        .iter()
        .zip(column)
        .filter_map(|(t, v)| v.filter(|v| v.is_finite()).map(|v| (*t, v)))
        .collect();
    let steps: Vec<f64> = present.windows(2).map(|w| w[1].1 - w[0].1).collect();
    let empty = ColumnOutliers { name, steps: steps.len() as u64, count: 0, largest: Vec::new() };
    if steps.len() < 10 {
        return empty;
    }
    let median = median_of(&mut steps.clone());
    let mut deviations: Vec<f64> = steps.iter().map(|s| (s - median).abs()).collect();
    let mut scale = median_of(&mut deviations) * MAD_TO_SIGMA;
    if scale == 0.0 {
        // Mostly flat: fall back to the mean absolute deviation.
        scale = steps.iter().map(|s| (s - median).abs()).sum::<f64>() / steps.len() as f64 * 1.2533;
    }
    if scale == 0.0 || !scale.is_finite() {
        return empty;
    }
    let mut found: Vec<Jump> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| {
            let score = (step - median).abs() / scale;
            (score > THRESHOLD).then(|| Jump {
                ts: present[i + 1].0,
                from: present[i].1,
                to: present[i + 1].1,
                score,
            })
        })
        .collect();
    let count = found.len() as u64;
    found.sort_by(|a, b| b.score.total_cmp(&a.score));
    found.truncate(LISTED);
    ColumnOutliers { count, largest: found, ..empty }
}

/// The median (the upper one of an even count), reordering `values`.
fn median_of(values: &mut [f64]) -> f64 {
    let middle = values.len() / 2;
    *values.select_nth_unstable_by(middle, f64::total_cmp).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: &[f64]) -> (Vec<i64>, Vec<Option<f64>>) {
        ((0..values.len() as i64).collect(), values.iter().copied().map(Some).collect())
    }

    #[test]
    fn a_spike_is_found_and_ordinary_noise_is_not() {
        let mut values: Vec<f64> =
            (0..200).map(|i| 100.0 + ((i * 7919) % 13) as f64 * 0.1).collect();
        values[120] = 180.0;
        let (ts, column) = series(&values);
        let found = jumps("close".into(), &ts, &column);
        // Up into the spike and back down: two steps.
        assert_eq!(found.count, 2, "{found:?}");
        assert_eq!(found.largest.len(), 2);
        assert!(found.largest.iter().any(|j| j.ts == 120 && j.to == 180.0));
        assert!(found.largest.iter().any(|j| j.ts == 121 && j.from == 180.0));
    }

    #[test]
    fn a_smooth_trend_has_no_outliers() {
        let values: Vec<f64> =
            (0..500).map(|i| (i as f64 / 20.0).sin() * 10.0 + i as f64).collect();
        let (ts, column) = series(&values);
        assert_eq!(jumps("v".into(), &ts, &column).count, 0);
    }

    #[test]
    fn flat_series_short_series_and_gaps_are_handled() {
        let (ts, column) = series(&[5.0; 100]);
        assert_eq!(jumps("v".into(), &ts, &column).count, 0);
        let (ts, column) = series(&[1.0, 100.0, 1.0]);
        assert_eq!(jumps("v".into(), &ts, &column).count, 0);
        let mut values = vec![5.0; 100];
        values[50] = 50.0;
        let (ts, mut column) = series(&values);
        column[10] = None;
        column[11] = Some(f64::NAN);
        assert_eq!(jumps("v".into(), &ts, &column).count, 2);
    }
}

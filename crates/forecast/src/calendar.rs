//! From a dataset's rows to a regular series, and from its last time to the times of the
//! steps forecast.
//!
//! The step is inferred from the timestamps (see
//! [`variosync_domain::profile::infer_frequency`]). Fixed steps and calendar months are laid
//! on a grid: missing steps are filled by linear interpolation between their neighbours
//! and counted, and rows falling on the same step keep the last one. Business-day series
//! (markets) keep their own trading days as the index: a holiday is not a gap, and the
//! future continues on weekdays.

use chrono::{DateTime, Datelike, Months, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};
use variosync_domain::profile::{Frequency, infer_frequency};

use crate::ForecastError;

const DAY: i64 = 86_400_000_000;

/// A grid can be at most this many times longer than the rows it holds.
const MAX_FILL_RATIO: usize = 4;

/// A regular series built from rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Regular {
    /// One time per step (microseconds since 1970, UTC).
    pub times: Vec<i64>,
    /// One value per step.
    pub values: Vec<f64>,
    /// The step.
    pub frequency: Frequency,
    /// Steps that had no value and were interpolated.
    pub filled: usize,
    /// Rows that fell on a step already taken and were replaced by a later row.
    pub merged: usize,
}

/// Why rows could not become a regular series.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalendarError {
    /// Fewer than two rows with a value.
    #[error("the series has {0} value(s): at least 2 are needed to find its step")]
    TooFew(usize),
    /// No step dominates.
    #[error(
        "the times follow no regular step (no step is taken by half of them): resample the \
         series to a fixed interval first"
    )]
    Irregular,
    /// The times go backwards.
    #[error("time {index} comes before the one above it: rows must be sorted by time")]
    Unsorted {
        /// Its position (from 0).
        index: usize,
    },
    /// Too many missing steps to fill honestly.
    #[error(
        "the series has {rows} values over {steps} steps of {frequency}: too sparse to fill; \
         resample it to a longer interval"
    )]
    Sparse {
        /// Rows with values.
        rows: usize,
        /// Steps of the grid.
        steps: usize,
        /// The step in words.
        frequency: String,
    },
}

impl From<CalendarError> for ForecastError {
    fn from(err: CalendarError) -> Self {
        ForecastError::Fit { model: "the series' calendar".into(), reason: err.to_string() }
    }
}

fn datetime(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn month_index(micros: i64) -> i64 {
    let d = datetime(micros);
    i64::from(d.year()) * 12 + i64::from(d.month0())
}

/// Adds whole months, keeping the day (clamped to the month's end) and the time of day.
fn add_months(micros: i64, months: i64) -> i64 {
    let d = datetime(micros);
    let moved = if months >= 0 {
        d.checked_add_months(Months::new(months as u32))
    } else {
        d.checked_sub_months(Months::new(months.unsigned_abs() as u32))
    };
    moved.map_or(micros, |m| m.timestamp_micros())
}

/// Builds the regular series of rows sorted by time. Values that are not finite count as
/// missing.
pub fn regularize(times: &[i64], values: &[f64]) -> Result<Regular, CalendarError> {
    if let Some(index) = (1..times.len()).find(|&i| times[i] < times[i - 1]) {
        return Err(CalendarError::Unsorted { index });
    }
    let (times, values): (Vec<i64>, Vec<f64>) =
        times.iter().zip(values).filter(|(_, v)| v.is_finite()).map(|(t, v)| (*t, *v)).unzip();
    if times.len() < 2 {
        return Err(CalendarError::TooFew(times.len()));
    }
    let steps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).filter(|s| *s > 0).collect();
    let frequency = infer_frequency(&steps).ok_or(CalendarError::Irregular)?;
    let first = times[0];
    let slot: Box<dyn Fn(i64) -> i64> = match frequency {
        Frequency::BusinessDays(_) => {
            // Trading days are their own index: merge same-day rows, fill nothing.
            let mut out_times: Vec<i64> = Vec::with_capacity(times.len());
            let mut out_values: Vec<f64> = Vec::with_capacity(times.len());
            let mut merged = 0;
            for (t, v) in times.iter().zip(&values) {
                if out_times.last().is_some_and(|last| last.div_euclid(DAY) == t.div_euclid(DAY)) {
                    merged += 1;
                    *out_times.last_mut().unwrap_or(&mut 0) = *t;
                    *out_values.last_mut().unwrap_or(&mut 0.0) = *v;
                } else {
                    out_times.push(*t);
                    out_values.push(*v);
                }
            }
            return Ok(Regular {
                times: out_times,
                values: out_values,
                frequency,
                filled: 0,
                merged,
            });
        }
        Frequency::Micros(step) => {
            Box::new(move |t: i64| ((t - first) as f64 / step as f64).round() as i64)
        }
        Frequency::Months(n) => {
            let base = month_index(first);
            Box::new(move |t: i64| (month_index(t) - base).div_euclid(n))
        }
    };
    let last_slot = slot(times[times.len() - 1]);
    let length = usize::try_from(last_slot).unwrap_or(0) + 1;
    if length > MAX_FILL_RATIO * times.len() {
        return Err(CalendarError::Sparse {
            rows: times.len(),
            steps: length,
            frequency: frequency.to_string(),
        });
    }
    let mut grid: Vec<Option<f64>> = vec![None; length];
    let mut merged = 0;
    for (t, v) in times.iter().zip(&values) {
        let at = slot(*t).clamp(0, last_slot) as usize;
        if grid[at].replace(*v).is_some() {
            merged += 1;
        }
    }
    let grid_times: Vec<i64> = (0..length as i64)
        .map(|k| match frequency {
            Frequency::Micros(step) => first + k * step,
            Frequency::Months(n) => add_months(first, k * n),
            Frequency::BusinessDays(_) => first,
        })
        .collect();
    let mut filled = 0;
    let mut out = Vec::with_capacity(length);
    let mut previous = 0usize;
    for k in 0..length {
        match grid[k] {
            Some(v) => {
                out.push(v);
                previous = k;
            }
            None => {
                let next = (k + 1..length).find(|j| grid[*j].is_some()).unwrap_or(previous);
                let (a, b) = (grid[previous].unwrap_or(0.0), grid[next].unwrap_or(0.0));
                let share = (k - previous) as f64 / (next - previous).max(1) as f64;
                out.push(a + (b - a) * share);
                filled += 1;
            }
        }
    }
    Ok(Regular { times: grid_times, values: out, frequency, filled, merged })
}

/// The seasons worth modelling at a step, shortest first: days and weeks below a day,
/// weeks and years for days, the week for business days, years for months and quarters.
pub fn seasons(frequency: Frequency) -> Vec<usize> {
    match frequency {
        Frequency::Micros(step) if step > 0 && step < DAY && DAY % step == 0 => {
            let per_day = (DAY / step) as usize;
            vec![per_day, 7 * per_day]
        }
        Frequency::Micros(DAY) => vec![7, 365],
        Frequency::Micros(step) if step == 7 * DAY => vec![52],
        Frequency::BusinessDays(1) => vec![5, 252],
        Frequency::Months(1) => vec![12],
        Frequency::Months(3) => vec![4],
        _ => Vec::new(),
    }
}

/// The times of the `horizon` steps after `last`.
pub fn future(last: i64, frequency: Frequency, horizon: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(horizon);
    let mut current = last;
    for k in 1..=horizon as i64 {
        current = match frequency {
            Frequency::Micros(step) => last + k * step,
            Frequency::Months(n) => add_months(last, k * n),
            Frequency::BusinessDays(n) => {
                let mut day = datetime(current);
                for _ in 0..n.max(1) {
                    day += TimeDelta::days(1);
                    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                        day += TimeDelta::days(1);
                    }
                }
                day.timestamp_micros()
            }
        };
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
    }

    #[test]
    fn gaps_in_hourly_data_are_filled() {
        let h = 3_600_000_000;
        let times = [0, h, 3 * h, 4 * h, 4 * h + 10, 5 * h];
        let values = [1.0, 2.0, 4.0, 5.0, 5.5, f64::NAN];
        let regular = regularize(&times, &values).unwrap();
        assert_eq!(regular.frequency, Frequency::Micros(h));
        assert_eq!(regular.values, vec![1.0, 2.0, 3.0, 4.0, 5.5]);
        assert_eq!(regular.times, vec![0, h, 2 * h, 3 * h, 4 * h]);
        assert_eq!((regular.filled, regular.merged), (1, 1));
        assert_eq!(future(4 * h, regular.frequency, 2), vec![5 * h, 6 * h]);
        assert_eq!(seasons(regular.frequency), vec![24, 168]);
    }

    #[test]
    fn months_follow_the_calendar() {
        let times: Vec<i64> =
            ["2024-01-31", "2024-02-29", "2024-04-30", "2024-05-31", "2024-06-30", "2024-07-31"]
                .iter()
                .map(|d| at(&format!("{d}T00:00:00Z")))
                .collect();
        let regular = regularize(&times, &[1.0, 2.0, 4.0, 5.0, 6.0, 7.0]).unwrap();
        assert_eq!(regular.frequency, Frequency::Months(1));
        assert_eq!(regular.values, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let next = future(*regular.times.last().unwrap(), regular.frequency, 2);
        assert_eq!(next, vec![at("2024-08-31T00:00:00Z"), at("2024-09-30T00:00:00Z")]);
    }

    #[test]
    fn trading_days_are_their_own_index() {
        // Weekdays from 2024-03-18 to 2024-04-12, without Good Friday (03-29).
        let start = at("2024-03-18T20:00:00Z");
        let times: Vec<i64> = (0..26)
            .map(|d| start + d * DAY)
            .filter(|t| datetime(*t).weekday().num_days_from_monday() < 5)
            .filter(|t| *t != at("2024-03-29T20:00:00Z"))
            .collect();
        assert_eq!(times.len(), 19);
        let values: Vec<f64> = (0..times.len()).map(|v| v as f64).collect();
        let regular = regularize(&times, &values).unwrap();
        assert_eq!(regular.frequency, Frequency::BusinessDays(1));
        assert_eq!(regular.values, values, "the holiday is not filled");
        let next = future(at("2024-04-12T20:00:00Z"), regular.frequency, 2);
        assert_eq!(next, vec![at("2024-04-15T20:00:00Z"), at("2024-04-16T20:00:00Z")]);
    }

    #[test]
    fn bad_rows_are_clear_errors() {
        assert_eq!(regularize(&[1, 0], &[1.0, 2.0]), Err(CalendarError::Unsorted { index: 1 }));
        assert_eq!(regularize(&[1], &[1.0]), Err(CalendarError::TooFew(1)));
        assert_eq!(regularize(&[0, 1, 7, 30, 32, 41], &[1.0; 6]), Err(CalendarError::Irregular));
        let sparse = regularize(&[0, 10, 20, 30, 1000], &[1.0; 5]).unwrap_err();
        assert!(sparse.to_string().contains("too sparse"), "{sparse}");
    }
}

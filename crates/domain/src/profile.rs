//! The profile of a dataset version, as the import computes it and every layer reads it:
//! rows, time range, per series its rows, range, regular step and gaps, and per value column
//! its count, nulls, minimum, maximum, mean and standard deviation; and the pure frequency
//! rules (which step a series takes, what counts as a gap) that profiling and forecasting
//! share.

use serde::{Deserialize, Serialize};

/// Microseconds in a day.
pub const DAY: i64 = 86_400_000_000;

/// The regular step of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "unit", content = "every", rename_all = "snake_case")]
pub enum Frequency {
    /// A fixed step, in microseconds.
    Micros(i64),
    /// Monday to Friday, once a day (markets).
    BusinessDays(i64),
    /// Calendar months (monthly, quarterly: 3, yearly: 12).
    Months(i64),
}

impl std::fmt::Display for Frequency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::BusinessDays(1) => write!(f, "business day"),
            Self::BusinessDays(n) => write!(f, "{n} business days"),
            Self::Months(1) => write!(f, "month"),
            Self::Months(3) => write!(f, "quarter"),
            Self::Months(12) => write!(f, "year"),
            Self::Months(n) => write!(f, "{n} months"),
            Self::Micros(micros) => {
                let units =
                    [(DAY, "d"), (3_600_000_000, "h"), (60_000_000, "min"), (1_000_000, "s")];
                match units.iter().find(|(size, _)| micros % size == 0) {
                    Some((size, unit)) => write!(f, "{}{unit}", micros / size),
                    None if micros % 1000 == 0 => write!(f, "{}ms", micros / 1000),
                    None => write!(f, "{micros}us"),
                }
            }
        }
    }
}

/// One series of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct SeriesProfile {
    /// Its name.
    pub name: String,
    /// Its rows.
    pub rows: u64,
    /// Its first time, microseconds since 1970 (UTC).
    pub from: i64,
    /// Its last time.
    pub to: i64,
    /// Its regular step, if it has one.
    pub frequency: Option<Frequency>,
    /// The step in words (`1d`, `business day`, `15min`, `month`).
    pub frequency_label: Option<String>,
    /// Places where at least one step is missing.
    pub gaps: u64,
}

/// One value column of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ColumnProfile {
    /// Its name.
    pub name: String,
    /// `float`, `integer`, `text` or `boolean`.
    pub kind: String,
    /// Values present.
    pub count: u64,
    /// Values missing.
    pub nulls: u64,
    /// The smallest value (numbers only).
    pub min: Option<f64>,
    /// The largest value.
    pub max: Option<f64>,
    /// The mean.
    pub mean: Option<f64>,
    /// The sample standard deviation.
    pub std: Option<f64>,
}

/// The profile of a dataset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Profile {
    /// Rows.
    pub rows: u64,
    /// The earliest time, microseconds since 1970 (UTC).
    pub from: Option<i64>,
    /// The latest time.
    pub to: Option<i64>,
    /// Rows dropped as repeats of a series and time.
    pub duplicates: u64,
    /// Rows set aside as unreadable.
    pub rejects: u64,
    /// The series, in order.
    pub series: Vec<SeriesProfile>,
    /// The value columns, in order.
    pub columns: Vec<ColumnProfile>,
}

/// The day of the week of a time: 0 is Monday.
pub fn weekday(micros: i64) -> i64 {
    // 1970-01-01 was a Thursday: 0 is Monday.
    (micros.div_euclid(DAY) + 3).rem_euclid(7)
}

/// Whether the step from `from` to `to` skips at least one expected time.
pub fn is_gap(frequency: Frequency, from: i64, to: i64) -> bool {
    let step = to - from;
    match frequency {
        Frequency::Micros(every) => step > every + every / 2,
        Frequency::Months(n) => step > (n * 31 + 1) * DAY,
        Frequency::BusinessDays(n) => {
            // Weekdays strictly between the two times.
            let days = (to.div_euclid(DAY) - from.div_euclid(DAY)).max(0);
            let skipped = (1..days).filter(|d| weekday(from + d * DAY) < 5).count() as i64;
            skipped >= n
        }
    }
}

/// The step most steps take, if one dominates; calendar months and business days are
/// recognised from the lengths their steps take.
pub fn infer_frequency(steps: &[i64]) -> Option<Frequency> {
    if steps.is_empty() {
        return None;
    }
    let mut counts: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
    for step in steps {
        *counts.entry(*step).or_default() += 1;
    }
    let (&mode, &count) = counts.iter().max_by_key(|(step, count)| (**count, -**step))?;
    let share = |test: &dyn Fn(i64) -> bool| {
        steps.iter().filter(|s| test(**s)).count() as f64 / steps.len() as f64
    };
    let months = |n: i64| share(&|s| (n * 28 * DAY..=(n * 31 + 1) * DAY).contains(&s));
    for n in [12, 3, 1] {
        if mode >= 28 * DAY && months(n) >= 0.8 {
            return Some(Frequency::Months(n));
        }
    }
    if mode == DAY && share(&|s| s == DAY || s == 3 * DAY) >= 0.9 && counts.contains_key(&(3 * DAY))
    {
        let weekend = share(&|s| s == 2 * DAY || s == 3 * DAY);
        if weekend > 0.1 {
            return Some(Frequency::BusinessDays(1));
        }
    }
    // A regular step is taken by at least half of the steps.
    (count * 2 >= steps.len()).then_some(Frequency::Micros(mode))
}

//! Resampling one series to fixed intervals, from a minute to a year, with a chosen
//! aggregation per column. Buckets are aligned in UTC: minutes and hours to the clock, days
//! to midnight, weeks to Monday, months, quarters and years to the calendar. Empty buckets
//! are left out.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use crate::duplicates::Keys;
use crate::window::{Part, QueryError};

/// The most buckets one request may produce.
pub const MAX_BUCKETS: usize = 200_000;
const MINUTE: i64 = 60_000_000;
const DAY: i64 = 1440 * MINUTE;
/// 1970-01-05, the first Monday after the epoch.
const FIRST_MONDAY: i64 = 4 * DAY;

/// A resampling interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// A fixed length, in microseconds (minutes, hours, days).
    Fixed(i64),
    /// Weeks starting on Monday.
    Weeks(i64),
    /// Calendar months (3: quarters, 12: years).
    Months(i64),
}

impl std::str::FromStr for Interval {
    type Err = QueryError;

    /// `1min`, `5min`, `15min`, `30min`, `1h`, `4h`, `1d`, `1w`, `1mo`, `3mo`, `1q`, `1y`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || {
            QueryError::Invalid(format!(
                "interval {text:?} is not a number followed by min, h, d, w, mo, q or y (1min to 1y)"
            ))
        };
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(invalid)?;
        let count: i64 = text[..split].parse().map_err(|_| invalid())?;
        if !(1..=1000).contains(&count) {
            return Err(invalid());
        }
        Ok(match &text[split..] {
            "min" | "m" => Self::Fixed(count * MINUTE),
            "h" => Self::Fixed(count * 60 * MINUTE),
            "d" => Self::Fixed(count * DAY),
            "w" => Self::Weeks(count),
            "mo" => Self::Months(count),
            "q" => Self::Months(3 * count),
            "y" => Self::Months(12 * count),
            _ => return Err(invalid()),
        })
    }
}

impl Interval {
    /// The start of the bucket holding `at` (microseconds since 1970, UTC).
    pub fn bucket(self, at: i64) -> i64 {
        match self {
            Self::Fixed(width) => at.div_euclid(width) * width,
            Self::Weeks(n) => {
                FIRST_MONDAY + (at - FIRST_MONDAY).div_euclid(n * 7 * DAY) * n * 7 * DAY
            }
            Self::Months(n) => {
                let day = at.div_euclid(DAY);
                let date = NaiveDate::from_num_days_from_ce_opt(719_163 + day as i32)
                    .unwrap_or(NaiveDate::MIN);
                let months = i64::from(date.year()) * 12 + i64::from(date.month0());
                let start = months.div_euclid(n) * n;
                let first =
                    NaiveDate::from_ymd_opt((start / 12) as i32, (start % 12) as u32 + 1, 1)
                        .unwrap_or(NaiveDate::MIN);
                i64::from(first.num_days_from_ce() - 719_163) * DAY
            }
        }
    }
}

/// How a column's values in a bucket become one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// The first value.
    First,
    /// The last value.
    Last,
    /// The smallest.
    Min,
    /// The largest.
    Max,
    /// The sum.
    Sum,
    /// The mean.
    Mean,
    /// How many values there are.
    Count,
}

impl std::str::FromStr for Aggregation {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "first" | "open" => Self::First,
            "last" | "close" => Self::Last,
            "min" | "low" => Self::Min,
            "max" | "high" => Self::Max,
            "sum" => Self::Sum,
            "mean" | "avg" => Self::Mean,
            "count" => Self::Count,
            other => {
                return Err(QueryError::Invalid(format!(
                    "aggregation {other:?} is not first, last, min, max, sum, mean or count"
                )));
            }
        })
    }
}

impl Aggregation {
    /// What a column of this name is aggregated by unless chosen: OHLCV by its meaning,
    /// anything else by the mean.
    pub fn default_for(column: &str) -> Self {
        match column {
            "open" => Self::First,
            "high" => Self::Max,
            "low" => Self::Min,
            "close" | "adj_close" | "open_interest" => Self::Last,
            "volume" => Self::Sum,
            _ => Self::Mean,
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct State {
    count: u64,
    first: f64,
    last: f64,
    min: f64,
    max: f64,
    sum: f64,
}

impl State {
    fn add(&mut self, value: f64) {
        if self.count == 0 {
            (self.first, self.min, self.max) = (value, value, value);
        }
        self.last = value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
        self.count += 1;
    }

    fn value(&self, aggregation: Aggregation) -> Option<f64> {
        if self.count == 0 {
            return (aggregation == Aggregation::Count).then_some(0.0);
        }
        Some(match aggregation {
            Aggregation::First => self.first,
            Aggregation::Last => self.last,
            Aggregation::Min => self.min,
            Aggregation::Max => self.max,
            Aggregation::Sum => self.sum,
            Aggregation::Mean => self.sum / self.count as f64,
            Aggregation::Count => self.count as f64,
        })
    }
}

/// One resampled column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResampledColumn {
    /// Its name.
    pub name: String,
    /// How it was aggregated.
    pub aggregation: Aggregation,
    /// One value per bucket (`None` where the bucket had no value of this column).
    pub values: Vec<Option<f64>>,
}

/// A resampled series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resampled {
    /// The series.
    pub series: String,
    /// Rows read.
    pub rows: u64,
    /// The start of each bucket, microseconds since 1970 (UTC).
    pub ts: Vec<i64>,
    /// The columns.
    pub columns: Vec<ResampledColumn>,
}

/// Resamples `series` between `from` and `to` to `interval`; `columns` pairs each numeric
/// column with its aggregation (every numeric column, by its default, when empty).
pub fn resample(
    part: &Part,
    series: &str,
    columns: &[(String, Option<Aggregation>)],
    from: i64,
    to: i64,
    interval: Interval,
) -> Result<Resampled, QueryError> {
    let chosen: Vec<(String, Aggregation)> = if columns.is_empty() {
        part.numeric_column_names()
            .into_iter()
            .map(|name| {
                let aggregation = Aggregation::default_for(&name);
                (name, aggregation)
            })
            .collect()
    } else {
        columns
            .iter()
            .map(|(name, aggregation)| {
                (name.clone(), aggregation.unwrap_or_else(|| Aggregation::default_for(name)))
            })
            .collect()
    };
    let names: Vec<String> = chosen.iter().map(|(n, _)| n.clone()).collect();
    let indices = part.numeric_indices(&names)?;
    let mut ts: Vec<i64> = Vec::new();
    let mut states: Vec<Vec<State>> = vec![Vec::new(); chosen.len()];
    let mut rows = 0u64;
    part.scan_series(series, from, to, &indices, |batch| {
        let times = Keys::of(batch).times();
        let values: Vec<Vec<Option<f64>>> = names
            .iter()
            .map(|name| batch.column_by_name(name).map(crate::window::as_f64).unwrap_or_default())
            .collect();
        for (row, at) in times.iter().enumerate() {
            let bucket = interval.bucket(*at);
            if ts.last() != Some(&bucket) {
                if ts.len() == MAX_BUCKETS {
                    return Err(QueryError::Invalid(format!(
                        "more than {MAX_BUCKETS} buckets: choose a coarser interval or a shorter range"
                    )));
                }
                ts.push(bucket);
                states.iter_mut().for_each(|s| s.push(State::default()));
            }
            for (column, state) in values.iter().zip(states.iter_mut()) {
                if let Some(Some(value)) = column.get(row) {
                    state.last_mut().expect("a bucket is open").add(*value);
                }
            }
        }
        rows += times.len() as u64;
        Ok(true)
    })?;
    let columns = chosen
        .into_iter()
        .zip(states)
        .map(|((name, aggregation), states)| ResampledColumn {
            name,
            aggregation,
            values: states.iter().map(|s| s.value(aggregation)).collect(),
        })
        .collect();
    Ok(Resampled { series: series.to_owned(), rows, ts, columns })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text).unwrap().timestamp_micros()
    }

    #[test]
    fn buckets_align_to_the_clock_the_week_and_the_calendar() {
        let interval = |text: &str| text.parse::<Interval>().unwrap();
        let t = at("2024-05-15T13:47:12Z");
        assert_eq!(interval("15min").bucket(t), at("2024-05-15T13:45:00Z"));
        assert_eq!(interval("4h").bucket(t), at("2024-05-15T12:00:00Z"));
        assert_eq!(interval("1d").bucket(t), at("2024-05-15T00:00:00Z"));
        assert_eq!(interval("1w").bucket(t), at("2024-05-13T00:00:00Z"), "a Monday");
        assert_eq!(interval("1mo").bucket(t), at("2024-05-01T00:00:00Z"));
        assert_eq!(interval("1q").bucket(t), at("2024-04-01T00:00:00Z"));
        assert_eq!(interval("1y").bucket(t), at("2024-01-01T00:00:00Z"));
        assert_eq!(interval("1mo").bucket(at("1969-12-31T23:00:00Z")), at("1969-12-01T00:00:00Z"));
        for bad in ["", "m", "0d", "5", "1fortnight", "-1d", "2000d"] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
    }

    #[test]
    fn minute_bars_resample_to_hours_with_ohlcv_aware_defaults() {
        let mut csv = String::from("date,open,high,low,close,volume,temp\n");
        for minute in 0..180 {
            let o = f64::from(minute);
            let at = chrono::DateTime::from_timestamp(1_704_067_200 + i64::from(minute) * 60, 0)
                .unwrap();
            csv.push_str(&format!(
                "{},{o},{},{},{},1,{}\n",
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                o + 2.0,
                o - 2.0,
                o + 1.0,
                minute % 2
            ));
        }
        let (_directory, part) = crate::window::part_from_csv(&csv);
        let hourly = resample(&part, "X", &[], i64::MIN, i64::MAX, "1h".parse().unwrap()).unwrap();
        assert_eq!((hourly.rows, hourly.ts.len()), (180, 3));
        assert_eq!(hourly.ts[1] - hourly.ts[0], 3_600_000_000);
        let column = |name: &str| hourly.columns.iter().find(|c| c.name == name).unwrap();
        assert_eq!(column("open").values[1], Some(60.0));
        assert_eq!(column("high").values[1], Some(121.0));
        assert_eq!(column("low").values[1], Some(58.0));
        assert_eq!(column("close").values[1], Some(120.0));
        assert_eq!(column("volume").values[1], Some(60.0));
        assert_eq!(column("temp").values[1], Some(0.5), "others by the mean");
        let chosen = resample(
            &part,
            "X",
            &[("close".into(), Some(Aggregation::Max))],
            i64::MIN,
            i64::MAX,
            "1d".parse().unwrap(),
        )
        .unwrap();
        assert_eq!((chosen.ts.len(), chosen.columns[0].values[0]), (1, Some(180.0)));
        assert!(matches!(
            resample(&part, "X", &[("nope".into(), None)], 0, 1, "1d".parse().unwrap()),
            Err(QueryError::NoColumn(_))
        ));
    }
}

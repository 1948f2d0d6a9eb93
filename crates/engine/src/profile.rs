//! The profile of a dataset, computed in one pass over its batches (sorted by series and
//! time): rows, time range, per series its rows, range, inferred frequency and gaps, and per
//! value column its count, nulls, minimum, maximum, mean and standard deviation.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::duplicates::Keys;
pub use variosync_domain::profile::{
    ColumnProfile, DAY, Frequency, Profile, SeriesProfile, infer_frequency, is_gap, weekday,
};

/// Time steps kept per series to infer its frequency.
const FREQUENCY_SAMPLE: usize = 10_000;

#[derive(Debug, Default, Clone)]
struct Moments {
    count: u64,
    nulls: u64,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
}

impl Moments {
    /// Adds `values`: their own count, mean and squared deviations (two passes, four lanes
    /// each, so they vectorise) are combined with those so far (Chan, Golub and LeVeque), so
    /// no value costs a division.
    fn add_all(&mut self, values: &[f64]) {
        if values.is_empty() {
            return;
        }
        // Comparisons written as selects (a NaN never wins) vectorise; `f64::min` does not.
        let (mut mins, mut maxes) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4]);
        let mut sums = [0.0f64; 4];
        let lanes = values.chunks_exact(4);
        let rest = lanes.remainder();
        for lane in lanes {
            let lane: &[f64; 4] = lane.try_into().expect("chunks of four");
            for i in 0..4 {
                sums[i] += lane[i];
                mins[i] = if lane[i] < mins[i] { lane[i] } else { mins[i] };
                maxes[i] = if lane[i] > maxes[i] { lane[i] } else { maxes[i] };
            }
        }
        for &value in rest {
            sums[0] += value;
            mins[0] = if value < mins[0] { value } else { mins[0] };
            maxes[0] = if value > maxes[0] { value } else { maxes[0] };
        }
        let (min, max) =
            (mins.into_iter().fold(f64::NAN, f64::min), maxes.into_iter().fold(f64::NAN, f64::max));
        // Only NaNs: no extreme, as `f64::min` over them would say.
        let (min, max) = if min > max { (f64::NAN, f64::NAN) } else { (min, max) };
        let n = values.len() as f64;
        let mean = sums.iter().sum::<f64>() / n;
        let mut squares = [0.0f64; 4];
        let lanes = values.chunks_exact(4);
        let rest = lanes.remainder();
        for lane in lanes {
            let lane: &[f64; 4] = lane.try_into().expect("chunks of four");
            for i in 0..4 {
                let d = lane[i] - mean;
                squares[i] += d * d;
            }
        }
        for value in rest {
            squares[0] += (value - mean) * (value - mean);
        }
        let m2 = squares.iter().sum::<f64>();
        if self.count == 0 {
            (self.min, self.max, self.mean, self.m2) = (min, max, mean, m2);
        } else {
            self.min = self.min.min(min);
            self.max = self.max.max(max);
            let before = self.count as f64;
            let total = before + n;
            let delta = mean - self.mean;
            self.mean += delta * n / total;
            self.m2 += m2 + delta * delta * before * n / total;
        }
        self.count += values.len() as u64;
    }
}

#[derive(Debug)]
struct Current {
    profile: SeriesProfile,
    last: i64,
    steps: Vec<i64>,
}

impl Current {
    fn start(name: &str, at: i64) -> Self {
        let profile = SeriesProfile {
            name: name.to_owned(),
            rows: 1,
            from: at,
            to: at,
            frequency: None,
            frequency_label: None,
            gaps: 0,
        };
        Self { profile, last: at, steps: Vec::new() }
    }

    fn add(&mut self, at: i64) {
        let step = at - self.last;
        self.last = at;
        self.profile.rows += 1;
        self.profile.to = at;
        if step <= 0 {
            return;
        }
        match self.profile.frequency {
            Some(frequency) => {
                self.profile.gaps += u64::from(is_gap(frequency, self.last - step, at))
            }
            None => {
                self.steps.push(step);
                if self.steps.len() == FREQUENCY_SAMPLE {
                    self.settle();
                }
            }
        }
    }

    /// Decides the frequency from the steps seen and counts the gaps among them.
    fn settle(&mut self) {
        if let Some(frequency) = infer_frequency(&self.steps) {
            self.profile.frequency = Some(frequency);
            self.profile.frequency_label = Some(frequency.to_string());
            let mut at = self.profile.from;
            for step in std::mem::take(&mut self.steps) {
                self.profile.gaps += u64::from(is_gap(frequency, at, at + step));
                at += step;
            }
        }
        self.steps = Vec::new();
    }

    fn finish(mut self) -> SeriesProfile {
        if self.profile.frequency.is_none() {
            self.settle();
        }
        self.profile
    }
}

/// Builds a profile from batches sorted by series and time.
#[derive(Debug, Default)]
pub struct Profiler {
    rows: u64,
    from: Option<i64>,
    to: Option<i64>,
    series: Vec<SeriesProfile>,
    current: Option<Current>,
    columns: Vec<(String, String, Moments)>,
    /// The values of the column being added, as floats without its nulls.
    scratch: Vec<f64>,
}

impl Profiler {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a batch, which continues the order of the ones before.
    pub fn add(&mut self, batch: &RecordBatch) {
        if self.columns.is_empty() {
            self.columns = batch
                .schema()
                .fields()
                .iter()
                .skip(2)
                .map(|field| {
                    let kind = match field.data_type() {
                        DataType::Float64 => "float",
                        DataType::Int64 => "integer",
                        DataType::Boolean => "boolean",
                        _ => "text",
                    };
                    (field.name().clone(), kind.to_owned(), Moments::default())
                })
                .collect();
        }
        let rows = batch.num_rows();
        if rows == 0 {
            return;
        }
        self.rows += rows as u64;
        let keys = Keys::of(batch);
        let times = keys.times();
        if let (Some(&first), Some(&last)) = (times.iter().min(), times.iter().max()) {
            self.from = Some(self.from.map_or(first, |from| from.min(first)));
            self.to = Some(self.to.map_or(last, |to| to.max(last)));
        }
        for (row, &at) in times.iter().enumerate() {
            // Within a batch, the same dictionary code is the same series.
            let same = row > 0 && keys.same_code(row - 1, row);
            match &mut self.current {
                Some(current) if same || current.profile.name == keys.series(row) => {
                    current.add(at)
                }
                current => {
                    if let Some(done) = current.take() {
                        self.series.push(done.finish());
                    }
                    *current = Some(Current::start(keys.series(row), at));
                }
            }
        }
        for ((_, _, moments), column) in self.columns.iter_mut().zip(batch.columns().iter().skip(2))
        {
            moments.nulls += column.null_count() as u64;
            match column.data_type() {
                DataType::Float64 if column.null_count() == 0 => {
                    moments.add_all(column.as_primitive::<Float64Type>().values());
                }
                DataType::Float64 => {
                    self.scratch.clear();
                    self.scratch.extend(column.as_primitive::<Float64Type>().iter().flatten());
                    moments.add_all(&self.scratch);
                }
                DataType::Int64 => {
                    self.scratch.clear();
                    let values = column.as_primitive::<Int64Type>();
                    if values.null_count() == 0 {
                        self.scratch.extend(values.values().iter().map(|v| *v as f64));
                    } else {
                        self.scratch.extend(values.iter().flatten().map(|v| v as f64));
                    }
                    moments.add_all(&self.scratch);
                }
                _ => moments.count += (column.len() - column.null_count()) as u64,
            }
        }
    }

    /// The profile of everything added.
    pub fn finish(mut self, duplicates: u64, rejects: u64) -> Profile {
        if let Some(current) = self.current.take() {
            self.series.push(current.finish());
        }
        let columns = self
            .columns
            .into_iter()
            .map(|(name, kind, m)| {
                let numeric = (kind == "float" || kind == "integer") && m.count > 0;
                ColumnProfile {
                    name,
                    count: m.count,
                    nulls: m.nulls,
                    min: numeric.then_some(m.min),
                    max: numeric.then_some(m.max),
                    mean: numeric.then_some(m.mean),
                    std: (numeric && m.count > 1).then(|| (m.m2 / (m.count - 1) as f64).sqrt()),
                    kind,
                }
            })
            .collect();
        Profile {
            rows: self.rows,
            from: self.from,
            to: self.to,
            duplicates,
            rejects,
            series: self.series,
            columns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn frequencies_are_inferred_from_the_steps() {
        assert_eq!(infer_frequency(&[HOUR; 10]), Some(Frequency::Micros(HOUR)));
        assert_eq!(Frequency::Micros(15 * 60_000_000).to_string(), "15min");
        // Monday to Friday, then a weekend.
        let week = [DAY, DAY, DAY, DAY, 3 * DAY];
        assert_eq!(infer_frequency(&week.repeat(10)), Some(Frequency::BusinessDays(1)));
        let months: Vec<i64> = [31, 29, 31, 30, 31, 30].iter().map(|d| d * DAY).collect();
        assert_eq!(infer_frequency(&months), Some(Frequency::Months(1)));
        let quarters: Vec<i64> = [90, 91, 92, 92].iter().map(|d| d * DAY).collect();
        assert_eq!(infer_frequency(&quarters), Some(Frequency::Months(3)));
        assert_eq!(infer_frequency(&[1, 7, 30, 2, 9]), None, "no step dominates");
    }

    #[test]
    fn a_profile_counts_series_gaps_and_column_statistics() {
        let points: Vec<(&str, i64, f64)> = vec![
            ("A", 0, 1.0),
            ("A", HOUR, 2.0),
            ("A", 2 * HOUR, 3.0),
            ("A", 5 * HOUR, 4.0),
            ("A", 6 * HOUR, 5.0),
            ("B", 0, 10.0),
        ];
        let batch = variosync_formats::table::from_points("close", &points).unwrap();
        let mut profiler = Profiler::new();
        profiler.add(&batch.slice(0, 3));
        profiler.add(&batch.slice(3, 3));
        let profile = profiler.finish(2, 1);
        assert_eq!((profile.rows, profile.from, profile.to), (6, Some(0), Some(6 * HOUR)));
        assert_eq!(profile.series.len(), 2);
        let a = &profile.series[0];
        assert_eq!((a.rows, a.frequency, a.gaps), (5, Some(Frequency::Micros(HOUR)), 1));
        assert_eq!(a.frequency_label.as_deref(), Some("1h"));
        assert_eq!(profile.series[1].frequency, None, "one row has no step");
        let close = &profile.columns[0];
        assert_eq!((close.count, close.nulls, close.min, close.max), (6, 0, Some(1.0), Some(10.0)));
        assert!((close.mean.unwrap() - 25.0 / 6.0).abs() < 1e-12);
        let variance = points.iter().map(|p| (p.2 - 25.0 / 6.0).powi(2)).sum::<f64>() / 5.0;
        assert!((close.std.unwrap() - variance.sqrt()).abs() < 1e-12);
        assert_eq!((profile.duplicates, profile.rejects), (2, 1));
    }

    #[test]
    fn business_day_gaps_ignore_weekends() {
        // 2024-01-05 is a Friday; 2024-01-08 the Monday after; 2024-01-10 skips a Tuesday.
        let friday = 19_727 * DAY;
        assert_eq!(weekday(friday), 4);
        assert!(!is_gap(Frequency::BusinessDays(1), friday, friday + 3 * DAY));
        assert!(is_gap(Frequency::BusinessDays(1), friday + 3 * DAY, friday + 5 * DAY));
    }
}

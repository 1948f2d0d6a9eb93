//! Rows with the same series and time: keep the last, keep the first, or refuse the file.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use arrow_select::filter::filter_record_batch;

/// What to do with rows that repeat a (series, time) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// Keep the row that comes last in the file (a later correction wins).
    #[default]
    KeepLast,
    /// Keep the row that comes first.
    KeepFirst,
    /// Refuse the file.
    Fail,
}

/// Why duplicates could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum DuplicateError {
    /// The policy is to refuse duplicates, and there are some.
    #[error(
        "{count} rows repeat a series and time already in the file, for example series {series:?} at {at}"
    )]
    Found {
        /// How many rows repeat an earlier key.
        count: usize,
        /// The series of the first repeat.
        series: String,
        /// Its time, RFC 3339.
        at: String,
    },
    /// Filtering the batch failed (a bug).
    #[error("filtering the table failed")]
    Arrow(#[from] ArrowError),
}

/// Applies `policy` to a batch of the canonical schema sorted by series and time (stably,
/// so rows with equal keys are in file order). Returns the batch and how many rows were
/// dropped.
pub fn apply(
    sorted: &RecordBatch,
    policy: DuplicatePolicy,
) -> Result<(RecordBatch, usize), DuplicateError> {
    let series = sorted.column(0).as_dictionary::<Int32Type>();
    let names = series.values().as_string::<i32>();
    let ts = sorted.column(1).as_primitive::<TimestampMicrosecondType>();
    let rows = sorted.num_rows();
    let name = |i: usize| names.value(series.keys().value(i) as usize);
    let same = |a: usize, b: usize| ts.value(a) == ts.value(b) && name(a) == name(b);
    let keep: Vec<bool> = (0..rows)
        .map(|i| match policy {
            DuplicatePolicy::KeepFirst | DuplicatePolicy::Fail => i == 0 || !same(i - 1, i),
            DuplicatePolicy::KeepLast => i + 1 == rows || !same(i, i + 1),
        })
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count();
    if dropped == 0 {
        return Ok((sorted.clone(), 0));
    }
    if policy == DuplicatePolicy::Fail {
        let first = keep.iter().position(|k| !k).expect("some row is dropped");
        let at = chrono::DateTime::from_timestamp_micros(ts.value(first))
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        return Err(DuplicateError::Found { count: dropped, series: name(first).to_owned(), at });
    }
    let filtered = filter_record_batch(sorted, &BooleanArray::from(keep))?;
    Ok((filtered, dropped))
}

#[cfg(test)]
mod tests {
    use arrow_array::types::Float64Type;

    use super::*;

    fn batch(rows: &[(&str, i64, f64)]) -> RecordBatch {
        variosync_formats::table::from_points("value", rows).unwrap()
    }

    fn values(batch: &RecordBatch) -> Vec<f64> {
        batch.column(2).as_primitive::<Float64Type>().values().to_vec()
    }

    const ROWS: &[(&str, i64, f64)] =
        &[("A", 1, 1.0), ("A", 1, 2.0), ("A", 2, 3.0), ("B", 1, 4.0), ("B", 1, 5.0), ("B", 1, 6.0)];

    #[test]
    fn keep_last_keeps_the_latest_row_of_each_key_and_counts_the_rest() {
        let (kept, dropped) = apply(&batch(ROWS), DuplicatePolicy::KeepLast).unwrap();
        assert_eq!(values(&kept), [2.0, 3.0, 6.0]);
        assert_eq!(dropped, 3);
    }

    #[test]
    fn keep_first_keeps_the_earliest_row_of_each_key() {
        let (kept, dropped) = apply(&batch(ROWS), DuplicatePolicy::KeepFirst).unwrap();
        assert_eq!(values(&kept), [1.0, 3.0, 4.0]);
        assert_eq!(dropped, 3);
    }

    #[test]
    fn fail_refuses_duplicates_naming_the_first_and_the_count() {
        let error = apply(&batch(ROWS), DuplicatePolicy::Fail).unwrap_err().to_string();
        assert_eq!(
            error,
            "3 rows repeat a series and time already in the file, for example series \"A\" at 1970-01-01T00:00:00.000001+00:00"
        );
        let (clean, dropped) =
            apply(&batch(&[("A", 1, 1.0), ("B", 1, 2.0)]), DuplicatePolicy::Fail).unwrap();
        assert_eq!(
            (clean.num_rows(), dropped),
            (2, 0),
            "the same time in two series is no duplicate"
        );
    }
}

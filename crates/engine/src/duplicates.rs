//! Rows with the same series and time: keep the last, keep the first, or refuse the file;
//! by default keep the last unless too many repeat with other values, which means the file
//! was misread (a series or time-of-day column not recognised) and keeping one row of each
//! would lose data without a word.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use arrow_select::filter::filter_record_batch;

/// What to do with rows that repeat a (series, time) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicatePolicy {
    /// Keep the row that comes last, as `KeepLast`, unless more than one row in
    /// [`GUARD_RATIO`] repeats a series and time with other values: then refuse the file,
    /// since it was most likely misread. Rows that repeat with the same values (an export
    /// that overlaps itself) never count.
    #[default]
    Guarded,
    /// Keep the row that comes last in the file (a later correction wins).
    KeepLast,
    /// Keep the row that comes first.
    KeepFirst,
    /// Refuse the file.
    Fail,
}

/// Under [`DuplicatePolicy::Guarded`], the file is refused when more than one row in this
/// many repeats a series and time with other values.
pub const GUARD_RATIO: u64 = 100;

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
    /// Too many rows repeat a series and time with other values (the guarded policy).
    #[error(
        "{conflicting} of {rows} rows repeat a series and time with other values, for example \
         series {series:?} at {at}: keeping one row of each would lose them"
    )]
    Conflicting {
        /// Rows that repeat a key with other values.
        conflicting: u64,
        /// Rows read.
        rows: u64,
        /// The series of the first such repeat.
        series: String,
        /// Its time, RFC 3339.
        at: String,
    },
    /// Filtering the batch failed (a bug).
    #[error("filtering the table failed")]
    Arrow(#[from] ArrowError),
}

/// A (series, time) key.
pub type Key = (String, i64);

/// The series and time columns of a canonical batch, for reading keys row by row.
#[derive(Debug, Clone, Copy)]
pub struct Keys<'a> {
    codes: &'a [i32],
    names: &'a arrow_array::StringArray,
    ts: &'a [i64],
}

impl<'a> Keys<'a> {
    /// The key columns of `batch`.
    pub fn of(batch: &'a RecordBatch) -> Self {
        let series = batch.column(0).as_dictionary::<Int32Type>();
        let names = series.values().as_string::<i32>();
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        Self { codes: series.keys().values(), names, ts: ts.values() }
    }

    /// The key of row `row`.
    pub fn at(&self, row: usize) -> (&'a str, i64) {
        (self.names.value(self.codes[row] as usize), self.ts[row])
    }

    /// The series of row `row`.
    pub fn series(&self, row: usize) -> &'a str {
        self.names.value(self.codes[row] as usize)
    }

    /// Whether rows `a` and `b` have the same dictionary code (so the same series).
    pub fn same_code(&self, a: usize, b: usize) -> bool {
        self.codes[a] == self.codes[b]
    }

    /// Whether rows `a` and `b` are in the same series.
    pub fn same_series(&self, a: usize, b: usize) -> bool {
        self.codes[a] == self.codes[b] || self.series(a) == self.series(b)
    }

    /// The times.
    pub fn times(&self) -> &'a [i64] {
        self.ts
    }
}

/// The key of row `row` of a canonical batch.
pub fn key_at(batch: &RecordBatch, row: usize) -> (&str, i64) {
    Keys::of(batch).at(row)
}

/// Applies a duplicate policy to a stream of canonical batches sorted by series and time
/// (stably, so rows with equal keys are in file order), across batch boundaries: a batch
/// is held back until the first key of the next one is known.
#[derive(Debug)]
pub struct Dedup {
    policy: DuplicatePolicy,
    held: Option<RecordBatch>,
    before: Option<Key>,
    dropped: u64,
    example: Option<Key>,
    rows: u64,
    conflicting: u64,
    conflict: Option<Key>,
}

/// Whether rows `a` and `b` of `batch` hold the same values (every column after the key).
fn same_values(batch: &RecordBatch, a: usize, b: usize) -> bool {
    batch.columns()[2..]
        .iter()
        .all(|column| column.slice(a, 1).to_data() == column.slice(b, 1).to_data())
}

impl Dedup {
    /// A stage applying `policy`.
    pub fn new(policy: DuplicatePolicy) -> Self {
        Self {
            policy,
            held: None,
            before: None,
            dropped: 0,
            example: None,
            rows: 0,
            conflicting: 0,
            conflict: None,
        }
    }

    /// Rows dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes the next sorted batch (whose first key is not below the last key of the one
    /// before); returns the held batch, resolved, if there was one.
    pub fn push(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>, DuplicateError> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let after = key_at(&batch, 0);
        let after = (after.0.to_owned(), after.1);
        let out = match self.held.take() {
            Some(held) => Some(self.resolve(held, Some(&after))?),
            None => None,
        };
        self.held = Some(batch);
        Ok(out)
    }

    /// Resolves the held batch as the last of its stream, without failing for the `Fail`
    /// policy (that happens in `finish`).
    pub fn flush(&mut self) -> Result<Option<RecordBatch>, DuplicateError> {
        match self.held.take() {
            Some(held) => Ok(Some(self.resolve(held, None)?)),
            None => Ok(None),
        }
    }

    /// Starts a new stream that continues the count (and the first example) of this one,
    /// and that will be fed again the rows this one kept: they are not counted twice.
    pub fn restart(&mut self) {
        self.held = None;
        self.before = None;
        self.rows = self.dropped;
    }

    /// Resolves the last batch; with the `Fail` policy, fails here if any row repeated, and
    /// with the `Guarded` policy if too many repeated with other values.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>, DuplicateError> {
        let out = self.flush()?;
        if self.policy == DuplicatePolicy::Guarded
            && self.conflicting * GUARD_RATIO > self.rows
            && let Some((series, at)) = self.conflict.take()
        {
            return Err(DuplicateError::Conflicting {
                conflicting: self.conflicting,
                rows: self.rows,
                series,
                at: rfc3339(at),
            });
        }
        if let (DuplicatePolicy::Fail, Some((series, at))) = (self.policy, self.example.take()) {
            let at = rfc3339(at);
            return Err(DuplicateError::Found { count: self.dropped as usize, series, at });
        }
        Ok(out)
    }

    fn resolve(
        &mut self,
        sorted: RecordBatch,
        after: Option<&Key>,
    ) -> Result<RecordBatch, DuplicateError> {
        let rows = sorted.num_rows();
        let keys = Keys::of(&sorted);
        let same_as = |key: &Key, row: usize| keys.ts[row] == key.1 && keys.series(row) == key.0;
        let same = |a: usize, b: usize| keys.ts[a] == keys.ts[b] && keys.same_series(a, b);
        let keep: Vec<bool> = (0..rows)
            .map(|i| match self.policy {
                DuplicatePolicy::KeepFirst | DuplicatePolicy::Fail => match i {
                    0 => !self.before.as_ref().is_some_and(|b| same_as(b, 0)),
                    _ => !same(i - 1, i),
                },
                DuplicatePolicy::KeepLast | DuplicatePolicy::Guarded if i + 1 == rows => {
                    !after.is_some_and(|a| same_as(a, i))
                }
                DuplicatePolicy::KeepLast | DuplicatePolicy::Guarded => !same(i, i + 1),
            })
            .collect();
        self.rows += rows as u64;
        if self.policy == DuplicatePolicy::Guarded {
            // A dropped row is compared with the row kept after it; one dropped for the next
            // batch's first row is counted as differing (at most one per batch).
            for i in (0..rows).filter(|i| !keep[*i]) {
                if i + 1 == rows || !same_values(&sorted, i, i + 1) {
                    self.conflicting += 1;
                    if self.conflict.is_none() {
                        let (series, at) = key_at(&sorted, i);
                        self.conflict = Some((series.to_owned(), at));
                    }
                }
            }
        }
        let last = key_at(&sorted, rows - 1);
        self.before = Some((last.0.to_owned(), last.1));
        let dropped = keep.iter().filter(|k| !**k).count();
        if dropped == 0 {
            return Ok(sorted);
        }
        if self.example.is_none() {
            let first = keep.iter().position(|k| !k).expect("some row is dropped");
            let (series, at) = key_at(&sorted, first);
            self.example = Some((series.to_owned(), at));
        }
        self.dropped += dropped as u64;
        Ok(filter_record_batch(&sorted, &BooleanArray::from(keep))?)
    }
}

fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp_micros(at).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// Applies `policy` to one batch of the canonical schema sorted by series and time.
/// Returns the batch and how many rows were dropped.
pub fn apply(
    sorted: &RecordBatch,
    policy: DuplicatePolicy,
) -> Result<(RecordBatch, usize), DuplicateError> {
    let mut dedup = Dedup::new(policy);
    let mut out = dedup.push(sorted.clone())?.into_iter().collect::<Vec<_>>();
    out.extend(dedup.finish()?);
    let batch = out.pop().unwrap_or_else(|| RecordBatch::new_empty(sorted.schema()));
    Ok((batch, dedup.dropped() as usize))
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

    #[test]
    fn the_guarded_policy_keeps_the_last_unless_many_rows_repeat_with_other_values() {
        // Few repeats: kept as keep_last keeps them.
        let mut rows: Vec<(&str, i64, f64)> = (0..200).map(|t| ("A", t, t as f64)).collect();
        rows.push(("A", 199, -1.0));
        rows.sort_by_key(|r| (r.0, r.1));
        let (kept, dropped) = apply(&batch(&rows), DuplicatePolicy::Guarded).unwrap();
        assert_eq!((kept.num_rows(), dropped), (200, 1));
        // Rows that repeat with the same values do not count, however many.
        let twice: Vec<(&str, i64, f64)> =
            (0..100).flat_map(|t| [("A", t, 1.0), ("A", t, 1.0)]).collect();
        let (kept, dropped) = apply(&batch(&twice), DuplicatePolicy::Guarded).unwrap();
        assert_eq!((kept.num_rows(), dropped), (100, 100));
        // Ten series read as one: nine rows in ten repeat with other values.
        let merged: Vec<(&str, i64, f64)> =
            (0..50).flat_map(|t| (0..10).map(move |s| ("file", t, f64::from(s)))).collect();
        let error = apply(&batch(&merged), DuplicatePolicy::Guarded).unwrap_err().to_string();
        assert!(
            error.starts_with("450 of 500 rows repeat a series and time with other values"),
            "{error}"
        );
        // Chosen explicitly, keep_last keeps one row of each.
        assert_eq!(apply(&batch(&merged), DuplicatePolicy::KeepLast).unwrap().1, 450);
    }

    #[test]
    fn duplicates_are_found_across_batch_boundaries() {
        for (policy, expected) in [
            (DuplicatePolicy::KeepLast, vec![2.0, 3.0, 6.0]),
            (DuplicatePolicy::KeepFirst, vec![1.0, 3.0, 4.0]),
        ] {
            let mut dedup = Dedup::new(policy);
            let mut kept = Vec::new();
            for chunk in ROWS.chunks(2) {
                kept.extend(dedup.push(batch(chunk)).unwrap().map(|b| values(&b)));
            }
            kept.extend(dedup.finish().unwrap().map(|b| values(&b)));
            assert_eq!(kept.concat(), expected, "{policy:?}");
            assert_eq!(dedup.dropped(), 3);
        }
        let mut refuse = Dedup::new(DuplicatePolicy::Fail);
        for chunk in ROWS.chunks(1) {
            refuse.push(batch(chunk)).unwrap();
        }
        assert!(refuse.finish().unwrap_err().to_string().starts_with("3 rows repeat"));
    }
}

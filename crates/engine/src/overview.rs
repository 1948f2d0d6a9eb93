//! Overviews of a dataset file, written beside it: per series, buckets of a fixed number of
//! rows (64, 1,024 and 16,384) holding, for every numeric column, the minimum and maximum
//! with their times, the first and last values, the sum and the count. A chart window over
//! millions of rows reads the coarsest overview that still gives enough candidates instead
//! of the rows themselves, so it costs the same whatever the size of the series.
//!
//! An overview file has the canonical key columns (`series_id`, `ts`: the bucket's first
//! time), then `ts_end`, `rows`, then eight columns per numeric column `c`: `c.min`,
//! `c.min_ts`, `c.max`, `c.max_ts`, `c.first`, `c.last`, `c.sum`, `c.count`.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::errors::ParquetError;
use variosync_domain::schema::TS_ZONE;

use crate::duplicates::Keys;

/// Rows per bucket of each overview, finest first; each is 16 of the one before.
pub const LEVELS: [usize; 3] = [64, 1024, 16_384];
/// Rows written per overview batch.
const FLUSH_ROWS: usize = 16 * 1024;
/// The statistics kept per column and bucket, in file order.
pub const STATS: [&str; 8] = ["min", "min_ts", "max", "max_ts", "first", "last", "sum", "count"];

/// The path of the overview of `part` with buckets of `rows` rows.
pub fn path_for(part: &Path, rows: usize) -> PathBuf {
    let stem = part.file_stem().and_then(|s| s.to_str()).unwrap_or("part");
    part.with_file_name(format!("{stem}.overview-{rows}.parquet"))
}

/// One column's statistics over one bucket.
#[derive(Debug, Clone, Copy)]
struct Acc {
    count: u64,
    min: f64,
    min_ts: i64,
    max: f64,
    max_ts: i64,
    first: f64,
    last: f64,
    sum: f64,
}

impl Acc {
    const EMPTY: Self = Self {
        count: 0,
        min: f64::INFINITY,
        min_ts: 0,
        max: f64::NEG_INFINITY,
        max_ts: 0,
        first: f64::NAN,
        last: f64::NAN,
        sum: 0.0,
    };

    fn add(&mut self, at: i64, value: f64) {
        if self.count == 0 {
            self.first = value;
        }
        if value < self.min {
            self.min = value;
            self.min_ts = at;
        }
        if value > self.max {
            self.max = value;
            self.max_ts = at;
        }
        self.last = value;
        self.sum += value;
        self.count += 1;
    }

    /// Adds consecutive values without gaps: the same as [`Acc::add`] for each, in one loop.
    fn add_all(&mut self, times: &[i64], values: &[f64]) {
        let (Some(&first), Some(&last)) = (values.first(), values.last()) else { return };
        if self.count == 0 {
            self.first = first;
        }
        let (mut min, mut max, mut sum) = (self.min, self.max, self.sum);
        let (mut min_at, mut max_at) = (None, None);
        for (i, &value) in values.iter().enumerate() {
            if value < min {
                (min, min_at) = (value, Some(i));
            }
            if value > max {
                (max, max_at) = (value, Some(i));
            }
            sum += value;
        }
        if let Some(i) = min_at {
            (self.min, self.min_ts) = (min, times[i]);
        }
        if let Some(i) = max_at {
            (self.max, self.max_ts) = (max, times[i]);
        }
        self.last = last;
        self.sum = sum;
        self.count += values.len() as u64;
    }

    /// Adds a later bucket.
    fn merge(&mut self, later: &Acc) {
        if later.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *later;
            return;
        }
        if later.min < self.min {
            (self.min, self.min_ts) = (later.min, later.min_ts);
        }
        if later.max > self.max {
            (self.max, self.max_ts) = (later.max, later.max_ts);
        }
        self.last = later.last;
        self.sum += later.sum;
        self.count += later.count;
    }
}

/// The values of one numeric column of a batch, as floats.
enum Column<'a> {
    /// Without nulls.
    Dense(std::borrow::Cow<'a, [f64]>),
    /// With nulls.
    Sparse(Vec<Option<f64>>),
}

/// A bucket being filled.
#[derive(Debug, Clone)]
struct Bucket {
    series: String,
    start: i64,
    end: i64,
    rows: u64,
    columns: Vec<Acc>,
}

/// The finished buckets of one level, on their way to its file.
struct Level {
    size: usize,
    path: PathBuf,
    writer: ArrowWriter<BufWriter<File>>,
    open: Option<Bucket>,
    /// How many buckets of the level below are in `open`.
    merged: usize,
    done: Vec<Bucket>,
}

/// Writes the overviews of a file while its sorted rows are written.
pub struct OverviewWriter {
    schema: SchemaRef,
    /// Indices of the numeric columns in the dataset's batches.
    numeric: Vec<usize>,
    levels: Vec<Level>,
}

impl std::fmt::Debug for OverviewWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OverviewWriter").field("numeric", &self.numeric).finish_non_exhaustive()
    }
}

/// The schema of the overviews of a dataset of `schema`, and its numeric columns.
fn overview_schema(schema: &Schema) -> (SchemaRef, Vec<usize>) {
    let mut fields = vec![
        schema.field(0).clone(),
        schema.field(1).clone(),
        Field::new("ts_end", DataType::Int64, false),
        Field::new("rows", DataType::Int64, false),
    ];
    let mut numeric = Vec::new();
    for (index, field) in schema.fields().iter().enumerate().skip(2) {
        if matches!(field.data_type(), DataType::Float64 | DataType::Int64) {
            numeric.push(index);
            for stat in STATS {
                let data_type = if stat.ends_with("_ts") || stat == "count" {
                    DataType::Int64
                } else {
                    DataType::Float64
                };
                fields.push(Field::new(format!("{}.{stat}", field.name()), data_type, true));
            }
        }
    }
    (Arc::new(Schema::new(fields)), numeric)
}

impl OverviewWriter {
    /// Overviews of the file at `part`, whose batches have `schema`.
    pub fn create(part: &Path, schema: &Schema) -> Result<Self, ParquetError> {
        let (overview, numeric) = overview_schema(schema);
        let levels = LEVELS
            .iter()
            .map(|&size| {
                let path = path_for(part, size);
                let file = BufWriter::new(File::create(&path)?);
                // Small row groups: a window reads a few of them, and writing holds one.
                let properties = variosync_formats::parquet_out::writer_properties(&overview)
                    .into_builder()
                    .set_max_row_group_row_count(Some(FLUSH_ROWS))
                    .build();
                let writer = ArrowWriter::try_new(file, overview.clone(), Some(properties))?;
                Ok(Level { size, path, writer, open: None, merged: 0, done: Vec::new() })
            })
            .collect::<Result<Vec<_>, ParquetError>>()?;
        Ok(Self { schema: overview, numeric, levels })
    }

    /// The files written.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.levels.iter().map(|l| l.path.clone()).collect()
    }

    /// Adds rows that continue the series and time order of the ones before.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        let keys = Keys::of(batch);
        let times = keys.times();
        let values: Vec<Column<'_>> = self
            .numeric
            .iter()
            .map(|&i| {
                let column = batch.column(i);
                match column.data_type() {
                    DataType::Float64 if column.null_count() == 0 => Column::Dense(
                        std::borrow::Cow::Borrowed(column.as_primitive::<Float64Type>().values()),
                    ),
                    DataType::Float64 => {
                        Column::Sparse(column.as_primitive::<Float64Type>().iter().collect())
                    }
                    _ if column.null_count() == 0 => Column::Dense(std::borrow::Cow::Owned(
                        column
                            .as_primitive::<Int64Type>()
                            .values()
                            .iter()
                            .map(|v| *v as f64)
                            .collect(),
                    )),
                    _ => Column::Sparse(
                        column
                            .as_primitive::<Int64Type>()
                            .iter()
                            .map(|v| v.map(|v| v as f64))
                            .collect(),
                    ),
                }
            })
            .collect();
        let mut row = 0;
        while row < times.len() {
            let series = keys.series(row);
            let size = self.levels[0].size;
            // The open bucket continues if it is of the same series and not full.
            let continues = self.levels[0]
                .open
                .as_ref()
                .is_some_and(|b| b.rows < size as u64 && b.series == series);
            if !continues {
                self.close_finest()?;
                let columns = vec![Acc::EMPTY; self.numeric.len()];
                let start = times[row];
                self.levels[0].open =
                    Some(Bucket { series: series.to_owned(), start, end: start, rows: 0, columns });
            }
            let bucket = self.levels[0].open.as_mut().expect("a bucket is open");
            // Rows of this bucket in this batch: same series, up to the bucket size.
            let room = size - bucket.rows as usize;
            let mut end = row;
            while end < times.len()
                && end - row < room
                && (end == row || keys.same_code(end - 1, end) || keys.series(end) == series)
            {
                end += 1;
            }
            for (acc, column) in bucket.columns.iter_mut().zip(&values) {
                match column {
                    Column::Dense(values) => acc.add_all(&times[row..end], &values[row..end]),
                    Column::Sparse(values) => {
                        for (at, value) in times[row..end].iter().zip(&values[row..end]) {
                            if let Some(value) = value {
                                acc.add(*at, *value);
                            }
                        }
                    }
                }
            }
            bucket.rows += (end - row) as u64;
            bucket.end = times[end - 1];
            row = end;
        }
        Ok(())
    }

    /// Closes the finest open bucket and passes it up the levels.
    fn close_finest(&mut self) -> Result<(), ParquetError> {
        let Some(bucket) = self.levels[0].open.take() else { return Ok(()) };
        self.finish_bucket(0, bucket)
    }

    fn finish_bucket(&mut self, level: usize, bucket: Bucket) -> Result<(), ParquetError> {
        if let Some(up) = self.levels.get(level + 1).map(|_| level + 1) {
            let ratio = self.levels[up].size / self.levels[level].size;
            let same_series =
                self.levels[up].open.as_ref().is_some_and(|open| open.series == bucket.series);
            if !same_series || self.levels[up].merged == ratio {
                if let Some(full) = self.levels[up].open.take() {
                    self.finish_bucket(up, full)?;
                }
                self.levels[up].merged = 0;
            }
            let upper = &mut self.levels[up];
            match &mut upper.open {
                Some(open) => {
                    open.end = bucket.end;
                    open.rows += bucket.rows;
                    for (acc, later) in open.columns.iter_mut().zip(&bucket.columns) {
                        acc.merge(later);
                    }
                }
                None => upper.open = Some(bucket.clone()),
            }
            upper.merged += 1;
        }
        self.levels[level].done.push(bucket);
        if self.levels[level].done.len() >= FLUSH_ROWS {
            self.flush(level)?;
        }
        Ok(())
    }

    fn flush(&mut self, level: usize) -> Result<(), ParquetError> {
        let buckets = std::mem::take(&mut self.levels[level].done);
        if buckets.is_empty() {
            return Ok(());
        }
        let mut series = StringDictionaryBuilder::<Int32Type>::new();
        for bucket in &buckets {
            series.append_value(&bucket.series);
        }
        let ts: TimestampMicrosecondArray =
            buckets.iter().map(|b| b.start).collect::<Vec<_>>().into();
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(series.finish()),
            Arc::new(ts.with_timezone(TS_ZONE)),
            Arc::new(Int64Array::from_iter_values(buckets.iter().map(|b| b.end))),
            Arc::new(Int64Array::from_iter_values(buckets.iter().map(|b| b.rows as i64))),
        ];
        for column in 0..self.numeric.len() {
            let acc = |b: &Bucket| b.columns[column];
            let some = |b: &Bucket| acc(b).count > 0;
            let float = |f: &dyn Fn(&Acc) -> f64| -> ArrayRef {
                Arc::new(
                    buckets.iter().map(|b| some(b).then(|| f(&acc(b)))).collect::<Float64Array>(),
                )
            };
            let int = |f: &dyn Fn(&Acc) -> i64| -> ArrayRef {
                Arc::new(
                    buckets.iter().map(|b| some(b).then(|| f(&acc(b)))).collect::<Int64Array>(),
                )
            };
            columns.push(float(&|a| a.min));
            columns.push(int(&|a| a.min_ts));
            columns.push(float(&|a| a.max));
            columns.push(int(&|a| a.max_ts));
            columns.push(float(&|a| a.first));
            columns.push(float(&|a| a.last));
            columns.push(float(&|a| a.sum));
            columns.push(Arc::new(Int64Array::from_iter_values(
                buckets.iter().map(|b| acc(b).count as i64),
            )));
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)
            .map_err(|e| ParquetError::General(e.to_string()))?;
        self.levels[level].writer.write(&batch)
    }

    /// Closes every open bucket and finishes the files.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, ParquetError> {
        self.close_finest()?;
        for level in 1..self.levels.len() {
            if let Some(open) = self.levels[level].open.take() {
                self.finish_bucket(level, open)?;
            }
        }
        for level in 0..self.levels.len() {
            self.flush(level)?;
        }
        let paths = self.paths();
        for level in self.levels {
            level.writer.close()?;
        }
        Ok(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_added_together_summarise_as_when_added_one_by_one() {
        let values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 9.0, -0.5, 7.25];
        let times: Vec<i64> = (0..values.len() as i64).map(|i| 1_000 + i * 60).collect();
        for split in [0, 1, 5, values.len()] {
            let mut one_by_one = Acc::EMPTY;
            for (at, value) in times.iter().zip(&values) {
                one_by_one.add(*at, *value);
            }
            let mut together = Acc::EMPTY;
            together.add_all(&times[..split], &values[..split]);
            together.add_all(&times[split..], &values[split..]);
            assert_eq!(format!("{together:?}"), format!("{one_by_one:?}"), "split at {split}");
        }
        // The first of equal extremes keeps its time.
        assert_eq!(
            (together_of(&times, &values).min_ts, together_of(&times, &values).max_ts),
            (1_600, 1_300)
        );
    }

    fn together_of(times: &[i64], values: &[f64]) -> Acc {
        let mut acc = Acc::EMPTY;
        acc.add_all(times, values);
        acc
    }
}

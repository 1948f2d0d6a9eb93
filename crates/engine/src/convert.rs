//! Conversion of a stream of canonical batches into one dataset file: sorted by series and
//! time, duplicates resolved, profiled, written as zstd Parquet, in bounded memory.
//!
//! Files are nearly always sorted already (by series, or by time within one series), so
//! batches go straight to the Parquet writer as long as each continues the order of the one
//! before. At the first batch that does not, what was written becomes the first sorted run;
//! the rest is gathered into runs of at most [`RUN_ROWS`] rows, each sorted in memory and
//! spilled to a temporary Arrow IPC file; a k-way merge of the runs then writes the file.
//! Memory is bounded by one run being sorted plus one batch per run while merging.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringDictionaryBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use variosync_formats::parquet_out::{WriteError, sort_by_series_and_time, writer_properties};

use crate::duplicates::{Dedup, DuplicateError, DuplicatePolicy, Keys};
use crate::overview::OverviewWriter;
use crate::profile::{Profile, Profiler};

/// Rows sorted in memory at a time once the input turns out unsorted.
pub const RUN_ROWS: usize = 1 << 20;
/// Rows per batch written while merging.
const MERGE_BATCH_ROWS: usize = 64 * 1024;

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError<E: std::error::Error + 'static> {
    /// The input could not be read.
    #[error(transparent)]
    Read(E),
    /// The input repeats a series and time, and the policy refuses that.
    #[error(transparent)]
    Duplicates(#[from] DuplicateError),
    /// No row could be read.
    #[error("no row of the file could be read")]
    Empty,
    /// Writing the output or a temporary file failed.
    #[error("writing the dataset failed: {0}")]
    Write(String),
}

impl<E: std::error::Error> ConvertError<E> {
    /// What kind of failure this is: the file's (unreadable, or rows that repeat under the
    /// `fail` policy, or nothing to read) or ours (writing failed).
    pub fn kind(&self) -> variosync_domain::ErrorKind {
        use variosync_domain::ErrorKind;
        match self {
            Self::Read(_) | Self::Empty => ErrorKind::InvalidInput,
            Self::Duplicates(_) => ErrorKind::Conflict,
            Self::Write(_) => ErrorKind::Internal,
        }
    }
}

impl<E: std::error::Error> From<WriteError> for ConvertError<E> {
    fn from(error: WriteError) -> Self {
        Self::Write(variosync_domain::error_chain(&error))
    }
}

impl<E: std::error::Error> From<ArrowError> for ConvertError<E> {
    fn from(error: ArrowError) -> Self {
        Self::Write(error.to_string())
    }
}

impl<E: std::error::Error> From<parquet::errors::ParquetError> for ConvertError<E> {
    fn from(error: parquet::errors::ParquetError) -> Self {
        Self::Write(error.to_string())
    }
}

impl<E: std::error::Error> From<std::io::Error> for ConvertError<E> {
    fn from(error: std::io::Error) -> Self {
        Self::Write(error.to_string())
    }
}

/// What a conversion wrote.
#[derive(Debug, Clone)]
pub struct Converted {
    /// The profile of the written rows (duplicates counted; rejects are the reader's).
    pub profile: Profile,
    /// The overview files written beside the output (see [`crate::overview`]).
    pub overviews: Vec<PathBuf>,
    /// Whether the input had to be sorted (it was not in series and time order).
    pub sorted_by_merge: bool,
}

/// Writes deduplicated, profiled, sorted batches as Parquet.
struct Sink {
    writer: ArrowWriter<BufWriter<File>>,
    dedup: Dedup,
    profiler: Profiler,
    overview: OverviewWriter,
}

impl Sink {
    fn create(path: &Path, schema: SchemaRef, dedup: Dedup) -> Result<Self, WriteError> {
        let file = BufWriter::with_capacity(
            1 << 20,
            File::create(path).map_err(parquet::errors::ParquetError::from)?,
        );
        Ok(Self {
            writer: ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(&schema)))?,
            dedup,
            profiler: Profiler::new(),
            overview: OverviewWriter::create(path, &schema)?,
        })
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), SinkError> {
        if let Some(ready) = self.dedup.push(batch)? {
            self.write(&ready)?;
        }
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.profiler.add(batch);
        self.overview.add(batch).map_err(WriteError::from)?;
        self.writer.write(batch).map_err(WriteError::from)?;
        Ok(())
    }

    fn finish(mut self) -> Result<(Profile, Vec<PathBuf>), SinkError> {
        if let Some(last) = self.dedup.finish()? {
            self.write(&last)?;
        }
        self.writer.close().map_err(WriteError::from)?;
        let overviews = self.overview.finish().map_err(WriteError::from)?;
        Ok((self.profiler.finish(self.dedup.dropped(), 0), overviews))
    }

    /// Closes the file as it is, as a sorted run; returns the duplicate stage, whose count
    /// (and, for the `Fail` policy, first example) carries over to the merge.
    fn close_as_run(self) -> Result<Dedup, SinkError> {
        let Self { mut writer, mut dedup, .. } = self;
        if let Some(last) = dedup.flush()? {
            writer.write(&last).map_err(WriteError::from)?;
        }
        writer.close().map_err(WriteError::from)?;
        dedup.restart();
        Ok(dedup)
    }
}

#[derive(Debug, thiserror::Error)]
enum SinkError {
    #[error(transparent)]
    Duplicates(#[from] DuplicateError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl<E: std::error::Error> From<SinkError> for ConvertError<E> {
    fn from(error: SinkError) -> Self {
        match error {
            SinkError::Duplicates(error) => Self::Duplicates(error),
            SinkError::Write(error) => error.into(),
        }
    }
}

/// Whether a batch is in series and time order.
fn is_sorted(keys: &Keys<'_>, rows: usize) -> bool {
    (1..rows).all(|i| {
        let (a, b) = (keys.times()[i - 1], keys.times()[i]);
        if keys.same_series(i - 1, i) { a <= b } else { keys.series(i - 1) < keys.series(i) }
    })
}

/// Whether `next` may follow `last` in series and time order.
fn follows(last: &(String, i64), next: (&str, i64)) -> bool {
    (last.0.as_str(), last.1) <= next
}

/// The key of the last row of a non-empty batch.
fn last_key(batch: &RecordBatch) -> (String, i64) {
    let (series, at) = Keys::of(batch).at(batch.num_rows() - 1);
    (series.to_owned(), at)
}

/// A directory of temporary files, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Converts `batches` (of one canonical `schema`) into a Parquet file at `out`, using
/// `scratch` for temporary files if the input is not sorted.
pub fn convert<E: std::error::Error + 'static>(
    batches: impl Iterator<Item = Result<RecordBatch, E>>,
    schema: SchemaRef,
    out: &Path,
    scratch: &Path,
    policy: DuplicatePolicy,
) -> Result<Converted, ConvertError<E>> {
    convert_in_runs(batches, schema, out, scratch, policy, RUN_ROWS)
}

/// [`convert`], gathering at most `run_rows` rows per sorted run; on failure no output is
/// left behind.
fn convert_in_runs<E: std::error::Error + 'static>(
    batches: impl Iterator<Item = Result<RecordBatch, E>>,
    schema: SchemaRef,
    out: &Path,
    scratch: &Path,
    policy: DuplicatePolicy,
    run_rows: usize,
) -> Result<Converted, ConvertError<E>> {
    let result = write_runs(batches, schema, out, scratch, policy, run_rows);
    if result.is_err() {
        let _ = std::fs::remove_file(out);
        for size in crate::overview::LEVELS {
            let _ = std::fs::remove_file(crate::overview::path_for(out, size));
        }
    }
    result
}

fn write_runs<E: std::error::Error + 'static>(
    batches: impl Iterator<Item = Result<RecordBatch, E>>,
    schema: SchemaRef,
    out: &Path,
    scratch: &Path,
    policy: DuplicatePolicy,
    run_rows: usize,
) -> Result<Converted, ConvertError<E>> {
    let mut sink = Some(Sink::create(out, schema.clone(), Dedup::new(policy))?);
    let mut last: Option<(String, i64)> = None;
    let mut spill: Option<Spill> = None;
    let mut rows = 0u64;
    for batch in batches {
        let batch = batch.map_err(ConvertError::Read)?;
        if batch.num_rows() == 0 {
            continue;
        }
        rows += batch.num_rows() as u64;
        if let Some(spill) = &mut spill {
            spill.push(batch)?;
            continue;
        }
        let keys = Keys::of(&batch);
        let batch = if is_sorted(&keys, batch.num_rows()) {
            batch
        } else {
            sort_by_series_and_time(&batch)?
        };
        let first = Keys::of(&batch).at(0);
        if last.as_ref().is_none_or(|last| follows(last, first)) {
            last = Some(last_key(&batch));
            sink.as_mut().expect("the sink is open until spilling").push(batch)?;
        } else {
            // Out of order: what was written is the first run; the rest gets sorted.
            let directory = scratch.join(format!("convert-{}", uuid::Uuid::now_v7()));
            std::fs::create_dir_all(&directory)?;
            let first_run = directory.join("run-0.parquet");
            let dedup = sink.take().expect("the sink is open until spilling").close_as_run()?;
            std::fs::rename(out, &first_run)?;
            let mut started =
                Spill::new(Scratch(directory), first_run, schema.clone(), dedup, run_rows);
            started.push(batch)?;
            spill = Some(started);
        }
    }
    if rows == 0 {
        return Err(ConvertError::Empty);
    }
    let sorted_by_merge = spill.is_some();
    let (profile, overviews) = match spill {
        None => sink.expect("no spill leaves the sink open").finish()?,
        Some(mut spill) => {
            let dedup = spill.dedup.take().expect("a spill carries the first run's duplicates");
            let mut sink = Sink::create(out, schema.clone(), dedup)?;
            spill.merge_into(&mut sink)?;
            sink.finish()?
        }
    };
    Ok(Converted { profile, overviews, sorted_by_merge })
}

/// Runs of sorted rows in temporary files.
struct Spill {
    scratch: Scratch,
    parquet_run: PathBuf,
    runs: Vec<PathBuf>,
    buffer: Vec<RecordBatch>,
    buffered: usize,
    schema: SchemaRef,
    dedup: Option<Dedup>,
    run_rows: usize,
}

/// The schema with the series as plain text (runs are merged on it).
fn plain_schema(schema: &Schema) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    fields[0] = Arc::new(Field::new(fields[0].name(), DataType::Utf8, false));
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The batch with its series as plain text.
fn plain(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    if let Some(series) = batch.column(0).as_dictionary_opt::<Int32Type>() {
        let names = series.values().as_string::<i32>();
        let text: StringArray =
            series.keys().values().iter().map(|k| Some(names.value(*k as usize))).collect();
        columns[0] = Arc::new(text);
    }
    RecordBatch::try_new(schema.clone(), columns)
}

/// The batch with its series dictionary-encoded again.
fn encoded(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    let text = batch.column(0).as_string::<i32>();
    let mut series = StringDictionaryBuilder::<Int32Type>::new();
    for name in text.iter() {
        series.append_value(name.unwrap_or_default());
    }
    columns[0] = Arc::new(series.finish());
    RecordBatch::try_new(schema.clone(), columns)
}

impl Spill {
    fn new(
        scratch: Scratch,
        parquet_run: PathBuf,
        schema: SchemaRef,
        dedup: Dedup,
        run_rows: usize,
    ) -> Self {
        Self {
            scratch,
            parquet_run,
            runs: Vec::new(),
            buffer: Vec::new(),
            buffered: 0,
            schema,
            dedup: Some(dedup),
            run_rows,
        }
    }

    fn push<E: std::error::Error>(&mut self, batch: RecordBatch) -> Result<(), ConvertError<E>> {
        self.buffered += batch.num_rows();
        self.buffer.push(batch);
        if self.buffered >= self.run_rows {
            self.flush()?;
        }
        Ok(())
    }

    /// Sorts the buffered batches and writes them as one run.
    fn flush<E: std::error::Error>(&mut self) -> Result<(), ConvertError<E>> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let plain_schema = plain_schema(&self.schema);
        let whole = arrow_select::concat::concat_batches(&self.schema, &self.buffer)?;
        self.buffer.clear();
        self.buffered = 0;
        let sorted = plain(&sort_by_series_and_time(&whole)?, &plain_schema)?;
        drop(whole);
        let path = self.scratch.0.join(format!("run-{}.arrows", self.runs.len() + 1));
        let file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let mut writer = StreamWriter::try_new(file, &plain_schema)?;
        let mut at = 0;
        while at < sorted.num_rows() {
            let length = MERGE_BATCH_ROWS.min(sorted.num_rows() - at);
            writer.write(&sorted.slice(at, length))?;
            at += length;
        }
        writer.finish()?;
        self.runs.push(path);
        Ok(())
    }

    /// Merges every run, in series and time order (rows with equal keys in file order),
    /// into `sink`.
    fn merge_into<E: std::error::Error>(&mut self, sink: &mut Sink) -> Result<(), ConvertError<E>> {
        self.flush()?;
        let plain_schema = plain_schema(&self.schema);
        let first = ParquetRecordBatchReaderBuilder::try_new(File::open(&self.parquet_run)?)?
            .with_batch_size(MERGE_BATCH_ROWS)
            .build()?;
        let mut sources: Vec<Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>> =
            vec![Box::new(first)];
        for run in &self.runs {
            let reader =
                StreamReader::try_new(BufReader::with_capacity(1 << 20, File::open(run)?), None)?;
            sources.push(Box::new(reader));
        }
        let mut cursors = Vec::new();
        for source in sources {
            if let Some(cursor) = Cursor::open(source, &plain_schema)? {
                cursors.push(cursor);
            }
        }
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(MERGE_BATCH_ROWS);
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut slot_of: Vec<Option<usize>> = vec![None; cursors.len()];
        loop {
            // The cursor with the smallest key (ties: the earlier run) and the runner-up.
            let mut best: Option<usize> = None;
            let mut second: Option<usize> = None;
            for (index, cursor) in cursors.iter().enumerate() {
                if cursor.batch.is_none() {
                    continue;
                }
                match best {
                    None => best = Some(index),
                    Some(b) if cursor.key() < cursors[b].key() => {
                        second = best;
                        best = Some(index);
                    }
                    Some(_) if second.is_none_or(|s| cursor.key() < cursors[s].key()) => {
                        second = Some(index)
                    }
                    Some(_) => {}
                }
            }
            let Some(best) = best else { break };
            let slot = *slot_of[best].get_or_insert_with(|| {
                batches.push(cursors[best].batch.clone().expect("a live cursor has a batch"));
                batches.len() - 1
            });
            // Take rows from the best run while they stay at or below the runner-up (equal
            // keys: only if this run comes earlier in the file).
            let limit = second.map(|s| (cursors[s].key_owned(), s));
            let cursor = &mut cursors[best];
            let available = cursor.len();
            let mut row = cursor.row;
            while row < available && picks.len() < MERGE_BATCH_ROWS {
                let key = cursor.key_at(row);
                let within = match &limit {
                    None => true,
                    Some(((series, at), other)) => {
                        let other_key = (series.as_str(), *at);
                        key < other_key || (key == other_key && best < *other)
                    }
                };
                if !within {
                    break;
                }
                picks.push((slot, row));
                row += 1;
            }
            cursor.row = row;
            if cursor.row == available {
                slot_of[best] = None;
                cursor.advance(&plain_schema)?;
            }
            if picks.len() >= MERGE_BATCH_ROWS {
                write_picks(&batches, &picks, &self.schema, sink)?;
                picks.clear();
                batches.clear();
                slot_of.iter_mut().for_each(|slot| *slot = None);
            }
        }
        if !picks.is_empty() {
            write_picks(&batches, &picks, &self.schema, sink)?;
        }
        Ok(())
    }
}

fn write_picks<E: std::error::Error>(
    batches: &[RecordBatch],
    picks: &[(usize, usize)],
    schema: &SchemaRef,
    sink: &mut Sink,
) -> Result<(), ConvertError<E>> {
    let references: Vec<&RecordBatch> = batches.iter().collect();
    let merged = arrow_select::interleave::interleave_record_batch(&references, picks)?;
    sink.push(encoded(&merged, schema)?)?;
    Ok(())
}

/// A position in one sorted run.
struct Cursor {
    source: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>,
    batch: Option<RecordBatch>,
    row: usize,
}

impl Cursor {
    fn open(
        source: Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>,
        schema: &SchemaRef,
    ) -> Result<Option<Self>, ArrowError> {
        let mut cursor = Self { source, batch: None, row: 0 };
        cursor.advance(schema)?;
        Ok(cursor.batch.is_some().then_some(cursor))
    }

    fn advance(&mut self, schema: &SchemaRef) -> Result<(), ArrowError> {
        self.row = 0;
        self.batch = None;
        for batch in self.source.by_ref() {
            let batch = batch?;
            if batch.num_rows() > 0 {
                self.batch = Some(plain(&batch, schema)?);
                break;
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.batch.as_ref().map_or(0, RecordBatch::num_rows)
    }

    fn key_at(&self, row: usize) -> (&str, i64) {
        let batch = self.batch.as_ref().expect("a live cursor has a batch");
        let series = batch.column(0).as_string::<i32>();
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        (series.value(row), ts.value(row))
    }

    fn key(&self) -> (&str, i64) {
        self.key_at(self.row)
    }

    fn key_owned(&self) -> (String, i64) {
        let (series, at) = self.key();
        (series.to_owned(), at)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::types::Float64Type;
    use bytes::Bytes;

    use super::*;

    type Point = (String, i64, f64);

    fn batch(points: &[Point]) -> RecordBatch {
        let points: Vec<(&str, i64, f64)> =
            points.iter().map(|(s, t, v)| (s.as_str(), *t, *v)).collect();
        variosync_formats::table::from_points("value", &points).unwrap()
    }

    fn read_back(path: &Path) -> Vec<Point> {
        let bytes = Bytes::from(std::fs::read(path).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap().build().unwrap();
        let mut points = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            let keys = Keys::of(&batch);
            let values = batch.column(2).as_primitive::<Float64Type>();
            for row in 0..batch.num_rows() {
                let (series, at) = keys.at(row);
                points.push((series.to_owned(), at, values.value(row)));
            }
        }
        points
    }

    /// What a whole in-memory sort and duplicate pass gives.
    fn expected(points: &[Point], policy: DuplicatePolicy) -> Vec<Point> {
        let mut indexed: Vec<(usize, &Point)> = points.iter().enumerate().collect();
        indexed.sort_by(|a, b| (&a.1.0, a.1.1, a.0).cmp(&(&b.1.0, b.1.1, b.0)));
        let sorted: Vec<Point> = indexed.into_iter().map(|(_, p)| p.clone()).collect();
        let mut out: Vec<Point> = Vec::new();
        for point in sorted {
            match out.last_mut() {
                Some(last) if last.0 == point.0 && last.1 == point.1 => {
                    if policy == DuplicatePolicy::KeepLast {
                        *last = point;
                    }
                }
                _ => out.push(point),
            }
        }
        out
    }

    fn run(
        points: &[Point],
        chunk: usize,
        policy: DuplicatePolicy,
        run_rows: usize,
    ) -> (Result<Converted, ConvertError<ArrowError>>, Vec<Point>) {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("out.parquet");
        let batches: Vec<Result<RecordBatch, ArrowError>> =
            points.chunks(chunk).map(|c| Ok(batch(c))).collect();
        let schema = batch(&points[..1]).schema();
        let result =
            convert_in_runs(batches.into_iter(), schema, &out, directory.path(), policy, run_rows);
        let written = if result.is_ok() { read_back(&out) } else { Vec::new() };
        let leftovers = std::fs::read_dir(directory.path()).unwrap().count();
        let expected = if result.is_ok() { 1 + crate::overview::LEVELS.len() } else { 0 };
        assert_eq!(leftovers, expected, "only the output and its overviews are left behind");
        (result, written)
    }

    /// A pseudo-random sequence, the same on every run.
    fn shuffled_points(count: usize, seed: u64) -> Vec<Point> {
        let mut state = seed;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..count).map(|i| (format!("S{}", next() % 7), (next() % 500) as i64, i as f64)).collect()
    }

    #[test]
    fn sorted_input_is_written_straight_through_with_its_profile() {
        let points: Vec<Point> =
            (0..1000).map(|i| (format!("S{}", i / 500), i % 500, i as f64)).collect();
        let (converted, written) = run(&points, 64, DuplicatePolicy::KeepLast, 100);
        let converted = converted.unwrap();
        assert!(!converted.sorted_by_merge);
        assert_eq!(written, points);
        assert_eq!(converted.profile.rows, 1000);
        assert_eq!(converted.profile.series.len(), 2);
        assert_eq!(converted.profile.series[1].name, "S1");
    }

    #[test]
    fn unsorted_input_is_merged_from_runs_with_duplicates_resolved_in_file_order() {
        for seed in 1..4 {
            let points = shuffled_points(3000, seed);
            for policy in [DuplicatePolicy::KeepLast, DuplicatePolicy::KeepFirst] {
                for (chunk, run_rows) in [(50, 200), (1000, 5000), (7, 1)] {
                    let (converted, written) = run(&points, chunk, policy, run_rows);
                    let converted = converted.unwrap();
                    let want = expected(&points, policy);
                    assert!(converted.sorted_by_merge);
                    assert_eq!(written, want, "seed {seed}, {policy:?}, chunk {chunk}");
                    assert_eq!(converted.profile.rows as usize, want.len());
                    assert_eq!(converted.profile.duplicates as usize, points.len() - want.len());
                }
            }
            let (refused, _) = run(&points, 100, DuplicatePolicy::Fail, 500);
            assert!(matches!(refused, Err(ConvertError::Duplicates(_))));
        }
    }

    #[test]
    fn a_first_sorted_stretch_with_duplicates_keeps_its_count_after_the_merge() {
        let mut points: Vec<Point> =
            vec![("A".into(), 1, 1.0), ("A".into(), 1, 2.0), ("A".into(), 2, 3.0)];
        points.extend([("A".into(), 0, 4.0), ("A".into(), 2, 5.0)]);
        let (converted, written) = run(&points, 3, DuplicatePolicy::KeepLast, 10);
        assert_eq!(written, expected(&points, DuplicatePolicy::KeepLast));
        assert_eq!(converted.unwrap().profile.duplicates, 2);
        let (refused, _) = run(&points[..3], 3, DuplicatePolicy::Fail, 10);
        assert!(refused.unwrap_err().to_string().starts_with("1 rows repeat"));
    }

    #[test]
    fn no_rows_is_an_error_and_leaves_no_file() {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("out.parquet");
        let schema = batch(&[("A".into(), 1, 1.0)]).schema();
        let empty = std::iter::empty::<Result<RecordBatch, ArrowError>>();
        let result = convert(empty, schema, &out, directory.path(), DuplicatePolicy::KeepLast);
        assert!(matches!(result, Err(ConvertError::Empty)));
        assert!(!out.exists());
    }
}

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
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use variosync_formats::parquet_out::{WriteError, sort_by_series_and_time, writer_properties};

use crate::duplicates::{Dedup, DuplicateError, DuplicatePolicy, Keys};
use crate::overview::OverviewWriter;
use crate::parallel_writer::ParallelWriter;
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
    /// Whether the input was split by series in one pass (it was in time order across
    /// series, or each series was sorted within itself).
    pub split_by_series: bool,
}

/// Writes deduplicated, profiled, sorted batches as Parquet.
struct Sink {
    writer: ParallelWriter,
    dedup: Dedup,
    summaries: Summaries,
}

impl Sink {
    fn create(path: &Path, schema: SchemaRef, dedup: Dedup) -> Result<Self, WriteError> {
        let file = BufWriter::with_capacity(
            1 << 20,
            File::create(path).map_err(parquet::errors::ParquetError::from)?,
        );
        Ok(Self {
            writer: ParallelWriter::try_new(file, schema.clone(), writer_properties(&schema))?,
            dedup,
            summaries: Summaries::start(OverviewWriter::create(path, &schema)?),
        })
    }

    fn push(&mut self, batch: RecordBatch) -> Result<(), SinkError> {
        if let Some(ready) = self.dedup.push(batch)? {
            self.write(&ready)?;
        }
        Ok(())
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        self.summaries.add(batch)?;
        self.writer.write(batch).map_err(WriteError::from)?;
        Ok(())
    }

    fn finish(mut self) -> Result<(Profile, Vec<PathBuf>), SinkError> {
        if let Some(last) = self.dedup.finish()? {
            self.write(&last)?;
        }
        self.writer.close().map_err(WriteError::from)?;
        let (profiler, overviews) = self.summaries.finish()?;
        Ok((profiler.finish(self.dedup.dropped(), 0), overviews))
    }

    /// Closes the file as it is, as a sorted run; returns the duplicate stage, whose count
    /// (and, for the `Fail` policy, first example) carries over to the merge.
    fn close_as_run(self) -> Result<Dedup, SinkError> {
        // The run's rows are summarised again when they are merged.
        let Self { mut writer, mut dedup, summaries } = self;
        drop(summaries);
        if let Some(last) = dedup.flush()? {
            writer.write(&last).map_err(WriteError::from)?;
        }
        writer.close().map_err(WriteError::from)?;
        dedup.restart();
        Ok(dedup)
    }
}

/// The profile and the overviews of the rows written, made on their own thread so that
/// they overlap the Parquet encoding. `None` on the channel asks for the result; a channel
/// closed without it (when the summaries are dropped) abandons the work.
struct Summaries {
    send: Option<std::sync::mpsc::SyncSender<Option<RecordBatch>>>,
    handle: Option<std::thread::JoinHandle<SummariesResult>>,
}

type SummariesResult = Result<Option<(Profiler, Vec<PathBuf>)>, WriteError>;

/// Batches queued for the summaries before the writer waits for them.
const SUMMARIES_QUEUED: usize = 32;

/// An error of the summaries' thread that it could not tell itself.
fn summaries_error(what: &str) -> WriteError {
    WriteError::from(parquet::errors::ParquetError::General(format!("the summaries {what}")))
}

impl Summaries {
    fn start(mut overview: OverviewWriter) -> Self {
        let (send, receive) =
            std::sync::mpsc::sync_channel::<Option<RecordBatch>>(SUMMARIES_QUEUED);
        let handle = std::thread::spawn(move || {
            let mut profiler = Profiler::new();
            for message in receive {
                let Some(batch) = message else {
                    return Ok(Some((profiler, overview.finish()?)));
                };
                profiler.add(&batch);
                overview.add(&batch)?;
            }
            Ok(None)
        });
        Self { send: Some(send), handle: Some(handle) }
    }

    fn add(&mut self, batch: &RecordBatch) -> Result<(), WriteError> {
        if self.send.as_ref().is_some_and(|send| send.send(Some(batch.clone())).is_ok()) {
            return Ok(());
        }
        // The thread stopped on an error: its result says which.
        self.send = None;
        Err(self.result().err().unwrap_or_else(|| summaries_error("stopped")))
    }

    fn finish(mut self) -> Result<(Profiler, Vec<PathBuf>), WriteError> {
        if let Some(send) = self.send.take() {
            // A failed send means the thread already ended: its result says why.
            let _ = send.send(None);
        }
        self.result()?.ok_or_else(|| summaries_error("ended early"))
    }

    fn result(&mut self) -> SummariesResult {
        match self.handle.take() {
            Some(handle) => handle.join().unwrap_or_else(|_| Err(summaries_error("panicked"))),
            None => Err(summaries_error("stopped")),
        }
    }
}

impl Drop for Summaries {
    fn drop(&mut self) {
        self.send = None;
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
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
    convert_in_runs(
        batches,
        schema,
        out,
        scratch,
        policy,
        Limits { run_rows: RUN_ROWS, series: DEMUX_SERIES },
    )
}

/// How much a conversion may hold and spill: rows per sorted run (and held by the split by
/// series before it spills), and the most series the split takes.
#[derive(Debug, Clone, Copy)]
struct Limits {
    run_rows: usize,
    series: usize,
}

/// [`convert`] within `limits`; on failure no output is left behind.
fn convert_in_runs<E: std::error::Error + 'static>(
    batches: impl Iterator<Item = Result<RecordBatch, E>>,
    schema: SchemaRef,
    out: &Path,
    scratch: &Path,
    policy: DuplicatePolicy,
    limits: Limits,
) -> Result<Converted, ConvertError<E>> {
    let result = write_runs(batches, schema, out, scratch, policy, limits);
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
    limits: Limits,
) -> Result<Converted, ConvertError<E>> {
    let mut sink = Some(Sink::create(out, schema.clone(), Dedup::new(policy))?);
    let mut last: Option<(String, i64)> = None;
    let mut spill: Option<Spill> = None;
    let mut split: Option<(Demux, Dedup)> = None;
    let mut rows = 0u64;
    let folder = |kind: &str| -> Result<Scratch, ConvertError<E>> {
        let directory = scratch.join(format!("{kind}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&directory)?;
        Ok(Scratch(directory))
    };
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
        if let Some((demux, _)) = &mut split {
            if demux.push(&batch)? {
                continue;
            }
            // A series went back in time: what was split becomes sorted runs, one per series,
            // and the rest is sorted in runs as usual.
            let (demux, dedup) = split.take().expect("splitting");
            let mut started =
                Spill::new(folder("convert")?, None, schema.clone(), dedup, limits.run_rows);
            demux.into_runs::<E>(&schema, &mut started)?;
            started.push(batch)?;
            spill = Some(started);
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
            continue;
        }
        // Out of order: what was written is the first run. If it and this batch split by
        // series, keep splitting; otherwise sort the rest in runs.
        let runs = folder("convert")?;
        let first_run = runs.0.join("run-0.parquet");
        let dedup = sink.take().expect("the sink is open until spilling").close_as_run()?;
        std::fs::rename(out, &first_run)?;
        let mut demux = Demux::new(folder("split")?, &schema, limits.run_rows, limits.series);
        let mut fits = true;
        let written = ParquetRecordBatchReaderBuilder::try_new(File::open(&first_run)?)?
            .with_batch_size(MERGE_BATCH_ROWS)
            .build()?;
        for written in written {
            if !demux.push(&written?)? {
                fits = false;
                break;
            }
        }
        if fits && demux.push(&batch)? {
            drop(runs);
            split = Some((demux, dedup));
        } else {
            drop(demux);
            let mut started =
                Spill::new(runs, Some(first_run), schema.clone(), dedup, limits.run_rows);
            started.push(batch)?;
            spill = Some(started);
        }
    }
    if rows == 0 {
        return Err(ConvertError::Empty);
    }
    let sorted_by_merge = spill.is_some();
    let split_by_series = split.is_some();
    let (profile, overviews) = match (spill, split) {
        (None, None) => sink.expect("no spill leaves the sink open").finish()?,
        (Some(mut spill), _) => {
            let dedup = spill.dedup.take().expect("a spill carries the first run's duplicates");
            let mut sink = Sink::create(out, schema.clone(), dedup)?;
            spill.merge_into(&mut sink)?;
            sink.finish()?
        }
        (None, Some((demux, dedup))) => {
            let mut sink = Sink::create(out, schema.clone(), dedup)?;
            demux.drain::<E>(&schema, |batch| Ok(sink.push(batch)?))?;
            sink.finish()?
        }
    };
    Ok(Converted { profile, overviews, sorted_by_merge, split_by_series })
}

/// The most series a file may have for its rows to be split by series in one pass; a file
/// with more is sorted in runs instead.
pub const DEMUX_SERIES: usize = 1024;

/// The rows of one series gathered by [`Demux`]: its batches not yet spilled, its spill
/// file (time and values only: the series is the file's), and its latest time.
struct SeriesRun {
    pending: Vec<RecordBatch>,
    file: Option<(PathBuf, StreamWriter<BufWriter<File>>)>,
    last: i64,
}

/// Splits rows that arrive in time order across many series (or in any order in which each
/// series is sorted within itself) into one run per series, in one pass: batches of each
/// series are kept until [`RUN_ROWS`] rows are held, then appended to that series' spill
/// file. The runs are then written one after another in series order: no sort, no merge.
/// A row that goes back in time within its series ends the split ([`Demux::push`] says so).
struct Demux {
    scratch: Scratch,
    runs: std::collections::BTreeMap<String, SeriesRun>,
    held: usize,
    hold_rows: usize,
    max_series: usize,
    /// The schema of the spill files: the canonical schema without the series.
    values_schema: SchemaRef,
}

/// The canonical schema without its series column.
fn without_series(schema: &Schema) -> SchemaRef {
    let fields: Vec<Arc<Field>> = schema.fields().iter().skip(1).cloned().collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch`, whose rows all belong to `series`, with the series column put back.
fn with_series(
    series: &str,
    batch: &RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let keys = arrow_array::Int32Array::from(vec![0; batch.num_rows()]);
    let names = StringArray::from(vec![series]);
    let dictionary = arrow_array::DictionaryArray::<Int32Type>::try_new(keys, Arc::new(names))?;
    let mut columns: Vec<ArrayRef> = vec![Arc::new(dictionary)];
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(schema.clone(), columns)
}

impl Demux {
    fn new(scratch: Scratch, schema: &SchemaRef, hold_rows: usize, max_series: usize) -> Self {
        Self {
            scratch,
            runs: std::collections::BTreeMap::new(),
            held: 0,
            hold_rows,
            max_series,
            values_schema: without_series(schema),
        }
    }

    /// Takes a batch; `false` (and nothing taken) when a series would go back in time or
    /// there would be too many series: the rows must be sorted instead.
    fn push(&mut self, batch: &RecordBatch) -> Result<bool, ArrowError> {
        let keys = Keys::of(batch);
        let series = batch.column(0).as_dictionary::<Int32Type>();
        let names = series.values().as_string::<i32>();
        let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
        for (row, code) in series.keys().values().iter().enumerate() {
            rows_of[*code as usize].push(row as u32);
        }
        // Checked whole before anything is taken.
        let mut new_series = 0;
        for (code, rows) in rows_of.iter().enumerate().filter(|(_, rows)| !rows.is_empty()) {
            let times = rows.iter().map(|row| keys.times()[*row as usize]);
            let start = match self.runs.get(names.value(code)) {
                Some(run) => run.last,
                None => {
                    new_series += 1;
                    i64::MIN
                }
            };
            let mut previous = start;
            for at in times {
                if at < previous {
                    return Ok(false);
                }
                previous = at;
            }
        }
        if self.runs.len() + new_series > self.max_series {
            return Ok(false);
        }
        let values =
            RecordBatch::try_new(self.values_schema.clone(), batch.columns()[1..].to_vec())?;
        // The rows grouped by series with one copy (stable within each series), then each
        // series' rows are a slice of it.
        let grouped = if rows_of.iter().filter(|rows| !rows.is_empty()).count() == 1 {
            values
        } else {
            let order: Vec<u32> = rows_of.iter().flatten().copied().collect();
            let order = arrow_array::UInt32Array::from(order);
            arrow_select::take::take_record_batch(&values, &order)?
        };
        let mut start = 0;
        for (code, rows) in rows_of.iter().enumerate().filter(|(_, rows)| !rows.is_empty()) {
            let part = grouped.slice(start, rows.len());
            start += rows.len();
            let last = keys.times()[*rows.last().expect("a row") as usize];
            let run = self.runs.entry(names.value(code).to_owned()).or_insert_with(|| SeriesRun {
                pending: Vec::new(),
                file: None,
                last,
            });
            run.last = last;
            run.pending.push(part);
        }
        self.held += batch.num_rows();
        if self.held >= self.hold_rows {
            self.spill()?;
        }
        Ok(true)
    }

    /// Appends every series' held batches to its spill file.
    fn spill(&mut self) -> Result<(), ArrowError> {
        for (index, run) in self.runs.values_mut().enumerate() {
            if run.pending.is_empty() {
                continue;
            }
            if run.file.is_none() {
                let path =
                    self.scratch.0.join(format!("series-{index}-{}.arrows", uuid::Uuid::now_v7()));
                let file = BufWriter::with_capacity(64 * 1024, File::create(&path)?);
                run.file = Some((path, StreamWriter::try_new(file, &self.values_schema)?));
            }
            let (_, writer) = run.file.as_mut().expect("opened above");
            let whole = arrow_select::concat::concat_batches(&self.values_schema, &run.pending)?;
            run.pending.clear();
            writer.write(&whole)?;
        }
        self.held = 0;
        Ok(())
    }

    /// Every series' rows, in series order then file order, with the series put back.
    fn drain<E: std::error::Error>(
        self,
        schema: &SchemaRef,
        mut each: impl FnMut(RecordBatch) -> Result<(), ConvertError<E>>,
    ) -> Result<(), ConvertError<E>> {
        // The scratch folder lives until every spill file has been read back.
        let Self { runs, scratch: _scratch, .. } = self;
        for (name, run) in runs {
            run.replay(&name, schema, &mut each)?;
        }
        Ok(())
    }

    /// The rows so far as sorted runs for the merge: one per series, each sorted within
    /// itself; the runs' files are written under the spill's scratch folder.
    fn into_runs<E: std::error::Error>(
        self,
        schema: &SchemaRef,
        spill: &mut Spill,
    ) -> Result<(), ConvertError<E>> {
        let plain_schema = plain_schema(schema);
        let Self { runs, scratch: _scratch, .. } = self;
        for (name, run) in runs {
            let path = spill.scratch.0.join(format!("run-series-{}.arrows", uuid::Uuid::now_v7()));
            let file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
            let mut writer = StreamWriter::try_new(file, &plain_schema)?;
            run.replay(&name, schema, &mut |batch| {
                writer.write(&plain(&batch, &plain_schema)?)?;
                Ok(())
            })?;
            writer.finish()?;
            spill.runs.push(path);
        }
        Ok(())
    }
}

impl SeriesRun {
    /// Hands over the run's rows in file order, spilled ones first, with the series `name`
    /// put back; the spill file is removed once read.
    fn replay<E: std::error::Error>(
        self,
        name: &str,
        schema: &SchemaRef,
        each: &mut impl FnMut(RecordBatch) -> Result<(), ConvertError<E>>,
    ) -> Result<(), ConvertError<E>> {
        if let Some((path, mut writer)) = self.file {
            writer.finish()?;
            drop(writer);
            let file = BufReader::with_capacity(1 << 20, File::open(&path)?);
            for batch in StreamReader::try_new(file, None)? {
                each(with_series(name, &batch?, schema)?)?;
            }
            let _ = std::fs::remove_file(&path);
        }
        for batch in &self.pending {
            each(with_series(name, batch, schema)?)?;
        }
        Ok(())
    }
}

/// Runs of sorted rows in temporary files.
struct Spill {
    scratch: Scratch,
    parquet_run: Option<PathBuf>,
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
        parquet_run: Option<PathBuf>,
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
        let mut sources: Vec<Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>>>> =
            Vec::new();
        if let Some(first) = &self.parquet_run {
            let first = ParquetRecordBatchReaderBuilder::try_new(File::open(first)?)?
                .with_batch_size(MERGE_BATCH_ROWS)
                .build()?;
            sources.push(Box::new(first));
        }
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
        run_within(points, chunk, policy, run_rows, DEMUX_SERIES)
    }

    fn run_within(
        points: &[Point],
        chunk: usize,
        policy: DuplicatePolicy,
        run_rows: usize,
        series_limit: usize,
    ) -> (Result<Converted, ConvertError<ArrowError>>, Vec<Point>) {
        let directory = tempfile::tempdir().unwrap();
        let out = directory.path().join("out.parquet");
        let batches: Vec<Result<RecordBatch, ArrowError>> =
            points.chunks(chunk).map(|c| Ok(batch(c))).collect();
        let schema = batch(&points[..1]).schema();
        let limits = Limits { run_rows, series: series_limit };
        let result =
            convert_in_runs(batches.into_iter(), schema, &out, directory.path(), policy, limits);
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

    /// A market dump: every series at one time, then the next time; a few rows repeat.
    fn interleaved_points(series: usize, times: i64) -> Vec<Point> {
        let mut points = Vec::new();
        for t in 0..times {
            for s in (0..series).rev() {
                points.push((format!("S{s:02}"), t * 60, (t * 100 + s as i64) as f64));
                if (t + s as i64) % 97 == 0 {
                    points.push((format!("S{s:02}"), t * 60, -1.0));
                }
            }
        }
        points
    }

    #[test]
    fn input_in_time_order_is_split_by_series_in_one_pass() {
        let points = interleaved_points(10, 300);
        for policy in [DuplicatePolicy::KeepLast, DuplicatePolicy::KeepFirst] {
            for (chunk, run_rows) in [(64, 200), (1000, 100_000), (7, 1)] {
                let (converted, written) = run(&points, chunk, policy, run_rows);
                let converted = converted.unwrap();
                let want = expected(&points, policy);
                assert!(converted.split_by_series && !converted.sorted_by_merge);
                assert_eq!(written, want, "{policy:?}, chunk {chunk}, run {run_rows}");
                assert_eq!(converted.profile.rows as usize, want.len());
                assert_eq!(converted.profile.duplicates as usize, points.len() - want.len());
            }
        }
        let (refused, _) = run(&points, 64, DuplicatePolicy::Fail, 200);
        assert!(matches!(refused, Err(ConvertError::Duplicates(_))));
    }

    #[test]
    fn a_series_that_goes_back_in_time_ends_the_split_and_the_rest_is_sorted() {
        let mut points = interleaved_points(6, 200);
        points.insert(700, ("S03".into(), 5, 42.0));
        for (chunk, run_rows) in [(64, 200), (50, 10_000)] {
            let (converted, written) = run(&points, chunk, DuplicatePolicy::KeepLast, run_rows);
            let converted = converted.unwrap();
            assert!(converted.sorted_by_merge && !converted.split_by_series);
            assert_eq!(written, expected(&points, DuplicatePolicy::KeepLast), "chunk {chunk}");
        }
        // More series than the split takes: sorted in runs from the start.
        let points = interleaved_points(12, 50);
        let (converted, written) = run_within(&points, 64, DuplicatePolicy::KeepLast, 100, 8);
        assert!(converted.unwrap().sorted_by_merge);
        assert_eq!(written, expected(&points, DuplicatePolicy::KeepLast));
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

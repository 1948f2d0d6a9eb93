//! Columnar files into the canonical table: Parquet, Arrow IPC files (Feather v2) and Arrow
//! IPC streams. Their columns are typed already, but the time, series and value columns are
//! still found the same way as in text (names first, content second, the person's choices
//! over both), so a `Date` column named `day` or a text column of ISO times both work.
//! Values are read through their text form, which keeps one set of rules for every format.

use std::fs::File;
use std::path::Path;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{ArrowError, SchemaRef};

use crate::delimited::{ReadError, ReadOptions};
use crate::mapping::{Proposal, propose_with};
use crate::table::{Reject, TableBuilder};

/// Rows the mapping is proposed from.
const SAMPLE_ROWS: usize = 1000;
/// Rows shown as a sample.
const SAMPLE_LINES: usize = 10;

/// Which columnar format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columnar {
    /// Apache Parquet.
    Parquet,
    /// An Arrow IPC file (Feather v2).
    ArrowFile,
    /// An Arrow IPC stream.
    ArrowStream,
    /// An Apache Avro object container file.
    Avro,
    /// A sheet of an Excel or OpenDocument workbook.
    Workbook,
}

/// The columnar format a file starts with, if any.
pub fn sniff(head: &[u8]) -> Option<Columnar> {
    if head.starts_with(b"PAR1") {
        Some(Columnar::Parquet)
    } else if head.starts_with(b"ARROW1") {
        Some(Columnar::ArrowFile)
    } else if head.starts_with(&[0xFF, 0xFF, 0xFF, 0xFF]) && head.len() >= 8 {
        Some(Columnar::ArrowStream)
    } else {
        None
    }
}

fn arrow_error(error: impl std::fmt::Display) -> ReadError {
    ReadError::Unsupported(format!("the file cannot be read: {error}"))
}

/// A batch that could not be read: a decoding child's refusal as it was given, anything
/// else as unreadable.
pub(crate) fn batch_error(error: ArrowError) -> ReadError {
    match error {
        ArrowError::ExternalError(inner) => match inner.downcast::<ReadError>() {
            Ok(refusal) => *refusal,
            Err(other) => arrow_error(other),
        },
        other => arrow_error(other),
    }
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, ArrowError>> + Send>;

/// Keeps the last 16 bytes read through it.
struct Tail {
    inner: Box<dyn std::io::Read + Send>,
    tail: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl std::io::Read for Tail {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        let mut tail = self.tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        tail.extend_from_slice(&buffer[n.saturating_sub(16)..n]);
        let excess = tail.len().saturating_sub(16);
        tail.drain(..excess);
        Ok(n)
    }
}

/// The batches of an Avro file, which must end with its sync marker: a file cut short
/// within a block is an error, not a shorter table.
pub(crate) struct AvroBatches {
    reader: arrow_avro::reader::Reader<std::io::BufReader<Tail>>,
    sync: [u8; 16],
    tail: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    checked: bool,
    /// The schema with each column's own name where an export had to rename it for Avro.
    schema: SchemaRef,
}

impl AvroBatches {
    /// The schema of every batch.
    pub(crate) fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

/// `schema` with each field that keeps its own name in its metadata (an export's renaming
/// for Avro) named that again, where the names stay unique.
fn original_names(schema: SchemaRef) -> SchemaRef {
    let key = crate::export::ORIGINAL_NAME_KEY;
    let renamed: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.metadata().get(key).cloned().unwrap_or_else(|| f.name().clone()))
        .collect();
    let unique = renamed.iter().collect::<std::collections::HashSet<_>>().len() == renamed.len();
    if !unique || renamed.iter().zip(schema.fields()).all(|(n, f)| n == f.name()) {
        return schema;
    }
    let fields: Vec<arrow_schema::Field> = schema
        .fields()
        .iter()
        .zip(renamed)
        .map(|(field, name)| {
            let mut metadata = field.metadata().clone();
            metadata.remove(key);
            field.as_ref().clone().with_name(name).with_metadata(metadata)
        })
        .collect();
    std::sync::Arc::new(arrow_schema::Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Opens the Avro object container file in `input` in this process.
pub(crate) fn avro_batches(input: Box<dyn std::io::Read + Send>) -> Result<AvroBatches, ReadError> {
    let tail = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(32)));
    let input = Tail { inner: input, tail: tail.clone() };
    let reader = arrow_avro::reader::ReaderBuilder::new()
        .with_batch_size(64 * 1024)
        .build(std::io::BufReader::new(input))
        .map_err(|e| ReadError::Unsupported(format!("the Avro file cannot be read: {e}")))?;
    let sync = reader.avro_header().sync();
    let schema = original_names(reader.schema());
    Ok(AvroBatches { reader, sync, tail, checked: false, schema })
}

impl Iterator for AvroBatches {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = loop {
            match self.reader.next() {
                // An empty batch says nothing; it would hide a truncated file from the mapping.
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) if batch.schema() != self.schema => {
                    break Some(RecordBatch::try_new(
                        self.schema.clone(),
                        batch.columns().to_vec(),
                    ));
                }
                other => break other,
            }
        };
        match next {
            None if !self.checked => {
                self.checked = true;
                let tail = self.tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                (tail.as_slice() != self.sync).then(|| {
                    Err(ArrowError::ParseError(
                        "the file ends in the middle of a block: it is truncated".to_owned(),
                    ))
                })
            }
            other => other,
        }
    }
}

/// A columnar file being read as canonical record batches.
pub struct ColumnarReader {
    format: Columnar,
    names: Vec<String>,
    mapping: Proposal,
    builder: TableBuilder,
    schema: SchemaRef,
    pending: Option<RecordBatch>,
    batches: Batches,
    rejects: Vec<Reject>,
    rows: usize,
    /// The line (sheet row) of each row, where rows are not numbered from 1.
    line_numbers: Option<Vec<usize>>,
    /// The first rows as comma-separated text.
    sample: Vec<String>,
    done: bool,
}

impl std::fmt::Debug for ColumnarReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnarReader").field("format", &self.format).finish_non_exhaustive()
    }
}

/// The rows of a batch as text cells.
fn text_rows(batch: &RecordBatch) -> Result<Vec<Vec<String>>, ArrowError> {
    let options = FormatOptions::default().with_null("");
    let formatters: Vec<ArrayFormatter<'_>> = batch
        .columns()
        .iter()
        .map(|column| ArrayFormatter::try_new(column.as_ref(), &options))
        .collect::<Result<_, _>>()?;
    (0..batch.num_rows())
        .map(|row| {
            formatters
                .iter()
                .zip(batch.columns())
                .map(|(formatter, column)| {
                    if column.is_null(row) {
                        Ok(String::new())
                    } else {
                        formatter.value(row).try_to_string()
                    }
                })
                .collect()
        })
        .collect()
}

impl ColumnarReader {
    /// Opens the columnar file at `path`.
    pub fn open(path: &Path, format: Columnar, options: &ReadOptions) -> Result<Self, ReadError> {
        let file = File::open(path)?;
        let batches: Batches = match format {
            Columnar::Avro => return Self::avro(Box::new(file), options),
            Columnar::Workbook => return crate::workbook::open(Box::new(file), options),
            Columnar::Parquet => Box::new(
                parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
                    .map_err(arrow_error)?
                    .with_batch_size(64 * 1024)
                    .build()
                    .map_err(arrow_error)?,
            ),
            Columnar::ArrowFile => {
                Box::new(arrow_ipc::reader::FileReader::try_new(file, None).map_err(arrow_error)?)
            }
            Columnar::ArrowStream => Box::new(
                arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None)
                    .map_err(arrow_error)?,
            ),
        };
        Self::from_batches(format, batches, options)
    }

    /// Reads an Arrow IPC stream from any reader.
    pub fn stream(
        input: Box<dyn std::io::Read + Send>,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::BufReader::new(input), None)
            .map_err(arrow_error)?;
        Self::from_batches(Columnar::ArrowStream, Box::new(reader), options)
    }

    /// Reads an Apache Avro object container file from any reader: in a child process
    /// where the program isolates decoders (see [`crate::isolation`]).
    pub fn avro(
        input: Box<dyn std::io::Read + Send>,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let batches: Batches = match crate::isolation::program() {
            Some(program) => Box::new(crate::isolation::avro(program, input)?),
            None => Box::new(avro_batches(input)?),
        };
        Self::from_batches(Columnar::Avro, batches, options)
    }

    pub(crate) fn from_batches(
        format: Columnar,
        mut batches: Batches,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let first = batches.next().transpose().map_err(batch_error)?;
        let names: Vec<String> = match &first {
            Some(batch) => batch.schema().fields().iter().map(|f| f.name().clone()).collect(),
            None => return Err(crate::mapping::MappingError::NoRows.into()),
        };
        let sample = first.as_ref().map(|b| b.slice(0, b.num_rows().min(SAMPLE_ROWS)));
        let rows = match &sample {
            Some(batch) => text_rows(batch).map_err(arrow_error)?,
            None => Vec::new(),
        };
        let mapping = propose_with(&names, &rows, &options.mapping)?;
        let sample = rows.iter().take(SAMPLE_LINES).map(|row| row.join(",")).collect();
        let builder = TableBuilder::new(
            &mapping,
            &names,
            options.zone,
            options.mode,
            &options.default_series,
        );
        Ok(Self {
            format,
            schema: builder.schema(),
            names,
            mapping,
            builder,
            pending: first,
            batches,
            rejects: Vec::new(),
            rows: 0,
            line_numbers: None,
            sample,
            done: false,
        })
    }

    /// Numbers rows by `lines` (one per row, in order) in errors and rejects.
    pub(crate) fn set_line_numbers(&mut self, lines: Vec<usize>) {
        self.line_numbers = Some(lines);
    }

    /// Adds something the person should check.
    pub(crate) fn warn(&mut self, warning: String) {
        self.mapping.warnings.push(warning);
    }

    /// The first rows, as comma-separated text.
    pub fn sample(&self) -> &[String] {
        &self.sample
    }

    /// Which format the file is.
    pub fn format(&self) -> Columnar {
        self.format
    }

    /// The column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How the columns are read.
    pub fn mapping(&self) -> &Proposal {
        &self.mapping
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Takes the rows set aside so far.
    pub fn drain_rejects(&mut self) -> std::vec::Drain<'_, Reject> {
        self.rejects.drain(..)
    }

    fn convert(&mut self, batch: &RecordBatch) -> Result<RecordBatch, ReadError> {
        let rows = text_rows(batch).map_err(arrow_error)?;
        for row in rows {
            self.rows += 1;
            // A row's "line" is its 1-based position in the file, or its sheet row.
            let line = match &self.line_numbers {
                Some(lines) => lines.get(self.rows - 1).copied().unwrap_or(self.rows),
                None => self.rows,
            };
            self.builder.push(line, &row)?;
        }
        self.rejects.extend(self.builder.drain_rejects());
        Ok(self.builder.finish()?)
    }
}

impl Iterator for ColumnarReader {
    type Item = Result<RecordBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let batch = match self.pending.take() {
                Some(batch) => batch,
                None => match self.batches.next() {
                    Some(Ok(batch)) => batch,
                    Some(Err(error)) => {
                        self.done = true;
                        return Some(Err(batch_error(error)));
                    }
                    None => {
                        self.done = true;
                        return None;
                    }
                },
            };
            match self.convert(&batch) {
                Ok(converted) if converted.num_rows() == 0 => continue,
                Ok(converted) => return Some(Ok(converted)),
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

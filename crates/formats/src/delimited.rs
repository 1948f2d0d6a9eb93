//! Delimited text (CSV, TSV, semicolon, pipe, whitespace) into the canonical table, as a
//! stream: the first megabyte decides the encoding, the dialect and the mapping; then one
//! thread cuts the decoded text into blocks of whole lines and the other cores parse the
//! blocks into record batches, which come out in file order. At most a fixed number of
//! blocks is in flight, so memory stays bounded whatever the size of the file.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use variosync_domain::time::Zone;

use crate::dialect::{Delimiter, Dialect, DialectError, records, sniff, split_line};
use crate::encoding::{Decoder, Encoding, detect};
use crate::mapping::{MappingError, Proposal, propose_with};
use crate::table::{Mode, Reject, TableBuilder, TableError};

/// Rows the mapping is proposed from.
const SAMPLE_ROWS: usize = 1000;
/// The longest line accepted; a longer one is not a table row.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Bytes of decoded text parsed as one block (one record batch).
const BLOCK_BYTES: usize = 4 * 1024 * 1024;
/// Bytes read before anything is decided: enough for the sample rows of any sane file.
const HEAD_BYTES: usize = 2 * MAX_LINE_BYTES;
/// Blocks read but not yet handed out.
const IN_FLIGHT: usize = 8;

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Strict or lenient.
    pub mode: Mode,
    /// The zone of timestamps without an offset.
    pub zone: Zone,
    /// The series of files without a series column (usually the file's name).
    pub default_series: String,
    /// The person's choices, over the detected ones.
    pub mapping: crate::mapping::Override,
}

/// A file read whole into the canonical table.
#[derive(Debug)]
pub struct Read {
    /// The batches, in file order.
    pub batches: Vec<RecordBatch>,
    /// How the file was read.
    pub mapping: Proposal,
    /// The file's encoding.
    pub encoding: Encoding,
    /// The rows set aside (lenient mode).
    pub rejects: Vec<Reject>,
}

/// Why the file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No dialect fits.
    #[error(transparent)]
    Dialect(#[from] DialectError),
    /// No mapping fits.
    #[error(transparent)]
    Mapping(#[from] MappingError),
    /// A row is bad (strict mode), or the table could not be built.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A line is too long to be a row.
    #[error(
        "line {line} is longer than {MAX_LINE_BYTES} bytes: this does not look like a table, or a quote opened there is never closed"
    )]
    LineTooLong {
        /// The 1-based line number.
        line: usize,
    },
    /// A quoted field runs to the end of the file.
    #[error("line {line}: a quoted field opened on this line is never closed")]
    UnclosedQuote {
        /// The 1-based line the record starts on.
        line: usize,
    },
    /// The input could not be read.
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
    /// JSON that cannot be read.
    #[error("line {line}: {message}")]
    Json {
        /// The 1-based line (for JSON objects read whole: the record's number).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A JSON structure that breaks off the rest of the file.
    #[error("line {line}: {message}; the rest of the file cannot be read")]
    JsonStructure {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file is of a kind that cannot be read (yet).
    #[error("{0}")]
    Unsupported(String),
}

impl ReadError {
    /// What kind of failure this is: the file is at fault, whatever went wrong in it (a
    /// broken compression stream reads as an I/O error too).
    pub fn kind(&self) -> variosync_domain::ErrorKind {
        variosync_domain::ErrorKind::InvalidInput
    }

    /// A stable code: `unsupported_format`, `invalid_mapping` (a choice over the mapping
    /// names what the file does not have) or `unreadable_file`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported(_) => "unsupported_format",
            Self::Mapping(MappingError::UnknownColumn { .. } | MappingError::Invalid(_)) => {
                "invalid_mapping"
            }
            _ => "unreadable_file",
        }
    }

    /// A JSON error that ends the reading, whatever the mode.
    pub(crate) fn into_structural(self) -> Self {
        match self {
            Self::Json { line, message } => Self::JsonStructure { line, message },
            other => other,
        }
    }
}

/// What every parsing thread needs to turn a block into a batch.
struct Plan {
    dialect: Dialect,
    names: Vec<String>,
    mapping: Proposal,
    zone: Zone,
    mode: Mode,
    default_series: String,
}

/// A block of whole lines and the number of its first line.
struct Block {
    sequence: usize,
    first_line: usize,
    text: Vec<u8>,
}

/// A parsed block.
struct Parsed {
    batch: Option<RecordBatch>,
    rejects: Vec<Reject>,
    /// Lines with fewer fields than the header (their missing values read as empty), and
    /// the first of them.
    short: (usize, Option<usize>),
}

type Outcome = (usize, Result<Parsed, ReadError>);

/// A delimited file being read as a stream of canonical record batches.
pub struct Reader {
    dialect: Dialect,
    encoding: Encoding,
    names: Vec<String>,
    mapping: Proposal,
    schema: SchemaRef,
    sample: Vec<String>,
    results: Receiver<Outcome>,
    permits: Receiver<()>,
    pending: BTreeMap<usize, Result<Parsed, ReadError>>,
    next: usize,
    rejects: Vec<Reject>,
    rows: u64,
    /// Lines with fewer fields than the header, and the first of them.
    short: (usize, Option<usize>),
    done: bool,
    threads: Vec<std::thread::JoinHandle<()>>,
    thread_cpu: Arc<AtomicU64>,
}

impl Drop for Reader {
    /// Stops the threads and waits for them, so none outlives the reader: with the
    /// receiving ends gone, every send fails and every thread returns.
    fn drop(&mut self) {
        drop(std::mem::replace(&mut self.results, sync_channel(0).1));
        drop(std::mem::replace(&mut self.permits, sync_channel(0).1));
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("dialect", &self.dialect).finish_non_exhaustive()
    }
}

/// Reads until `buffer` holds `want` bytes or the input ends.
fn fill(
    decoder: &mut Decoder<Box<dyn std::io::Read + Send>>,
    buffer: &mut Vec<u8>,
    want: usize,
) -> std::io::Result<bool> {
    while buffer.len() < want {
        if decoder.read_into(buffer, want - buffer.len())? == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Reader {
    /// Starts reading `input`: decides the encoding, dialect and mapping from its head, then
    /// parses the rest on background threads.
    pub fn new(
        mut input: Box<dyn std::io::Read + Send>,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let mut raw = Vec::new();
        (&mut input).take(HEAD_BYTES as u64).read_to_end(&mut raw)?;
        let (encoding, mark) = detect(&raw);
        raw.drain(..mark);
        let chained: Box<dyn std::io::Read + Send> =
            Box::new(std::io::Cursor::new(raw).chain(input));
        let mut decoder = Decoder::new(chained, encoding);
        let mut head = Vec::new();
        let ended = fill(&mut decoder, &mut head, HEAD_BYTES)?;
        // The sample: the head's whole lines (all of it at the end of the file).
        let whole = if ended {
            head.len()
        } else {
            head.iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1)
        };
        let sample_text = String::from_utf8_lossy(&head[..whole]).into_owned();
        if !ended && head.len() - whole > MAX_LINE_BYTES {
            // The line the head ends in is already too long to be a row.
            let line = head[..whole].iter().filter(|b| **b == b'\n').count() + 1;
            return Err(ReadError::LineTooLong { line });
        }
        if let Some(at) = sample_text.lines().position(|line| line.len() > MAX_LINE_BYTES) {
            return Err(ReadError::LineTooLong { line: at + 1 });
        }
        if let Some(kind) = markup(&sample_text) {
            return Err(ReadError::Unsupported(format!(
                "the file is {kind}, not a table of values: save or export the table itself \
                 (as CSV, a workbook or JSON), not the page that shows it"
            )));
        }
        let sample_lines: Vec<&str> = sample_text.lines().take(SAMPLE_ROWS + 1).collect();
        let dialect = sniff(&sample_lines.join("\n"))?;
        // The header is the first line with text; data starts after it.
        let header_line = sample_text.lines().position(|line| !line.trim().is_empty()).unwrap_or(0);
        let (names, body_start, first_line) = if dialect.has_header {
            let header = sample_text.lines().nth(header_line).unwrap_or_default();
            let offset: usize =
                head.split_inclusive(|b| *b == b'\n').take(header_line + 1).map(<[u8]>::len).sum();
            (split_line(header, dialect.delimiter), offset, header_line + 2)
        } else {
            let width = sample_lines
                .iter()
                .find(|l| !l.trim().is_empty())
                .map_or(0, |l| split_line(l, dialect.delimiter).len());
            ((1..=width).map(|i| format!("column_{i}")).collect(), 0, 1)
        };
        let skip = if dialect.has_header { header_line + 1 } else { 0 };
        let body = records(&sample_text, dialect.quoting()).filter(|(line, ..)| *line >= skip);
        let (lines, sample): (Vec<usize>, Vec<String>) = body
            .map(|(line, record, _)| (line + 1, record.strip_suffix('\r').unwrap_or(record)))
            .filter(|(_, record)| !record.trim().is_empty())
            .take(SAMPLE_ROWS)
            .map(|(line, record)| (line, record.to_owned()))
            .unzip();
        let rows: Vec<Vec<String>> =
            sample.iter().map(|line| split_line(line, dialect.delimiter)).collect();
        let mapping =
            propose_with(&names, &rows, &options.mapping).map_err(|error| match error {
                // The sample's rows are lines of the file: say which.
                MappingError::MixedTimes { column, format, row, value, .. } => {
                    let line = lines.get(row).copied();
                    MappingError::MixedTimes { column, format, row, line, value }
                }
                other => other,
            })?;
        let schema = TableBuilder::new(&mapping, &names, options.zone, options.mode, "").schema();
        let plan = Arc::new(Plan {
            dialect,
            names: names.clone(),
            mapping: mapping.clone(),
            zone: options.zone,
            mode: options.mode,
            default_series: options.default_series.clone(),
        });
        head.drain(..body_start.min(head.len()));
        let thread_cpu = Arc::new(AtomicU64::new(0));
        let (results, permits, threads) =
            start(decoder, head, first_line, plan, thread_cpu.clone());
        Ok(Self {
            dialect,
            encoding,
            names,
            mapping,
            schema,
            sample,
            results,
            permits,
            pending: BTreeMap::new(),
            next: 0,
            rejects: Vec::new(),
            rows: 0,
            short: (0, None),
            done: false,
            threads,
            thread_cpu,
        })
    }

    /// The CPU time of the reader's own threads (cutting and parsing), in microseconds:
    /// final once the reader is dropped, which joins them.
    pub fn thread_cpu(&self) -> Arc<AtomicU64> {
        self.thread_cpu.clone()
    }

    /// The dialect the file is written in.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The file's encoding.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The column names, from the header or made up (`column_1`, ...).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How the file is read.
    pub fn mapping(&self) -> &Proposal {
        &self.mapping
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The first data lines, as they are in the file.
    pub fn sample(&self) -> &[String] {
        &self.sample
    }

    /// The rows set aside so far (lenient mode).
    pub fn rejects(&self) -> &[Reject] {
        &self.rejects
    }

    /// Takes the rows set aside so far, so they need not all be held in memory.
    pub fn drain_rejects(&mut self) -> std::vec::Drain<'_, Reject> {
        self.rejects.drain(..)
    }

    /// What the reading found that the person should check: lines with fewer fields than
    /// the header, whose missing values were read as empty.
    pub fn warnings(&self) -> Vec<String> {
        match self.short {
            (0, _) => Vec::new(),
            (count, first) => vec![format!(
                "{count} line{} had fewer fields than the header (the first: line {}); their \
                 missing values were read as empty",
                if count == 1 { "" } else { "s" },
                first.unwrap_or_default()
            )],
        }
    }

    /// Rows handed out so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Reads everything into memory (for small files and tests).
    pub fn read_all(mut self) -> Result<Read, ReadError> {
        let mut batches = Vec::new();
        for batch in &mut self {
            batches.push(batch?);
        }
        if batches.is_empty() {
            batches.push(RecordBatch::new_empty(self.schema.clone()));
        }
        let rejects = std::mem::take(&mut self.rejects);
        Ok(Read { batches, mapping: self.mapping.clone(), encoding: self.encoding, rejects })
    }
}

impl Iterator for Reader {
    type Item = Result<RecordBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let outcome = match self.pending.remove(&self.next) {
                Some(outcome) => outcome,
                None => match self.results.recv() {
                    Ok((sequence, outcome)) => {
                        self.pending.insert(sequence, outcome);
                        continue;
                    }
                    // Every thread has finished and every block was handed out.
                    Err(_) => {
                        self.done = true;
                        return None;
                    }
                },
            };
            self.next += 1;
            // The block leaves the pipeline: the cutter may read another.
            let _ = self.permits.try_recv();
            match outcome {
                Ok(parsed) => {
                    self.rejects.extend(parsed.rejects);
                    self.short.0 += parsed.short.0;
                    self.short.1 = self.short.1.or(parsed.short.1);
                    if let Some(batch) = parsed.batch {
                        self.rows += batch.num_rows() as u64;
                        return Some(Ok(batch));
                    }
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

/// Starts the cutting thread and the parsing threads; returns the parsed blocks (in any
/// order, numbered) and the permits the consumer gives back as it hands blocks out.
fn start(
    mut decoder: Decoder<Box<dyn std::io::Read + Send>>,
    head: Vec<u8>,
    first_line: usize,
    plan: Arc<Plan>,
    cpu: Arc<AtomicU64>,
) -> (Receiver<Outcome>, Receiver<()>, Vec<std::thread::JoinHandle<()>>) {
    let mut threads = Vec::new();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
    let (permit_tx, permit_rx) = sync_channel::<()>(IN_FLIGHT);
    let (block_tx, block_rx) = sync_channel::<Block>(workers);
    let (result_tx, result_rx) = sync_channel::<Outcome>(IN_FLIGHT);
    let block_rx = Arc::new(Mutex::new(block_rx));
    for _ in 0..workers {
        let (blocks, results, plan) = (block_rx.clone(), result_tx.clone(), plan.clone());
        threads.push(metered(cpu.clone(), move || {
            loop {
                let block = match blocks.lock().map(|receiver| receiver.recv()) {
                    Ok(Ok(block)) => block,
                    _ => return,
                };
                let outcome = parse_block(&block.text, block.first_line, &plan);
                if results.send((block.sequence, outcome)).is_err() {
                    return;
                }
            }
        }));
    }
    let quoting = plan.dialect.quoting();
    threads.push(metered(cpu, move || {
        let outcome = cut(&mut decoder, head, first_line, &block_tx, &permit_tx, quoting);
        if let Err((sequence, error)) = outcome {
            let _ = result_tx.send((sequence, Err(error)));
        }
    }));
    (result_rx, permit_rx, threads)
}

/// Starts a thread running `work` and adds the CPU time it took to `cpu`.
fn metered(
    cpu: Arc<AtomicU64>,
    work: impl FnOnce() + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let started = cpu_time::ThreadTime::now();
        work();
        let spent = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        cpu.fetch_add(spent, Ordering::Relaxed);
    })
}

/// Cuts the decoded text into blocks of whole records (lines, or several lines where a
/// quoted field holds line breaks; `quoting` is the separator of a dialect with quotes).
fn cut(
    decoder: &mut Decoder<Box<dyn std::io::Read + Send>>,
    mut buffer: Vec<u8>,
    mut line: usize,
    blocks: &SyncSender<Block>,
    permits: &SyncSender<()>,
    quoting: Option<u8>,
) -> Result<(), (usize, ReadError)> {
    let mut sequence = 0;
    loop {
        let ended = fill(decoder, &mut buffer, BLOCK_BYTES).map_err(|e| (sequence, e.into()))?;
        let end = if ended {
            buffer.len()
        } else {
            let last = match quoting {
                // Without quotes in the block every line is a record.
                Some(separator) if memchr::memchr(b'"', &buffer).is_some() => {
                    crate::dialect::record_ends(&buffer, separator).last().map(|end| end - 1)
                }
                _ => memchr::memrchr(b'\n', &buffer),
            };
            match last {
                Some(at) => at + 1,
                None => {
                    // No record ends in a whole block: read on until one does, or give up.
                    if buffer.len() > MAX_LINE_BYTES {
                        return Err((sequence, ReadError::LineTooLong { line }));
                    }
                    continue;
                }
            }
        };
        if end == 0 {
            return Ok(());
        }
        let rest = buffer.split_off(end);
        let lines = count_lines(&buffer);
        // Waits while too many blocks are in flight; stops when the reader is gone.
        if permits.send(()).is_err() {
            return Ok(());
        }
        if blocks.send(Block { sequence, first_line: line, text: buffer }).is_err() {
            return Ok(());
        }
        sequence += 1;
        line += lines;
        buffer = rest;
        if ended {
            return Ok(());
        }
    }
}

fn count_lines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// Splits a line without quotes at `separator` into `fields`, in one pass; `false` (and
/// nothing split) if the line has a quote and needs the full splitter.
fn split_plain<'a>(line: &'a str, separator: u8, fields: &mut Vec<&'a str>) -> bool {
    let bytes = line.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == separator {
            // The separator is ASCII, so `i` is a character boundary.
            fields.push(&line[start..i]);
            start = i + 1;
        } else if b == b'"' {
            fields.clear();
            return false;
        }
    }
    fields.push(&line[start..]);
    true
}

/// What markup the text starts with (an HTML page or an XML document saved under a table's
/// name), if any.
fn markup(text: &str) -> Option<&'static str> {
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let lower = start.get(..start.len().min(64))?.to_ascii_lowercase();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        Some("an HTML page")
    } else if lower.starts_with("<?xml") {
        Some("an XML document")
    } else if ["<head", "<body", "<table", "<div", "<meta", "<script", "<!--"]
        .iter()
        .any(|tag| lower.starts_with(tag))
    {
        Some("HTML")
    } else {
        None
    }
}

/// Parses one block of whole lines into a batch.
fn parse_block(bytes: &[u8], first_line: usize, plan: &Plan) -> Result<Parsed, ReadError> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    let mut builder =
        TableBuilder::new(&plan.mapping, &plan.names, plan.zone, plan.mode, &plan.default_series);
    // At most a row per line: room for them all at once, instead of growing (and copying)
    // every column a dozen times.
    builder.reserve(memchr::memchr_iter(b'\n', bytes).count() + 1);
    let mut fields: Vec<&str> = Vec::with_capacity(plan.names.len());
    let mut short = (0, None);
    for (offset, line, closed) in records(&text, plan.dialect.quoting()) {
        let number = first_line + offset;
        if !closed {
            return Err(ReadError::UnclosedQuote { line: number });
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > MAX_LINE_BYTES {
            return Err(ReadError::LineTooLong { line: number });
        }
        if variosync_domain::text::trimmed(line).is_empty() {
            continue;
        }
        fields.clear();
        let quoted: Vec<String>;
        let quoted_fields: Vec<&str>;
        let row: &[&str] = match plan.dialect.delimiter {
            Delimiter::Char(separator) if split_plain(line, separator, &mut fields) => &fields,
            Delimiter::Whitespace => {
                fields.extend(line.split_whitespace());
                &fields
            }
            Delimiter::Char(_) => {
                quoted = split_line(line, plan.dialect.delimiter);
                quoted_fields = quoted.iter().map(String::as_str).collect();
                &quoted_fields
            }
        };
        let width = plan.names.len();
        if row.len() < width {
            short.0 += 1;
            short.1.get_or_insert(number);
        } else if row[width..].iter().any(|extra| !extra.trim().is_empty()) {
            // Extra fields with text in them: the row does not fit the header. (Empty ones,
            // from a delimiter at the end of every line, hold nothing to lose.)
            builder.refuse_ragged(number, row.len(), width, line)?;
            continue;
        }
        builder.push(number, row)?;
    }
    let batch = if builder.is_empty() { None } else { Some(builder.finish()?) };
    Ok(Parsed { batch, rejects: builder.rejects().to_vec(), short })
}

/// Reads a whole delimited file held in memory.
pub fn read(bytes: &[u8], options: &ReadOptions) -> Result<Read, ReadError> {
    Reader::new(Box::new(std::io::Cursor::new(bytes.to_vec())), options)?.read_all()
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;

    use super::*;

    fn options(mode: Mode) -> ReadOptions {
        ReadOptions {
            mode,
            zone: Zone::Utc,
            default_series: "upload".into(),
            mapping: Default::default(),
        }
    }

    #[test]
    fn a_european_csv_with_a_bom_reads_whole() {
        let file = "\u{feff}Datum;Schluss;Volumen\n31.01.2024;1.234,5;10\n01.02.2024;1.240,25;12\n";
        let read = read(file.as_bytes(), &options(Mode::Strict)).unwrap();
        assert_eq!(read.batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        assert_eq!(read.mapping.values[0].name, "close", "the German name of the close");
    }

    /// A file of several blocks: `rows` rows of two series, with a bad value on `bad_line`.
    fn big_file(rows: usize, bad_line: usize) -> String {
        let mut file = String::from("\n\nsymbol,date,close,note\n");
        for i in 0..rows {
            let line = i + 4;
            let day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
                + chrono::Days::new((i / 2) as u64);
            let close = if line == bad_line { "oops".to_owned() } else { format!("{i}.5") };
            let note = if i % 1000 == 0 { "\"a, quoted\"" } else { "plain text padding here" };
            file.push_str(&format!("S{},{day},{close},{note}\r\n", i % 2));
        }
        file
    }

    #[test]
    fn a_file_of_many_blocks_streams_in_order_with_true_line_numbers() {
        let rows = 250_000;
        let file = big_file(rows, 200_003);
        assert!(file.len() > 2 * BLOCK_BYTES, "the file spans several blocks");
        let mut reader = Reader::new(
            Box::new(std::io::Cursor::new(file.clone().into_bytes())),
            &options(Mode::Lenient),
        )
        .unwrap();
        assert_eq!(reader.names(), ["symbol", "date", "close", "note"]);
        let mut previous = -1.0;
        let mut count = 0;
        for batch in &mut reader {
            let batch = batch.unwrap();
            let close = batch.column(2).as_primitive::<arrow_array::types::Float64Type>();
            for value in close.values().iter() {
                assert!(*value > previous, "batches come out in file order");
                previous = *value;
            }
            count += batch.num_rows();
        }
        assert_eq!(count, rows - 1);
        assert_eq!(reader.rejects().len(), 1);
        assert_eq!(reader.rejects()[0].line, 200_003, "the line counts the blank lines too");

        let strict =
            Reader::new(Box::new(std::io::Cursor::new(file.into_bytes())), &options(Mode::Strict))
                .unwrap()
                .read_all()
                .unwrap_err()
                .to_string();
        assert!(strict.starts_with("line 200003, column `close`"), "{strict}");
    }

    #[test]
    fn quoted_fields_may_hold_line_breaks_across_blocks() {
        let mut file = String::from("date,close,note\n");
        let mut line = 2;
        let mut bad_line = 0;
        let rows = 200_000;
        for i in 0..rows {
            let day =
                chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + chrono::Days::new(i as u64);
            let close = if i == 150_000 { "oops".to_owned() } else { format!("{i}.5") };
            if i == 150_000 {
                bad_line = line;
            }
            let note = match i % 7 {
                0 => "\"two\r\nlines, \"\"quoted\"\"\"".to_owned(),
                3 => "\"three\nshort\nlines\"".to_owned(),
                _ => "plain text padding here".to_owned(),
            };
            line += note.matches('\n').count() + 1;
            file.push_str(&format!("{day},{close},{note}\n"));
        }
        assert!(file.len() > 2 * BLOCK_BYTES, "the file spans several blocks");
        let whole = read(file.as_bytes(), &options(Mode::Lenient)).unwrap();
        let closes: Vec<f64> = whole
            .batches
            .iter()
            .flat_map(|b| {
                let column = b.column(2).as_primitive::<arrow_array::types::Float64Type>();
                column.values().to_vec()
            })
            .collect();
        assert_eq!(closes.len(), rows - 1, "one record per row, whatever its line breaks");
        assert_eq!(closes[3], 3.5);
        assert_eq!(whole.rejects.len(), 1);
        assert_eq!(whole.rejects[0].line, bad_line, "records are numbered by their first line");

        // A quote that never closes: at the end of the file it is one bad record; earlier,
        // the record grows past the longest line allowed.
        let open =
            "date,close,note\n2024-01-01,1,ok\n2024-01-02,2,\"never closed\n2024-01-03,3,x\n";
        for mode in [Mode::Strict, Mode::Lenient] {
            let error = read(open.as_bytes(), &options(mode)).unwrap_err().to_string();
            assert!(error.starts_with("line 3: a quoted field"), "{error}");
        }
        let mut long = String::from(open);
        long.push_str(&"2024-01-04,4,padding padding\n".repeat(6 * MAX_LINE_BYTES / 20));
        let error = read(long.as_bytes(), &options(Mode::Strict)).unwrap_err().to_string();
        assert!(error.starts_with("line 3 ") && error.contains("never closed"), "{error}");
    }

    #[test]
    fn a_reader_dropped_early_stops_its_threads() {
        let file = big_file(120_000, 0);
        let mut reader =
            Reader::new(Box::new(std::io::Cursor::new(file.into_bytes())), &options(Mode::Strict))
                .unwrap();
        assert!(reader.next().unwrap().is_ok());
        drop(reader);
    }

    #[test]
    fn bad_input_gets_a_specific_error_never_a_panic() {
        let strict = options(Mode::Strict);
        assert!(matches!(read(b"", &strict), Err(ReadError::Dialect(DialectError::Empty))));
        assert!(read(b"\x00\x01\x02\xff\xfe garbage", &strict).is_err(), "binary garbage");
        let long = format!("date,value\n2024-01-01,{}\n", "9".repeat(MAX_LINE_BYTES + 1));
        assert!(matches!(read(long.as_bytes(), &strict), Err(ReadError::LineTooLong { line: 2 })));
        // A line longer than the whole head: the same answer, whatever the compression.
        let endless = format!("date,value\n{}\n", "x".repeat(3 * HEAD_BYTES));
        assert!(matches!(
            read(endless.as_bytes(), &strict),
            Err(ReadError::LineTooLong { line: 2 })
        ));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gzip, endless.as_bytes()).unwrap();
        let gzipped =
            crate::source::open(Box::new(std::io::Cursor::new(gzip.finish().unwrap())), &strict);
        let Err(error) = gzipped else { panic!("a line longer than the head is refused") };
        let error = error.to_string();
        assert!(error.starts_with("line 2 is longer than"), "{error}");
        let truncated = "date,value\n2024-01-01,1\n2024-01-0";
        let error = read(truncated.as_bytes(), &strict).unwrap_err().to_string();
        assert!(error.starts_with("line 3, column `date`"), "{error}");
        let lenient = read(truncated.as_bytes(), &options(Mode::Lenient)).unwrap();
        assert_eq!(lenient.rejects.len(), 1);
        let no_time = read(b"a,b\nx,1\n", &strict).unwrap_err();
        assert!(matches!(no_time, ReadError::Mapping(MappingError::NoTimeColumn { .. })));
        let duplicate_names = read(b"date,x,x\n2024-01-01,1,2\n", &strict).unwrap();
        let names: Vec<&str> =
            duplicate_names.mapping.values.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "x_2"]);
        let mixed = read(
            b"\ntime,close\n2024-01-01 10:00:00,1.5\n2024-01-02T10:00:00Z,1.6\n01/02/2024 10:00,1.6\n\
              1704362400,1.7\n",
            &strict,
        )
        .unwrap_err()
        .to_string();
        assert!(
            mixed.contains("column `time` holds times written in more than one way"),
            "{mixed}"
        );
        assert!(mixed.contains("line 5 has `01/02/2024 10:00`"), "{mixed}");
        let ragged =
            b"time,close,volume\n2024-01-01,1.5,10\n2024-01-02,1.6\n2024-01-03,1.7,12,99\n\
                       2024-01-04,1.8,13\n2024-01-05,1.9,14,\n";
        let error = read(ragged, &strict).unwrap_err().to_string();
        assert!(
            error.starts_with("line 4 has 4 fields where the header names 3 columns"),
            "{error}"
        );
        let mut lenient =
            Reader::new(Box::new(std::io::Cursor::new(ragged.to_vec())), &options(Mode::Lenient))
                .unwrap();
        let rows: usize = (&mut lenient).map(|batch| batch.unwrap().num_rows()).sum();
        assert_eq!(rows, 4, "the long row is set aside; a trailing empty field is nothing");
        assert_eq!(lenient.rejects().len(), 1);
        assert_eq!(lenient.rejects()[0].line, 4);
        let warned = lenient.warnings().join(" ");
        assert!(
            warned.contains("1 line had fewer fields than the header (the first: line 3)"),
            "{warned}"
        );
        let nul = read(b"time,close\n2024-01-01,1.5\n2024-01-02,1\x006\n2024-01-03,1.7\n", &strict)
            .unwrap_err()
            .to_string();
        assert!(nul.starts_with("line 3, column `close`"), "a damaged number is not text: {nul}");
        let said = &duplicate_names.mapping.warnings;
        assert!(
            said.iter().any(|w| w.contains("column 3 is named `x`") && w.contains("`x_2`")),
            "{said:?}"
        );
        for page in [
            &b"<!DOCTYPE html>\n<html><body><table><tr><td>2024-01-01</td></tr></table>"[..],
            b"\xef\xbb\xbf  <html lang=\"en\">\n<head><title>Prices</title></head>\n",
            b"<?xml version=\"1.0\"?>\n<rows><row date=\"2024-01-01\"/></rows>\n",
        ] {
            let error = read(page, &strict).unwrap_err().to_string();
            assert!(error.contains("not a table of values"), "{error}");
        }
    }
}

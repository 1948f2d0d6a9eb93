//! JSON into the canonical table: an array of records, JSON Lines (NDJSON), an object of
//! arrays (`{"date": [...], "close": [...]}`), an object wrapping one array of records
//! (`{"data": [...]}`), and the original product's record shape (`series_id`, `timestamp`,
//! `measurements`, `metadata`, `format`), whose measurements become the value columns.
//!
//! Records are flattened into named text cells (nested objects as `parent.child`) and read
//! with the same mapping and table builder as delimited text, so time, series and value
//! columns, strict and lenient modes and the errors are the same. Arrays of records and
//! JSON Lines stream one record at a time; the two object shapes are read whole, up to
//! [`MAX_DOCUMENT_BYTES`].

use std::io::{BufRead, BufReader, Read};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde_json::{Map, Value};

use crate::delimited::{ReadError, ReadOptions};
use crate::mapping::{Proposal, propose_with};
use crate::table::{Mode, Reject, TableBuilder};

/// Records the columns and mapping are decided from.
const SAMPLE_RECORDS: usize = 1000;
/// The largest single record.
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// The largest document read whole (object shapes).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024 * 1024;
/// Rows per batch.
const BATCH_ROWS: usize = 64 * 1024;

/// How the JSON is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `[{...}, {...}]`.
    Records,
    /// One object per line.
    Lines,
    /// `{"column": [values...], ...}`.
    Columns,
    /// InfluxDB line protocol: `measurement,tag=v field=1.5 1700000000000000000`.
    LineProtocol,
}

/// A record's position: its 1-based line and its text cells by column.
pub(crate) type Row = (usize, Map<String, Value>);

/// Records, one at a time.
enum Records {
    Stream(Box<dyn Iterator<Item = Result<Row, ReadError>> + Send>),
    Buffered(std::vec::IntoIter<Row>),
}

impl Iterator for Records {
    type Item = Result<Row, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Stream(records) => records.next(),
            Self::Buffered(records) => records.next().map(Ok),
        }
    }
}

/// A JSON file being read as canonical record batches.
pub struct JsonReader {
    shape: Shape,
    names: Vec<String>,
    mapping: Proposal,
    schema: SchemaRef,
    sample: Vec<String>,
    pending: std::vec::IntoIter<Row>,
    records: Records,
    builder: TableBuilder,
    mode: Mode,
    rejects: Vec<Reject>,
    done: bool,
    ignored: Vec<String>,
}

impl std::fmt::Debug for JsonReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonReader").field("shape", &self.shape).finish_non_exhaustive()
    }
}

pub(crate) fn json_error(line: usize, message: impl std::fmt::Display) -> ReadError {
    ReadError::Json { line, message: message.to_string() }
}

/// Flattens a record into cells: nested objects become `parent.child`; the original
/// product's `measurements` become top-level columns and its `metadata` and `format` are
/// left out.
fn flatten(record: Map<String, Value>) -> Map<String, Value> {
    let original = matches!(record.get("measurements"), Some(Value::Object(_)));
    let mut out = Map::new();
    fn walk(prefix: &str, value: Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(fields) => {
                for (key, value) in fields {
                    let name = if prefix.is_empty() { key } else { format!("{prefix}.{key}") };
                    walk(&name, value, out);
                }
            }
            other => {
                out.insert(prefix.to_owned(), other);
            }
        }
    }
    for (key, value) in record {
        match key.as_str() {
            "measurements" if original => walk("", value, &mut out),
            "metadata" | "format" if original => {}
            _ => walk(&key, value, &mut out),
        }
    }
    out
}

/// A cell's text, as the table builder reads it.
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        Some(other) => other.to_string(),
    }
}

fn as_record(line: usize, value: Value) -> Result<Row, ReadError> {
    match value {
        Value::Object(record) => Ok((line, flatten(record))),
        other => {
            Err(json_error(line, format!("expected a record (an object), found {}", kind(&other))))
        }
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A record that is not readable JSON, set aside.
fn record_reject(line: usize, message: &str) -> Reject {
    let value = message.chars().take(100).collect();
    Reject { line, column: "(record)".to_owned(), value, expected: "a JSON record".to_owned() }
}

/// The lines of a stream that hold text, numbered from 1, each at most
/// [`MAX_RECORD_BYTES`] long (a longer one ends the stream with an error).
pub(crate) fn numbered_lines(
    input: impl BufRead + Send + 'static,
) -> impl Iterator<Item = Result<(usize, Vec<u8>), ReadError>> + Send {
    let mut lines = input.split(b'\n').enumerate();
    std::iter::from_fn(move || {
        loop {
            let (index, line) = lines.next()?;
            let number = index + 1;
            return Some(match line {
                Err(error) => Err(error.into()),
                Ok(line) if line.len() > MAX_RECORD_BYTES => {
                    Err(ReadError::LineTooLong { line: number })
                }
                Ok(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Ok(line) => Ok((number, line)),
            });
        }
    })
}

/// JSON Lines: one record per line.
fn lines(
    input: impl BufRead + Send + 'static,
) -> impl Iterator<Item = Result<Row, ReadError>> + Send {
    numbered_lines(input).map(|line| {
        let (number, line) = line?;
        serde_json::from_slice::<Value>(&line)
            .map_err(|e| json_error(number, e))
            .and_then(|value| as_record(number, value))
    })
}

/// The elements of a top-level JSON array, one at a time, without holding the array.
struct Elements<R> {
    input: R,
    line: usize,
    started: bool,
    finished: bool,
    buffer: Vec<u8>,
}

impl<R: BufRead> Elements<R> {
    fn byte(&mut self) -> Result<Option<u8>, ReadError> {
        let available = self.input.fill_buf()?;
        let Some(&byte) = available.first() else { return Ok(None) };
        self.input.consume(1);
        if byte == b'\n' {
            self.line += 1;
        }
        Ok(Some(byte))
    }

    fn skip_whitespace(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            match self.byte()? {
                Some(b) if b.is_ascii_whitespace() => {}
                other => return Ok(other),
            }
        }
    }

    /// The next element's bytes and first line, or `None` after the closing bracket.
    fn element(&mut self) -> Result<Option<(usize, Vec<u8>)>, ReadError> {
        if self.finished {
            return Ok(None);
        }
        let mut first = self.skip_whitespace()?;
        if !self.started {
            if first != Some(b'[') {
                return Err(json_error(self.line, "expected `[` to start an array of records"));
            }
            self.started = true;
            first = self.skip_whitespace()?;
            if first == Some(b']') {
                self.finished = true;
                return Ok(None);
            }
        }
        let Some(first) = first else {
            return Err(json_error(self.line, "the file ends inside the array (truncated?)"));
        };
        let line = self.line;
        self.buffer.clear();
        self.buffer.push(first);
        let (mut depth, mut in_string, mut escaped) = (0i32, first == b'"', false);
        if matches!(first, b'{' | b'[') {
            depth = 1;
        }
        loop {
            let Some(byte) = self.byte()? else {
                return Err(json_error(self.line, "the file ends inside a record (truncated?)"));
            };
            if in_string {
                if escaped {
                    escaped = false;
                } else if byte == b'\\' {
                    escaped = true;
                } else if byte == b'"' {
                    in_string = false;
                }
            } else {
                match byte {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => depth -= 1,
                    b',' if depth == 0 => {
                        return Ok(Some((line, std::mem::take(&mut self.buffer))));
                    }
                    b']' => {
                        self.finished = true;
                        return Ok(Some((line, std::mem::take(&mut self.buffer))));
                    }
                    _ => {}
                }
            }
            self.buffer.push(byte);
            if self.buffer.len() > MAX_RECORD_BYTES {
                return Err(json_error(line, "a record is longer than 1 MB"));
            }
        }
    }
}

/// The records of a top-level array.
fn array(
    input: impl BufRead + Send + 'static,
) -> impl Iterator<Item = Result<Row, ReadError>> + Send {
    let mut elements =
        Elements { input, line: 1, started: false, finished: false, buffer: Vec::new() };
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        match elements.element() {
            // A bad record is one reject; the array goes on after it.
            Ok(Some((line, bytes))) => Some(
                serde_json::from_slice::<Value>(&bytes)
                    .map_err(|e| json_error(line, e))
                    .and_then(|value| as_record(line, value)),
            ),
            Ok(None) => None,
            // A broken array cannot be resynchronised: its first structural error ends it.
            Err(error) => {
                failed = true;
                Some(Err(error.into_structural()))
            }
        }
    })
}

/// Keys that wrap a document's records rather than name a series.
const WRAPPERS: [&str; 8] =
    ["data", "records", "rows", "items", "results", "values", "observations", "series"];
/// The column a record's series is put in when its key names it.
const SERIES_KEY: &str = "series_id";

/// The records of a document that is one object: an object of arrays (columns), an object
/// holding one array of records, or an object of records per series.
fn object(document: Value) -> Result<(Shape, Vec<Row>), ReadError> {
    let Value::Object(fields) = document else {
        return Err(json_error(
            1,
            format!("expected an object or an array, found {}", kind(&document)),
        ));
    };
    let is_records =
        |v: &Value| matches!(v, Value::Array(items) if items.first().is_some_and(Value::is_object));
    let arrays_of_records: Vec<&String> =
        fields.iter().filter(|(_, v)| is_records(v)).map(|(k, _)| k).collect();
    // `{"AAPL": [{...}], "MSFT": [{...}]}`: records per series, each key a series (one key
    // that names no series, such as `data`, only wraps the records).
    let per_series = !fields.is_empty()
        && arrays_of_records.len() == fields.len()
        && (fields.len() > 1
            || !arrays_of_records
                .iter()
                .any(|k| WRAPPERS.contains(&k.to_ascii_lowercase().as_str())));
    if per_series {
        let mut rows = Vec::new();
        for (series, value) in fields {
            let Value::Array(items) = value else { unreachable!("every value holds records") };
            for item in items {
                let line = rows.len() + 1;
                let (line, mut record) = as_record(line, item)?;
                record.entry(SERIES_KEY).or_insert_with(|| Value::String(series.clone()));
                rows.push((line, record));
            }
        }
        return Ok((Shape::Records, rows));
    }
    if let [key] = arrays_of_records.as_slice() {
        let key = (*key).clone();
        let Some(Value::Array(items)) = fields.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v)
        else {
            unreachable!("the key was found above");
        };
        let rows = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| as_record(i + 1, v))
            .collect::<Result<_, _>>()?;
        return Ok((Shape::Records, rows));
    }
    let mut columns: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, value) in fields {
        match value {
            Value::Array(values) => columns.push((key, values)),
            other => {
                return Err(json_error(
                    1,
                    format!(
                        "key {key:?} holds {}; an object of columns holds arrays",
                        kind(&other)
                    ),
                ));
            }
        }
    }
    let length = columns.first().map_or(0, |(_, v)| v.len());
    if let Some((key, values)) = columns.iter().find(|(_, v)| v.len() != length) {
        return Err(json_error(
            1,
            format!("column {key:?} has {} values, the first column {length}", values.len()),
        ));
    }
    let mut rows: Vec<Row> = (0..length).map(|i| (i + 1, Map::new())).collect();
    for (key, values) in columns {
        for ((_, row), value) in rows.iter_mut().zip(values) {
            row.insert(key.clone(), value);
        }
    }
    Ok((Shape::Columns, rows))
}

/// Whether `head` (the start of a file) looks like JSON, and of which shape.
pub fn sniff(head: &[u8]) -> Option<Shape> {
    let text = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    match text[start] {
        b'[' => Some(Shape::Records),
        b'{' => {
            // JSON Lines: the first line is a whole object by itself.
            let line_end = text[start..].iter().position(|b| *b == b'\n').map(|i| start + i);
            let first = &text[start..line_end.unwrap_or(text.len())];
            let whole = serde_json::from_slice::<Value>(first).is_ok_and(|v| v.is_object());
            let more =
                line_end.is_some_and(|end| text[end..].iter().any(|b| !b.is_ascii_whitespace()));
            Some(if whole && more { Shape::Lines } else { Shape::Columns })
        }
        _ => None,
    }
}

impl JsonReader {
    /// Reads JSON of `shape` from `input` (which starts at the beginning of the file).
    pub fn new(
        input: Box<dyn Read + Send>,
        shape: Shape,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        let mut input = BufReader::with_capacity(1 << 20, input);
        // A byte-order mark is not part of the JSON.
        if input.fill_buf()?.starts_with(&[0xEF, 0xBB, 0xBF]) {
            input.consume(3);
        }
        let (shape, records) = match shape {
            Shape::Lines => (Shape::Lines, Records::Stream(Box::new(lines(input)))),
            Shape::Records => (Shape::Records, Records::Stream(Box::new(array(input)))),
            Shape::Columns => {
                let mut bytes = Vec::new();
                input.take(MAX_DOCUMENT_BYTES as u64 + 1).read_to_end(&mut bytes)?;
                if bytes.len() > MAX_DOCUMENT_BYTES {
                    return Err(json_error(
                        1,
                        "a JSON object document over 256 MB cannot be read; use an array of records or JSON Lines",
                    ));
                }
                let document: Value =
                    serde_json::from_slice(&bytes).map_err(|e| json_error(e.line(), e))?;
                let (shape, rows) = object(document)?;
                (shape, Records::Buffered(rows.into_iter()))
            }
            Shape::LineProtocol => {
                let records = crate::lineprotocol::records(input);
                let choice = crate::lineprotocol::mapping(&options.mapping);
                let options = ReadOptions { mapping: choice, ..options.clone() };
                return Self::from_records(
                    Shape::LineProtocol,
                    Records::Stream(Box::new(records)),
                    &options,
                );
            }
        };
        Self::from_records(shape, records, options)
    }

    /// Reads `records` (flattened to cells by column name), already split out of a file.
    fn from_records(
        shape: Shape,
        mut records: Records,
        options: &ReadOptions,
    ) -> Result<Self, ReadError> {
        // The sample decides the columns and the mapping.
        let mut sampled: Vec<Row> = Vec::new();
        let mut rejects = Vec::new();
        for record in records.by_ref().take(SAMPLE_RECORDS) {
            match record {
                Ok(row) => sampled.push(row),
                Err(ReadError::Json { line, message }) if options.mode == Mode::Lenient => {
                    rejects.push(record_reject(line, &message));
                }
                Err(error) => return Err(error),
            }
        }
        let mut names: Vec<String> = Vec::new();
        for (_, row) in &sampled {
            for key in row.keys() {
                if !names.contains(key) {
                    names.push(key.clone());
                }
            }
        }
        let rows: Vec<Vec<String>> = sampled
            .iter()
            .map(|(_, row)| names.iter().map(|n| cell(row.get(n))).collect())
            .collect();
        let mapping = propose_with(&names, &rows, &options.mapping)?;
        let builder = TableBuilder::new(
            &mapping,
            &names,
            options.zone,
            options.mode,
            &options.default_series,
        );
        let sample = sampled
            .iter()
            .take(5)
            .map(|(_, row)| serde_json::to_string(row).unwrap_or_default())
            .collect();
        Ok(Self {
            shape,
            schema: builder.schema(),
            names,
            mapping,
            sample,
            pending: sampled.into_iter(),
            records,
            builder,
            mode: options.mode,
            rejects,
            done: false,
            ignored: Vec::new(),
        })
    }

    /// How the JSON is laid out.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The column names found in the sample.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// How the records are read.
    pub fn mapping(&self) -> &Proposal {
        &self.mapping
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The first records, as flattened JSON.
    pub fn sample(&self) -> &[String] {
        &self.sample
    }

    /// Keys found after the sample that are not columns (their values are left out).
    pub fn ignored_keys(&self) -> &[String] {
        &self.ignored
    }

    /// Takes the records set aside so far.
    pub fn drain_rejects(&mut self) -> std::vec::Drain<'_, Reject> {
        self.rejects.drain(..)
    }

    fn push(&mut self, (line, record): Row) -> Result<(), ReadError> {
        for key in record.keys() {
            if !self.names.contains(key) && !self.ignored.contains(key) && self.ignored.len() < 100
            {
                self.ignored.push(key.clone());
            }
        }
        let row: Vec<String> = self.names.iter().map(|name| cell(record.get(name))).collect();
        self.builder.push(line, &row)?;
        self.rejects.extend(self.builder.drain_rejects());
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, ReadError> {
        while self.builder.len() < BATCH_ROWS {
            let record = match self.pending.next() {
                Some(row) => Ok(row),
                None => match self.records.next() {
                    Some(record) => record,
                    None => break,
                },
            };
            match record {
                Ok(row) => self.push(row)?,
                Err(ReadError::Json { line, message }) if self.mode == Mode::Lenient => {
                    self.rejects.push(record_reject(line, &message));
                }
                Err(error) => return Err(error),
            }
        }
        if self.builder.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.builder.finish().map_err(ReadError::from)?))
    }
}

impl Iterator for JsonReader {
    type Item = Result<RecordBatch, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

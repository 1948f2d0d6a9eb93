//! Rows of text, read with a [`Proposal`], into record batches of the canonical schema.
//!
//! In strict mode the first bad value stops the reading with its line, column, value and
//! what was expected. In lenient mode a row with a bad value is set aside whole (never half
//! of it) as a reject, with the same details, and reading goes on.

use std::sync::Arc;

use arrow_array::builder::{
    Float64Builder, Int64Builder, StringBuilder, StringDictionaryBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType, SchemaRef};
use variosync_domain::names::NameKind;
use variosync_domain::schema::{TS_ZONE, canonical_schema};
use variosync_domain::time::{Zone, parse_date_and_time};

use crate::mapping::{Layout, Proposal, TimeSource, ValueKind, WIDE_VALUE};
use crate::numbers::{DecimalMark, is_null, parse_number};

/// What to do with a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first bad value.
    Strict,
    /// Set the row aside and go on.
    Lenient,
}

/// One value that could not be read, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The 1-based line of the file.
    pub line: usize,
    /// The column's name in the file.
    pub column: String,
    /// The value, shortened to 100 characters.
    pub value: String,
    /// What was expected there.
    pub expected: String,
}

/// Why reading stopped.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A value cannot be read (strict mode).
    #[error("line {}, column `{}`: {:?} is not {}", .0.line, .0.column, .0.value, .0.expected)]
    BadValue(Reject),
    /// A line has more fields than the header names columns (strict mode).
    #[error(
        "line {line} has {found} fields where the header names {expected} columns: a delimiter \
         inside an unquoted value, or a row from another table (lenient mode sets such rows aside)"
    )]
    Ragged {
        /// The 1-based line.
        line: usize,
        /// Its fields.
        found: usize,
        /// The header's columns.
        expected: usize,
    },
    /// Assembling the columns failed (a bug).
    #[error("building the table failed")]
    Arrow(#[from] ArrowError),
}

enum Values {
    Integer(Int64Builder),
    Float(Float64Builder),
    Text(StringBuilder),
}

/// A checked value of a row; text is taken from the row again when the row is added.
#[derive(Clone, Copy)]
enum Cell {
    Integer(Option<i64>),
    Float(Option<f64>),
    Text(bool),
}

/// The series column being built. Consecutive rows nearly always share their series, or (in
/// a market dump, every series at one time and then the next) the series that followed this
/// one last time follows it again: both are compared before the dictionary is searched.
#[derive(Default)]
struct SeriesColumn {
    keys: Vec<i32>,
    names: Vec<String>,
    index: std::collections::HashMap<String, i32>,
    /// For each key, the key of the row that last came after one of its rows.
    next: Vec<i32>,
}

impl SeriesColumn {
    fn append(&mut self, name: &str) {
        let key = match self.keys.last() {
            Some(&last) if self.names[last as usize] == name => last,
            Some(&last) => {
                let guess = self.next[last as usize];
                let key = if guess >= 0 && self.names[guess as usize] == name {
                    guess
                } else {
                    self.lookup(name)
                };
                self.next[last as usize] = key;
                key
            }
            None => self.lookup(name),
        };
        self.keys.push(key);
    }

    /// Whether `name` is in the dictionary already (the last name and the guessed next one
    /// are compared first, as in [`Self::append`]).
    fn is_known(&self, name: &str) -> bool {
        match self.keys.last() {
            Some(&last) if self.names[last as usize] == name => true,
            Some(&last)
                if self.next[last as usize] >= 0
                    && self.names[self.next[last as usize] as usize] == name =>
            {
                true
            }
            _ => self.index.contains_key(name),
        }
    }

    /// The key of `name`, added to the dictionary if it is new.
    fn lookup(&mut self, name: &str) -> i32 {
        if let Some(&key) = self.index.get(name) {
            return key;
        }
        let key = self.names.len() as i32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), key);
        self.next.push(-1);
        key
    }

    fn finish(&mut self) -> Result<arrow_array::DictionaryArray<Int32Type>, ArrowError> {
        let keys = arrow_array::Int32Array::from(std::mem::take(&mut self.keys));
        let names = arrow_array::StringArray::from(std::mem::take(&mut self.names));
        self.index.clear();
        self.next.clear();
        arrow_array::DictionaryArray::try_new(keys, Arc::new(names))
    }
}

/// Builds the canonical table from rows.
pub struct TableBuilder {
    proposal: Proposal,
    names: Vec<String>,
    zone: Zone,
    mode: Mode,
    default_series: String,
    schema: SchemaRef,
    series: SeriesColumn,
    ts: TimestampMicrosecondBuilder,
    values: Vec<Values>,
    rejects: Vec<Reject>,
    rows: usize,
    /// The checked cells of the row being added (kept to spare an allocation per row).
    checked: Vec<Cell>,
    /// The series of the row being added, when several columns name it.
    key: String,
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder").field("rows", &self.rows).finish_non_exhaustive()
    }
}

fn shortened(text: &str) -> String {
    text.chars().take(100).collect()
}

impl TableBuilder {
    /// A builder for a file with column `names`, read as `proposal` says; naive times are in
    /// `zone`; rows without a series column belong to `default_series` (the file's name).
    pub fn new(
        proposal: &Proposal,
        names: &[String],
        zone: Zone,
        mode: Mode,
        default_series: &str,
    ) -> Self {
        let data_type = |kind| match kind {
            ValueKind::Integer => DataType::Int64,
            ValueKind::Float => DataType::Float64,
            ValueKind::Text => DataType::Utf8,
        };
        let builder = |kind| match kind {
            ValueKind::Integer => Values::Integer(Int64Builder::new()),
            ValueKind::Float => Values::Float(Float64Builder::new()),
            ValueKind::Text => Values::Text(StringBuilder::new()),
        };
        let (schema, values) = match proposal.layout {
            Layout::Long => (
                canonical_schema(
                    proposal.values.iter().map(|v| (v.name.clone(), data_type(v.kind))),
                ),
                proposal.values.iter().map(|v| builder(v.kind)).collect(),
            ),
            Layout::Wide => {
                // One value column: whole numbers if every series' column holds them.
                let kind = if proposal.values.iter().all(|v| v.kind == ValueKind::Integer) {
                    ValueKind::Integer
                } else {
                    ValueKind::Float
                };
                let schema = canonical_schema([(WIDE_VALUE.to_owned(), data_type(kind))]);
                (schema, vec![builder(kind)])
            }
        };
        Self {
            proposal: proposal.clone(),
            names: names.to_vec(),
            zone,
            mode,
            default_series: default_series.to_owned(),
            schema,
            series: SeriesColumn::default(),
            ts: TimestampMicrosecondBuilder::new().with_timezone(TS_ZONE),
            values,
            rejects: Vec::new(),
            rows: 0,
            checked: Vec::new(),
            key: String::new(),
        }
    }

    /// Makes room for `rows` rows while the builder is empty (a new one, or one just
    /// finished), so that building a batch of about that many copies no column while it
    /// grows.
    pub fn reserve(&mut self, rows: usize) {
        if self.rows > 0 || !self.series.keys.is_empty() {
            return;
        }
        self.series.keys.reserve(rows);
        self.ts = TimestampMicrosecondBuilder::with_capacity(rows).with_timezone(TS_ZONE);
        if self.proposal.layout == Layout::Long {
            for builder in &mut self.values {
                *builder = match builder {
                    Values::Integer(_) => Values::Integer(Int64Builder::with_capacity(rows)),
                    Values::Float(_) => Values::Float(Float64Builder::with_capacity(rows)),
                    Values::Text(_) => Values::Text(StringBuilder::with_capacity(rows, rows * 8)),
                };
            }
        }
    }

    /// The schema of the batches.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Rows added since the last batch.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was added since the last batch.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The rows set aside so far (lenient mode).
    pub fn rejects(&self) -> &[Reject] {
        &self.rejects
    }

    /// Refuses the row on `line`, whose `found` fields are more than the header's
    /// `expected` columns: strict mode stops there, lenient mode sets the row (`text`) aside.
    pub fn refuse_ragged(
        &mut self,
        line: usize,
        found: usize,
        expected: usize,
        text: &str,
    ) -> Result<(), TableError> {
        match self.mode {
            Mode::Strict => Err(TableError::Ragged { line, found, expected }),
            Mode::Lenient => {
                self.rejects.push(Reject {
                    line,
                    column: String::new(),
                    value: shortened(text),
                    expected: format!(
                        "a row of {expected} fields, like the header (it has {found})"
                    ),
                });
                Ok(())
            }
        }
    }

    /// Takes the rows set aside so far.
    pub fn drain_rejects(&mut self) -> std::vec::Drain<'_, Reject> {
        self.rejects.drain(..)
    }

    fn reject(&self, line: usize, index: usize, value: &str, expected: String) -> Reject {
        let column =
            self.names.get(index).cloned().unwrap_or_else(|| format!("column {}", index + 1));
        Reject { line, column, value: shortened(value), expected }
    }

    fn time<S: AsRef<str>>(&self, line: usize, row: &[S]) -> Result<i64, Reject> {
        let cell = |index: usize| row.get(index).map_or("", AsRef::as_ref);
        let (index, result, format) = match self.proposal.time {
            TimeSource::Column { index, format } => {
                (index, format.parse(cell(index), &self.zone), format)
            }
            TimeSource::DateAndTime { date, time, format } => {
                (date, parse_date_and_time(cell(date), cell(time), format, &self.zone), format)
            }
        };
        result.map(|instant| instant.timestamp_micros()).map_err(|error| {
            let mut reject =
                self.reject(line, index, cell(index), format!("a timestamp ({format})"));
            if let variosync_domain::time::TimeError::SkippedByDst(_) = error {
                reject.expected = "a time that exists in the chosen time zone".to_owned();
            }
            reject
        })
    }

    fn cells<S: AsRef<str>>(
        &self,
        line: usize,
        row: &[S],
        out: &mut Vec<Cell>,
    ) -> Result<(), Reject> {
        let decimal = self.proposal.decimal;
        let mark = if decimal == DecimalMark::Comma { "decimal comma" } else { "decimal point" };
        out.clear();
        for value in &self.proposal.values {
            let text = row.get(value.index).map_or("", AsRef::as_ref);
            let cell = if is_null(text) {
                match value.kind {
                    ValueKind::Integer => Cell::Integer(None),
                    ValueKind::Float => Cell::Float(None),
                    ValueKind::Text => Cell::Text(false),
                }
            } else {
                match value.kind {
                    ValueKind::Text => Cell::Text(true),
                    ValueKind::Float => match parse_number(text, decimal) {
                        Some(n) => Cell::Float(Some(n)),
                        None => {
                            let expected = format!("a number (with a {mark})");
                            return Err(self.reject(line, value.index, text, expected));
                        }
                    },
                    ValueKind::Integer => {
                        match parse_number(text, decimal)
                            .filter(|n| n.fract() == 0.0 && n.abs() < 9.0e15)
                        {
                            Some(n) => Cell::Integer(Some(n as i64)),
                            None => {
                                let expected = "a whole number".to_owned();
                                return Err(self.reject(line, value.index, text, expected));
                            }
                        }
                    }
                }
            };
            out.push(cell);
        }
        Ok(())
    }

    /// Refuses a row: strict mode stops with `reject`, lenient mode sets the row aside.
    fn refuse(&mut self, reject: Reject) -> Result<(), TableError> {
        match self.mode {
            Mode::Strict => Err(TableError::BadValue(reject)),
            Mode::Lenient => {
                self.rejects.push(reject);
                Ok(())
            }
        }
    }

    /// Adds one row, found on `line` (1-based) of the file. A row is checked whole before
    /// any of it is added.
    pub fn push<S: AsRef<str>>(&mut self, line: usize, row: &[S]) -> Result<(), TableError> {
        let mut cells = std::mem::take(&mut self.checked);
        let checked =
            self.time(line, row).and_then(|ts| self.cells(line, row, &mut cells).map(|()| ts));
        let ts = match checked {
            Ok(ts) => ts,
            Err(reject) => {
                self.checked = cells;
                return self.refuse(reject);
            }
        };
        if self.proposal.layout == Layout::Wide {
            self.push_wide(ts, &cells);
            self.checked = cells;
            return Ok(());
        }
        let cell = |index: usize| {
            row.get(index)
                .map(|s| variosync_domain::text::trimmed(s.as_ref()))
                .filter(|s| !is_null(s))
        };
        let series: &str = match self.proposal.series.as_slice() {
            [] => &self.default_series,
            [one] => cell(*one).unwrap_or(&self.default_series),
            several => {
                self.key.clear();
                for (n, index) in several.iter().enumerate() {
                    if n > 0 {
                        self.key.push('/');
                    }
                    self.key.push_str(cell(*index).unwrap_or(""));
                }
                if self.key.len() + 1 == several.len() { &self.default_series } else { &self.key }
            }
        };
        // A new series name must be a name (see `variosync_domain::names`).
        if !self.series.is_known(series)
            && let Err(error) = variosync_domain::names::check(NameKind::Series, series)
        {
            let index = self.proposal.series.first().copied().unwrap_or_default();
            let reject = self.reject(line, index, series, format!("a series name ({error})"));
            self.checked = cells;
            return self.refuse(reject);
        }
        self.series.append(series);
        self.ts.append_value(ts);
        for ((builder, cell), value) in
            self.values.iter_mut().zip(&cells).zip(&self.proposal.values)
        {
            match (builder, *cell) {
                (Values::Integer(b), Cell::Integer(v)) => b.append_option(v),
                (Values::Float(b), Cell::Float(v)) => b.append_option(v),
                (Values::Text(b), Cell::Text(present)) => {
                    b.append_option(present.then(|| row.get(value.index).map_or("", AsRef::as_ref)))
                }
                _ => unreachable!("cells are made from the same proposal as the builders"),
            }
        }
        self.checked = cells;
        self.rows += 1;
        Ok(())
    }

    /// Adds a checked row of a wide table: a row per series (column) with a value.
    fn push_wide(&mut self, ts: i64, cells: &[Cell]) {
        for (value, cell) in self.proposal.values.iter().zip(cells) {
            let name = self.names.get(value.index).map_or("", |n| n.trim());
            match (&mut self.values[0], *cell) {
                (Values::Integer(b), Cell::Integer(Some(v))) => b.append_value(v),
                (Values::Float(b), Cell::Float(Some(v))) => b.append_value(v),
                (Values::Float(b), Cell::Integer(Some(v))) => b.append_value(v as f64),
                // An empty cell: this series has no value at this time.
                _ => continue,
            }
            self.series.append(name);
            self.ts.append_value(ts);
            self.rows += 1;
        }
    }

    /// The rows added so far as one batch; the builder starts empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, TableError> {
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(self.series.finish()?), Arc::new(self.ts.finish())];
        for builder in &mut self.values {
            columns.push(match builder {
                Values::Integer(b) => Arc::new(b.finish()),
                Values::Float(b) => Arc::new(b.finish()),
                Values::Text(b) => Arc::new(b.finish()),
            });
        }
        self.rows = 0;
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// A canonical batch with one float column called `column`, from (series, microseconds
/// since 1970, value) points in the given order.
pub fn from_points(column: &str, points: &[(&str, i64, f64)]) -> Result<RecordBatch, TableError> {
    let mut series = StringDictionaryBuilder::<Int32Type>::new();
    let mut ts = TimestampMicrosecondBuilder::new().with_timezone(TS_ZONE);
    let mut values = Float64Builder::new();
    for (name, at, value) in points {
        series.append_value(name);
        ts.append_value(*at);
        values.append_value(*value);
    }
    let schema = canonical_schema([(column.to_owned(), DataType::Float64)]);
    let columns: Vec<ArrayRef> =
        vec![Arc::new(series.finish()), Arc::new(ts.finish()), Arc::new(values.finish())];
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int64Type, TimestampMicrosecondType};

    use super::*;
    use crate::mapping::propose;

    fn split(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
        let mut lines =
            text.lines().map(|line| line.split(',').map(str::to_owned).collect::<Vec<_>>());
        let names = lines.next().unwrap();
        (names, lines.collect())
    }

    fn build(text: &str, mode: Mode) -> (Result<RecordBatch, TableError>, Vec<Reject>) {
        let (names, rows) = split(text);
        let proposal = propose(&names, &rows[..1]).unwrap();
        let mut builder = TableBuilder::new(&proposal, &names, Zone::Utc, mode, "file");
        for (i, row) in rows.iter().enumerate() {
            if let Err(error) = builder.push(i + 2, row) {
                return (Err(error), builder.rejects().to_vec());
            }
        }
        (builder.finish(), builder.rejects().to_vec())
    }

    fn labels(batch: &RecordBatch) -> Vec<String> {
        let series = batch.column(0).as_dictionary::<Int32Type>();
        let names = series.values().as_string::<i32>();
        series.keys().values().iter().map(|k| names.value(*k as usize).to_owned()).collect()
    }

    fn build_all(text: &str) -> RecordBatch {
        let (names, rows) = split(text);
        let proposal = propose(&names, &rows).unwrap();
        let mut builder = TableBuilder::new(&proposal, &names, Zone::Utc, Mode::Strict, "file");
        for (i, row) in rows.iter().enumerate() {
            builder.push(i + 2, row).unwrap();
        }
        builder.finish().unwrap()
    }

    #[test]
    fn series_names_keep_their_own_key_in_any_order() {
        let mut column = SeriesColumn::default();
        // Interleaved (the guess of the next series holds), then a new order (it fails), then
        // runs of one series.
        let names = ["a", "b", "c", "a", "b", "c", "c", "a", "b", "b", "d", "a", "a", "d"];
        for name in names {
            column.append(name);
        }
        let series = column.finish().unwrap();
        let values = series.values().as_string::<i32>();
        let read: Vec<&str> =
            series.keys().values().iter().map(|k| values.value(*k as usize)).collect();
        assert_eq!(read, names);
        assert_eq!(values.len(), 4, "each name once in the dictionary");
        // The column starts afresh after `finish`.
        column.append("d");
        column.append("a");
        let series = column.finish().unwrap();
        assert_eq!(series.values().as_string::<i32>().value(0), "d");
        assert_eq!(series.keys().values().to_vec(), vec![0, 1]);
    }

    #[test]
    fn a_series_name_with_hidden_characters_is_refused_by_line_and_column() {
        let file =
            "date,symbol,close\n2024-01-01,AAA,1\n2024-01-02,B\u{202E}B,2\n2024-01-03,AAA,3\n";
        let (result, _) = build(file, Mode::Strict);
        let error = result.unwrap_err().to_string();
        assert!(error.starts_with("line 3, column `symbol`"), "{error}");
        assert!(error.contains("bidirectional text control (U+202E)"), "{error}");
        let (result, rejects) = build(file, Mode::Lenient);
        assert_eq!(labels(&result.unwrap()), ["AAA", "AAA"]);
        assert_eq!(rejects.len(), 1);
        assert_eq!(rejects[0].line, 3);
    }

    #[test]
    fn a_wide_table_becomes_a_series_per_column_without_its_empty_cells() {
        let batch = build_all(
            "Date,AAPL,MSFT\n2024-01-02,185.5,370.9\n2024-01-03,,371.5\n2024-01-04,186,\n",
        );
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["series_id", "ts", "value"]);
        assert_eq!(labels(&batch), ["AAPL", "MSFT", "MSFT", "AAPL"]);
        assert_eq!(
            batch.column(2).as_primitive::<Float64Type>().values(),
            &[185.5, 370.9, 371.5, 186.0]
        );
    }

    #[test]
    fn several_series_columns_join_into_one_series_name() {
        let mut text = String::from("Store,Dept,Date,Weekly_Sales\n");
        for week in ["2010-02-05", "2010-02-12"] {
            for (store, dept) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
                text.push_str(&format!("{store},{dept},{week},{}.5\n", store * 100 + dept));
            }
        }
        let batch = build_all(&text);
        assert_eq!(batch.num_rows(), 8);
        assert_eq!(labels(&batch)[..4], ["1/1", "1/2", "2/1", "2/2"]);
    }

    #[test]
    fn rows_become_a_canonical_batch() {
        let (batch, rejects) = build(
            "symbol,date,close,volume\nAAPL,2024-01-02,185.5,100\nMSFT,2024-01-02T12:00:00+02:00,NA,\n",
            Mode::Strict,
        );
        let batch = batch.unwrap();
        assert!(rejects.is_empty());
        assert_eq!(batch.num_rows(), 2);
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["series_id", "ts", "close", "volume"]);
        let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.value(1), 1_704_189_600_000_000, "12:00 at +02:00 is 10:00 UTC");
        let close = batch.column(2).as_primitive::<Float64Type>();
        assert_eq!(close.value(0), 185.5);
        assert!(close.is_null(1), "NA is null");
        assert!(batch.column(3).as_primitive::<Int64Type>().is_null(1), "empty is null");
        let series = batch.column(0).as_dictionary::<Int32Type>();
        let labels = series.values().as_string::<i32>();
        assert_eq!(labels.value(series.keys().value(1) as usize), "MSFT");
    }

    #[test]
    fn strict_mode_stops_at_the_first_bad_value_naming_line_column_and_expectation() {
        let (batch, _) =
            build("date,close\n2024-01-02,1.5\n2024-01-03,oops\n2024-13-45,2\n", Mode::Strict);
        let error = batch.unwrap_err().to_string();
        assert_eq!(
            error,
            "line 3, column `close`: \"oops\" is not a number (with a decimal point)"
        );
    }

    #[test]
    fn lenient_mode_sets_bad_rows_aside_whole_and_goes_on() {
        let (batch, rejects) = build(
            "date,close,volume\n2024-01-02,1.5,10\n2024-01-03,2.5,x\n2024-13-45,2,1\n2024-01-05,3.5,30\n",
            Mode::Lenient,
        );
        let batch = batch.unwrap();
        assert_eq!(batch.num_rows(), 2, "only whole good rows are kept");
        assert_eq!(rejects.len(), 2);
        assert_eq!(
            (rejects[0].line, rejects[0].column.as_str(), rejects[0].expected.as_str()),
            (3, "volume", "a whole number")
        );
        assert_eq!((rejects[1].line, rejects[1].column.as_str()), (4, "date"));
        assert!(rejects[1].expected.starts_with("a timestamp"));
        // A single series, named after the file.
        let series = batch.column(0).as_dictionary::<Int32Type>();
        assert_eq!(series.values().as_string::<i32>().value(0), "file");
    }
}

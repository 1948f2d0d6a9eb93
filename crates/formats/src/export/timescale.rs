//! A psql script that loads the export into PostgreSQL or TimescaleDB in one transaction:
//! `CREATE TABLE` with the columns' types (a hypertable on the time where the timescaledb
//! extension is installed), then the rows as `COPY ... FROM STDIN` CSV. `psql -f` runs it.
//!
//! Floats are written in their shortest exact form (`NaN`, `Infinity` and `-Infinity` as
//! PostgreSQL spells them), times in UTC; a null is an empty field and empty text is `""`,
//! so the two stay apart.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_schema::DataType;

use super::{BatchWriter, ExportError, ExportOptions, Sink, Times, series_of, times_of};

pub(super) struct Timescale<W: Write> {
    out: Sink<W>,
    times: Times,
    line: String,
}

/// `name` as a quoted identifier.
pub(super) fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a quoted string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A CSV field for COPY: quoted when empty (an unquoted empty field is a null) or when it
/// holds a delimiter, quote, line break or backslash (so no line reads as the end marker).
fn push_field(line: &mut String, text: &str) {
    if text.is_empty() || text.contains([',', '"', '\n', '\r', '\\']) {
        line.push('"');
        line.push_str(&text.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(text);
    }
}

impl<W: Write> Timescale<W> {
    pub(super) fn new(
        mut out: Sink<W>,
        schema: &arrow_schema::Schema,
        options: &ExportOptions,
    ) -> Result<Self, ExportError> {
        let table = identifier(options.table_name());
        let mut columns = Vec::new();
        let mut names = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            let kind = match (index, field.data_type()) {
                (0, _) => "text NOT NULL",
                (1, _) => "timestamptz NOT NULL",
                (_, DataType::Float64) => "double precision",
                (_, DataType::Int64) => "bigint",
                (_, DataType::Boolean) => "boolean",
                _ => "text",
            };
            columns.push(format!("    {} {kind}", identifier(field.name())));
            names.push(identifier(field.name()));
        }
        let script = format!(
            "-- Load with: psql -v ON_ERROR_STOP=1 -f THIS_FILE\n\
             \\set ON_ERROR_STOP on\n\
             BEGIN;\n\
             CREATE TABLE IF NOT EXISTS {table} (\n{}\n);\n\
             DO $$\n\
             BEGIN\n\
             \x20   IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') THEN\n\
             \x20       PERFORM create_hypertable({}, {}, if_not_exists => TRUE, \
             migrate_data => TRUE);\n\
             \x20   END IF;\n\
             END\n\
             $$;\n\
             COPY {table} ({}) FROM STDIN WITH (FORMAT csv);\n",
            columns.join(",\n"),
            literal(&table),
            literal(schema.field(1).name()),
            names.join(", "),
        );
        out.write_all(script.as_bytes())?;
        Ok(Self {
            out,
            times: Times { format: super::TimeFormat::Rfc3339, zone: chrono_tz::UTC },
            line: String::new(),
        })
    }
}

impl<W: Write + Send> BatchWriter for Timescale<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        let series = series_of(batch)?;
        let times = times_of(batch);
        let mut line = std::mem::take(&mut self.line);
        for (row, &at) in times.iter().enumerate() {
            line.clear();
            push_field(&mut line, series.value(row));
            line.push(',');
            self.times.push(&mut line, at);
            for column in batch.columns().iter().skip(2) {
                line.push(',');
                if column.is_null(row) {
                    continue;
                }
                match column.data_type() {
                    DataType::Float64 => {
                        let value = column.as_primitive::<Float64Type>().value(row);
                        if value.is_nan() {
                            line.push_str("NaN");
                        } else if value.is_infinite() {
                            line.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
                        } else {
                            let _ = write!(line, "{value:?}");
                        }
                    }
                    DataType::Int64 => {
                        let _ = write!(line, "{}", column.as_primitive::<Int64Type>().value(row));
                    }
                    DataType::Boolean => {
                        line.push_str(if column.as_boolean().value(row) { "true" } else { "false" })
                    }
                    _ => push_field(&mut line, column.as_string::<i32>().value(row)),
                }
            }
            line.push('\n');
            self.out.write_all(line.as_bytes())?;
        }
        self.line = line;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), ExportError> {
        self.out.write_all(b"\\.\nCOMMIT;\n")?;
        self.out.finish()
    }
}

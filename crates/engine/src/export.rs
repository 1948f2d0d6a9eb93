//! Writing canonical batches back out as CSV: `series_id`, `ts` (RFC 3339, UTC, with
//! fractions only when there are some), then the value columns; numbers in their shortest
//! exact form, text quoted when it needs to be, nulls empty.

use std::io::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::duplicates::Keys;

fn field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// An RFC 3339 time in UTC for microseconds since 1970.
pub fn rfc3339(micros: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(micros) {
        Some(at) if micros % 1_000_000 == 0 => at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(at) => at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => micros.to_string(),
    }
}

/// Writes the header for batches of this schema.
pub fn write_header(schema: &arrow_schema::Schema, out: &mut impl Write) -> std::io::Result<()> {
    let names: Vec<_> = schema.fields().iter().map(|f| field(f.name()).into_owned()).collect();
    writeln!(out, "{}", names.join(","))
}

/// Writes the rows of a canonical batch.
pub fn write_rows(batch: &RecordBatch, out: &mut impl Write) -> std::io::Result<()> {
    let keys = Keys::of(batch);
    let mut line = String::new();
    for row in 0..batch.num_rows() {
        line.clear();
        line.push_str(&field(keys.series(row)));
        line.push(',');
        line.push_str(&rfc3339(keys.times()[row]));
        for column in batch.columns().iter().skip(2) {
            line.push(',');
            if column.is_null(row) {
                continue;
            }
            match column.data_type() {
                DataType::Float64 => {
                    line.push_str(&column.as_primitive::<Float64Type>().value(row).to_string())
                }
                DataType::Int64 => {
                    line.push_str(&column.as_primitive::<Int64Type>().value(row).to_string())
                }
                DataType::Boolean => line.push_str(&column.as_boolean().value(row).to_string()),
                DataType::Utf8 => line.push_str(&field(column.as_string::<i32>().value(row))),
                _ => {}
            }
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Visits the rows of `part` (read through `file`, its file opened with
/// [`crate::window::Part::open_file_handle`]) to export, in series and time order: of each of `series` (every
/// series if empty, in one pass), between `from` and `to` inclusive, with the value columns
/// named in `columns` (all of them if empty), as canonical batches (series, time, values).
pub fn scan_rows(
    part: &crate::window::Part,
    file: &std::fs::File,
    series: &[String],
    from: i64,
    to: i64,
    columns: &[String],
    mut visit: impl FnMut(&RecordBatch) -> Result<(), crate::window::QueryError>,
) -> Result<(), crate::window::QueryError> {
    let indices = if columns.is_empty() {
        (2..part.columns().len() + 2).collect::<Vec<_>>()
    } else {
        columns.iter().map(|name| part.column_index(name)).collect::<Result<Vec<_>, _>>()?
    };
    let mut visit = |batch: &RecordBatch| visit(batch).map(|()| true);
    if series.is_empty() {
        return part.scan_file(file, None, from, to, &indices, &mut visit);
    }
    let mut sorted: Vec<&String> = series.iter().collect();
    sorted.sort();
    sorted.dedup();
    for one in sorted {
        part.scan_file(file, Some(one), from, to, &indices, &mut visit)?;
    }
    Ok(())
}

//! OpenMetrics text: a gauge family per value column (its name made a metric name), a
//! sample per row with the series as the `series` label and the time in seconds, then
//! `# EOF`. Families may not interleave, so the first column is written as rows arrive
//! and each other column waits in a temporary file until the end: memory stays bounded.
//!
//! Booleans are written as 1 and 0; a null is no sample (how OpenMetrics says "no value");
//! a text column cannot be a metric and is refused by name.

use std::io::{BufWriter, Seek, Write};

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_schema::DataType;

use super::{BatchWriter, ExportError, Sink, push_scaled, series_of, times_of};

pub(super) struct OpenMetrics<W: Write> {
    out: Sink<W>,
    /// The metric name of each value column.
    metrics: Vec<String>,
    /// The samples of the second and later value columns, until the end.
    spilled: Vec<BufWriter<std::fs::File>>,
    line: String,
}

/// `name` as a metric name: letters, digits, `_` and `:`, not starting with a digit.
fn metric_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == ':' { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value, escaped.
fn push_label(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

impl<W: Write> OpenMetrics<W> {
    pub(super) fn new(out: Sink<W>, schema: &arrow_schema::Schema) -> Result<Self, ExportError> {
        let mut metrics: Vec<String> = Vec::new();
        for field in schema.fields().iter().skip(2) {
            if field.data_type() == &DataType::Utf8 {
                return Err(ExportError::Unrepresentable(format!(
                    "OpenMetrics holds numbers only, and the column {} is text; leave it out \
                     (choose the columns) or export to CSV, Parquet or Arrow instead",
                    field.name()
                )));
            }
            let base = metric_name(field.name());
            let mut name = base.clone();
            let mut n = 2;
            while metrics.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            metrics.push(name);
        }
        if metrics.is_empty() {
            return Err(ExportError::Unrepresentable(
                "OpenMetrics needs a value column, and the export has none".to_owned(),
            ));
        }
        let spilled = (1..metrics.len())
            .map(|_| tempfile::tempfile().map(|file| BufWriter::with_capacity(64 * 1024, file)))
            .collect::<Result<_, _>>()?;
        let mut writer = Self { out, metrics, spilled, line: String::new() };
        let header = writer.family_header(0, schema.field(2).name());
        writer.out.write_all(header.as_bytes())?;
        for index in 1..writer.metrics.len() {
            let header = writer.family_header(index, schema.field(index + 2).name());
            writer.spilled[index - 1].write_all(header.as_bytes())?;
        }
        Ok(writer)
    }

    fn family_header(&self, index: usize, column: &str) -> String {
        let name = &self.metrics[index];
        let mut help = String::new();
        push_label(&mut help, column);
        format!("# TYPE {name} gauge\n# HELP {name} The column {help}.\n")
    }
}

impl<W: Write + Send> BatchWriter for OpenMetrics<W> {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ExportError> {
        use std::fmt::Write as _;
        let series = series_of(batch)?;
        let times = times_of(batch);
        let mut line = std::mem::take(&mut self.line);
        for (index, column) in batch.columns().iter().enumerate().skip(2) {
            let metric = index - 2;
            line.clear();
            let mut labels: Option<(usize, String)> = None;
            for (row, &at) in times.iter().enumerate() {
                if column.is_null(row) {
                    continue;
                }
                let name = series.value(row);
                if labels.as_ref().is_none_or(|(of, _)| series.value(*of) != name) {
                    let mut text = format!("{}{{series=\"", self.metrics[metric]);
                    push_label(&mut text, name);
                    text.push_str("\"} ");
                    labels = Some((row, text));
                }
                line.push_str(labels.as_ref().map(|(_, l)| l.as_str()).unwrap_or_default());
                match column.data_type() {
                    DataType::Float64 => {
                        let value = column.as_primitive::<Float64Type>().value(row);
                        if value.is_nan() {
                            line.push_str("NaN");
                        } else if value.is_infinite() {
                            line.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
                        } else {
                            let _ = write!(line, "{value:?}");
                        }
                    }
                    DataType::Int64 => {
                        let _ = write!(line, "{}", column.as_primitive::<Int64Type>().value(row));
                    }
                    _ => line.push(if column.as_boolean().value(row) { '1' } else { '0' }),
                }
                line.push(' ');
                push_scaled(&mut line, at, 1_000_000);
                line.push('\n');
            }
            match metric {
                0 => self.out.write_all(line.as_bytes())?,
                n => self.spilled[n - 1].write_all(line.as_bytes())?,
            }
        }
        self.line = line;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(), ExportError> {
        let OpenMetrics { mut out, spilled, .. } = *self;
        for spill in spilled {
            let mut file = spill.into_inner().map_err(|e| e.into_error())?;
            file.rewind()?;
            std::io::copy(&mut file, &mut out)?;
        }
        out.write_all(b"# EOF\n")?;
        out.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_are_made_valid() {
        assert_eq!(metric_name("Adj Close"), "Adj_Close");
        assert_eq!(metric_name("2m temp"), "_2m_temp");
        let mut label = String::new();
        push_label(&mut label, "a\"b\\c\nd");
        assert_eq!(label, "a\\\"b\\\\c\\nd");
    }
}

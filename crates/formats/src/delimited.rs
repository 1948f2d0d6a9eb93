//! Delimited text (CSV, TSV, semicolon, pipe, whitespace) into the canonical table: decode,
//! sniff the dialect, propose (or take) the mapping, read every row in strict or lenient
//! mode, and hand out record batches of a bounded number of rows.

use arrow_array::RecordBatch;
use variosync_domain::time::Zone;

use crate::dialect::{DialectError, sniff, split_line};
use crate::encoding::{Encoding, decode};
use crate::mapping::{MappingError, Proposal, propose};
use crate::table::{Mode, Reject, TableBuilder, TableError};

/// Rows per record batch.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Rows the mapping is proposed from.
const SAMPLE_ROWS: usize = 1000;
/// The longest line accepted; a longer one is not a table row.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// How to read a file.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Strict or lenient.
    pub mode: Mode,
    /// The zone of timestamps without an offset.
    pub zone: Zone,
    /// The series of files without a series column (usually the file's name).
    pub default_series: String,
    /// A mapping chosen by the person, instead of the proposed one.
    pub mapping: Option<Proposal>,
}

/// A file read into the canonical table.
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
    #[error("line {line} is longer than {MAX_LINE_BYTES} bytes: this does not look like a table")]
    LineTooLong {
        /// The 1-based line number.
        line: usize,
    },
}

/// Reads a whole delimited file.
pub fn read(bytes: &[u8], options: &ReadOptions) -> Result<Read, ReadError> {
    let (text, encoding) = decode(bytes);
    if let Some(line) = text.lines().position(|line| line.len() > MAX_LINE_BYTES) {
        return Err(ReadError::LineTooLong { line: line + 1 });
    }
    let sample: String = text.lines().take(SAMPLE_ROWS + 1).collect::<Vec<_>>().join("\n");
    let dialect = sniff(&sample)?;
    let mut lines = text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
    let names: Vec<String> = if dialect.has_header {
        lines.next().map(|(_, line)| split_line(line, dialect.delimiter)).unwrap_or_default()
    } else {
        let width =
            sample.lines().next().map_or(0, |line| split_line(line, dialect.delimiter).len());
        (1..=width).map(|i| format!("column_{i}")).collect()
    };
    let rows = lines.map(|(index, line)| (index + 1, split_line(line, dialect.delimiter)));
    let mapping = match &options.mapping {
        Some(mapping) => mapping.clone(),
        None => {
            let sample_rows: Vec<Vec<String>> =
                rows.clone().take(SAMPLE_ROWS).map(|(_, row)| row).collect();
            propose(&names, &sample_rows)?
        }
    };
    let mut builder =
        TableBuilder::new(&mapping, &names, options.zone, options.mode, &options.default_series);
    let mut batches = Vec::new();
    for (line, row) in rows {
        builder.push(line, &row)?;
        if builder.len() >= BATCH_ROWS {
            batches.push(builder.finish()?);
        }
    }
    if !builder.is_empty() || batches.is_empty() {
        batches.push(builder.finish()?);
    }
    Ok(Read { batches, mapping, encoding, rejects: builder.rejects().to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(mode: Mode) -> ReadOptions {
        ReadOptions { mode, zone: Zone::Utc, default_series: "upload".into(), mapping: None }
    }

    #[test]
    fn a_european_csv_with_a_bom_reads_whole() {
        let file = "\u{feff}Datum;Schluss;Volumen\n31.01.2024;1.234,5;10\n01.02.2024;1.240,25;12\n";
        let read = read(file.as_bytes(), &options(Mode::Strict)).unwrap();
        assert_eq!(read.batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
        assert_eq!(read.mapping.values[0].name, "Schluss");
    }

    #[test]
    fn bad_input_gets_a_specific_error_never_a_panic() {
        let strict = options(Mode::Strict);
        assert!(matches!(read(b"", &strict), Err(ReadError::Dialect(DialectError::Empty))));
        assert!(read(b"\x00\x01\x02\xff\xfe garbage", &strict).is_err(), "binary garbage");
        let long = format!("date,value\n2024-01-01,{}\n", "9".repeat(MAX_LINE_BYTES + 1));
        assert!(matches!(read(long.as_bytes(), &strict), Err(ReadError::LineTooLong { line: 2 })));
        let truncated = "date,value\n2024-01-01,1\n2024-01-0";
        let error = read(truncated.as_bytes(), &strict).unwrap_err().to_string();
        assert!(error.starts_with("line 3, column `date`"), "{error}");
        let lenient = read(truncated.as_bytes(), &options(Mode::Lenient)).unwrap();
        assert_eq!(lenient.rejects.len(), 1);
        let no_time = read(b"a,b\nx,1\n", &strict).unwrap_err();
        assert!(matches!(no_time, ReadError::Mapping(MappingError::NoTimeColumn)));
        let duplicate_names = read(b"date,x,x\n2024-01-01,1,2\n", &strict).unwrap();
        let names: Vec<&str> =
            duplicate_names.mapping.values.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "x_2"]);
    }
}

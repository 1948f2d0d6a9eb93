//! Writing the canonical table as Parquet: sorted by series and time, zstd-compressed, in
//! row groups small enough that a time-window query skips most of them, with page-level
//! statistics so that it can skip pages inside a row group too.

use std::io::Write;

use arrow_array::RecordBatch;
use arrow_ord::sort::{SortColumn, lexsort_to_indices};
use arrow_schema::{DataType, SortOptions};
use arrow_select::take::take_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Rows per row group: about a second of scanning at worst, and fine-grained enough that
/// a window over a long series reads a small fraction of the file.
pub const ROW_GROUP_ROWS: usize = 256 * 1024;

/// The zstd level of dataset files.
const ZSTD_LEVEL: i32 = 1;

/// Why writing failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Sorting or slicing the batch failed (a bug).
    #[error("sorting the table failed")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The Parquet encoder or the output failed.
    #[error("writing Parquet failed")]
    Parquet(#[from] ParquetError),
}

/// The properties every dataset file of `schema` is written with. Only text columns (the
/// series, text values) are dictionary-encoded: times and numbers are mostly distinct, and
/// building a dictionary for them costs time only to be thrown away.
pub fn writer_properties(schema: &arrow_schema::Schema) -> WriterProperties {
    let sorted = |column_idx| SortingColumn { column_idx, descending: false, nulls_first: false };
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![sorted(0), sorted(1)]))
        .set_dictionary_enabled(false);
    for field in schema.fields() {
        let path = ColumnPath::from(field.name().as_str());
        builder = match field.data_type() {
            DataType::Utf8 | DataType::Dictionary(_, _) => {
                builder.set_column_dictionary_enabled(path, true)
            }
            // Sorted times differ by a near-constant step: deltas pack into a few bits.
            DataType::Timestamp(_, _) => {
                builder.set_column_encoding(path, Encoding::DELTA_BINARY_PACKED)
            }
            _ => builder,
        };
    }
    builder.build()
}

/// The batch in (series, time) order; rows with equal keys keep their order.
pub fn sort_by_series_and_time(batch: &RecordBatch) -> Result<RecordBatch, WriteError> {
    let key = |index: usize| SortColumn {
        values: batch.column(index).clone(),
        options: Some(SortOptions { descending: false, nulls_first: false }),
    };
    // The row number breaks ties: the sort itself is not stable, and the duplicate policy
    // needs equal keys in file order.
    let position = SortColumn {
        values: std::sync::Arc::new(arrow_array::UInt64Array::from_iter_values(
            0..batch.num_rows() as u64,
        )),
        options: None,
    };
    let indices = lexsort_to_indices(&[key(0), key(1), position], None)?;
    Ok(take_record_batch(batch, &indices)?)
}

/// Writes already sorted batches of one schema as one Parquet file to `out`; returns the
/// rows written.
pub fn write_sorted<W: Write + Send>(
    batches: impl IntoIterator<Item = RecordBatch>,
    schema: arrow_schema::SchemaRef,
    out: W,
) -> Result<u64, WriteError> {
    let properties = writer_properties(&schema);
    let mut writer = ArrowWriter::try_new(out, schema, Some(properties))?;
    let mut rows = 0u64;
    for batch in batches {
        rows += batch.num_rows() as u64;
        writer.write(&batch)?;
    }
    writer.close()?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampMicrosecondType};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    fn batch(rows: &[(&str, i64, f64)]) -> RecordBatch {
        crate::table::from_points("close", rows).unwrap()
    }

    #[test]
    fn a_table_is_sorted_by_series_then_time_and_reads_back_identically() {
        let unsorted =
            batch(&[("MSFT", 2, 20.0), ("AAPL", 3, 3.0), ("MSFT", 1, 10.0), ("AAPL", 1, 1.0)]);
        let sorted = sort_by_series_and_time(&unsorted).unwrap();
        let ts = sorted.column(1).as_primitive::<TimestampMicrosecondType>();
        assert_eq!(ts.values().to_vec(), [1, 3, 1, 2]);
        let close = sorted.column(2).as_primitive::<Float64Type>();
        assert_eq!(close.values().to_vec(), [1.0, 3.0, 10.0, 20.0]);

        let mut file = Vec::new();
        let rows = write_sorted([sorted.clone()], sorted.schema(), &mut file).unwrap();
        assert_eq!(rows, 4);
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(file)).unwrap();
        let metadata = reader.metadata().clone();
        let read: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
        assert_eq!(read, vec![sorted]);
        let column = metadata.row_group(0).column(1);
        // The file records the codec, not its level.
        assert!(matches!(column.compression(), Compression::ZSTD(_)));
        assert!(
            column.statistics().is_some(),
            "time statistics let window queries skip row groups"
        );
        assert!(metadata.row_group(0).sorting_columns().is_some());
    }
}

//! A Parquet writer that encodes each column of a row group on its own thread, so that
//! compressing one column overlaps encoding the others and the caller's own work (the
//! profile, the overviews). The file is the one [`ArrowWriter`] would write with the same
//! properties: the same row groups, pages, statistics and Arrow schema.

use std::fs::File;
use std::io::BufWriter;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use parquet::errors::{ParquetError, Result};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// Leaf columns queued per column before the caller waits for its encoder.
const QUEUED: usize = 16;

type Encoder = (JoinHandle<Result<ArrowColumnChunk>>, SyncSender<ArrowLeafColumn>);

/// Writes record batches of one schema as Parquet, a thread per column and row group. A full
/// row group finishes encoding while the next one is fed: it is appended to the file when
/// the next one is full, or at the end, so the caller never waits for the last pages of a
/// row group to be compressed.
pub struct ParallelWriter {
    file: SerializedFileWriter<BufWriter<File>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    max_rows: usize,
    row_group: usize,
    rows: usize,
    encoders: Vec<Encoder>,
    /// The encoders of the full row group still finishing, their inputs closed.
    finishing: Vec<JoinHandle<Result<ArrowColumnChunk>>>,
}

impl std::fmt::Debug for ParallelWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelWriter")
            .field("row_group", &self.row_group)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl ParallelWriter {
    /// A writer of `schema` to `file`, with `properties`.
    pub fn try_new(
        file: BufWriter<File>,
        schema: SchemaRef,
        properties: WriterProperties,
    ) -> Result<Self> {
        let max_rows = properties.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let (file, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))?
            .into_serialized_writer()?;
        Ok(Self {
            file,
            factory,
            schema,
            max_rows,
            row_group: 0,
            rows: 0,
            encoders: Vec::new(),
            finishing: Vec::new(),
        })
    }

    /// Queues `batch` for encoding, starting a new row group wherever the last one is full.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut at = 0;
        while at < batch.num_rows() {
            if self.encoders.is_empty() {
                self.start()?;
            }
            let length = (self.max_rows - self.rows).min(batch.num_rows() - at);
            self.send(&batch.slice(at, length))?;
            self.rows += length;
            at += length;
            if self.rows == self.max_rows {
                self.finish_row_group()?;
            }
        }
        Ok(())
    }

    fn start(&mut self) -> Result<()> {
        let writers = self.factory.create_column_writers(self.row_group)?;
        self.encoders = writers
            .into_iter()
            .map(|mut writer| {
                let (send, receive) = sync_channel::<ArrowLeafColumn>(QUEUED);
                let handle = std::thread::spawn(move || {
                    for leaf in receive {
                        writer.write(&leaf)?;
                    }
                    writer.close()
                });
                (handle, send)
            })
            .collect();
        Ok(())
    }

    fn send(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut encoders = 0..self.encoders.len();
        for (array, field) in batch.columns().iter().zip(self.schema.fields()) {
            for leaf in compute_leaves(field, array)? {
                let index = encoders.next().ok_or_else(|| {
                    ParquetError::General("more leaf columns than column writers".to_owned())
                })?;
                if self.encoders[index].1.send(leaf).is_err() {
                    // The encoder stopped on an error: its join says which.
                    return Err(self.stop()?.unwrap_or_else(|| {
                        ParquetError::General("a column encoder stopped".to_owned())
                    }));
                }
            }
        }
        Ok(())
    }

    /// Stops every encoder, finishing or fed; the first error any of them met.
    fn stop(&mut self) -> Result<Option<ParquetError>> {
        let mut first = None;
        let mut handles: Vec<_> = self.finishing.drain(..).collect();
        handles.extend(self.encoders.drain(..).map(|(handle, send)| {
            drop(send);
            handle
        }));
        for handle in handles {
            let result = handle
                .join()
                .map_err(|_| ParquetError::General("a column encoder panicked".to_owned()))?;
            if let (Err(error), None) = (result, &first) {
                first = Some(error);
            }
        }
        Ok(first)
    }

    /// Closes the inputs of the row group being fed and lets it finish while the next one
    /// is fed; the one that was finishing before it is appended to the file first.
    fn finish_row_group(&mut self) -> Result<()> {
        self.append_finished()?;
        self.finishing = self
            .encoders
            .drain(..)
            .map(|(handle, send)| {
                drop(send);
                handle
            })
            .collect();
        self.row_group += 1;
        self.rows = 0;
        Ok(())
    }

    /// Waits for the finishing row group, if any, and appends it to the file.
    fn append_finished(&mut self) -> Result<()> {
        if self.finishing.is_empty() {
            return Ok(());
        }
        let mut row_group = self.file.next_row_group()?;
        let mut handles = self.finishing.drain(..).collect::<Vec<_>>().into_iter();
        for handle in handles.by_ref() {
            let chunk = handle
                .join()
                .map_err(|_| ParquetError::General("a column encoder panicked".to_owned()))
                .and_then(|chunk| chunk);
            match chunk {
                Ok(chunk) => chunk.append_to_row_group(&mut row_group)?,
                Err(error) => {
                    // The other encoders of the row group still end before the error is told.
                    for handle in handles {
                        let _ = handle.join();
                    }
                    return Err(error);
                }
            }
        }
        row_group.close()?;
        Ok(())
    }

    /// Writes the last row groups and the footer.
    pub fn close(mut self) -> Result<()> {
        let result = (|| {
            if !self.encoders.is_empty() {
                self.finish_row_group()?;
            }
            self.append_finished()?;
            self.file.finish()?;
            Ok(())
        })();
        if result.is_err() {
            let _ = self.stop();
        }
        result
    }
}

impl Drop for ParallelWriter {
    /// A writer dropped without [`ParallelWriter::close`] (on an error) still ends its
    /// encoder threads before it is gone.
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Float64Array, Int64Array, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    #[test]
    fn the_file_reads_back_as_written_in_row_groups_of_the_set_size() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("n", DataType::Int64, false),
            Field::new("x", DataType::Float64, true),
        ]));
        let batch = |from: i64, rows: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        (from..from + rows).map(|i| format!("s{}", i % 3)),
                    )),
                    Arc::new(Int64Array::from_iter_values(from..from + rows)),
                    Arc::new(Float64Array::from_iter(
                        (from..from + rows).map(|i| (i % 5 != 0).then_some(i as f64 / 2.0)),
                    )),
                ],
            )
            .unwrap()
        };
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("out.parquet");
        let properties =
            WriterProperties::builder().set_max_row_group_row_count(Some(1000)).build();
        let mut writer = ParallelWriter::try_new(
            BufWriter::new(File::create(&path).unwrap()),
            schema.clone(),
            properties,
        )
        .unwrap();
        let mut from = 0;
        for rows in [10, 990, 1500, 3, 597] {
            writer.write(&batch(from, rows)).unwrap();
            from += rows;
        }
        writer.close().unwrap();
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        let groups: Vec<i64> =
            builder.metadata().row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [1000, 1000, 1000, 100]);
        assert_eq!(builder.schema().as_ref(), schema.as_ref(), "the Arrow schema is kept");
        let read: Vec<RecordBatch> = builder.build().unwrap().map(Result::unwrap).collect();
        let read = arrow_select::concat::concat_batches(&schema, &read).unwrap();
        assert_eq!(read, batch(0, 3100));
    }
}

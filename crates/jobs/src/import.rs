//! Importing a file as a new dataset: read it into the canonical table, sort it by series
//! and time, write it as Parquet, then record the dataset and its first version. The
//! objects are written first and the rows last, in one transaction; if anything fails after
//! the objects are written, they are deleted again, so a failure leaves neither rows nor
//! objects behind.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use bytes::Bytes;
use variosync_domain::{DatasetId, UserId};
use variosync_engine::duplicates::{self, DuplicateError, DuplicatePolicy};
use variosync_formats::delimited::{self, ReadOptions};
use variosync_formats::parquet_out::{sort_by_series_and_time, write_sorted};
use variosync_formats::table::Reject;
use variosync_store::{Backends, Dataset, NewVersion, ObjectKey, Version};

/// What an import produced.
#[derive(Debug)]
pub struct Imported {
    /// The new dataset.
    pub dataset: Dataset,
    /// Its first version.
    pub version: Version,
    /// Rows set aside (lenient mode).
    pub rejects: Vec<Reject>,
    /// Things the person should check.
    pub warnings: Vec<String>,
    /// Rows dropped because they repeated a series and time.
    pub duplicates: usize,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error(transparent)]
    Read(#[from] delimited::ReadError),
    /// The Parquet file could not be written.
    #[error(transparent)]
    Write(#[from] variosync_formats::parquet_out::WriteError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
    /// The file repeats a series and time, and the policy refuses that.
    #[error(transparent)]
    Duplicates(#[from] DuplicateError),
    /// Every row was rejected.
    #[error("no row of the file could be read; see the rejects")]
    NothingRead,
}

/// The series names (in order) and time range of a batch sorted by series and time.
fn summary(batch: &RecordBatch) -> (Vec<String>, Option<i64>, Option<i64>) {
    let series = batch.column(0).as_dictionary::<Int32Type>();
    let names = series.values().as_string::<i32>();
    let mut seen: Vec<String> = Vec::new();
    for key in series.keys().iter().flatten() {
        let name = names.value(key as usize);
        // Sorted by series: each series is one run, so comparing with the last is enough.
        if seen.last().map(String::as_str) != Some(name) {
            seen.push(name.to_owned());
        }
    }
    let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    let min = (0..ts.len()).filter(|i| ts.is_valid(*i)).map(|i| ts.value(i)).min();
    let max = (0..ts.len()).filter(|i| ts.is_valid(*i)).map(|i| ts.value(i)).max();
    (seen, min, max)
}

/// A file converted to one sorted, deduplicated Parquet file.
#[derive(Debug)]
pub struct Converted {
    /// The Parquet bytes.
    pub parquet: Vec<u8>,
    /// Rows written.
    pub rows: u64,
    /// The series, in order.
    pub series: Vec<String>,
    /// The earliest time, microseconds since 1970.
    pub from: Option<i64>,
    /// The latest time.
    pub to: Option<i64>,
    /// How the file was read, with its rejects.
    pub read: delimited::Read,
    /// Rows dropped as duplicates.
    pub duplicates: usize,
}

/// Reads a delimited file, sorts it by series and time, applies the duplicate policy and
/// writes it as Parquet.
pub fn convert_delimited(
    bytes: &[u8],
    options: &ReadOptions,
    policy: DuplicatePolicy,
) -> Result<Converted, ImportError> {
    let read = delimited::read(bytes, options)?;
    let schema = read.batches[0].schema();
    let table = arrow_select::concat::concat_batches(&schema, &read.batches)
        .map_err(variosync_formats::parquet_out::WriteError::from)?;
    if table.num_rows() == 0 {
        return Err(ImportError::NothingRead);
    }
    let (sorted, duplicates) = duplicates::apply(&sort_by_series_and_time(&table)?, policy)?;
    let (series, from, to) = summary(&sorted);
    let mut parquet = Vec::new();
    let rows = write_sorted([sorted], schema, &mut parquet)?;
    Ok(Converted { parquet, rows, series, from, to, read, duplicates })
}

/// Imports a delimited file as a new dataset called `name` owned by `user`, resolving rows
/// that repeat a series and time by `policy`.
pub async fn import_delimited(
    backends: &Backends,
    user: UserId,
    name: &str,
    bytes: &[u8],
    options: &ReadOptions,
    policy: DuplicatePolicy,
) -> Result<Imported, ImportError> {
    let converted = convert_delimited(bytes, options, policy)?;
    let Converted { parquet: file, rows, series, from, to, read, duplicates: dropped } = converted;
    let size = file.len() as u64;

    let id = DatasetId::new();
    let part = ObjectKey::dataset_part(user, id, 1, 0);
    backends.objects.put(&part, Bytes::from(file)).await?;
    let version = NewVersion {
        operation: "import".to_owned(),
        parts: 1,
        row_count: rows,
        bytes: size,
        time_from: from.and_then(chrono::DateTime::from_timestamp_micros),
        time_to: to.and_then(chrono::DateTime::from_timestamp_micros),
        series,
        profile: serde_json::json!({ "rows": rows, "rejects": read.rejects.len(), "duplicates": dropped }),
    };
    match backends.datasets().create(user, id, name, &[], &version).await {
        Ok((dataset, version)) => Ok(Imported {
            dataset,
            version,
            rejects: read.rejects,
            warnings: read.mapping.warnings,
            duplicates: dropped,
        }),
        Err(error) => {
            // The rows were not written: take the objects back so nothing is left half-done.
            let prefix = ObjectKey::dataset_version_prefix(user, id, 1);
            if let Err(cleanup) = backends.objects.delete_prefix(&prefix).await {
                tracing::error!(error = %variosync_domain::error_chain(&cleanup), "cannot delete the objects of a failed import");
            }
            Err(error.into())
        }
    }
}

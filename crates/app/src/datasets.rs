//! Datasets: list, read, rename and retag, delete; versions, profiles and the rejects file;
//! chart windows (MinMaxLTTB points or OHLC candles), resampling and pages of rows. Reads
//! open the version's Parquet file through a local cache and query only the row groups in
//! range. Changes are audited and announced.

use serde_json::json;
use variosync_domain::profile::Profile;
use variosync_domain::{AuditAction, DatasetId, ErrorKind};
use variosync_engine::window::{self, Part, QueryError};
use variosync_store::{Dataset, ObjectKey, Version};

pub use variosync_engine::quality::{self, ColumnOutliers};
pub use variosync_engine::resample::{Aggregation, Resampled, ResampledColumn};
pub use variosync_engine::window::{Candle, Window, WindowColumn};

use crate::error::{Error, Result};
use crate::{App, Principal};

/// The most points a window may ask for.
pub const MAX_POINTS: usize = 20_000;
/// The most rows a page may hold.
pub const MAX_PAGE_ROWS: usize = 10_000;

impl From<QueryError> for Error {
    fn from(error: QueryError) -> Self {
        let code = error.code();
        match error.kind() {
            ErrorKind::NotFound => Error::not_found(code, error.to_string()),
            ErrorKind::InvalidInput => Error::invalid(code, error.to_string()),
            _ => Error::internal("a query failed", error),
        }
    }
}

fn not_found() -> Error {
    Error::not_found("dataset_not_found", "there is no such dataset")
}

/// Which datasets to list.
#[derive(Debug, Clone, Default)]
pub struct ListDatasets {
    /// Only those whose name contains this text (any case).
    pub search: Option<String>,
    /// How many, 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// The order of the library.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LibrarySort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// By name, any case.
    Name,
    /// Most rows first.
    Rows,
    /// Largest first.
    Size,
}

impl LibrarySort {
    /// The order called `name`; anything unknown is the default.
    pub fn parse(name: Option<&str>) -> Self {
        match name {
            Some("name") => Self::Name,
            Some("rows") => Self::Rows,
            Some("size") => Self::Size,
            _ => Self::Updated,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Updated => "updated",
            Self::Name => "name",
            Self::Rows => "rows",
            Self::Size => "size",
        }
    }
}

/// What to change of a dataset; what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct DatasetChange {
    /// The new name.
    pub name: Option<String>,
    /// The new tags (all of them).
    pub tags: Option<Vec<String>>,
}

/// A part of a series to chart.
#[derive(Debug, Clone, Default)]
pub struct WindowRequest {
    /// The series.
    pub series: String,
    /// The version (default: the current one).
    pub version: Option<u32>,
    /// Start, inclusive, microseconds since 1970 (default: the first row).
    pub from: Option<i64>,
    /// End, exclusive (default: after the last row).
    pub to: Option<i64>,
    /// At most this many points per column or candles, 3 to [`MAX_POINTS`] (default 2000).
    pub points: Option<usize>,
    /// The columns (default: every numeric column).
    pub columns: Vec<String>,
    /// OHLC candles instead of points.
    pub candles: bool,
}

/// A chart window.
#[derive(Debug, Clone)]
pub enum WindowAnswer {
    /// Points of each column.
    Points(Window),
    /// OHLC candles.
    Candles {
        /// The series.
        series: String,
        /// Rows of the series in the range.
        rows: u64,
        /// The candles.
        candles: Vec<Candle>,
    },
}

/// The media type of an Arrow IPC stream, the compact form of a window.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

impl WindowAnswer {
    /// The window as an Arrow IPC stream of one batch: points as a row per point
    /// (`column`, `ts`, `value`), candles as a row per candle (`ts`, `open`, `high`, `low`,
    /// `close`, `volume`); times are microseconds since 1970 (UTC). The schema's metadata
    /// holds `series`, `rows` (of the series in the range) and, for points, `downsampled`.
    pub fn to_arrow_ipc(&self) -> Result<Vec<u8>> {
        use arrow_array::types::Int16Type;
        use arrow_array::{
            ArrayRef, DictionaryArray, Float64Array, RecordBatch, TimestampMicrosecondArray,
        };
        use arrow_schema::{DataType, Field, Schema, TimeUnit};
        use std::collections::HashMap;
        use std::sync::Arc;
        let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let float = |name: &str, nullable: bool| Field::new(name, DataType::Float64, nullable);
        let (fields, columns, metadata): (Vec<Field>, Vec<ArrayRef>, HashMap<String, String>) =
            match self {
                Self::Points(window) => {
                    let count = window.columns.iter().map(|c| c.ts.len()).sum();
                    let (mut names, mut ts, mut values) = (
                        Vec::with_capacity(count),
                        Vec::with_capacity(count),
                        Vec::with_capacity(count),
                    );
                    for column in &window.columns {
                        names.extend(std::iter::repeat_n(column.name.as_str(), column.ts.len()));
                        ts.extend_from_slice(&column.ts);
                        values.extend_from_slice(&column.values);
                    }
                    let metadata = [
                        ("series", window.series.clone()),
                        ("rows", window.rows.to_string()),
                        ("downsampled", window.downsampled.to_string()),
                    ];
                    (
                        vec![
                            Field::new(
                                "column",
                                DataType::Dictionary(
                                    Box::new(DataType::Int16),
                                    Box::new(DataType::Utf8),
                                ),
                                false,
                            ),
                            Field::new("ts", utc(), false),
                            float("value", false),
                        ],
                        vec![
                            Arc::new(names.into_iter().collect::<DictionaryArray<Int16Type>>()),
                            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
                            Arc::new(Float64Array::from(values)),
                        ],
                        metadata.map(|(k, v)| (k.to_owned(), v)).into_iter().collect(),
                    )
                }
                Self::Candles { series, rows, candles } => {
                    let pick = |f: fn(&Candle) -> f64| {
                        Arc::new(Float64Array::from_iter_values(candles.iter().map(f))) as ArrayRef
                    };
                    let metadata = [("series", series.clone()), ("rows", rows.to_string())];
                    (
                        vec![
                            Field::new("ts", utc(), false),
                            float("open", false),
                            float("high", false),
                            float("low", false),
                            float("close", false),
                            float("volume", true),
                        ],
                        vec![
                            Arc::new(
                                TimestampMicrosecondArray::from_iter_values(
                                    candles.iter().map(|c| c.ts),
                                )
                                .with_timezone("UTC"),
                            ),
                            pick(|c| c.open),
                            pick(|c| c.high),
                            pick(|c| c.low),
                            pick(|c| c.close),
                            Arc::new(candles.iter().map(|c| c.volume).collect::<Float64Array>()),
                        ],
                        metadata.map(|(k, v)| (k.to_owned(), v)).into_iter().collect(),
                    )
                }
            };
        let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
        let encode = || -> std::result::Result<Vec<u8>, arrow_schema::ArrowError> {
            let batch = RecordBatch::try_new(schema.clone(), columns)?;
            let mut writer = arrow_ipc::writer::StreamWriter::try_new(Vec::new(), &schema)?;
            writer.write(&batch)?;
            writer.into_inner()
        };
        encode().map_err(|error| Error::internal("encoding a window as Arrow failed", error))
    }
}

/// How to resample a series.
#[derive(Debug, Clone)]
pub struct ResampleRequest {
    /// The series.
    pub series: String,
    /// The version (default: the current one).
    pub version: Option<u32>,
    /// Start, inclusive, microseconds since 1970.
    pub from: Option<i64>,
    /// End, exclusive.
    pub to: Option<i64>,
    /// The bucket width, such as `5min`, `1d` or `1mo`.
    pub interval: String,
    /// `column` or `column:aggregation`, each (default: every numeric column by meaning).
    pub columns: Vec<String>,
}

/// Which rows to read.
#[derive(Debug, Clone, Default)]
pub struct RowsRequest {
    /// Only this series (default: all).
    pub series: Option<String>,
    /// The version (default: the current one).
    pub version: Option<u32>,
    /// Start, inclusive, microseconds since 1970.
    pub from: Option<i64>,
    /// End, exclusive.
    pub to: Option<i64>,
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return, 1 to [`MAX_PAGE_ROWS`] (default 100).
    pub limit: Option<usize>,
}

/// A page of rows as JSON values (times in microseconds since 1970).
#[derive(Debug, Clone)]
pub struct RowsAnswer {
    /// Column names, in the order of each row's values.
    pub columns: Vec<String>,
    /// The rows.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Rows in the range.
    pub total: u64,
    /// Rows skipped.
    pub offset: u64,
    /// The most rows of the page.
    pub limit: usize,
}

/// Unusual jumps found in a version.
#[derive(Debug, Clone)]
pub struct Quality {
    /// Per series looked at, its columns with unusual jumps.
    pub series: Vec<(String, Vec<ColumnOutliers>)>,
    /// Series in the version.
    pub series_total: usize,
    /// How many robust standard deviations make a step unusual.
    pub threshold: f64,
}

/// The rejects file of a version, streamed.
pub type RejectsStream = futures::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>;

/// Parses a dataset id from text; anything else is simply not found.
pub fn parse_dataset_id(text: &str) -> Result<DatasetId> {
    text.parse().map_err(|_| crate::Error::malformed_id("dataset", text))
}

impl App {
    /// The principal's datasets, most recently changed first.
    pub async fn list_datasets(
        &self,
        principal: &Principal,
        query: &ListDatasets,
    ) -> Result<Vec<Dataset>> {
        let limit = crate::Error::bounded("limit", query.limit, 50, 1, 200)?;
        let search = query.search.as_deref().filter(|s| !s.trim().is_empty());
        let workspace = principal.workspace;
        Ok(self.backends.datasets().list(principal.access(), workspace, search, limit).await?)
    }

    /// The principal's library: up to `limit` datasets, most recently changed first, each
    /// with its current version; `search` keeps those whose name or a series' name contains
    /// it (any case); `sort` is `updated` (default), `name`, `rows` or `size`.
    pub async fn library(
        &self,
        principal: &Principal,
        search: &str,
        sort: LibrarySort,
        limit: u32,
    ) -> Result<Vec<(Dataset, Version)>> {
        let (access, workspace) = (principal.access(), principal.workspace);
        let datasets = self.backends.datasets();
        let needle = search.trim().to_lowercase();
        let mut shown = Vec::new();
        for dataset in datasets.list(access, workspace, None, limit).await? {
            let versions = datasets.versions(access, workspace, dataset.id).await?;
            let Some(version) = versions.into_iter().find(|v| v.version == dataset.current_version)
            else {
                continue;
            };
            let matches = needle.is_empty()
                || dataset.name.to_lowercase().contains(&needle)
                || version.series.iter().any(|s| s.to_lowercase().contains(&needle));
            if matches {
                shown.push((dataset, version));
            }
        }
        match sort {
            LibrarySort::Name => shown.sort_by_key(|(d, _)| d.name.to_lowercase()),
            LibrarySort::Rows => shown.sort_by_key(|(_, v)| std::cmp::Reverse(v.row_count)),
            LibrarySort::Size => shown.sort_by_key(|(_, v)| std::cmp::Reverse(v.bytes)),
            // The store lists the most recently changed first.
            LibrarySort::Updated => {}
        }
        Ok(shown)
    }

    /// One of the principal's datasets.
    pub async fn dataset(&self, principal: &Principal, id: DatasetId) -> Result<Dataset> {
        let workspace = principal.workspace;
        self.backends.datasets().get(principal.access(), workspace, id).await?.ok_or_else(not_found)
    }

    /// A dataset's versions, oldest first.
    pub async fn versions(&self, principal: &Principal, id: DatasetId) -> Result<Vec<Version>> {
        let dataset = self.dataset(principal, id).await?;
        let workspace = principal.workspace;
        Ok(self.backends.datasets().versions(principal.access(), workspace, dataset.id).await?)
    }

    /// A dataset and its version `wanted` (default: the current one).
    pub async fn dataset_version(
        &self,
        principal: &Principal,
        id: DatasetId,
        wanted: Option<u32>,
    ) -> Result<(Dataset, Version)> {
        let dataset = self.dataset(principal, id).await?;
        let versions = self.versions(principal, id).await?;
        let version = choose_version(&dataset, &versions, wanted)?;
        Ok((dataset, version))
    }

    /// The profile of a dataset's version.
    pub async fn profile(
        &self,
        principal: &Principal,
        id: DatasetId,
        wanted: Option<u32>,
    ) -> Result<Profile> {
        Ok(self.dataset_version(principal, id, wanted).await?.1.profile)
    }

    /// Renames or retags a dataset.
    #[tracing::instrument(skip_all, fields(dataset_id = %id), err(level = "warn"))]
    pub async fn update_dataset(
        &self,
        principal: &Principal,
        id: DatasetId,
        change: DatasetChange,
    ) -> Result<Dataset> {
        principal.require_editor()?;
        let dataset = self.dataset(principal, id).await?;
        let name = change.name.unwrap_or_else(|| dataset.name.clone());
        let tags = change.tags.unwrap_or_else(|| dataset.tags.clone());
        let updated = self
            .backends
            .datasets()
            .update(principal.access(), principal.workspace, dataset.id, &name, &tags)
            .await?
            .ok_or_else(not_found)?;
        let detail = json!({
            "dataset_id": dataset.id,
            "name": { "from": dataset.name, "to": updated.name },
            "tags": { "from": dataset.tags, "to": updated.tags },
        });
        self.dataset_changed(principal, AuditAction::DatasetUpdated, id, detail).await?;
        Ok(updated)
    }

    /// Deletes a dataset with all its versions and files.
    #[tracing::instrument(skip_all, fields(dataset_id = %id), err(level = "warn"))]
    pub async fn delete_dataset(&self, principal: &Principal, id: DatasetId) -> Result<()> {
        principal.require_editor()?;
        let dataset = self.dataset(principal, id).await?;
        let workspace = dataset.workspace_id;
        if !self.backends.datasets().delete(principal.access(), workspace, dataset.id).await? {
            return Err(not_found());
        }
        // The rows are gone, so nothing points at the objects any more; a failure here
        // leaves unreachable objects, never a dataset with missing ones.
        let prefix = ObjectKey::dataset_prefix(workspace, dataset.id);
        if let Err(error) = self.backends.objects.delete_prefix(&prefix).await {
            tracing::error!(error = %variosync_domain::error_chain(&error), "cannot delete the objects of a deleted dataset");
        }
        let detail = json!({ "dataset_id": dataset.id, "name": dataset.name });
        self.dataset_changed(principal, AuditAction::DatasetDeleted, id, detail).await
    }

    /// The rows of a version set aside as unreadable, as CSV (line, column, value,
    /// expected), with the dataset and version they belong to.
    pub async fn rejects(
        &self,
        principal: &Principal,
        id: DatasetId,
        wanted: Option<u32>,
    ) -> Result<(Dataset, Version, RejectsStream)> {
        use futures::StreamExt;
        let (dataset, version) = self.dataset_version(principal, id, wanted).await?;
        let key = ObjectKey::dataset_rejects(dataset.workspace_id, dataset.id, version.version);
        let stream = match self.backends.objects.get_stream(&key).await {
            Ok(stream) => stream,
            Err(variosync_store::Error::ObjectNotFound(_)) => {
                return Err(Error::not_found("no_rejects", "no row of this version was set aside"));
            }
            Err(error) => return Err(error.into()),
        };
        let stream = stream.map(|chunk| chunk.map_err(std::io::Error::other)).boxed();
        Ok((dataset, version, stream))
    }

    /// A window of one series for a chart.
    pub async fn window(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: WindowRequest,
    ) -> Result<WindowAnswer> {
        let points = request.points.unwrap_or(2000);
        if !(3..=MAX_POINTS).contains(&points) {
            return Err(Error::invalid(
                "invalid_points",
                format!("points must be 3 to {MAX_POINTS}"),
            ));
        }
        let version = self.series_version(principal, id, &request.series, request.version).await?;
        let part = self.open_part(principal, &version).await?;
        let (from, to) = (request.from.unwrap_or(i64::MIN), request.to.unwrap_or(i64::MAX));
        let WindowRequest { series, columns, candles, .. } = request;
        tokio::task::spawn_blocking(move || {
            if candles {
                let (rows, candles) = window::candles(&part, &series, from, to, points)?;
                Ok(WindowAnswer::Candles { series, rows, candles })
            } else {
                Ok(WindowAnswer::Points(window::window(
                    &part, &series, &columns, from, to, points,
                )?))
            }
        })
        .await?
    }

    /// One series in time buckets of one width, each column aggregated its own way.
    pub async fn resample(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: ResampleRequest,
    ) -> Result<Resampled> {
        use variosync_engine::resample::{Interval, resample};
        let version = self.series_version(principal, id, &request.series, request.version).await?;
        let interval: Interval = request.interval.parse()?;
        let mut columns = Vec::new();
        for item in request.columns.iter().map(|c| c.trim()).filter(|c| !c.is_empty()) {
            let (name, aggregation) = match item.split_once(':') {
                Some((name, aggregation)) => (name, Some(aggregation.parse::<Aggregation>()?)),
                None => (item, None),
            };
            columns.push((name.to_owned(), aggregation));
        }
        let part = self.open_part(principal, &version).await?;
        let (from, to) = (request.from.unwrap_or(i64::MIN), request.to.unwrap_or(i64::MAX));
        let series = request.series;
        Ok(tokio::task::spawn_blocking(move || {
            resample(&part, &series, &columns, from, to, interval)
        })
        .await??)
    }

    /// A page of a version's rows, in series and time order.
    pub async fn rows(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: RowsRequest,
    ) -> Result<RowsAnswer> {
        let limit = request.limit.unwrap_or(100);
        if !(1..=MAX_PAGE_ROWS).contains(&limit) {
            return Err(Error::invalid(
                "invalid_limit",
                format!("limit must be 1 to {MAX_PAGE_ROWS}"),
            ));
        }
        if let Some(series) = &request.series {
            check_series(series)?;
        }
        let (_, version) = self.dataset_version(principal, id, request.version).await?;
        let part = self.open_part(principal, &version).await?;
        let (from, to) = (request.from.unwrap_or(i64::MIN), request.to.unwrap_or(i64::MAX));
        let (series, offset) = (request.series, request.offset);
        let page = tokio::task::spawn_blocking(move || {
            window::rows(&part, series.as_deref(), from, to, offset, limit)
        })
        .await??;
        let (columns, rows) = match &page.batch {
            Some(batch) => rows_as_json(batch),
            None => (Vec::new(), Vec::new()),
        };
        Ok(RowsAnswer { columns, rows, total: page.total, offset, limit })
    }

    /// Unusual jumps in the first `max_series` series of a version (it reads every row of
    /// them): per series, the columns with steps far from their usual size.
    pub async fn quality(
        &self,
        principal: &Principal,
        id: DatasetId,
        wanted: Option<u32>,
        max_series: usize,
    ) -> Result<Quality> {
        let (_, version) = self.dataset_version(principal, id, wanted).await?;
        let part = self.open_part(principal, &version).await?;
        let series_total = version.series.len();
        let looked_at: Vec<String> = version.series.iter().take(max_series).cloned().collect();
        let series = tokio::task::spawn_blocking(move || {
            looked_at
                .into_iter()
                .map(|series| quality::outliers(&part, &series).map(|columns| (series, columns)))
                .collect::<Result<Vec<_>, _>>()
        })
        .await??;
        Ok(Quality { series, series_total, threshold: quality::THRESHOLD })
    }

    /// The version asked for of a dataset that has `series` (a name by the rule for names).
    async fn series_version(
        &self,
        principal: &Principal,
        id: DatasetId,
        series: &str,
        wanted: Option<u32>,
    ) -> Result<Version> {
        check_series(series)?;
        let (_, version) = self.dataset_version(principal, id, wanted).await?;
        if !version.series.iter().any(|s| s == series) {
            return Err(Error::not_found(
                "series_not_found",
                format!("the dataset has no series {series:?}"),
            ));
        }
        Ok(version)
    }

    /// Opens the file of a dataset version (the principal's) for queries, through the local
    /// cache, with its overviews beside it.
    pub(crate) async fn open_part(&self, principal: &Principal, version: &Version) -> Result<Part> {
        let workspace = principal.workspace;
        let key = ObjectKey::dataset_part(workspace, version.dataset_id, version.version, 0);
        let cache = self.scratch.join("cache");
        let path = self.backends.objects.local_file(&key, &cache).await?;
        for size in variosync_engine::overview::LEVELS {
            let overview = ObjectKey::dataset_part_overview(
                workspace,
                version.dataset_id,
                version.version,
                0,
                size,
            );
            match self.backends.objects.local_file(&overview, &cache).await {
                // A version written before overviews existed is answered from its rows.
                Ok(_) | Err(variosync_store::Error::ObjectNotFound(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(tokio::task::spawn_blocking(move || Part::open(&path)).await??)
    }
}

/// Version `wanted` of `versions` (the dataset's), or its current one.
pub fn choose_version(
    dataset: &Dataset,
    versions: &[Version],
    wanted: Option<u32>,
) -> Result<Version> {
    let number = wanted.unwrap_or(dataset.current_version);
    versions.iter().find(|v| v.version == number).cloned().ok_or_else(|| {
        Error::not_found("version_not_found", format!("the dataset has no version {number}"))
    })
}

/// A time given as RFC 3339 or as milliseconds since 1970, in microseconds since 1970;
/// `None` when the text is absent or blank. `name` names the parameter in the error.
pub fn parse_time(text: Option<&str>, name: &str) -> Result<Option<i64>> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(None) };
    if let Ok(millis) = text.parse::<i64>() {
        return millis
            .checked_mul(1000)
            .map(Some)
            .ok_or_else(|| Error::invalid("invalid_time", format!("{name} is out of range")));
    }
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Some(at.timestamp_micros()));
    }
    // A date, or a date and time without an offset (as a form's date fields send them), in
    // UTC.
    let naive = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .or_else(|| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S").ok())
        .or_else(|| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M").ok());
    naive.map(|at| Some(at.and_utc().timestamp_micros())).ok_or_else(|| {
        Error::invalid(
            "invalid_time",
            format!(
                "{name} must be an RFC 3339 time, a date (YYYY-MM-DD, UTC) or milliseconds \
                 since 1970, not {text:?}"
            ),
        )
    })
}

/// A batch as column names and rows of JSON values (times in microseconds since 1970).
fn rows_as_json(batch: &arrow_array::RecordBatch) -> (Vec<String>, Vec<Vec<serde_json::Value>>) {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::DataType;
    let schema = batch.schema();
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mut rows = vec![Vec::with_capacity(columns.len()); batch.num_rows()];
    for column in batch.columns() {
        for (row, out) in rows.iter_mut().enumerate() {
            let value = if column.is_null(row) {
                serde_json::Value::Null
            } else {
                match column.data_type() {
                    DataType::Dictionary(_, _) => {
                        let dictionary = column.as_dictionary::<Int32Type>();
                        let names = dictionary.values().as_string::<i32>();
                        json!(names.value(dictionary.keys().value(row) as usize))
                    }
                    DataType::Timestamp(_, _) => {
                        json!(column.as_primitive::<TimestampMicrosecondType>().value(row))
                    }
                    DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(row)),
                    DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(row)),
                    DataType::Utf8 => json!(column.as_string::<i32>().value(row)),
                    DataType::Boolean => json!(column.as_boolean().value(row)),
                    _ => serde_json::Value::Null,
                }
            };
            out.push(value);
        }
    }
    (columns, rows)
}

/// Refuses a series name no series can have (see [`variosync_domain::names`]): a control
/// character, a bidirectional control, or too long.
fn check_series(series: &str) -> Result<()> {
    use variosync_domain::names::{NameKind, check};
    match check(NameKind::Series, series) {
        Ok(_) | Err(variosync_domain::names::NameError::Empty { .. }) => Ok(()),
        Err(error) => Err(Error::invalid("invalid_name", error.to_string())),
    }
}

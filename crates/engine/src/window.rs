//! Queries over a dataset file: the rows of one series in a time range (reading only the row
//! groups whose statistics overlap it), a chart window of at most N points per column chosen
//! by MinMaxLTTB, OHLC candles in time buckets, and pages of raw rows.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{ArrowError, DataType};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;
use serde::Serialize;

use crate::duplicates::Keys;

/// Candidates per output point picked by the min-max pass before LTTB.
const MINMAX_RATIO: usize = 4;
/// Dataset files whose metadata is kept in memory.
const METADATA_CACHE: usize = 256;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The dataset has no such column.
    #[error("the dataset has no column {0:?}")]
    NoColumn(String),
    /// The column holds text, not numbers.
    #[error("column {0:?} holds text; only numeric columns can be charted")]
    NotNumeric(String),
    /// Candles need open, high, low and close columns.
    #[error("candles need open, high, low and close columns; this dataset lacks {0:?}")]
    NotOhlc(&'static str),
    /// The request is out of bounds.
    #[error("{0}")]
    Invalid(String),
    /// The file could not be read.
    #[error("reading the dataset file failed: {0}")]
    Read(String),
}

impl QueryError {
    /// What kind of failure this is.
    pub fn kind(&self) -> variosync_domain::ErrorKind {
        use variosync_domain::ErrorKind;
        match self {
            Self::NoColumn(_) => ErrorKind::NotFound,
            Self::Read(_) => ErrorKind::Internal,
            Self::NotNumeric(_) | Self::NotOhlc(_) | Self::Invalid(_) => ErrorKind::InvalidInput,
        }
    }

    /// A stable code: `column_not_found`, `invalid_query`, or `internal` for a file that
    /// could not be read.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoColumn(_) => "column_not_found",
            Self::Read(_) => "internal",
            Self::NotNumeric(_) | Self::NotOhlc(_) | Self::Invalid(_) => "invalid_query",
        }
    }
}

impl From<ParquetError> for QueryError {
    fn from(error: ParquetError) -> Self {
        Self::Read(error.to_string())
    }
}

impl From<ArrowError> for QueryError {
    fn from(error: ArrowError) -> Self {
        Self::Read(error.to_string())
    }
}

impl From<std::io::Error> for QueryError {
    fn from(error: std::io::Error) -> Self {
        Self::Read(error.to_string())
    }
}

/// A dataset file, opened with its metadata (cached across opens of the same path: dataset
/// files never change once written).
#[derive(Debug, Clone)]
pub struct Part {
    path: PathBuf,
    metadata: ArrowReaderMetadata,
    /// Its overviews, coarsest first, with their bucket sizes.
    overviews: Vec<(usize, Part)>,
}

type MetadataCache = Mutex<HashMap<PathBuf, ArrowReaderMetadata>>;

fn cache() -> &'static MetadataCache {
    static CACHE: std::sync::OnceLock<MetadataCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl Part {
    /// Opens the dataset file at `path`, with the overviews found beside it.
    pub fn open(path: &Path) -> Result<Self, QueryError> {
        let mut part = Self::open_file(path)?;
        for size in crate::overview::LEVELS.iter().rev() {
            let overview = crate::overview::path_for(path, *size);
            if overview.exists() {
                part.overviews.push((*size, Self::open_file(&overview)?));
            }
        }
        Ok(part)
    }

    fn open_file(path: &Path) -> Result<Self, QueryError> {
        let cached = cache().lock().ok().and_then(|c| c.get(path).cloned());
        if let Some(metadata) = cached {
            return Ok(Self { path: path.to_owned(), metadata, overviews: Vec::new() });
        }
        let file = File::open(path)?;
        // The page index (each page's rows and bounds) lets a narrow window read only the
        // pages it needs, not whole row groups.
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let metadata = ArrowReaderMetadata::load(&file, options)?;
        if let Ok(mut cache) = cache().lock() {
            if cache.len() >= METADATA_CACHE {
                cache.clear();
            }
            cache.insert(path.to_owned(), metadata.clone());
        }
        Ok(Self { path: path.to_owned(), metadata, overviews: Vec::new() })
    }

    /// The overview to answer a range of `series` from with at least `buckets` buckets,
    /// if the range is large enough for one; and the rows in the range (to the nearest
    /// bucket of the coarsest overview).
    fn overview_for(
        &self,
        series: &str,
        from: i64,
        to: i64,
        buckets: usize,
    ) -> Result<Option<(&Part, u64)>, QueryError> {
        let Some((_, coarsest)) = self.overviews.first() else { return Ok(None) };
        let rows_index = coarsest.index_of("rows")?;
        let mut rows = 0u64;
        coarsest.scan_overlapping(series, from, to, &[rows_index], |batch| {
            if let Some(counts) = batch.column_by_name("rows") {
                let counts = counts.as_primitive::<Int64Type>();
                rows += counts.values().iter().map(|n| *n as u64).sum::<u64>();
            }
            Ok(true)
        })?;
        Ok(self
            .overviews
            .iter()
            .find(|(size, _)| rows / *size as u64 >= buckets as u64)
            .map(|(_, part)| (part, rows)))
    }

    fn index_of(&self, name: &str) -> Result<usize, QueryError> {
        self.metadata
            .schema()
            .index_of(name)
            .map_err(|_| QueryError::Read(format!("no column {name}")))
    }

    /// The value columns and their types.
    pub fn columns(&self) -> Vec<(String, DataType)> {
        let schema = self.metadata.schema();
        schema.fields().iter().skip(2).map(|f| (f.name().clone(), f.data_type().clone())).collect()
    }

    /// The schema of rows scanned with the value columns `names` (every one if empty): the
    /// series, the time, then those columns in the file's order.
    pub fn projected_schema(
        &self,
        names: &[String],
    ) -> Result<arrow_schema::SchemaRef, QueryError> {
        for name in names {
            self.column_index(name)?;
        }
        let schema = self.metadata.schema();
        let fields: Vec<arrow_schema::FieldRef> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, f)| *i < 2 || names.is_empty() || names.contains(f.name()))
            .map(|(_, f)| f.clone())
            .collect();
        Ok(std::sync::Arc::new(arrow_schema::Schema::new(fields)))
    }

    pub(crate) fn column_index(&self, name: &str) -> Result<usize, QueryError> {
        let schema = self.metadata.schema();
        schema
            .fields()
            .iter()
            .skip(2)
            .position(|f| f.name() == name)
            .map(|i| i + 2)
            .ok_or_else(|| QueryError::NoColumn(name.to_owned()))
    }

    /// The row groups that may hold rows of `series` between `from` and `to`.
    fn row_groups(&self, series: Option<&str>, from: i64, to: i64) -> Vec<usize> {
        let metadata = self.metadata.metadata();
        (0..metadata.num_row_groups())
            .filter(|&index| {
                let group = metadata.row_group(index);
                let series_ok = match (series, group.column(0).statistics()) {
                    (Some(series), Some(Statistics::ByteArray(stats))) => {
                        let min = stats.min_opt().and_then(|v| v.as_utf8().ok());
                        let max = stats.max_opt().and_then(|v| v.as_utf8().ok());
                        min.is_none_or(|min| min <= series) && max.is_none_or(|max| series <= max)
                    }
                    _ => true,
                };
                let time_ok = match group.column(1).statistics() {
                    Some(Statistics::Int64(stats)) => {
                        stats.min_opt().is_none_or(|min| *min <= to)
                            && stats.max_opt().is_none_or(|max| *max >= from)
                    }
                    _ => true,
                };
                series_ok && time_ok
            })
            .collect()
    }

    /// The rows of `groups` on pages that may hold rows of `series` between `from` and `to`,
    /// by the page index (the time's pages and the series' pages, which may break at other
    /// rows); `None` when the file has no page index (then whole row groups are read).
    fn pages(
        &self,
        groups: &[usize],
        series: Option<&str>,
        from: i64,
        to: i64,
    ) -> Option<RowSelection> {
        let metadata = self.metadata.metadata();
        let index = metadata.page_index()?;
        let mut selectors: Vec<RowSelector> = Vec::new();
        for &group in groups {
            let rows = usize::try_from(metadata.row_group(group).num_rows()).ok()?;
            // The rows of the pages of `column` whose bounds pass `keep`.
            let pages = |column: usize, keep: &dyn Fn(&ColumnIndexMetaData, usize) -> bool| {
                let starts: Vec<usize> = index
                    .offset_index(group, column)?
                    .page_locations()
                    .iter()
                    .map(|page| usize::try_from(page.first_row_index).unwrap_or(0))
                    .collect();
                let bounds = index.column_index(group, column)?;
                let ranges = (0..starts.len())
                    .filter(|page| keep(bounds, *page))
                    .map(|page| starts[page]..starts.get(page + 1).copied().unwrap_or(rows));
                Some(RowSelection::from_consecutive_ranges(ranges, rows))
            };
            let by_time = pages(1, &|bounds, page| match bounds {
                ColumnIndexMetaData::INT64(bounds) => {
                    bounds.min_value(page).is_none_or(|min| *min <= to)
                        && bounds.max_value(page).is_none_or(|max| *max >= from)
                }
                _ => true,
            })?;
            let selection = match series {
                Some(series) => {
                    let by_series = pages(0, &|bounds, page| match bounds {
                        ColumnIndexMetaData::BYTE_ARRAY(bounds) => {
                            bounds.min_value(page).is_none_or(|min| min <= series.as_bytes())
                                && bounds.max_value(page).is_none_or(|max| series.as_bytes() <= max)
                        }
                        _ => true,
                    })?;
                    by_time.intersection(&by_series)
                }
                None => by_time,
            };
            // A selection shorter than its group skips the rest.
            let covered: usize = selection.iter().map(|s| s.row_count).sum();
            selectors.extend(selection.iter().copied());
            if covered < rows {
                selectors.push(RowSelector::skip(rows - covered));
            }
        }
        Some(RowSelection::from(selectors))
    }

    /// The rows of `series` (every series if `None`) with `from <= ts <= to`, keeping only
    /// the value columns at `columns` (schema indices).
    pub(crate) fn scan(
        &self,
        series: Option<&str>,
        from: i64,
        to: i64,
        columns: &[usize],
        visit: impl FnMut(&RecordBatch) -> Result<bool, QueryError>,
    ) -> Result<(), QueryError> {
        self.scan_file(&File::open(&self.path)?, series, from, to, columns, visit)
    }

    /// The file, open: what is read through it stays readable even if the file is deleted
    /// meanwhile.
    pub fn open_file_handle(&self) -> Result<File, QueryError> {
        Ok(File::open(&self.path)?)
    }

    /// [`Self::scan`], reading through `file` (this part's, opened earlier).
    pub(crate) fn scan_file(
        &self,
        file: &File,
        series: Option<&str>,
        from: i64,
        to: i64,
        columns: &[usize],
        mut visit: impl FnMut(&RecordBatch) -> Result<bool, QueryError>,
    ) -> Result<(), QueryError> {
        let groups = self.row_groups(series, from, to);
        if groups.is_empty() {
            return Ok(());
        }
        let mut leaves = vec![0, 1];
        leaves.extend_from_slice(columns);
        let mask =
            ProjectionMask::roots(self.metadata.metadata().file_metadata().schema_descr(), leaves);
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
            file.try_clone()?,
            self.metadata.clone(),
        );
        if let Some(selection) = self.pages(&groups, series, from, to) {
            builder = builder.with_row_selection(selection);
        }
        let reader = builder
            .with_row_groups(groups)
            .with_projection(mask)
            .with_batch_size(64 * 1024)
            .build()?;
        for batch in reader {
            let batch = batch?;
            if let Some(slice) = select(&batch, series, from, to)
                && !visit(&slice)?
            {
                break;
            }
        }
        Ok(())
    }
}

impl Part {
    /// The names of the numeric value columns.
    pub fn numeric_column_names(&self) -> Vec<String> {
        self.columns()
            .into_iter()
            .filter(|(_, t)| matches!(t, DataType::Float64 | DataType::Int64))
            .map(|(n, _)| n)
            .collect()
    }

    /// The schema indices of numeric columns named `names`.
    pub(crate) fn numeric_indices(&self, names: &[String]) -> Result<Vec<usize>, QueryError> {
        numeric_columns(self, names)
    }

    /// The rows of `series` from `from` to `to`, with the value columns at `columns`.
    pub(crate) fn scan_series(
        &self,
        series: &str,
        from: i64,
        to: i64,
        columns: &[usize],
        visit: impl FnMut(&RecordBatch) -> Result<bool, QueryError>,
    ) -> Result<(), QueryError> {
        self.scan(Some(series), from, to, columns, visit)
    }

    /// The overview buckets of `series` that overlap `from..=to` (a bucket starting before
    /// `from` may end inside the range).
    fn scan_overlapping(
        &self,
        series: &str,
        from: i64,
        to: i64,
        columns: &[usize],
        mut visit: impl FnMut(&RecordBatch) -> Result<bool, QueryError>,
    ) -> Result<(), QueryError> {
        let end_index = self.index_of("ts_end")?;
        let mut wanted = vec![end_index];
        wanted.extend(columns.iter().filter(|c| **c != end_index));
        self.scan(Some(series), i64::MIN, to, &wanted, |batch| {
            let ends = batch.column(2).as_primitive::<Int64Type>();
            let keep: arrow_array::BooleanArray =
                ends.values().iter().map(|e| Some(*e >= from)).collect();
            let kept = arrow_select::filter::filter_record_batch(batch, &keep)?;
            if kept.num_rows() == 0 { Ok(true) } else { visit(&kept) }
        })
    }
}

/// The rows of a batch sorted by series and time that belong to `series` and the range.
fn select(batch: &RecordBatch, series: Option<&str>, from: i64, to: i64) -> Option<RecordBatch> {
    let keys = Keys::of(batch);
    let rows = batch.num_rows();
    let (start, end) = match series {
        Some(series) => {
            let start = partition(rows, |i| keys.series(i) < series);
            let end = start + partition(rows - start, |i| keys.series(start + i) <= series);
            (start, end)
        }
        None => (0, rows),
    };
    let times = &keys.times()[start..end];
    let (lo, hi) = if series.is_some() {
        (times.partition_point(|t| *t < from), times.partition_point(|t| *t <= to))
    } else {
        (0, times.len())
    };
    let (start, end) = (start + lo, start + hi);
    if start >= end {
        return None;
    }
    let slice = batch.slice(start, end - start);
    if series.is_some() {
        return Some(slice);
    }
    // Every series: times restart with each series, so filter row by row.
    let keep: arrow_array::BooleanArray =
        Keys::of(&slice).times().iter().map(|t| Some(*t >= from && *t <= to)).collect();
    arrow_select::filter::filter_record_batch(&slice, &keep).ok().filter(|b| b.num_rows() > 0)
}

fn partition(len: usize, below: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if below(mid) { lo = mid + 1 } else { hi = mid }
    }
    lo
}

/// One column of a chart window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowColumn {
    /// The column's name.
    pub name: String,
    /// Times of the chosen points, microseconds since 1970 (UTC).
    pub ts: Vec<i64>,
    /// Their values.
    pub values: Vec<f64>,
}

/// A chart window of one series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    /// The series.
    pub series: String,
    /// Rows of the series in the range.
    pub rows: u64,
    /// Whether points were dropped to fit the limit.
    pub downsampled: bool,
    /// The columns.
    pub columns: Vec<WindowColumn>,
}

fn numeric_columns(part: &Part, columns: &[String]) -> Result<Vec<usize>, QueryError> {
    let names: Vec<String> = if columns.is_empty() {
        part.columns()
            .into_iter()
            .filter(|(_, t)| matches!(t, DataType::Float64 | DataType::Int64))
            .map(|(n, _)| n)
            .collect()
    } else {
        columns.to_vec()
    };
    names
        .iter()
        .map(|name| {
            let index = part.column_index(name)?;
            let schema = part.metadata.schema();
            match schema.field(index).data_type() {
                DataType::Float64 | DataType::Int64 => Ok(index),
                _ => Err(QueryError::NotNumeric(name.clone())),
            }
        })
        .collect()
}

/// A numeric column's values as floats (anything else as missing).
pub(crate) fn as_f64(column: &ArrayRef) -> Vec<Option<f64>> {
    match column.data_type() {
        DataType::Float64 => column.as_primitive::<Float64Type>().iter().collect(),
        DataType::Int64 => {
            column.as_primitive::<Int64Type>().iter().map(|v| v.map(|v| v as f64)).collect()
        }
        _ => vec![None; column.len()],
    }
}

/// At most `points` points per column of `series` between `from` and `to`, chosen by
/// MinMaxLTTB (every point when there are few enough). A range of millions of rows is
/// answered from the coarsest overview that gives `MINMAX_RATIO` candidates per point.
pub fn window(
    part: &Part,
    series: &str,
    columns: &[String],
    from: i64,
    to: i64,
    points: usize,
) -> Result<Window, QueryError> {
    if points < 3 {
        return Err(QueryError::Invalid("points must be at least 3".to_owned()));
    }
    let indices = numeric_columns(part, columns)?;
    let schema = part.metadata.schema();
    let names: Vec<String> = indices.iter().map(|i| schema.field(*i).name().clone()).collect();
    if let Some((overview, rows)) =
        part.overview_for(series, from, to, points * MINMAX_RATIO / 2)?
    {
        return window_from_overview(overview, series, &names, from, to, points, rows);
    }
    let mut ts = Vec::new();
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); indices.len()];
    part.scan(Some(series), from, to, &indices, |batch| {
        ts.extend_from_slice(Keys::of(batch).times());
        for (name, values) in names.iter().zip(values.iter_mut()) {
            if let Some(column) = batch.column_by_name(name) {
                values.extend(as_f64(column));
            }
        }
        Ok(true)
    })?;
    let rows = ts.len() as u64;
    let mut downsampled = false;
    let columns = names
        .into_iter()
        .zip(values)
        .map(|(name, values)| {
            let (x, y): (Vec<i64>, Vec<f64>) =
                ts.iter().zip(values).filter_map(|(t, v)| v.map(|v| (*t, v))).unzip();
            let chosen = minmax_lttb(&x, &y, points);
            downsampled |= chosen.len() < x.len();
            WindowColumn {
                name,
                ts: chosen.iter().map(|i| x[*i]).collect(),
                values: chosen.iter().map(|i| y[*i]).collect(),
            }
        })
        .collect();
    Ok(Window { series: series.to_owned(), rows, downsampled, columns })
}

/// The overview columns of `column`'s statistic `stat`, as floats (times too).
fn overview_values(batch: &RecordBatch, column: &str, stat: &str) -> Vec<Option<f64>> {
    batch.column_by_name(&format!("{column}.{stat}")).map(as_f64).unwrap_or_default()
}

fn overview_indices(
    overview: &Part,
    names: &[String],
    stats: &[&str],
) -> Result<Vec<usize>, QueryError> {
    let mut indices = Vec::new();
    for name in names {
        for stat in stats {
            indices.push(overview.index_of(&format!("{name}.{stat}"))?);
        }
    }
    Ok(indices)
}

/// A window from an overview: each bucket's minimum and maximum (inside the range) are
/// the candidates LTTB picks from.
fn window_from_overview(
    overview: &Part,
    series: &str,
    names: &[String],
    from: i64,
    to: i64,
    points: usize,
    rows: u64,
) -> Result<Window, QueryError> {
    let indices = overview_indices(overview, names, &["min", "min_ts", "max", "max_ts"])?;
    let mut candidates: Vec<Vec<(i64, f64)>> = vec![Vec::new(); names.len()];
    overview.scan_overlapping(series, from, to, &indices, |batch| {
        for (name, out) in names.iter().zip(candidates.iter_mut()) {
            let min = overview_values(batch, name, "min");
            let min_ts = overview_values(batch, name, "min_ts");
            let max = overview_values(batch, name, "max");
            let max_ts = overview_values(batch, name, "max_ts");
            for row in 0..batch.num_rows() {
                let (Some(low), Some(low_at), Some(high), Some(high_at)) =
                    (min[row], min_ts[row], max[row], max_ts[row])
                else {
                    continue;
                };
                let (low_at, high_at) = (low_at as i64, high_at as i64);
                let mut pair = [(low_at, low), (high_at, high)];
                pair.sort_by_key(|p| p.0);
                let mut previous = None;
                for (at, value) in pair {
                    if (from..=to).contains(&at) && previous != Some(at) {
                        out.push((at, value));
                        previous = Some(at);
                    }
                }
            }
        }
        Ok(true)
    })?;
    let columns = names
        .iter()
        .zip(candidates)
        .map(|(name, points_in)| {
            let (x, y): (Vec<i64>, Vec<f64>) = points_in.into_iter().unzip();
            let all: Vec<usize> = (0..x.len()).collect();
            let chosen = lttb(&x, &y, &all, points);
            WindowColumn {
                name: name.clone(),
                ts: chosen.iter().map(|i| x[*i]).collect(),
                values: chosen.iter().map(|i| y[*i]).collect(),
            }
        })
        .collect();
    Ok(Window { series: series.to_owned(), rows, downsampled: true, columns })
}

/// The indices MinMaxLTTB keeps of `y` (at times `x`): a min-max pass picks
/// `MINMAX_RATIO * n` candidates, then Largest-Triangle-Three-Buckets picks `n` of them.
pub fn minmax_lttb(x: &[i64], y: &[f64], n: usize) -> Vec<usize> {
    let len = y.len();
    if len <= n {
        return (0..len).collect();
    }
    let candidates = if len > n * MINMAX_RATIO {
        let mut picked = vec![0];
        let inner = len - 2;
        let buckets = n * MINMAX_RATIO / 2;
        for b in 0..buckets {
            let start = 1 + b * inner / buckets;
            let end = 1 + (b + 1) * inner / buckets;
            if start >= end {
                continue;
            }
            let (mut lo, mut hi) = (start, start);
            for i in start..end {
                if y[i] < y[lo] {
                    lo = i;
                }
                if y[i] > y[hi] {
                    hi = i;
                }
            }
            picked.push(lo.min(hi));
            if lo != hi {
                picked.push(lo.max(hi));
            }
        }
        picked.push(len - 1);
        picked
    } else {
        (0..len).collect()
    };
    lttb(x, y, &candidates, n)
}

/// Largest-Triangle-Three-Buckets over the points at `candidates`: keeps `n` of them.
fn lttb(x: &[i64], y: &[f64], candidates: &[usize], n: usize) -> Vec<usize> {
    let len = candidates.len();
    if len <= n {
        return candidates.to_vec();
    }
    let mut out = Vec::with_capacity(n);
    out.push(candidates[0]);
    let buckets = n - 2;
    let bounds = |b: usize| (1 + b * (len - 2) / buckets, 1 + (b + 1) * (len - 2) / buckets);
    let origin = x[candidates[0]] as f64;
    let px = |i: usize| x[i] as f64 - origin;
    let mut previous = candidates[0];
    for b in 0..buckets {
        let (start, end) = bounds(b);
        // The average of the next bucket (the last point for the last bucket).
        let (next_x, next_y) = if b + 1 < buckets {
            let (ns, ne) = bounds(b + 1);
            let count = (ne - ns).max(1) as f64;
            let sx: f64 = candidates[ns..ne].iter().map(|&i| px(i)).sum();
            let sy: f64 = candidates[ns..ne].iter().map(|&i| y[i]).sum();
            (sx / count, sy / count)
        } else {
            let last = candidates[len - 1];
            (px(last), y[last])
        };
        let (ax, ay) = (px(previous), y[previous]);
        let mut best = candidates[start.min(len - 2)];
        let mut best_area = -1.0;
        for &i in &candidates[start..end.max(start)] {
            let area = ((ax - next_x) * (y[i] - ay) - (ax - px(i)) * (next_y - ay)).abs();
            if area > best_area {
                best_area = area;
                best = i;
            }
        }
        out.push(best);
        previous = best;
    }
    out.push(candidates[len - 1]);
    out
}

/// One OHLC candle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candle {
    /// The bucket's start, microseconds since 1970 (UTC).
    pub ts: i64,
    /// The first open in the bucket.
    pub open: f64,
    /// The highest high.
    pub high: f64,
    /// The lowest low.
    pub low: f64,
    /// The last close.
    pub close: f64,
    /// The summed volume, if the dataset has volumes.
    pub volume: Option<f64>,
}

/// Candles of `series` between `from` and `to`, in at most `points` equal time buckets
/// (every row its own candle when there are few enough). Over millions of rows they are
/// built from an overview's buckets (each bucket falls wholly into the candle where it
/// starts).
pub fn candles(
    part: &Part,
    series: &str,
    from: i64,
    to: i64,
    points: usize,
) -> Result<(u64, Vec<Candle>), QueryError> {
    if points == 0 {
        return Err(QueryError::Invalid("points must be at least 1".to_owned()));
    }
    let index = |name: &'static str| part.column_index(name).map_err(|_| QueryError::NotOhlc(name));
    let ohlc = [index("open")?, index("high")?, index("low")?, index("close")?];
    let volume = part.column_index("volume").ok();
    // (bucket start, [open, high, low, close, volume]) in time order.
    let mut rows: Vec<(i64, [Option<f64>; 5])> = Vec::new();
    let count = if let Some((overview, count)) =
        part.overview_for(series, from, to, points * MINMAX_RATIO)?
    {
        let names: Vec<String> = ["open", "high", "low", "close"].map(str::to_owned).into();
        let mut indices = overview_indices(overview, &names[..1], &["first"])?;
        indices.extend(overview_indices(overview, &names[1..2], &["max"])?);
        indices.extend(overview_indices(overview, &names[2..3], &["min"])?);
        indices.extend(overview_indices(overview, &names[3..], &["last"])?);
        if volume.is_some() {
            indices.extend(overview_indices(overview, &["volume".to_owned()], &["sum"])?);
        }
        overview.scan_overlapping(series, from, to, &indices, |batch| {
            let ts = Keys::of(batch).times();
            let open = overview_values(batch, "open", "first");
            let high = overview_values(batch, "high", "max");
            let low = overview_values(batch, "low", "min");
            let close = overview_values(batch, "close", "last");
            let vol = overview_values(batch, "volume", "sum");
            for (row, at) in ts.iter().enumerate() {
                let v = vol.get(row).copied().flatten();
                rows.push((*at, [open[row], high[row], low[row], close[row], v]));
            }
            Ok(true)
        })?;
        count
    } else {
        let mut wanted: Vec<usize> = ohlc.to_vec();
        wanted.extend(volume);
        part.scan(Some(series), from, to, &wanted, |batch| {
            let ts = Keys::of(batch).times();
            let column = |name: &str| batch.column_by_name(name).map(as_f64).unwrap_or_default();
            let columns =
                [column("open"), column("high"), column("low"), column("close"), column("volume")];
            for (row, at) in ts.iter().enumerate() {
                let value = |c: usize| columns[c].get(row).copied().flatten();
                rows.push((*at, [value(0), value(1), value(2), value(3), value(4)]));
            }
            Ok(true)
        })?;
        rows.len() as u64
    };
    let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0)) else {
        return Ok((0, Vec::new()));
    };
    let width = if rows.len() <= points { 1 } else { ((last - first) / points as i64 + 1).max(1) };
    let mut candles: Vec<Candle> = Vec::new();
    for (at, [open, high, low, close, vol]) in rows {
        let bucket = if width == 1 { at } else { first + (at - first) / width * width };
        let (Some(open), Some(high), Some(low), Some(close)) = (open, high, low, close) else {
            continue;
        };
        match candles.last_mut() {
            Some(candle) if candle.ts == bucket => {
                candle.high = candle.high.max(high);
                candle.low = candle.low.min(low);
                candle.close = close;
                if let Some(vol) = vol {
                    candle.volume = Some(candle.volume.unwrap_or(0.0) + vol);
                }
            }
            _ => candles.push(Candle { ts: bucket, open, high, low, close, volume: vol }),
        }
    }
    Ok((count, candles))
}

/// Every time and value of one numeric column of one series, in time order; missing
/// values are `NaN`.
pub fn column_values(
    part: &Part,
    series: &str,
    column: &str,
) -> Result<(Vec<i64>, Vec<f64>), QueryError> {
    let (times, mut columns) = columns_values(part, series, &[column.to_owned()])?;
    Ok((times, columns.pop().unwrap_or_default()))
}

/// Every time of one series, in time order, and the values of each numeric column asked
/// for (in the order asked; every numeric column if none is named); missing values are
/// `NaN`.
pub fn columns_values(
    part: &Part,
    series: &str,
    columns: &[String],
) -> Result<(Vec<i64>, Vec<Vec<f64>>), QueryError> {
    let indices = numeric_columns(part, columns)?;
    let names: Vec<String> =
        indices.iter().map(|i| part.metadata.schema().field(*i).name().clone()).collect();
    let mut times = Vec::new();
    let mut values = vec![Vec::new(); names.len()];
    part.scan(Some(series), i64::MIN, i64::MAX, &indices, |batch| {
        times.extend_from_slice(Keys::of(batch).times());
        for (name, out) in names.iter().zip(values.iter_mut()) {
            match batch.column_by_name(name) {
                Some(column) => {
                    out.extend(as_f64(column).into_iter().map(|v| v.unwrap_or(f64::NAN)))
                }
                None => out.resize(times.len(), f64::NAN),
            }
        }
        Ok(true)
    })?;
    Ok((times, values))
}

/// A page of raw rows.
#[derive(Debug, Clone)]
pub struct RowsPage {
    /// The rows, in series and time order.
    pub batch: Option<RecordBatch>,
    /// Rows in the range (all series asked for).
    pub total: u64,
}

/// Rows `offset..offset + limit` of `series` (every series if `None`) between `from` and
/// `to`, in series and time order.
pub fn rows(
    part: &Part,
    series: Option<&str>,
    from: i64,
    to: i64,
    offset: u64,
    limit: usize,
) -> Result<RowsPage, QueryError> {
    let all: Vec<usize> = (2..part.metadata.schema().fields().len()).collect();
    let mut skipped = 0u64;
    let mut taken: Vec<RecordBatch> = Vec::new();
    let mut taken_rows = 0usize;
    let mut total = 0u64;
    part.scan(series, from, to, &all, |batch| {
        let rows = batch.num_rows() as u64;
        total += rows;
        if taken_rows < limit && skipped + rows > offset {
            let start = offset.saturating_sub(skipped) as usize;
            let length = (batch.num_rows() - start).min(limit - taken_rows);
            taken.push(batch.slice(start, length));
            taken_rows += length;
        }
        skipped += rows;
        Ok(true)
    })?;
    let batch = match taken.first() {
        Some(first) => Some(arrow_select::concat::concat_batches(&first.schema(), &taken)?),
        None => None,
    };
    Ok(RowsPage { batch, total })
}

/// A dataset file made from CSV text (one series `X`), for tests.
#[cfg(test)]
pub(crate) fn part_from_csv(csv: &str) -> (tempfile::TempDir, Part) {
    let options = variosync_formats::delimited::ReadOptions {
        mode: variosync_formats::table::Mode::Strict,
        zone: variosync_domain::time::Zone::Utc,
        default_series: "X".into(),
        mapping: Default::default(),
    };
    let read = variosync_formats::delimited::read(csv.as_bytes(), &options).unwrap();
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("part.parquet");
    let schema = read.batches[0].schema();
    let file = File::create(&path).unwrap();
    variosync_formats::parquet_out::write_sorted(read.batches, schema, file).unwrap();
    let part = Part::open(&path).unwrap();
    (directory, part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minmax_lttb_keeps_the_ends_and_the_extremes() {
        let x: Vec<i64> = (0..10_000).collect();
        let mut y: Vec<f64> = x.iter().map(|i| (*i as f64 / 100.0).sin()).collect();
        y[5_000] = 50.0;
        y[7_777] = -50.0;
        let kept = minmax_lttb(&x, &y, 100);
        assert_eq!(kept.len(), 100);
        assert_eq!((kept[0], kept[99]), (0, 9_999));
        assert!(kept.contains(&5_000) && kept.contains(&7_777), "spikes survive");
        assert!(kept.windows(2).all(|w| w[0] < w[1]), "in time order");
        assert_eq!(minmax_lttb(&x[..50], &y[..50], 100), (0..50).collect::<Vec<_>>());
    }

    fn part(points: &[(&str, i64, f64)]) -> (tempfile::TempDir, Part) {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("part.parquet");
        let batch = variosync_formats::table::from_points("close", points).unwrap();
        let file = File::create(&path).unwrap();
        variosync_formats::parquet_out::write_sorted([batch.clone()], batch.schema(), file)
            .unwrap();
        let part = Part::open(&path).unwrap();
        (directory, part)
    }

    #[test]
    fn narrow_ranges_read_by_the_page_index_find_every_row_and_only_those() {
        // Three series of 120,000 minutes each: several row groups, and pages of 20,000
        // rows inside them (the page index has something to skip).
        let mut points = Vec::new();
        for s in ["A", "B", "C"] {
            for i in 0..120_000i64 {
                points.push((s, i * 60_000_000, i as f64));
            }
        }
        let (_dir, part) = part(&points);
        assert!(part.metadata.metadata().page_index().is_some(), "the file has a page index");
        let minute = 60_000_000;
        let ranges = [
            (0, 0),
            (5 * minute, 7 * minute),
            (19_999 * minute, 20_001 * minute),
            (65_000 * minute, 66_440 * minute),
            (119_990 * minute, 200_000 * minute),
            (i64::MIN, i64::MAX),
            (-10 * minute, -1),
        ];
        for series in [Some("A"), Some("B"), Some("C"), None] {
            for (from, to) in ranges {
                let page = rows(&part, series, from, to, 0, 10_000).unwrap();
                let expected = points
                    .iter()
                    .filter(|(s, at, _)| series.is_none_or(|x| x == *s) && (from..=to).contains(at))
                    .count() as u64;
                assert_eq!(page.total, expected, "{series:?} {from}..={to}");
                if let Some(batch) = &page.batch {
                    let times = batch
                        .column(1)
                        .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
                    assert!(times.values().iter().all(|t| (from..=to).contains(t)));
                }
            }
        }
    }

    #[test]
    fn a_window_reads_one_series_in_range() {
        let mut points = Vec::new();
        for s in ["A", "B", "C"] {
            for t in 0..1000 {
                points.push((s, t, t as f64 + if s == "B" { 0.5 } else { 0.0 }));
            }
        }
        let (_dir, part) = part(&points);
        let window = window(&part, "B", &[], 100, 199, 1000).unwrap();
        assert_eq!(window.rows, 100);
        assert!(!window.downsampled);
        assert_eq!(window.columns[0].ts.first(), Some(&100));
        assert_eq!(window.columns[0].values.last(), Some(&199.5));
        let small = super::window(&part, "C", &["close".into()], 0, 999, 10).unwrap();
        assert_eq!(small.columns[0].ts.len(), 10);
        assert!(small.downsampled);
        assert!(matches!(
            super::window(&part, "C", &["nope".into()], 0, 1, 10),
            Err(QueryError::NoColumn(_))
        ));
        assert!(matches!(candles(&part, "A", 0, 10, 5), Err(QueryError::NotOhlc("open"))));
        let page = rows(&part, Some("A"), 0, 999, 990, 50).unwrap();
        assert_eq!((page.total, page.batch.unwrap().num_rows()), (1000, 10));
        let everything = rows(&part, None, 10, 19, 0, 100).unwrap();
        assert_eq!(everything.total, 30, "ten rows of each series");
    }

    #[test]
    fn candles_take_first_open_highest_high_lowest_low_last_close_and_summed_volume() {
        let mut csv = String::from("date,open,high,low,close,volume\n");
        for day in 1..=8 {
            let o = day as f64;
            csv.push_str(&format!(
                "2024-01-{day:02},{o},{},{},{},{}\n",
                o + 2.0,
                o - 1.0,
                o + 0.5,
                day * 10
            ));
        }
        let (_directory, part) = super::part_from_csv(&csv);
        let (rows, all) = candles(&part, "X", i64::MIN, i64::MAX, 100).unwrap();
        assert_eq!((rows, all.len()), (8, 8), "few rows: a candle each");
        let (_, four) = candles(&part, "X", i64::MIN, i64::MAX, 4).unwrap();
        assert_eq!(four.len(), 4);
        let first = &four[0];
        assert_eq!((first.open, first.high, first.low, first.close), (1.0, 4.0, 0.0, 2.5));
        assert_eq!(first.volume, Some(30.0));
    }

    #[test]
    fn large_ranges_are_answered_from_overviews_with_the_same_extremes_and_totals() {
        let rows = 200_000usize;
        let mut csv = String::from("date,open,high,low,close,volume\n");
        let start =
            chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        for i in 0..rows {
            let at = start + chrono::Duration::minutes(i as i64);
            let mid =
                100.0 + ((i as f64) / 1000.0).sin() * 10.0 + if i == 123_456 { 500.0 } else { 0.0 };
            let low = if i == 7_777 { 1.0 } else { mid - 1.0 };
            csv.push_str(&format!(
                "{},{mid},{},{low},{},{}\n",
                at.format("%Y-%m-%dT%H:%M:%S"),
                mid + 1.0,
                mid + 0.5,
                i % 10
            ));
        }
        let options = variosync_formats::delimited::ReadOptions {
            mode: variosync_formats::table::Mode::Strict,
            zone: variosync_domain::time::Zone::Utc,
            default_series: "X".into(),
            mapping: Default::default(),
        };
        let reader = variosync_formats::delimited::Reader::new(
            Box::new(std::io::Cursor::new(csv.into_bytes())),
            &options,
        )
        .unwrap();
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("part-0.parquet");
        let schema = reader.schema();
        let converted = crate::convert::convert(
            reader,
            schema,
            &path,
            directory.path(),
            crate::duplicates::DuplicatePolicy::KeepLast,
        )
        .unwrap();
        assert_eq!(converted.overviews.len(), 3);
        let part = Part::open(&path).unwrap();
        assert_eq!(part.overviews.len(), 3);

        let window =
            super::window(&part, "X", &["high".into(), "low".into()], i64::MIN, i64::MAX, 100)
                .unwrap();
        assert_eq!((window.rows, window.downsampled), (rows as u64, true));
        let high = &window.columns[0];
        assert_eq!(high.values.len(), 100);
        let top = high.values.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(top, 100.0 + (123.456f64).sin() * 10.0 + 500.0 + 1.0, "the spike survives");
        let spike_at = (start + chrono::Duration::minutes(123_456)).and_utc().timestamp_micros();
        assert!(high.ts.contains(&spike_at), "at its own time");
        assert!(window.columns[1].values.contains(&1.0), "the dip survives");
        assert!(high.ts.windows(2).all(|w| w[0] < w[1]));

        let (count, candles) = candles(&part, "X", i64::MIN, i64::MAX, 10).unwrap();
        assert_eq!(count, rows as u64);
        assert!(candles.len() <= 10 && candles.len() >= 9, "{}", candles.len());
        let volume: f64 = candles.iter().filter_map(|c| c.volume).sum();
        assert_eq!(volume, (0..rows).map(|i| (i % 10) as f64).sum::<f64>());
        assert_eq!(candles[0].open, 100.0);
        assert_eq!(candles.iter().map(|c| c.low).fold(f64::MAX, f64::min), 1.0);
        // A zoom small enough reads the rows themselves, exactly.
        let from = (start + chrono::Duration::minutes(1000)).and_utc().timestamp_micros();
        let zoom = super::window(&part, "X", &["close".into()], from, from + 99 * 60_000_000, 1000)
            .unwrap();
        assert_eq!((zoom.rows, zoom.downsampled), (100, false));
    }
}

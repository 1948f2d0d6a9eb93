//! How a file would be read, from its first bytes: the upload page shows this before the
//! file is sent, so an ambiguous reading can be corrected first. Nothing is stored.

use std::io::Cursor;

use serde::Serialize;
use utoipa::ToSchema;
use variosync_formats::columnar::{self, Columnar};
use variosync_formats::delimited::ReadError;
use variosync_formats::mapping::{MappingError, Proposal, TimeSource, ValueKind, time_format_code};
use variosync_formats::numbers::DecimalMark;
use variosync_formats::source::{self, Input, Source};

use crate::error::{Error, Result};
use crate::imports::ImportOptions;
use crate::{App, Principal};

/// The most bytes of a file a preview reads.
pub const PREVIEW_BYTES: usize = 1 << 20;

/// What to preview.
#[derive(Debug, Clone, Default)]
pub struct PreviewRequest {
    /// The body is the whole file (else its first bytes).
    pub whole: bool,
    /// The zone of naive timestamps (default `UTC`).
    pub tz: Option<String>,
    /// Choices over the detected mapping, as a JSON object.
    pub mapping: Option<String>,
}

/// How a file would be read.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = Preview)]
pub struct Preview {
    /// `csv` (any delimited text), `json`, `line_protocol`, `parquet`, `arrow`, `avro` or
    /// `excel`.
    pub format: String,
    /// `gzip`, `bzip2`, `zstd` or `zip` around the file, if any.
    pub compression: Option<String>,
    /// `false` when the format is read only from a whole file (Parquet, Arrow files,
    /// workbooks) and only its first bytes were sent: it is read on import.
    pub read: bool,
    /// The file's columns.
    pub columns: Vec<String>,
    /// The time column (or the date column, with `time_of_day`).
    pub time: Option<String>,
    /// A separate time-of-day column.
    pub time_of_day: Option<String>,
    /// How the time is written, as the mapping's `time_format` names it.
    pub time_format: Option<String>,
    /// The same, as people read it.
    pub time_format_label: Option<String>,
    /// The series column, if rows belong to several series (several joined with commas,
    /// as the mapping's `series` takes them).
    pub series: Option<String>,
    /// `long` (a row per series and time) or `wide` (a column per series).
    pub layout: Option<String>,
    /// Why the reading is what it is, where the content decided it.
    pub notes: Vec<String>,
    /// The value columns.
    pub values: Vec<PreviewColumn>,
    /// `point` or `comma`.
    pub decimal: Option<String>,
    /// Things to check before importing (an ambiguous date order, empty columns).
    pub warnings: Vec<String>,
    /// Why no reading could be proposed (the columns are still listed, to choose from).
    pub problem: Option<String>,
    /// The first rows or records as they are in the file.
    pub sample: Vec<String>,
}

/// A value column of the preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewColumn {
    /// Its name in the file.
    pub column: String,
    /// Its name in the dataset.
    pub name: String,
    /// `integer`, `float` or `text`.
    pub kind: &'static str,
}

fn view(source: &Source, format: &str, compression: Option<String>) -> Preview {
    let names = source.names();
    let name = |index: usize| names.get(index).cloned().unwrap_or_default();
    let Proposal { time, series, layout, values, decimal, notes, .. } = source.mapping();
    let (time, time_of_day, format_of_time) = match *time {
        TimeSource::Column { index, format } => (name(index), None, format),
        TimeSource::DateAndTime { date, time, format } => (name(date), Some(name(time)), format),
    };
    Preview {
        format: format.to_owned(),
        compression,
        read: true,
        columns: names.to_vec(),
        time: Some(time),
        time_of_day,
        time_format: Some(time_format_code(format_of_time).to_owned()),
        time_format_label: Some(format_of_time.to_string()),
        series: (!series.is_empty())
            .then(|| series.iter().map(|i| name(*i)).collect::<Vec<_>>().join(",")),
        layout: Some(layout.as_str().to_owned()),
        notes: notes.clone(),
        values: values
            .iter()
            .map(|v| PreviewColumn {
                column: name(v.index),
                name: v.name.clone(),
                kind: match v.kind {
                    ValueKind::Integer => "integer",
                    ValueKind::Float => "float",
                    ValueKind::Text => "text",
                },
            })
            .collect(),
        decimal: Some(
            match decimal {
                DecimalMark::Point => "point",
                DecimalMark::Comma => "comma",
            }
            .to_owned(),
        ),
        warnings: source.warnings(),
        problem: None,
        sample: source.sample().iter().take(20).cloned().collect(),
    }
}

impl App {
    /// How `body` (a file's first bytes, or the whole of a small file) would be read.
    pub async fn preview(
        &self,
        _principal: &Principal,
        body: bytes::Bytes,
        request: PreviewRequest,
    ) -> Result<Preview> {
        if body.is_empty() {
            return Err(Error::invalid("empty_upload", "the file is empty"));
        }
        let options = ImportOptions {
            name: Some("preview".to_owned()),
            series: Some("preview".to_owned()),
            mode: Some("lenient".to_owned()),
            tz: request.tz,
            duplicates: None,
            mapping: request.mapping,
        };
        let (options, _) = options.choices(None)?.options()?;
        let received = if request.whole {
            let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(body.clone())]);
            Some(self.receive("preview", stream, u64::MAX).await?)
        } else {
            None
        };
        tokio::task::spawn_blocking(move || {
            let read_whole_only = match columnar::sniff(&body) {
                Some(Columnar::Parquet) => Some("parquet"),
                Some(Columnar::ArrowFile) => Some("arrow"),
                _ if variosync_formats::workbook::sniff(&body) => Some("excel"),
                _ => None,
            };
            if let (Some(format), None) = (read_whole_only, &received) {
                return Ok(Preview { format: format.to_owned(), ..Preview::default() });
            }
            let input = match &received {
                Some(received) => Input::Path(received.path().to_owned()),
                None => {
                    let compressed = source::compression(&body).is_some();
                    // A head cut inside a line would show a broken last row.
                    let end = match body.iter().rposition(|&b| b == b'\n') {
                        Some(at) if !compressed => at + 1,
                        _ => body.len(),
                    };
                    Input::Stream(Box::new(Cursor::new(body.slice(..end))))
                }
            };
            match source::open_input(input, &options) {
                Ok((source, detected)) => {
                    let compression = detected.compression.map(|c| format!("{c:?}").to_lowercase());
                    Ok(view(&source, detected.format, compression))
                }
                Err(ReadError::Mapping(MappingError::NoTimeColumn { columns })) => Ok(Preview {
                    read: true,
                    columns,
                    problem: Some(MappingError::NoTimeColumn { columns: Vec::new() }.to_string()),
                    ..Preview::default()
                }),
                Err(error) => Err(Error::invalid(error.code(), error.to_string())),
            }
        })
        .await?
    }
}

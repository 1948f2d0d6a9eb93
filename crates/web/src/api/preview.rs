//! How a file would be read, from its first bytes: the upload page shows this before the
//! file is sent, so an ambiguous reading can be corrected first.

use std::io::Cursor;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use variosync_formats::columnar::{self, Columnar};
use variosync_formats::delimited::ReadError;
use variosync_formats::mapping::{MappingError, Proposal, TimeSource, ValueKind, time_format_code};
use variosync_formats::numbers::DecimalMark;
use variosync_formats::source::{self, Input, Source};
use variosync_jobs::uploads::ReadChoices;

use super::datasets::{Received, internal, invalid};
use super::openapi::Reading;
use crate::error::ApiError;
use crate::session::CurrentUser;
use crate::state::AppState;

/// The most bytes of a file a preview reads.
pub const PREVIEW_BYTES: usize = 1 << 20;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(preview).layer(DefaultBodyLimit::max(PREVIEW_BYTES + 1024)))
}

/// What to preview.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PreviewQuery {
    /// `true` when the body is the whole file, `false` (default) when it is the file's first
    /// bytes.
    whole: Option<bool>,
    /// The zone of timestamps without an offset (default `UTC`).
    tz: Option<String>,
    /// Choices over the detected mapping, as a JSON object, as `POST /datasets` takes them.
    mapping: Option<String>,
}

/// How a file would be read.
#[derive(Debug, Default, Serialize, ToSchema)]
#[schema(as = Preview)]
struct PreviewView {
    /// `csv` (any delimited text), `json`, `line_protocol`, `parquet`, `arrow`, `avro` or
    /// `excel`.
    format: String,
    /// `gzip`, `bzip2`, `zstd` or `zip` around the file, if any.
    compression: Option<String>,
    /// `false` when the format is read only from a whole file (Parquet, Arrow files,
    /// workbooks) and only its first bytes were sent: it is read on import.
    read: bool,
    /// The file's columns.
    columns: Vec<String>,
    /// The time column (or the date column, with `time_of_day`).
    time: Option<String>,
    /// A separate time-of-day column.
    time_of_day: Option<String>,
    /// How the time is written, as the mapping's `time_format` names it.
    time_format: Option<String>,
    /// The same, as people read it.
    time_format_label: Option<String>,
    /// The series column, if rows belong to several series.
    series: Option<String>,
    /// The value columns.
    values: Vec<PreviewColumn>,
    /// `point` or `comma`.
    decimal: Option<String>,
    /// Things to check before importing (an ambiguous date order, empty columns).
    warnings: Vec<String>,
    /// Why no reading could be proposed (the columns are still listed, to choose from).
    problem: Option<String>,
    /// The first rows or records as they are in the file.
    sample: Vec<String>,
}

/// A value column of the preview.
#[derive(Debug, Serialize, ToSchema)]
struct PreviewColumn {
    /// Its name in the file.
    column: String,
    /// Its name in the dataset.
    name: String,
    /// `integer`, `float` or `text`.
    kind: &'static str,
}

fn view(source: &Source, format: &str, compression: Option<String>) -> PreviewView {
    let names = source.names();
    let name = |index: usize| names.get(index).cloned().unwrap_or_default();
    let Proposal { time, series, values, decimal, .. } = source.mapping();
    let (time, time_of_day, format_of_time) = match *time {
        TimeSource::Column { index, format } => (name(index), None, format),
        TimeSource::DateAndTime { date, time, format } => (name(date), Some(name(time)), format),
    };
    PreviewView {
        format: format.to_owned(),
        compression,
        read: true,
        columns: names.to_vec(),
        time: Some(time),
        time_of_day,
        time_format: Some(time_format_code(format_of_time).to_owned()),
        time_format_label: Some(format_of_time.to_string()),
        series: series.map(name),
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

/// Preview a file
///
/// How a file would be read, from its first bytes (up to 1 MiB) or the whole of a small
/// file: the detected format, the time, series and value columns, the warnings and the first
/// rows. Nothing is stored. When no time column is found, `problem` says so and `columns`
/// lists the file's columns to choose from. Parquet, Arrow files and workbooks are read only
/// whole: for their first bytes the answer has `read: false`.
#[utoipa::path(
    post,
    path = "/datasets/preview",
    tag = "datasets",
    operation_id = "preview_dataset",
    security(("bearer" = []), ("session" = [])),
    params(PreviewQuery),
    request_body(description = "The file's first bytes, or the whole file", content(("*/*"))),
    responses(
        (status = 200, description = "How the file would be read", body = PreviewView),
        Reading,
        (
            status = 400,
            description = "The body is empty (`empty_upload`); a choice is not valid \
                (`invalid_tz`, `invalid_mapping`); the file cannot be read \
                (`unsupported_format`, `unreadable_file`)",
            body = ApiError
        ),
        (status = 413, description = "The body is larger than 1 MiB", body = ApiError),
    )
)]
async fn preview(
    State(state): State<AppState>,
    _current: CurrentUser,
    Query(query): Query<PreviewQuery>,
    body: Bytes,
) -> Result<Json<PreviewView>, ApiError> {
    if body.is_empty() {
        return Err(invalid("empty_upload", "the file is empty"));
    }
    let mapping = match query.mapping.as_deref() {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| invalid("invalid_mapping", format!("the mapping is not valid: {e}")))?,
        None => Default::default(),
    };
    let choices = ReadChoices {
        name: "preview".to_owned(),
        default_series: "preview".to_owned(),
        mode: "lenient".to_owned(),
        tz: query.tz.unwrap_or_else(|| "UTC".to_owned()),
        duplicates: "keep_last".to_owned(),
        mapping,
    };
    let (options, _) = choices.options().map_err(|(code, message)| invalid(code, message))?;
    let whole = query.whole.unwrap_or(false);
    let received = if whole {
        let received = Received::new(&state, "preview").await?;
        tokio::fs::write(&received.0, &body)
            .await
            .map_err(|e| internal("cannot write a preview file", &e))?;
        Some(received)
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
            return Ok(PreviewView { format: format.to_owned(), ..PreviewView::default() });
        }
        let input = match &received {
            Some(received) => Input::Path(received.0.clone()),
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
            Err(ReadError::Mapping(MappingError::NoTimeColumn { columns })) => Ok(PreviewView {
                read: true,
                columns,
                problem: Some(MappingError::NoTimeColumn { columns: Vec::new() }.to_string()),
                ..PreviewView::default()
            }),
            Err(ReadError::Mapping(
                error @ (MappingError::UnknownColumn { .. } | MappingError::Invalid(_)),
            )) => Err(invalid("invalid_mapping", error.to_string())),
            Err(ReadError::Unsupported(message)) => Err(invalid("unsupported_format", message)),
            Err(error) => Err(invalid("unreadable_file", error.to_string())),
        }
    })
    .await
    .map_err(|e| internal("a preview stopped", &e))?
    .map(Json)
}

//! Exports: a dataset's version (chosen series, columns and time range) written in the
//! format the next tool wants, streamed as it is written, in bounded memory.

use bytes::Bytes;
use variosync_domain::DatasetId;
pub use variosync_formats::export::{
    ExportOptions, Format as ExportFormat, JsonLayout, Packing, TimeFormat,
};

use crate::datasets::RejectsStream;
use crate::{App, Error, Principal, Result};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// The version (default: the current one).
    pub version: Option<u32>,
    /// The series (default: all of them).
    pub series: Vec<String>,
    /// The value columns (default: all of them).
    pub columns: Vec<String>,
    /// The first time, inclusive, in microseconds since 1970.
    pub from: Option<i64>,
    /// The end, exclusive, in microseconds since 1970.
    pub to: Option<i64>,
    /// How to write it.
    pub options: ExportOptions,
}

/// An export being written: its file name, media type and bytes.
pub struct ExportDownload {
    /// A file name made from the dataset's name, safe in a header and on any disk.
    pub file_name: String,
    pub media_type: &'static str,
    /// The bytes as they are written; an error ends the stream early.
    pub stream: RejectsStream,
}

impl std::fmt::Debug for ExportDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportDownload")
            .field("file_name", &self.file_name)
            .field("media_type", &self.media_type)
            .finish_non_exhaustive()
    }
}

/// How to write an export, as a person says it (the API's query, the command line's flags);
/// each absent or blank choice takes its default.
#[derive(Debug, Clone, Default)]
pub struct ExportChoices {
    /// The format's name (`csv`, `tsv`, `json`, `jsonl`, `parquet`, `arrow`, `arrows`,
    /// `feather`, `lp`).
    pub format: Option<String>,
    /// `gzip` or `zstd` around the output.
    pub compression: Option<String>,
    /// The delimiter of CSV: one ASCII character, or `tab`.
    pub delimiter: Option<String>,
    /// The decimal mark of delimited text: `point` or `comma`.
    pub decimal: Option<String>,
    /// How times are written: `rfc3339`, `s`, `ms`, `us` or a strftime pattern.
    pub time: Option<String>,
    /// The zone times are written in: `UTC` or a zone such as `Europe/Berlin`.
    pub zone: Option<String>,
    /// JSON's layout: `records` or `series`.
    pub json_layout: Option<String>,
}

/// An invalid export choice.
fn invalid_choice(message: impl Into<String>) -> Error {
    Error::invalid("invalid_export", message)
}

impl ExportChoices {
    /// The options these choices make, over `default` (a format and packing, say from a
    /// file's extension); what makes no sense is refused naming the choice.
    pub fn options(&self, default: Option<(ExportFormat, Packing)>) -> Result<ExportOptions> {
        let invalid = |e: variosync_formats::export::ExportError| invalid_choice(e.to_string());
        let given = |value: &Option<String>| {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
        };
        let (default_format, default_packing) =
            default.unwrap_or((ExportFormat::Csv, Packing::Plain));
        let format = match given(&self.format) {
            Some(name) => name.parse().map_err(invalid)?,
            None => default_format,
        };
        let packing = match given(&self.compression).as_deref() {
            None => default_packing,
            Some("none") => Packing::Plain,
            Some("gzip" | "gz") => Packing::Gzip,
            Some("zstd" | "zst") => Packing::Zstd,
            Some(other) => {
                return Err(invalid_choice(format!(
                    "unknown compression {other:?}: expected none, gzip or zstd"
                )));
            }
        };
        let delimiter = match given(&self.delimiter).as_deref() {
            None => None,
            Some("tab") => Some(b'\t'),
            Some(text) if text.len() == 1 && text.is_ascii() => Some(text.as_bytes()[0]),
            Some(other) => {
                return Err(invalid_choice(format!(
                    "the delimiter {other:?} is not one ASCII character (or tab)"
                )));
            }
        };
        let decimal_comma = match given(&self.decimal).as_deref() {
            None | Some("point" | ".") => false,
            Some("comma" | ",") => true,
            Some(other) => {
                return Err(invalid_choice(format!(
                    "the decimal mark {other:?} is neither point nor comma"
                )));
            }
        };
        let zone = match given(&self.zone) {
            None => chrono_tz::UTC,
            Some(zone) if zone.eq_ignore_ascii_case("utc") => chrono_tz::UTC,
            Some(zone) => zone.parse().map_err(|_| {
                invalid_choice(format!("{zone:?} is not a time zone such as UTC or Europe/Berlin"))
            })?,
        };
        let options = ExportOptions {
            packing,
            delimiter,
            decimal_comma,
            time: given(&self.time).unwrap_or_default().parse().map_err(invalid)?,
            zone,
            json: given(&self.json_layout).unwrap_or_default().parse().map_err(invalid)?,
            ..ExportOptions::new(format)
        };
        options.validate().map_err(invalid)?;
        Ok(options)
    }
}

/// Chunks handed to the response at once (so a slow client holds a few MiB at most).
const CHUNKS_IN_FLIGHT: usize = 8;
/// Bytes per chunk.
const CHUNK_BYTES: usize = 256 * 1024;

/// A `Write` that hands full chunks to the response, waiting while the client is behind.
struct ToResponse {
    sender: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

impl ToResponse {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk =
            Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES)));
        self.sender.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
        })
    }
}

impl std::io::Write for ToResponse {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `name` as the stem of a file name: letters, digits, `-`, `_` and `.` kept, runs of
/// anything else one `_`, at most 100 characters; `dataset` if nothing is left.
pub fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
            stem.push(c);
        } else if !stem.ends_with('_') {
            stem.push('_');
        }
    }
    let stem: String = stem.trim_matches(['_', '.']).chars().take(100).collect();
    if stem.is_empty() { "dataset".to_owned() } else { stem }
}

impl App {
    /// Starts exporting a version of a dataset: checks what is asked for (another person's
    /// dataset is not found; an unknown series or column is named), then writes it on the
    /// blocking pool as the response reads it.
    pub async fn export(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: ExportRequest,
    ) -> Result<ExportDownload> {
        request.options.validate().map_err(|e| Error::invalid("invalid_export", e.to_string()))?;
        let (dataset, version) = self.dataset_version(principal, id, request.version).await?;
        for series in &request.series {
            if !version.series.iter().any(|s| s == series) {
                return Err(Error::not_found(
                    "series_not_found",
                    format!("the dataset has no series {series:?}"),
                ));
            }
        }
        let from = request.from.unwrap_or(i64::MIN);
        let to = request.to.map_or(i64::MAX, |end| end.saturating_sub(1));
        if request.to.is_some_and(|end| end <= from) {
            return Err(Error::invalid("invalid_range", "to must be after from"));
        }
        let part = self.open_part(principal, &version).await?;
        let known: Vec<String> = part.columns().into_iter().map(|(name, _)| name).collect();
        if let Some(missing) = request.columns.iter().find(|c| !known.contains(c)) {
            return Err(Error::not_found(
                "column_not_found",
                format!("the dataset has no column {missing:?}: it has {}", known.join(", ")),
            ));
        }
        let mut stem = file_stem(&dataset.name);
        if request.version.is_some() {
            stem.push_str(&format!("-v{}", version.version));
        }
        let file_name = request.options.file_name(&stem);
        let media_type = match request.options.packing {
            Packing::Plain => request.options.format.media_type(),
            Packing::Gzip => "application/gzip",
            Packing::Zstd => "application/zstd",
        };
        // Opened now, so that a deletion of the dataset while it is written cannot cut it.
        let part = std::sync::Arc::new(part);
        let opened = part.clone();
        let file = tokio::task::spawn_blocking(move || opened.open_file_handle()).await??;
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let failed = sender.clone();
        let ExportRequest { series, columns, options, .. } = request;
        let dataset_id = dataset.id;
        tokio::task::spawn_blocking(move || {
            let written = (|| {
                let out = ToResponse { sender, buffer: Vec::with_capacity(CHUNK_BYTES) };
                let schema = part
                    .projected_schema(&columns)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let mut writer = variosync_formats::export::writer(out, schema, &options)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                let (file, series) = (&file, series.as_slice());
                variosync_engine::export::scan_rows(
                    &part,
                    file,
                    series,
                    from,
                    to,
                    &columns,
                    |batch| {
                        writer
                            .write(batch)
                            .map_err(|e| variosync_engine::window::QueryError::Read(e.to_string()))
                    },
                )
                .map_err(|e| std::io::Error::other(e.to_string()))?;
                writer.finish().map_err(|e| std::io::Error::other(e.to_string()))
            })();
            if let Err(error) = written {
                if error.kind() != std::io::ErrorKind::BrokenPipe {
                    tracing::warn!(%dataset_id, error = %error, "an export stopped");
                }
                let _ = failed.blocking_send(Err(error));
            }
        });
        // Ends once the writer is done, and stays ended however often it is polled after.
        let mut receiver = receiver;
        let stream = futures::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        let stream = futures::StreamExt::boxed(stream);
        Ok(ExportDownload { file_name, media_type, stream })
    }
}

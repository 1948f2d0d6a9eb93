//! Exports: a dataset's version (chosen series, columns and time range) written in the
//! format the next tool wants, streamed as it is written, in bounded memory.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use variosync_domain::{DatasetId, ExportId};
pub use variosync_formats::export::{
    ExportOptions, Format as ExportFormat, JsonLayout, Packing, SheetLayout, TimeFormat,
};
use variosync_store::Access;
use variosync_store::exports::{Export, NewExport};
use variosync_store::{Dataset, ObjectKey, Version};

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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportChoices {
    /// The format's name (`csv`, `tsv`, `json`, `jsonl`, `parquet`, `arrow`, `arrows`,
    /// `feather`, `avro`, `xlsx`, `lp`, `openmetrics`, `timescale`).
    pub format: Option<String>,
    /// `gzip` or `zstd` around the output, or `zip` for a file per series in a zip.
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
    /// A workbook's sheets: `one` or `series` (a sheet per series).
    pub sheets: Option<String>,
    /// The table a PostgreSQL/TimescaleDB script creates (default: named after the data).
    pub table: Option<String>,
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
            Some("zip") => Packing::Zip,
            Some(other) => {
                return Err(invalid_choice(format!(
                    "unknown compression {other:?}: expected none, gzip, zstd or zip"
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
            sheets: given(&self.sheets).unwrap_or_default().parse().map_err(invalid)?,
            table: given(&self.table),
            ..ExportOptions::new(format)
        };
        options.validate().map_err(invalid)?;
        Ok(options)
    }
}

/// `name` as a PostgreSQL table name: lower-case letters, digits and `_`, not starting with
/// a digit, at most 63 bytes; `dataset` if nothing is left.
pub fn table_name(name: &str) -> String {
    let mut table = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            table.push(c);
        } else if !table.ends_with('_') {
            table.push('_');
        }
    }
    let mut table = table.trim_matches('_').to_owned();
    if table.starts_with(|c: char| c.is_ascii_digit()) {
        table.insert(0, '_');
    }
    table.truncate(63);
    if table.is_empty() { "dataset".to_owned() } else { table }
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

/// What an export will be: checked against the dataset before anything is written.
struct ExportPlan {
    dataset: Dataset,
    version: Version,
    part: variosync_engine::window::Part,
    file_name: String,
    media_type: &'static str,
    options: ExportOptions,
}

/// Writes the rows of `part` that `request` asks for to `out` (on the blocking pool);
/// `progress` hears the share of rows written, and answers whether to go on.
fn write_rows(
    part: &variosync_engine::window::Part,
    file: &std::fs::File,
    request: &ExportRequest,
    options: &ExportOptions,
    out: impl std::io::Write + Send + 'static,
    mut progress: impl FnMut(u64) -> bool,
) -> std::io::Result<()> {
    let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let from = request.from.unwrap_or(i64::MIN);
    let to = request.to.map_or(i64::MAX, |end| end.saturating_sub(1));
    let schema = part.projected_schema(&request.columns).map_err(|e| other(&e))?;
    let mut writer =
        variosync_formats::export::writer(out, schema, options).map_err(|e| other(&e))?;
    let mut rows = 0u64;
    variosync_engine::export::scan_rows(
        part,
        file,
        &request.series,
        from,
        to,
        &request.columns,
        |batch| {
            writer
                .write(batch)
                .map_err(|e| variosync_engine::window::QueryError::Read(e.to_string()))?;
            rows += batch.num_rows() as u64;
            if progress(rows) {
                Ok(())
            } else {
                Err(variosync_engine::window::QueryError::Read("the export was cancelled".into()))
            }
        },
    )
    .map_err(|e| other(&e))?;
    writer.finish().map_err(|e| other(&e))
}

/// Seconds of compute reserved per GiB of the stored version exported (the unused part is
/// given back when the job ends); text formats write a GiB of Parquet in well under this.
pub const EXPORT_RESERVE_SECS_PER_GIB: u64 = 300;

/// What the `export` job writes: the export's id and what was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportPayload {
    /// The export (its row is recorded already).
    pub export_id: ExportId,
    /// The dataset.
    pub dataset_id: DatasetId,
    /// Its version.
    pub version: u32,
    /// The series (all when empty).
    pub series: Vec<String>,
    /// The value columns (all when empty).
    pub columns: Vec<String>,
    /// The first time, inclusive, in microseconds since 1970.
    pub from: Option<i64>,
    /// The end, exclusive.
    pub to: Option<i64>,
    /// How to write it.
    pub choices: ExportChoices,
}

/// An export asked for as a job: what to export and how, as a person says it.
#[derive(Debug, Clone)]
pub struct ExportJobRequest {
    /// The dataset.
    pub dataset_id: DatasetId,
    /// The version (default: the current one).
    pub version: Option<u32>,
    /// The series (default: all of them).
    pub series: Vec<String>,
    /// The value columns (default: all of them).
    pub columns: Vec<String>,
    /// The first time, inclusive, in microseconds since 1970.
    pub from: Option<i64>,
    /// The end, exclusive.
    pub to: Option<i64>,
    /// How to write it.
    pub choices: ExportChoices,
}

/// An export with where to get its file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportView {
    /// The export.
    #[serde(flatten)]
    pub export: Export,
    /// Where the file is downloaded from, once ready: a link signed for a limited time
    /// (a presigned URL of the object store when it is S3).
    pub download_url: Option<String>,
    /// When `download_url` stops working.
    pub download_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How far its job is (0 to 100), while pending.
    pub progress: Option<f64>,
}

/// Where an export's file is read from.
pub enum ExportFile {
    /// Its bytes, streamed from the object store.
    Stream {
        /// The file's name.
        file_name: String,
        /// Its media type.
        media_type: String,
        /// Its size.
        bytes: u64,
        /// The bytes.
        stream: RejectsStream,
    },
}

impl std::fmt::Debug for ExportFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self::Stream { file_name, bytes, .. } = self;
        f.debug_struct("ExportFile")
            .field("file_name", file_name)
            .field("bytes", bytes)
            .finish_non_exhaustive()
    }
}

/// The name of the server secret that signs download links.
pub const LINK_SECRET: &str = "export_links";
/// How long a download link answered by the API stays valid.
pub const LINK_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

fn export_not_found() -> Error {
    Error::not_found("export_not_found", "there is no such export")
}

/// Parses an export id from text; anything else is simply not found.
pub fn parse_export_id(text: &str) -> Result<ExportId> {
    text.parse().map_err(|_| Error::malformed_id("export", text))
}

/// The hex HMAC-SHA256 of an export's download link valid until `expires` (seconds since
/// 1970) under `secret` (the server secret [`LINK_SECRET`]).
pub fn link_signature(secret: &str, export: ExportId, expires: i64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("export:{export}:{expires}").as_bytes());
    hex_string(&mac.finalize().into_bytes())
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl App {
    /// Checks an export against the dataset: another person's dataset is not found, an
    /// unknown version, series or column is named, a nonsensical range or option refused.
    async fn export_plan(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: &ExportRequest,
    ) -> Result<ExportPlan> {
        let mut options = request.options.clone();
        options.validate().map_err(|e| Error::invalid("invalid_export", e.to_string()))?;
        let (dataset, version) = self.dataset_version(principal, id, request.version).await?;
        for series in &request.series {
            if !version.series.iter().any(|s| s == series) {
                return Err(Error::not_found(
                    "series_not_found",
                    format!("the dataset has no series {series:?}"),
                ));
            }
        }
        if let (Some(from), Some(to)) = (request.from, request.to)
            && to <= from
        {
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
        let file_name = options.file_name(&stem);
        let media_type = options.media_type();
        if options.table.is_none() {
            options.table = Some(table_name(&dataset.name));
        }
        Ok(ExportPlan { dataset, version, part, file_name, media_type, options })
    }

    /// Starts exporting a version of a dataset: checks what is asked for (another person's
    /// dataset is not found; an unknown series or column is named), then writes it on the
    /// blocking pool as the response reads it.
    pub async fn export(
        &self,
        principal: &Principal,
        id: DatasetId,
        request: ExportRequest,
    ) -> Result<ExportDownload> {
        let plan = self.export_plan(principal, id, &request).await?;
        // Opened now, so that a deletion of the dataset while it is written cannot cut it.
        let part = std::sync::Arc::new(plan.part);
        let opened = part.clone();
        let file = tokio::task::spawn_blocking(move || opened.open_file_handle()).await??;
        let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
        let failed = sender.clone();
        let dataset_id = plan.dataset.id;
        let options = plan.options;
        tokio::task::spawn_blocking(move || {
            let out = ToResponse { sender, buffer: Vec::with_capacity(CHUNK_BYTES) };
            let written = write_rows(&part, &file, &request, &options, out, |_| true);
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
        Ok(ExportDownload { file_name: plan.file_name, media_type: plan.media_type, stream })
    }

    /// Asks for an export written by a job into the object store (for exports too large to
    /// stream, or to fetch later): checks it whole, records it as pending, and submits its
    /// job with hours reserved (402 when the balance cannot cover them, and nothing is
    /// left recorded). A repeated idempotency key answers the first export.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn request_export(
        &self,
        principal: &Principal,
        asked: ExportJobRequest,
        idempotency_key: Option<String>,
    ) -> Result<ExportView> {
        principal.require_editor()?;
        // Checked first: a repeated key never makes an invalid request look accepted.
        let options = asked.choices.options(None)?;
        let request = ExportRequest {
            version: asked.version,
            series: asked.series.clone(),
            columns: asked.columns.clone(),
            from: asked.from,
            to: asked.to,
            options,
        };
        let plan = self.export_plan(principal, asked.dataset_id, &request).await?;
        if let Some(job) = self.job_by_key(principal, idempotency_key.as_deref()).await? {
            if let Ok(crate::JobPayload::Export(payload)) = crate::JobPayload::of(&job) {
                return self.export_view(principal, payload.export_id).await;
            }
            return Err(crate::jobs::key_reused(&job));
        }
        let id = ExportId::new();
        let expiry = i64::try_from(self.settings.jobs.export_expiry_secs).unwrap_or(i64::MAX);
        let expires_at = chrono::Utc::now() + chrono::Duration::seconds(expiry.max(1));
        let payload = ExportPayload {
            export_id: id,
            dataset_id: plan.dataset.id,
            version: plan.version.version,
            series: asked.series,
            columns: asked.columns,
            from: asked.from,
            to: asked.to,
            choices: asked.choices,
        };
        let new = NewExport {
            id,
            dataset_id: plan.dataset.id,
            file_name: plan.file_name,
            media_type: plan.media_type.to_owned(),
            request: serde_json::to_value(&payload).unwrap_or_default(),
            expires_at,
        };
        let (access, workspace) = (principal.access(), principal.workspace);
        let exports = self.backends.exports();
        exports.create(access, workspace, &new).await?;
        let gib = plan.version.bytes as f64 / (1u64 << 30) as f64;
        let seconds = (gib * EXPORT_RESERVE_SECS_PER_GIB as f64)
            .max(self.settings.jobs.min_charge_secs as f64)
            .max(1.0);
        let submission = crate::jobs::Submission {
            payload: crate::JobPayload::Export(payload),
            reserve: variosync_domain::Hours::from_millis_ceil((seconds * 1000.0).ceil() as u64),
            idempotency_key,
        };
        let job = match self.submit(principal, principal, &submission).await {
            Ok(job) => job,
            Err(error) => {
                let _ = exports.delete(access, workspace, id).await;
                return Err(error);
            }
        };
        exports.set_job(access, workspace, id, job.id).await?;
        self.export_view(principal, id).await
    }

    /// The principal's exports, newest first, each with its download link once ready.
    pub async fn list_exports(
        &self,
        principal: &Principal,
        limit: Option<u32>,
    ) -> Result<Vec<ExportView>> {
        let limit = Error::bounded("limit", limit, 50, 1, 200)?;
        let exports =
            self.backends.exports().list(principal.access(), principal.workspace, limit).await?;
        let mut views = Vec::with_capacity(exports.len());
        for export in exports {
            views.push(self.view_of(principal, export).await?);
        }
        Ok(views)
    }

    /// One of the principal's exports, with its download link once ready.
    pub async fn export_view(&self, principal: &Principal, id: ExportId) -> Result<ExportView> {
        let export = self.export_record(principal, id).await?;
        self.view_of(principal, export).await
    }

    async fn export_record(&self, principal: &Principal, id: ExportId) -> Result<Export> {
        self.backends
            .exports()
            .get(principal.access(), principal.workspace, id)
            .await?
            .ok_or_else(export_not_found)
    }

    async fn view_of(&self, principal: &Principal, export: Export) -> Result<ExportView> {
        let now = chrono::Utc::now();
        let progress = match (export.status, export.job_id) {
            (variosync_store::exports::ExportStatus::Pending, Some(job)) => {
                self.backends.jobs().get(principal.access(), job).await?.map(|job| job.progress)
            }
            _ => None,
        };
        if export.status != variosync_store::exports::ExportStatus::Ready
            || export.expires_at <= now
        {
            return Ok(ExportView {
                export,
                download_url: None,
                download_expires_at: None,
                progress,
            });
        }
        let ttl = chrono::Duration::from_std(LINK_TTL).unwrap_or(chrono::Duration::hours(1));
        let until = (now + ttl).min(export.expires_at);
        let key = ObjectKey::export_file(export.workspace_id, export.id);
        let valid_for = (until - now).to_std().unwrap_or_default();
        let url = match self
            .backends
            .objects
            .signed_download_url(&key, &export.file_name, &export.media_type, valid_for)
            .await?
        {
            Some(url) => url,
            None => {
                let expires = until.timestamp();
                let signature = link_signature(&self.link_secret().await?, export.id, expires);
                format!(
                    "/api/v1/exports/{}/download?expires={expires}&signature={signature}",
                    export.id
                )
            }
        };
        Ok(ExportView {
            export,
            download_url: Some(url),
            download_expires_at: Some(until),
            progress,
        })
    }

    async fn link_secret(&self) -> Result<String> {
        Ok(self
            .backends
            .server_secrets()
            .get_or_create(LINK_SECRET, || {
                use rand::RngCore;
                let mut bytes = [0u8; 32];
                rand::rng().fill_bytes(&mut bytes);
                hex_string(&bytes)
            })
            .await?)
    }

    /// The file of an export through its signed link: another workspace's export is not
    /// found, a link whose signature does not match is forbidden, one past its time (or
    /// the export's) is gone, and an export still being written is a conflict.
    pub async fn export_download(
        &self,
        principal: &Principal,
        id: ExportId,
        expires: i64,
        signature: &str,
    ) -> Result<ExportFile> {
        use subtle::ConstantTimeEq;
        let export = self.export_record(principal, id).await?;
        let expected = link_signature(&self.link_secret().await?, export.id, expires);
        if !bool::from(expected.as_bytes().ct_eq(signature.trim().as_bytes())) {
            return Err(Error::Forbidden {
                code: "invalid_signature",
                message: "the link's signature does not match: ask for the export again for                           a new link"
                    .to_owned(),
            });
        }
        let now = chrono::Utc::now();
        if expires <= now.timestamp() || export.expires_at <= now {
            return Err(Error::Gone {
                code: "export_expired",
                message: "the link has expired: ask for the export again for a new link".to_owned(),
            });
        }
        if export.status != variosync_store::exports::ExportStatus::Ready {
            return Err(Error::conflict(
                "export_not_ready",
                "the export is not written yet (or it failed): see its status",
            ));
        }
        let key = ObjectKey::export_file(export.workspace_id, export.id);
        let stream = self.backends.objects.get_stream(&key).await?;
        let stream = futures::StreamExt::boxed(futures::StreamExt::map(stream, |chunk| {
            chunk.map_err(|e| std::io::Error::other(e.to_string()))
        }));
        Ok(ExportFile::Stream {
            file_name: export.file_name,
            media_type: export.media_type,
            bytes: export.bytes,
            stream,
        })
    }

    /// Deletes an export's file and record before its time.
    #[tracing::instrument(skip_all, fields(export_id = %id), err(level = "warn"))]
    pub async fn delete_export(&self, principal: &Principal, id: ExportId) -> Result<()> {
        principal.require_editor()?;
        let export = self.export_record(principal, id).await?;
        discard_export(&self.backends, principal.access(), export.workspace_id, export.id).await?;
        let detail = serde_json::json!({ "export_id": export.id, "dataset_id": export.dataset_id });
        self.audit(principal, principal.user, variosync_domain::AuditAction::ExportDeleted, detail)
            .await
    }

    /// Deletes up to a batch of expired exports of every workspace with their files; how
    /// many.
    pub async fn sweep_expired_exports(&self) -> Result<usize> {
        let expired = self.backends.exports().expired_any(Access::System, 500).await?;
        for (workspace, id) in &expired {
            discard_export(&self.backends, Access::System, *workspace, *id).await?;
        }
        Ok(expired.len())
    }
}

/// Deletes an export's file, then its record (a record never points at nothing).
async fn discard_export(
    backends: &variosync_store::Backends,
    access: Access,
    workspace: variosync_domain::WorkspaceId,
    id: ExportId,
) -> Result<()> {
    let key = ObjectKey::export_file(workspace, id);
    match backends.objects.delete(&key).await {
        Ok(()) => {}
        Err(error) if error.kind() == variosync_domain::ErrorKind::NotFound => {}
        Err(error) => return Err(error.into()),
    }
    backends.exports().delete(access, workspace, id).await?;
    Ok(())
}

/// The `export` job kind: writes the export to a file, stores it under the workspace's
/// prefix and marks the export ready (or failed, with the reason).
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportJob;

#[async_trait::async_trait]
impl crate::queue::JobKind for ExportJob {
    fn name(&self) -> &'static str {
        "export"
    }

    async fn run(
        &self,
        context: &crate::queue::JobContext,
    ) -> std::result::Result<serde_json::Value, crate::queue::JobError> {
        use crate::queue::JobError;
        let crate::JobPayload::Export(payload) =
            crate::JobPayload::of(&context.job).map_err(JobError::internal)?
        else {
            return Err(JobError::internal("the job is not an export"));
        };
        let owner = context.principal();
        let exports = context.backends.exports();
        let (access, workspace) = (owner.access(), owner.workspace);
        let bytes = match write_export_file(context, &owner, &payload).await {
            Ok(bytes) => bytes,
            // Tried again by the worker: the export stays pending meanwhile.
            Err(error) if error.retryable => return Err(error),
            Err(error) => {
                exports
                    .finish(access, workspace, payload.export_id, Err(error.message.clone()))
                    .await
                    .map_err(|e| JobError::transient(e.to_string()))?;
                return Err(error);
            }
        };
        exports
            .finish(access, workspace, payload.export_id, Ok(bytes))
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        Ok(serde_json::json!({
            "export_id": payload.export_id,
            "dataset_id": payload.dataset_id,
            "bytes": bytes,
            "url": format!("/api/v1/exports/{}", payload.export_id),
        }))
    }
}

/// Writes the export of `payload` into a file of the job's and stores it; its size.
async fn write_export_file(
    context: &crate::queue::JobContext,
    owner: &Principal,
    payload: &ExportPayload,
) -> std::result::Result<u64, crate::queue::JobError> {
    use crate::queue::JobError;
    let user = |e: Error| match e.kind() {
        variosync_domain::ErrorKind::Unavailable | variosync_domain::ErrorKind::Internal => {
            JobError::transient(e.to_string())
        }
        _ => JobError::user(e.to_string()),
    };
    let request = ExportRequest {
        version: Some(payload.version),
        series: payload.series.clone(),
        columns: payload.columns.clone(),
        from: payload.from,
        to: payload.to,
        options: payload.choices.options(None).map_err(user)?,
    };
    context.progress(0.0, "reading the dataset");
    let plan = context.app.export_plan(owner, payload.dataset_id, &request).await.map_err(user)?;
    tokio::fs::create_dir_all(&context.scratch)
        .await
        .map_err(|e| JobError::transient(e.to_string()))?;
    let path = context.scratch.join("export");
    let total = plan.version.row_count.max(1) as f64;
    let reporter = context.reporter();
    let cancel = context.cancellation();
    let (file_path, options, part) = (path.clone(), plan.options.clone(), plan.part);
    let written = context
        .blocking(move || {
            let file = part.open_file_handle().map_err(|e| e.to_string())?;
            let out = std::fs::File::create(&file_path).map_err(|e| e.to_string())?;
            write_rows(&part, &file, &request, &options, out, |rows| {
                reporter.report(95.0 * (rows as f64 / total).min(1.0), "writing the export");
                !cancel.is_cancelled()
            })
            .map_err(|e| e.to_string())
        })
        .await?;
    if let Err(message) = written {
        if context.is_cancelled() {
            return Err(JobError::user("the export was cancelled"));
        }
        return Err(JobError::user(message));
    }
    context.progress(96.0, "storing the export");
    let key = ObjectKey::export_file(owner.workspace, payload.export_id);
    context
        .backends
        .objects
        .put_file(&key, &path)
        .await
        .map_err(|e| JobError::transient(e.to_string()))
}

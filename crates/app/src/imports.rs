//! Importing a file as a new dataset, metered like any job: a file up to the inline
//! threshold is converted where it was received (the request, or the command line), with its
//! hours reserved before any work and its measured CPU time charged after, recorded as an
//! `import` job that is already running; a larger one is stored as an upload and imported
//! by the `import` job kind on a worker. Both end in the same summary, audit entry and
//! announcement.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use variosync_domain::time::Zone;
use variosync_domain::{AuditAction, ErrorKind, UploadId};
use variosync_engine::convert::ConvertError;
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::mapping::Override;
use variosync_formats::source::Input;
use variosync_formats::table::{Mode, Reject};
use variosync_store::jobs::{Job, NewJob, Outcome};
use variosync_store::{Access, Dataset, ObjectKey, Version};

use crate::error::{Error, Result};
use crate::jobs::{JobPayload, Submission};
use crate::pipeline::{ImportError, ImportRequest, Imported, Meter};
use crate::queue::{JobContext, JobError, JobKind};
use crate::{App, Principal};

/// How long an upload made of a large body waits for its import job.
const UPLOAD_LIFETIME_HOURS: i64 = 24;

impl From<ImportError> for Error {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Read(error) | ImportError::Convert(ConvertError::Read(error)) => {
                Error::invalid(error.code(), error.to_string())
            }
            ImportError::Convert(error) if error.kind() == ErrorKind::Conflict => {
                Error::conflict("duplicate_rows", error.to_string())
            }
            ImportError::Convert(error) if error.kind() == ErrorKind::InvalidInput => {
                Error::invalid("no_rows", error.to_string())
            }
            ImportError::NothingRead(_) => Error::invalid("no_rows", error.to_string()),
            ImportError::Misread(message) => Error::invalid("repeated_rows", message),
            ImportError::Store(error) => error.into(),
            other => Error::internal("an import failed", other),
        }
    }
}

/// How to read a file, as the person chose it; what is `None` takes its default.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The dataset's name (default: the file's name).
    pub name: Option<String>,
    /// The series of a file without a series column (default: the file's name).
    pub series: Option<String>,
    /// `strict` (default) or `lenient`.
    pub mode: Option<String>,
    /// The zone of naive timestamps (default `UTC`).
    pub tz: Option<String>,
    /// `auto` (default: keep the last, but stop and explain when more than one row in a
    /// hundred repeats a series and time with other values), `keep_last`, `keep_first` or
    /// `fail`.
    pub duplicates: Option<String>,
    /// Choices over the detected mapping, as a JSON object.
    pub mapping: Option<String>,
}

impl ImportOptions {
    /// Checks every choice, before any byte of the file is received.
    pub fn check(&self) -> Result<()> {
        self.choices(None).map(|_| ())
    }

    /// The choices for the file called `file_name`: the dataset is named after it unless a
    /// name was given, and so is the series of a file without a series column.
    pub fn choices(&self, file_name: Option<&str>) -> Result<ReadChoices> {
        let mapping = match self.mapping.as_deref() {
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::invalid("invalid_mapping", format!("the mapping is not valid: {e}"))
            })?,
            None => Override::default(),
        };
        use variosync_domain::names::{self, NameKind};
        let given = |kind: NameKind, text: &Option<String>| {
            text.as_deref()
                .map(|text| names::check(kind, text))
                .transpose()
                .map_err(|error| Error::invalid("invalid_name", error.to_string()))
        };
        let (given_name, given_series) =
            (given(NameKind::Dataset, &self.name)?, given(NameKind::Series, &self.series)?);
        let from_file = file_name.and_then(names::from_file_name);
        let name = given_name.or_else(|| from_file.clone()).unwrap_or_else(|| "upload".to_owned());
        let default_series = given_series.or(from_file).unwrap_or_else(|| name.clone());
        let choices = ReadChoices {
            name,
            default_series,
            mode: self.mode.clone().unwrap_or_else(|| "strict".to_owned()),
            tz: self.tz.clone().unwrap_or_else(|| "UTC".to_owned()),
            duplicates: self.duplicates.clone().unwrap_or_else(|| "auto".to_owned()),
            mapping,
        };
        choices.options()?;
        Ok(choices)
    }
}

/// How to read a file, checked and named: what an import job carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadChoices {
    /// The dataset's name.
    pub name: String,
    /// The series of a file without a series column.
    pub default_series: String,
    /// `strict` or `lenient`.
    pub mode: String,
    /// The zone of naive timestamps.
    pub tz: String,
    /// `auto`, `keep_last`, `keep_first` or `fail`.
    pub duplicates: String,
    /// Choices over the detected mapping.
    pub mapping: Override,
}

impl ReadChoices {
    /// The reading options and duplicate policy.
    pub fn options(&self) -> Result<(ReadOptions, DuplicatePolicy)> {
        let mode = match self.mode.as_str() {
            "strict" => Mode::Strict,
            "lenient" => Mode::Lenient,
            other => {
                return Err(Error::invalid(
                    "invalid_mode",
                    format!("mode must be strict or lenient, not {other:?}"),
                ));
            }
        };
        let policy = match self.duplicates.as_str() {
            "auto" => DuplicatePolicy::Guarded,
            "keep_last" => DuplicatePolicy::KeepLast,
            "keep_first" => DuplicatePolicy::KeepFirst,
            "fail" => DuplicatePolicy::Fail,
            other => {
                return Err(Error::invalid(
                    "invalid_duplicates",
                    format!(
                        "duplicates must be auto, keep_last, keep_first or fail, not {other:?}"
                    ),
                ));
            }
        };
        let zone: Zone = self.tz.parse().map_err(|e: variosync_domain::time::TimeError| {
            Error::invalid("invalid_tz", e.to_string())
        })?;
        let options = ReadOptions {
            mode,
            zone,
            default_series: self.default_series.clone(),
            mapping: self.mapping.clone(),
        };
        Ok((options, policy))
    }
}

/// What the `import` job works on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportPayload {
    /// The upload to import (claimed for the job when it was submitted); `None` for a file
    /// imported where it was received, which no worker can run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_id: Option<UploadId>,
    /// How to read it.
    pub choices: ReadChoices,
}

/// A row set aside as unreadable.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Reject)]
pub struct RejectSummary {
    /// Its line in the file, from 1.
    pub line: usize,
    /// The column that could not be read.
    pub column: String,
    /// What it held.
    pub value: String,
    /// What was expected there.
    pub expected: String,
}

impl From<Reject> for RejectSummary {
    fn from(r: Reject) -> Self {
        Self { line: r.line, column: r.column, value: r.value, expected: r.expected }
    }
}

/// The rows set aside as unreadable (lenient mode).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Rejects)]
pub struct RejectsSummary {
    /// Rows set aside.
    pub count: u64,
    /// The first of them.
    pub first: Vec<RejectSummary>,
    /// Where to download all of them as CSV.
    pub download: Option<String>,
}

/// A file made into a dataset: what the import answers and its job's result holds.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = Import)]
pub struct ImportSummary {
    /// The new dataset.
    pub dataset: Dataset,
    /// Its first version.
    pub version: Version,
    /// Things to check about how the file was read.
    pub warnings: Vec<String>,
    /// Why the file was read as it was, where its content decided (a series column found by
    /// its values, a file without a header named after a known layout, a wide table).
    pub notes: Vec<String>,
    /// What was set aside.
    pub rejects: RejectsSummary,
}

impl ImportSummary {
    pub(crate) fn of(imported: Imported) -> Self {
        let id = imported.dataset.id;
        Self {
            rejects: RejectsSummary {
                count: imported.profile.rejects,
                first: imported.rejects.into_iter().map(RejectSummary::from).collect(),
                download: imported.rejects_key.map(|_| format!("/api/v1/datasets/{id}/rejects")),
            },
            dataset: imported.dataset,
            version: imported.version,
            warnings: imported.warnings,
            notes: imported.notes,
        }
    }

    /// What the audit log records of the import.
    fn audit_detail(&self, upload: Option<UploadId>) -> serde_json::Value {
        let profile = &self.version.profile;
        serde_json::json!({
            "dataset_id": self.dataset.id,
            "name": self.dataset.name,
            "rows": profile.rows,
            "rejects": profile.rejects,
            "duplicates": profile.duplicates,
            "upload_id": upload,
        })
    }
}

/// A file received on local disk for an import, removed when dropped.
#[derive(Debug)]
pub struct ReceivedFile {
    path: PathBuf,
    size: u64,
    /// Whether the file is ours to remove (a file received for the import), or the
    /// caller's (a file on the command line).
    owned: bool,
}

impl ReceivedFile {
    /// A file at `path` of `size` bytes, ours to remove.
    pub(crate) fn owned(path: PathBuf, size: u64) -> Self {
        Self { path, size, owned: true }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Drop for ReceivedFile {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A file to import: its bytes, its name as the person's computer called it, and how to
/// read it.
#[derive(Debug)]
pub struct FileImport {
    /// The file.
    pub file: ReceivedFile,
    /// Its name (names the dataset and the series of a file without a series column).
    pub file_name: Option<String>,
    /// How to read it.
    pub options: ImportOptions,
    /// Makes a repeated request answer the first job (imports that become jobs).
    pub idempotency_key: Option<String>,
}

/// How an import ended for its caller.
#[derive(Debug)]
pub enum ImportOutcome {
    /// Done where it was asked for: the new dataset.
    Imported(Box<ImportSummary>),
    /// Too large to do there: the `import` job that will, with its hours reserved.
    Queued(Box<Job>),
}

impl App {
    /// Writes a stream of bytes to a new file under the scratch folder, refusing more than
    /// `limit` bytes ([`Error::TooLarge`]); the file is removed if anything fails.
    pub async fn receive<S, E>(
        &self,
        prefix: &str,
        mut chunks: S,
        limit: u64,
    ) -> Result<ReceivedFile>
    where
        S: Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        tokio::fs::create_dir_all(&self.scratch).await?;
        let path = self.scratch.join(format!("{prefix}-{}", uuid::Uuid::now_v7()));
        let mut received = ReceivedFile { path, size: 0, owned: true };
        let mut file = tokio::fs::File::create(&received.path).await?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| {
                Error::invalid("upload_interrupted", format!("the upload broke off: {e}"))
            })?;
            received.size += chunk.len() as u64;
            if received.size > limit {
                return Err(Error::TooLarge { limit });
            }
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(received)
    }

    /// Refuses with 402 before any work when the principal's balance cannot cover the
    /// import of `size` bytes (the reservation an import of that size takes).
    pub async fn check_import_balance(&self, principal: &Principal, size: u64) -> Result<()> {
        principal.require_editor()?;
        let reserve = self.settings.jobs.import_reserve(size);
        let balance =
            self.backends.ledger().balance(principal.access(), principal.workspace).await?;
        if balance < reserve {
            return Err(self.insufficient(principal, "import", reserve).await);
        }
        Ok(())
    }

    /// Imports a received file as a new dataset: up to the inline threshold here and now
    /// (metered), larger as an `import` job on a worker. A repeated idempotency key answers
    /// the first job.
    #[tracing::instrument(skip_all, fields(size = import.file.size), err(level = "warn"))]
    pub async fn import_file(
        &self,
        principal: &Principal,
        import: FileImport,
    ) -> Result<ImportOutcome> {
        principal.require_editor()?;
        let choices = import.options.choices(import.file_name.as_deref())?;
        if import.file.size == 0 {
            return Err(Error::invalid(
                "empty_upload",
                "the request body is empty: send the file as the body",
            ));
        }
        if let Some(job) = self.job_by_key(principal, import.idempotency_key.as_deref()).await? {
            if job.kind != "import" {
                return Err(crate::jobs::key_reused(&job));
            }
            return Ok(ImportOutcome::Queued(Box::new(job)));
        }
        if import.file.size <= self.settings.jobs.inline_import_bytes {
            let summary = self.import_here(principal, &import.file, &choices, None).await?;
            return Ok(ImportOutcome::Imported(Box::new(summary)));
        }
        let file_name = import.file_name.unwrap_or_else(|| choices.name.clone());
        let key = import.idempotency_key;
        let job = self.import_later(principal, import.file, &file_name, choices, key).await?;
        Ok(ImportOutcome::Queued(Box::new(job)))
    }

    /// Imports a file on this machine whatever its size, metered as an `import` job (the
    /// command line, which does its own work).
    pub async fn import_local(
        &self,
        principal: &Principal,
        path: &Path,
        options: &ImportOptions,
    ) -> Result<ImportSummary> {
        let file_name = path.file_name().map(|name| name.to_string_lossy().into_owned());
        let choices = options.choices(file_name.as_deref())?;
        let size = tokio::fs::metadata(path).await.map_err(|e| {
            Error::invalid("unreadable_file", format!("cannot read {}: {e}", path.display()))
        })?;
        // The caller's file is read where it is and never removed.
        let file = ReceivedFile { path: path.to_owned(), size: size.len(), owned: false };
        self.import_here(principal, &file, &choices, None).await
    }

    /// Imports a small file held in memory (the samples a new library offers) here and
    /// now, metered like any inline import.
    pub async fn import_bytes(
        &self,
        principal: &Principal,
        bytes: &'static [u8],
        options: &ImportOptions,
    ) -> Result<ImportSummary> {
        let choices = options.choices(None)?;
        let body = bytes::Bytes::from_static(bytes);
        let stream = futures::stream::iter([Ok::<_, std::convert::Infallible>(body)]);
        let file = self.receive("bytes", stream, u64::MAX).await?;
        self.import_here(principal, &file, &choices, None).await
    }

    /// Imports `file` where it is, recorded as a running `import` job: its hours reserved
    /// first (402 and nothing stored when the balance cannot cover them), its CPU time
    /// charged at the end, refunded if the failure is ours.
    pub(crate) async fn import_here(
        &self,
        principal: &Principal,
        file: &ReceivedFile,
        choices: &ReadChoices,
        upload: Option<UploadId>,
    ) -> Result<ImportSummary> {
        principal.require_editor()?;
        let (options, policy) = choices.options()?;
        let payload =
            JobPayload::Import(ImportPayload { upload_id: upload, choices: choices.clone() });
        let reserve = self.settings.jobs.import_reserve(file.size);
        let new = NewJob {
            kind: payload.kind().to_owned(),
            payload: payload.to_json(),
            max_attempts: 1,
            reserve,
            idempotency_key: None,
        };
        let runner = format!("inline-{}", uuid::Uuid::now_v7());
        // The lease is renewed while the import runs, so one whose process dies is taken
        // back like a worker's job.
        let lease = std::time::Duration::from_secs(self.settings.jobs.lease_secs.max(1));
        let until = chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let job = match self
            .backends
            .jobs()
            .start_inline(principal.access(), principal.workspace, &new, &runner, until)
            .await
        {
            Err(variosync_store::Error::InsufficientHours) => {
                return Err(self.insufficient(principal, "import", reserve).await);
            }
            started => started?,
        };
        crate::queue::publish(&self.backends, &job).await;
        let cpu = Arc::new(AtomicU64::new(0));
        let meter = Meter { cpu_micros: Some(cpu.clone()), ..Meter::default() };
        let request = ImportRequest {
            name: &choices.name,
            input: Input::Path(file.path.clone()),
            options: &options,
            policy,
        };
        let import = crate::pipeline::import_metered(
            &self.backends,
            principal,
            request,
            &self.scratch,
            &meter,
        );
        let jobs = self.backends.jobs();
        let result = crate::queue::holding_lease(&jobs, job.id, &runner, lease, import).await;
        let answer = match result {
            Ok(imported) => {
                let summary = ImportSummary::of(imported);
                self.imported(principal, &summary, upload).await;
                Ok(summary)
            }
            Err(error) => Err(Error::from(error)),
        };
        let outcome = match &answer {
            Ok(summary) => {
                Outcome::Succeeded { result: serde_json::to_value(summary).unwrap_or_default() }
            }
            Err(error) => Outcome::Failed {
                error: error.to_string(),
                refund: matches!(
                    error.kind(),
                    variosync_domain::ErrorKind::Internal
                        | variosync_domain::ErrorKind::Unavailable
                ),
            },
        };
        let micros = cpu.load(Ordering::Relaxed);
        let min_charge = std::time::Duration::from_secs(self.settings.jobs.min_charge_secs);
        let charge = crate::queue::hours_for(std::time::Duration::from_micros(micros), min_charge);
        match self
            .backends
            .jobs()
            .finish(Access::System, job.id, &runner, &outcome, micros, charge)
            .await
        {
            Ok(Some(job)) => crate::queue::publish(&self.backends, &job).await,
            Ok(None) => tracing::error!(job_id = %job.id, "an inline import outlived its lease"),
            Err(error) => {
                tracing::error!(job_id = %job.id, error = %variosync_domain::error_chain(&error), "an inline import's charge was not recorded");
            }
        }
        answer
    }

    /// Audits an import and tells the owner's pages. The dataset exists by now: a failure
    /// to audit is logged, never reported as a failed import (which a client would repeat).
    pub(crate) async fn imported(
        &self,
        principal: &Principal,
        summary: &ImportSummary,
        upload: Option<UploadId>,
    ) {
        let detail = summary.audit_detail(upload);
        let id = summary.dataset.id;
        if let Err(error) =
            self.dataset_changed(principal, AuditAction::DatasetImported, id, detail).await
        {
            tracing::error!(dataset_id = %id, error = %variosync_domain::error_chain(&error), "an import was not audited");
        }
    }

    /// Stores a large file as an upload and submits the `import` job that makes it a
    /// dataset on a worker (the balance is checked before the file is stored).
    async fn import_later(
        &self,
        principal: &Principal,
        file: ReceivedFile,
        file_name: &str,
        choices: ReadChoices,
        idempotency_key: Option<String>,
    ) -> Result<Job> {
        self.check_import_balance(principal, file.size).await?;
        let (access, workspace) = (principal.access(), principal.workspace);
        let uploads = self.backends.uploads();
        let expires = chrono::Utc::now() + chrono::Duration::hours(UPLOAD_LIFETIME_HOURS);
        let upload = uploads
            .create(access, workspace, UploadId::new(), file_name, file.size, expires)
            .await?;
        let stored = async {
            let key = ObjectKey::upload_chunk(workspace, upload.id, 0, rand::random());
            self.backends.objects.put_file(&key, &file.path).await?;
            uploads.add_chunk(access, workspace, upload.id, 0, file.size, &key).await?;
            uploads.claim(access, workspace, upload.id, expires).await?.ok_or_else(|| {
                Error::conflict(
                    "upload_completing",
                    "the stored file was claimed by another request",
                )
            })?;
            let payload = JobPayload::Import(ImportPayload { upload_id: Some(upload.id), choices });
            let reserve = self.settings.jobs.import_reserve(file.size);
            let submission = Submission { payload, reserve, idempotency_key };
            self.submit(principal, principal, &submission).await
        }
        .await;
        drop(file);
        if stored.is_err()
            && let Err(error) =
                crate::uploads::discard(&self.backends, access, workspace, upload.id).await
        {
            tracing::warn!(upload_id = %upload.id, error = %error, "an unneeded upload was not deleted");
        }
        stored
    }
}

/// The `import` job kind: an upload imported on a worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportJob;

#[async_trait]
impl JobKind for ImportJob {
    fn name(&self) -> &'static str {
        "import"
    }

    async fn run(&self, context: &JobContext) -> std::result::Result<serde_json::Value, JobError> {
        let JobPayload::Import(payload) =
            JobPayload::of(&context.job).map_err(JobError::internal)?
        else {
            return Err(JobError::internal("the job is not an import"));
        };
        let Some(upload_id) = payload.upload_id else {
            return Err(JobError::internal(
                "this import ran where its file was received and cannot run again",
            ));
        };
        context.app.import_upload_job(context, upload_id, &payload.choices).await
    }
}

//! Resumable uploads become datasets: the chunks, stored as objects so that any replica or
//! worker can read them, are joined into one file and imported; the upload is then
//! discarded. Small files are imported on the request that completes them; large ones by
//! the `import` job kind, so the work runs on a worker and is paid for by the hour.

use std::path::Path;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use variosync_domain::time::Zone;
use variosync_domain::{AuditAction, UploadId, UserId};
use variosync_engine::duplicates::DuplicatePolicy;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::mapping::Override;
use variosync_formats::table::Mode;
use variosync_store::{Access, Backends, NewAuditEntry, ObjectKey, Upload};

use crate::import::{ImportError, ImportRequest, Imported, Meter, import_metered};
use crate::queue::{JobContext, JobError, JobKind};

/// Why an upload could not be joined.
#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
    /// The local file could not be written.
    #[error("cannot write the joined upload: {0}")]
    Io(#[from] std::io::Error),
    /// The recorded chunks do not join up to the announced size (a bug).
    #[error("the upload's chunks do not join up: {0}")]
    Gap(String),
}

/// Joins the upload's chunks, in order, into the file at `path`.
pub async fn assemble(
    backends: &Backends,
    user: UserId,
    upload: &Upload,
    path: &Path,
) -> Result<(), AssembleError> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let chunks = backends.uploads().chunks(user, upload.id).await?;
    let mut file = tokio::fs::File::create(path).await?;
    let mut expected = 0;
    for chunk in &chunks {
        if chunk.start != expected {
            return Err(AssembleError::Gap(format!("a chunk at {} after {expected}", chunk.start)));
        }
        let mut stream = backends.objects.get_stream(&chunk.key).await?;
        while let Some(bytes) = stream.next().await {
            file.write_all(&bytes?).await?;
        }
        expected += chunk.length;
    }
    file.flush().await?;
    if expected != upload.size {
        return Err(AssembleError::Gap(format!("{expected} of {} bytes", upload.size)));
    }
    Ok(())
}

/// Deletes the upload's row, then its chunks; whether it existed.
pub async fn discard(
    backends: &Backends,
    user: UserId,
    id: UploadId,
) -> Result<bool, variosync_store::Error> {
    let existed = backends.uploads().delete(Access::User(user), user, id).await?;
    if let Err(error) = backends.objects.delete_prefix(&ObjectKey::upload(user, id)).await {
        tracing::warn!(upload_id = %id, error = %error, "the chunks of an upload were not deleted");
    }
    Ok(existed)
}

/// How to read an upload, as the person chose.
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
    /// `keep_last`, `keep_first` or `fail`.
    pub duplicates: String,
    /// Choices over the detected mapping.
    pub mapping: Override,
}

impl ReadChoices {
    /// The reading options and duplicate policy; the message says what is wrong.
    pub fn options(&self) -> Result<(ReadOptions, DuplicatePolicy), (&'static str, String)> {
        let mode = match self.mode.as_str() {
            "strict" => Mode::Strict,
            "lenient" => Mode::Lenient,
            other => {
                return Err((
                    "invalid_mode",
                    format!("mode must be strict or lenient, not {other:?}"),
                ));
            }
        };
        let policy = match self.duplicates.as_str() {
            "keep_last" => DuplicatePolicy::KeepLast,
            "keep_first" => DuplicatePolicy::KeepFirst,
            "fail" => DuplicatePolicy::Fail,
            other => {
                return Err((
                    "invalid_duplicates",
                    format!("duplicates must be keep_last, keep_first or fail, not {other:?}"),
                ));
            }
        };
        let zone: Zone = self
            .tz
            .parse()
            .map_err(|e: variosync_domain::time::TimeError| ("invalid_tz", e.to_string()))?;
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
    /// The upload to import (claimed for the job when it was submitted).
    pub upload_id: UploadId,
    /// How to read it.
    pub choices: ReadChoices,
}

/// Imports a complete upload (claimed by the caller) as a new dataset and discards the
/// upload. On an error the claim is given up: the upload stays for another try.
pub async fn import_upload(
    backends: &Backends,
    user: UserId,
    upload: &Upload,
    choices: &ReadChoices,
    scratch: &Path,
    meter: &Meter,
) -> Result<Imported, UploadImportError> {
    let (options, policy) =
        choices.options().map_err(|(code, message)| UploadImportError::Choices(code, message))?;
    tokio::fs::create_dir_all(scratch).await.map_err(AssembleError::Io)?;
    let joined = scratch.join(format!("upload-{}", upload.id));
    let result = async {
        assemble(backends, user, upload, &joined).await?;
        let request = ImportRequest {
            name: &choices.name,
            input: variosync_formats::source::Input::Path(joined.clone()),
            options: &options,
            policy,
        };
        Ok::<_, UploadImportError>(import_metered(backends, user, request, scratch, meter).await?)
    }
    .await;
    let _ = tokio::fs::remove_file(&joined).await;
    let imported = match result {
        Ok(imported) => imported,
        Err(error) => {
            backends.uploads().release(user, upload.id).await?;
            return Err(error);
        }
    };
    discard(backends, user, upload.id).await?;
    Ok(imported)
}

/// Why an upload was not imported.
#[derive(Debug, thiserror::Error)]
pub enum UploadImportError {
    /// A choice is not valid (`code`, message).
    #[error("{1}")]
    Choices(&'static str, String),
    /// The chunks could not be joined.
    #[error(transparent)]
    Assemble(#[from] AssembleError),
    /// The file could not be imported.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// The store failed afterwards.
    #[error(transparent)]
    Store(#[from] variosync_store::Error),
}

/// The `import` job kind: a large upload imported on a worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportUpload;

/// What the audit log records of an import.
pub fn audit_detail(imported: &Imported, upload: Option<UploadId>) -> serde_json::Value {
    serde_json::json!({
        "dataset_id": imported.dataset.id,
        "name": imported.dataset.name,
        "rows": imported.profile.rows,
        "rejects": imported.profile.rejects,
        "duplicates": imported.profile.duplicates,
        "upload_id": upload,
    })
}

/// The summary of an import, as the API and the job's result show it.
pub fn summary(imported: Imported) -> serde_json::Value {
    let id = imported.dataset.id;
    serde_json::json!({
        "dataset": imported.dataset,
        "version": imported.version,
        "warnings": imported.warnings,
        "rejects": {
            "count": imported.profile.rejects,
            "first": imported.rejects.iter().map(|r| serde_json::json!({
                "line": r.line, "column": r.column, "value": r.value, "expected": r.expected,
            })).collect::<Vec<_>>(),
            "download": imported.rejects_key.map(|_| format!("/api/v1/datasets/{id}/rejects")),
        },
    })
}

#[async_trait]
impl JobKind for ImportUpload {
    fn name(&self) -> &'static str {
        "import"
    }

    async fn run(&self, context: &JobContext) -> Result<serde_json::Value, JobError> {
        let payload: ImportPayload = serde_json::from_value(context.job.payload.clone())
            .map_err(|e| JobError::internal(format!("the job's payload is not valid: {e}")))?;
        let user = context.user();
        let upload = context
            .backends
            .uploads()
            .get(Access::User(user), user, payload.upload_id)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?
            .ok_or_else(|| JobError::user("the upload is gone (it expired or was deleted)"))?;
        let size = upload.size.max(1) as f64;
        let reporter = context.reporter();
        let progress: crate::import::Progress = std::sync::Arc::new(move |read: u64| {
            reporter.report(100.0 * read as f64 / size, "reading the file");
        });
        let cancel = context.cancellation();
        let stop: crate::import::Stop = std::sync::Arc::new(move || cancel.is_cancelled());
        let meter = Meter {
            progress: Some(progress),
            cpu_micros: Some(context.cpu_meter()),
            stop: Some(stop),
        };
        context.progress(0.0, "joining the uploaded chunks");
        let imported = import_upload(
            &context.backends,
            user,
            &upload,
            &payload.choices,
            &context.scratch,
            &meter,
        )
        .await
        .map_err(|error| match error {
            UploadImportError::Choices(_, message) => JobError::user(message),
            UploadImportError::Import(ImportError::Store(e)) | UploadImportError::Store(e) => {
                JobError::transient(e.to_string())
            }
            UploadImportError::Assemble(e) => JobError::transient(e.to_string()),
            UploadImportError::Import(e @ (ImportError::Io(_) | ImportError::Interrupted)) => {
                JobError::transient(e.to_string())
            }
            UploadImportError::Import(e) => JobError::user(e.to_string()),
        })?;
        let entry = NewAuditEntry {
            user_id: Some(user),
            actor_id: None,
            action: AuditAction::DatasetImported,
            detail: audit_detail(&imported, Some(upload.id)),
            ip: None,
            user_agent: None,
        };
        if let Err(error) = context.backends.audit().record(Access::User(user), entry).await {
            tracing::error!(error = %error, "an import job's dataset was not audited");
        }
        let dataset = imported.dataset.id;
        crate::queue::announce_dataset(
            &context.backends,
            user,
            AuditAction::DatasetImported,
            dataset,
        )
        .await;
        Ok(summary(imported))
    }
}

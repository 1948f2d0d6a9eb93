//! Resumable uploads become datasets: a file sent in chunks, each stored as an object so
//! that any replica or worker can read it; completed, the chunks are joined into one file
//! and imported (inline up to the threshold, else by the `import` job kind on a worker),
//! and the upload is discarded. Expired uploads are deleted by the workers' sweep.

use std::path::Path;

use variosync_domain::{UploadId, WorkspaceId};
use variosync_store::{Access, Backends, ObjectKey, Upload};

use crate::error::{Error, Result};
use crate::imports::{ImportOptions, ImportOutcome, ImportPayload, ReadChoices, ReceivedFile};
use crate::jobs::{JobPayload, Submission};
use crate::pipeline::{ImportError, ImportRequest, Meter};
use crate::queue::{JobContext, JobError};
use crate::{App, Principal};

/// How long an upload may stay open, in hours.
const LIFETIME_HOURS: i64 = 24;
/// The most uploads one account may have open at once.
pub const MAX_OPEN: u64 = 20;
/// Expired uploads deleted per sweep.
const SWEEP_BATCH: u32 = 100;

fn not_found() -> Error {
    Error::not_found("upload_not_found", "there is no such upload (or it expired)")
}

fn offset_conflict(received: u64, size: u64) -> Error {
    Error::conflict(
        "offset_mismatch",
        format!(
            "the upload has received {received} of {size} bytes: send the chunk starting at byte {received}"
        ),
    )
}

/// Parses an upload id from text; anything else is simply not found.
pub fn parse_upload_id(text: &str) -> Result<UploadId> {
    text.parse().map_err(|_| crate::Error::malformed_id("upload", text))
}

/// Joins the upload's chunks, in order, into the file at `path`.
async fn assemble(backends: &Backends, access: Access, upload: &Upload, path: &Path) -> Result<()> {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let chunks = backends.uploads().chunks(access, upload.workspace_id, upload.id).await?;
    let mut file = tokio::fs::File::create(path).await?;
    let mut expected = 0;
    for chunk in &chunks {
        if chunk.start != expected {
            let gap = format!("a chunk at {} after {expected}", chunk.start);
            return Err(Error::internal("the upload's chunks do not join up", gap));
        }
        let mut stream = backends.objects.get_stream(&chunk.key).await?;
        while let Some(bytes) = stream.next().await {
            file.write_all(&bytes?).await?;
        }
        expected += chunk.length;
    }
    file.flush().await?;
    if expected != upload.size {
        let gap = format!("{expected} of {} bytes", upload.size);
        return Err(Error::internal("the upload's chunks do not join up", gap));
    }
    Ok(())
}

/// Deletes the upload's row, then its chunks; whether it existed.
pub(crate) async fn discard(
    backends: &Backends,
    access: Access,
    workspace: WorkspaceId,
    id: UploadId,
) -> Result<bool, variosync_store::Error> {
    let existed = backends.uploads().delete(access, workspace, id).await?;
    if let Err(error) = backends.objects.delete_prefix(&ObjectKey::upload(workspace, id)).await {
        tracing::warn!(upload_id = %id, error = %error, "the chunks of an upload were not deleted");
    }
    Ok(existed)
}

impl App {
    /// Opens an upload of `size` bytes of a file called `file_name`, open for a day.
    #[tracing::instrument(skip_all, fields(size), err(level = "warn"))]
    pub async fn create_upload(
        &self,
        principal: &Principal,
        file_name: &str,
        size: u64,
    ) -> Result<Upload> {
        principal.require_editor()?;
        let (access, workspace) = (principal.access(), principal.workspace);
        let limit = self.settings.upload_limit_bytes;
        if size == 0 {
            return Err(Error::invalid("empty_upload", "size must be at least 1 byte"));
        }
        if i64::try_from(size).is_err() {
            return Err(Error::invalid(
                "invalid_size",
                format!("size must be at most {}", i64::MAX),
            ));
        }
        if size > limit {
            return Err(Error::TooLarge { limit });
        }
        if file_name.trim().is_empty() {
            return Err(Error::invalid("invalid_file_name", "file_name must not be empty"));
        }
        let uploads = self.backends.uploads();
        for expired in uploads.expired(access, workspace).await? {
            discard(&self.backends, access, workspace, expired).await?;
        }
        if uploads.open_count(access, workspace).await? >= MAX_OPEN {
            return Err(Error::conflict(
                "too_many_uploads",
                format!("at most {MAX_OPEN} uploads may be open at once: complete or delete one"),
            ));
        }
        let expires = chrono::Utc::now() + chrono::Duration::hours(LIFETIME_HOURS);
        Ok(uploads.create(access, workspace, UploadId::new(), file_name, size, expires).await?)
    }

    /// One of the principal's open uploads.
    pub async fn upload(&self, principal: &Principal, id: UploadId) -> Result<Upload> {
        let workspace = principal.workspace;
        self.backends.uploads().get(principal.access(), workspace, id).await?.ok_or_else(not_found)
    }

    /// Adds the chunk received in `chunk` at byte `start` of the upload.
    #[tracing::instrument(skip_all, fields(upload_id = %id, start), err(level = "warn"))]
    pub async fn append_chunk<S, E>(
        &self,
        principal: &Principal,
        id: UploadId,
        start: u64,
        chunk: S,
    ) -> Result<Upload>
    where
        S: futures::Stream<Item = std::result::Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        principal.require_editor()?;
        let upload = self.upload(principal, id).await?;
        let workspace = upload.workspace_id;
        if start != upload.received {
            return Err(offset_conflict(upload.received, upload.size));
        }
        let remaining = upload.size - upload.received;
        let received = match self.receive("chunk", chunk, remaining).await {
            Ok(received) => received,
            Err(Error::TooLarge { .. }) => {
                return Err(Error::conflict(
                    "chunk_too_large",
                    format!("the chunk runs past the announced size: {remaining} bytes remain"),
                ));
            }
            Err(error) => return Err(error),
        };
        if received.size() == 0 {
            return Err(Error::invalid(
                "empty_chunk",
                "the chunk is empty: send its bytes as the body",
            ));
        }
        let key = ObjectKey::upload_chunk(workspace, upload.id, start, rand::random());
        self.backends.objects.put_file(&key, received.path()).await?;
        let length = received.size();
        drop(received);
        match self
            .backends
            .uploads()
            .add_chunk(principal.access(), workspace, upload.id, start, length, &key)
            .await
        {
            Ok(upload) => Ok(upload),
            Err(error) => {
                if let Err(e) = self.backends.objects.delete(&key).await {
                    tracing::warn!(error = %e, "an unneeded upload chunk was not deleted");
                }
                match error {
                    variosync_store::Error::UploadOffset { received, size } => {
                        Err(offset_conflict(received, size))
                    }
                    variosync_store::Error::NotFound(_) => Err(not_found()),
                    other => Err(other.into()),
                }
            }
        }
    }

    /// Deletes an upload and what it received.
    pub async fn delete_upload(&self, principal: &Principal, id: UploadId) -> Result<()> {
        principal.require_editor()?;
        let upload = self.upload(principal, id).await?;
        if !discard(&self.backends, principal.access(), upload.workspace_id, upload.id).await? {
            return Err(not_found());
        }
        Ok(())
    }

    /// Makes a fully received upload a dataset: up to the inline threshold here and now
    /// (metered), larger as an `import` job on a worker. A repeated idempotency key answers
    /// the first job. If the import fails the upload stays, to be completed again.
    #[tracing::instrument(skip_all, fields(upload_id = %id), err(level = "warn"))]
    pub async fn complete_upload(
        &self,
        principal: &Principal,
        id: UploadId,
        options: &ImportOptions,
        idempotency_key: Option<String>,
    ) -> Result<ImportOutcome> {
        principal.require_editor()?;
        let (access, workspace) = (principal.access(), principal.workspace);
        options.check()?;
        if let Some(job) = self.job_by_key(principal, idempotency_key.as_deref()).await? {
            if job.kind != "import" {
                return Err(crate::jobs::key_reused(&job));
            }
            // The same request again (its answer was lost): the job it submitted.
            return Ok(ImportOutcome::Queued(Box::new(job)));
        }
        let upload = self.upload(principal, id).await?;
        if upload.received < upload.size {
            return Err(Error::conflict(
                "upload_incomplete",
                format!(
                    "the upload has received {} of {} bytes: send the rest first",
                    upload.received, upload.size
                ),
            ));
        }
        let choices = options.choices(Some(&upload.file_name))?;
        let inline = upload.size <= self.settings.jobs.inline_import_bytes;
        // A job holds the upload until it ends (and gives it back if the file is at fault);
        // a completion here holds it for one lease at a time, renewed while it runs, so the
        // upload is free again soon after its process dies or its client goes away.
        let lease = std::time::Duration::from_secs(self.settings.jobs.lease_secs.max(1));
        let lease_ends =
            || chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        let until = if inline { lease_ends() } else { upload.expires_at };
        let uploads = self.backends.uploads();
        let Some(upload) = uploads.claim(access, workspace, upload.id, until).await? else {
            return Err(Error::conflict(
                "upload_completing",
                "this upload is being completed by another request",
            ));
        };
        if !inline {
            let payload = JobPayload::Import(ImportPayload { upload_id: Some(upload.id), choices });
            let reserve = self.settings.jobs.import_reserve(upload.size);
            let submission = Submission { payload, reserve, idempotency_key };
            let submitted = self.submit(principal, principal, &submission).await;
            if submitted.is_err() {
                uploads.release(access, workspace, upload.id).await?;
            }
            return Ok(ImportOutcome::Queued(Box::new(submitted?)));
        }
        let outcome = async {
            tokio::fs::create_dir_all(&self.scratch).await?;
            let path = self.scratch.join(format!("assembled-{}", uuid::Uuid::now_v7()));
            let joined = ReceivedFile::owned(path, upload.size);
            assemble(&self.backends, access, &upload, joined.path()).await?;
            self.import_here(principal, &joined, &choices, Some(upload.id)).await
        };
        let renew = || async {
            match uploads.renew_claim(access, workspace, upload.id, lease_ends()).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(upload_id = %upload.id, "an upload's claim was lost"),
                Err(e) => {
                    tracing::warn!(upload_id = %upload.id, error = %e, "an upload's claim was not renewed")
                }
            }
        };
        let outcome = crate::queue::renewing(lease / 3, renew, Box::pin(outcome)).await;
        match outcome {
            Ok(summary) => {
                discard(&self.backends, access, workspace, upload.id).await?;
                Ok(ImportOutcome::Imported(Box::new(summary)))
            }
            Err(error) => {
                // The file stays: it may be completed again, with other choices.
                uploads.release(access, workspace, upload.id).await?;
                Err(error)
            }
        }
    }

    /// Deletes expired uploads of every account, with their chunks; how many.
    pub async fn sweep_expired_uploads(&self) -> Result<usize> {
        let expired = self.backends.uploads().expired_any(Access::System, SWEEP_BATCH).await?;
        for (workspace, id) in &expired {
            discard(&self.backends, Access::System, *workspace, *id).await?;
        }
        Ok(expired.len())
    }

    /// Runs the `import` job of `upload_id`: joins its chunks, imports it with the job's
    /// meter, then discards it (on an error the claim is given up: the upload stays).
    pub(crate) async fn import_upload_job(
        &self,
        context: &JobContext,
        upload_id: UploadId,
        choices: &ReadChoices,
    ) -> std::result::Result<serde_json::Value, JobError> {
        let principal = context.principal();
        let (access, workspace) = (principal.access(), principal.workspace);
        let (options, policy) = choices.options().map_err(|e| JobError::user(e.to_string()))?;
        let upload = self
            .backends
            .uploads()
            .get(access, workspace, upload_id)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?
            .ok_or_else(|| JobError::user("the upload is gone (it expired or was deleted)"))?;
        let size = upload.size.max(1) as f64;
        let reporter = context.reporter();
        let progress: crate::pipeline::Progress = std::sync::Arc::new(move |read: u64| {
            reporter.report(100.0 * read as f64 / size, "reading the file");
        });
        let cancel = context.cancellation();
        let stop: crate::pipeline::Stop = std::sync::Arc::new(move || cancel.is_cancelled());
        let meter = Meter {
            progress: Some(progress),
            cpu_micros: Some(context.cpu_meter()),
            stop: Some(stop),
        };
        context.progress(0.0, "joining the uploaded chunks");
        tokio::fs::create_dir_all(&context.scratch)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        let joined =
            ReceivedFile::owned(context.scratch.join(format!("upload-{}", upload.id)), upload.size);
        let result = async {
            assemble(&self.backends, access, &upload, joined.path())
                .await
                .map_err(|e| JobError::transient(e.to_string()))?;
            let request = ImportRequest {
                name: &choices.name,
                input: variosync_formats::source::Input::Path(joined.path().to_owned()),
                options: &options,
                policy,
            };
            crate::pipeline::import_metered(
                &self.backends,
                &principal,
                request,
                &context.scratch,
                &meter,
            )
            .await
            .map_err(|error| match error {
                e @ (ImportError::Store(_) | ImportError::Io(_) | ImportError::Interrupted) => {
                    JobError::transient(e.to_string())
                }
                e => JobError::user(e.to_string()),
            })
        }
        .await;
        drop(joined);
        let imported = match result {
            Ok(imported) => imported,
            Err(error) => {
                if let Err(e) = self.backends.uploads().release(access, workspace, upload.id).await
                {
                    tracing::warn!(error = %e, "an upload's claim was not given up");
                }
                return Err(error);
            }
        };
        discard(&self.backends, access, workspace, upload.id)
            .await
            .map_err(|e| JobError::transient(e.to_string()))?;
        let summary = crate::imports::ImportSummary::of(imported);
        self.imported(&principal, &summary, Some(upload.id)).await;
        Ok(serde_json::to_value(&summary).unwrap_or_default())
    }
}

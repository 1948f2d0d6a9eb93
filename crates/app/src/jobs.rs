//! Jobs: the typed payload of every job kind (serialised here and nowhere else), submitting
//! one with its hours reserved, and the principal's jobs: list, read, cancel, usage; for
//! admins, everyone's jobs, cancel and run again.

use serde::{Deserialize, Serialize};
use serde_json::json;
use variosync_domain::{AuditAction, Hours, JobId};
use variosync_store::Access;
use variosync_store::jobs::{Job, JobStatus, NewJob, Usage};

use crate::error::{Error, Result};
use crate::exports::ExportPayload;
use crate::forecasts::ForecastPayload;
use crate::imports::ImportPayload;
use crate::{App, Principal};

/// The longest idempotency key.
pub const MAX_KEY_LEN: usize = 200;

/// What a job does, with its input: one variant per job kind.
#[derive(Debug, Clone, PartialEq)]
pub enum JobPayload {
    /// A file made into a dataset.
    Import(ImportPayload),
    /// A column of a series forecast.
    Forecast(ForecastPayload),
    /// A dataset written to a file in the object store.
    Export(ExportPayload),
}

impl JobPayload {
    /// The kind's name, stored with the job.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Import(_) => "import",
            Self::Forecast(_) => "forecast",
            Self::Export(_) => "export",
        }
    }

    /// The payload as stored.
    pub fn to_json(&self) -> serde_json::Value {
        let value = match self {
            Self::Import(payload) => serde_json::to_value(payload),
            Self::Forecast(payload) => serde_json::to_value(payload),
            Self::Export(payload) => serde_json::to_value(payload),
        };
        value.unwrap_or_default()
    }

    /// The payload of a stored job.
    pub fn of(job: &Job) -> std::result::Result<Self, String> {
        fn parse<T: for<'de> Deserialize<'de>>(
            value: &serde_json::Value,
        ) -> std::result::Result<T, String> {
            T::deserialize(value).map_err(|e| format!("the job's payload is not valid: {e}"))
        }
        match job.kind.as_str() {
            "import" => parse(&job.payload).map(Self::Import),
            "forecast" => parse(&job.payload).map(Self::Forecast),
            "export" => parse(&job.payload).map(Self::Export),
            other => Err(format!("no job kind is called {other:?}")),
        }
    }
}

/// A job to submit: its payload, the hours to reserve, and an idempotency key.
#[derive(Debug, Clone)]
pub struct Submission {
    /// What it does.
    pub payload: JobPayload,
    /// Hours held from the balance until it ends.
    pub reserve: Hours,
    /// Makes a repeated submission answer the first job.
    pub idempotency_key: Option<String>,
}

impl Submission {
    fn new_job(&self) -> NewJob {
        NewJob {
            kind: self.payload.kind().to_owned(),
            payload: self.payload.to_json(),
            max_attempts: 3,
            reserve: self.reserve,
            idempotency_key: self.idempotency_key.clone(),
        }
    }
}

/// Checks an idempotency key as a client sent it.
pub fn idempotency_key(text: Option<&str>) -> Result<Option<String>> {
    match text.map(str::trim) {
        None => Ok(None),
        Some(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => Ok(Some(key.to_owned())),
        Some(_) => Err(Error::invalid(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible characters"),
        )),
    }
}

/// Which jobs to list.
#[derive(Debug, Clone, Default)]
pub struct ListJobs {
    /// Only jobs in this state: `queued`, `running`, `succeeded`, `failed`, `cancelled`.
    pub status: Option<String>,
    /// How many, 1 to 500 (default 50).
    pub limit: Option<u32>,
}

/// Hours used per day and kind.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageReport {
    /// The first day counted (UTC midnight).
    pub since: chrono::DateTime<chrono::Utc>,
    /// Hours charged in all.
    pub total: Hours,
    /// Per day and kind.
    pub days: Vec<Usage>,
}

/// The error for an idempotency key already used by a request of another kind.
pub(crate) fn key_reused(job: &Job) -> Error {
    Error::conflict(
        "idempotency_key_reused",
        format!(
            "this Idempotency-Key was used for a job of kind {}: use a new key for each request",
            job.kind
        ),
    )
}

fn not_found() -> Error {
    Error::not_found("job_not_found", "there is no such job")
}

/// Parses a job id from text; anything else is simply not found.
pub fn parse_job_id(text: &str) -> Result<JobId> {
    text.parse().map_err(|_| crate::Error::malformed_id("job", text))
}

fn parse_status(text: Option<&str>) -> Result<Option<JobStatus>> {
    let Some(text) = text else { return Ok(None) };
    JobStatus::from_name(text).map(Some).ok_or_else(|| {
        Error::invalid(
            "invalid_status",
            format!("status must be queued, running, succeeded, failed or cancelled, not {text:?}"),
        )
    })
}

impl App {
    /// The principal's job submitted with the idempotency key `key`, if any: a repeated
    /// request answers it without doing anything again.
    pub async fn job_by_key(
        &self,
        principal: &Principal,
        key: Option<&str>,
    ) -> Result<Option<Job>> {
        match key {
            Some(key) => Ok(self
                .backends
                .jobs()
                .by_key(principal.access(), principal.workspace, key)
                .await?),
            None => Ok(None),
        }
    }

    /// Submits a job for `owner` (the principal, or the owner of a job an admin runs again)
    /// in the owner's workspace, reserving its hours, audits it and wakes idle workers.
    pub(crate) async fn submit(
        &self,
        principal: &Principal,
        owner: &Principal,
        submission: &Submission,
    ) -> Result<Job> {
        owner.require_editor()?;
        let new = submission.new_job();
        match crate::queue::submit(&self.backends, owner, &new).await {
            Ok((job, created)) => {
                if created {
                    self.audit_job(principal, AuditAction::JobSubmitted, &job).await?;
                }
                Ok(job)
            }
            Err(variosync_store::Error::InsufficientHours) => {
                Err(self.insufficient(owner, &new.kind, new.reserve).await)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The error for work of `kind` needing `reserve` that `owner`'s workspace's balance
    /// cannot cover.
    pub(crate) async fn insufficient(
        &self,
        owner: &Principal,
        kind: &str,
        reserve: Hours,
    ) -> Error {
        let balance = match self.backends.ledger().balance(owner.access(), owner.workspace).await {
            Ok(balance) => balance.to_string(),
            Err(_) => "lower".to_owned(),
        };
        Error::InsufficientHours {
            message: format!(
                "this {kind} job needs {reserve} reserved; the balance is {balance}: buy hours \
                 or ask an admin for a grant"
            ),
        }
    }

    async fn audit_job(&self, principal: &Principal, action: AuditAction, job: &Job) -> Result<()> {
        let detail = json!({ "job_id": job.id, "kind": job.kind, "reserved": job.reserved });
        self.audit(principal, job.user_id, action, detail).await
    }

    /// The principal's jobs, newest first (everyone's for `all`, which needs an admin).
    pub async fn list_jobs(
        &self,
        principal: &Principal,
        query: &ListJobs,
        all: bool,
    ) -> Result<Vec<Job>> {
        let access = if all {
            principal.require_admin()?;
            Access::System
        } else {
            principal.access()
        };
        let status = parse_status(query.status.as_deref())?;
        let limit = crate::Error::bounded("limit", query.limit, 50, 1, 500)?;
        Ok(self.backends.jobs().list(access, status, limit).await?)
    }

    /// One of the principal's jobs.
    pub async fn job(&self, principal: &Principal, id: JobId) -> Result<Job> {
        self.backends.jobs().get(principal.access(), id).await?.ok_or_else(not_found)
    }

    /// Asks a job to stop: a queued job ends at once, a running one at its next heartbeat.
    /// `as_admin` cancels anyone's job (it needs an admin).
    #[tracing::instrument(skip_all, fields(job_id = %id), err(level = "warn"))]
    pub async fn cancel_job(
        &self,
        principal: &Principal,
        id: JobId,
        as_admin: bool,
    ) -> Result<Job> {
        let access = if as_admin {
            principal.require_admin()?;
            Access::System
        } else {
            principal.access()
        };
        let job = self.backends.jobs().cancel(access, id).await?.ok_or_else(not_found)?;
        self.audit_job(principal, AuditAction::JobCancelled, &job).await?;
        Ok(job)
    }

    /// Runs a failed or cancelled job again, as a new job of its owner with the same
    /// payload and reservation (admins only).
    #[tracing::instrument(skip_all, fields(job_id = %id), err(level = "warn"))]
    pub async fn retry_job(&self, principal: &Principal, id: JobId) -> Result<Job> {
        principal.require_admin()?;
        let old = self.backends.jobs().get(Access::System, id).await?.ok_or_else(not_found)?;
        if !matches!(old.status, JobStatus::Failed | JobStatus::Cancelled) {
            return Err(Error::conflict(
                "job_not_retryable",
                "only a failed or cancelled job can be run again",
            ));
        }
        let payload = JobPayload::of(&old).map_err(|e| Error::conflict("job_not_retryable", e))?;
        if let JobPayload::Import(import) = &payload
            && import.upload_id.is_none()
        {
            return Err(Error::conflict(
                "job_not_retryable",
                "this import ran on the request that sent the file, which is gone: upload the \
                 file again",
            ));
        }
        let submission = Submission { payload, reserve: old.reserved, idempotency_key: None };
        let owner = Principal::job_owner(old.user_id, old.workspace_id);
        let job = self.submit(principal, &owner, &submission).await?;
        self.audit_job(principal, AuditAction::JobRetried, &job).await?;
        Ok(job)
    }

    /// Hours the principal's jobs were charged per day and kind over the last `days` days
    /// (1 to 366, default 30), today included.
    pub async fn usage(&self, principal: &Principal, days: Option<u32>) -> Result<UsageReport> {
        let days = i64::from(crate::Error::bounded("days", days, 30, 1, 366)?);
        let today = chrono::Utc::now().date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
        let since = today - chrono::Duration::days(days - 1);
        let days =
            self.backends.jobs().usage(principal.access(), principal.workspace, since).await?;
        let total = days.iter().map(|day| day.hours).sum();
        Ok(UsageReport { since, total, days })
    }
}

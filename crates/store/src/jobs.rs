//! The job queue: a table that workers lease rows from, and the hours that pay for them.
//!
//! A queue table rather than a queue library, because every step here must share a
//! transaction with something else: submitting a job reserves its estimated hours in the
//! same transaction (a job exists exactly when its reservation does, and an overdraft is
//! refused by the balance's `CHECK`); finishing it moves the job to its final state, releases
//! the reservation and charges the measured time in one transaction guarded by the lease, so
//! a job is charged once even when two workers believe they hold it. Workers claim with
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite serialises writers anyway), preferring the
//! users with the fewest running jobs, so one user's thousand jobs do not starve another's
//! one. A lease expires unless its worker's heartbeat extends it; an expired job is queued
//! again (or failed and refunded after its last attempt).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use variosync_domain::{Hours, JobId, LedgerEntryId, UserId, WorkspaceId};

use crate::datasets::to_i64;
use crate::db::{Access, Database};
use crate::error::{Error, Result};
use crate::ledger::ledger_step;
use crate::transaction;
use crate::users::now;

/// The longest job kind name, idempotency key and message kept.
const MAX_KIND: usize = 64;
const MAX_KEY: usize = 200;
const MAX_MESSAGE: usize = 500;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker holds its lease.
    Running,
    /// Done; its result is recorded.
    Succeeded,
    /// Stopped by an error, or out of attempts.
    Failed,
    /// Cancelled by its owner or an admin.
    Cancelled,
}

impl JobStatus {
    /// Its name, as the API and the database write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// The status called `name` (`queued`, `running`, `succeeded`, `failed`, `cancelled`).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }

    fn parse(text: &str) -> Result<Self> {
        Self::from_name(text).ok_or_else(|| Error::Corrupt(format!("job status {text:?}")))
    }

    /// Whether the job will not change any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

/// A job as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Job {
    /// The job's id.
    pub id: JobId,
    /// The workspace it belongs to (whose balance pays for it).
    pub workspace_id: WorkspaceId,
    /// The person who ran it.
    pub user_id: UserId,
    /// What it does, e.g. `import`.
    pub kind: String,
    /// Its input, as the kind defines it.
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Where it is.
    pub status: JobStatus,
    /// Percent done, 0 to 100.
    pub progress: f64,
    /// What it is doing, or why it stopped.
    pub message: String,
    /// Attempts started.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not before this time (back-off after a failed attempt).
    pub run_after: DateTime<Utc>,
    /// Whether cancellation was asked for while it ran.
    pub cancel_requested: bool,
    /// The caller's key that makes submitting twice submit once.
    pub idempotency_key: Option<String>,
    /// Hours reserved at submission.
    pub reserved: Hours,
    /// Hours charged at the end.
    pub charged: Option<Hours>,
    /// CPU time its work took, in microseconds.
    pub cpu_micros: Option<u64>,
    /// What it produced, as the kind defines it.
    #[schema(value_type = Option<Object>)]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When its first attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached its final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    workspace_id: Uuid,
    user_id: Uuid,
    kind: String,
    payload: String,
    status: String,
    progress: f64,
    message: String,
    attempts: i32,
    max_attempts: i32,
    run_after: DateTime<Utc>,
    cancel_requested: bool,
    idempotency_key: Option<String>,
    reserved_micro: i64,
    charged_micro: Option<i64>,
    cpu_micros: Option<i64>,
    result: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

macro_rules! job_columns {
    () => {
        "id, workspace_id, user_id, kind, payload, status, progress, message, attempts, max_attempts, \
         run_after, cancel_requested, idempotency_key, reserved_micro, charged_micro, \
         cpu_micros, result, error, created_at, started_at, finished_at, updated_at"
    };
}

impl TryFrom<JobRow> for Job {
    type Error = Error;

    fn try_from(row: JobRow) -> Result<Self> {
        let json = |text: &str| {
            serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("job {}: {e}", row.id)))
        };
        Ok(Self {
            id: JobId::from_uuid(row.id),
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            user_id: UserId::from_uuid(row.user_id),
            kind: row.kind.clone(),
            payload: json(&row.payload)?,
            status: JobStatus::parse(&row.status)?,
            progress: row.progress,
            message: row.message.clone(),
            attempts: u32::try_from(row.attempts).unwrap_or_default(),
            max_attempts: u32::try_from(row.max_attempts).unwrap_or(1),
            run_after: row.run_after,
            cancel_requested: row.cancel_requested,
            idempotency_key: row.idempotency_key.clone(),
            reserved: Hours::from_micro(row.reserved_micro),
            charged: row.charged_micro.map(Hours::from_micro),
            cpu_micros: row.cpu_micros.map(|v| u64::try_from(v).unwrap_or_default()),
            result: row.result.as_deref().map(json).transpose()?,
            error: row.error.clone(),
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            updated_at: row.updated_at,
        })
    }
}

/// A job to submit.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What it does.
    pub kind: String,
    /// Its input.
    pub payload: serde_json::Value,
    /// Attempts allowed (at least 1).
    pub max_attempts: u32,
    /// Hours to reserve from the balance until it ends.
    pub reserve: Hours,
    /// Makes a repeated submission return the first job instead of a second one.
    pub idempotency_key: Option<String>,
}

/// How a job's attempt ended, as its worker reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It did its work.
    Succeeded {
        /// What it produced.
        result: serde_json::Value,
    },
    /// It stopped on an error; `refund` when the error is not the user's doing (then
    /// nothing is charged).
    Failed {
        /// Why.
        error: String,
        /// Whether to charge nothing.
        refund: bool,
    },
    /// It stopped because cancellation was asked for.
    Cancelled,
}

/// What a worker learns from a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// The worker still holds the job.
    Held {
        /// Whether its owner asked to cancel it.
        cancel_requested: bool,
    },
    /// The lease expired and the job went to another worker (or ended): stop working on it.
    Lost,
}

/// Hours charged per day and job kind.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Usage {
    /// The day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The job kind.
    pub kind: String,
    /// Jobs that ended that day.
    pub jobs: u64,
    /// Hours charged for them.
    pub hours: Hours,
}

fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Releases a job's reservation and takes its charge (clamped to what the balance holds
/// once the reservation is back), recording the charge on the job; evaluates to the hours
/// charged, in micro-hours.
macro_rules! settle {
    ($conn:expr, $job:expr, $owner:expr, $kind:expr, $reserved:expr, $charge:expr, $at:expr) => {{
        let (job, (workspace, user), reserved, charge): (JobId, (Uuid, Uuid), i64, i64) =
            ($job, $owner, $reserved, $charge);
        let mut balance: i64 = sqlx::query_scalar(
            "SELECT COALESCE((SELECT balance_micro FROM hour_balances WHERE workspace_id = $1), 0)",
        )
        .bind(workspace)
        .fetch_one(&mut *$conn)
        .await?;
        if reserved > 0 {
            let reason = format!("reservation of job {job} released");
            balance = ledger_step!(
                $conn,
                LedgerEntryId::new(),
                workspace,
                Some(user),
                reserved,
                &reason,
                None::<Uuid>,
                $at
            );
        }
        let charge = charge.clamp(0, balance);
        if charge > 0 {
            let reason = format!("job {job} ({})", $kind);
            let step = (LedgerEntryId::new(), workspace, Some(user));
            ledger_step!($conn, step.0, step.1, step.2, -charge, &reason, None::<Uuid>, $at);
        }
        sqlx::query("UPDATE jobs SET charged_micro = $2 WHERE id = $1")
            .bind(job.as_uuid())
            .bind(charge)
            .execute(&mut *$conn)
            .await?;
        charge
    }};
}

/// Reads and writes jobs.
#[derive(Debug, Clone)]
pub struct JobRepository {
    db: Database,
}

impl JobRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Submits a job, reserving `new.reserve` from the user's balance in the same
    /// transaction. With an idempotency key already used by this user, answers that first
    /// job and `false` (nothing is reserved again). [`Error::InsufficientHours`] when the
    /// balance does not cover the reservation: nothing is written then.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, kind = %new.kind), err(level = "warn"))]
    pub async fn submit(
        &self,
        access: Access,
        workspace: WorkspaceId,
        new: &NewJob,
    ) -> Result<(Job, bool)> {
        let owner = access.owner(workspace)?;
        if let Some(key) = &new.idempotency_key
            && let Some(existing) = self.by_key(access, workspace, key).await?
        {
            return Ok((existing, false));
        }
        let id = JobId::new();
        let at = now();
        let reserve = new.reserve.as_micro().max(0);
        let kind = clip(&new.kind, MAX_KIND);
        let key = new.idempotency_key.as_deref().map(|k| clip(k, MAX_KEY));
        let max_attempts = i32::try_from(new.max_attempts.max(1)).unwrap_or(i32::MAX);
        const INSERT: &str = concat!(
            "INSERT INTO jobs (id, workspace_id, user_id, kind, payload, status, max_attempts, \
             run_after, idempotency_key, reserved_micro, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7, $8, $9, $7, $7) \
             ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING ",
            job_columns!()
        );
        let reason = format!("reserved for job {id} ({kind})");
        let inserted = transaction!(&self.db, access, write, |conn| {
            let row = sqlx::query_as::<_, JobRow>(INSERT)
                .bind(id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(&kind)
                .bind(new.payload.to_string())
                .bind(max_attempts)
                .bind(at)
                .bind(&key)
                .bind(reserve)
                .fetch_optional(&mut *conn)
                .await?;
            // No row: the same key was submitted at the same moment by another request.
            if row.is_some() && reserve > 0 {
                ledger_step!(
                    conn,
                    LedgerEntryId::new(),
                    owner.workspace.as_uuid(),
                    Some(owner.user.as_uuid()),
                    -reserve,
                    &reason,
                    None::<Uuid>,
                    at
                );
            }
            row
        });
        match inserted {
            Some(row) => Ok((row.try_into()?, true)),
            None => match self.by_key(access, workspace, key.as_deref().unwrap_or_default()).await?
            {
                Some(existing) => Ok((existing, false)),
                None => Err(Error::NotFound("job")),
            },
        }
    }

    /// Records work that runs where it was asked for (an import on the request that sent
    /// the file) as a job already running under `owner`'s lease until `until`, reserving
    /// `new.reserve` in the same transaction, so that it is settled by [`Self::finish`] like
    /// any job. It has one attempt: if its runner dies, the reaper fails and refunds it.
    /// [`Error::InsufficientHours`] when the balance does not cover the reservation:
    /// nothing is written then.
    #[tracing::instrument(skip_all, fields(workspace_id = %workspace, kind = %new.kind), err(level = "warn"))]
    pub async fn start_inline(
        &self,
        access: Access,
        workspace: WorkspaceId,
        new: &NewJob,
        runner: &str,
        until: DateTime<Utc>,
    ) -> Result<Job> {
        let owner = access.owner(workspace)?;
        let id = JobId::new();
        let at = now();
        let reserve = new.reserve.as_micro().max(0);
        let kind = clip(&new.kind, MAX_KIND);
        const INSERT: &str = concat!(
            "INSERT INTO jobs (id, workspace_id, user_id, kind, payload, status, attempts, \
             max_attempts, run_after, reserved_micro, lease_owner, lease_until, started_at, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'running', 1, 1, $6, $7, $8, $9, $6, $6, $6) RETURNING ",
            job_columns!()
        );
        let reason = format!("reserved for job {id} ({kind})");
        let row = transaction!(&self.db, access, write, |conn| {
            let row = sqlx::query_as::<_, JobRow>(INSERT)
                .bind(id.as_uuid())
                .bind(owner.workspace.as_uuid())
                .bind(owner.user.as_uuid())
                .bind(&kind)
                .bind(new.payload.to_string())
                .bind(at)
                .bind(reserve)
                .bind(runner)
                .bind(until)
                .fetch_one(&mut *conn)
                .await?;
            if reserve > 0 {
                ledger_step!(
                    conn,
                    LedgerEntryId::new(),
                    owner.workspace.as_uuid(),
                    Some(owner.user.as_uuid()),
                    -reserve,
                    &reason,
                    None::<Uuid>,
                    at
                );
            }
            row
        });
        row.try_into()
    }

    /// The user's job submitted with the idempotency key `key`.
    pub async fn by_key(
        &self,
        access: Access,
        workspace: WorkspaceId,
        key: &str,
    ) -> Result<Option<Job>> {
        access.require_reader(workspace)?;
        const SQL: &str = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE workspace_id = $1 AND idempotency_key = $2"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, JobRow>(SQL)
                .bind(workspace.as_uuid())
                .bind(clip(key, MAX_KEY))
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Job::try_from).transpose()
    }

    /// The job, if `user` owns it (any job with system access and `user: None`).
    pub async fn get(&self, access: Access, id: JobId) -> Result<Option<Job>> {
        const SQL: &str = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1 AND ($2 IS NULL OR workspace_id = $2)"
        );
        let row = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, JobRow>(SQL)
                .bind(id.as_uuid())
                .bind(access.workspace_scope())
                .fetch_optional(&mut *conn)
                .await?
        });
        row.map(Job::try_from).transpose()
    }

    /// Jobs, newest first: the user's, or everyone's with system access; only those in
    /// `status` when given.
    pub async fn list(
        &self,
        access: Access,
        status: Option<JobStatus>,
        limit: u32,
    ) -> Result<Vec<Job>> {
        const SQL: &str = concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE ($1 IS NULL OR workspace_id = $1) AND ($2 IS NULL OR status = $2) \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let rows = transaction!(&self.db, access, read, |conn| {
            sqlx::query_as::<_, JobRow>(SQL)
                .bind(access.workspace_scope())
                .bind(status.map(JobStatus::as_str))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
        });
        rows.into_iter().map(Job::try_from).collect()
    }

    /// Leases the next job to `worker` until `now + lease`: among queued jobs due to run,
    /// one of the user with the fewest running jobs, the longest waiting first. Counts an
    /// attempt.
    #[tracing::instrument(skip_all, fields(worker = worker), err(level = "warn"))]
    pub async fn claim(
        &self,
        access: Access,
        worker: &str,
        lease: std::time::Duration,
    ) -> Result<Option<Job>> {
        access.require_system()?;
        // The running jobs per user are counted once (few rows); the queued ones are ranked
        // by them through the queue index, rather than counting for every queued row.
        const PICK: &str = "WITH running AS (SELECT user_id, COUNT(*) AS n FROM jobs \
             WHERE status = 'running' GROUP BY user_id) \
             SELECT j.id FROM jobs j LEFT JOIN running r ON r.user_id = j.user_id \
             WHERE j.status = 'queued' AND j.run_after <= $1 \
             ORDER BY COALESCE(r.n, 0), j.run_after, j.created_at LIMIT 1";
        const CLAIM_POSTGRES: &str = concat!(
            "WITH running AS (SELECT user_id, COUNT(*) AS n FROM jobs \
             WHERE status = 'running' GROUP BY user_id), \
             picked AS (SELECT j.id FROM jobs j LEFT JOIN running r ON r.user_id = j.user_id \
             WHERE j.status = 'queued' AND j.run_after <= $1 \
             ORDER BY COALESCE(r.n, 0), j.run_after, j.created_at LIMIT 1 \
             FOR UPDATE OF j SKIP LOCKED) \
             UPDATE jobs SET status = 'running', lease_owner = $2, lease_until = $3, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $1), updated_at = $1 \
             WHERE id = (SELECT id FROM picked) RETURNING ",
            job_columns!()
        );
        const CLAIM_SQLITE: &str = concat!(
            "UPDATE jobs SET status = 'running', lease_owner = $2, lease_until = $3, \
             attempts = attempts + 1, started_at = COALESCE(started_at, $1), updated_at = $1 \
             WHERE id = $4 AND status = 'queued' RETURNING ",
            job_columns!()
        );
        let at = now();
        let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let row = match &self.db {
            Database::Postgres(_) => transaction!(&self.db, access, write, |conn| {
                sqlx::query_as::<_, JobRow>(CLAIM_POSTGRES)
                    .bind(at)
                    .bind(worker)
                    .bind(until)
                    .fetch_optional(&mut *conn)
                    .await?
            }),
            // Writers take turns on SQLite (BEGIN IMMEDIATE): pick, then take.
            Database::Sqlite(_) => transaction!(&self.db, access, write, |conn| {
                let id: Option<Uuid> =
                    sqlx::query_scalar(PICK).bind(at).fetch_optional(&mut *conn).await?;
                match id {
                    Some(id) => {
                        sqlx::query_as::<_, JobRow>(CLAIM_SQLITE)
                            .bind(at)
                            .bind(worker)
                            .bind(until)
                            .bind(id)
                            .fetch_optional(&mut *conn)
                            .await?
                    }
                    None => None,
                }
            }),
        };
        row.map(Job::try_from).transpose()
    }

    /// Extends `worker`'s lease on the job to `now + lease`, recording progress when given.
    pub async fn heartbeat(
        &self,
        access: Access,
        id: JobId,
        worker: &str,
        lease: std::time::Duration,
        progress: Option<(f64, &str)>,
    ) -> Result<Lease> {
        access.require_system()?;
        const SQL: &str = "UPDATE jobs SET lease_until = $3, updated_at = $4, \
             progress = COALESCE($5, progress), message = COALESCE($6, message) \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running' \
             RETURNING cancel_requested";
        let at = now();
        let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let (percent, message) = match progress {
            Some((percent, message)) => {
                (Some(percent.clamp(0.0, 100.0)), Some(clip(message, MAX_MESSAGE)))
            }
            None => (None, None),
        };
        let cancel: Option<bool> = transaction!(&self.db, access, write, |conn| {
            sqlx::query_scalar(SQL)
                .bind(id.as_uuid())
                .bind(worker)
                .bind(until)
                .bind(at)
                .bind(percent)
                .bind(message)
                .fetch_optional(&mut *conn)
                .await?
        });
        Ok(match cancel {
            Some(cancel_requested) => Lease::Held { cancel_requested },
            None => Lease::Lost,
        })
    }

    /// Ends `worker`'s attempt: the job takes its final state, the reservation is released
    /// and `charge` is taken (nothing for a refunded failure; at most what the balance
    /// holds once the reservation is back), in one transaction that only the lease holder
    /// can commit. `None` if the worker no longer holds the job: nothing changed then.
    #[tracing::instrument(skip_all, fields(job_id = %id, worker = worker), err(level = "warn"))]
    pub async fn finish(
        &self,
        access: Access,
        id: JobId,
        worker: &str,
        outcome: &Outcome,
        cpu_micros: u64,
        charge: Hours,
    ) -> Result<Option<Job>> {
        access.require_system()?;
        let (status, result, error, charge) = match outcome {
            Outcome::Succeeded { result } => ("succeeded", Some(result.to_string()), None, charge),
            Outcome::Failed { error, refund } => {
                let charge = if *refund { Hours::from_micro(0) } else { charge };
                ("failed", None, Some(clip(error, MAX_MESSAGE)), charge)
            }
            Outcome::Cancelled => ("cancelled", None, None, charge),
        };
        let at = now();
        const END: &str = "UPDATE jobs SET status = $3, result = $4, error = $5, \
             cpu_micros = $6, finished_at = $7, updated_at = $7, lease_owner = NULL, \
             lease_until = NULL, progress = CASE WHEN $3 = 'succeeded' THEN 100 ELSE progress END \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running' \
             RETURNING workspace_id, user_id, kind, reserved_micro";
        let ended = transaction!(&self.db, access, write, |conn| {
            let row: Option<(Uuid, Uuid, String, i64)> = sqlx::query_as(END)
                .bind(id.as_uuid())
                .bind(worker)
                .bind(status)
                .bind(&result)
                .bind(&error)
                .bind(to_i64(cpu_micros))
                .bind(at)
                .fetch_optional(&mut *conn)
                .await?;
            let Some((workspace, user, kind, reserved)) = row else {
                return Ok(None);
            };
            let owner = (workspace, user);
            let charged = settle!(conn, id, owner, &kind, reserved, charge.as_micro(), at);
            Some(charged)
        });
        if ended.is_none() {
            return Ok(None);
        }
        self.get(access, id).await
    }

    /// Gives `worker`'s job back to the queue, to run again after `run_after` (a failed
    /// attempt with attempts left, or `count: false` for a worker shutting down, which does
    /// not use up an attempt). Whether the worker still held it.
    pub async fn requeue(
        &self,
        access: Access,
        id: JobId,
        worker: &str,
        run_after: DateTime<Utc>,
        message: &str,
        count: bool,
    ) -> Result<bool> {
        access.require_system()?;
        const SQL: &str = "UPDATE jobs SET status = 'queued', lease_owner = NULL, \
             lease_until = NULL, run_after = $3, message = $4, updated_at = $5, \
             attempts = CASE WHEN $6 THEN attempts ELSE attempts - 1 END \
             WHERE id = $1 AND lease_owner = $2 AND status = 'running'";
        let done = transaction!(&self.db, access, write, |conn| {
            sqlx::query(SQL)
                .bind(id.as_uuid())
                .bind(worker)
                .bind(run_after)
                .bind(clip(message, MAX_MESSAGE))
                .bind(now())
                .bind(count)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        Ok(done > 0)
    }

    /// Takes back the jobs whose lease expired (their worker died or hung): queued again
    /// with attempts left, otherwise failed and refunded. Returns the jobs taken back.
    #[tracing::instrument(skip_all, err(level = "warn"))]
    pub async fn reap(&self, access: Access) -> Result<Vec<JobId>> {
        access.require_system()?;
        let at = now();
        const EXPIRED: &str = "SELECT id, workspace_id, user_id, kind, reserved_micro, attempts, \
             max_attempts \
             FROM jobs WHERE status = 'running' AND lease_until < $1";
        const AGAIN: &str = "UPDATE jobs SET status = 'queued', lease_owner = NULL, \
             lease_until = NULL, run_after = $2, message = 'its worker stopped; queued again', \
             updated_at = $2 WHERE id = $1 AND status = 'running' AND lease_until < $2";
        const GIVE_UP: &str = "UPDATE jobs SET status = 'failed', lease_owner = NULL, \
             lease_until = NULL, error = $3, finished_at = $2, updated_at = $2 \
             WHERE id = $1 AND status = 'running' AND lease_until < $2";
        let taken = transaction!(&self.db, access, write, |conn| {
            let expired: Vec<(Uuid, Uuid, Uuid, String, i64, i32, i32)> =
                sqlx::query_as(EXPIRED).bind(at).fetch_all(&mut *conn).await?;
            let mut taken = Vec::new();
            for (id, workspace, user, kind, reserved, attempts, max_attempts) in expired {
                let job = JobId::from_uuid(id);
                if attempts < max_attempts {
                    sqlx::query(AGAIN).bind(id).bind(at).execute(&mut *conn).await?;
                } else {
                    let error = if max_attempts > 1 {
                        "its worker stopped on every attempt"
                    } else {
                        "the process running it stopped before it ended; its hours were given back"
                    };
                    let changed = sqlx::query(GIVE_UP)
                        .bind(id)
                        .bind(at)
                        .bind(error)
                        .execute(&mut *conn)
                        .await?;
                    if changed.rows_affected() > 0 {
                        settle!(conn, job, (workspace, user), &kind, reserved, 0i64, at);
                    }
                }
                taken.push(job);
            }
            taken
        });
        Ok(taken)
    }

    /// Cancels the user's job: a queued one at once, with its whole reservation given back;
    /// a running one is asked to stop (its worker sees it at the next heartbeat and charges
    /// what it used). The job as it is now, or `None` if it is not theirs.
    #[tracing::instrument(skip_all, fields(job_id = %id), err(level = "warn"))]
    pub async fn cancel(&self, access: Access, id: JobId) -> Result<Option<Job>> {
        if let Access::Member(member) = access {
            access.require_writer(member.workspace)?;
        }
        let at = now();
        const QUEUED: &str = "UPDATE jobs SET status = 'cancelled', finished_at = $3, \
             updated_at = $3, message = 'cancelled before it started' \
             WHERE id = $1 AND ($2 IS NULL OR workspace_id = $2) AND status = 'queued' \
             RETURNING workspace_id, user_id, kind, reserved_micro";
        const RUNNING: &str = "UPDATE jobs SET cancel_requested = TRUE, updated_at = $3 \
             WHERE id = $1 AND ($2 IS NULL OR workspace_id = $2) AND status = 'running'";
        transaction!(&self.db, access, write, |conn| {
            let queued: Option<(Uuid, Uuid, String, i64)> = sqlx::query_as(QUEUED)
                .bind(id.as_uuid())
                .bind(access.workspace_scope())
                .bind(at)
                .fetch_optional(&mut *conn)
                .await?;
            match queued {
                Some((workspace, user, kind, reserved)) => {
                    settle!(conn, id, (workspace, user), &kind, reserved, 0i64, at);
                }
                None => {
                    sqlx::query(RUNNING)
                        .bind(id.as_uuid())
                        .bind(access.workspace_scope())
                        .bind(at)
                        .execute(&mut *conn)
                        .await?;
                }
            }
        });
        self.get(access, id).await
    }

    /// Hours charged to the user per day and job kind, from `since`, newest day first.
    pub async fn usage(
        &self,
        access: Access,
        workspace: WorkspaceId,
        since: DateTime<Utc>,
    ) -> Result<Vec<Usage>> {
        access.require_reader(workspace)?;
        let rows: Vec<(DateTime<Utc>, String, i64)> =
            transaction!(&self.db, access, read, |conn| {
                sqlx::query_as(
                    "SELECT finished_at, kind, charged_micro FROM jobs WHERE workspace_id = $1 \
                     AND finished_at >= $2 AND charged_micro IS NOT NULL ORDER BY finished_at",
                )
                .bind(workspace.as_uuid())
                .bind(since)
                .fetch_all(&mut *conn)
                .await?
            });
        let mut usage: std::collections::BTreeMap<(String, String), (u64, i64)> =
            Default::default();
        for (finished, kind, charged) in rows {
            let entry = usage.entry((finished.format("%Y-%m-%d").to_string(), kind)).or_default();
            entry.0 += 1;
            entry.1 += charged;
        }
        Ok(usage
            .into_iter()
            .rev()
            .map(|((day, kind), (jobs, micro))| Usage {
                day,
                kind,
                jobs,
                hours: Hours::from_micro(micro),
            })
            .collect())
    }
}

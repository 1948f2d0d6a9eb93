//! Running queued jobs: job kinds, the context a job runs in (progress, cancellation, CPU
//! time), and the worker loop that leases jobs, keeps the lease alive with a heartbeat,
//! settles each job's hours by the CPU time it took, and gives its job back when it stops.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use variosync_domain::{Hours, WorkspaceId};
use variosync_store::jobs::{Job, JobRepository, Lease, NewJob, Outcome};
use variosync_store::{Access, Backends, Channel};

use crate::Principal;
use crate::worker::WorkerId;

/// Why a job's attempt stopped short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// What went wrong, for the job's owner.
    pub message: String,
    /// The input is at fault (a bad file): charged, not retried.
    pub user_fault: bool,
    /// Another attempt may succeed (a backend was unavailable).
    pub retryable: bool,
}

impl JobError {
    /// The input is at fault: the job fails, its compute is charged.
    pub fn user(message: impl Into<String>) -> Self {
        Self { message: message.into(), user_fault: true, retryable: false }
    }

    /// Something on our side failed and may work later: the attempt is retried, and if the
    /// job runs out of attempts it is refunded.
    pub fn transient(message: impl Into<String>) -> Self {
        Self { message: message.into(), user_fault: false, retryable: true }
    }

    /// Something on our side failed for good: refunded, not retried.
    pub fn internal(message: impl Into<String>) -> Self {
        Self { message: message.into(), user_fault: false, retryable: false }
    }
}

/// One kind of background work.
#[async_trait]
pub trait JobKind: Send + Sync + std::fmt::Debug + 'static {
    /// The kind's name, stored with each job.
    fn name(&self) -> &'static str;

    /// Does the work of `context.job`, reporting progress and checking for cancellation
    /// through `context`; returns what it produced.
    async fn run(&self, context: &JobContext) -> Result<serde_json::Value, JobError>;
}

/// The job kinds a worker can run.
#[derive(Debug, Clone, Default)]
pub struct Kinds(HashMap<&'static str, Arc<dyn JobKind>>);

impl Kinds {
    /// No kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `kind`.
    pub fn with(mut self, kind: impl JobKind) -> Self {
        self.0.insert(kind.name(), Arc::new(kind));
        self
    }

    fn get(&self, name: &str) -> Option<Arc<dyn JobKind>> {
        self.0.get(name).cloned()
    }
}

/// What a running job can see and report.
#[derive(Debug)]
pub struct JobContext {
    /// The job, as it was claimed.
    pub job: Job,
    /// The shared backends.
    pub backends: Backends,
    /// The use cases, for job kinds that run one.
    pub app: crate::App,
    /// A folder of its own for temporary files (removed afterwards).
    pub scratch: PathBuf,
    progress: Reporter,
    cancel: CancellationToken,
    cpu_micros: Arc<AtomicU64>,
}

/// Reports a job's progress from any thread.
#[derive(Debug, Clone)]
pub struct Reporter(Arc<watch::Sender<Option<(f64, String)>>>);

impl Reporter {
    /// Records how far the job is (0 to 100) and what it is doing.
    pub fn report(&self, percent: f64, message: &str) {
        self.0.send_if_modified(|current| {
            let changed =
                current.as_ref().is_none_or(|(p, m)| (p - percent).abs() >= 0.5 || m != message);
            if changed {
                *current = Some((percent, message.to_owned()));
            }
            changed
        });
    }
}

impl JobContext {
    /// The person who submitted the job, acting in the job's workspace: whom the job's
    /// work is done for.
    pub fn principal(&self) -> Principal {
        Principal::job_owner(self.job.user_id, self.job.workspace_id)
    }

    /// Reports how far the job is (0 to 100) and what it is doing; the worker records it
    /// and tells the owner's browser at the next heartbeat.
    pub fn progress(&self, percent: f64, message: &str) {
        self.progress.report(percent, message);
    }

    /// A handle that reports progress from other threads.
    pub fn reporter(&self) -> Reporter {
        self.progress.clone()
    }

    /// The counter of the job's CPU time, in microseconds, for work that measures itself.
    pub fn cpu_meter(&self) -> Arc<AtomicU64> {
        self.cpu_micros.clone()
    }

    /// Whether the job should stop (its owner cancelled it, or its lease was lost).
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The token cancelled when the job should stop, for work that checks it as it goes.
    pub fn cancellation(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Counts CPU time spent on the job by a thread the job started.
    pub fn add_cpu_micros(&self, micros: u64) {
        self.cpu_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Runs CPU-bound work on the blocking pool and counts the CPU time it took.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, JobError> {
        let meter = self.cpu_micros.clone();
        tokio::task::spawn_blocking(move || {
            let started = cpu_time::ThreadTime::now();
            let value = work();
            let spent = started.elapsed().as_micros();
            meter.fetch_add(u64::try_from(spent).unwrap_or(u64::MAX), Ordering::Relaxed);
            value
        })
        .await
        .map_err(|_| JobError::internal("the job's work stopped unexpectedly"))
    }
}

/// How workers run jobs.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long a claimed job stays leased without a heartbeat.
    pub lease: Duration,
    /// How often to look for work when idle (a submission wakes idle workers sooner).
    pub poll: Duration,
    /// The least a finished job is charged.
    pub min_charge: Duration,
    /// How long to wait for the current job when asked to stop, before giving it back.
    pub shutdown_grace: Duration,
    /// Where jobs keep temporary files.
    pub scratch: PathBuf,
    /// How often each runner deletes every account's expired uploads.
    pub sweep_every: Duration,
}

impl WorkerSettings {
    /// Defaults with temporary files under `scratch`.
    pub fn new(scratch: PathBuf) -> Self {
        Self {
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(2),
            min_charge: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(20),
            scratch,
            sweep_every: Duration::from_secs(60),
        }
    }
}

/// The channel idle workers listen on for new work.
pub fn queued_channel() -> Channel {
    Channel::parse("jobs.queued").expect("a valid channel name")
}

/// The channel a workspace's job events go to (progress and ends), as JSON of the job.
pub fn job_channel(workspace: WorkspaceId) -> Channel {
    Channel::workspace(workspace, "jobs")
}

/// The channel a workspace's dataset changes go to: `{"action", "dataset_id"}` as JSON, the
/// action one of `dataset_imported`, `dataset_updated` or `dataset_deleted`.
pub fn dataset_channel(workspace: WorkspaceId) -> Channel {
    Channel::workspace(workspace, "datasets")
}

/// Tells the workspace's open pages that a dataset was imported, changed or deleted; a lost
/// message only delays a library page until its next reload.
pub async fn announce_dataset(
    backends: &Backends,
    workspace: WorkspaceId,
    action: variosync_domain::AuditAction,
    dataset: variosync_domain::DatasetId,
) {
    let payload = serde_json::json!({ "action": action.as_str(), "dataset_id": dataset });
    let payload = serde_json::to_vec(&payload).unwrap_or_default();
    if let Err(error) = backends.pubsub.publish(&dataset_channel(workspace), payload.into()).await {
        tracing::debug!(error = %error, "a dataset event was not published");
    }
}

/// Submits a job for `owner` in its workspace, reserving `new.reserve` of the workspace's
/// hours, and wakes idle workers.
pub async fn submit(
    backends: &Backends,
    owner: &Principal,
    new: &NewJob,
) -> Result<(Job, bool), variosync_store::Error> {
    let (job, created) = backends.jobs().submit(owner.access(), owner.workspace, new).await?;
    if created {
        publish(backends, &job).await;
        if let Err(error) = backends.pubsub.publish(&queued_channel(), "1".into()).await {
            tracing::warn!(error = %error, "idle workers were not woken; they will poll");
        }
    }
    Ok((job, created))
}

/// Tells the workspace's open pages about the job.
pub(crate) async fn publish(backends: &Backends, job: &Job) {
    let payload = serde_json::to_vec(job).unwrap_or_default();
    if let Err(error) =
        backends.pubsub.publish(&job_channel(job.workspace_id), payload.into()).await
    {
        tracing::debug!(error = %error, "a job event was not published");
    }
}

/// Hours for `cpu` of compute, at least `minimum`.
pub(crate) fn hours_for(cpu: Duration, minimum: Duration) -> Hours {
    Hours::from_millis_ceil(u64::try_from(cpu.max(minimum).as_millis()).unwrap_or(u64::MAX))
}

/// Back-off before attempt `attempts + 1`: 2, 4, 8 ... seconds, at most five minutes.
fn back_off(attempts: u32) -> chrono::Duration {
    chrono::Duration::seconds(2i64.saturating_pow(attempts.min(8)).min(300))
}

/// Takes jobs from the queue and runs them, one at a time, until `shutdown` is cancelled.
pub async fn run_worker(
    id: WorkerId,
    app: crate::App,
    kinds: Kinds,
    settings: WorkerSettings,
    shutdown: CancellationToken,
) {
    let backends = app.backends().clone();
    let repo = backends.jobs();
    let mut last_sweep: Option<tokio::time::Instant> = None;
    let mut wakeups = match backends.pubsub.subscribe(&queued_channel()).await {
        Ok(subscription) => Some(subscription),
        Err(error) => {
            tracing::warn!(error = %error, "workers will poll for new jobs");
            None
        }
    };
    tracing::info!(worker = %id, "worker started");
    while !shutdown.is_cancelled() {
        match repo.reap(Access::System).await {
            Ok(taken) if !taken.is_empty() => {
                tracing::warn!(jobs = taken.len(), "took back jobs whose worker stopped");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(error = %error, "cannot take back expired jobs"),
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= settings.sweep_every) {
            last_sweep = Some(tokio::time::Instant::now());
            match app.sweep_expired_uploads().await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(uploads = swept, "deleted expired uploads"),
                Err(error) => tracing::warn!(error = %error, "cannot delete expired uploads"),
            }
            match app.sweep_expired_exports().await {
                Ok(0) => {}
                Ok(swept) => tracing::info!(exports = swept, "deleted expired exports"),
                Err(error) => tracing::warn!(error = %error, "cannot delete expired exports"),
            }
        }
        let claimed = match repo.claim(Access::System, &id.to_string(), settings.lease).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %error, "cannot claim a job");
                None
            }
        };
        match claimed {
            Some(job) => {
                use tracing::Instrument;
                let span = tracing::info_span!(
                    "job", job_id = %job.id, kind = %job.kind, attempt = job.attempts
                );
                run_one(&id, &app, &repo, &kinds, &settings, &shutdown, job).instrument(span).await;
            }
            None => {
                let wake = async {
                    match wakeups.as_mut() {
                        Some(subscription) => {
                            use futures::StreamExt;
                            subscription.next().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => {}
                    () = tokio::time::sleep(settings.poll) => {}
                    () = wake => {}
                }
            }
        }
    }
    tracing::info!(worker = %id, "worker stopped");
}

/// Runs one claimed job to its end (or gives it back when the worker stops).
async fn run_one(
    worker: &WorkerId,
    app: &crate::App,
    repo: &JobRepository,
    kinds: &Kinds,
    settings: &WorkerSettings,
    shutdown: &CancellationToken,
    job: Job,
) {
    let worker_name = worker.to_string();
    let backends = app.backends();
    publish(backends, &job).await;
    let Some(kind) = kinds.get(&job.kind) else {
        let outcome = Outcome::Failed {
            error: format!("this server cannot run jobs of kind {:?}", job.kind),
            refund: true,
        };
        end(repo, backends, job.id, &worker_name, &outcome, Duration::ZERO, settings).await;
        return;
    };
    let scratch = settings.scratch.join(format!("job-{}", job.id));
    let (progress_tx, mut progress_rx) = watch::channel(None);
    let cancel = CancellationToken::new();
    let context = JobContext {
        job: job.clone(),
        backends: backends.clone(),
        app: app.clone(),
        scratch: scratch.clone(),
        progress: Reporter(Arc::new(progress_tx)),
        cancel: cancel.clone(),
        cpu_micros: Arc::new(AtomicU64::new(0)),
    };
    let _ = tokio::fs::create_dir_all(&scratch).await;
    let work = kind.run(&context);
    tokio::pin!(work);
    let mut beat = tokio::time::interval(settings.lease / 3);
    beat.tick().await;
    let mut cancelled_by_owner = false;
    let mut lost = false;
    let mut stopping_since: Option<tokio::time::Instant> = None;
    let result = loop {
        tokio::select! {
            result = &mut work => break Some(result),
            _ = beat.tick() => {
                let progress = progress_rx.borrow_and_update().clone();
                let changed = progress.is_some();
                let report = progress.as_ref().map(|(p, m)| (*p, m.as_str()));
                match repo.heartbeat(Access::System, job.id, &worker_name, settings.lease, report).await {
                    Ok(Lease::Held { cancel_requested }) => {
                        if cancel_requested && !cancelled_by_owner {
                            cancelled_by_owner = true;
                            cancel.cancel();
                        }
                        if changed && let Ok(Some(now)) = repo.get(variosync_store::Access::System, job.id).await {
                            publish(backends, &now).await;
                        }
                    }
                    Ok(Lease::Lost) => {
                        lost = true;
                        cancel.cancel();
                    }
                    Err(error) => tracing::warn!(error = %error, "heartbeat failed"),
                }
                if shutdown.is_cancelled() {
                    let since = *stopping_since.get_or_insert_with(tokio::time::Instant::now);
                    if since.elapsed() >= settings.shutdown_grace {
                        cancel.cancel();
                        break None;
                    }
                }
            }
        }
    };
    let cpu = Duration::from_micros(context.cpu_micros.load(Ordering::Relaxed));
    let _ = tokio::fs::remove_dir_all(&scratch).await;
    if lost {
        tracing::warn!("the job's lease was lost; another worker has it");
        return;
    }
    let Some(result) = result else {
        // Stopping: the job goes back to the queue without using up an attempt.
        let message = "its worker stopped; queued again";
        if let Err(error) = repo
            .requeue(Access::System, job.id, &worker_name, chrono::Utc::now(), message, false)
            .await
        {
            tracing::warn!(error = %error, "cannot give the job back");
        }
        return;
    };
    let outcome = match result {
        Ok(value) => Outcome::Succeeded { result: value },
        Err(_) if cancelled_by_owner => Outcome::Cancelled,
        Err(error) if error.retryable && job.attempts < job.max_attempts => {
            let after = chrono::Utc::now() + back_off(job.attempts);
            let message =
                format!("attempt {} failed: {}; trying again", job.attempts, error.message);
            match repo.requeue(Access::System, job.id, &worker_name, after, &message, true).await {
                Ok(_) => {
                    if let Ok(Some(now)) = repo.get(variosync_store::Access::System, job.id).await {
                        publish(backends, &now).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot queue the job again"),
            }
            return;
        }
        Err(error) => Outcome::Failed { error: error.message, refund: !error.user_fault },
    };
    end(repo, backends, job.id, &worker_name, &outcome, cpu, settings).await;
}

/// Runs `work`, the inline job `id` held by `runner`, while renewing its lease every third
/// of `lease`: a process that dies mid-way lets the job be taken back (and its hours given
/// back) within one lease, as a worker's would be.
pub(crate) async fn holding_lease<T>(
    repo: &JobRepository,
    id: variosync_domain::JobId,
    runner: &str,
    lease: Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let renew = || async {
        match repo.heartbeat(Access::System, id, runner, lease, None).await {
            Ok(Lease::Held { .. }) => {}
            Ok(Lease::Lost) => tracing::warn!(job_id = %id, "an inline job's lease was lost"),
            Err(error) => {
                tracing::warn!(job_id = %id, error = %error, "an inline job's heartbeat failed")
            }
        }
    };
    renewing(lease / 3, renew, work).await
}

/// Runs `work`, awaiting `renew` every `period` until it ends.
pub(crate) async fn renewing<T, F: std::future::Future<Output = ()>>(
    period: Duration,
    mut renew: impl FnMut() -> F,
    work: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut beat = tokio::time::interval(period);
    beat.tick().await;
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = beat.tick() => renew().await,
        }
    }
}

/// Records the job's end and its charge, and tells its owner.
async fn end(
    repo: &JobRepository,
    backends: &Backends,
    id: variosync_domain::JobId,
    worker: &str,
    outcome: &Outcome,
    cpu: Duration,
    settings: &WorkerSettings,
) {
    let charge = hours_for(cpu, settings.min_charge);
    let micros = u64::try_from(cpu.as_micros()).unwrap_or(u64::MAX);
    match repo.finish(Access::System, id, worker, outcome, micros, charge).await {
        Ok(Some(job)) => {
            tracing::info!(status = ?job.status, cpu_ms = cpu.as_millis(), "job ended");
            publish(backends, &job).await;
        }
        Ok(None) => tracing::warn!("the job's lease was lost before it ended"),
        Err(error) => tracing::error!(error = %error, "cannot record the job's end"),
    }
}

#[cfg(test)]
mod tests {
    use variosync_store::jobs::JobStatus;

    use super::*;

    #[tokio::test]
    async fn an_inline_job_keeps_its_lease_while_it_runs_and_is_taken_back_once_its_process_dies() {
        let (_dir, backends, user) = variosync_store::testing::embedded_with_user().await;
        let jobs = backends.jobs();
        let lease = Duration::from_secs(2);
        let new = NewJob {
            kind: "import".into(),
            payload: serde_json::json!({}),
            max_attempts: 1,
            reserve: Hours::ZERO,
            idempotency_key: None,
        };
        let until = chrono::Utc::now() + chrono::Duration::from_std(lease).unwrap();
        let access = variosync_store::Access::person(user);
        let job = jobs
            .start_inline(access, WorkspaceId::personal(user), &new, "inline-a", until)
            .await
            .unwrap();
        // Work that outlasts two leases keeps its job.
        let work = tokio::time::sleep(Duration::from_secs(5));
        holding_lease(&jobs, job.id, "inline-a", lease, work).await;
        assert!(jobs.reap(Access::System).await.unwrap().is_empty(), "the lease was renewed");
        // Then nothing renews it, as when its process is killed: it is taken back and failed.
        tokio::time::sleep(lease + Duration::from_millis(500)).await;
        assert_eq!(jobs.reap(Access::System).await.unwrap(), [job.id]);
        let ended = jobs.get(Access::System, job.id).await.unwrap().unwrap();
        assert_eq!(ended.status, JobStatus::Failed);
        let error = ended.error.unwrap_or_default();
        assert!(error.contains("the process running it stopped"), "{error}");
    }
}

//! Queue throughput: how many trivial jobs per second two job runners take, run and settle
//! on PostgreSQL (lease, heartbeat, end, reservation released and charge taken in the
//! ledger), with the jobs of several users queued at once.
//!
//! Run with `VARIOSYNC_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench
//! -p variosync-app --bench queue` (a fresh database is made for the run).

use std::time::{Duration, Instant};
use variosync_domain::WorkspaceId;
use variosync_store::Owner;

use async_trait::async_trait;
use variosync_app::{JobContext, JobError, JobKind, Kinds, Worker, WorkerSettings};
use variosync_domain::{Email, Hours, NewUser, Role};
use variosync_store::jobs::{JobStatus, NewJob};
use variosync_store::{Access, Backends, StoreSettings};

const USERS: usize = 4;
const JOBS_PER_USER: usize = 500;
const RUNNERS: usize = 2;

/// A job that does nothing: what is measured is the queue around it.
#[derive(Debug)]
struct Nothing;

#[async_trait]
impl JobKind for Nothing {
    fn name(&self) -> &'static str {
        "nothing"
    }

    async fn run(&self, _context: &JobContext) -> Result<serde_json::Value, JobError> {
        Ok(serde_json::Value::Null)
    }
}

#[tokio::main]
async fn main() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else {
        eprintln!("set VARIOSYNC_TEST_POSTGRES_URL to run the queue benchmark");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let settings = StoreSettings { database, ..StoreSettings::default() };
    let backends = Backends::open(&settings, data.path()).await.unwrap();
    backends.db.migrate().await.unwrap();
    let reserve = Hours::from_millis_ceil(1000);
    let mut users = Vec::new();
    for i in 0..USERS {
        let email = Email::parse(&format!("user{i}@example.com")).unwrap();
        let new = NewUser { email, password_hash: None, role: Role::User };
        let id = backends.users().create(&new).await.unwrap().id;
        let grant = Hours::from_hours_f64(100.0).unwrap();
        backends
            .ledger()
            .apply(Access::System, Owner::personal(id), grant, "grant", None)
            .await
            .unwrap();
        users.push(id);
    }
    let started = Instant::now();
    for _ in 0..JOBS_PER_USER {
        for user in &users {
            let new = NewJob {
                kind: "nothing".to_owned(),
                payload: serde_json::json!({}),
                max_attempts: 1,
                reserve,
                idempotency_key: None,
            };
            backends
                .jobs()
                .submit(Access::person(*user), WorkspaceId::personal(*user), &new)
                .await
                .unwrap();
        }
    }
    let total = USERS * JOBS_PER_USER;
    let submitting = started.elapsed();

    let settings = WorkerSettings {
        poll: Duration::from_millis(50),
        min_charge: Duration::from_millis(1),
        ..WorkerSettings::new(data.path().join("tmp"))
    };
    let app =
        variosync_app::App::new(backends.clone(), data.path().join("tmp"), Default::default());
    let worker = Worker::new(app, Kinds::new().with(Nothing), settings);
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    let runners = tokio::spawn(worker.run(RUNNERS, async move { stopped.cancelled().await }));
    let started = Instant::now();
    loop {
        let left = backends.jobs().list(Access::System, Some(JobStatus::Queued), 1).await.unwrap();
        let running =
            backends.jobs().list(Access::System, Some(JobStatus::Running), 1).await.unwrap();
        if left.is_empty() && running.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let running = started.elapsed();
    stop.cancel();
    runners.await.unwrap();
    let done = backends.jobs().list(Access::System, Some(JobStatus::Succeeded), 10_000).await;
    assert_eq!(done.unwrap().len(), total);
    println!(
        "{total} jobs of {USERS} users: submitted in {:.2} s ({:.0}/s, each reserving hours); \
         {RUNNERS} runners took, ran and settled them in {:.2} s ({:.0} jobs/s)",
        submitting.as_secs_f64(),
        total as f64 / submitting.as_secs_f64(),
        running.as_secs_f64(),
        total as f64 / running.as_secs_f64(),
    );
}

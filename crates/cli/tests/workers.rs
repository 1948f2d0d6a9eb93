//! Worker processes (`variosync worker`) sharing one database and object store: a worker
//! killed with SIGKILL in the middle of a job loses its lease, another finishes the job and
//! the owner is charged once; 200 jobs submitted at once by a user whose balance covers 50
//! reserve exactly 50, which two workers run, and the ledger adds up to a balance that never
//! went below zero. On SQLite, and on PostgreSQL when it is configured.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use variosync_app::Principal;
use variosync_domain::WorkspaceId;
use variosync_store::Owner;

use secrecy::ExposeSecret;
use variosync_app::imports::{ImportPayload, ReadChoices};
use variosync_domain::{Email, Hours, NewUser, Role, UploadId, UserId};
use variosync_store::jobs::{JobStatus, NewJob};
use variosync_store::{Access, Backends, DatabaseSettings, ObjectKey, StoreSettings};

/// A `variosync worker` process, killed when dropped.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(data_dir: &Path, database: &DatabaseSettings) -> WorkerProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_variosync"));
    command
        .arg("worker")
        .env_clear()
        .env("VARIOSYNC_DATA_DIR", data_dir)
        .env("VARIOSYNC_WORKERS", "1")
        .env("VARIOSYNC_JOBS_LEASE_SECS", "3")
        .env("VARIOSYNC_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    if let Some(url) = &database.url {
        command.env("VARIOSYNC_DATABASE_URL", url.expose_secret());
    }
    WorkerProcess(command.spawn().expect("the worker starts"))
}

async fn backends(data_dir: &Path, database: &DatabaseSettings) -> Backends {
    let settings = StoreSettings { database: database.clone(), ..StoreSettings::default() };
    let backends = Backends::open(&settings, data_dir).await.unwrap();
    backends.db.migrate().await.unwrap();
    backends
}

async fn user(backends: &Backends, email: &str, hours: Hours) -> UserId {
    let new =
        NewUser { email: Email::parse(email).unwrap(), password_hash: None, role: Role::User };
    let id = backends.users().create(&new).await.unwrap().id;
    backends
        .ledger()
        .apply(Access::System, Owner::personal(id), hours, "grant", None)
        .await
        .unwrap();
    id
}

/// A complete upload of `file`, claimed for a job, and the job that imports it.
async fn import_job(backends: &Backends, user: UserId, file: Vec<u8>, reserve: Hours) -> NewJob {
    let id = UploadId::new();
    let expires = chrono::Utc::now() + chrono::Duration::hours(1);
    let uploads = backends.uploads();
    uploads
        .create(
            Access::person(user),
            WorkspaceId::personal(user),
            id,
            "prices.csv",
            file.len() as u64,
            expires,
        )
        .await
        .unwrap();
    let key = ObjectKey::upload_chunk(WorkspaceId::personal(user), id, 0, 1);
    let size = file.len() as u64;
    backends.objects.put(&key, file.into()).await.unwrap();
    uploads
        .add_chunk(Access::person(user), WorkspaceId::personal(user), id, 0, size, &key)
        .await
        .unwrap();
    uploads
        .claim(Access::person(user), WorkspaceId::personal(user), id, expires)
        .await
        .unwrap()
        .unwrap();
    let choices = ReadChoices {
        name: "prices".to_owned(),
        default_series: "prices".to_owned(),
        mode: "strict".to_owned(),
        tz: "UTC".to_owned(),
        duplicates: "keep_last".to_owned(),
        mapping: Default::default(),
    };
    NewJob {
        kind: "import".to_owned(),
        payload: serde_json::to_value(ImportPayload { upload_id: Some(id), choices }).unwrap(),
        max_attempts: 3,
        reserve,
        idempotency_key: None,
    }
}

/// Minute bars of one series.
fn prices(rows: usize) -> Vec<u8> {
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 2).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for i in 0..rows {
        let at = start + chrono::Duration::minutes(i as i64);
        let close = 100.0 + (i % 977) as f64 * 0.01;
        csv.push_str(&format!(
            "{},{:.2},{:.2},{:.2},{close:.2},{}\n",
            at.format("%Y-%m-%d %H:%M:%S"),
            close - 0.05,
            close + 0.1,
            close - 0.1,
            1000 + i % 500
        ));
    }
    csv.into_bytes()
}

/// Waits, polling the shared database, until `done` holds.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ledger_adds_up(backends: &Backends, user: UserId) -> Hours {
    let ledger = backends.ledger();
    let balance = ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap();
    let entries = ledger
        .entries(Access::person(user), WorkspaceId::personal(user), None, 1000)
        .await
        .unwrap();
    assert_eq!(entries.iter().map(|e| e.delta).sum::<Hours>(), balance, "the ledger adds up");
    assert!(!balance.is_negative());
    balance
}

async fn killed_worker_job_finishes_elsewhere_charged_once(database: DatabaseSettings) {
    let data = tempfile::tempdir().unwrap();
    let backends = backends(data.path(), &database).await;
    let ada = user(&backends, "ada@example.com", Hours::from_hours_f64(1.0).unwrap()).await;
    let reserve = Hours::from_hours_f64(0.1).unwrap();
    let new = import_job(&backends, ada, prices(400_000), reserve).await;
    let (job, _) =
        variosync_app::queue::submit(&backends, &Principal::owner(ada), &new).await.unwrap();
    let jobs = backends.jobs();

    let first = worker(data.path(), &database);
    until("the first worker runs the job", || async {
        let now = jobs.get(Access::System, job.id).await.unwrap().unwrap();
        assert!(!now.status.is_final(), "the job ended before the worker was killed");
        now.status == JobStatus::Running
    })
    .await;
    let mut first = first;
    // `Child::kill` sends SIGKILL: the worker gets no chance to give the job back.
    first.0.kill().unwrap();
    first.0.wait().unwrap();

    let _second = worker(data.path(), &database);
    until("another worker finishes the job", || async {
        jobs.get(Access::System, job.id).await.unwrap().unwrap().status.is_final()
    })
    .await;
    let done = jobs.get(Access::System, job.id).await.unwrap().unwrap();
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
    assert_eq!(done.attempts, 2, "the killed attempt and the one that finished");
    assert_eq!(done.result.as_ref().unwrap()["version"]["row_count"], 400_000);
    let entries = backends
        .ledger()
        .entries(Access::person(ada), WorkspaceId::personal(ada), None, 100)
        .await
        .unwrap();
    let charges: Vec<_> =
        entries.iter().filter(|e| e.reason == format!("job {} (import)", job.id)).collect();
    assert_eq!(charges.len(), 1, "charged exactly once");
    assert_eq!(-charges[0].delta, done.charged.unwrap());
    let balance = ledger_adds_up(&backends, ada).await;
    assert_eq!(balance, Hours::from_hours_f64(1.0).unwrap() - done.charged.unwrap());
}

async fn two_hundred_jobs_on_a_balance_for_fifty(database: DatabaseSettings) {
    let data = tempfile::tempdir().unwrap();
    let backends = backends(data.path(), &database).await;
    let reserve = Hours::from_millis_ceil(1000);
    let grant = Hours::from_micro(reserve.as_micro() * 50);
    let ada = user(&backends, "ada@example.com", grant).await;
    let mut jobs = Vec::new();
    for _ in 0..200 {
        jobs.push(import_job(&backends, ada, prices(20), reserve).await);
    }
    let owner = Principal::owner(ada);
    let submitted = futures::future::join_all(
        jobs.iter().map(|new| variosync_app::queue::submit(&backends, &owner, new)),
    )
    .await;
    let accepted: Vec<_> = submitted.iter().filter_map(|r| r.as_ref().ok()).collect();
    let refused = submitted
        .iter()
        .filter(|r| matches!(r, Err(variosync_store::Error::InsufficientHours)))
        .count();
    assert_eq!((accepted.len(), refused), (50, 150), "exactly what the balance covers");
    assert_eq!(ledger_adds_up(&backends, ada).await, Hours::from_micro(0));

    let _workers = [worker(data.path(), &database), worker(data.path(), &database)];
    let repo = backends.jobs();
    until("the workers run every accepted job", || async {
        let queued = repo.list(Access::System, Some(JobStatus::Queued), 500).await.unwrap();
        let running = repo.list(Access::System, Some(JobStatus::Running), 500).await.unwrap();
        queued.is_empty() && running.is_empty()
    })
    .await;
    let all = repo.list(Access::person(ada), None, 500).await.unwrap();
    assert_eq!(all.len(), 50);
    assert!(
        all.iter().all(|j| j.status == JobStatus::Succeeded),
        "{:?}",
        all.iter().map(|j| &j.error).collect::<Vec<_>>()
    );
    let charged: Hours = all.iter().map(|j| j.charged.unwrap()).sum();
    let balance = ledger_adds_up(&backends, ada).await;
    assert_eq!(balance, grant - charged);
}

#[tokio::test]
async fn a_worker_asked_to_stop_finishes_or_gives_back_its_job_and_exits_cleanly() {
    let database = DatabaseSettings::default();
    let data = tempfile::tempdir().unwrap();
    let backends = backends(data.path(), &database).await;
    let ada = user(&backends, "ada@example.com", Hours::from_hours_f64(1.0).unwrap()).await;
    let new = import_job(&backends, ada, prices(400_000), Hours::from_hours_f64(0.1).unwrap());
    let (job, _) =
        variosync_app::queue::submit(&backends, &Principal::owner(ada), &new.await).await.unwrap();
    let jobs = backends.jobs();
    let mut running = worker(data.path(), &database);
    until("the worker runs the job", || async {
        jobs.get(Access::System, job.id).await.unwrap().unwrap().status == JobStatus::Running
    })
    .await;
    let pid = running.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker did not stop within a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a clean exit: {status}");
    let after = jobs.get(Access::System, job.id).await.unwrap().unwrap();
    match after.status {
        JobStatus::Succeeded => assert_eq!(after.attempts, 1),
        JobStatus::Queued => assert_eq!(after.attempts, 0, "giving it back used no attempt"),
        other => panic!("the job was left {other:?}"),
    }
    ledger_adds_up(&backends, ada).await;
}

#[tokio::test]
async fn a_killed_workers_job_finishes_on_another_and_is_charged_once_on_sqlite() {
    killed_worker_job_finishes_elsewhere_charged_once(DatabaseSettings::default()).await;
}

#[tokio::test]
async fn a_killed_workers_job_finishes_on_another_and_is_charged_once_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else {
        return;
    };
    killed_worker_job_finishes_elsewhere_charged_once(database).await;
}

#[tokio::test]
async fn two_hundred_jobs_on_a_balance_for_fifty_on_sqlite() {
    two_hundred_jobs_on_a_balance_for_fifty(DatabaseSettings::default()).await;
}

#[tokio::test]
async fn two_hundred_jobs_on_a_balance_for_fifty_on_postgres_with_two_workers() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else {
        return;
    };
    two_hundred_jobs_on_a_balance_for_fifty(database).await;
}

use std::time::{Duration, Instant};
use variosync_domain::WorkspaceId;
use variosync_store::Owner;

use serde_json::json;
use variosync_domain::{Hours, JobId, UserId};
use variosync_store::jobs::{JobRepository, JobStatus, Lease, NewJob, Outcome};
use variosync_store::{Access, Database, Error, HourLedger};

use crate::backends::user;

fn hours(h: f64) -> Hours {
    Hours::from_hours_f64(h).unwrap()
}

fn job(reserve: f64, key: Option<&str>) -> NewJob {
    NewJob {
        kind: "import".to_owned(),
        payload: json!({ "upload_id": "x" }),
        max_attempts: 3,
        reserve: hours(reserve),
        idempotency_key: key.map(str::to_owned),
    }
}

async fn balance(db: &Database, user: UserId) -> Hours {
    HourLedger::new(db.clone())
        .balance(Access::person(user), WorkspaceId::personal(user))
        .await
        .unwrap()
}

/// The ledger's entries sum to the balance.
async fn ledger_adds_up(db: &Database, user: UserId) {
    let entries = HourLedger::new(db.clone())
        .entries(Access::person(user), WorkspaceId::personal(user), None, 1000)
        .await
        .unwrap();
    let sum: Hours = entries.iter().map(|e| e.delta).sum();
    assert_eq!(sum, balance(db, user).await);
}

/// Reaps until a lease has run out and its job is taken back; what that reap took. A lease of
/// a millisecond is over soon, but how soon the next reap sees it is up to the machine.
async fn reap_once_a_lease_runs_out(jobs: &JobRepository) -> Vec<JobId> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let taken = jobs.reap(Access::System).await.unwrap();
        if !taken.is_empty() {
            return taken;
        }
        assert!(Instant::now() < deadline, "no lease ran out within 30 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn jobs_conform(db: Database) {
    let jobs = JobRepository::new(db.clone());
    let ledger = HourLedger::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    ledger.apply(Access::System, Owner::personal(ada), hours(10.0), "grant", None).await.unwrap();
    ledger.apply(Access::System, Owner::personal(grace), hours(1.0), "grant", None).await.unwrap();

    // Submitting reserves hours in the same step; a repeated key submits once.
    let (first, created) = jobs
        .submit(Access::person(ada), WorkspaceId::personal(ada), &job(2.0, Some("import-1")))
        .await
        .unwrap();
    assert!(created);
    assert_eq!((first.status, first.attempts, first.reserved), (JobStatus::Queued, 0, hours(2.0)));
    assert_eq!(balance(&db, ada).await, hours(8.0));
    let (again, created) = jobs
        .submit(Access::person(ada), WorkspaceId::personal(ada), &job(2.0, Some("import-1")))
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(balance(&db, ada).await, hours(8.0), "nothing reserved twice");
    let refused = jobs
        .submit(Access::person(ada), WorkspaceId::personal(ada), &job(9.0, None))
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::InsufficientHours), "{refused}");
    assert_eq!(
        jobs.list(Access::person(ada), None, 100).await.unwrap().len(),
        1,
        "nothing written"
    );

    // A worker leases the job; only the lease holder's heartbeat and end count.
    let lease = Duration::from_secs(30);
    let claimed = jobs.claim(Access::System, "w1", lease).await.unwrap().unwrap();
    assert_eq!((claimed.id, claimed.status, claimed.attempts), (first.id, JobStatus::Running, 1));
    assert!(
        jobs.claim(Access::System, "w2", lease).await.unwrap().is_none(),
        "nothing else is queued"
    );
    let progress = Some((40.0, "reading"));
    assert_eq!(
        jobs.heartbeat(Access::System, first.id, "w1", lease, progress).await.unwrap(),
        Lease::Held { cancel_requested: false }
    );
    assert_eq!(
        jobs.heartbeat(Access::System, first.id, "w2", lease, None).await.unwrap(),
        Lease::Lost
    );
    let seen = jobs.get(Access::person(ada), first.id).await.unwrap().unwrap();
    assert_eq!((seen.progress, seen.message.as_str()), (40.0, "reading"));
    assert_eq!(jobs.get(Access::person(grace), first.id).await.unwrap(), None, "not grace's");

    // The end releases the reservation and charges the measured time, once.
    let done = Outcome::Succeeded { result: json!({ "rows": 3 }) };
    assert_eq!(
        jobs.finish(Access::System, first.id, "w2", &done, 1, hours(0.5)).await.unwrap(),
        None
    );
    let ended = jobs
        .finish(Access::System, first.id, "w1", &done, 1_800_000_000, hours(0.5))
        .await
        .unwrap();
    let ended = ended.unwrap();
    assert_eq!(
        (ended.status, ended.charged, ended.progress),
        (JobStatus::Succeeded, Some(hours(0.5)), 100.0)
    );
    assert_eq!(ended.result, Some(json!({ "rows": 3 })));
    assert_eq!(balance(&db, ada).await, hours(9.5));
    assert_eq!(
        jobs.finish(Access::System, first.id, "w1", &done, 1, hours(0.5)).await.unwrap(),
        None
    );
    assert_eq!(balance(&db, ada).await, hours(9.5), "charged once");

    // Fairness: with one of ada's jobs running, grace's one goes before ada's next ones.
    let mut adas = Vec::new();
    for _ in 0..3 {
        adas.push(
            jobs.submit(Access::person(ada), WorkspaceId::personal(ada), &job(1.0, None))
                .await
                .unwrap()
                .0,
        );
    }
    let running = jobs.claim(Access::System, "w1", lease).await.unwrap().unwrap();
    assert_eq!(running.id, adas[0].id, "the longest waiting first");
    let (graces, _) = jobs
        .submit(Access::person(grace), WorkspaceId::personal(grace), &job(0.5, None))
        .await
        .unwrap();
    let next = jobs.claim(Access::System, "w2", lease).await.unwrap().unwrap();
    assert_eq!(next.id, graces.id, "the user with no running job goes first");

    // A queued job cancels at once with its whole reservation back; a running one is
    // asked to stop, and its worker hears it.
    let before = balance(&db, ada).await;
    let cancelled = jobs.cancel(Access::person(ada), adas[2].id).await.unwrap().unwrap();
    assert_eq!((cancelled.status, cancelled.charged), (JobStatus::Cancelled, Some(hours(0.0))));
    assert_eq!(balance(&db, ada).await, before + hours(1.0));
    assert_eq!(jobs.cancel(Access::person(grace), adas[1].id).await.unwrap(), None, "not grace's");
    let asked = jobs.cancel(Access::person(ada), running.id).await.unwrap().unwrap();
    assert!(asked.cancel_requested);
    assert_eq!(asked.status, JobStatus::Running);
    assert_eq!(
        jobs.heartbeat(Access::System, running.id, "w1", lease, None).await.unwrap(),
        Lease::Held { cancel_requested: true }
    );
    let stopped =
        jobs.finish(Access::System, running.id, "w1", &Outcome::Cancelled, 1, hours(0.1)).await;
    assert_eq!(stopped.unwrap().unwrap().charged, Some(hours(0.1)), "what it used is charged");

    // A failure that is not the user's fault is refunded.
    let failed = Outcome::Failed { error: "the store went away".into(), refund: true };
    let ended =
        jobs.finish(Access::System, next.id, "w2", &failed, 5, hours(0.2)).await.unwrap().unwrap();
    assert_eq!((ended.status, ended.charged), (JobStatus::Failed, Some(hours(0.0))));
    assert_eq!(balance(&db, grace).await, hours(1.0));

    // A worker that stops giving back its job does not use up an attempt; one that dies
    // loses its lease, and the job is taken back.
    let taken = jobs.claim(Access::System, "w1", lease).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (adas[1].id, 1));
    assert!(
        jobs.requeue(Access::System, taken.id, "w1", chrono::Utc::now(), "stopping", false)
            .await
            .unwrap()
    );
    let taken = jobs.claim(Access::System, "w3", Duration::from_millis(1)).await.unwrap().unwrap();
    assert_eq!((taken.id, taken.attempts), (adas[1].id, 1), "the attempt was not counted");
    assert_eq!(reap_once_a_lease_runs_out(&jobs).await, [taken.id]);
    let back = jobs.get(Access::System, taken.id).await.unwrap().unwrap();
    assert_eq!((back.status, back.attempts), (JobStatus::Queued, 1));
    assert_eq!(
        jobs.finish(Access::System, taken.id, "w3", &done, 1, hours(0.1)).await.unwrap(),
        None
    );
    // After its last attempt, a job whose worker died fails, refunded.
    for attempt in 2..=3 {
        let again =
            jobs.claim(Access::System, "w4", Duration::from_millis(1)).await.unwrap().unwrap();
        assert_eq!(again.attempts, attempt);
        assert_eq!(reap_once_a_lease_runs_out(&jobs).await, [again.id]);
    }
    let given_up = jobs.get(Access::System, taken.id).await.unwrap().unwrap();
    assert_eq!((given_up.status, given_up.charged), (JobStatus::Failed, Some(hours(0.0))));

    // Usage by day and kind, and a ledger that adds up.
    let usage = jobs
        .usage(
            Access::person(ada),
            WorkspaceId::personal(ada),
            chrono::Utc::now() - chrono::Duration::days(1),
        )
        .await
        .unwrap();
    assert_eq!(usage.len(), 1);
    assert_eq!((usage[0].kind.as_str(), usage[0].hours), ("import", hours(0.6)));
    assert_eq!(usage[0].jobs, 4, "every ended job, refunded ones at zero");
    ledger_adds_up(&db, ada).await;
    ledger_adds_up(&db, grace).await;
    assert_eq!(balance(&db, ada).await, hours(9.4));
    assert_eq!(jobs.list(Access::System, Some(JobStatus::Queued), 10).await.unwrap().len(), 0);
}

crate::on_each_database!(jobs_conform, jobs_conform_on_sqlite, jobs_conform_on_postgres);

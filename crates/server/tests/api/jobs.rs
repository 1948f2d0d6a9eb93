//! Jobs over HTTP: completing a large upload submits an `import` job with its hours
//! reserved (402 when the balance cannot cover it); workers inside the server run it,
//! report it live over server-sent events, and charge it by the CPU time it took; it can be
//! cancelled while queued; admins see every job. On PostgreSQL + Redis + S3 the job is
//! submitted on one replica and run by whichever replica's worker takes it.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_stream::StreamExt;
use variosync_domain::WorkspaceId;
use variosync_domain::{Hours, UserId};
use variosync_store::Access;
use variosync_store::Owner;
use variosync_store::testing::{self, S3TestServer};

use crate::helpers::{TestApp, spawn_app_with};

fn stocks() -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    std::fs::read(path).unwrap()
}

pub(crate) async fn json_of(
    response: reqwest::Response,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (status, headers, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Uploads `file` in one chunk and answers the upload's URL.
async fn uploaded(app: &TestApp, key: &str, file: &[u8]) -> String {
    let (status, _, body) = json_of(
        app.with_key(Method::POST, "/api/v1/uploads", key)
            .json(&json!({ "file_name": "stocks_daily.csv", "size": file.len() }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["url"].as_str().unwrap().to_owned();
    let response = app
        .with_key(Method::PATCH, &url, key)
        .header("upload-offset", "0")
        .body(file.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    url
}

/// Reads server-sent `job` events until the job `id` reaches a final state; answers it.
pub(crate) async fn until_ended(events: reqwest::Response, id: &str) -> (Value, Vec<Value>) {
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();
    let mut seen = Vec::new();
    let wait = tokio::time::timeout(std::time::Duration::from_secs(120), async {
        while let Some(chunk) = stream.next().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            while let Some(at) = buffer.find("\n\n") {
                let event: String = buffer.drain(..at + 2).collect();
                let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                    continue;
                };
                let job: Value = serde_json::from_str(data.trim()).unwrap();
                if job["id"] != id {
                    continue;
                }
                seen.push(job.clone());
                if ["succeeded", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
                    return job;
                }
            }
        }
        panic!("the event stream ended");
    });
    let job = wait.await.expect("the job ends within two minutes");
    (job, seen)
}

async fn balance(app: &TestApp, user: UserId) -> Hours {
    app.backends.ledger().balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap()
}

/// A large upload becomes a metered import job, from submission to charge.
async fn import_job_round_trip(submitter: &TestApp, runner_events: &TestApp) {
    let browser = submitter.sign_up("ada@example.com").await;
    let key = submitter.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let file = stocks();
    let url = uploaded(submitter, &key, &file).await;

    // No hours: refused with the reservation and the balance, and the upload stays.
    let (status, _, body) = json_of(
        submitter.with_key(Method::POST, &format!("{url}/complete"), &key).send().await.unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("insufficient_hours"))
    );
    assert!(body["message"].as_str().unwrap().contains("the balance is 0"), "{body}");
    let response = submitter.with_key(Method::GET, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the upload is still there");

    let grant = Hours::from_hours_f64(1.0).unwrap();
    submitter
        .backends
        .ledger()
        .apply(Access::System, Owner::personal(user), grant, "test grant", None)
        .await
        .unwrap();
    let events =
        runner_events.with_key(Method::GET, "/api/v1/jobs/events", &key).send().await.unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(events.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let complete = || {
        submitter
            .with_key(Method::POST, &format!("{url}/complete?name=Stocks"), &key)
            .header("idempotency-key", "complete-stocks-1")
    };
    let (status, headers, job) = json_of(complete().send().await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/jobs/{id}").as_str());
    assert_eq!(job["kind"], "import");
    assert!(job["reserved"].as_f64().unwrap() > 0.0);
    let (status, _, again) = json_of(complete().send().await.unwrap()).await;
    assert_eq!((status, &again["id"]), (StatusCode::ACCEPTED, &job["id"]), "the same job again");

    let (ended, seen) = until_ended(events, &id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert!(seen.iter().any(|j| j["status"] == "running"), "its start was told live: {seen:?}");
    assert_eq!(ended["result"]["version"]["row_count"], 16_194);
    assert_eq!(ended["result"]["dataset"]["name"], "Stocks");
    let dataset = ended["result"]["dataset"]["id"].as_str().unwrap();
    let response = submitter
        .with_key(Method::GET, &format!("/api/v1/datasets/{dataset}"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = submitter.with_key(Method::GET, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "the upload became the dataset");

    // Charged its measured compute (at least the one-second minimum), once; the rest of
    // the reservation is back, and the ledger adds up to the balance.
    let (_, _, job) = json_of(
        submitter.with_key(Method::GET, &format!("/api/v1/jobs/{id}"), &key).send().await.unwrap(),
    )
    .await;
    let charged = job["charged"].as_f64().unwrap();
    assert!(charged >= 1.0 / 3600.0 - 1e-9, "{job}");
    assert!(job["cpu_micros"].as_u64().unwrap() > 0, "{job}");
    let after = balance(submitter, user).await;
    assert!((after.as_hours_f64() - (1.0 - charged)).abs() < 1e-6, "{after} after {charged}");
    let entries = submitter
        .backends
        .ledger()
        .entries(Access::person(user), WorkspaceId::personal(user), None, 100)
        .await;
    let entries = entries.unwrap();
    assert_eq!(entries.iter().map(|e| e.delta).sum::<Hours>(), after);
    let charges = entries.iter().filter(|e| e.reason == format!("job {id} (import)")).count();
    assert_eq!(charges, 1, "charged once");
    let (status, _, usage) =
        json_of(submitter.with_key(Method::GET, "/api/v1/usage", &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usage["days"][0]["kind"], "import");
    assert_eq!(usage["days"][0]["jobs"], 1);
    assert!((usage["total"].as_f64().unwrap() - charged).abs() < 1e-9);
    let (_, _, list) =
        json_of(submitter.with_key(Method::GET, "/api/v1/jobs", &key).send().await.unwrap()).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Someone else sees and cancels nothing of it.
    let other = submitter.sign_up("grace@example.com").await;
    let grace = submitter.create_key(&other, "write").await.0;
    for (method, path) in [
        (Method::GET, format!("/api/v1/jobs/{id}")),
        (Method::POST, format!("/api/v1/jobs/{id}/cancel")),
    ] {
        let response = submitter.with_key(method, &path, &grace).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response =
        submitter.with_key(Method::GET, "/api/v1/admin/jobs", &grace).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

fn small_inline(settings: &mut variosync_server::Settings) {
    settings.jobs.inline_import_bytes = 1024;
    settings.accounts.free_grant_hours = 0.0;
}

#[tokio::test]
async fn a_large_upload_is_imported_by_a_metered_job_told_live() {
    let app = spawn_app_with(small_inline).await;
    import_job_round_trip(&app, &app).await;
}

#[tokio::test]
async fn a_job_submitted_on_one_replica_runs_on_any_on_postgres_redis_and_s3() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    let Some(redis) = testing::fresh_redis() else {
        return;
    };
    let s3 = S3TestServer::start().await;
    let configure = |workers: usize| {
        let (database, redis, s3) = (database.clone(), redis.clone(), s3.settings.clone());
        move |settings: &mut variosync_server::Settings| {
            small_inline(settings);
            settings.workers = workers;
            settings.database = database;
            settings.redis = redis;
            settings.s3 = s3;
        }
    };
    // The replica that takes the request runs no workers; the other's run the job, and its
    // events reach the browser through Redis.
    let web = spawn_app_with(configure(0)).await;
    let worker = spawn_app_with(configure(2)).await;
    import_job_round_trip(&web, &web).await;
    drop(worker);
}

#[tokio::test]
async fn a_queued_job_cancels_with_its_reservation_back_and_admins_see_every_job() {
    // No workers: the job stays queued.
    let app = spawn_app_with(|settings| {
        small_inline(settings);
        settings.workers = 0;
    })
    .await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let grant = Hours::from_hours_f64(1.0).unwrap();
    app.backends
        .ledger()
        .apply(Access::System, Owner::personal(user), grant, "test grant", None)
        .await
        .unwrap();
    let url = uploaded(&app, &key, &stocks()).await;
    let (status, _, job) =
        json_of(app.with_key(Method::POST, &format!("{url}/complete"), &key).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(balance(&app, user).await < grant, "the reservation is held");
    let (status, _, cancelled) = json_of(
        app.with_key(Method::POST, &format!("/api/v1/jobs/{id}/cancel"), &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &cancelled["status"]),
        (StatusCode::OK, &json!("cancelled")),
        "{cancelled}"
    );
    assert_eq!(balance(&app, user).await, grant, "all of it given back");
    let (_, _, filtered) = json_of(
        app.with_key(Method::GET, "/api/v1/jobs?status=cancelled", &key).send().await.unwrap(),
    )
    .await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    let (status, _, bad) =
        json_of(app.with_key(Method::GET, "/api/v1/jobs?status=done", &key).send().await.unwrap())
            .await;
    assert_eq!((status, bad["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_status")));

    // An admin sees it, and can run it again for its owner (with a new reservation).
    let admin = app.sign_up("root@example.com").await;
    let admin_id: UserId = admin.user_id.parse().unwrap();
    app.backends
        .users()
        .set_role(Access::System, admin_id, variosync_domain::Role::Admin)
        .await
        .unwrap();
    let admin_key = app.create_key(&admin, "admin").await.0;
    let (status, _, all) =
        json_of(app.with_key(Method::GET, "/api/v1/admin/jobs", &admin_key).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all[0]["id"], id.as_str());
    let (status, _, retried) = json_of(
        app.with_key(Method::POST, &format!("/api/v1/admin/jobs/{id}/retry"), &admin_key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{retried}");
    assert_ne!(retried["id"], id.as_str());
    assert_eq!(retried["user_id"], user.to_string().as_str());
    let (_, _, audit) =
        json_of(app.with_key(Method::GET, "/api/v1/audit", &key).send().await.unwrap()).await;
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["job_submitted", "job_cancelled", "job_retried"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
}

/// Minute bars of one series, as CSV.
fn minute_bars(rows: usize) -> Vec<u8> {
    let start = chrono::NaiveDate::from_ymd_opt(2015, 1, 2).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let mut csv = String::from("time,close,volume\n");
    for i in 0..rows {
        let at = start + chrono::Duration::minutes(i as i64);
        csv.push_str(&format!("{},{}.25,{}\n", at.format("%Y-%m-%d %H:%M:%S"), i % 977, i % 500));
    }
    csv.into_bytes()
}

#[tokio::test]
async fn a_running_import_cancelled_stops_is_charged_what_it_used_and_keeps_its_upload() {
    let app = spawn_app_with(|settings| {
        small_inline(settings);
        settings.jobs.lease_secs = 3;
    })
    .await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let grant = Hours::from_hours_f64(1.0).unwrap();
    app.backends
        .ledger()
        .apply(Access::System, Owner::personal(user), grant, "test grant", None)
        .await
        .unwrap();
    let url = uploaded(&app, &key, &minute_bars(2_000_000)).await;
    let events = app.with_key(Method::GET, "/api/v1/jobs/events", &key).send().await.unwrap();
    let (status, _, job) =
        json_of(app.with_key(Method::POST, &format!("{url}/complete"), &key).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();

    // Once it runs, cancel it.
    let mut stream = events.bytes_stream();
    let mut buffer = String::new();
    'running: while let Some(chunk) = stream.next().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(at) = buffer.find("\n\n") {
            let event: String = buffer.drain(..at + 2).collect();
            if event.contains("\"status\":\"running\"") && event.contains(&id) {
                break 'running;
            }
        }
    }
    let (status, _, asked) = json_of(
        app.with_key(Method::POST, &format!("/api/v1/jobs/{id}/cancel"), &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(asked["cancel_requested"], true, "{asked}");
    let events = app.with_key(Method::GET, "/api/v1/jobs/events", &key).send().await.unwrap();
    let (_, _, now) = json_of(
        app.with_key(Method::GET, &format!("/api/v1/jobs/{id}"), &key).send().await.unwrap(),
    )
    .await;
    let ended = if now["status"] == "running" { until_ended(events, &id).await.0 } else { now };
    assert_eq!(ended["status"], "cancelled", "{ended}");
    let charged = ended["charged"].as_f64().unwrap();
    assert!(charged > 0.0, "what it used is charged: {ended}");
    let after = balance(&app, user).await.as_hours_f64();
    assert!((after - (1.0 - charged)).abs() < 1e-6, "the rest of the reservation is back");
    let response = app.with_key(Method::GET, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the upload stays, to be completed again");
    let (_, _, datasets) =
        json_of(app.with_key(Method::GET, "/api/v1/datasets", &key).send().await.unwrap()).await;
    assert_eq!(datasets.as_array().unwrap().len(), 0, "no dataset was made");
}

#[tokio::test]
async fn an_upload_whose_completion_was_abandoned_can_be_completed_again_after_one_lease() {
    let app = spawn_app_with(|settings| {
        settings.jobs.inline_import_bytes = 1 << 30;
        settings.jobs.lease_secs = 3;
    })
    .await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let url = uploaded(&app, &key, &minute_bars(2_000_000)).await;
    let complete = || app.with_key(Method::POST, &format!("{url}/complete"), &key);

    // The client goes away while the upload is being imported where it was asked: the
    // request's work stops where it stands, as when its process is killed, and nothing
    // gives the upload back.
    let abandoned = complete().timeout(std::time::Duration::from_millis(700)).send().await;
    assert!(abandoned.as_ref().is_err_and(|e| e.is_timeout()), "{abandoned:?}");
    let (status, _, body) = json_of(complete().send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("upload_completing")),
        "{body}"
    );

    // Once its claim's lease has run out, the upload is free to be completed again.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let (status, _, body) = json_of(complete().send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["row_count"], 2_000_000, "{body}");
}

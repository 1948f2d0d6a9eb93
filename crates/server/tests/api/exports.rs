//! Export jobs over HTTP: an export asked for is checked whole, written by a metered job
//! into the object store, and downloaded through a signed, expiring link by its workspace
//! only; files are swept at their expiry. On PostgreSQL and S3 the link is presigned by S3.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use variosync_domain::{Hours, UserId};
use variosync_store::testing::{self, S3TestServer};
use variosync_store::{Access, Owner};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::jobs::json_of;

fn stocks() -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    std::fs::read(path).unwrap()
}

/// A person with an hour to spend, a write key and the stocks dataset: (key, dataset id).
async fn person_with_stocks(app: &TestApp, email: &str) -> (String, String) {
    let browser = app.sign_up(email).await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let grant = Hours::from_hours_f64(1.0).unwrap();
    app.backends
        .ledger()
        .apply(Access::System, Owner::personal(user), grant, "test grant", None)
        .await
        .unwrap();
    let (status, _, imported) = json_of(
        app.with_key(Method::POST, "/api/v1/datasets?name=Stocks%20daily", &key)
            .header("content-type", "text/csv")
            .body(stocks())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    (key, imported["dataset"]["id"].as_str().unwrap().to_owned())
}

/// The export at `url` once its job has ended.
async fn until_finished(app: &TestApp, key: &str, url: &str) -> Value {
    let started = Instant::now();
    loop {
        let (status, _, export) =
            json_of(app.with_key(Method::GET, url, key).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{export}");
        if export["status"] != "pending" {
            return export;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "the export never ended: {export}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_export_job_writes_a_file_that_only_its_workspace_downloads_through_a_signed_link() {
    let app = spawn_app().await;
    let (key, dataset) = person_with_stocks(&app, "ada@example.com").await;
    let post = |body: Value| app.with_key(Method::POST, "/api/v1/exports", &key).json(&body).send();

    // What the dataset cannot serve is refused before anything is recorded.
    for (body, status, code) in [
        (
            json!({ "dataset_id": dataset, "format": "xml" }),
            StatusCode::BAD_REQUEST,
            "invalid_export",
        ),
        (
            json!({ "dataset_id": dataset, "series": ["TSLA"] }),
            StatusCode::NOT_FOUND,
            "series_not_found",
        ),
        (
            json!({ "dataset_id": dataset, "columns": ["vwap"] }),
            StatusCode::NOT_FOUND,
            "column_not_found",
        ),
        (
            json!({ "dataset_id": dataset, "from": "2020-01-02", "to": "2020-01-01" }),
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
    ] {
        let (got, _, answer) = json_of(post(body.clone()).await.unwrap()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let (status, _, listed) =
        json_of(app.with_key(Method::GET, "/api/v1/exports", &key).send().await.unwrap()).await;
    assert_eq!((status, listed), (StatusCode::OK, json!([])));

    // Two series, Excel-friendly CSV: recorded pending, then written by its job.
    let body = json!({
        "dataset_id": dataset, "series": ["AAPL", "NVDA"], "columns": ["close"],
        "from": "2020-01-01", "format": "csv", "decimal": "comma", "compression": "gzip",
    });
    let (status, headers, pending) = json_of(post(body).await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["file_name"], "Stocks_daily.csv.gz");
    assert!(pending["download_url"].is_null());
    let url = headers["location"].to_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/v1/exports/{}", pending["id"].as_str().unwrap()));
    let ready = until_finished(&app, &key, &url).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["bytes"].as_u64().unwrap() > 0);
    let job = ready["job_id"].as_str().unwrap();
    let (_, _, job) = json_of(
        app.with_key(Method::GET, &format!("/api/v1/jobs/{job}"), &key).send().await.unwrap(),
    )
    .await;
    assert_eq!((job["kind"].as_str(), job["status"].as_str()), (Some("export"), Some("succeeded")));
    assert!(job["charged"].as_f64().unwrap() > 0.0, "metered: {job}");

    // The link downloads the file: the same bytes the streamed export writes.
    let link = ready["download_url"].as_str().unwrap().to_owned();
    let response = app.with_key(Method::GET, &link, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"Stocks_daily.csv.gz\""
    );
    let file = response.bytes().await.unwrap();
    assert_eq!(file.len() as u64, ready["bytes"].as_u64().unwrap());
    let streamed = app
        .with_key(
            Method::GET,
            &format!(
                "/api/v1/datasets/{dataset}/export?series=AAPL,NVDA&columns=close&from=2020-01-01\
                 &decimal=comma"
            ),
            &key,
        )
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut unpacked = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&file[..]), &mut unpacked)
        .unwrap();
    assert_eq!(unpacked, streamed.to_vec());
    let text = String::from_utf8(unpacked).unwrap();
    assert!(text.starts_with("series_id;ts;close\nAAPL;2020-01-02T00:00:00Z;"), "{text:.80}");

    // Another person: the export is not found, by id or by link.
    let (other, _) = person_with_stocks(&app, "eve@example.com").await;
    let response = app.with_key(Method::GET, &link, &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.with_key(Method::GET, &url, &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.with_key(Method::DELETE, &url, &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // A tampered link is forbidden: another time, or another signature.
    let (path, query) = link.split_once('?').unwrap();
    let expires: i64 =
        query.split('&').find_map(|p| p.strip_prefix("expires=")).unwrap().parse().unwrap();
    let signature = query.split('&').find_map(|p| p.strip_prefix("signature=")).unwrap();
    let later = format!("{path}?expires={}&signature={signature}", expires + 3600);
    let (status, _, answer) =
        json_of(app.with_key(Method::GET, &later, &key).send().await.unwrap()).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("invalid_signature"))
    );
    let mut forged = signature.to_owned();
    forged.replace_range(0..1, if forged.starts_with('0') { "1" } else { "0" });
    let forged = format!("{path}?expires={expires}&signature={forged}");
    let response = app.with_key(Method::GET, &forged, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // A link signed for a time gone by is gone.
    let secret = app
        .backends
        .server_secrets()
        .get_or_create(variosync_app::exports::LINK_SECRET, String::new)
        .await
        .unwrap();
    let id: variosync_domain::ExportId = ready["id"].as_str().unwrap().parse().unwrap();
    let past = chrono::Utc::now().timestamp() - 1;
    let signature = variosync_app::exports::link_signature(&secret, id, past);
    let expired = format!("{path}?expires={past}&signature={signature}");
    let (status, _, answer) =
        json_of(app.with_key(Method::GET, &expired, &key).send().await.unwrap()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::GONE, Some("export_expired")));

    // Listed, then deleted with its file.
    let (_, _, listed) =
        json_of(app.with_key(Method::GET, "/api/v1/exports", &key).send().await.unwrap()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], ready["id"]);
    let response = app.with_key(Method::DELETE, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.with_key(Method::GET, &link, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let objects = app.data_dir.path().join("objects");
    let left: Vec<_> = walk(&objects).into_iter().filter(|p| p.contains("/exports/")).collect();
    assert!(left.is_empty(), "the file went with the export: {left:?}");
}

fn walk(folder: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir(folder) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                found.extend(walk(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test]
async fn expired_exports_are_swept_with_their_files() {
    let app = spawn_app_with(|settings| {
        settings.jobs.export_expiry_secs = 3;
        settings.jobs.sweep_secs = 1;
    })
    .await;
    let (key, dataset) = person_with_stocks(&app, "ada@example.com").await;
    let post = |body: Value| app.with_key(Method::POST, "/api/v1/exports", &key).json(&body).send();

    // An Excel workbook with times as epoch microseconds.
    let body = json!({ "dataset_id": dataset, "format": "xlsx", "time": "us", "series": ["AAPL"] });
    let (status, headers, _) = json_of(post(body).await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let url = headers["location"].to_str().unwrap().to_owned();
    let ready = until_finished(&app, &key, &url).await;
    assert_eq!(ready["status"], "ready", "{ready}");

    // Swept at its expiry, with its file.
    let started = Instant::now();
    loop {
        let response = app.with_key(Method::GET, &url, &key).send().await.unwrap();
        if response.status() == StatusCode::NOT_FOUND {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the export was never swept");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let objects = app.data_dir.path().join("objects");
    let left: Vec<_> = walk(&objects).into_iter().filter(|p| p.contains("/exports/")).collect();
    assert!(left.is_empty(), "the file was swept with the export: {left:?}");
}

#[tokio::test]
async fn on_postgresql_and_s3_an_export_downloads_from_a_presigned_url() {
    let Some(database) = testing::fresh_postgres().await else { return };
    let s3 = S3TestServer::start().await;
    let app = spawn_app_with(|settings| {
        settings.database = database;
        settings.s3 = s3.settings.clone();
    })
    .await;
    let (key, dataset) = person_with_stocks(&app, "ada@example.com").await;
    let body = json!({ "dataset_id": dataset, "format": "parquet", "series": ["NVDA"] });
    let (status, headers, pending) = json_of(
        app.with_key(Method::POST, "/api/v1/exports", &key).json(&body).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{pending}");
    let url = headers["location"].to_str().unwrap().to_owned();
    let ready = until_finished(&app, &key, &url).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    let link = ready["download_url"].as_str().unwrap();
    assert!(link.starts_with(s3.settings.endpoint.as_deref().unwrap()), "{link}");
    assert!(link.contains("X-Amz-Signature="), "{link}");
    // Fetched without credentials of ours: the URL carries its own.
    let response = reqwest::get(link).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let file = response.bytes().await.unwrap();
    assert_eq!(file.len() as u64, ready["bytes"].as_u64().unwrap());
    assert_eq!(&file[..4], b"PAR1");
    let mut forged = link.to_owned();
    let at = forged.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let flipped = if &forged[at..at + 1] == "0" { "1" } else { "0" };
    forged.replace_range(at..at + 1, flipped);
    let response = reqwest::get(&forged).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "S3 refuses a tampered URL");
}

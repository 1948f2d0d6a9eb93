//! Datasets over HTTP: upload a real file, read it back through windows, candles and rows,
//! change and delete it, on the embedded backends and on PostgreSQL + Redis + S3.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use variosync_domain::WorkspaceId;
use variosync_store::testing::{self, S3TestServer};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn shared(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn writer_key(app: &TestApp, email: &str) -> String {
    let browser = app.sign_up(email).await;
    app.create_key(&browser, "write").await.0
}

/// The whole life of a dataset made from the real six-stock file.
async fn stocks_round_trip(app: &TestApp) {
    let key = writer_key(app, "ada@example.com").await;
    let response = app
        .with_key(Method::POST, "/api/v1/datasets?name=Stocks", &key)
        .header("content-type", "text/csv")
        .body(shared("stocks_daily.csv"))
        .send()
        .await
        .unwrap();
    let (status, imported) = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let id = imported["dataset"]["id"].as_str().unwrap().to_owned();
    let version = &imported["version"];
    assert_eq!(version["row_count"], 16194);
    assert_eq!(version["series"].as_array().unwrap().len(), 6);
    assert_eq!(version["time_from"], "2013-01-02T00:00:00Z");
    let profile = &version["profile"];
    let aapl = profile["series"].as_array().unwrap().iter().find(|s| s["name"] == "AAPL").unwrap();
    assert_eq!(aapl["frequency_label"], "business day");
    let close =
        profile["columns"].as_array().unwrap().iter().find(|c| c["name"] == "close").unwrap();
    assert_eq!((close["count"].as_u64(), close["nulls"].as_u64()), (Some(16194), Some(0)));
    assert!(close["min"].as_f64().unwrap() > 0.0 && close["std"].as_f64().unwrap() > 0.0);
    assert_eq!(imported["rejects"]["count"], 0);

    let (status, list) =
        json(app.with_key(Method::GET, "/api/v1/datasets", &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);

    // A chart window: at most 100 points per column, the first and last rows kept.
    let window =
        format!("/api/v1/datasets/{id}/series/AAPL/window?points=100&columns=close,volume");
    let (status, body) = json(app.with_key(Method::GET, &window, &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["rows"], 2699);
    assert_eq!(body["downsampled"], true);
    let closes = &body["columns"][0];
    assert_eq!(closes["name"], "close");
    assert_eq!(closes["ts"].as_array().unwrap().len(), 100);
    assert_eq!(closes["ts"][0], 1_357_084_800_000_000i64, "2013-01-02 in microseconds");
    // A zoomed window in milliseconds and RFC 3339.
    let zoom = format!(
        "/api/v1/datasets/{id}/series/AAPL/window?from=2023-01-01T00:00:00Z&to=1673222400000&columns=close"
    );
    let (_, body) = json(app.with_key(Method::GET, &zoom, &key).send().await.unwrap()).await;
    assert_eq!(body["rows"], 5, "2023-01-03 to 2023-01-06, and 2023-01-09 at midnight");
    let candles = format!("/api/v1/datasets/{id}/series/AMZN/window?candles=true&points=20");
    let (status, body) =
        json(app.with_key(Method::GET, &candles, &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let candles = body["candles"].as_array().unwrap();
    assert!(!candles.is_empty() && candles.len() <= 20);
    assert!(candles.iter().all(|c| c["high"].as_f64() >= c["low"].as_f64()));

    let monthly = format!(
        "/api/v1/datasets/{id}/series/AAPL/resample?interval=1mo&from=2013-01-01T00:00:00Z&to=2013-03-31T00:00:00Z&columns=close,volume:sum,high:max"
    );
    let (status, body) =
        json(app.with_key(Method::GET, &monthly, &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ts"].as_array().unwrap().len(), 3, "January to March");
    assert_eq!(body["columns"][0]["aggregation"], "last");
    assert_eq!(body["columns"][1]["aggregation"], "sum");
    let bad = format!("/api/v1/datasets/{id}/series/AAPL/resample?interval=1fortnight");
    let (status, body) = json(app.with_key(Method::GET, &bad, &key).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_query")));

    let rows = format!("/api/v1/datasets/{id}/rows?series=NVDA&offset=10&limit=5");
    let (status, body) = json(app.with_key(Method::GET, &rows, &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["columns"][0], "series_id");
    assert_eq!(body["rows"].as_array().unwrap().len(), 5);
    assert_eq!(body["rows"][0][0], "NVDA");
    assert!(body["total"].as_u64().unwrap() > 2000);

    // Rename and tag; then the audit log shows the import and the change.
    let (status, body) = json(
        app.with_key(Method::PATCH, &format!("/api/v1/datasets/{id}"), &key)
            .json(&serde_json::json!({ "name": "Big six", "tags": ["stocks", "daily"] }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["name"].as_str(), body["tags"][1].as_str()), (Some("Big six"), Some("daily")));
    let (_, audit) =
        json(app.with_key(Method::GET, "/api/v1/audit", &key).send().await.unwrap()).await;
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.contains(&"dataset_imported") && actions.contains(&"dataset_updated"),
        "{actions:?}"
    );

    // Someone else sees nothing of it.
    let other = writer_key(app, "eve@example.com").await;
    let response =
        app.with_key(Method::GET, &format!("/api/v1/datasets/{id}"), &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app.with_key(Method::GET, &window, &other).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let response =
        app.with_key(Method::DELETE, &format!("/api/v1/datasets/{id}"), &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response =
        app.with_key(Method::GET, &format!("/api/v1/datasets/{id}"), &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let user: variosync_domain::UserId =
        imported["dataset"]["user_id"].as_str().unwrap().parse().unwrap();
    let left = app
        .backends
        .objects
        .list(&variosync_store::ObjectKey::workspace_prefix(WorkspaceId::personal(user)))
        .await
        .unwrap();
    assert!(left.is_empty(), "the objects went with the dataset: {left:?}");
}

#[tokio::test]
async fn a_real_file_becomes_a_dataset_that_charts_pages_changes_and_deletes() {
    let app = spawn_app().await;
    stocks_round_trip(&app).await;
}

#[tokio::test]
async fn the_same_on_postgres_redis_and_s3() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    let Some(redis) = testing::fresh_redis() else {
        return;
    };
    let s3 = S3TestServer::start().await;
    let app = spawn_app_with(|settings| {
        settings.database = database;
        settings.redis = redis;
        settings.s3 = s3.settings.clone();
    })
    .await;
    stocks_round_trip(&app).await;
}

#[tokio::test]
async fn a_multipart_upload_in_lenient_mode_sets_bad_rows_aside_for_download() {
    let app = spawn_app().await;
    let key = writer_key(&app, "ada@example.com").await;
    let mut file = String::from("Date;Close\n");
    for day in 1..=20 {
        let close = if day == 2 { "oops".to_owned() } else { format!("1.234,{day}") };
        file.push_str(&format!("{day:02}.01.2024;{close}\n"));
    }
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(file.as_bytes().to_vec()).file_name("dax.csv"),
    );
    let (status, body) = json(
        app.with_key(Method::POST, "/api/v1/datasets?mode=lenient", &key)
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dataset"]["name"], "dax", "named after the file");
    assert_eq!(body["version"]["series"][0], "dax");
    assert_eq!(body["version"]["row_count"], 19);
    assert_eq!(body["rejects"]["count"], 1);
    assert_eq!(body["rejects"]["first"][0]["line"], 3);
    let download = body["rejects"]["download"].as_str().unwrap();
    let response = app.with_key(Method::GET, download, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert_eq!(csv, "line,column,value,expected\n3,Close,oops,a number (with a decimal comma)\n");
}

#[tokio::test]
async fn compressed_json_uploads_are_recognised_by_their_content() {
    use std::io::Write;
    let app = spawn_app().await;
    let key = writer_key(&app, "ada@example.com").await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gzip.write_all(&shared("original_financial_sample.json")).unwrap();
    let (status, body) = json(
        app.with_key(Method::POST, "/api/v1/datasets?name=quotes", &key)
            .body(gzip.finish().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["series"], serde_json::json!(["AAPL", "GOOGL"]));
    let (status, body) = json(
        app.with_key(Method::POST, "/api/v1/datasets", &key)
            .body(b"PAR1 not really parquet".to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_format"))
    );
}

#[tokio::test]
async fn a_workbook_uploads_its_first_sheet_or_the_one_the_mapping_names() {
    let app = spawn_app().await;
    let key = writer_key(&app, "ada@example.com").await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/fixtures/stocks.xlsx");
    let workbook = std::fs::read(path).unwrap();
    let upload = |query: &str| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(workbook.clone()).file_name("prices.xlsx"),
        );
        app.with_key(Method::POST, &format!("/api/v1/datasets{query}"), &key).multipart(form)
    };
    let (status, body) = json(upload("").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dataset"]["name"], "prices");
    assert_eq!(body["version"]["series"], serde_json::json!(["META"]));
    assert_eq!(body["version"]["row_count"], 39);
    let warnings = body["warnings"].to_string();
    assert!(warnings.contains("other sheets: hourly, bad"), "{warnings}");

    let mapping = "?mapping=%7B%22sheet%22%3A%22hourly%22%7D&tz=Europe%2FOslo";
    let (status, body) = json(upload(mapping).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["version"]["row_count"], 24);
    assert_eq!(body["version"]["time_from"], "2024-03-01T08:30:00Z", "{body}");

    let mapping = "?mapping=%7B%22sheet%22%3A%22summary%22%7D";
    let (status, body) = json(upload(mapping).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_mapping")));
    assert!(
        body["message"].as_str().unwrap().contains("its sheets: prices, hourly, bad"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_uploads_get_specific_errors_and_leave_nothing_behind() {
    let app = spawn_app_with(|settings| settings.http.upload_limit_bytes = 64 * 1024).await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let upload = |body: Vec<u8>, query: &str| {
        app.with_key(Method::POST, &format!("/api/v1/datasets{query}"), &key).body(body).send()
    };

    let mut bad = String::from("date,value\n");
    for day in 1..=20 {
        bad.push_str(&format!("2024-01-{day:02},{}\n", if day == 3 { "x" } else { "1" }));
    }
    let (status, body) = json(upload(bad.into_bytes(), "").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "unreadable_file");
    assert_eq!(body["message"], "line 4, column `value`: \"x\" is not a whole number");

    let (status, body) = json(upload(vec![0, 159, 146, 150, 7, 0, 1], "").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "binary garbage: {body}");

    let (status, body) = json(upload(Vec::new(), "").await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_upload")));

    let big = format!("date,value\n{}", "2024-01-01,1\n".repeat(10_000));
    let (status, body) = json(upload(big.into_bytes(), "").await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));

    let (status, body) = json(upload(b"a,b\n".to_vec(), "?mode=sloppy").await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_mode")));

    let duplicated = b"date,value\n2024-01-01,1\n2024-01-01,2\n".to_vec();
    let (status, body) = json(upload(duplicated, "?duplicates=fail").await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("duplicate_rows")));

    let mapping = r#"{"time":"when","series":"none"}"#;
    let query =
        format!("?mapping={}", mapping.replace('"', "%22").replace('{', "%7B").replace('}', "%7D"));
    let (status, body) =
        json(upload(b"date,value\n2024-01-01,1\n".to_vec(), &query).await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_mapping")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("\"when\""), "{body}");
    let (status, body) =
        json(upload(b"a\n".to_vec(), "?mapping=%7Bnot%20json").await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_mapping")));

    let reader = app.create_key(&browser, "read").await.0;
    let response = app
        .with_key(Method::POST, "/api/v1/datasets", &reader)
        .body(b"date,value\n2024-01-01,1\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "a read key cannot upload");

    let (_, list) =
        json(app.with_key(Method::GET, "/api/v1/datasets", &key).send().await.unwrap()).await;
    assert!(list.as_array().unwrap().is_empty(), "no failed upload made a dataset");
    let leftovers = app.scratch_files();
    assert!(leftovers.is_empty(), "no upload or work file is left: {leftovers:?}");

    let (_, created) =
        json(upload(b"date,value\n2024-01-01,1\n".to_vec(), "?name=tiny").await.unwrap()).await;
    let id = created["dataset"]["id"].as_str().unwrap();
    for (query, code) in [
        (format!("/api/v1/datasets/{id}/series/nope/window"), "series_not_found"),
        (format!("/api/v1/datasets/{id}/series/tiny/window?points=1"), "invalid_points"),
        (format!("/api/v1/datasets/{id}/series/tiny/window?from=yesterday"), "invalid_time"),
        (format!("/api/v1/datasets/{id}/series/tiny/window?columns=nope"), "column_not_found"),
        (format!("/api/v1/datasets/{id}/series/tiny/window?candles=true"), "invalid_query"),
        (format!("/api/v1/datasets/{id}/rejects"), "no_rejects"),
        (format!("/api/v1/datasets/{id}/profile?version=9"), "version_not_found"),
        ("/api/v1/datasets/not-an-id".to_owned(), "invalid_id"),
        ("/api/v1/datasets?limit=2147483648".to_owned(), "invalid_query"),
        ("/api/v1/datasets?limit=4294967296".to_owned(), "invalid_request"),
        ("/api/v1/datasets?limit=201".to_owned(), "invalid_query"),
        (format!("/api/v1/datasets/{id}/rows?offset=9223372036854775808"), "invalid_query"),
    ] {
        let (status, body) =
            json(app.with_key(Method::GET, &query, &key).send().await.unwrap()).await;
        assert_eq!(body["code"], code, "{query}: {status} {body}");
        assert!(status.is_client_error());
    }
}

#[tokio::test]
async fn a_dataset_exports_streamed_in_the_format_asked_for_and_only_to_its_owner() {
    let app = spawn_app().await;
    let key = writer_key(&app, "ada@example.com").await;
    let response = app
        .with_key(Method::POST, "/api/v1/datasets?name=Stocks%20%2F%20daily%20%3Cv1%3E", &key)
        .header("content-type", "text/csv")
        .body(shared("stocks_daily.csv"))
        .send()
        .await
        .unwrap();
    let (status, imported) = json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let id = imported["dataset"]["id"].as_str().unwrap().to_owned();
    let export = |query: &str| {
        app.with_key(Method::GET, &format!("/api/v1/datasets/{id}/export?{query}"), &key).send()
    };

    // The whole dataset as CSV, named after it, safely.
    let response = export("").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"Stocks_daily_v1.csv\"");
    assert_eq!(headers["cache-control"], "no-store");
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 16194 + 1);
    assert_eq!(lines[0], "series_id,ts,open,high,low,close,volume,adj_close");
    assert!(lines[1].starts_with("AAPL,2013-01-02T00:00:00Z,19.779285430908203,"), "{}", lines[1]);

    // Chosen series, columns and range, with local times and a decimal comma.
    let response = export(
        "series=NVDA,AAPL&columns=close&from=2013-01-02T00:00:00Z&to=2013-01-04T00:00:00Z&decimal=comma\
         &time=%25Y-%25m-%25d&tz=America/New_York",
    )
    .await
    .unwrap();
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "series_id;ts;close");
    assert_eq!(lines.len(), 1 + 2 * 2, "{csv}");
    assert!(lines[1].starts_with("AAPL;2013-01-01;19,6"), "{csv}");
    assert!(lines[3].starts_with("NVDA;"), "{csv}");

    // Binary and compressed formats.
    let response = export("format=parquet&version=1").await.unwrap();
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"Stocks_daily_v1-v1.parquet\""
    );
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1"));
    let response = export("format=jsonl&compression=gzip&series=NFLX").await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/gzip");
    let mut text = String::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(&response.bytes().await.unwrap()[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.lines().count() > 1000 && text.lines().all(|l| l.contains("\"NFLX\"")));

    // What cannot be exported is refused before a byte is sent, naming why.
    for (query, status, code) in [
        ("format=xml", StatusCode::BAD_REQUEST, "invalid_export"),
        ("decimal=comma&delimiter=,", StatusCode::BAD_REQUEST, "invalid_export"),
        ("tz=Mars/Base", StatusCode::BAD_REQUEST, "invalid_export"),
        (
            "from=2014-01-01T00:00:00Z&to=2013-01-01T00:00:00Z",
            StatusCode::BAD_REQUEST,
            "invalid_range",
        ),
        ("series=NOPE", StatusCode::NOT_FOUND, "series_not_found"),
        ("columns=price", StatusCode::NOT_FOUND, "column_not_found"),
        ("version=7", StatusCode::NOT_FOUND, "version_not_found"),
    ] {
        let (got, body) = json(export(query).await.unwrap()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{query}: {body}");
    }

    // Another person's dataset is not found.
    let grace = writer_key(&app, "grace@example.com").await;
    let response = app
        .with_key(Method::GET, &format!("/api/v1/datasets/{id}/export"), &grace)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

//! Forecasts over HTTP: a request is checked against the dataset, runs as a metered
//! `forecast` job on the server's workers, and leaves a forecast with its backtests and
//! points, readable as JSON and CSV by its owner only, and deletable.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use variosync_domain::WorkspaceId;
use variosync_domain::{Hours, UserId};
use variosync_store::Access;
use variosync_store::Owner;

use crate::helpers::spawn_app;
use crate::jobs::{json_of, until_ended};

fn stocks() -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    std::fs::read(path).unwrap()
}

#[tokio::test]
async fn a_forecast_job_backtests_forecasts_charges_and_serves_its_points() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let ledger = app.backends.ledger();
    let grant = Hours::from_hours_f64(1.0).unwrap();
    ledger.apply(Access::System, Owner::personal(user), grant, "test grant", None).await.unwrap();
    let (status, _, imported) = json_of(
        app.with_key(Method::POST, "/api/v1/datasets?name=Stocks", &key)
            .header("content-type", "text/csv")
            .body(stocks())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{imported}");
    let dataset = imported["dataset"]["id"].as_str().unwrap().to_owned();
    let post =
        |body: Value| app.with_key(Method::POST, "/api/v1/forecasts", &key).json(&body).send();

    // Requests the dataset cannot serve are refused before any job starts.
    let base = json!({ "dataset_id": dataset, "series": "AAPL", "column": "close", "horizon": 30 });
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, status, code) in [
        (with("models", json!(["lstm"])), StatusCode::BAD_REQUEST, "unknown_model"),
        (with("horizon", json!(0)), StatusCode::BAD_REQUEST, "invalid_forecast"),
        (with("levels", json!([100])), StatusCode::BAD_REQUEST, "invalid_forecast"),
        (with("series", json!("TSLA")), StatusCode::NOT_FOUND, "series_not_found"),
        (with("column", json!("vwap")), StatusCode::NOT_FOUND, "column_not_found"),
        (with("dataset_id", json!("nope")), StatusCode::BAD_REQUEST, "invalid_id"),
        (
            with("regressors", json!([{ "column": "vwap", "future": vec![1.0; 30] }])),
            StatusCode::NOT_FOUND,
            "column_not_found",
        ),
        (
            with("regressors", json!([{ "column": "close", "future": vec![1.0; 30] }])),
            StatusCode::BAD_REQUEST,
            "invalid_forecast",
        ),
        (
            with("regressors", json!([{ "column": "volume", "future": [1.0, 2.0] }])),
            StatusCode::BAD_REQUEST,
            "invalid_forecast",
        ),
        (
            with("events", json!([{ "name": "close day", "dates": [] }])),
            StatusCode::BAD_REQUEST,
            "invalid_forecast",
        ),
        (
            with("events", json!([{ "name": "x", "dates": ["2023-13-01"] }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        let (got, _, answer) = json_of(post(body.clone()).await.unwrap()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let jobs = app.backends.jobs().list(Access::person(user), None, 10).await.unwrap();
    assert!(
        jobs.iter().all(|j| j.kind == "import"),
        "no forecast job was submitted, only the dataset's import was recorded: {jobs:?}"
    );

    let before = ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap();
    let events = app.with_key(Method::GET, "/api/v1/jobs/events", &key).send().await.unwrap();
    let (status, headers, job) =
        json_of(post(with("models", json!(["auto", "naive"]))).await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "forecast");
    assert!(job["reserved"].as_f64().unwrap() > 0.0);
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/jobs/{id}").as_str());
    let (ended, seen) = until_ended(events, &id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert!(seen.iter().any(|j| j["status"] == "running"), "{seen:?}");
    assert!(ended["cpu_micros"].as_u64().unwrap() > 0, "{ended}");
    // Charged its measured compute (at least the one-second minimum); the rest is back.
    let charged = ended["charged"].as_f64().unwrap();
    assert!(charged >= 1.0 / 3600.0 - 1e-9, "{ended}");
    let after = ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap();
    assert!((before.as_hours_f64() - after.as_hours_f64() - charged).abs() < 1e-6, "{after}");
    let url = ended["result"]["url"].as_str().unwrap().to_owned();

    let (status, _, view) =
        json_of(app.with_key(Method::GET, &url, &key).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let forecast = &view["forecast"];
    assert_eq!(forecast["series"], "AAPL");
    assert_eq!(forecast["column"], "close");
    assert_eq!(forecast["levels"], json!([80.0, 95.0]));
    assert_eq!(forecast["report"]["frequency"], "business day");
    let backtests = forecast["report"]["backtests"].as_array().unwrap();
    assert_eq!(backtests.len(), 8, "every candidate of auto, naive among them");
    assert!(backtests.iter().all(|b| b["backtest"]["scores"]["mase"].as_f64().is_some()));
    assert!(forecast["best"].is_string());
    let times = view["times"].as_array().unwrap();
    assert_eq!(times.len(), 30);
    // The history ends on Thursday 2023-09-21: Friday, then Monday.
    assert_eq!(times[0], 1_695_340_800_000_000i64, "microseconds, as the unit says");
    assert_eq!(times[1], 1_695_600_000_000_000i64);
    assert_eq!(view["unit"], "us");
    let auto = &view["forecasts"][0];
    assert_eq!(auto["model"], "auto");
    assert!(auto["chosen"].as_str().unwrap().starts_with("auto: "), "{auto}");
    let prediction = &auto["prediction"];
    assert_eq!(prediction["mean"].as_array().unwrap().len(), 30);
    let band = &prediction["bands"][1];
    assert_eq!(band["level"], 95.0);
    for i in 0..30 {
        let (lower, mean, upper) = (
            band["lower"][i].as_f64().unwrap(),
            prediction["mean"][i].as_f64().unwrap(),
            band["upper"][i].as_f64().unwrap(),
        );
        assert!(lower < mean && mean < upper, "step {i}: {lower} {mean} {upper}");
    }
    assert_eq!(view["forecasts"][1]["model"], "naive");

    let response = app.with_key(Method::GET, &format!("{url}/csv"), &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("forecast-"));
    let csv = response.text().await.unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,model,chosen,mean,lower_80,upper_80,lower_95,upper_95"));
    assert!(lines.next().unwrap().starts_with("2023-09-22T00:00:00Z,auto,"));
    assert_eq!(csv.lines().count(), 1 + 60);

    // In any export format: Excel with a sheet per model, JSON records per model.
    let response = app
        .with_key(Method::GET, &format!("{url}/export?format=xlsx&sheets=series"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.ends_with(".xlsx\""), "{disposition}");
    assert_eq!(&response.bytes().await.unwrap()[..2], b"PK");
    let response = app
        .with_key(Method::GET, &format!("{url}/export?format=json&json_layout=series"), &key)
        .send()
        .await
        .unwrap();
    let by_model: Value = response.json().await.unwrap();
    assert_eq!(by_model["auto"].as_array().unwrap().len(), 30, "{by_model}");
    assert_eq!(by_model["naive"][0]["ts"], "2023-09-22T00:00:00Z");
    let step = &by_model["naive"][0];
    assert!(step["lower_95"].as_f64() < step["mean"].as_f64(), "{step}");
    let response =
        app.with_key(Method::GET, &format!("{url}/export?format=xml"), &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    let (_, _, listed) = json_of(
        app.with_key(Method::GET, &format!("/api/v1/forecasts?dataset_id={dataset}"), &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Prophet with an event and a regressor, whose future the request gives.
    let mut body = with("models", json!(["prophet"]));
    body["horizon"] = json!(5);
    body["regressors"] = json!([{ "column": "volume", "future": [5e7, 6e7, 5e7, 4e7, 5e7] }]);
    body["events"] = json!([{ "name": "year end", "dates": ["2021-12-31", "2022-12-30"] }]);
    let events = app.with_key(Method::GET, "/api/v1/jobs/events", &key).send().await.unwrap();
    let (status, _, job) = json_of(post(body).await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let (ended, _) = until_ended(events, job["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    let prophet_url = ended["result"]["url"].as_str().unwrap().to_owned();
    let (_, _, view) =
        json_of(app.with_key(Method::GET, &prophet_url, &key).send().await.unwrap()).await;
    let forecast = &view["forecasts"][0];
    assert_eq!(forecast["chosen"], "Prophet (1 event; regressors volume)", "{forecast}");
    assert_eq!(forecast["prediction"]["mean"].as_array().unwrap().len(), 5);
    assert_eq!(view["forecast"]["report"]["backtests"][0]["model"], "prophet");

    // Someone else sees nothing of it.
    let eve = app.sign_up("eve@example.com").await;
    let eve_key = app.create_key(&eve, "write").await.0;
    for path in [url.clone(), format!("{url}/csv"), format!("{url}/export?format=parquet")] {
        let response = app.with_key(Method::GET, &path, &eve_key).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _, answer) = json_of(
        app.with_key(Method::POST, "/api/v1/forecasts", &eve_key).json(&base).send().await.unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("dataset_not_found"))
    );

    let response = app.with_key(Method::DELETE, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = app.with_key(Method::GET, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

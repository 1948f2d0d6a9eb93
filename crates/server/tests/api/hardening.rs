//! What an outside probe of a running server tried, kept as tests: each reproduces the
//! probe's requests against the real server.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio_stream::StreamExt;

use crate::helpers::{TestApp, spawn_app};

/// Whether the event stream `response` ends (or fails) within `within`; it is read and its
/// keep-alive comments ignored.
async fn stream_ends(response: reqwest::Response, within: Duration) -> bool {
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    tokio::time::timeout(within, async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await
    .is_ok()
}

/// Opens `path` as an event stream with a bearer credential.
async fn open_with_key(app: &TestApp, path: &str, key: &str) -> reqwest::Response {
    app.with_key(Method::GET, path, key).send().await.unwrap()
}

#[tokio::test]
async fn event_streams_end_when_their_key_is_revoked_or_their_session_signs_out() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let (key, key_id) = app.create_key(&ada, "read").await;
    let (other, _) = app.create_key(&ada, "read").await;

    // A stream that nothing ends stays open.
    let kept = open_with_key(&app, "/api/v1/jobs/events", &other).await;
    let kept = tokio::spawn(stream_ends(kept, Duration::from_secs(6)));

    // Revoking a key ends the streams opened with it, and with tokens minted from it.
    let token: serde_json::Value = app
        .with_key(Method::POST, "/api/v1/auth/token", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let by_key = open_with_key(&app, "/api/v1/datasets/events", &key).await;
    let by_token = open_with_key(&app, "/api/v1/jobs/events", &token).await;
    assert!(!kept.is_finished());
    let revoked = app
        .as_browser(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), &ada)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert!(stream_ends(by_key, Duration::from_secs(10)).await, "the key's stream ends");
    assert!(stream_ends(by_token, Duration::from_secs(10)).await, "the token's stream ends");
    assert!(!kept.await.unwrap(), "a stream whose credential holds stays open");

    // Signing out ends the session's stream.
    let by_session = app.as_browser(Method::GET, "/api/v1/jobs/events", &ada).send().await.unwrap();
    let out = app.as_browser(Method::POST, "/api/v1/auth/signout", &ada).send().await.unwrap();
    assert!(out.status().is_success());
    assert!(stream_ends(by_session, Duration::from_secs(10)).await, "the session's stream ends");
}

/// Every file and folder under `root`, relative to it.
fn tree(root: &std::path::Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            found.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn bad_choices_are_refused_before_the_body_is_read_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&ada, "write").await;
    let before = tree(app.data_dir.path());
    let long = "n".repeat(201);
    let cases = [
        ("name=%00bad", "invalid_name"),
        ("name=invoice%E2%80%AEfdp", "invalid_name"),
        ("series=..%2F..%2Fs%00", "invalid_name"),
        (&*format!("name={long}"), "invalid_name"),
        ("mode=sloppy", "invalid_mode"),
    ];
    for (query, code) in cases {
        // A body that never ends: were it read before the choices are checked, no answer
        // would ever come.
        let (send, receive) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        tokio::spawn(async move {
            while send.send(Ok(vec![b'x'; 64 * 1024])).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let endless = tokio_stream::wrappers::ReceiverStream::new(receive);
        let request = app
            .with_key(Method::POST, &format!("/api/v1/datasets?{query}"), &key)
            .header("content-type", "text/csv")
            .body(reqwest::Body::wrap_stream(endless))
            .send();
        let response = tokio::time::timeout(Duration::from_secs(30), request)
            .await
            .unwrap_or_else(|_| panic!("{query}: no answer while the body was still coming"))
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{query}: {body}");
    }
    assert_eq!(tree(app.data_dir.path()), before, "nothing is left behind");
}

#[tokio::test]
async fn a_file_name_keeps_its_readable_text_as_the_dataset_name() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&ada, "write").await;
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"time,close\n2024-01-02,1.5\n2024-01-03,1.25\n".to_vec())
            .file_name("<script>alert(1)</script>.csv"),
    );
    let response =
        app.with_key(Method::POST, "/api/v1/datasets", &key).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["dataset"]["name"], "script alert(1) script");
}

#[tokio::test]
async fn a_form_without_its_fields_gets_the_products_page_saying_so() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let response = app
        .client
        .post(app.url("/account/api-keys"))
        .header("cookie", &ada.cookie)
        .form(&[("name", "k"), ("scope", "read")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let html = response.text().await.unwrap();
    assert!(html.contains("This request was refused") && html.contains("csrf_token"), "{html}");
    assert!(html.contains("</html>"), "the whole page, not bare text");
}

#[tokio::test]
async fn client_errors_are_logged_below_error_level() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&ada, "read").await;
    let id = format!("probe-{}", uuid::Uuid::new_v4());
    let with_id = |request: reqwest::RequestBuilder| request.header("x-request-id", &id).send();
    let answers = [
        with_id(app.client.post(app.url("/api/v1/auth/signin")).json(
            &serde_json::json!({ "email": "ada@example.com", "password": "not the password" }),
        ))
        .await
        .unwrap()
        .status(),
        with_id(app.with_key(
            Method::GET,
            &format!("/api/v1/datasets/{}", uuid::Uuid::new_v4()),
            &key,
        ))
        .await
        .unwrap()
        .status(),
        with_id(app.with_key(Method::POST, "/api/v1/datasets?mode=sloppy", &key).body("x"))
            .await
            .unwrap()
            .status(),
        with_id(app.with_key(Method::GET, "/api/v1/me", "vsk_not_a_key")).await.unwrap().status(),
    ];
    assert!(answers.iter().all(|status| status.is_client_error()), "{answers:?}");
    let logs = crate::helpers::captured_logs();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains(&id)).collect();
    assert!(lines.len() >= answers.len(), "each request is logged: {lines:?}");
    let errors: Vec<&&str> = lines.iter().filter(|line| line.contains("ERROR")).collect();
    assert!(errors.is_empty(), "client errors at ERROR level: {errors:?}");
}

#[tokio::test]
async fn windows_come_as_arrow_streams_with_the_same_points_as_json() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, TimestampMicrosecondType};
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&ada, "write").await;
    let mut csv = String::from("time,open,high,low,close,volume\n");
    for i in 0..3000 {
        let price = 100.0 + f64::from(i).sin() * 7.123_456_789;
        csv.push_str(&format!(
            "{},{price},{},{},{},{}\n",
            1_700_000_000 + i * 60,
            price + 1.0,
            price - 1.0,
            price + 0.5,
            i * 7 % 1000
        ));
    }
    let created: serde_json::Value = app
        .with_key(Method::POST, "/api/v1/datasets?name=bars&series=BARS", &key)
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["dataset"]["id"].as_str().expect("created").to_owned();
    let path = format!("/api/v1/datasets/{id}/series/BARS/window?points=200&columns=close,volume");
    let json: serde_json::Value =
        app.with_key(Method::GET, &path, &key).send().await.unwrap().json().await.unwrap();
    let arrow = app
        .with_key(Method::GET, &path, &key)
        .header("accept", "application/vnd.apache.arrow.stream")
        .send()
        .await
        .unwrap();
    assert_eq!(arrow.headers()["content-type"], "application/vnd.apache.arrow.stream");
    let bytes = arrow.bytes().await.unwrap();
    let json_size = json.to_string().len();
    assert!(bytes.len() < json_size, "{} bytes against {json_size} of JSON", bytes.len());
    let mut reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
    let metadata = reader.schema().metadata().clone();
    assert_eq!(metadata["series"], "BARS");
    assert_eq!(metadata["rows"], json["rows"].to_string());
    assert_eq!(metadata["downsampled"], json["downsampled"].to_string());
    let batch = reader.next().unwrap().unwrap();
    let names =
        arrow_array::cast::as_dictionary_array::<arrow_array::types::Int16Type>(batch.column(0));
    let labels = names.values().as_string::<i32>();
    let times = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    let values = batch.column(2).as_primitive::<Float64Type>();
    for column in json["columns"].as_array().unwrap() {
        let name = column["name"].as_str().unwrap();
        let rows: Vec<usize> = (0..batch.num_rows())
            .filter(|i| labels.value(names.keys().value(*i) as usize) == name)
            .collect();
        let ts: Vec<i64> = rows.iter().map(|i| times.value(*i)).collect();
        let vs: Vec<f64> = rows.iter().map(|i| values.value(*i)).collect();
        let json_ts: Vec<i64> =
            column["ts"].as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect();
        let json_vs: Vec<f64> =
            column["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_eq!(ts, json_ts, "{name}");
        // Arrow carries the doubles exactly; this test's JSON reader may miss the last bit.
        assert_eq!(vs.len(), json_vs.len(), "{name}");
        for (a, b) in vs.iter().zip(&json_vs) {
            assert!((a - b).abs() <= b.abs() * 1e-15, "{name}: {a} against {b}");
        }
    }

    let candles = app
        .with_key(Method::GET, &format!("{path}&candles=true"), &key)
        .header("accept", "application/vnd.apache.arrow.stream")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(candles), None).unwrap();
    let names: Vec<String> = reader.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["ts", "open", "high", "low", "close", "volume"]);
    let batch = reader.next().unwrap().unwrap();
    assert!(batch.num_rows() > 0 && batch.num_rows() <= 200);
}

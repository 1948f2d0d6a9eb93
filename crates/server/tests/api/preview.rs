//! Previewing a file before it is sent: the detected reading, what to check, the columns to
//! choose from when no time column is found; nothing is stored. And the library's live
//! stream of dataset changes.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_stream::StreamExt;

use crate::helpers::{TestApp, spawn_app};

fn testdata(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(name);
    std::fs::read(path).unwrap()
}

async fn preview(app: &TestApp, key: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .with_key(Method::POST, &format!("/api/v1/datasets/preview{query}"), key)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_head_of_a_file_shows_how_it_will_be_read_and_stores_nothing() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&browser, "write").await;

    // The first 64 KiB of the six stocks, cut inside a line.
    let head = testdata("stocks_daily.csv")[..65_536].to_vec();
    let (status, seen) = preview(&app, &key, "", head).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["format"], "csv");
    assert_eq!(seen["read"], true);
    assert_eq!(seen["time"], "date");
    assert_eq!(seen["time_format"], "iso");
    assert_eq!(seen["series"], "symbol");
    let values: Vec<&str> =
        seen["values"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(values, ["open", "high", "low", "close", "volume", "adj_close"]);
    assert_eq!(seen["values"][4]["kind"], "integer");
    assert!(seen["warnings"].as_array().unwrap().is_empty(), "{seen}");
    let sample = seen["sample"].as_array().unwrap();
    assert!(sample[0].as_str().unwrap().starts_with("META,2013-01-02,"), "{seen}");

    // An ambiguous date order is reported, and a choice changes the reading.
    let ambiguous = b"date,value\n01/02/2024,1\n03/04/2024,2\n".to_vec();
    let (_, seen) = preview(&app, &key, "?whole=true", ambiguous.clone()).await;
    assert!(seen["warnings"].to_string().contains("day"), "{seen}");
    let mapping = urlencode(r#"{"time_format":"dmy"}"#);
    let (status, seen) =
        preview(&app, &key, &format!("?whole=true&mapping={mapping}"), ambiguous).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["time_format"], "dmy");

    // No time column: the columns to choose from, and the reason.
    let timeless = b"name,value\nx,1\ny,2\n".to_vec();
    let (status, seen) = preview(&app, &key, "?whole=true", timeless.clone()).await;
    assert_eq!(status, StatusCode::OK, "{seen}");
    assert_eq!(seen["columns"], serde_json::json!(["name", "value"]));
    assert!(seen["problem"].as_str().unwrap().contains("no column holds timestamps"), "{seen}");

    // A mapping naming a missing column is refused with the columns the file has.
    let wrong = urlencode(r#"{"time":"when"}"#);
    let (status, seen) =
        preview(&app, &key, &format!("?whole=true&mapping={wrong}"), timeless).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(seen["code"], "invalid_mapping");
    assert!(seen["message"].as_str().unwrap().contains("name, value"), "{seen}");

    // Parquet is read only whole: its first bytes are not previewed.
    let (_, seen) = preview(&app, &key, "", b"PAR1\x15\x04\x15\x00".to_vec()).await;
    assert_eq!(seen["format"], "parquet");
    assert_eq!(seen["read"], false);

    // An empty body is refused; nothing was stored by any of this.
    let (status, seen) = preview(&app, &key, "", Vec::new()).await;
    assert_eq!((status, seen["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_upload")));
    let listed: Value = app
        .with_key(Method::GET, "/api/v1/datasets", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn the_library_stream_tells_of_imports_changes_and_deletions() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let (key, _) = app.create_key(&browser, "write").await;
    let events = app.with_key(Method::GET, "/api/v1/datasets/events", &key).send().await.unwrap();
    // The handler subscribes before it answers, so once the answer is here the subscription
    // is in place: nothing from now on can be missed.
    assert_eq!(events.status(), StatusCode::OK);
    let mut stream = events.bytes_stream();

    let imported: Value = app
        .with_key(Method::POST, "/api/v1/datasets?name=Passengers", &key)
        .body(testdata("air_passengers.csv"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = imported["dataset"]["id"].as_str().unwrap().to_owned();
    let renamed = app
        .with_key(Method::PATCH, &format!("/api/v1/datasets/{id}"), &key)
        .json(&serde_json::json!({ "name": "Airline passengers" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let deleted =
        app.with_key(Method::DELETE, &format!("/api/v1/datasets/{id}"), &key).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    let mut buffer = String::new();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while seen.len() < 3 {
            let chunk = stream.next().await.unwrap().unwrap();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(at) = buffer.find("\n\n") {
                let event: String = buffer.drain(..at + 2).collect();
                if !event.contains("event: dataset") {
                    continue;
                }
                let data = event.lines().find_map(|l| l.strip_prefix("data:")).unwrap();
                seen.push(serde_json::from_str::<Value>(data.trim()).unwrap());
            }
        }
    })
    .await;
    assert!(read.is_ok(), "three events, saw {seen:?}");
    let actions: Vec<&str> = seen.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["dataset_imported", "dataset_updated", "dataset_deleted"]);
    assert!(seen.iter().all(|e| e["dataset_id"] == id.as_str()), "{seen:?}");
}

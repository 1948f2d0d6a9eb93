//! Resumable uploads: a file sent in chunks, interrupted, resumed where it stopped, and
//! completed into a dataset; on PostgreSQL + Redis + S3 the chunks go to two replicas in
//! turn.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use variosync_domain::WorkspaceId;
use variosync_store::testing::{self, S3TestServer};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

fn stocks() -> Vec<u8> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    std::fs::read(path).unwrap()
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let offset = response.headers().get("upload-offset").map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    (status, offset, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn begin(app: &TestApp, key: &str, name: &str, size: usize) -> String {
    let (status, offset, body) = json_of(
        app.with_key(Method::POST, "/api/v1/uploads", key)
            .json(&json!({ "file_name": name, "size": size }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((offset.as_deref(), &body["received"]), (Some("0"), &json!(0)));
    body["url"].as_str().unwrap().to_owned()
}

async fn send(
    app: &TestApp,
    key: &str,
    url: &str,
    offset: usize,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let (status, _, body) = json_of(
        app.with_key(Method::PATCH, url, key)
            .header("upload-offset", offset.to_string())
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    (status, body)
}

/// The whole life of a resumable upload; `replicas` take the requests in turn.
async fn resumable_round_trip(replicas: &[&TestApp]) {
    let first = replicas[0];
    let browser = first.sign_up("ada@example.com").await;
    let key = first.create_key(&browser, "write").await.0;
    let app = |i: usize| replicas[i % replicas.len()];
    let file = stocks();
    let url = begin(first, &key, "stocks_daily.csv", file.len()).await;
    let third = file.len() / 3;

    // The first chunk arrives; sent again (the answer was lost), it is refused with the
    // offset to go on from.
    let (status, body) = send(app(1), &key, &url, 0, &file[..third]).await;
    assert_eq!((status, &body["received"]), (StatusCode::OK, &json!(third)), "{body}");
    let (status, body) = send(app(0), &key, &url, 0, &file[..third]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("offset_mismatch")));
    assert!(body["message"].as_str().unwrap().contains(&format!("starting at byte {third}")));

    // Bad chunks change nothing.
    let (status, _, body) = json_of(
        app(1).with_key(Method::PATCH, &url, &key).body(b"x".to_vec()).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("missing_offset")));
    let (status, body) =
        send(app(0), &key, &url, third, &[file.as_slice(), b"extra"].concat()[third..]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("chunk_too_large")));
    let (status, _, body) = json_of(
        app(1).with_key(Method::POST, &format!("{url}/complete"), &key).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("upload_incomplete")));

    // After a break the client asks where to resume, and sends the rest.
    let (status, offset, body) =
        json_of(app(0).with_key(Method::GET, &url, &key).send().await.unwrap()).await;
    assert_eq!((status, offset), (StatusCode::OK, Some(third.to_string())), "{body}");
    assert_eq!(body["size"], json!(file.len()));
    let (status, _) = send(app(1), &key, &url, third, &file[third..2 * third]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = send(app(0), &key, &url, 2 * third, &file[2 * third..]).await;
    assert_eq!((status, &body["received"]), (StatusCode::OK, &json!(file.len())), "{body}");

    // Completed into a dataset, with the same choices as a direct upload.
    let (status, _, body) = json_of(
        app(1)
            .with_key(Method::POST, &format!("{url}/complete?name=Stocks&duplicates=fail"), &key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dataset"]["name"], "Stocks");
    assert_eq!(body["version"]["row_count"], 16_194, "every row of the file");
    assert_eq!(body["version"]["series"].as_array().unwrap().len(), 6);
    let user: variosync_domain::UserId =
        body["dataset"]["user_id"].as_str().unwrap().parse().unwrap();
    let (status, _, body) =
        json_of(app(0).with_key(Method::GET, &url, &key).send().await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("upload_not_found")));
    let prefix = variosync_store::ObjectKey::workspace_prefix(WorkspaceId::personal(user));
    let left = first.backends.objects.list(&prefix).await.unwrap();
    assert!(left.iter().all(|o| !o.key.contains("/uploads/")), "the chunks are gone: {left:?}");

    // A file that cannot be read stays, to be completed again with other choices or
    // deleted; no one else sees it.
    let bad = b"when;what\nyesterday;rain\n";
    let url = begin(app(1), &key, "notes.csv", bad.len()).await;
    assert_eq!(send(app(0), &key, &url, 0, bad).await.0, StatusCode::OK);
    let (status, _, body) = json_of(
        app(1).with_key(Method::POST, &format!("{url}/complete"), &key).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        app(0).with_key(Method::GET, &url, &key).send().await.unwrap().status(),
        StatusCode::OK
    );
    let other = first.sign_up("grace@example.com").await;
    let grace = first.create_key(&other, "write").await.0;
    for method in [Method::GET, Method::DELETE] {
        let response = app(1).with_key(method, &url, &grace).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let response = app(0).with_key(Method::DELETE, &url, &key).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app(1).with_key(Method::GET, &url, &key).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    // A file over the upload limit is refused before any byte is sent.
    let (status, _, body) = json_of(
        first
            .with_key(Method::POST, "/api/v1/uploads", &key)
            .json(&json!({ "file_name": "huge.csv", "size": 1u64 << 50 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
}

#[tokio::test]
async fn a_file_sent_in_chunks_resumes_after_a_break_and_becomes_a_dataset() {
    let app = spawn_app().await;
    resumable_round_trip(&[&app]).await;
}

#[tokio::test]
async fn chunks_may_go_to_any_replica_on_postgres_redis_and_s3() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    let Some(redis) = testing::fresh_redis() else {
        return;
    };
    let s3 = S3TestServer::start().await;
    let configure = |settings: &mut variosync_server::Settings| {
        settings.database = database.clone();
        settings.redis = redis.clone();
        settings.s3 = s3.settings.clone();
    };
    let one = spawn_app_with(configure).await;
    let two = spawn_app_with(configure).await;
    resumable_round_trip(&[&one, &two]).await;
}

//! The HTTP surface every deployment has: landing page, liveness, readiness, metrics, and
//! the behaviour of the middleware.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{check_backends, failed_checks, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_landing_page_says_what_the_service_is() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let page = response.text().await.unwrap();
    assert!(page.contains("Variosync"));
    assert!(page.contains("time-series"));
    assert!(page.contains("/static/app.css"));
    assert_eq!(app.get("/static/app.css").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn liveness_answers_ok_with_the_version() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn an_embedded_install_is_ready_and_keeps_its_files_in_the_data_directory() {
    let app = spawn_app().await;
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(check_backends(&body), ["database=sqlite", "object_store=local"]);
    assert!(app.data_dir.path().join("variosync.db").is_file());
    assert!(app.data_dir.path().join("objects").is_dir());
    // Migrations ran at start-up: the users table exists.
    assert_eq!(app.backends.users().count(variosync_store::Access::System).await.unwrap(), 0);
}

#[tokio::test]
async fn an_unreachable_redis_makes_the_service_unready_and_is_named() {
    // A port nobody listens on: the service still starts, and says what is wrong.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = spawn_app_with(|settings| {
        settings.redis.url = Some(format!("redis://127.0.0.1:{port}/").into());
    })
    .await;
    let (status, body) = app.readiness().await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(failed_checks(&body), ["redis"]);
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "liveness is unaffected");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_report_the_build() {
    let app = spawn_app().await;
    app.get("/healthz").await;
    app.get("/no/such/page").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"}"#),
        "{text}"
    );
    assert!(text.contains(r#"route="<unmatched>",status="404""#), "{text}");
    assert!(!text.contains("/no/such/page"), "raw paths never become labels");
    assert!(text.contains("http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains(&format!(
        r#"variosync_build_info{{version="{}"}} 1"#,
        env!("CARGO_PKG_VERSION")
    )));
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_security_headers() {
    let app = spawn_app().await;
    let generated = app.get("/healthz").await;
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID is generated: {id}");

    let echoed = app
        .client
        .get(format!("{}/healthz", app.address))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-123");

    let headers: &HeaderMap = generated.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'")
    );
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS without an https public URL"
    );
}

#[tokio::test]
async fn authenticated_answers_and_secrets_are_never_cached_and_assets_are() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let created = app
        .as_browser(Method::POST, "/api/v1/api-keys", &ada)
        .json(&serde_json::json!({ "name": "cached?", "scope": "read" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["cache-control"], "no-store", "the answer with a new key");
    for path in ["/api/v1/me", "/api/v1/api-keys", "/account", "/datasets"] {
        let response = app.as_browser(Method::GET, path, &ada).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    let refused = app.get("/api/v1/me").await;
    assert_eq!(refused.headers()["cache-control"], "no-store");
    let asset = app.get("/static/app.css").await;
    assert!(asset.headers()["cache-control"].to_str().unwrap().starts_with("public"));
}

#[tokio::test]
async fn an_https_public_url_turns_on_hsts() {
    let app = spawn_app_with(|settings| {
        settings.http.public_url = Some("https://data.example.com".into());
    })
    .await;
    let response = app.get("/healthz").await;
    assert!(response.headers()["strict-transport-security"].to_str().unwrap().contains("max-age="));
}

#[tokio::test]
async fn unknown_routes_answer_json_to_programs_and_a_page_to_browsers() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/nothing-here").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
    assert!(body["message"].as_str().unwrap().contains("/api/v1/nothing-here"));

    let page = app
        .client
        .get(format!("{}/<script>alert(1)</script>", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let html = page.text().await.unwrap();
    assert!(html.contains("Not found"));
    assert!(!html.contains("<script>alert"), "the path is escaped");
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused() {
    let app = spawn_app_with(|settings| settings.http.body_limit_bytes = 1024).await;
    let url = format!("{}/healthz", app.address);
    let too_big = app.client.post(&url).body(vec![b'x'; 1025]).send().await.unwrap();
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let small = app.client.post(&url).body(vec![b'x'; 10]).send().await.unwrap();
    assert_eq!(small.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn stopping_the_server_closes_the_port_cleanly() {
    let app = spawn_app().await;
    let address = app.address.clone();
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    app.stop().await.expect("a clean stop");
    assert!(reqwest::get(format!("{address}/healthz")).await.is_err(), "nothing listens any more");
}

#[tokio::test]
async fn a_request_in_flight_when_shutdown_begins_still_gets_its_answer() {
    // A grace period that no busy machine runs out of: only a server that does not wait for
    // the request could drop it.
    let app = spawn_app_with(|settings| settings.shutdown_grace_secs = 300).await;
    let host = app.address.strip_prefix("http://").unwrap().to_owned();
    // A connection left idle after one request: the server closes it when shutdown begins.
    let mut idle = TcpStream::connect(&host).await.unwrap();
    let probe = format!("GET /healthz HTTP/1.1\r\nhost: {host}\r\n\r\n");
    idle.write_all(probe.as_bytes()).await.unwrap();
    let healthy = response_head(&mut idle, &mut Vec::new()).await;
    assert!(healthy.starts_with("HTTP/1.1 200 "), "{healthy}");

    // A sign-in whose body arrives slowly. Asking for "100 Continue" makes the server say when
    // the handler starts to read the body, so the request is in flight when the stop comes.
    let mut in_flight = TcpStream::connect(&host).await.unwrap();
    let (first, rest) =
        (br#"{"email":"ada@example.com","#, br#""password":"correct horse battery"}"#);
    let head = format!(
        "POST /api/v1/auth/signin HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nexpect: 100-continue\r\n\r\n",
        first.len() + rest.len()
    );
    in_flight.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let reading = response_head(&mut in_flight, &mut answer).await;
    assert!(reading.starts_with("HTTP/1.1 100 "), "{reading}");
    in_flight.write_all(first).await.unwrap();

    let stopping = tokio::spawn(app.stop());
    let closed = tokio::time::timeout(PATIENCE, idle.read_to_end(&mut Vec::new())).await;
    assert!(closed.is_ok(), "shutdown began: the idle connection was closed");
    assert!(!stopping.is_finished(), "the server waits for the request in flight");

    in_flight.write_all(rest).await.unwrap();
    let response = response_head(&mut in_flight, &mut answer).await;
    assert!(
        response.starts_with("HTTP/1.1 401 "),
        "answered, as no such account exists: {response}"
    );
    stopping.await.unwrap().expect("then the server stops cleanly");
}

/// How long a raw connection waits for the server; far beyond what a busy machine needs.
const PATIENCE: Duration = Duration::from_secs(30);

/// Reads from `stream` until `buffer` holds a whole response head, and takes that head out.
async fn response_head(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> String {
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head: Vec<u8> = buffer.drain(..end + 4).collect();
            return String::from_utf8(head).unwrap();
        }
        let mut chunk = [0; 4096];
        let read = tokio::time::timeout(PATIENCE, stream.read(&mut chunk))
            .await
            .expect("the server answers within 30 s")
            .unwrap();
        assert!(read > 0, "the connection closed without an answer");
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[tokio::test]
async fn the_vendored_browser_libraries_are_served_from_the_binary() {
    let app = spawn_app().await;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../web/static/vendor");
    for (name, kind) in [
        ("htmx.min.js", "text/javascript"),
        ("uPlot.iife.min.js", "text/javascript"),
        ("uPlot.min.css", "text/css"),
        ("lightweight-charts.standalone.production.js", "text/javascript"),
    ] {
        let response = app.get(&format!("/static/vendor/{name}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{name}");
        let headers = response.headers().clone();
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind), "{name}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers["cache-control"].to_str().unwrap().contains("max-age"));
        let served = response.bytes().await.unwrap();
        assert_eq!(served, std::fs::read(folder.join(name)).unwrap(), "{name} as vendored");
    }
    for licence in ["htmx.LICENSE", "uPlot.LICENSE", "lightweight-charts.LICENSE"] {
        assert!(folder.join(licence).exists(), "{licence} sits beside its library");
    }
}

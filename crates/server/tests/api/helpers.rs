//! `spawn_app()`: the real application on port 0 with a fresh data directory, plus typed
//! helpers for what tests do over HTTP.

use std::sync::Once;

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tracing_subscriber::Layer;
use variosync_server::{Application, Settings};
use variosync_store::Backends;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backends: Backends,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub data_dir: TempDir,
}

/// Everything the application logs during the tests, for tests that check what logs must
/// never contain.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the application's logs at DEBUG into memory; with `TEST_LOG` set (a filter such
/// as `debug`), also prints them.
fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let capture = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Capture)
            .with_filter(tracing_subscriber::EnvFilter::new("variosync=debug,variosync_web=debug,variosync_auth=debug,variosync_store=debug,variosync_server=debug,info"));
        let print = std::env::var("TEST_LOG").ok().map(|level| {
            tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::EnvFilter::new(level))
        });
        let _ = tracing_subscriber::registry().with(capture).with(print).try_init();
    });
}

/// The application with embedded backends (SQLite and objects in a fresh folder).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The application with settings adjusted by `configure` (after the test defaults: port 0
/// and a fresh data directory).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let data_dir = tempfile::tempdir().expect("cannot create a data directory");
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.path().to_owned(),
        shutdown_grace_secs: 5,
        ..Settings::default()
    };
    configure(&mut settings);
    let app = Application::build(&settings).await.expect("the application builds");
    let address = format!("http://{}", app.local_addr());
    let backends = app.backends().clone();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    TestApp { address, client, backends, stop: Some(stop), server, data_dir }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(format!("{}{path}", self.address)).send().await.expect("request sent")
    }

    /// `/readyz`: its status and its JSON body.
    pub async fn readiness(&self) -> (StatusCode, Value) {
        let response = self.get("/readyz").await;
        let status = response.status();
        (status, response.json().await.expect("/readyz answers JSON"))
    }

    /// Asks the server to stop as a signal would, and waits for it.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.server).await.expect("the server task does not panic")
    }
}

/// The names of the failed checks in a `/readyz` body.
pub fn failed_checks(body: &Value) -> Vec<String> {
    body["failed"]
        .as_array()
        .expect("`failed` is a list")
        .iter()
        .map(|name| name.as_str().unwrap().to_owned())
        .collect()
}

/// The backend names of the checks in a `/readyz` body, as `name=backend`.
pub fn check_backends(body: &Value) -> Vec<String> {
    body["checks"]
        .as_array()
        .expect("`checks` is a list")
        .iter()
        .map(|check| {
            format!("{}={}", check["name"].as_str().unwrap(), check["backend"].as_str().unwrap())
        })
        .collect()
}

/// A signed-in browser: its session cookie and CSRF token.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub user_id: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs up through the API, follows the link mailed to `email`, and returns the
    /// signed-in browser.
    pub async fn sign_up(&self, email: &str) -> Browser {
        let response = self
            .client
            .post(self.url("/api/v1/auth/signup"))
            .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED, "sign-up of {email}");
        let token =
            variosync_store::testing::outbox_link_to(self.data_dir.path(), "signup/confirm", email);
        let response = self
            .client
            .post(self.url("/api/v1/auth/signup/confirm"))
            .json(&serde_json::json!({ "token": token }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "confirmed sign-up of {email}");
        Self::browser(response).await
    }

    /// The temporary files under the data folder's `tmp/`: none once every request and job
    /// is over (the run folders' lock files and the cache of dataset files aside).
    pub fn scratch_files(&self) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut folders = vec![self.data_dir.path().join("tmp")];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = std::fs::read_dir(&folder) else { continue };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    // Cached dataset files are kept on purpose.
                    if !path.ends_with("cache") {
                        folders.push(path);
                    }
                } else if !path.ends_with(".lock") {
                    found.push(path);
                }
            }
        }
        found
    }

    /// Signs in through the API.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/signin"))
            .json(&serde_json::json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap()
    }

    pub async fn browser(response: reqwest::Response) -> Browser {
        let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        Browser {
            cookie,
            csrf: body["csrf_token"].as_str().unwrap().to_owned(),
            user_id: body["user"]["id"].as_str().unwrap().to_owned(),
        }
    }

    /// A request as a signed-in browser, with the CSRF token.
    pub fn as_browser(
        &self,
        method: reqwest::Method,
        path: &str,
        browser: &Browser,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("cookie", &browser.cookie)
            .header("x-csrf-token", &browser.csrf)
    }

    /// A request with an API key.
    pub fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// Creates an API key as `browser` and returns its secret and id.
    pub async fn create_key(&self, browser: &Browser, scope: &str) -> (String, String) {
        let response = self
            .as_browser(reqwest::Method::POST, "/api/v1/api-keys", browser)
            .json(&serde_json::json!({ "name": "test key", "scope": scope }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        (
            body["secret"].as_str().unwrap().to_owned(),
            body["key"]["id"].as_str().unwrap().to_owned(),
        )
    }
}

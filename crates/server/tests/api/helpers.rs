//! `spawn_app()`: the real application on port 0 with a fresh data directory, plus typed
//! helpers for what tests do over HTTP.

use std::sync::Once;

use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use tokio::sync::oneshot;
use variosync_server::settings::{LogFormat, LogSettings};
use variosync_server::{Application, Settings, telemetry};
use variosync_store::Backends;

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub backends: Backends,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub data_dir: TempDir,
}

/// Logs are silent unless `TEST_LOG` is set (then its value is the filter, e.g. `debug`).
fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(level) = std::env::var("TEST_LOG") {
            telemetry::init(&LogSettings {
                format: LogFormat::Text,
                level,
            });
        }
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
    let app = Application::build(&settings)
        .await
        .expect("the application builds");
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
    TestApp {
        address,
        client,
        backends,
        stop: Some(stop),
        server,
        data_dir,
    }
}

impl TestApp {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("request sent")
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
        (&mut self.server)
            .await
            .expect("the server task does not panic")
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
            format!(
                "{}={}",
                check["name"].as_str().unwrap(),
                check["backend"].as_str().unwrap()
            )
        })
        .collect()
}

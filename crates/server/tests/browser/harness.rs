//! A chromedriver process per test and a headless Chromium session on it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A running chromedriver, stopped when dropped.
pub struct Driver {
    process: Child,
    pub client: Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Starts chromedriver and a headless browser; `None` when chromedriver is not installed
/// (and the services are not required).
pub async fn browser() -> Option<Driver> {
    let Ok(path) = which("chromedriver") else {
        assert!(
            std::env::var_os("VARIOSYNC_REQUIRE_SERVICES").is_none(),
            "chromedriver is not installed (Debian: chromium chromium-driver)"
        );
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let process = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"]
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let attempt = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => break client,
            Err(error) if Instant::now() > deadline => panic!("no browser session: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    Some(Driver { process, client })
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let paths = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&paths).map(|dir| dir.join(program)).find(|p| p.is_file()).ok_or(())
}

/// Saves a screenshot of what the browser shows as `name.png` under the test target folder.
pub async fn screenshot(client: &Client, name: &str) -> std::path::PathBuf {
    let png = client.screenshot().await.unwrap();
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    let path = folder.join(format!("{name}.png"));
    std::fs::write(&path, png).unwrap();
    path
}

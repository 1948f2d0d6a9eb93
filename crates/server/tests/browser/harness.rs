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

/// Signs up in the browser as `email`, opens the link mailed to it, creates the account
/// and waits for the account page.
pub async fn sign_up(client: &Client, app: &crate::helpers::TestApp, email: &str) {
    use fantoccini::Locator;
    send_form(client, app, "/signup", email).await;
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath("//h1[contains(., 'Check your mail')]"))
        .await
        .expect("the page asks to check the mail");
    let token =
        variosync_store::testing::outbox_link_to(app.data_dir.path(), "signup/confirm", email);
    client.goto(&app.url(&format!("/signup/confirm?token={token}"))).await.unwrap();
    client
        .find(Locator::Css("form[action='/signup/confirm'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client.wait().for_url(&url::Url::parse(&app.url("/account")).unwrap()).await.unwrap();
}

/// Signs in the browser as `email` (an account made with the test password).
pub async fn sign_in(client: &Client, app: &crate::helpers::TestApp, email: &str) {
    fill_in(client, app, "/signin", email).await;
}

/// Sends the e-mail and password form at `path` and waits for the account page.
async fn fill_in(client: &Client, app: &crate::helpers::TestApp, path: &str, email: &str) {
    send_form(client, app, path, email).await;
    client.wait().for_url(&url::Url::parse(&app.url("/account")).unwrap()).await.unwrap();
}

/// Sends the e-mail and password form at `path`.
async fn send_form(client: &Client, app: &crate::helpers::TestApp, path: &str, email: &str) {
    use fantoccini::Locator;
    client.goto(&app.url(path)).await.unwrap();
    let form = format!("form[action='{path}'] ");
    let field = |css: &str| {
        let css = format!("{form}{css}");
        async move { client.find(Locator::Css(&css)).await.unwrap() }
    };
    field("input[name=email]").await.send_keys(email).await.unwrap();
    field("input[name=password]").await.send_keys(crate::helpers::PASSWORD).await.unwrap();
    field("button[type=submit]").await.click().await.unwrap();
}

/// Evaluates `script` (a function body that returns a value) until it returns something
/// other than `null` or `false`, for up to `seconds`; panics with `what` otherwise.
pub async fn until(client: &Client, seconds: u64, what: &str, script: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        if !value.is_null() && value != serde_json::Value::Bool(false) {
            return value;
        }
        if Instant::now() > deadline {
            let status = client
                .execute(
                    "const s = document.getElementById('chart-status'); const e = document.querySelector('.error:not([hidden])'); return (s ? s.textContent : '') + ' | ' + (e ? e.textContent : '') + ' | ' + location.href",
                    vec![],
                )
                .await
                .unwrap();
            panic!("waited {seconds} s for {what}; page says: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The path of a file of `testdata/`.
pub fn testdata(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

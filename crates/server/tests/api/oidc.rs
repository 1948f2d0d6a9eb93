//! Sign-in through a real OpenID Connect provider (panva/oidc-provider, run with Node.js from
//! `tools/oidc-provider`), driven as a browser would: redirects, the provider's login and
//! consent forms, the callback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};

const CLIENT_ID: &str = "variosync-test";
const CLIENT_SECRET: &str = "variosync-test-client-secret";

struct Provider {
    issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the provider, or says why it cannot (Node.js or its packages missing).
fn start_provider(redirect_uri: &str) -> Option<Provider> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc-provider");
    let ready = dir.join("node_modules/oidc-provider").is_dir()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ready {
        let reason = "Node.js or tools/oidc-provider/node_modules is missing (run `npm ci --prefix tools/oidc-provider`)";
        assert!(!variosync_store::testing::services_required(), "{reason}");
        eprintln!("skipped: {reason}");
        return None;
    }
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(&dir)
        .env("CLIENT_ID", CLIENT_ID)
        .env("CLIENT_SECRET", CLIENT_SECRET)
        .env("REDIRECT_URI", redirect_uri)
        .stdout(Stdio::piped())
        // Its start-up warnings (development keys, in-memory storage) are expected here.
        .stderr(Stdio::null())
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    // Keep reading, so the provider never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Some(Provider { issuer: line.trim().to_owned(), child })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http") {
        return location.to_owned();
    }
    let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{location}")
}

fn attribute<'a>(html: &'a str, marker: &str) -> Option<&'a str> {
    let start = html.find(marker)? + marker.len();
    html[start..].split('"').next()
}

/// Follows the sign-in from the app's start URL through the provider's forms as `login`,
/// and returns the app's final response (the callback's answer).
async fn sign_in_through_provider(
    app: &TestApp,
    browser: &reqwest::Client,
    login: &str,
) -> reqwest::Response {
    let mut url = app.url("/auth/oidc/start");
    for _ in 0..20 {
        let response = browser.get(&url).send().await.unwrap();
        if url.starts_with(&app.address) && !url.contains("/auth/oidc/start") {
            return response;
        }
        if let Some(location) = response.headers().get(LOCATION) {
            url = absolute(&url, location.to_str().unwrap());
            continue;
        }
        let html = response.text().await.unwrap();
        let action = attribute(&html, "action=\"").expect("a provider form");
        let prompt = attribute(&html, "name=\"prompt\" value=\"").expect("a prompt field");
        let posted = browser
            .post(absolute(&url, action))
            .form(&[("prompt", prompt), ("login", login), ("password", "anything")])
            .send()
            .await
            .unwrap();
        let location = posted.headers().get(LOCATION).expect("the provider redirects after a form");
        url = absolute(&url, location.to_str().unwrap());
    }
    panic!("the sign-in did not come back to the app");
}

#[tokio::test]
async fn people_sign_in_with_an_openid_connect_provider_on_sqlite() {
    people_sign_in_with_an_openid_connect_provider(None).await;
}

#[tokio::test]
async fn people_sign_in_with_an_openid_connect_provider_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    people_sign_in_with_an_openid_connect_provider(Some(database)).await;
}

async fn people_sign_in_with_an_openid_connect_provider(
    database: Option<variosync_store::settings::DatabaseSettings>,
) {
    let port = free_port();
    let Some(provider) = start_provider(&format!("http://127.0.0.1:{port}/auth/oidc/callback"))
    else {
        return;
    };
    let app = spawn_app_with(|settings| {
        settings.listen = format!("127.0.0.1:{port}").parse().unwrap();
        settings.oidc.issuer = Some(provider.issuer.clone());
        settings.oidc.client_id = Some(CLIENT_ID.into());
        settings.oidc.client_secret = Some(CLIENT_SECRET.into());
        settings.oidc.name = "Test Provider".into();
        if let Some(database) = database {
            settings.database = database;
        }
    })
    .await;
    let signin = app.get("/signin").await.text().await.unwrap();
    assert!(signin.contains("Sign in with Test Provider"));

    // An existing account is joined through the provider's verified address.
    let ada = app.sign_up("ada@example.com").await;
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let done = sign_in_through_provider(&app, &browser, "ada").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER, "{:?}", done.text().await);
    assert_eq!(done.headers()[LOCATION], "/account");
    let me: Value = browser.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["id"], ada.user_id.as_str());

    // An unverified address is not linked to anything.
    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let refused = sign_in_through_provider(&app, &other, "eve").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    // A callback that did not start in this browser is refused.
    let forged = app.get("/auth/oidc/callback?code=abc&state=forged").await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

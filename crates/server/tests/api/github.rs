//! Sign-in with GitHub. GitHub itself cannot be reached from the tests, so a local server
//! speaks the four endpoints of GitHub's OAuth and REST API that the sign-in uses, with
//! their real semantics (client authentication, single-use codes, PKCE S256 checking).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use reqwest::header::LOCATION;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::spawn_app_with;

const CLIENT_ID: &str = "gh-client";
const CLIENT_SECRET: &str = "gh-client-secret";

#[derive(Clone, Default)]
struct FakeGithub {
    /// code -> (PKCE challenge, redirect URI)
    codes: Arc<Mutex<HashMap<String, (String, String)>>>,
}

async fn authorize(
    State(github): State<FakeGithub>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["code_challenge_method"], "S256");
    let code = format!("code-{}", github.codes.lock().unwrap().len());
    github
        .codes
        .lock()
        .unwrap()
        .insert(code.clone(), (query["code_challenge"].clone(), query["redirect_uri"].clone()));
    Redirect::to(&format!("{}?code={code}&state={}", query["redirect_uri"], query["state"]))
        .into_response()
}

async fn access_token(
    State(github): State<FakeGithub>,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    if form["client_id"] != CLIENT_ID || form["client_secret"] != CLIENT_SECRET {
        return Json(json!({ "error": "incorrect_client_credentials" }));
    }
    let Some((challenge, redirect)) = github.codes.lock().unwrap().remove(&form["code"]) else {
        return Json(json!({ "error": "bad_verification_code" }));
    };
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(form["code_verifier"].as_bytes()));
    if computed != challenge || redirect != form["redirect_uri"] {
        return Json(json!({ "error": "bad_verification_code" }));
    }
    Json(
        json!({ "access_token": "gho_test_token", "token_type": "bearer", "scope": "read:user,user:email" }),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers.get("authorization").is_some_and(|value| value == "Bearer gho_test_token")
        && headers.contains_key("user-agent")
}

async fn user(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({ "id": 4242, "login": "ada" })).into_response()
}

async fn emails(headers: HeaderMap) -> Response {
    if !authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!([
        { "email": "old@example.com", "primary": false, "verified": true },
        { "email": "ada@example.com", "primary": true, "verified": true }
    ]))
    .into_response()
}

async fn start_github() -> String {
    let router = Router::new()
        .route("/login/oauth/authorize", get(authorize))
        .route("/login/oauth/access_token", post(access_token))
        .route("/user", get(user))
        .route("/user/emails", get(emails))
        .with_state(FakeGithub::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn use_github(settings: &mut variosync_server::Settings, github: &str) {
    settings.github.client_id = Some(CLIENT_ID.into());
    settings.github.client_secret = Some(CLIENT_SECRET.into());
    settings.github.web_url = github.to_owned();
    settings.github.api_url = github.to_owned();
}

#[tokio::test]
async fn people_sign_in_with_github_through_its_verified_primary_address_on_sqlite() {
    let github = start_github().await;
    let app = spawn_app_with(|settings| use_github(settings, &github)).await;
    people_sign_in_with_github_through_its_verified_primary_address(app).await;
}

#[tokio::test]
async fn people_sign_in_with_github_through_its_verified_primary_address_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    let github = start_github().await;
    let app = spawn_app_with(|settings| {
        use_github(settings, &github);
        settings.database = database;
    })
    .await;
    people_sign_in_with_github_through_its_verified_primary_address(app).await;
}

async fn people_sign_in_with_github_through_its_verified_primary_address(
    app: crate::helpers::TestApp,
) {
    assert!(app.get("/signin").await.text().await.unwrap().contains("Sign in with GitHub"));
    let ada = app.sign_up("ada@example.com").await;

    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let start = browser.get(app.url("/auth/github/start")).send().await.unwrap();
    let to_github = start.headers()[LOCATION].to_str().unwrap().to_owned();
    let approved = browser.get(&to_github).send().await.unwrap();
    let callback = approved.headers()[LOCATION].to_str().unwrap().to_owned();
    let done = browser.get(&callback).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let me: Value = browser.get(app.url("/api/v1/me")).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        me["user"]["id"],
        ada.user_id.as_str(),
        "joined through the verified primary address"
    );

    // The same callback again (a replayed code and state) is refused.
    let replay = browser.get(&callback).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::UNAUTHORIZED);
}

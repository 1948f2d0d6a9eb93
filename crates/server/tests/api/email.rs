//! The e-mailed flows over HTTP, with mail read from the outbox, and what the logs may never
//! contain.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, captured_logs, spawn_app, spawn_app_with};

/// The token of the newest outbox message whose link goes to `/{page}`.
fn last_link(app: &TestApp, page: &str) -> String {
    variosync_store::testing::last_outbox_link(app.data_dir.path(), page)
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.post(app.url(path)).json(&body).send().await.unwrap()
}

#[tokio::test]
async fn an_address_confirmation_link_mailed_before_works_once() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    // Sign-ups are confirmed by their link now; a confirmation link mailed to an account
    // made before that still works, once.
    let token = variosync_auth::SessionToken::generate();
    app.backends
        .auth_tokens()
        .issue(variosync_store::NewAuthToken {
            user_id: Some(ada.user_id.parse().unwrap()),
            purpose: variosync_domain::TokenPurpose::VerifyEmail,
            token_hash: token.digest(),
            email: variosync_domain::Email::parse("ada@example.com").unwrap(),
            lifetime: chrono::Duration::days(2),
            password_hash: None,
        })
        .await
        .unwrap();
    let link_token = token.expose().to_owned();
    let confirmed = post(&app, "/api/v1/auth/verify-email", json!({ "token": link_token })).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert!(confirmed.json::<Value>().await.unwrap()["email_verified_at"].is_string());
    let again = post(&app, "/api/v1/auth/verify-email", json!({ "token": link_token })).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "invalid_token");
}

#[tokio::test]
async fn a_magic_link_signs_in_once_and_answers_the_same_for_unknown_addresses() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let known = post(&app, "/api/v1/auth/magic-link", json!({ "email": "ada@example.com" })).await;
    let unknown =
        post(&app, "/api/v1/auth/magic-link", json!({ "email": "ghost@example.com" })).await;
    assert_eq!(known.status(), StatusCode::ACCEPTED);
    assert_eq!(unknown.status(), known.status());
    assert_eq!(unknown.text().await.unwrap(), known.text().await.unwrap());

    // The newest message is ghost's (a link that would create the account); take ada's.
    let outbox = app.data_dir.path().join("outbox");
    let mut files: Vec<_> =
        std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let ghost = files.pop().unwrap();
    std::fs::remove_file(ghost).unwrap();
    let token = last_link(&app, "magic-link");
    let signed = post(&app, "/api/v1/auth/magic-link/confirm", json!({ "token": token })).await;
    assert_eq!(signed.status(), StatusCode::OK);
    let browser = TestApp::browser(signed).await;
    let me = app.as_browser(Method::GET, "/api/v1/me", &browser).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["user"]["email"], "ada@example.com");
    let reused = post(&app, "/api/v1/auth/magic-link/confirm", json!({ "token": token })).await;
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED, "a magic link works once");
}

#[tokio::test]
async fn logs_of_sign_up_sign_in_reset_and_key_creation_hold_no_secret() {
    let app = spawn_app_with(|settings| settings.mail.log_outbox_links = false).await;
    let ada = app.sign_up("ada.logs@example.com").await;
    let signed_in = app.sign_in("ada.logs@example.com", PASSWORD).await;
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
    let session_secret = cookie.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    assert_eq!(
        app.sign_in("ada.logs@example.com", "a wrong password!").await.status(),
        StatusCode::UNAUTHORIZED
    );
    post(&app, "/api/v1/auth/password-reset", json!({ "email": "ada.logs@example.com" })).await;
    let reset_token = last_link(&app, "reset-password");
    let reset = post(
        &app,
        "/api/v1/auth/password-reset/confirm",
        json!({ "token": reset_token, "new_password": "a secret new passphrase" }),
    )
    .await;
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let fresh =
        TestApp::browser(app.sign_in("ada.logs@example.com", "a secret new passphrase").await)
            .await;
    let (key, _) = app.create_key(&fresh, "write").await;

    let logs = captured_logs();
    assert!(logs.contains("request finished"), "the logs were captured");
    for secret in [
        PASSWORD,
        "a wrong password!",
        "a secret new passphrase",
        session_secret.as_str(),
        ada.csrf.as_str(),
        reset_token.as_str(),
        key.as_str(),
        &key[17..],
    ] {
        assert!(!logs.contains(secret), "the logs contain a secret: {secret}");
    }
}

//! Accounts over HTTP: sign-up, sign-in, sessions, CSRF, API keys, tenancy, rate limits and
//! the audit log, on SQLite and on PostgreSQL.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use variosync_store::testing;

use crate::helpers::{PASSWORD, TestApp, spawn_app, spawn_app_with};

async fn the_accounts_api_works(app: TestApp) {
    // Sign-up answers the same for a new and an existing address, and makes no account
    // until the link mailed to the address is opened.
    let sign_up = |email: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/signup"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let response = sign_up("ada@example.com", PASSWORD).await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert!(response.headers().get("set-cookie").is_none(), "not signed in yet");
    let new_answer: Value = response.json().await.unwrap();
    assert_eq!(
        app.sign_in("ada@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED,
        "no account before the address is confirmed"
    );
    let token = testing::outbox_link_to(app.data_dir.path(), "signup/confirm", "ada@example.com");
    let response = app
        .client
        .post(app.url("/api/v1/auth/signup/confirm"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP on localhost: {cookie}");
    let ada = TestApp::browser(response).await;
    let me: Value =
        app.as_browser(Method::GET, "/api/v1/me", &ada).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "ada@example.com");
    assert!(me["user"]["email_verified_at"].is_string(), "the link confirmed the address");
    assert_eq!(me["balance"], 1.0);
    let reused = app
        .client
        .post(app.url("/api/v1/auth/signup/confirm"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(reused.status(), StatusCode::UNAUTHORIZED, "the link works once");
    assert_eq!(app.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::OK);

    // Bad input answers with a specific error.
    let weak = sign_up("bob@example.com", "short").await.unwrap();
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    assert_eq!(weak.json::<Value>().await.unwrap()["code"], "weak_password");
    // An existing address gets the very answer a new one does; its owner gets a mail.
    let taken = sign_up("ADA@example.com", "another fine password").await.unwrap();
    assert_eq!(taken.status(), StatusCode::ACCEPTED);
    assert_eq!(taken.json::<Value>().await.unwrap(), new_answer);
    let told = &testing::outbox_messages_to(app.data_dir.path(), "ada@example.com")[0];
    assert!(told.contains("which has one already") && told.contains("/forgot-password"), "{told}");
    assert_eq!(
        app.sign_in("ada@example.com", "another fine password").await.status(),
        StatusCode::UNAUTHORIZED,
        "the existing account is untouched"
    );
    assert_eq!(
        app.sign_in("ada@example.com", "wrong password!").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get("/api/v1/me").await.status(), StatusCode::UNAUTHORIZED);

    // A state-changing request with the cookie but without the CSRF token is refused.
    let no_csrf = app
        .client
        .post(app.url("/api/v1/api-keys"))
        .header("cookie", &ada.cookie)
        .json(&json!({ "name": "k", "scope": "read" }))
        .send()
        .await
        .unwrap();
    assert_eq!(no_csrf.status(), StatusCode::FORBIDDEN);
    assert_eq!(no_csrf.json::<Value>().await.unwrap()["code"], "csrf_failed");

    // API keys: a read key reads, cannot write, and is refused at once when revoked.
    let (read_key, read_key_id) = app.create_key(&ada, "read").await;
    assert!(read_key.starts_with("vsk_"));
    let by_key = app.with_key(Method::GET, "/api/v1/me", &read_key).send().await.unwrap();
    assert_eq!(by_key.status(), StatusCode::OK);
    let write_with_read = app
        .with_key(Method::POST, "/api/v1/api-keys", &read_key)
        .json(&json!({ "name": "k", "scope": "read" }))
        .send()
        .await
        .unwrap();
    assert_eq!(write_with_read.status(), StatusCode::FORBIDDEN);
    let listed: Value = app
        .as_browser(Method::GET, "/api/v1/api-keys", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(listed[0].get("secret").is_none(), "a key's secret is never listed");
    assert!(listed[0]["last_used_at"].is_string(), "its last use is");

    // Tenancy: another user gets 404 on ada's resources, by session and by key.
    let grace = app.sign_up("grace@example.com").await;
    let (grace_key, _) = app.create_key(&grace, "write").await;
    let path = format!("/api/v1/api-keys/{read_key_id}");
    let by_session = app.as_browser(Method::DELETE, &path, &grace).send().await.unwrap();
    assert_eq!(by_session.status(), StatusCode::NOT_FOUND);
    let by_their_key = app.with_key(Method::DELETE, &path, &grace_key).send().await.unwrap();
    assert_eq!(by_their_key.status(), StatusCode::NOT_FOUND);
    let sessions: Value = app
        .as_browser(Method::GET, "/api/v1/sessions", &grace)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["current"], true);
    let grace_audit: Value = app
        .as_browser(Method::GET, "/api/v1/audit", &grace)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(grace_audit.as_array().unwrap().iter().all(|e| e["user_id"] == grace.user_id.as_str()));

    let revoke = app.as_browser(Method::DELETE, &path, &ada).send().await.unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let after = app.with_key(Method::GET, "/api/v1/me", &read_key).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "a revoked key is refused at once");

    // Sessions: a second sign-in is listed and can be revoked from the first.
    let second = TestApp::browser(app.sign_in("ada@example.com", PASSWORD).await).await;
    let listed: Value = app
        .as_browser(Method::GET, "/api/v1/sessions", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = listed.as_array().unwrap().iter().find(|s| s["current"] == false).unwrap();
    let revoke = app
        .as_browser(
            Method::DELETE,
            &format!("/api/v1/sessions/{}", other["id"].as_str().unwrap()),
            &ada,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let refused = app.as_browser(Method::GET, "/api/v1/me", &second).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "a revoked session is refused at once");

    // Hours and audit.
    let hours: Value = app
        .as_browser(Method::GET, "/api/v1/hours", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hours["balance"], 1.0);
    assert_eq!(hours["entries"][0]["reason"], "free hours for a new account");
    let audit: Value = app
        .as_browser(Method::GET, "/api/v1/audit", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for expected in
        ["sign_up", "sign_in_failed", "api_key_created", "api_key_revoked", "session_revoked"]
    {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let filtered: Value = app
        .as_browser(Method::GET, "/api/v1/audit?action=api_key_created", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(filtered.as_array().unwrap().len(), 1);
    assert_eq!(filtered[0]["ip"], "127.0.0.1");

    // Password change, sign-out, account deletion.
    let change = app
        .as_browser(Method::POST, "/api/v1/me/password", &ada)
        .json(&json!({ "current_password": PASSWORD, "new_password": "another long passphrase" }))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    let out = app.as_browser(Method::POST, "/api/v1/auth/signout", &ada).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.as_browser(Method::GET, "/api/v1/me", &ada).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    let deleted = app.as_browser(Method::DELETE, "/api/v1/me", &grace).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.sign_in("grace@example.com", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.with_key(Method::GET, "/api/v1/me", &grace_key).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn the_accounts_api_works_on_sqlite() {
    // More attempts than one address may make in a minute: the limit has tests of its own.
    the_accounts_api_works(
        spawn_app_with(|settings| settings.rate_limit.auth_per_minute = 60).await,
    )
    .await;
}

#[tokio::test]
async fn the_accounts_api_works_on_postgres() {
    let Some(database) = testing::fresh_postgres().await else { return };
    let app = spawn_app_with(|settings| {
        settings.database = database;
        settings.rate_limit.auth_per_minute = 60;
    })
    .await;
    the_accounts_api_works(app).await;
}

#[tokio::test]
async fn the_eleventh_sign_in_attempt_in_a_minute_gets_429_with_retry_after() {
    let app = spawn_app().await;
    for attempt in 1..=10 {
        let response =
            app.sign_in(&format!("nobody{attempt}@example.com"), "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    let limited = app.sign_in("nobody11@example.com", "wrong password!").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    assert_eq!(limited.json::<Value>().await.unwrap()["code"], "rate_limited");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Untrusted peer: X-Forwarded-For is ignored, so changing it does not escape the limit.
    let app = spawn_app_with(|settings| settings.rate_limit.auth_per_minute = 2).await;
    let attempt = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/signin"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "email": "a@example.com", "password": "wrong password!" }))
            .send()
    };
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.2").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(attempt("198.51.100.3").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);

    // Trusted peer: each forwarded client has its own budget.
    let app = spawn_app_with(|settings| {
        settings.rate_limit.auth_per_minute = 2;
        settings.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let attempt = |ip: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/signin"))
            .header("x-forwarded-for", format!("{ip}, 127.0.0.1"))
            .json(&json!({ "email": "a@example.com", "password": "wrong password!" }))
            .send()
    };
    for ip in ["198.51.100.1", "198.51.100.1", "198.51.100.2", "198.51.100.2"] {
        assert_eq!(attempt(ip).await.unwrap().status(), StatusCode::UNAUTHORIZED, "{ip}");
    }
    assert_eq!(attempt("198.51.100.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/signin"))
        .header("origin", "https://evil.example")
        .json(&json!({ "email": "ada@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_admin_sees_everyones_audit_entries_and_a_user_only_their_own() {
    let app = spawn_app().await;
    let ada = app.sign_up("ada@example.com").await;
    let grace = app.sign_up("grace@example.com").await;
    let ada_id = ada.user_id.parse().unwrap();
    app.backends
        .users()
        .set_role(variosync_store::Access::System, ada_id, variosync_domain::Role::Admin)
        .await
        .unwrap();
    let all: Value = app
        .as_browser(Method::GET, "/api/v1/audit", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(all.as_array().unwrap().iter().any(|e| e["user_id"] == grace.user_id.as_str()));
    let only_grace: Value = app
        .as_browser(Method::GET, &format!("/api/v1/audit?user_id={}", grace.user_id), &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(only_grace.as_array().unwrap().iter().all(|e| e["user_id"] == grace.user_id.as_str()));
    let snooping: Value = app
        .as_browser(Method::GET, &format!("/api/v1/audit?user_id={}", ada.user_id), &grace)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(snooping.as_array().unwrap().iter().all(|e| e["user_id"] == grace.user_id.as_str()));
}

#[tokio::test]
async fn failed_sign_ins_to_one_account_make_it_wait_longer_and_longer() {
    // A generous per-address quota, so that only the per-account back-off is in play.
    let app = spawn_app_with(|settings| settings.rate_limit.auth_per_minute = 100).await;
    app.sign_up("ada@example.com").await;
    for attempt in 1..=5 {
        let response = app.sign_in("ada@example.com", "wrong password!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt} is free");
    }
    // Now even the right password must wait.
    let waiting = app.sign_in("ada@example.com", PASSWORD).await;
    assert_eq!(waiting.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(waiting.headers().contains_key("retry-after"));
    assert_eq!(waiting.headers()["retry-after"], "1", "one second after five failures");
    let body: Value = waiting.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("failed sign-ins for this account"));
    // Other accounts are unaffected.
    app.sign_up("grace@example.com").await;
    assert_eq!(app.sign_in("grace@example.com", PASSWORD).await.status(), StatusCode::OK);
    // After the wait, the right password works and resets. The server keeps real time, so
    // ask until the wait is over; a refused attempt is not a failure and adds no wait.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let after_the_wait = loop {
        let attempt = app.sign_in("ada@example.com", PASSWORD).await;
        if attempt.status() != StatusCode::TOO_MANY_REQUESTS {
            break attempt;
        }
        assert_eq!(attempt.headers()["retry-after"], "1", "waiting adds no wait");
        assert!(std::time::Instant::now() < deadline, "still waiting after 30 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(after_the_wait.status(), StatusCode::OK);
    assert_eq!(
        app.sign_in("ada@example.com", "wrong password!").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

//! Short-lived access tokens: minted from a key or a session, refused once that is revoked,
//! valid on every replica.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

async fn mint(app: &TestApp, request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let _ = app;
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_access_token_works_like_its_key_and_dies_with_it_on_sqlite() {
    an_access_token_works_like_its_key_and_dies_with_it(spawn_app().await).await;
}

#[tokio::test]
async fn an_access_token_works_like_its_key_and_dies_with_it_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    let app = spawn_app_with(|settings| settings.database = database).await;
    an_access_token_works_like_its_key_and_dies_with_it(app).await;
}

async fn an_access_token_works_like_its_key_and_dies_with_it(app: TestApp) {
    let ada = app.sign_up("ada@example.com").await;
    let (key, key_id) = app.create_key(&ada, "read").await;
    let token = mint(&app, app.with_key(Method::POST, "/api/v1/auth/token", &key)).await;

    let me = app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let write = app
        .with_key(Method::DELETE, "/api/v1/sessions/00000000-0000-0000-0000-000000000000", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), StatusCode::FORBIDDEN, "a read key's token cannot write");
    let chained = app.with_key(Method::POST, "/api/v1/auth/token", &token).send().await.unwrap();
    assert_eq!(chained.status(), StatusCode::FORBIDDEN);

    let revoke = app
        .as_browser(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"), &ada)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let after = app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED, "refused as soon as its key is revoked");

    // A session's token dies with the session.
    let token = mint(&app, app.as_browser(Method::POST, "/api/v1/auth/token", &ada)).await;
    assert_eq!(
        app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap().status(),
        StatusCode::OK
    );
    app.as_browser(Method::POST, "/api/v1/auth/signout", &ada).send().await.unwrap();
    let after = app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);

    // Tampered or foreign tokens are refused.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[2] = "AAAA".repeat(10);
    let tampered = parts.join(".");
    assert_eq!(
        app.with_key(Method::GET, "/api/v1/me", &tampered).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.with_key(Method::GET, "/api/v1/me", "not.a.token").send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_token_minted_by_one_replica_is_accepted_by_another() {
    let one = spawn_app().await;
    let database = format!("sqlite://{}", one.data_dir.path().join("variosync.db").display());
    let two = spawn_app_with(|settings| settings.database.url = Some(database.into())).await;
    let ada = one.sign_up("ada@example.com").await;
    let (key, _) = one.create_key(&ada, "write").await;
    let token = mint(&one, one.with_key(Method::POST, "/api/v1/auth/token", &key)).await;
    let me = two.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
}

//! Admin endpoints: only admins, every change audited with the admin as actor.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use variosync_domain::Role;
use variosync_store::Access;

use crate::helpers::{Browser, PASSWORD, TestApp, spawn_app};

async fn make_admin(app: &TestApp, browser: &Browser) {
    let id = browser.user_id.parse().unwrap();
    app.backends.users().set_role(Access::System, id, Role::Admin).await.unwrap();
}

#[tokio::test]
async fn admins_list_disable_enable_and_grant_hours_and_users_cannot_on_sqlite() {
    admins_list_disable_enable_and_grant_hours_and_users_cannot(spawn_app().await).await;
}

#[tokio::test]
async fn admins_list_disable_enable_and_grant_hours_and_users_cannot_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    let app = crate::helpers::spawn_app_with(|settings| settings.database = database).await;
    admins_list_disable_enable_and_grant_hours_and_users_cannot(app).await;
}

async fn admins_list_disable_enable_and_grant_hours_and_users_cannot(app: TestApp) {
    let admin = app.sign_up("admin@example.com").await;
    let ada = app.sign_up("ada@example.com").await;

    // An ordinary user is refused.
    let refused = app.as_browser(Method::GET, "/api/v1/admin/users", &ada).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(refused.json::<Value>().await.unwrap()["code"], "admin_only");

    make_admin(&app, &admin).await;
    let users: Value = app
        .as_browser(Method::GET, "/api/v1/admin/users", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.as_array().unwrap().len(), 2);

    // Disabling ends the user's sessions at once and blocks sign-in.
    let path = format!("/api/v1/admin/users/{}/disable", ada.user_id);
    let disabled = app.as_browser(Method::POST, &path, &admin).send().await.unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    assert!(disabled.json::<Value>().await.unwrap()["disabled_at"].is_string());
    assert_eq!(
        app.as_browser(Method::GET, "/api/v1/me", &ada).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.sign_in("ada@example.com", PASSWORD).await.status(), StatusCode::FORBIDDEN);
    let path = format!("/api/v1/admin/users/{}/enable", ada.user_id);
    assert_eq!(
        app.as_browser(Method::POST, &path, &admin).send().await.unwrap().status(),
        StatusCode::OK
    );
    let ada = TestApp::browser(app.sign_in("ada@example.com", PASSWORD).await).await;

    // An admin cannot lock themselves out.
    let path = format!("/api/v1/admin/users/{}/disable", admin.user_id);
    let self_lockout = app.as_browser(Method::POST, &path, &admin).send().await.unwrap();
    assert_eq!(self_lockout.status(), StatusCode::CONFLICT);

    // Hours: granted with a reason, never below zero.
    let path = format!("/api/v1/admin/users/{}/hours", ada.user_id);
    let granted = app
        .as_browser(Method::POST, &path, &admin)
        .json(&json!({ "hours": 2.5, "reason": "pilot customer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), StatusCode::OK);
    assert_eq!(granted.json::<Value>().await.unwrap()["balance"], 3.5);
    let overdraw = app
        .as_browser(Method::POST, &path, &admin)
        .json(&json!({ "hours": -10.0, "reason": "correction" }))
        .send()
        .await
        .unwrap();
    assert_eq!(overdraw.status(), StatusCode::PAYMENT_REQUIRED);
    let nonsense = app
        .as_browser(Method::POST, &path, &admin)
        .json(&json!({ "hours": 0.0, "reason": "nothing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(nonsense.status(), StatusCode::BAD_REQUEST);
    let unknown = app
        .as_browser(
            Method::POST,
            "/api/v1/admin/users/01936d5e-0000-7000-8000-000000000001/hours",
            &admin,
        )
        .json(&json!({ "hours": 1.0, "reason": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let me: Value =
        app.as_browser(Method::GET, "/api/v1/me", &ada).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["balance"], 3.5);

    // The user sees the grant and who made it in their audit log.
    let audit: Value = app
        .as_browser(Method::GET, "/api/v1/audit?action=hours_granted", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["actor_id"], admin.user_id.as_str());
    assert_eq!(audit[0]["detail"]["reason"], "pilot customer");
}

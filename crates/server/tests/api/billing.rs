//! Buying hours: Checkout sessions made on a server that speaks Stripe's API, and the signed
//! webhook: a completed payment delivered three times credits once, a bad signature or a
//! stale timestamp credits nothing.

use std::sync::{Arc, Mutex};
use variosync_domain::WorkspaceId;

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use variosync_domain::{Hours, UserId};
use variosync_store::Access;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const SECRET_KEY: &str = "sk_test_variosync";
const WEBHOOK_SECRET: &str = "whsec_test_variosync";

/// A stand-in for Stripe's Checkout API: records each form, answers a session.
async fn stripe() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let recorded = seen.clone();
    let app = axum::Router::new().route(
        "/v1/checkout/sessions",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let recorded = recorded.clone();
            async move {
                let auth = headers["authorization"].to_str().unwrap().to_owned();
                if auth != format!("Bearer {SECRET_KEY}") {
                    return (axum::http::StatusCode::UNAUTHORIZED, axum::Json(json!({})));
                }
                let mut recorded = recorded.lock().unwrap();
                recorded.push((auth, body));
                let id = format!("cs_test_{}", recorded.len());
                let url = format!("https://checkout.stripe.test/{id}");
                (axum::http::StatusCode::OK, axum::Json(json!({ "id": id, "url": url })))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, seen)
}

async fn json_of(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn event(id: &str, checkout: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "object": "event",
        "type": "checkout.session.completed",
        "data": { "object": { "id": checkout, "object": "checkout.session", "payment_status": "paid" } },
    }))
    .unwrap()
}

async fn deliver(app: &TestApp, body: &[u8], signature: &str) -> (StatusCode, Value) {
    json_of(
        app.client
            .post(app.url("/api/v1/billing/webhook"))
            .header("stripe-signature", signature)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn signed(body: &[u8], at: i64) -> String {
    format!("t={at},v1={}", variosync_auth::billing::sign(WEBHOOK_SECRET, at, body))
}

#[tokio::test]
async fn a_checkout_paid_once_credits_once_however_often_stripe_says_so() {
    let (stripe_url, seen) = stripe().await;
    let app = spawn_app_with(|settings| {
        settings.accounts.free_grant_hours = 0.0;
        settings.billing.stripe_secret_key = Some(SecretString::from(SECRET_KEY));
        settings.billing.stripe_webhook_secret = Some(SecretString::from(WEBHOOK_SECRET));
        settings.billing.stripe_api_url = stripe_url;
    })
    .await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();

    let (status, catalogue) =
        json_of(app.with_key(Method::GET, "/api/v1/billing/packages", &key).send().await.unwrap())
            .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalogue["buying"], true);
    let prices: Vec<(&str, i64)> = catalogue["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["price_cents"].as_i64().unwrap()))
        .collect();
    assert_eq!(prices, [("5h", 2500), ("10h", 4500), ("20h", 8000), ("50h", 18000)]);

    let (status, started) = json_of(
        app.with_key(Method::POST, "/api/v1/billing/checkout", &key)
            .json(&json!({ "package": "10h" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["url"], "https://checkout.stripe.test/cs_test_1");
    assert_eq!(started["payment"]["status"], "pending");
    let form = seen.lock().unwrap()[0].1.clone();
    for field in [
        "mode=payment",
        "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=4500",
        "client_reference_id=",
    ] {
        assert!(form.contains(field), "{field} in {form}");
    }
    let (status, body) = json_of(
        app.with_key(Method::POST, "/api/v1/billing/checkout", &key)
            .json(&json!({ "package": "7h" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("unknown_package")));
    // A body that is not the expected JSON gets the same error shape, naming the fault.
    let (status, body) = json_of(
        app.with_key(Method::POST, "/api/v1/billing/checkout", &key)
            .json(&json!({ "pack": "10h" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    assert!(body["message"].as_str().unwrap().contains("unknown field `pack`"), "{body}");
    let (status, body) = json_of(
        app.with_key(Method::POST, "/api/v1/billing/checkout", &key)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));
    let (status, body) =
        json_of(app.with_key(Method::GET, "/api/v1/jobs?limit=many", &key).send().await.unwrap())
            .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")));

    // A bad signature and a stale one credit nothing.
    let now = chrono::Utc::now().timestamp();
    let paid = event("evt_1", "cs_test_1");
    let forged = format!("t={now},v1={}", variosync_auth::billing::sign("whsec_wrong", now, &paid));
    let (status, body) = deliver(&app, &paid, &forged).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_signature"))
    );
    let (status, body) = deliver(&app, &paid, "").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("missing_signature"))
    );
    let (status, body) = deliver(&app, &paid, &signed(&paid, now - 3600)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("stale_signature")));
    let ledger = app.backends.ledger();
    assert_eq!(
        ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap(),
        Hours::from_micro(0)
    );

    // Delivered three times, credited once.
    let mut credited = Vec::new();
    for _ in 0..3 {
        let (status, body) = deliver(&app, &paid, &signed(&paid, now)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        credited.push(body["credited"].as_bool().unwrap());
    }
    assert_eq!(credited, [true, false, false]);
    let ten = Hours::from_hours_f64(10.0).unwrap();
    assert_eq!(
        ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap(),
        ten
    );
    let (_, payments) =
        json_of(app.with_key(Method::GET, "/api/v1/billing/payments", &key).send().await.unwrap())
            .await;
    assert_eq!(payments[0]["status"], "paid");
    assert_eq!(payments[0]["hours"], 10.0);

    // Events that complete nothing are acknowledged and ignored.
    let other = serde_json::to_vec(&json!({ "id": "evt_2", "type": "customer.created", "data": { "object": { "id": "cus_1" } } })).unwrap();
    let (status, body) = deliver(&app, &other, &signed(&other, now)).await;
    assert_eq!((status, &body["credited"]), (StatusCode::OK, &Value::Null));
    assert_eq!(
        ledger.balance(Access::person(user), WorkspaceId::personal(user)).await.unwrap(),
        ten
    );
}

#[tokio::test]
async fn without_stripe_keys_buying_is_off_and_admins_grant_hours() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let (_, catalogue) =
        json_of(app.with_key(Method::GET, "/api/v1/billing/packages", &key).send().await.unwrap())
            .await;
    assert_eq!(catalogue["buying"], false);
    assert_eq!(catalogue["packages"].as_array().unwrap().len(), 4, "shown, not sold");
    let (status, body) = json_of(
        app.with_key(Method::POST, "/api/v1/billing/checkout", &key)
            .json(&json!({ "package": "5h" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("buying_disabled")));
    let paid = event("evt_1", "cs_1");
    let (status, _) = deliver(&app, &paid, "t=1,v1=00").await;
    assert_eq!(status, StatusCode::CONFLICT);
}

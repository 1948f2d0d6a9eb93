//! Bearer JWTs from an external issuer, checked by a shared HS256 secret (Supabase) or by
//! keys the issuer publishes (JWKS), and mapped to local accounts.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

const ISSUER: &str = "https://project.supabase.test/auth/v1";
const SECRET: &str = "a-supabase-jwt-secret-of-some-length";

fn claims(sub: &str, email: &str, aud: &str, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({ "sub": sub, "email": email, "aud": aud, "iss": ISSUER, "iat": now, "exp": now + exp_offset, "role": "authenticated" })
}

fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn status_of(app: &TestApp, token: &str) -> StatusCode {
    app.with_key(Method::GET, "/api/v1/me", token).send().await.unwrap().status()
}

fn supabase(settings: &mut variosync_server::Settings) {
    settings.external_jwt.issuer = Some(ISSUER.into());
    settings.external_jwt.audience = Some("authenticated".into());
    settings.external_jwt.hs256_secret = Some(SECRET.into());
    settings.external_jwt.trust_email = true;
}

#[tokio::test]
async fn supabase_tokens_sign_people_in_and_bad_ones_are_refused_on_sqlite() {
    supabase_tokens_sign_people_in_and_bad_ones_are_refused(spawn_app_with(supabase).await).await;
}

#[tokio::test]
async fn supabase_tokens_sign_people_in_and_bad_ones_are_refused_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    let app = spawn_app_with(|settings| {
        supabase(settings);
        settings.database = database;
    })
    .await;
    supabase_tokens_sign_people_in_and_bad_ones_are_refused(app).await;
}

async fn supabase_tokens_sign_people_in_and_bad_ones_are_refused(app: TestApp) {
    // An existing local account is found through its address and linked.
    let ada = app.sign_up("ada@example.com").await;
    let token = hs256(&claims("supabase-uuid-1", "ada@example.com", "authenticated", 600), SECRET);
    let me: Value =
        app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["id"], ada.user_id.as_str());
    // A new person gets an account.
    let token =
        hs256(&claims("supabase-uuid-2", "grace@example.com", "authenticated", 600), SECRET);
    let me: Value =
        app.with_key(Method::GET, "/api/v1/me", &token).send().await.unwrap().json().await.unwrap();
    assert_eq!(me["user"]["email"], "grace@example.com");
    assert_eq!(me["balance"], 1.0);

    let wrong_audience = hs256(&claims("supabase-uuid-1", "ada@example.com", "anon", 600), SECRET);
    assert_eq!(status_of(&app, &wrong_audience).await, StatusCode::UNAUTHORIZED);
    let wrong_signature = hs256(
        &claims("supabase-uuid-1", "ada@example.com", "authenticated", 600),
        "another secret!!",
    );
    assert_eq!(status_of(&app, &wrong_signature).await, StatusCode::UNAUTHORIZED);
    let expired =
        hs256(&claims("supabase-uuid-1", "ada@example.com", "authenticated", -3600), SECRET);
    assert_eq!(status_of(&app, &expired).await, StatusCode::UNAUTHORIZED);
    // Not valid yet: an `nbf` an hour ahead is refused, one within the leeway is not.
    let mut early = claims("supabase-uuid-1", "ada@example.com", "authenticated", 7200);
    early["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    assert_eq!(status_of(&app, &hs256(&early, SECRET)).await, StatusCode::UNAUTHORIZED);
    early["nbf"] = json!(chrono::Utc::now().timestamp() + 5);
    assert_eq!(status_of(&app, &hs256(&early, SECRET)).await, StatusCode::OK);
    let mut foreign = claims("supabase-uuid-1", "ada@example.com", "authenticated", 600);
    foreign["iss"] = json!("https://elsewhere.test");
    assert_eq!(status_of(&app, &hs256(&foreign, SECRET)).await, StatusCode::UNAUTHORIZED);
}

/// A minimal issuer: publishes one Ed25519 key as a JWKS on a local port.
async fn publish_jwks() -> String {
    let jwks = json!({ "keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "test-key-1",
        "x": "2xe7HtaVn_DPK_uQMhCiW6_nUzi1UJY5IsXaN1HJt40"
    }]});
    let router = axum::Router::new()
        .route("/jwks.json", axum::routing::get(move || async move { axum::Json(jwks) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn eddsa(claims: &Value, kid: &str) -> String {
    let key = EncodingKey::from_ed_pem(include_bytes!("../fixtures/external-issuer-ed25519.pem"))
        .unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

#[tokio::test]
async fn tokens_signed_with_published_keys_are_accepted_and_unverified_addresses_are_not_linked() {
    let jwks_url = publish_jwks().await;
    let app = spawn_app_with(|settings| {
        settings.external_jwt.issuer = Some(ISSUER.into());
        settings.external_jwt.audience = Some("variosync".into());
        settings.external_jwt.jwks_url = Some(jwks_url);
    })
    .await;
    let ada = app.sign_up("ada@example.com").await;

    let mut verified = claims("oidc-sub-1", "ada@example.com", "variosync", 600);
    verified["email_verified"] = json!(true);
    let me: Value = app
        .with_key(Method::GET, "/api/v1/me", &eddsa(&verified, "test-key-1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["id"], ada.user_id.as_str());

    // Without a verified address, a new identity is not linked to ada's account.
    let mut unverified = claims("oidc-sub-2", "ada@example.com", "variosync", 600);
    unverified["email_verified"] = json!(false);
    assert_eq!(status_of(&app, &eddsa(&unverified, "test-key-1")).await, StatusCode::UNAUTHORIZED);

    // An unknown key id, or an HS256 token when keys are published, is refused.
    assert_eq!(status_of(&app, &eddsa(&verified, "no-such-key")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&app, &hs256(&verified, SECRET)).await, StatusCode::UNAUTHORIZED);
    let wrong_audience = claims("oidc-sub-1", "ada@example.com", "someone-else", 600);
    assert_eq!(
        status_of(&app, &eddsa(&wrong_audience, "test-key-1")).await,
        StatusCode::UNAUTHORIZED
    );
}

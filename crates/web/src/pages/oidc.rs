//! Sign-in with the configured OpenID Connect provider: a redirect out, a callback in.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::auth::Message;
use super::render;
use crate::client::Client;
use crate::session::{cookie, cookie_for};
use crate::state::AppState;

const STATE_COOKIE: &str = "vs_oidc_state";

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/auth/oidc/start", get(start)).route("/auth/oidc/callback", get(callback))
}

fn callback_url(state: &AppState) -> String {
    format!("{}/auth/oidc/callback", state.accounts.base_url())
}

fn failed(status: StatusCode, message: &str) -> Response {
    let page = Message { heading: "Sign-in failed", message, next: "/signin" };
    (status, render(&page)).into_response()
}

async fn start(State(state): State<AppState>) -> Response {
    let Some(oidc) = &state.oidc else {
        return failed(StatusCode::NOT_FOUND, "no identity provider is configured");
    };
    match oidc.start(&state.accounts, &callback_url(&state)).await {
        Ok(started) => {
            let secure = if state.http.is_https() { "; Secure" } else { "" };
            let binding = format!(
                "{STATE_COOKIE}={}; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                started.state
            );
            ([(header::SET_COOKIE, binding)], Redirect::to(&started.url)).into_response()
        }
        Err(error) => {
            tracing::warn!(error = %variosync_domain::error_chain(&error), "cannot start an OIDC sign-in");
            failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "the identity provider cannot be reached; try again later",
            )
        }
    }
}

#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return failed(StatusCode::NOT_FOUND, "no identity provider is configured");
    };
    let (Some(code), Some(returned)) = (query.code.as_deref(), query.state.as_deref()) else {
        let reason = query.error.as_deref().unwrap_or("the provider sent no code");
        return failed(
            StatusCode::UNAUTHORIZED,
            &format!("the identity provider refused: {reason}"),
        );
    };
    let kept = cookie(&headers, STATE_COOKIE);
    match oidc.finish(&state.accounts, code, returned, kept, &client).await {
        Ok(Some(signed)) => {
            let session = cookie_for(&signed, state.http.is_https());
            let cleared =
                format!("{STATE_COOKIE}=; Path=/auth/oidc; HttpOnly; SameSite=Lax; Max-Age=0");
            let mut response = Redirect::to("/account").into_response();
            response
                .headers_mut()
                .append(header::SET_COOKIE, session.parse().expect("a valid cookie"));
            response
                .headers_mut()
                .append(header::SET_COOKIE, cleared.parse().expect("a valid cookie"));
            response
        }
        Ok(None) => failed(
            StatusCode::FORBIDDEN,
            "the identity provider has not verified your address, so it cannot be linked to an account",
        ),
        Err(error) => {
            tracing::info!(error = %variosync_domain::error_chain(&error), "an OIDC sign-in failed");
            failed(StatusCode::UNAUTHORIZED, &error.to_string())
        }
    }
}

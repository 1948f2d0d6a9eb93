//! Sign-in with an external provider (the configured OpenID Connect provider, or GitHub):
//! a redirect out, a callback in. The `state` is bound to the browser by a cookie.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use super::auth::Message;
use super::render;
use crate::client::Client;
use crate::session::{cookie, cookie_for};
use crate::state::AppState;

const STATE_COOKIE: &str = "vs_signin_state";

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
}

/// A configured provider, by its path segment.
enum Provider<'a> {
    Oidc(&'a variosync_auth::Oidc),
    Github(&'a variosync_auth::Github),
}

impl<'a> Provider<'a> {
    fn find(state: &'a AppState, name: &str) -> Option<(Self, &'static str)> {
        match name {
            "oidc" => state.oidc.as_deref().map(|p| (Self::Oidc(p), "oidc")),
            "github" => state.github.as_deref().map(|p| (Self::Github(p), "github")),
            _ => None,
        }
    }
}

fn callback_url(state: &AppState, name: &str) -> String {
    format!("{}/auth/{name}/callback", state.accounts.base_url())
}

fn failed(status: StatusCode, message: &str) -> Response {
    let page = Message { heading: "Sign-in failed", message, next: "/signin" };
    (status, render(&page)).into_response()
}

async fn start(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Some((provider, name)) = Provider::find(&state, &name) else {
        return failed(StatusCode::NOT_FOUND, "this sign-in provider is not configured");
    };
    let redirect_uri = callback_url(&state, name);
    let started = match provider {
        Provider::Oidc(oidc) => oidc.start(&state.accounts, &redirect_uri).await,
        Provider::Github(github) => github.start(&state.accounts, &redirect_uri).await,
    };
    match started {
        Ok(started) => {
            let secure = if state.http.secure_cookies() { "; Secure" } else { "" };
            let binding = format!(
                "{STATE_COOKIE}={}; Path=/auth/{name}; HttpOnly; SameSite=Lax; Max-Age=600{secure}",
                started.state
            );
            ([(header::SET_COOKIE, binding)], Redirect::to(&started.url)).into_response()
        }
        Err(error) => {
            tracing::warn!(error = %variosync_domain::error_chain(&error), provider = name, "cannot start a sign-in");
            failed(
                StatusCode::SERVICE_UNAVAILABLE,
                "the sign-in provider cannot be reached; try again later",
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

/// To the account page with the new session's cookie, the state cookie cleared.
fn signed_in(state: &AppState, signed: &variosync_auth::SignedIn, name: &str) -> Response {
    let session = cookie_for(signed, state.http.secure_cookies());
    let cleared = format!("{STATE_COOKIE}=; Path=/auth/{name}; HttpOnly; SameSite=Lax; Max-Age=0");
    let mut response = Redirect::to("/account").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, session.parse().expect("a valid cookie"));
    headers.append(header::SET_COOKIE, cleared.parse().expect("a valid cookie"));
    response
}

async fn callback(
    State(state): State<AppState>,
    Client(client): Client,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(query): Query<Callback>,
) -> Response {
    let Some((provider, name)) = Provider::find(&state, &name) else {
        return failed(StatusCode::NOT_FOUND, "this sign-in provider is not configured");
    };
    let (Some(code), Some(returned)) = (query.code.as_deref(), query.state.as_deref()) else {
        let reason = query.error.as_deref().unwrap_or("the provider sent no code");
        return failed(
            StatusCode::UNAUTHORIZED,
            &format!("the sign-in provider refused: {reason}"),
        );
    };
    let kept = cookie(&headers, STATE_COOKIE);
    let finished = match provider {
        Provider::Oidc(oidc) => oidc.finish(&state.accounts, code, returned, kept, &client).await,
        Provider::Github(github) => {
            github.finish(&state.accounts, code, returned, kept, &client).await
        }
    };
    match finished {
        Ok(Some(signed)) => signed_in(&state, &signed, name),
        Ok(None) => failed(
            StatusCode::FORBIDDEN,
            "the sign-in provider has not verified your address, so it cannot be linked to an account",
        ),
        Err(error) => {
            tracing::info!(error = %variosync_domain::error_chain(&error), provider = name, "a sign-in failed");
            failed(StatusCode::UNAUTHORIZED, &error.to_string())
        }
    }
}

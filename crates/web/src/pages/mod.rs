//! Server-rendered HTML pages.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

mod account;
mod admin;
mod auth;
mod dataset;
mod datasets;
mod exports;
mod oidc;
mod upload;
mod work;

pub(crate) fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .merge(auth::router(state))
        .merge(account::router())
        .merge(datasets::router())
        .merge(dataset::router())
        .merge(upload::router())
        .merge(exports::router())
        .merge(work::router())
        .merge(admin::router())
        .merge(oidc::router())
}

/// Renders a template as an HTML response; a render failure (a bug) becomes a logged 500.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(page) => Html(page).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering a page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "landing.html")]
struct Landing<'a> {
    version: &'a str,
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound<'a> {
    path: &'a str,
}

async fn landing(State(state): State<AppState>) -> Response {
    render(&Landing { version: state.build.version })
}

/// The page shown for a request a page's form got wrong (a field missing or malformed):
/// `message` says what, escaped by the template.
pub(crate) fn refused_page(message: &str) -> String {
    let message = format!("The form could not be read: {message}. Reload the page and try again.");
    auth::Message { heading: "This request was refused", message: &message, next: "/" }
        .render()
        .unwrap_or(message)
}

/// The page shown to a browser for an unknown address; `path` is escaped by the template.
pub(crate) fn not_found_page(path: &str) -> String {
    NotFound { path }.render().unwrap_or_else(|_| "Not found".to_owned())
}
